"""The five action buttons a student presses, and what one press does to a session.

The app's page (explorer/ui/page.py) and the notebook widget (explorer/play/widget.py) offer the
same buttons and apply a press the same way, here; each front door only shows the outcome (an
error on the page, a message line in the widget). A press is named by one of BUTTONS: the same
names travel in the browser's press log and in the widget's messages.

    BACKWARD  "backward"  build f again from the same leaves, .backward(retain_graph=...)
    ZERO      "zero"      every leaf's .grad.zero_()
    NONE      "none"      every leaf's .grad = None
    AGAIN     "again"     .backward(retain_graph=...) on the last output, the same graph
    RESET     "reset"     start over: no history, every .grad None (the lesson's prelude redone)
"""

from __future__ import annotations

from explorer.core.actions import Action
from explorer.core.calls import BackwardSession
from explorer.errors import ExplorerError

BACKWARD, ZERO, NONE, AGAIN, RESET = "backward", "zero", "none", "again", "reset"
BUTTONS = (BACKWARD, ZERO, NONE, AGAIN, RESET)  # in the order they are drawn
LABELS = {BACKWARD: "Call .backward()", ZERO: ".grad.zero_()", NONE: ".grad = None",
          AGAIN: "Backward again, same graph", RESET: "Start over"}
CALLS = (BACKWARD, AGAIN)  # the presses that run a backward pass (a new animation)


def button_help(name: str, session: BackwardSession) -> str:
    """The tooltip of a button, naming the session's leaves."""
    grads = ", ".join(f"{leaf}.grad" for leaf in session.leaves)
    return {BACKWARD: "Build f again from the same leaves and run a real backward pass",
            ZERO: f"Fill {grads} with zeros, in place", NONE: f"Drop {grads}; the next call makes new ones",
            AGAIN: "Call .backward() on the last output without building it again",
            RESET: "New leaves, no history"}[name]


def press(session: BackwardSession, name: str, retain_graph: bool = False, prelude: str = "") -> BackwardSession:
    """Apply one press; returns the session to go on with (a new one after RESET, else the same).

    PyTorch's refusals are raised as the session raises them (GraphFreedError for a second pass
    through a freed graph, PyTorchRefusedError, ExplorerError); the refusal is in the history."""
    if name == RESET:
        return start_over(session, prelude)
    if name == BACKWARD:
        session.backward(retain_graph=retain_graph)
    elif name == AGAIN:
        session.backward_same_graph(retain_graph=retain_graph)
    elif name == ZERO:
        session.zero_grad(Action.ZERO)
    elif name == NONE:
        session.zero_grad(Action.SET_NONE)
    else:
        raise ExplorerError(f"Unknown button \"{name}\"; the buttons are {', '.join(BUTTONS)}.")
    return session


def start_over(session: BackwardSession, prelude: str = "") -> BackwardSession:
    """A session of the same function with no history, then `prelude` (actions_code letters) replayed.

    Leaves the session made from numbers are made again. Tensors the caller handed over
    (BackwardSession.of_leaves) stay the caller's own objects, since a function without arguments
    reads exactly those, and their .grad is set to None: the state of tensors never used."""
    if session.made_leaves:
        fresh = BackwardSession(session.fn, dict(session.values), session.output_name, session.gradient, session.watch)
    else:
        for leaf in session.leaves.values():
            leaf.grad = None
        fresh = BackwardSession.of_leaves(session.fn, session.leaves, session.output_name, session.passes_leaves)
        fresh.gradient, fresh.watch = session.gradient, session.watch
    if prelude:
        fresh.replay(prelude)
    return fresh
