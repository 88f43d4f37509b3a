"""Autograd Explorer's home page and the app's entrypoint (`streamlit run Home.py`).

The lesson pages live in pages/ beside this file; Streamlit lists them in the sidebar and
serves each at its own URL (/Accumulation, /Exercises?lesson=exercise-2, ...).
"""

import streamlit as st

from explorer.functions.lessons import EXTRA_PAGES, PAGES
from explorer.ui.common import setup_page
from explorer.ui.state import PRESENT, url, write_url
from explorer.ui.links import PAGE_FILES

setup_page("Autograd Explorer")
st.markdown(
    "PyTorch's autograd records every operation on a tensor created with `requires_grad=True`, "
    "and `.backward()` runs that record in reverse to compute gradients. This explorer lets you "
    "watch it happen on real tensors: the graph autograd built, the order in which the engine "
    "visits its nodes, the gradient that travels along each edge, and how `.grad` grows every "
    "time you call `.backward()` again. Every number on these pages is computed by PyTorch."
)
# Lecturer mode travels with the links, so a page opens in it at once, in one step of the browser's history.
carried = {PRESENT: url()[PRESENT]} if PRESENT in url() else None
st.subheader("The lesson")
for page_key, (title, blurb) in PAGES.items():
    st.page_link(PAGE_FILES[page_key], label=f"**{title}**: {blurb}", query_params=carried)
st.subheader("Your own functions")
for page_key, (title, blurb) in EXTRA_PAGES.items():
    st.page_link(PAGE_FILES[page_key], label=f"**{title}**: {blurb}", query_params=carried)
write_url()  # lecturer mode in the address, in one update
