"""Predict, then reveal: the student types the gradient they expect before autograd's is shown.

The check runs a real backward call if none has been made yet, then compares each guess with
the gradient that call produced (explorer/predict.py explains a wrong one with PyTorch's own
numbers). Each check counts in the session's score.
"""

from __future__ import annotations

import streamlit as st

from explorer.core.calls import BackwardSession
from explorer.errors import ExplorerError
from explorer.functions.lessons import Lesson
from explorer.play.predict import judge
from explorer.ui.state import PREDICT, keep_in_url, url
from explorer.values import format_number, parse_number
from explorer.ui.markdown import literal

SCORE_KEY = "predict:score"  # (right, checked), for the whole session


def predict_first(session: BackwardSession, key: str, lesson: Lesson | None, toggle_slot=st) -> bool:
    """The guessing panel (its on/off toggle goes in `toggle_slot`). Returns True once the gradients may be shown."""
    toggle_key = f"{key}:predict"
    usual = lesson is not None and lesson.page == "exercises"  # exercises start in predict mode
    if toggle_key not in st.session_state:
        wanted = url().get(PREDICT)
        st.session_state[toggle_key] = wanted == "1" if wanted else usual
    on = toggle_slot.toggle("Predict first", key=toggle_key,
                            help="Type the gradient you expect; autograd's appears after you check")
    keep_in_url(PREDICT, "1" if on else "0", default="1" if usual else "0")
    if not on:
        return True
    if any(leaf.numel() != 1 for leaf in session.leaves.values()):
        st.caption("Predicting works with variables that hold a single number.")
        return True
    st.markdown("**Your prediction.** What will a `.backward()` call add to each gradient?")
    columns = st.columns(len(session.leaves) + 1)
    guesses, problems = {}, []
    for column, name in zip(columns, session.leaves):
        text = column.text_input(f"∂f/∂{name} =", key=f"{key}:guess:{name}", placeholder="a number")
        try:
            guesses[name] = parse_number(text, f"your guess for ∂f/∂{name}")
        except ExplorerError as error:
            problems.append(str(error))
    checked = columns[-1].button("Check my prediction", key=f"{key}:check", type="primary")
    revealed_key = f"{key}:revealed"  # (the session they were checked on, the verdicts)
    if checked:
        if problems:
            for problem in problems:
                st.error(literal(problem))
        else:
            st.session_state[revealed_key] = (session, _check(session, guesses, lesson, key))
    checked_on, verdicts = st.session_state.get(revealed_key, (None, None))
    if checked_on is not session:  # nothing checked yet, or new values or start over since: predict again
        st.info("The gradients stay hidden until you check a prediction.")
        return False
    _show_verdicts(verdicts)
    return True


def _check(session: BackwardSession, guesses: dict[str, float], lesson: Lesson | None, key: str) -> list:
    if not session.passes:
        session.backward()
    record = session.passes[-1]
    by_hand = lesson.by_hand(**{n: leaf.item() for n, leaf in session.leaves.items()}) if lesson and lesson.by_hand else {}
    verdicts = [judge(guess, name, record, by_hand.get(name)) for name, guess in guesses.items()]
    # The same guesses checked again on the same call score once: clicking twice is not two answers.
    attempt = (id(session), len(session.passes), tuple(sorted(guesses.items())))
    if st.session_state.get(f"{key}:scored") != attempt:
        st.session_state[f"{key}:scored"] = attempt
        right, checked = st.session_state.get(SCORE_KEY, (0, 0))
        st.session_state[SCORE_KEY] = (right + all(v.correct for v in verdicts), checked + 1)
    return verdicts


def _show_verdicts(verdicts: list) -> None:
    st.table([{"leaf": v.leaf, "your guess": format_number(v.guess), "autograd": format_number(v.autograd),
               "by hand": format_number(v.by_hand) if v.by_hand is not None else "—",
               "result": "right" if v.correct else "not quite"} for v in verdicts])
    for verdict in verdicts:
        (st.success if verdict.correct else st.warning)(verdict.explanation)
    right, checked = st.session_state.get(SCORE_KEY, (0, 0))
    st.caption(f"Score this session: {right} of {checked} predictions right.")
