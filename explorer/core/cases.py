"""A lesson's other cases (lessons.Case), each run once on new leaves, as plain data: what
`python -m explorer show LESSON --json` adds under "cases", so a case whose point is an error
(PyTorch's message, our explanation) is part of the result rather than a failed command."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from explorer.core.backward import changed_on_the_way
from explorer.core.calls import BackwardSession
from explorer.errors import PyTorchRefusedError
from explorer.functions.lessons import Case, Lesson


def case_session(lesson: Lesson, case: Case, values: dict[str, Any] | None = None) -> BackwardSession:
    """New leaves at the lesson's values (or `values`), for this case's function and seed."""
    return BackwardSession(case.fn, {**lesson.defaults, **(values or {})}, lesson.output_name, case.gradient,
                           watch=tuple(case.non_leaf))


def run_case(lesson: Lesson, case: Case, values: dict[str, Any] | None = None) -> dict:
    """One .backward() of the case: every leaf's .grad after it, or PyTorch's refusal and ours."""
    session = case_session(lesson, case, values)
    result: dict[str, Any] = {"id": case.id, "label": case.label, "gradient": case.gradient}
    try:
        session.backward()
    except PyTorchRefusedError as error:
        result["error"] = {"pytorch": error.pytorch_message, "explanation": error.explanation,
                           "node": error.node, "versions": error.versions}
    result["grads"] = session.full_grads()
    if case.non_leaf:  # tensors in the middle: their .grad, and PyTorch's warning on reading it
        result["non_leaf"] = {name: {"grad": grad, "warning": warning}
                              for name, (grad, warning) in session.non_leaf_grads().items()}
    if session.passes:
        result["changed_on_the_way"] = [asdict(change) for change in changed_on_the_way(session.passes[-1])]
    return result


def case_results(lesson: Lesson, values: dict[str, Any] | None = None) -> list[dict]:
    """Every case of the lesson (its own function first), run once each."""
    return [run_case(lesson, case, values) for case in lesson.all_cases]


def loop_rows(lesson: Lesson, values: dict[str, Any] | None = None) -> list[dict] | None:
    """The lesson's loop (Lesson.loop: a training loop, micro-batches, gradcheck) at its values, or None."""
    if lesson.loop is None:
        return None
    return lesson.loop(**{**lesson.defaults, **(values or {})})
