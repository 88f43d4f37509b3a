"""Download buttons for what a page shows: DOT, SVG, PNG, the player as HTML, the JSON trace, a notebook.

The session is copied into plain data (export.Trace: no tensors) when the page runs; each file is
made only when the student clicks its button (a `data=` callable, run by Streamlit on its own
thread), and `on_click="ignore"` keeps the download from rerunning the page. Nothing is cached.
"""

from __future__ import annotations

import re

import streamlit as st

from explorer.core.calls import BackwardSession
from explorer.errors import ExplorerError
from explorer.io.export import MIME_TYPES, Trace, recipe_for_session, render, trace_of
from explorer.functions.lessons import Lesson

# (format, button label, help). The player and the trace need a backward call first.
BUTTONS = (
    ("dot", "DOT", "The graph as Graphviz text, gradients included"),
    ("svg", "SVG", "The graph as a picture that scales"),
    ("png", "PNG", "The graph as an image"),
    ("html", "HTML", "The animation: one file that plays offline in any browser"),
    ("json", "JSON", "The trace: graph, every call's events in engine order, the history"),
    ("ipynb", "Notebook", "A Jupyter notebook that rebuilds all of this with the Python API"),
)
NEEDS_A_CALL = ("html", "json")


def download_buttons(session: BackwardSession, title: str, lesson: Lesson | None = None,
                     key: str = "downloads") -> None:
    """One row of download buttons for the session's latest state (its last .backward() call)."""
    try:
        recipe = recipe_for_session(session, lesson)
        trace = trace_of(session, lesson.id if lesson else "playground", title, recipe)
    except ExplorerError as error:
        st.caption(f"Nothing to download: {error}")
        return
    stem = lesson.id if lesson is not None else _stem(title)
    shown = [button for button in BUTTONS if button[0] != "ipynb" or trace.recipe is not None]
    st.caption("Download" + ("" if trace.passes else " (the animation and the trace need a .backward() call)"))
    for column, (fmt, label, help_text) in zip(st.columns(len(shown)), shown):
        column.download_button(
            label, data=_maker(trace, fmt), file_name=f"{stem}.{fmt}", mime=MIME_TYPES[fmt],
            key=f"{key}:{fmt}", help=help_text, on_click="ignore", icon=":material/download:",
            disabled=fmt in NEEDS_A_CALL and not trace.passes, width="stretch",
        )


def _maker(trace: Trace, fmt: str):
    """The file's bytes, made on click from the copied trace (never from the live session)."""
    return lambda: render(trace, fmt)


def _stem(title: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:40]
    return stem or "autograd"
