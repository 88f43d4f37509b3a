"""Predict, then reveal: the student types the gradient they expect before autograd's is shown.

The student predicts what `.grad` reads after the next call; the check makes that real backward
call and compares each guess with `.grad` after it (explorer/play/predict.py explains a wrong one
with PyTorch's own numbers, including "you predicted one call's worth" when .grad already held
something). Each check counts in the session's score.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    usual = lesson is not None and lesson.predicts_first  # exercises (and lesson files with EXPECTED) ask first
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
    st.markdown(f"**Your prediction.** {_now(session)} What will it read after the next `.backward()` call?")
    columns = st.columns(len(session.leaves) + 1)
    guesses, problems = {}, []
    for column, name in zip(columns, session.leaves):
        text = column.text_input(f"{name}.grad =", key=f"{key}:guess:{name}", placeholder="a number")
        try:
            guesses[name] = parse_number(text, f"your guess for {name}.grad")
        except ExplorerError as error:
            problems.append(str(error))
    checked = columns[-1].button("Check my prediction", key=f"{key}:check", type="primary",
                                 help="Makes that .backward() call and compares .grad with your guess")
    revealed_key = f"{key}:revealed"
    if checked:
        if problems:
            for problem in problems:
                st.error(literal(problem))
        else:
            st.session_state[revealed_key] = _check(session, guesses, lesson, key, st.session_state.get(revealed_key))
    check = st.session_state.get(revealed_key)
    if check is None or check.session is not session:  # nothing checked yet, or new values or start over since
        st.info("The gradients stay hidden until you check a prediction.")
        return False
    _show_verdicts(check.verdicts)
    return True


def _now(session: BackwardSession) -> str:
    """What .grad holds now, in words and without its numbers, which are the answer's half."""
    grads = [leaf.grad for leaf in session.leaves.values()]
    if all(grad is None for grad in grads):
        return "`.grad` is None now."
    if all(grad is not None and not grad.any() for grad in grads):
        return "`.grad` holds zeros now."
    return "`.grad` already holds what the calls so far added, not cleared."


@dataclass
class Checked:
    """A checked prediction: the session and action count it was made at, the .grad each leaf held
    before the call the check made, and the verdicts."""
    session: BackwardSession
    actions: int
    held: dict[str, float | None]
    verdicts: list


def _check(session: BackwardSession, guesses: dict[str, float], lesson: Lesson | None, key: str,
           last: Checked | None) -> Checked:
    """Make the call the prediction is about and judge the guesses against .grad after it. Checked
    again with nothing done since (a second try), the guesses are judged against that same call."""
    if last is not None and last.session is session and last.actions == len(session.history):
        held = last.held
    else:
        held = {name: (leaf.grad.item() if leaf.grad is not None else None) for name, leaf in session.leaves.items()}
        session.backward()
    record = session.passes[-1]
    after = session.grads()
    by_hand = lesson.by_hand(**{n: leaf.item() for n, leaf in session.leaves.items()}) if lesson and lesson.by_hand else {}
    verdicts = [judge(guess, name, record, by_hand.get(name), held=held[name], grad_after=after[name])
                for name, guess in guesses.items()]
    # The same guesses checked again on the same call score once: clicking twice is not two answers.
    attempt = (id(session), len(session.passes), tuple(sorted(guesses.items())))
    if st.session_state.get(f"{key}:scored") != attempt:
        st.session_state[f"{key}:scored"] = attempt
        right, checked = st.session_state.get(SCORE_KEY, (0, 0))
        st.session_state[SCORE_KEY] = (right + all(v.correct for v in verdicts), checked + 1)
    return Checked(session, len(session.history), held, verdicts)


def _show_verdicts(verdicts: list) -> None:
    st.table([{"leaf": v.leaf, "your guess": format_number(v.guess), ".grad after the call": format_number(v.autograd),
               "by hand (one call)": format_number(v.by_hand) if v.by_hand is not None else "—",
               "result": "right" if v.correct else "not quite"} for v in verdicts])
    for verdict in verdicts:
        (st.success if verdict.correct else st.warning)(verdict.explanation)
    right, checked = st.session_state.get(SCORE_KEY, (0, 0))
    st.caption(f"Score this session: {right} of {checked} predictions right.")
