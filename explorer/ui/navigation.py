"""Moving between pages: the app's list of pages, the lecturer's bar, and the browser's history.

Each page has one name, its entry in PAGES or EXTRA_PAGES, and it is the same string on the home
page's link, in the sidebar and in the page's title (the sidebar used to take it from the file's
name, and the title from the lesson: one page had three names).

Lecturer mode hides the sidebar, so it brings its own compact bar: previous, a menu of every page,
next, and the keys [ and ] for the same moves (Streamlit keeps C and R; the player keeps Space,
the arrows, Home, End and ?).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from explorer.functions.lessons import CHAPTER_PAGES, EXTRA_PAGES, PAGES
from explorer.ui.links import PAGE_FILES
from explorer.ui.state import PRESENT

APP_TITLE = "Autograd Explorer"
HOME = "home"
# The headings of the sidebar and the home page, each over its pages, in reading order.
SECTIONS = {"The lesson": PAGES, "Beyond the basics": CHAPTER_PAGES, "Your own functions": EXTRA_PAGES}
# Every page in reading order: the home page, the lesson, the rest of the chapter, then the playground.
ORDER = [HOME, *PAGES, *CHAPTER_PAGES, *EXTRA_PAGES]
TITLES = {HOME: APP_TITLE, **{key: title for pages in SECTIONS.values() for key, (title, _) in pages.items()}}
# A ∂ on a dark square: Streamlit treated the bare "∂" as a file name, and the browser's request for it 404ed.
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" '
           'fill="#1f2937"/><text x="16" y="24" font-size="22" text-anchor="middle" fill="#f9fafb" '
           'font-family="serif">∂</text></svg>')


def url_path(page_key: str) -> str:
    """The page's address, from its file's name as the pages folder of old gave it (/Accumulation)."""
    return Path(PAGE_FILES[page_key]).stem.split("_", 1)[1]


HOME_FILE = "app_pages/0_Home.py"


def app_pages() -> dict[str, list]:
    """The st.Page of every page under its sidebar heading, the home page first (served at /), each
    under its one name."""
    sections = {heading: [st.Page(PAGE_FILES[key], title=TITLES[key], url_path=url_path(key)) for key in pages]
                for heading, pages in SECTIONS.items()}
    first = next(iter(sections))
    sections[first].insert(0, st.Page(HOME_FILE, title=APP_TITLE, default=True))
    return sections


def next_page(page_key: str) -> str | None:
    """The page after this one in reading order (None after the last)."""
    at = ORDER.index(page_key)
    return ORDER[at + 1] if at + 1 < len(ORDER) else None


def next_lesson_link(page_key: str) -> None:
    """At the end of a lesson's page: on to the next one, in course order."""
    following = next_page(page_key)
    if following is not None:
        _link(following, f"Next: **{TITLES[following]}** →")


def link_target(page_key: str) -> str:
    """The file st.page_link takes for a page."""
    return HOME_FILE if page_key == HOME else PAGE_FILES[page_key]


def lecturer_bar(page_key: str) -> None:
    """← previous, a menu of every page, next →, and the [ ] keys; each link keeps lecturer mode."""
    at = ORDER.index(page_key)
    previous, following = ORDER[at - 1] if at > 0 else None, ORDER[at + 1] if at + 1 < len(ORDER) else None
    # One row: previous at the left edge, the menu in the middle, next at the right edge.
    with st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="center"):
        with st.container(key="lecturer-previous", width="content"):
            if previous is not None:
                _link(previous, f"← {TITLES[previous]}")
        with st.popover("Pages", icon=":material/menu:"):
            for key in ORDER:
                _link(key, TITLES[key], disabled=key == page_key)
        with st.container(key="lecturer-next", width="content"):
            if following is not None:
                _link(following, f"{TITLES[following]} →")
    st.html(LECTURER_KEYS, unsafe_allow_javascript=True)


def _link(page_key: str, label: str, disabled: bool = False) -> None:
    try:
        st.page_link(link_target(page_key), label=label, query_params={PRESENT: "1"}, disabled=disabled)
    except StreamlitPageNotFoundError:
        pass  # a page run on its own (AppTest makes the page file the entrypoint) has no other pages to link to


# Clicks the bar's own link, so the move is Streamlit's own navigation (no reload, lecturer mode
# kept). Keys typed into a box, or with a modifier, are the box's or the browser's.
LECTURER_KEYS = """<script>
if (!window.__lecturerKeys) {
  window.__lecturerKeys = true;
  document.addEventListener('keydown', event => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest && event.target.closest('input, textarea, select, [contenteditable]')) return;
    const side = {']': 'next', '[': 'previous'}[event.key];
    const link = side && document.querySelector(`.st-key-lecturer-${side} a`);
    if (link) { event.preventDefault(); link.click(); }
  });
}
</script>"""

# Streamlit pushes a history entry for every change of the query string, so each click on a page
# was one more press of Back. A change that stays on the same page replaces the current entry
# instead; moving to another page (another path) still pushes, so Back leaves a page in one press.
REPLACE_IN_PAGE = """<script>
if (!window.__replaceInPage) {
  window.__replaceInPage = true;
  const push = history.pushState.bind(history);
  history.pushState = function (state, title, address) {
    const target = new URL(address, location.href);
    if (target.pathname === location.pathname) return history.replaceState(state, title, address);
    return push(state, title, address);
  };
}
</script>"""


def replace_in_page_history() -> None:
    st.html(REPLACE_IN_PAGE, unsafe_allow_javascript=True)
