"""Exercises ask before they tell: with Predict first on, nothing on the page gives a gradient away
before the check; exercise 3 asks about .grad after a second call, then after zeroing."""

import re

import pytest
import torch

from support import metric, open_app, shown
from explorer.core.calls import run_calls
from explorer.functions.lessons import get_lesson, lessons_on_page
from explorer.play.predict import judge
from explorer.values import format_number


def autograd(lesson):
    """One call's gradients, from torch.autograd.grad itself."""
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in lesson.defaults.items()}
    grads = torch.autograd.grad(lesson.fn(**leaves), list(leaves.values()))
    return {name: grad.item() for name, grad in zip(leaves, grads)}


def answers(lesson) -> set[str]:
    """Every gradient the exercise could give away: one call's, and .grad after each repeated call."""
    numbers = set(autograd(lesson).values())
    for per_leaf in lesson.expected_calls.values():
        for values in per_leaf.values():
            numbers.update(values)
    return {format_number(n) for n in numbers}


def page_text(at) -> str:
    """The text of every element on the page (markdown, captions, alerts, metrics, tables, labels)."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success", "warning", "error",
                 "text", "code", "latex"):
        parts += [element.value for element in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [table.value.to_string() for table in at.table]
    parts += [w.label for w in (*at.text_input, *at.button, *at.toggle, *at.checkbox)]
    parts += [h.proto.body for h in at.get("html")]
    return shown("\n".join(str(part) for part in parts))


def gives_away(text: str, numbers: set[str]) -> list[str]:
    return [n for n in numbers if re.search(rf"(?<![\w.]){re.escape(n)}(?![\w]|\.\d)", text)]


def open_exercise(lesson_id):
    return open_app("app_pages/5_Exercises.py", {"lesson": lesson_id})


@pytest.mark.parametrize("lesson", lessons_on_page("exercises"), ids=lambda lesson: lesson.id)
def test_no_gradient_shows_before_the_check_and_the_answer_after(lesson):
    at = open_exercise(lesson.id)
    key = f"exercises:{lesson.id}"
    assert at.toggle(key=f"{key}:predict").value is True
    numbers = answers(lesson)
    assert gives_away(page_text(at), numbers) == []
    assert lesson.answer and gives_away(lesson.answer, numbers)  # the answer does name them
    for name in lesson.defaults:
        at.text_input(key=f"{key}:guess:{name}").set_value("0").run()
    at.button(key=f"{key}:check").click().run()
    assert any(lesson.answer == m.value for m in at.markdown)
    assert gives_away(page_text(at), numbers)


def test_with_predict_off_the_answer_shows_at_once():
    lesson = get_lesson("exercise-1")
    at = open_app("app_pages/5_Exercises.py", {"lesson": lesson.id, "predict": "0"})
    assert any(lesson.answer == m.value for m in at.markdown)


def test_exercise_3_asks_after_a_second_call_then_after_zeroing():
    lesson = get_lesson("exercise-3")
    key = "exercises:exercise-3"
    one_call = autograd(lesson)
    twice = {name: values[1] for name, values in lesson.expected_calls["none"].items()}
    assert twice == {name: 2 * value for name, value in one_call.items()}  # the lesson's numbers are PyTorch's
    at = open_exercise(lesson.id)
    assert any("already holds" in m.value for m in at.markdown)  # the prompt says .grad is not empty
    assert gives_away(page_text(at), answers(lesson)) == []
    # Stage 1: the classic slip, predicting one call's worth onto a .grad that already holds one.
    for name, value in one_call.items():
        at.text_input(key=f"{key}:guess:{name}").set_value(format_number(value)).run()
    at.button(key=f"{key}:check").click().run()
    for name in one_call:
        assert metric(at, f"{name}.grad") == format_number(twice[name])
    x_says = next(w.value for w in at.warning if w.value.startswith("You predicted what one call adds; x.grad"))
    assert (f"already held {format_number(one_call['x'])}" in x_says
            and f"{format_number(one_call['x'])} + {format_number(one_call['x'])} = {format_number(twice['x'])}" in x_says)
    assert any("0 of 1" in c.value for c in at.caption)
    # Stage 2: zeroed, the next call's .grad is one call's worth again.
    at.button(key=f"{key}:zero").click().run()
    assert any("holds zeros" in m.value for m in at.markdown)
    at.button(key=f"{key}:check").click().run()
    zeroed = {name: values[1] for name, values in lesson.expected_calls["zero"].items()}
    for name in one_call:
        assert metric(at, f"{name}.grad") == format_number(zeroed[name]) == format_number(one_call[name])
    assert len([s for s in at.success if s.value.startswith("Right")]) == 2
    assert any("1 of 2" in c.value for c in at.caption)


def test_start_over_on_exercise_3_keeps_its_first_call():
    at = open_app("app_pages/5_Exercises.py", {"lesson": "exercise-3", "predict": "0"})
    key = "exercises:exercise-3"
    expected = get_lesson("exercise-3").expected_calls["none"]
    assert metric(at, "x.grad") == format_number(expected["x"][0])
    at.button(key=f"{key}:backward").click().run()
    assert metric(at, "x.grad") == format_number(expected["x"][1])
    assert at.query_params["ops"] == "bb"
    at.button(key=f"{key}:reset").click().run()
    assert metric(at, "x.grad") == format_number(expected["x"][0])
    assert "ops" not in at.query_params  # the prelude goes without saying


def test_judge_compares_with_what_grad_holds_after_the_call():
    lesson = get_lesson("exercise-3")
    session = run_calls(lesson.fn, lesson.defaults, 2)
    held, after = session.grad_history("x")
    record = session.passes[-1]
    assert judge(after, "x", record, held=held, grad_after=after).correct
    slip = judge(held, "x", record, held=held, grad_after=after)
    assert not slip.correct and slip.explanation.startswith("You predicted what one call adds")
    other = judge(5.0, "x", record, held=held, grad_after=after)
    assert not other.correct and f"already held {format_number(held)}" in other.explanation
