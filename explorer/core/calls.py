"""Repeated .backward() calls on leaves that persist, as a training loop makes them.

Each call rebuilds the function from the same leaf tensors (a fresh graph, as the seed's loop
does), runs a recorded backward, and PyTorch adds the new gradient to whatever `.grad` holds.
Between calls the student may zero `.grad` in place, set it to None, or do nothing. Running
backward a second time through the *same* graph is offered too: it fails the way PyTorch
fails unless the previous call kept the graph with retain_graph=True.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from explorer.core.backward import BackwardPass, record_backward
from explorer.errors import ExplorerError, GraphFreedError
from explorer.core.graph import Graph, capture
from explorer.values import parse_number, to_plain

# What happens to .grad between calls: nothing, x.grad.zero_(), or x.grad = None.
ZERO_MODES = ("none", "zero", "set-none")
ACTION_LETTERS = {"zero_()": "z", "set to None": "n"}
ACTION_CODE_LETTERS = "bBaAzn"  # every letter actions_code() writes
MAX_REPLAYED_ACTIONS = 200  # a link replays real backward calls; keep a hand-made one from costing much
# Every call keeps its recorded pass (the player shows any of them), so calls cost memory: 20,000
# calls of a small lesson took 320 MB. A lesson on accumulation needs a handful.
MAX_CALLS = 1000


@dataclass(frozen=True)
class HistoryEntry:
    """One thing the student did, and every leaf's .grad right after it."""

    number: int
    action: str  # "backward", "backward (same graph)", "zero_()", "set to None", "refused"
    grads: dict[str, Any]
    message: str = ""
    retain_graph: bool = False

    @property
    def is_backward(self) -> bool:
        """A backward call that ran (on a new graph or the same one); refusals and zeroings are not."""
        return self.action.startswith("backward")

    def to_dict(self) -> dict:
        return {"number": self.number, "action": self.action, "grads": self.grads, "message": self.message,
                "retain_graph": self.retain_graph}


@dataclass
class BackwardSession:
    """One student's leaves and everything done to them. Lives in that student's session only."""

    fn: Callable[..., torch.Tensor]
    values: dict[str, Any]
    output_name: str = "f"
    leaves: dict[str, torch.Tensor] = field(init=False)
    passes: list[BackwardPass] = field(init=False, default_factory=list)
    history: list[HistoryEntry] = field(init=False, default_factory=list)

    def __post_init__(self):
        self.leaves = {
            name: torch.tensor(parse_number(value, name) if not isinstance(value, list) else value,
                               dtype=torch.float32, requires_grad=True)
            for name, value in self.values.items()
        }
        self._last_output: torch.Tensor | None = None

    # -- the function --------------------------------------------------------------------
    def forward(self) -> torch.Tensor:
        output = self.fn(**self.leaves)
        if isinstance(output, torch.Tensor) and output.numel() != 1:
            raise ExplorerError(
                f"{self.output_name} has {output.numel()} values; .backward() needs a single number. "
                "Reduce it first, for example with sum(...)."
            )
        return output

    def graph(self) -> Graph:
        """The graph a call would run through, built without running backward."""
        return capture(self.forward(), self.leaves, self.output_name)

    def value(self) -> float:
        with torch.no_grad():
            return to_plain(self.fn(**self.leaves))

    # -- actions ---------------------------------------------------------------------------
    def backward(self, retain_graph: bool = False) -> BackwardPass:
        """Build the function again from the same leaves and call .backward() on it."""
        output = self.forward()
        record = record_backward(output, self.leaves, self.output_name, retain_graph=retain_graph)
        self._keep(output, record, "backward", retain_graph)
        return record

    def backward_same_graph(self, retain_graph: bool = False) -> BackwardPass:
        """Call .backward(retain_graph=...) again on the last call's output, without building it again.

        As in PyTorch, this works only while the graph is kept: every earlier call on this output must
        have passed retain_graph=True. This call's own flag decides whether a further one can follow.
        """
        if self._last_output is None:
            raise ExplorerError("There is no graph yet: call .backward() once first.")
        try:
            record = record_backward(self._last_output, self.leaves, self.output_name, retain_graph=retain_graph)
        except GraphFreedError as error:
            self._note("refused", message=error.pytorch_message, retain_graph=retain_graph)
            raise
        self._keep(self._last_output, record, "backward (same graph)", retain_graph)
        return record

    def zero_grad(self, mode: str) -> None:
        """'zero': x.grad.zero_() (a tensor of zeros stays); 'set-none': x.grad = None; 'none': nothing."""
        check_zeroing(mode)
        if mode == "none":
            return
        for leaf in self.leaves.values():
            if mode == "zero" and leaf.grad is not None:
                leaf.grad.zero_()
            elif mode == "set-none":
                leaf.grad = None
        self._note("zero_()" if mode == "zero" else "set to None")

    def grads(self) -> dict[str, Any]:
        return {name: to_plain(leaf.grad, summarize=True) for name, leaf in self.leaves.items()}

    def full_grads(self) -> dict[str, Any]:
        """Every leaf's .grad, every element of it (grads() summarizes a big tensor for display)."""
        return {name: to_plain(leaf.grad, limit=None) for name, leaf in self.leaves.items()}

    def grad_history(self, name: str) -> list[Any]:
        """A leaf's .grad after each backward call, in order: [6, 12, 18] for x = 3 without zeroing."""
        return [entry.grads[name] for entry in self.history if entry.is_backward]

    # -- bookkeeping ---------------------------------------------------------------------
    def _keep(self, output, record, action, retained) -> None:
        self._last_output = output
        self.passes.append(record)
        self._note(action, retain_graph=retained)

    def _note(self, action: str, message: str = "", retain_graph: bool = False) -> None:
        self.history.append(HistoryEntry(len(self.history) + 1, action, self.grads(), message, retain_graph))

    # -- the history as a short code, so a link can carry it --------------------------------
    def actions_code(self) -> str:
        """The student's actions as letters: b backward, a backward again on the same graph (capitals
        B and A: with retain_graph=True), z zero_(), n set to None. Replaying them gives the same state."""
        letters = []
        for entry in self.history:
            if entry.action == "backward":
                letters.append("B" if entry.retain_graph else "b")
            elif entry.action in ("backward (same graph)", "refused"):
                letters.append("A" if entry.retain_graph else "a")
            else:
                letters.append(ACTION_LETTERS[entry.action])
        return "".join(letters)

    def replay(self, code: str) -> None:
        """Redo the actions of actions_code(), with real backward calls. Unknown letters are refused."""
        first_call = next((letter for letter in code if letter in "bBaA"), None)
        # A same-graph call before any call is refused without a trace, so no history starts with one.
        if len(code) > MAX_REPLAYED_ACTIONS or set(code) - set(ACTION_CODE_LETTERS) or first_call in ("a", "A"):
            raise ExplorerError("This link's list of actions is not one the explorer wrote; starting afresh.")
        for letter in code:
            if letter in "bB":
                self.backward(retain_graph=letter == "B")
            elif letter in "aA":
                try:
                    self.backward_same_graph(retain_graph=letter == "A")
                except ExplorerError:
                    pass  # refused then too: the history records it, as it did the first time
            else:
                self.zero_grad("zero" if letter == "z" else "set-none")


def check_zeroing(zero: str | None) -> str:
    """One of ZERO_MODES (None means "none"), or a clear error."""
    mode = "none" if zero is None else zero
    if mode not in ZERO_MODES:
        raise ExplorerError(f"Unknown zeroing \"{zero}\"; choose one of {', '.join(ZERO_MODES)}.")
    return mode


def repeat_calls(session: BackwardSession, calls: int, zero: str | None = "none") -> BackwardSession:
    """`calls` backward calls on the session, with the given zeroing between them."""
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
        raise ExplorerError(f"The number of calls must be a whole number, 1 or more, not {calls!r}.")
    if calls > MAX_CALLS:
        raise ExplorerError(f"{calls} calls is too many: the most is {MAX_CALLS} (each call's record is kept).")
    mode = check_zeroing(zero)
    for call in range(calls):
        if call > 0:
            session.zero_grad(mode)
        session.backward()
    return session


def run_calls(fn, values: dict[str, Any], calls: int, zero: str = "none", output_name: str = "f") -> BackwardSession:
    """A new session of `fn` at `values`, after `calls` backward calls (the CLI, exports and tests use this)."""
    check_zeroing(zero)
    return repeat_calls(BackwardSession(fn, values, output_name), calls, zero)
