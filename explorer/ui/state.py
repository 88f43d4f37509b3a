"""What a link carries, and lecturer mode.

A page's whole state lives in its URL, so a link reopens exactly what is on screen: the lesson
(or the playground's expression), the values, the actions taken (`ops=bbz`: backward, backward,
zero_(); see BackwardSession.actions_code), the animation step, and lecturer mode. Opening a
link starts a new session whose leaves replay those actions with real backward calls.

A run reads and changes the parameters in `url()`, a plain dict, and `write_url()` sends them to
the browser once, at its end. Streamlit sends every single change of st.query_params, and the
browser adds a history entry for each: opening one page took five presses of Back to leave.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from explorer.core.actions import MOST_LINK_ACTIONS
from explorer.core.calls import BackwardSession
from explorer.errors import ExplorerError
from explorer.drawing.legend import Look, look_for
from explorer.ui.markdown import literal

ACTIONS, STEP, PRESENT, PREDICT, LESSON, EXPR, CASE = "ops", "step", "present", "predict", "lesson", "expr", "case"
# Every URL parameter that is not a variable's value (the playground refuses these as variable names).
STATE_PARAMS = frozenset({ACTIONS, STEP, PRESENT, PREDICT, LESSON, EXPR, CASE})
PRESENT_KEY = "lecturer-mode"  # the toggle's widget key
# Where the mode itself is kept. Streamlit drops a widget's state when another page runs, so the
# toggle alone would switch lecturer mode off at every change of page.
PRESENT_STORE = "lecturer-mode-on"
URL_KEY = "url:this-run"  # the query parameters as this run leaves them
LINK_FULL = "url:link-full"  # this run's session has more actions than a link holds


def start_url() -> None:
    """At the top of every page: this run starts from the parameters the browser has."""
    st.session_state[URL_KEY] = st.query_params.to_dict()


def url() -> dict[str, str]:
    """This run's query parameters, to read and change; write_url() sends them."""
    if URL_KEY not in st.session_state:
        start_url()
    return st.session_state[URL_KEY]


def keep_in_url(name: str, value: str, default: str | None = None) -> None:
    """Put `value` in the link, or leave the parameter out when it is the page's own default: a page
    opened without parameters then writes none, and costs no extra step in the browser's history."""
    if value == default:
        url().pop(name, None)
    else:
        url()[name] = value


def write_url() -> None:
    """At the end of every page: one update of the browser's address, and none if nothing changed.
    Parameters keep their places, so a mere change of order never makes a history entry either."""
    wanted = st.session_state.get(URL_KEY)
    current = st.query_params.to_dict()
    if wanted is None or wanted == current:
        return
    ordered = {name: wanted[name] for name in current if name in wanted}
    ordered.update({name: value for name, value in wanted.items() if name not in current})
    st.query_params.from_dict(ordered)


def presentation_toggle() -> bool:
    """Lecturer mode: large type, thick lines, a colour-blind-safe palette, no sidebar."""
    if PRESENT_STORE not in st.session_state:
        st.session_state[PRESENT_STORE] = url().get(PRESENT) == "1"
    st.session_state[PRESENT_KEY] = st.session_state[PRESENT_STORE]
    on = st.toggle("Lecturer mode", key=PRESENT_KEY, on_change=_keep_presentation,
                   help="Large type and high contrast for a projector or a shared screen")
    keep_in_url(PRESENT, "1" if on else "0", default="0")
    if on:
        st.html(PRESENTATION_CSS)
    return on


def _keep_presentation() -> None:
    st.session_state[PRESENT_STORE] = st.session_state[PRESENT_KEY]


# Streamlit sizes its text in rem, so a bigger root font scales the whole page at once.
PRESENTATION_CSS = """<style>
html { font-size: 22px; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] { display: none; }
.block-container, [data-testid="stMainBlockContainer"] { max-width: 100%; padding-left: 2rem; padding-right: 2rem; }
/* Large type in narrow columns: labels wrap onto a second line instead of ending in "…". */
[data-testid^="stBaseButton"] :is(p, .stMarkdownEllipsis), [data-testid="stCheckbox"] :is(p, .stMarkdownEllipsis),
[data-testid="stWidgetLabel"] :is(p, .stMarkdownEllipsis) {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
}
[data-testid^="stBaseButton"] { height: auto !important; }
/* The first screen belongs to the lesson: less of Streamlit's empty top (6rem), a smaller page title
   (2.75rem), which the large root font made 132 px and 60 px. */
[data-testid="stMainBlockContainer"] { padding-top: 4rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 2.1rem; }
</style>"""


def is_dark() -> bool:
    """The app's theme. st.context.theme reads "light" on a session's very first run even on a dark
    server, so the configured base theme decides until the browser has reported its own."""
    theme = getattr(getattr(st.context, "theme", None), "type", None)
    if theme in ("light", "dark") and st.session_state.get("theme-reported"):
        return theme == "dark"
    st.session_state["theme-reported"] = True
    return st.get_option("theme.base") == "dark" or theme == "dark"


def current_look() -> Look:
    return look_for(dark=is_dark(), presentation=bool(st.session_state.get(PRESENT_STORE)))


def restore_actions(session: BackwardSession, page: str) -> bool:
    """Replay the link's actions on the page's first session, once: a session made later (new values,
    another exercise, another expression) starts clean, and its own actions replace the link's.
    Returns whether the link's actions were replayed."""
    restored = f"{page}:restored"
    if st.session_state.get(restored):
        return False
    st.session_state[restored] = True
    code = url().get(ACTIONS, "")
    if code:
        try:
            session.replay(code)
            return True
        except ExplorerError as error:
            st.warning(literal(str(error)))
    return False


def record_actions(session: BackwardSession, prelude: str = "") -> None:
    """The session's actions into the link; a lesson's prelude, which every new session makes, goes without saying."""
    code = session.actions_code()
    st.session_state[LINK_FULL] = code is None
    if code is None:  # more than a link holds: none rather than one that reopens to something else
        url().pop(ACTIONS, None)
    else:
        keep_in_url(ACTIONS, code, default=prelude)


def start_step() -> int | None:
    text = url().get(STEP, "")
    # isdigit() alone accepts "²" and 5,000-digit numbers, which int() refuses; the player clamps the rest.
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def record_step(step: int | None) -> None:
    if step is not None:
        url()[STEP] = str(step)


def forget_step() -> None:
    """A new backward call starts its animation at the beginning."""
    url().pop(STEP, None)


def forget_function(keep_values: bool = False) -> None:
    """Another exercise or expression: the link's actions and step (and, unless `keep_values`,
    its values) belonged to the old one."""
    for name in list(url()):
        if name in (ACTIONS, STEP) or (name not in STATE_PARAMS and not keep_values):
            del url()[name]


def share_link() -> None:
    """The link to exactly this view, in a box with a copy button."""
    base = (getattr(st.context, "url", "") or "").split("?")[0]
    link = base + "?" + urlencode(url())
    with st.popover("Copy link to this view"):
        if st.session_state.get(LINK_FULL):
            st.warning(f"This session has more than {MOST_LINK_ACTIONS:,} actions, more than a link holds, so "
                       "there is no link to it (the address no longer carries its calls either). Start over "
                       "to make links again.")
            return
        st.caption("Opening it shows the same function, values, calls, step and mode.")
        st.code(link, language=None)
