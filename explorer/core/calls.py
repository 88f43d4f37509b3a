"""Repeated .backward() calls on leaves that persist, as a training loop makes them.

Each call rebuilds the function from the same leaf tensors (a fresh graph, as the seed's loop
does), runs a recorded backward, and PyTorch adds the new gradient to whatever `.grad` holds.
Between calls the student may zero `.grad` in place, set it to None, or do nothing. Running
backward a second time through the *same* graph is offered too: it fails the way PyTorch
fails unless the previous call kept the graph with retain_graph=True. What was done is named
by actions.Action throughout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import torch

from explorer.core.actions import LETTER_ACTIONS, MOST_LINK_ACTIONS, Action, decode_actions, encode_actions, zeroing
from explorer.core.backward import BackwardPass, record_backward
from explorer.core.graph import LEAF, Graph, capture
from explorer.core.watch import call_watching, read_grad
from explorer.errors import ExplorerError, GraphFreedError, PyTorchRefusedError
from explorer.values import parse_number, to_plain

# Every call keeps its recorded pass (the player shows any of them), so calls cost memory: 20,000
# calls of a small lesson took 320 MB. A lesson on accumulation needs a handful.
MAX_CALLS = 1000


@dataclass(frozen=True)
class HistoryEntry:
    """One thing the student did, and every leaf's .grad right after it."""

    number: int
    action: Action
    grads: dict[str, Any]
    message: str = ""
    retain_graph: bool = False

    @property
    def is_backward(self) -> bool:
        """A backward call that ran (on a new graph or the same one); refusals and zeroings are not."""
        return self.action.is_call

    def to_dict(self) -> dict:
        return {"number": self.number, "action": self.action.value, "label": self.action.label,
                "grads": self.grads, "message": self.message, "retain_graph": self.retain_graph}


class BackwardSession:
    """One student's leaves and everything done to them. Lives in that student's session only.

    `BackwardSession(fn, values)` makes new float32 leaves from numbers (or lists) and calls
    `fn(**leaves)`. `BackwardSession.of_leaves(fn, leaves)` uses tensors the caller made, kept as
    they are (on their device), and with `pass_leaves=False` calls `fn()` for a function that
    reads its tensors itself (a model's loss).
    """

    def __init__(self, fn: Callable[..., torch.Tensor], values: dict[str, Any], output_name: str = "f",
                 gradient: Any = None, watch: tuple[str, ...] = ()):
        leaves = {
            name: torch.tensor(parse_number(value, name) if not isinstance(value, list) else value,
                               dtype=torch.float32, requires_grad=True)
            for name, value in values.items()
        }
        self._start(fn, leaves, dict(values), output_name, pass_leaves=True)
        self.made_leaves = True  # made here from numbers: starting over makes them again (buttons.start_over)
        self.gradient = gradient
        self.watch = tuple(watch)

    @classmethod
    def of_leaves(cls, fn: Callable[..., torch.Tensor], leaves: dict[str, torch.Tensor], output_name: str = "f",
                  pass_leaves: bool = True) -> BackwardSession:
        session = cls.__new__(cls)
        session._start(fn, dict(leaves), {name: to_plain(leaf) for name, leaf in leaves.items()}, output_name,
                       pass_leaves)
        session.made_leaves = False  # the caller's tensors: starting over keeps them
        return session

    def _start(self, fn, leaves: dict[str, torch.Tensor], values: dict[str, Any], output_name: str,
               pass_leaves: bool) -> None:
        self.fn = fn
        self.values = values
        self.output_name = output_name
        self.leaves = leaves
        self.passes: list[BackwardPass] = []
        self.history: list[HistoryEntry] = []
        self._pass_leaves = pass_leaves
        self._last_output: torch.Tensor | None = None
        # The seed of every call, as in f.backward(gradient=v): plain numbers (a list), or None for a
        # scalar output's implicit 1. Kept as numbers, so a session holds no tensor but its leaves'.
        self.gradient: Any = None
        # Local tensors of fn to keep from the last call (non-leaf h), and what they held then.
        self.watch: tuple[str, ...] = ()
        self.watched: dict[str, torch.Tensor] = {}
        self._made: dict[str, torch.Tensor] = {}  # the watched tensors of the latest forward
        # The nodes the last call's refusal is about, and a line to draw on each: {"n3": "saved at version 0,
        # now 1"} for an in-place change of a saved tensor. Plain text: a kept exception would hold its frames.
        self.marks: dict[str, str] = {}

    @property
    def passes_leaves(self) -> bool:
        """Whether fn is called with the leaves (fn(**leaves)) or without arguments (it reads its tensors)."""
        return self._pass_leaves

    # -- the function --------------------------------------------------------------------
    def _call(self) -> torch.Tensor:
        if self.watch and self._pass_leaves:
            output, self._made = call_watching(self.fn, self.leaves, self.watch)
            return output
        return self.fn(**self.leaves) if self._pass_leaves else self.fn()

    def non_leaf_grads(self) -> dict[str, tuple[Any, str | None]]:
        """Each watched tensor of the last call: its .grad now, and PyTorch's warning for reading it."""
        return {name: read_grad(tensor) for name, tensor in self.watched.items()}

    def forward(self) -> torch.Tensor:
        """The function's output, built afresh from the leaves (a non-scalar one too: it can be drawn)."""
        return self._call()

    def _seed(self, output: torch.Tensor) -> torch.Tensor | None:
        """The gradient this call starts with, or PyTorch's own refusal for a non-scalar output without
        one, or for an output autograd recorded nothing for (a gradient taken without create_graph=True)."""
        if isinstance(output, torch.Tensor) and output.grad_fn is None and not output.requires_grad:
            raise PyTorchRefusedError(
                _pytorch_message(output),
                "The tensor backward was called on has no grad_fn: autograd recorded no operation that made it, so "
                "there is no graph for backward to walk. A gradient from torch.autograd.grad(...) is such a plain tensor "
                "unless create_graph=True asks autograd to record the backward pass itself.",
            )
        if self.gradient is not None:
            return torch.tensor(self.gradient, dtype=output.dtype, device=output.device)
        if isinstance(output, torch.Tensor) and output.is_complex():
            raise PyTorchRefusedError(
                _pytorch_message(output),
                f"{self.output_name} is a complex number; a gradient starts from a real one (a loss is real). "
                f"Take a real part of it first, for example {self.output_name}.abs() or {self.output_name}.real, "
                f"or pass the seed yourself: {self.output_name}.backward(gradient=v).",
            )
        if isinstance(output, torch.Tensor) and output.numel() != 1:
            raise PyTorchRefusedError(
                _pytorch_message(output),
                f"{self.output_name} has {output.numel()} values; .backward() needs a single number to start "
                "from (the seed 1 of df/df). Reduce it first, for example with sum(...) or .mean(), or pass "
                f"the seed yourself: {self.output_name}.backward(gradient=v), with v of the same shape, computes "
                "the vector-Jacobian product v·J.",
            )
        return None

    def has_graph(self) -> bool:
        """Whether autograd records anything for the output: not for a gradient taken without
        create_graph=True, a plain tensor that backward refuses and nothing can draw."""
        output = self.forward()
        return not isinstance(output, torch.Tensor) or output.grad_fn is not None or output.requires_grad

    def graph(self) -> Graph:
        """The graph a call would run through, built without running backward."""
        return capture(self.forward(), self.leaves, self.output_name)

    def leaves_outside_graph(self) -> list[str]:
        """Leaves the last call's graph (or the next one's) never reaches: detached, used under no_grad,
        or with requires_grad off. Backward cannot send them anything, so their .grad stays as it is."""
        graph = self.passes[-1].graph if self.passes else self.graph()
        reached = {node.name for node in graph.of_kind(LEAF)}
        return [name for name in self.leaves if name not in reached]

    def value(self) -> Any:
        """The output's value. Built with autograd on: a function may call h.retain_grad() or
        h.register_hook(), which PyTorch refuses on a tensor made under no_grad. The graph is dropped."""
        return to_plain(self._call())

    # -- actions ---------------------------------------------------------------------------
    def backward(self, retain_graph: bool = False) -> BackwardPass:
        """Build the function again from the same leaves and call .backward() on it."""
        output = self.forward()
        made = dict(self._made)
        try:
            record = self._record(output, retain_graph)
        except PyTorchRefusedError as error:
            self.marks = in_place_marks(error)
            raise
        self.marks = {}
        self.watched = made
        self._keep(output, record, Action.BACKWARD, retain_graph)
        return record

    def backward_same_graph(self, retain_graph: bool = False) -> BackwardPass:
        """Call .backward(retain_graph=...) again on the last call's output, without building it again.

        As in PyTorch, this works only while the graph is kept: every earlier call on this output must
        have passed retain_graph=True. This call's own flag decides whether a further one can follow.
        """
        if self._last_output is None:
            raise ExplorerError("There is no graph yet: call .backward() once first.")
        try:
            record = self._record(self._last_output, retain_graph)
        except GraphFreedError as error:
            self._note(Action.REFUSED, message=error.pytorch_message, retain_graph=retain_graph)
            raise
        self._keep(self._last_output, record, Action.BACKWARD_SAME_GRAPH, retain_graph)
        return record

    def _record(self, output: torch.Tensor, retain_graph: bool) -> BackwardPass:
        seed = self._seed(output)
        try:
            return record_backward(output, self.leaves, self.output_name, retain_graph=retain_graph, gradient=seed)
        except RuntimeError as error:
            if "Mismatch in shape" in str(error):  # a gradient of the wrong shape: PyTorch's words, then ours
                raise PyTorchRefusedError(str(error), f"The seed given to backward must have the shape of "
                                          f"{self.output_name}, {tuple(output.shape)}.") from None
            # The failed pass freed what its finished nodes saved, so the node is named in the graph of a
            # fresh forward: the one the page draws, with the same ids.
            modified = in_place_error(str(error), self.graph())
            if modified is None:  # anything else PyTorch refuses: its words, never a traceback from deep inside
                raise PyTorchRefusedError(str(error), "PyTorch stopped this backward call; its words above say why.") from None
            raise modified from None

    def zero_grad(self, zero: Action | str | None) -> None:
        """Action.ZERO ("zero"): x.grad.zero_() (a tensor of zeros stays); Action.SET_NONE ("set-none"):
        x.grad = None; None ("none"): nothing."""
        action = zeroing(zero)
        if action is None:
            return
        for leaf in self.leaves.values():
            if action is Action.ZERO and leaf.grad is not None:
                leaf.grad.zero_()
            elif action is Action.SET_NONE:
                leaf.grad = None
        self._note(action)

    def do(self, action: Action, retain_graph: bool = False) -> None:
        """One action as the app's buttons and links ask for it; a refused same-graph call is recorded
        in the history (as PyTorch refused it) and not raised."""
        if action is Action.BACKWARD:
            self.backward(retain_graph)
        elif action in (Action.BACKWARD_SAME_GRAPH, Action.REFUSED):
            try:
                self.backward_same_graph(retain_graph)
            except GraphFreedError:
                pass
        else:
            self.zero_grad(action)

    def grads(self) -> dict[str, Any]:
        return {name: to_plain(leaf.grad, summarize=True) for name, leaf in self.leaves.items()}

    def full_grads(self) -> dict[str, Any]:
        """Every leaf's .grad, every element of it (grads() summarizes a big tensor for display)."""
        return {name: to_plain(leaf.grad, limit=None) for name, leaf in self.leaves.items()}

    def grad_history(self, name: str) -> list[Any]:
        """A leaf's .grad after each backward call, in order: [6, 12, 18] for x = 3 without zeroing."""
        return [entry.grads[name] for entry in self.history if entry.is_backward]

    # -- bookkeeping ---------------------------------------------------------------------
    def _keep(self, output, record, action: Action, retained: bool) -> None:
        self._last_output = output
        self.passes.append(record)
        self._note(action, retain_graph=retained)

    def _note(self, action: Action, message: str = "", retain_graph: bool = False) -> None:
        self.history.append(HistoryEntry(len(self.history) + 1, action, self.grads(), message, retain_graph))

    # -- the history as a short code, so a link can carry it --------------------------------
    def actions_code(self) -> str:
        """The student's actions as a link writes them (actions.encode_actions): letters b backward, a
        backward again on the same graph (capitals B and A: with retain_graph=True), z zero_(), n set to
        None, a run of one letter as the letter and its count (b300). Replaying it gives the same state.
        Past actions.MOST_LINK_ACTIONS actions it is None: no link holds this session (fits_in_link)."""
        if not self.fits_in_link():
            return None
        return encode_actions("".join(entry.action.letter(entry.retain_graph) for entry in self.history))

    def fits_in_link(self) -> bool:
        return len(self.history) <= MOST_LINK_ACTIONS

    def replay(self, code: str) -> None:
        """Redo the actions of actions_code(), with real backward calls; a list the explorer never writes
        is refused before any call (actions.decode_actions)."""
        for letter in decode_actions(code):
            self.do(*LETTER_ACTIONS[letter])


IN_PLACE_WORDS = re.compile(r"modified by an inplace operation: .*?, which is output (\d+) of (\w+), "
                            r"is at version (\d+); expected version (\d+)")


def in_place_error(message: str, graph: Graph) -> PyTorchRefusedError | None:
    """PyTorch's version-counter error, with the node whose saved tensor was changed; None for another error."""
    found = IN_PLACE_WORDS.search(message)
    if found is None:
        return None
    output_nr, op, now, saved = found.groups()
    # PyTorch names the forward op (Sigmoid) or its node (SigmoidBackward0), depending on the version
    marked = next((n for n in graph.of_kind("op") if n.name == op or n.name.startswith(f"{op}Backward")), None)
    node, op = (marked.id, marked.name) if marked is not None else (None, op)
    return PyTorchRefusedError(message, (
        f"{op} saved a tensor to compute its gradient (output {output_nr} of its forward op). "
        f"Every tensor counts its in-place changes: that output was at version {saved} when it was saved, and "
        f"an in-place operation (a method ending in _, such as mul_) has brought it to version {now}. Backward "
        "would use the changed numbers, so PyTorch stops. Write it out of place (y = y * 2), or clone before "
        "changing (y = y.clone(); y.mul_(2))."), node, {"saved": int(saved), "now": int(now)})


def in_place_marks(error: PyTorchRefusedError) -> dict[str, str]:
    """The node a refusal names, with its saved tensor's versions, as the drawing marks it; {} for another refusal."""
    if error.node is None or error.versions is None:
        return {}
    return {error.node: f"saved at version {error.versions['saved']}, now {error.versions['now']}"}


def _pytorch_message(output: torch.Tensor) -> str:
    """What PyTorch says to .backward() on this output (non-scalar, or without a graph). It refuses before the engine starts,
    so asking it touches no .grad; the words are PyTorch's own, whatever its version."""
    try:
        torch.autograd.backward(output)
    except RuntimeError as error:
        return str(error)
    raise AssertionError("PyTorch ran .backward() on an output it should refuse")


def repeat_calls(session: BackwardSession, calls: int, zero: Action | str | None = None) -> BackwardSession:
    """`calls` backward calls on the session, with the given zeroing (actions.zeroing) between them."""
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
        raise ExplorerError(f"The number of calls must be a whole number, 1 or more, not {calls!r}.")
    if calls > MAX_CALLS:
        raise ExplorerError(f"{calls} calls is too many: the most is {MAX_CALLS} (each call's record is kept).")
    action = zeroing(zero)
    for call in range(calls):
        if call > 0:
            session.zero_grad(action)
        session.backward()
    return session


def run_calls(fn, values: dict[str, Any], calls: int, zero: Action | str | None = None,
              output_name: str = "f", gradient: Any = None) -> BackwardSession:
    """A new session of `fn` at `values`, after `calls` backward calls (the CLI, exports and tests use this);
    `gradient` seeds each call, as f.backward(gradient=...) does."""
    zeroing(zero)  # before the leaves are made, so a bad zeroing costs nothing
    return repeat_calls(BackwardSession(fn, values, output_name, gradient), calls, zero)
