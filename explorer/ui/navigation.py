"""Moving between pages: the app's list of pages, the lecturer's bar, and the browser's history.

Each page has one name, its entry in PAGES, CHAPTER_PAGES or EXTRA_PAGES (a lesson file's page: its
lesson's title), and it is the same string on the home page's link, in the sidebar and in the page's
title (the sidebar used to take it from the file's name, and the title from the lesson: one page had
three names).

Lecturer mode hides the sidebar, so it brings its own compact bar: previous, a menu of every page,
next, and the keys [ and ] for the same moves (Streamlit keeps C and R; the player keeps Space,
the arrows, Home, End and ?).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from explorer.functions.lessons import CHAPTER_PAGES, EXTRA_PAGES, PAGES
from explorer.ui.lesson_folder import own_lessons, own_sections
from explorer.ui.links import PAGE_FILES
from explorer.ui.state import PRESENT

APP_TITLE = "Autograd Explorer"
HOME = "home"
# The headings of the sidebar and the home page, each over its pages, in reading order.
SECTIONS = {"The lesson": PAGES, "Beyond the basics": CHAPTER_PAGES, "Your own functions": EXTRA_PAGES}
# The built-in pages in reading order, and their names; page_order() and titles() add a lesson folder's.
ORDER = [HOME, *PAGES, *CHAPTER_PAGES, *EXTRA_PAGES]
TITLES = {HOME: APP_TITLE, **{key: title for pages in SECTIONS.values() for key, (title, _) in pages.items()}}
OWN_PAGES = "navigation:own-pages"  # this run's st.Page of each lesson file's page, for links to it


def sections() -> dict[str, dict[str, tuple[str, str]]]:
    """SECTIONS, with the lesson folder's pages (lesson_folder.py) under their own heading before the
    playground's, when the server has a folder."""
    built_in = list(SECTIONS.items())  # the last is the playground's, "Your own functions"
    return dict([*built_in[:-1], *own_sections().items(), built_in[-1]])


def page_order() -> list[str]:
    """Every page in reading order: the home page, the lesson, the rest of the chapter, the course's
    own lessons, then the playground."""
    return [HOME, *(key for pages in sections().values() for key in pages)]


def titles() -> dict[str, str]:
    return {HOME: APP_TITLE, **{key: title for pages in sections().values() for key, (title, _) in pages.items()}}


# A ∂ on a dark square: Streamlit treated the bare "∂" as a file name, and the browser's request for it 404ed.
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" '
           'fill="#1f2937"/><text x="16" y="24" font-size="22" text-anchor="middle" fill="#f9fafb" '
           'font-family="serif">∂</text></svg>')


def url_path(page_key: str) -> str:
    """The page's address, from its file's name as the pages folder of old gave it (/Accumulation)."""
    return Path(PAGE_FILES[page_key]).stem.split("_", 1)[1]


HOME_FILE = "app_pages/0_Home.py"


def app_pages(lesson_page: Callable[[str, list], None]) -> dict[str, list]:
    """The st.Page of every page under its sidebar heading, the home page first (served at /), each
    under its one name. A lesson file's page has no file in app_pages/: it is a callable that runs
    `lesson_page` (page.lesson_page, passed in by the entrypoint) on that lesson, at /<lesson id>."""
    names, loaded = titles(), own_lessons()
    own = {lesson.page: st.Page(_runner(lesson_page, lesson), title=names[lesson.page], url_path=lesson.page)
           for lesson in (loaded.lessons if loaded else ())}
    st.session_state[OWN_PAGES] = own
    pages = {heading: [own[key] if key in own else st.Page(PAGE_FILES[key], title=names[key], url_path=url_path(key))
                       for key in keys]
             for heading, keys in sections().items()}
    first = next(iter(pages))
    pages[first].insert(0, st.Page(HOME_FILE, title=APP_TITLE, default=True))
    return pages


def _runner(lesson_page: Callable[[str, list], None], lesson) -> Callable[[], None]:
    def run_lesson_file_page() -> None:
        lesson_page(lesson.page, [lesson])
    return run_lesson_file_page


def next_page(page_key: str) -> str | None:
    """The page after this one in reading order (None after the last)."""
    order = page_order()
    at = order.index(page_key)
    return order[at + 1] if at + 1 < len(order) else None


def next_lesson_link(page_key: str) -> None:
    """At the end of a lesson's page: on to the next one, in course order."""
    following = next_page(page_key)
    if following is not None:
        _link(following, f"Next: **{titles()[following]}** →")


def link_target(page_key: str):
    """The file st.page_link takes for a page; for a lesson file's page, its st.Page of this run."""
    if page_key == HOME:
        return HOME_FILE
    return PAGE_FILES[page_key] if page_key in PAGE_FILES else st.session_state.get(OWN_PAGES, {}).get(page_key)


def lecturer_bar(page_key: str) -> None:
    """← previous, a menu of every page, next →, and the [ ] keys; each link keeps lecturer mode."""
    order, names = page_order(), titles()
    at = order.index(page_key)
    previous, following = order[at - 1] if at > 0 else None, order[at + 1] if at + 1 < len(order) else None
    # One row: previous at the left edge, the menu in the middle, next at the right edge.
    with st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="center"):
        with st.container(key="lecturer-previous", width="content"):
            if previous is not None:
                _link(previous, f"← {names[previous]}")
        with st.popover("Pages", icon=":material/menu:"):
            for key in order:
                _link(key, names[key], disabled=key == page_key)
        with st.container(key="lecturer-next", width="content"):
            if following is not None:
                _link(following, f"{names[following]} →")
    st.html(LECTURER_KEYS, unsafe_allow_javascript=True)


def _link(page_key: str, label: str, disabled: bool = False) -> None:
    target = link_target(page_key)
    if target is None:
        return  # a lesson file's page run without the entrypoint (AppTest of one page) has no st.Page
    try:
        st.page_link(target, label=label, query_params={PRESENT: "1"}, disabled=disabled)
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
