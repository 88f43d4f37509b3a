"""Predict, then reveal: hold a student's guessed gradient against autograd's, and when they
differ, find the step of the chain rule where the guess went wrong.

Autograd's gradient of f with respect to a leaf is a sum over the paths from f down to that
leaf, each path the product of the local derivatives met along it. A recorded backward pass
holds every one of those numbers (the gradient that arrives at a node and what it sends on
along each edge), so the explanation is made of PyTorch's own numbers, not a second calculus
engine: which path a guess left out, which local derivative it is missing, or its sign.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

from explorer.core.backward import BackwardPass
from explorer.core.graph import INPUT, OUTPUT_EDGE
from explorer.values import format_number

TOLERANCE = 1e-4  # relative, and absolute near zero: guesses are typed with few decimals
MAX_PATHS = 32  # enough for any lesson or playground function a student checks by hand
MAX_SUBSET_PATHS = 10  # "which paths did the guess leave out" tries every subset: 2**10 sums at most


@dataclass(frozen=True)
class Factor:
    node: str  # the backward node
    name: str
    value: float  # its local derivative along this path (sent / arrived, from the recorded pass)


@dataclass(frozen=True)
class Path:
    factors: tuple[Factor, ...]

    @property
    def product(self) -> float:
        return math.prod(factor.value for factor in self.factors)

    def text(self) -> str:
        parts = " × ".join(f"{format_number(f.value)} ({f.name})" for f in self.factors)
        return f"{parts} = {format_number(self.product)}"


@dataclass
class Verdict:
    leaf: str
    guess: float
    autograd: float  # what .grad holds after the call: the number the student predicts
    by_hand: float | None
    paths: list[Path] = field(default_factory=list)
    explanation: str = ""
    added: float | None = None  # what the call added, when .grad already held something before it
    held: float | None = None  # what .grad held before the call (None: no .grad, or zeros)

    @property
    def correct(self) -> bool:
        return agrees(self.guess, self.autograd)


def agrees(a: float, b: float) -> bool:
    """Equal within TOLERANCE. Nothing agrees with inf or NaN: there is no right guess for those."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return abs(a - b) <= TOLERANCE * max(1.0, abs(b))


def chain_rule_paths(record: BackwardPass, leaf_name: str) -> list[Path]:
    """Every path from the output down to the leaf, with the local derivative of each node on it."""
    graph = record.graph
    target = graph.accumulator_of(graph.leaf_named(leaf_name).id)
    root = next(edge.src for edge in graph.edges if edge.kind == OUTPUT_EDGE)
    events = {event.node: event for event in record.events}
    inputs: dict[str, list] = {}
    for edge in graph.edges:
        if edge.kind == INPUT:
            inputs.setdefault(edge.dst, []).append(edge)
    paths: list[Path] = []
    stack = [(root, ())]
    while stack and len(paths) < MAX_PATHS:
        node_id, factors = stack.pop()
        if node_id == target:
            paths.append(Path(factors))
            continue
        event = events.get(node_id)
        local = event.local_derivative if event else None
        for edge in reversed(inputs.get(node_id, [])):
            if local is None or local[edge.slot] is None:
                continue
            stack.append((edge.src, factors + (Factor(node_id, event.name, local[edge.slot]),)))
    return paths


def judge(guess: float, leaf_name: str, record: BackwardPass, by_hand: float | None = None,
          held: float | None = None, grad_after: float | None = None) -> Verdict:
    """Compare a guess of what `.grad` reads after the call `record` with what it reads, and explain
    a wrong one. `held` is the leaf's .grad just before that call and `grad_after` PyTorch's .grad just
    after it; without them .grad held nothing, and reads what the call adds."""
    target = record.graph.accumulator_of(record.graph.leaf_named(leaf_name).id)
    added = next(event.grads_in[0] for event in record.events if event.node == target)  # what this call adds
    paths = chain_rule_paths(record, leaf_name)
    if not held:  # None or zeros: .grad reads exactly what the call adds
        verdict = Verdict(leaf_name, guess, added if grad_after is None else grad_after, by_hand, paths)
        verdict.explanation = _explain(verdict)
        return verdict
    verdict = Verdict(leaf_name, guess, grad_after, by_hand, paths, added=added, held=held)
    verdict.explanation = _explain_accumulated(verdict)
    return verdict


def _explain_accumulated(verdict: Verdict) -> str:
    """A call onto a .grad that already held something: the usual slip is to predict one call's worth."""
    name, held, added, after = verdict.leaf, verdict.held, verdict.added, verdict.autograd
    sum_text = f"{format_number(held)} + {format_number(added)} = {format_number(after)}"
    if verdict.correct:
        return f"Right: {name}.grad = {sum_text}, what it held plus what the call added."
    if agrees(verdict.guess, added):
        return (f"You predicted what one call adds; {name}.grad already held {format_number(held)} and "
                f".backward() adds: {sum_text}.")
    # Otherwise judge the part the call added as a guess of its own, with the usual explanations.
    alone = Verdict(name, verdict.guess - held, added, verdict.by_hand, verdict.paths)
    return (f"{name}.grad already held {format_number(held)} and .backward() adds: {sum_text}. "
            f"For the part this call adds: {_explain(alone)}")


def _explain(verdict: Verdict) -> str:
    name, guess, paths = verdict.leaf, verdict.guess, verdict.paths
    if verdict.correct:
        return f"Right: ∂f/∂{name} = {format_number(verdict.autograd)}."
    if not paths or len(paths) >= MAX_PATHS:  # none, or too many to list (the walk stopped counting)
        return f"Autograd gives {format_number(verdict.autograd)}."
    if agrees(-guess, verdict.autograd) and verdict.autograd != 0:
        return f"Check the sign: autograd gives {format_number(verdict.autograd)}, the opposite of your guess."
    if 1 < len(paths) <= MAX_SUBSET_PATHS:
        for size in range(1, len(paths)):
            for kept in combinations(range(len(paths)), size):
                if agrees(guess, sum(paths[i].product for i in kept)):
                    missed = [paths[i] for i in range(len(paths)) if i not in kept]
                    return (f"{name} reaches f along {len(paths)} paths and autograd adds them all. "
                            f"Your guess counts {size} of them but leaves out "
                            + "; ".join(f"the path {p.text()}" for p in missed) + ".")
    for path in paths:
        for factor in path.factors:
            if factor.value in (0.0, 1.0):
                continue
            without = verdict.autograd - path.product + path.product / factor.value
            if agrees(guess, without):
                return (f"Your guess is missing one factor of the chain rule: the local derivative "
                        f"{format_number(factor.value)} of {factor.name}, on the path {path.text()}.")
    lines = "; ".join(p.text() for p in paths)
    return (f"Autograd multiplies the local derivatives along each path from f to {name} and adds the "
            f"paths: {lines}. Total {format_number(verdict.autograd)}. Compare each factor with yours.")
