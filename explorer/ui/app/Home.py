"""Autograd Explorer's entrypoint (`streamlit run explorer/ui/app/Home.py`): the list of pages, each under its one name.

The pages live in app_pages/ beside this file, and its settings in .streamlit/config.toml beside it
(Streamlit reads a config beside the main script wherever the package is installed) (a folder named pages/ would make Streamlit build its
older page list from the file names, over this one, on a server's first run), each served at its
own URL (/Accumulation, /Exercises?lesson=exercise-2, ...); the home page, 0_Home.py, at /.
"""

import streamlit as st

from explorer.ui.navigation import app_pages
from explorer.ui.page import lesson_page

# expanded: a course has more pages than the ten Streamlit lists before folding the rest behind
# "View more", and a lesson folder's pages come last, so they would be the ones hidden.
st.navigation(app_pages(lesson_page), expanded=True).run()  # lesson_page also builds a lesson folder's pages
