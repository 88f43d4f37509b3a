"""The one vocabulary of what a student can do to the leaves.

Every layer names an action by an `Action`: the session's history, the player's data (JSON), the
link's letters, the notebook that redoes a session, the CLI's --zero and the app's buttons.

    Action               .value (JSON)          .label (on screen)        link letter
    BACKWARD             "backward"             "backward"                b  (B: retain_graph=True)
    BACKWARD_SAME_GRAPH  "backward-same-graph"  "backward (same graph)"   a  (A: retain_graph=True)
    REFUSED              "refused"              "refused"                 a  (A), as it was asked for
    ZERO                 "zero"                 "zero_()"                 z
    SET_NONE             "set-none"             "set to None"             n

A zeroing between repeated calls is one of the two zeroing actions, or None for "leave .grad as
it is" (spelled "none" where text is read: the CLI's --zero none, explorer.animate(zero="none")).
"""

from __future__ import annotations

import itertools
import re
from enum import Enum

from explorer.errors import ExplorerError


class Action(str, Enum):
    BACKWARD = "backward"
    BACKWARD_SAME_GRAPH = "backward-same-graph"
    REFUSED = "refused"
    ZERO = "zero"
    SET_NONE = "set-none"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_call(self) -> bool:
        """A backward call that ran (on a new graph or on the same one); refusals and zeroings are not."""
        return self in (Action.BACKWARD, Action.BACKWARD_SAME_GRAPH)

    def letter(self, retain_graph: bool = False) -> str:
        """This action's letter in a link; a capital for a call asked with retain_graph=True."""
        letter = _LETTERS[self]
        return letter.upper() if retain_graph and letter in "ba" else letter

    def __str__(self) -> str:
        return self.value


_LABELS = {
    Action.BACKWARD: "backward",
    Action.BACKWARD_SAME_GRAPH: "backward (same graph)",
    Action.REFUSED: "refused",
    Action.ZERO: "zero_()",
    Action.SET_NONE: "set to None",
}
_LETTERS = {Action.BACKWARD: "b", Action.BACKWARD_SAME_GRAPH: "a", Action.REFUSED: "a", Action.ZERO: "z",
            Action.SET_NONE: "n"}
# The letters a link may hold, and what each asks for (a refusal is a same-graph call that failed).
LETTER_ACTIONS = {"b": (Action.BACKWARD, False), "B": (Action.BACKWARD, True),
                  "a": (Action.BACKWARD_SAME_GRAPH, False), "A": (Action.BACKWARD_SAME_GRAPH, True),
                  "z": (Action.ZERO, False), "n": (Action.SET_NONE, False)}

ZEROINGS = (Action.ZERO, Action.SET_NONE)
NO_ZEROING = "none"
ZERO_CHOICES = (NO_ZEROING, Action.ZERO.value, Action.SET_NONE.value)  # how text (the CLI) names a zeroing


def zeroing(zero: Action | str | None) -> Action | None:
    """A zeroing as given by a caller (None, "none", "zero", "set-none" or an Action) -> ZERO, SET_NONE
    or None (leave .grad to accumulate), or a clear error."""
    if zero is None or zero == NO_ZEROING:
        return None
    if isinstance(zero, str) and zero in ZERO_CHOICES:
        action = Action(zero)
        if action in ZEROINGS:
            return action
    raise ExplorerError(f"Unknown zeroing \"{zero}\"; choose one of {', '.join(ZERO_CHOICES)}.")


# -- a history as a link's text -------------------------------------------------------------------
# A link replays real backward calls, so what it may hold is capped: replaying the cap took 1.2 s on the
# 2-core machine (tests/test_link_actions.py prints it). Before counts, links held plain letters, capped at
# 200: those are still read as they were written.
MOST_LINK_ACTIONS = 500
MOST_PLAIN_LETTERS = 200
SHORTEST_COUNTED_RUN = 4  # shorter runs stay letters: `bbzb` reads as it always did
_RUN = re.compile(r"([A-Za-z])([1-9][0-9]{0,5})?")


def encode_actions(letters: str) -> str:
    """Letters (one per action, Action.letter) as a link writes them: a run of four or more of the same
    letter as the letter and its count, so 300 calls are `b300`, and `bbzb` stays `bbzb`."""
    parts = []
    for letter, run in itertools.groupby(letters):
        count = len(list(run))
        parts.append(letter * count if count < SHORTEST_COUNTED_RUN else f"{letter}{count}")
    return "".join(parts)


def decode_actions(code: str) -> str:
    """A link's list back into one letter per action, or the refusal of a list the explorer never writes:
    unknown letters, a count with a leading zero, more than MOST_LINK_ACTIONS actions, a list not written
    the way encode_actions writes it (b2, b3b, or a long run of plain letters beyond what links held before
    counts), or a same-graph call before any call (no history starts with one)."""
    refused = ExplorerError("This link's list of actions is not one the explorer wrote; starting afresh.")
    letters, position, total = [], 0, 0
    while position < len(code):
        found = _RUN.match(code, position)
        if found is None or found.group(1) not in LETTER_ACTIONS:
            raise refused
        count = int(found.group(2) or 1)
        total += count
        if total > MOST_LINK_ACTIONS:
            raise refused
        letters.append(found.group(1) * count)
        position = found.end()
    expanded = "".join(letters)
    plain_as_before = code.isalpha() and len(code) <= MOST_PLAIN_LETTERS
    if not (plain_as_before or encode_actions(expanded) == code):
        raise refused
    if next((letter for letter in expanded if letter in "bBaA"), None) in ("a", "A"):
        raise refused
    return expanded
