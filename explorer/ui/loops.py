"""A lesson's loop on its page (Lesson.loop: a training loop, micro-batches, gradcheck): its real
source, then the table of what it gave, one row per step, every number read from PyTorch."""

from __future__ import annotations

from typing import Any

import streamlit as st

from explorer.core.cases import loop_rows
from explorer.errors import ExplorerError
from explorer.functions.lessons import Lesson
from explorer.ui.markdown import literal
from explorer.values import format_number


def loop_view(lesson: Lesson, values: dict[str, Any]) -> None:
    """The loop at the values the page uses, so editing w above changes the table too."""
    if lesson.loop is None:
        return
    st.subheader(lesson.loop_title)
    st.code(lesson.loop_source, language="python")
    try:
        rows = loop_rows(lesson, values)
    except ExplorerError as error:
        st.error(literal(str(error)))
        return
    # A bool as Python prints it (gradcheck returns True): Streamlit's table would write "true".
    st.table([{name: value if isinstance(value, str) else str(value) if isinstance(value, bool) else format_number(value)
               for name, value in row.items()} for row in rows])
