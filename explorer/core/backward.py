"""Record: run the real `.backward()` and write down what the engine did, node by node.

Every backward node of the captured graph gets a pre-hook (the gradient arriving) and a
post-hook (the gradients leaving, one per input edge). Post-hooks fire as the engine finishes
each node, so the list of events is the engine's real execution order, not a guess from the
graph's shape. At an AccumulateGrad the leaf's `.grad` is read before and after, so the
accumulation is recorded as it happened. The hooks are removed before this returns.

Note what the engine does with a leaf used twice (y in x*y + y**3): both contributions are
summed in the node's input buffer and AccumulateGrad runs once, with the sum. The events show
it: the two edges' gradients leave two different nodes, one sum arrives.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from explorer.errors import GraphFreedError
from explorer.core.graph import Graph, trace
from explorer.values import real_numbers, to_plain

FREED_GRAPH_WORDS = "backward through the graph a second time"
FLOAT32_SMALLEST_NORMAL = float(torch.finfo(torch.float32).tiny)


@dataclass(frozen=True)
class EdgeGrad:
    """The gradient one backward node sends along one of its input edges."""

    slot: int  # the position in next_functions
    to: str | None  # the node that receives it; None when that input needs no gradient (a constant)
    value: Any  # plain numbers, or None for a big tensor or no gradient
    shape: tuple[int, ...] | None


@dataclass(frozen=True)
class BackwardEvent:
    """One backward node running: what arrived, what left along each edge, and a leaf's .grad."""

    step: int
    node: str
    name: str
    grads_in: tuple  # one per output of the forward op (usually one)
    grads_out: tuple[EdgeGrad, ...]
    leaf: str | None = None  # AccumulateGrad only: the leaf whose .grad it writes
    grad_before: Any = None
    grad_after: Any = None

    @property
    def local_derivative(self):
        """For a scalar op with one incoming gradient: d(out)/d(input) per edge, i.e. sent / arrived."""
        arrived = self.grads_in[0] if len(self.grads_in) == 1 else None
        if not isinstance(arrived, float) or abs(arrived) < FLOAT32_SMALLEST_NORMAL:
            return None  # a ratio of subnormal float32 numbers is mostly rounding, not a derivative
        if not math.isfinite(arrived):
            return None  # x ÷ inf is 0 or NaN whatever the op did: inf × that is no product of the node's
        return tuple(g.value / arrived if isinstance(g.value, float) else None for g in self.grads_out)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["local_derivative"] = self.local_derivative
        return data


@dataclass
class BackwardPass:
    """One call of .backward(): the graph it ran through and the events in engine order."""

    graph: Graph
    events: list[BackwardEvent]
    seed: Any  # the gradient the output starts with: 1.0 for a scalar
    grads_before: dict[str, Any]  # leaf name -> .grad before the call (None if it was None)
    grads_after: dict[str, Any]
    retain_graph: bool = False
    seed_given: bool = False  # the caller passed the seed: backward(gradient=v) on a non-scalar output

    def to_dict(self, with_graph: bool = True) -> dict:
        data = {
            "seed": self.seed,
            "seed_given": self.seed_given,
            "retain_graph": self.retain_graph,
            "events": [event.to_dict() for event in self.events],
            "grads_before": self.grads_before,
            "grads_after": self.grads_after,
        }
        if with_graph:
            data["graph"] = self.graph.to_dict()
        return data


def record_backward(
    output: torch.Tensor,
    params: dict[str, torch.Tensor],
    output_name: str = "f",
    retain_graph: bool = False,
    gradient: torch.Tensor | None = None,
) -> BackwardPass:
    """Run `output.backward()` for real and return what happened. Raises GraphFreedError on a freed graph.

    `gradient` is the seed, as in `output.backward(gradient=v)`: what a non-scalar output starts
    with, so the pass computes the vector-Jacobian product v·J. Without it a non-scalar output is
    seeded with ones (the same as backward on its sum)."""
    graph, live = trace(output, params, output_name)
    leaf_of = {edge.dst: edge.src for edge in graph.edges if edge.kind == "leaf"}
    leaf_tensor = {node_id: fn.variable for node_id, fn in live.items() if hasattr(fn, "variable")}
    arrived: dict[str, tuple] = {}
    before: dict[str, Any] = {}
    events: list[BackwardEvent] = []
    handles = []

    def plain_all(grads):
        return tuple(to_plain(g) for g in grads)

    for node_id, fn in live.items():
        def pre_hook(grad_outputs, node_id=node_id):
            arrived[node_id] = plain_all(grad_outputs)
            if node_id in leaf_tensor:
                before[node_id] = to_plain(leaf_tensor[node_id].grad, summarize=True)

        def post_hook(grad_inputs, grad_outputs, node_id=node_id, fn=fn):
            sent = tuple(
                EdgeGrad(slot, _id_of(live_ids, next_fn), to_plain(grad), _shape(grad))
                for slot, ((next_fn, _), grad) in enumerate(zip(fn.next_functions, grad_inputs))
            )
            is_leaf = node_id in leaf_tensor
            events.append(BackwardEvent(
                step=len(events),
                node=node_id,
                name=graph.node(node_id).name,
                grads_in=arrived.get(node_id, plain_all(grad_outputs)),
                grads_out=sent,
                leaf=leaf_of.get(node_id),
                grad_before=before.get(node_id) if is_leaf else None,
                grad_after=to_plain(leaf_tensor[node_id].grad, summarize=True) if is_leaf else None,
            ))

        handles.append(fn.register_prehook(pre_hook))
        handles.append(fn.register_hook(post_hook))

    live_ids = {fn: node_id for node_id, fn in live.items()}
    leaves = {graph.node(leaf_id).name or leaf_id: leaf_tensor[acc_id] for acc_id, leaf_id in leaf_of.items()}
    grads_before = {name: to_plain(t.grad, summarize=True) for name, t in leaves.items()}
    seed = gradient if gradient is not None else (None if output.dim() == 0 else torch.ones_like(output))
    try:
        output.backward(seed, retain_graph=retain_graph)
    except RuntimeError as error:
        if FREED_GRAPH_WORDS in str(error):
            raise GraphFreedError(str(error)) from None
        raise
    finally:
        for handle in handles:
            handle.remove()
    return BackwardPass(
        graph=graph,
        events=events,
        seed=to_plain(seed if seed is not None else torch.ones_like(output)),
        grads_before=grads_before,
        grads_after={name: to_plain(t.grad, summarize=True) for name, t in leaves.items()},
        retain_graph=retain_graph,
        seed_given=gradient is not None,
    )


def _id_of(live_ids: dict, next_fn) -> str | None:
    return None if next_fn is None else live_ids.get(next_fn)


def _shape(grad) -> tuple[int, ...] | None:
    return None if grad is None else tuple(grad.shape)


@dataclass(frozen=True)
class ChangedOnTheWay:
    """A node received something other than what was sent to it: a hook on the tensor between changed it."""

    node: str  # the node that received it
    sources: tuple[str, ...]  # the nodes that sent to it
    sent: Any  # what they sent, summed
    arrived: Any  # what the node received


def changed_on_the_way(record: BackwardPass) -> list[ChangedOnTheWay]:
    """Nodes whose arriving gradient differs from the sum of what was sent along their edges. A tensor
    hook (h.register_hook) runs between the two, so this is where it acted; without hooks the list is empty."""
    sent: dict[str, list] = {}
    sources: dict[str, list[str]] = {}
    for event in record.events:
        for grad in event.grads_out:
            if grad.to is not None and real_numbers(grad.value):
                sent.setdefault(grad.to, []).append(torch.tensor(grad.value, dtype=torch.float64))
                sources.setdefault(grad.to, []).append(event.node)
    changed = []
    for event in record.events:
        if event.node not in sent or len(event.grads_in) != 1 or not real_numbers(event.grads_in[0]):
            continue
        total = sum(sent[event.node])
        arrived = torch.tensor(event.grads_in[0], dtype=torch.float64)
        if not _summed_to(sent[event.node], total, arrived):
            changed.append(ChangedOnTheWay(event.node, tuple(sources[event.node]), to_plain(total), event.grads_in[0]))
    return changed


def _summed_to(parts: list[torch.Tensor], total: torch.Tensor, arrived: torch.Tensor) -> bool:
    """Whether `arrived` is the engine's sum of `parts`: close to the exact sum, or its float32 sum (a sum
    float32 rounds: 16777216 + 1, or two numbers near 3e38 that overflow to inf). NaN is NaN."""
    if total.shape != arrived.shape:
        return False
    if torch.allclose(total, arrived, rtol=1e-6, atol=0, equal_nan=True):
        return True
    in_float32 = parts[0].float()
    for part in parts[1:]:
        in_float32 = in_float32 + part.float()
    return bool(torch.allclose(in_float32.double(), arrived, rtol=0, atol=0, equal_nan=True))


def hooked_edges(record: BackwardPass) -> dict[tuple[str, str], ChangedOnTheWay]:
    """Each edge (sender, receiver) whose gradient a hook replaced on its way: where the drawing marks it."""
    return {(source, change.node): change for change in changed_on_the_way(record) for source in change.sources}
