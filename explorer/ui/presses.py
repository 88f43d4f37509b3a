"""Every press of an action button applied exactly once, in order, whatever the timing.

A Streamlit button's click is a trigger that lasts one run: triggers that arrive during a run
merge, and a trigger is lost outright when another request interrupts the run it started before
the button was read. Three quick clicks on "Call .backward()" often made one or two calls.

So a page's action buttons are counted in the browser instead. press_log.js (run by st.html as
the buttons are drawn) takes each click before Streamlit sees it and appends it to a log; the
press counter, a small component (presses_counter.js), sends the whole log as its state. A state
is sent whole with every request, so the newest log carries every press. `new_presses` returns
each entry this session has not applied yet, once. Each session has a token, so a log made for
an earlier session (a reconnect to a restarted server) is never applied.

Where no browser runs the script (AppTest), the buttons' own triggers still arrive, and are used.
The config sets runner.fastReruns = false: with it on, a request started a second script thread
while the first still ran, both changing the same leaves.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import streamlit as st

_HERE = Path(__file__).parent
_counter = st.components.v2.component("autograd_explorer.press_counter",
                                      js=(_HERE / "presses_counter.js").read_text(encoding="utf-8"))
_LISTENER = (_HERE / "press_log.js").read_text(encoding="utf-8")
MOST_LOGGED = 500  # entries the browser keeps: far more than can queue during one run


@dataclass(frozen=True)
class Press:
    name: str  # which button: a name from the `buttons` given to listen_for_presses
    retain: bool  # the retain_graph box, as it was at the press


def css_class(key: str) -> str:
    """The class Streamlit gives the element of a widget with this key (its frontend's own rule)."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


def _token(key: str) -> str:
    return st.session_state.setdefault(f"{key}:press-token", uuid.uuid4().hex)


def listen_for_presses(key: str, buttons: dict[str, str], retain_key: str) -> None:
    """Start the browser's log of presses on these buttons; call it before drawing them.
    `buttons` maps each button's widget key to the name a Press carries."""
    config = {"token": _token(key), "most": MOST_LOGGED, "retain": css_class(retain_key),
              "buttons": {css_class(widget): name for widget, name in buttons.items()}}
    # json.dumps of our own keys and names; escaping "</" keeps any text from closing the script.
    literal = json.dumps(config).replace("</", "<\\/")
    st.html(f"<script>{_LISTENER}({literal});</script>", unsafe_allow_javascript=True)


def new_presses(key: str, names: set[str], triggered: list[str], retain: bool) -> Iterator[Press]:
    """The presses not applied yet, oldest first, each once: the buttons' own triggers (only
    where no browser log runs), then the log's new entries. Apply each as it comes: an entry is
    marked applied just before it is handed over, with no Streamlit call in between, so a run
    interrupted later never applies it twice nor skips it. A logged name not in `names` (the
    log is the browser's, so anything may come) is skipped."""
    applied_key = f"{key}:press-applied"
    for name in triggered:
        yield Press(name, retain)
    report = _state(st.session_state.get(f"{key}:presses"))
    if isinstance(report, dict) and report.get("token") == _token(key):
        for entry in report.get("log") or []:
            if (isinstance(entry, list) and len(entry) == 3 and type(entry[0]) is int
                    and entry[0] > st.session_state.get(applied_key, 0) and entry[1] in names):
                st.session_state[applied_key] = entry[0]
                yield Press(entry[1], bool(entry[2]))


def show_counter(key: str) -> None:
    """The press counter: sends the browser's log, and says how many presses are still queued."""
    _counter(key=f"{key}:presses", on_presses_change=lambda: None,
             data={"token": _token(key), "applied": st.session_state.get(f"{key}:press-applied", 0)})


def _state(value):
    """The "presses" entry of the counter's state, however session_state presents it."""
    try:
        return value.get("presses") if value is not None else None
    except AttributeError:
        return getattr(value, "presses", None)
