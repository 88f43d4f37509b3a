"""The tables beside the player, as plain rows: the engine's order, the history of actions, the
`.grad` strip across calls, and the check by hand. No Streamlit here: the app shows these rows
with st.table / st.markdown, and tests read them directly."""

from __future__ import annotations

import math

from explorer.core.actions import Action
from explorer.core.backward import BackwardPass
from explorer.core.calls import BackwardSession
from explorer.play.predict import agrees
from explorer.values import format_number


def accumulation_strip(session: BackwardSession) -> str:
    """Markdown, one line per leaf: its .grad after each action, with zeroing marked where it happened."""
    lines = []
    for name in session.leaves:
        steps = []
        for entry in session.history:
            if entry.is_backward:
                steps.append(f"**{format_number(entry.grads[name])}**")
            elif entry.action is Action.ZERO:
                steps.append("`zero_()` 0")
            elif entry.action is Action.SET_NONE:
                steps.append("`= None`")
        lines.append(f"`{name}.grad` over the calls: " + " → ".join(steps))
    return "  \n".join(lines)


def events_table(record: BackwardPass) -> list[dict]:
    """One row per node the engine ran, in its order: the gradient arriving and what it sent on."""
    rows = []
    for event in record.events:
        row = {
            "step": event.step + 1,
            "node": event.name,
            "gradient arriving": ", ".join(format_number(g) for g in event.grads_in),
            "sent along each input": ", ".join(format_number(g.value) for g in event.grads_out) or "—",
        }
        if event.leaf is not None:
            row["sent along each input"] = (f"{record.graph.node(event.leaf).name}.grad: "
                                            f"{format_number(event.grad_before)} → {format_number(event.grad_after)}")
        rows.append(row)
    return rows


def history_table(session: BackwardSession) -> list[dict]:
    """One row per action, with every leaf's .grad after it."""
    return [
        {"#": entry.number, "action": entry.action.label,
         **{f"{name}.grad": format_number(value) for name, value in entry.grads.items()}}
        for entry in session.history
    ]


def by_hand_rows(session: BackwardSession, by_hand: dict[str, float]) -> list[dict]:
    """autograd's .grad after the last call beside the derivative worked out by hand, per leaf."""
    last = session.passes[-1].grads_after
    rows = []
    for name, expected in by_hand.items():
        autograd = last[name]
        agree = isinstance(autograd, float) and agrees(autograd, expected)
        rows.append({"leaf": name, "autograd (last call)": format_number(autograd),
                     "by hand": format_number(expected), "agree": "yes" if agree else "no"})
    return rows


def calls_since_zeroing(session: BackwardSession) -> int:
    """Backward calls since .grad was last zeroed (or set to None): how many gradients .grad holds."""
    count = 0
    for entry in session.history:
        if entry.is_backward:
            count += 1
        elif entry.action in (Action.ZERO, Action.SET_NONE):  # a refused call leaves .grad as it was
            count = 0
    return count


def overflowed(session: BackwardSession, by_hand: dict[str, float]) -> list[str]:
    """Leaves whose float32 .grad is inf or NaN where the float64 derivative by hand is finite."""
    last = session.passes[-1].grads_after
    return [name for name, expected in by_hand.items()
            if isinstance(last[name], float) and not math.isfinite(last[name]) and math.isfinite(expected)]
