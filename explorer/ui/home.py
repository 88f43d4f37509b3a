"""The home page: what the explorer is, and a link to every page under its one name."""

from __future__ import annotations

import streamlit as st

from explorer.functions.lesson_files import OWN_LESSONS_HEADING
from explorer.ui.common import setup_page
from explorer.ui.lesson_folder import own_lessons
from explorer.ui.markdown import literal
from explorer.ui.navigation import HOME, link_target, sections
from explorer.ui.state import PRESENT, url, write_url


def home_page() -> None:
    setup_page(HOME)
    st.markdown(
        "PyTorch's autograd records every operation on a tensor created with `requires_grad=True`, "
        "and `.backward()` runs that record in reverse to compute gradients. This explorer lets you "
        "watch it happen on real tensors: the graph autograd built, the order in which the engine "
        "visits its nodes, the gradient that travels along each edge, and how `.grad` grows every "
        "time you call `.backward()` again. Every number on these pages is computed by PyTorch."
    )
    # Lecturer mode travels with the links, so a page opens in it at once, in one step of the browser's history.
    carried = {PRESENT: url()[PRESENT]} if PRESENT in url() else None
    for heading, pages in sections().items():
        st.subheader(heading)
        for page_key, (title, blurb) in pages.items():
            st.page_link(link_target(page_key), label=f"**{title}**: {blurb}", query_params=carried)
    _lesson_folder_problems()
    write_url()  # lecturer mode in the address, in one update


def _lesson_folder_problems() -> None:
    """Each lesson file that did not load, with its file and line, for the lecturer who started the
    server (the other lessons are on the page above)."""
    loaded = own_lessons()
    if loaded is None or not loaded.problems:
        return
    st.subheader(OWN_LESSONS_HEADING + ": files that did not load")
    for problem in loaded.problems:
        st.error(literal(problem.by_name), icon=":material/error:")
