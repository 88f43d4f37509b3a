"""Exports: a lesson, or a student's session, as a file in any of FORMATS. Deterministic throughout.

    dot, svg, png, pdf   the graph in the final state of the last call (every .grad, every edge's gradient)
    html                 the standalone player of the last call (frames.build_animation + player.standalone_html)
    json                 the trace: graph, every call's events, history (what `show --json` prints)
    ipynb                a notebook that rebuilds it all with the Python API (notebook.py)

A session is first turned into a Trace, plain data with no tensors in it, so that an export can
run later or on another thread (Streamlit's deferred downloads) without touching the student's
leaves. Files are written atomically (files.write_atomic): an error leaves nothing half-written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from explorer.core.actions import NO_ZEROING, Action, zeroing
from explorer.core.backward import BackwardPass
from explorer.core.calls import BackwardSession, HistoryEntry, run_calls
from explorer.core.forward import ForwardView, forward_view
from explorer.core.graph import Graph
from explorer.core.report import session_report
from explorer.drawing.diagram import Diagram, diagram_of_pass
from explorer.drawing.layout import lay_out
from explorer.errors import ExplorerError
from explorer.files import make_folder, write_atomic
from explorer.functions.expr import Expression
from explorer.functions.program import Program
from explorer.functions.lessons import Lesson, all_lessons, get_lesson
from explorer.io.notebook import Recipe, build_notebook, expression_recipe, lesson_recipe, notebook_text
from explorer.play.frames import build_animation
from explorer.play.player import standalone_html
from explorer.values import json_text, parse_number

FORMATS = ("dot", "svg", "png", "pdf", "html", "json", "ipynb")
MIME_TYPES = {
    "dot": "text/vnd.graphviz",
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
    "html": "text/html",
    "json": "application/json",
    "ipynb": "application/x-ipynb+json",
}
PNG_DPI = 144  # exported PNGs: sharp on a high-density screen, small enough to mail


@dataclass(frozen=True)
class Trace:
    """A session's plain data (no tensors): enough for every format. `session_report` and
    `build_animation` read it as they read a session (.values, .passes, .history)."""

    name: str  # the lesson id (or expression text): the "lesson" field of the JSON
    title: str
    values: dict[str, Any]
    graph: Graph  # the last call's graph, or the graph a first call would run through
    passes: tuple[BackwardPass, ...]
    history: tuple[HistoryEntry, ...]
    recipe: Recipe | None = None  # how a notebook rebuilds it; None: no notebook for this function
    final_grads: dict[str, Any] | None = None  # every element of each leaf's .grad at the end
    # The forward pass, line by line, for the HTML player's panel beside the graph (as in the app).
    forward: ForwardView | None = None

    def full_grads(self) -> dict[str, Any]:
        return dict(self.final_grads or {})

    def diagram(self) -> Diagram:
        if self.passes:
            return diagram_of_pass(self.passes[-1])
        return Diagram(self.graph, lay_out(self.graph))


def trace_of(session: BackwardSession, name: str, title: str, recipe: Recipe | None = None) -> Trace:
    """Copy what an export needs out of a session, now (builds the graph if no call was made yet)."""
    graph = session.passes[-1].graph if session.passes else session.graph()
    forward = forward_view(session.fn, session.leaves, session.output_name) if session.passes else None
    return Trace(name, title, dict(session.values), graph, tuple(session.passes), tuple(session.history), recipe,
                 session.full_grads(), forward)


def calls_and_zeroing(session: BackwardSession) -> tuple[int, str]:
    """The backward calls a session made and the zeroing used between them (as text: actions.ZERO_CHOICES),
    for a notebook to redo."""
    calls = sum(1 for entry in session.history if entry.is_backward)
    actions = {entry.action for entry in session.history}
    zero = next((action.value for action in (Action.SET_NONE, Action.ZERO) if action in actions), NO_ZEROING)
    return max(calls, 1), zero


def steps_of(session: BackwardSession, calls: int, zero: str) -> tuple[tuple[Action, bool], ...] | None:
    """The session's actions, for a notebook to redo one by one; None when `calls` calls with `zero`
    between them (what explorer.animate does) give exactly the same history."""
    done = tuple((entry.action, entry.retain_graph) for entry in session.history)
    between = zeroing(zero)
    uniform = []
    for call in range(calls):
        if call > 0 and between is not None:
            uniform.append((between, False))
        uniform.append((Action.BACKWARD, False))
    return None if not done or done == tuple(uniform) else done


def recipe_for_session(session: BackwardSession, lesson=None) -> Recipe | None:
    """A notebook recipe for a lesson's session or a playground expression's; None for any other function."""
    calls, zero = calls_and_zeroing(session)
    steps = steps_of(session, calls, zero)
    if lesson is not None:
        return lesson_recipe(lesson, session.values, calls, zero, steps)
    owner = session.fn if isinstance(session.fn, Program) else getattr(session.fn, "__self__", None)
    if isinstance(owner, (Expression, Program)):
        return expression_recipe(owner.text, session.values, calls, zero, steps)
    return None


# -- one function per format: Trace -> bytes ---------------------------------------------------
def dot_bytes(trace: Trace) -> bytes:
    return trace.diagram().render("dot")


def svg_bytes(trace: Trace) -> bytes:
    return trace.diagram().render("svg")


def png_bytes(trace: Trace, dpi: float = PNG_DPI) -> bytes:
    return trace.diagram().render("png", dpi)


def pdf_bytes(trace: Trace) -> bytes:
    return trace.diagram().render("pdf")


def html_bytes(trace: Trace) -> bytes:
    if not trace.passes:
        raise ExplorerError("There is nothing to animate yet: call .backward() once first.")
    return standalone_html(build_animation(trace, forward=trace.forward), trace.title).encode("utf-8")


def json_bytes(trace: Trace) -> bytes:
    """Exactly what `python -m explorer show LESSON --json` prints for the same calls."""
    if not trace.passes:
        raise ExplorerError("There is no trace yet: call .backward() once first.")
    return (json_text(session_report(trace.name, trace)) + "\n").encode("utf-8")


def ipynb_bytes(trace: Trace) -> bytes:
    if trace.recipe is None:
        raise ExplorerError("A notebook can be made for a lesson or a playground expression only.")
    return notebook_text(build_notebook(trace.recipe)).encode("utf-8")


RENDERERS: dict[str, Callable[[Trace], bytes]] = {
    "dot": dot_bytes, "svg": svg_bytes, "png": png_bytes, "pdf": pdf_bytes,
    "html": html_bytes, "json": json_bytes, "ipynb": ipynb_bytes,
}


def render(trace: Trace, fmt: str) -> bytes:
    return RENDERERS[check_format(fmt)](trace)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ExplorerError(f"Unknown format \"{fmt}\"; choose one of {', '.join(FORMATS)}.")
    return fmt


# -- to files -----------------------------------------------------------------------------------
def export_session(session: BackwardSession, fmt: str, path: str | os.PathLike, name: str = "session",
                   title: str = "Autograd Explorer", lesson=None) -> Path:
    """Write one format of a session to `path` (atomically)."""
    check_format(fmt)
    return write_atomic(path, render(trace_of(session, name, title, recipe_for_session(session, lesson)), fmt))


def lesson_trace(lesson: Lesson | str, values: dict[str, Any] | None = None, calls: int = 1,
                 zero: str = "none") -> Trace:
    """A lesson's calls (a Lesson, or a built-in lesson's id), run for real: its defaults overridden by `values`."""
    lesson = get_lesson(lesson) if isinstance(lesson, str) else lesson
    zeroing(zero)  # before any work, so a bad zeroing costs nothing
    unknown = [name for name in (values or {}) if name not in lesson.variables]
    if unknown:
        raise ExplorerError(f"The lesson {lesson.id} has no variable \"{unknown[0]}\"; its variables are "
                            f"{', '.join(lesson.variables)}.")
    merged = {**lesson.defaults, **{name: _value(value, name) for name, value in (values or {}).items()}}
    session = run_calls(lesson.fn, merged, calls, zero)
    return trace_of(session, lesson.id, lesson.title, lesson_recipe(lesson, merged, calls, zero))


def _value(value, name: str):
    """A value given for a leaf: lists (vectors, a lesson file's matrices) as they are, anything else a number."""
    return value if isinstance(value, list) else parse_number(value, name)


def export_lesson(lesson: Lesson | str, fmt: str, path: str | os.PathLike, values: dict[str, Any] | None = None,
                  calls: int = 1, zero: str = "none") -> Path:
    """Write a lesson in one format: `export_lesson("accumulation", "html", "accumulation.html", calls=3)`."""
    check_format(fmt)
    return write_atomic(path, render(lesson_trace(lesson, values, calls, zero), fmt))


def export_all(folder: str | os.PathLike, formats: tuple[str, ...] = FORMATS, calls: int = 1,
               zero: str = "none", lessons: Sequence[Lesson] | None = None) -> list[Path]:
    """Every lesson (the built-in ones unless `lessons` says which) in every format: FOLDER/<lesson>.<format>."""
    for fmt in formats:
        check_format(fmt)
    folder = make_folder(folder)
    written = []
    for lesson in (all_lessons() if lessons is None else lessons):
        trace = lesson_trace(lesson, None, calls, zero)
        for fmt in formats:
            written.append(write_atomic(folder / f"{lesson.id}.{fmt}", render(trace, fmt)))
    return written
