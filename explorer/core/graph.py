"""Capture: walk an output tensor's autograd graph into plain data.

The walk follows `grad_fn.next_functions` with an explicit stack (no recursion, so a
5,000-step chain is fine) and numbers the nodes n0, n1, ... in the order it meets them:
the output tensor first, then each backward node followed by the leaf behind it (for an
AccumulateGrad) and the tensors it saved. Ids never depend on `id()`, so the same function
gives the same graph, byte for byte, every time.

Unlike torchviz, a saved tensor is always a node of its own, even when it is the very leaf
tensor it was saved from (x**2 saves x): torchviz draws both as one node and the leaf comes
out as an orange "self" (pytorchviz#69). And every entry of `next_functions` is an edge, so
`x + x` has two edges into AddBackward0, as autograd really has.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterator

import torch

from explorer.errors import ExplorerError
from explorer.values import to_plain

SAVED_PREFIX = "_saved_"

# Node kinds, in the legend's words (see legend.py for their colours).
OUTPUT, OP, ACCUMULATE, LEAF, SAVED = "output", "op", "accumulate", "leaf", "saved"
# The base of an output that is a view (y[1:3] of y), which torchviz's make_dot draws too; only
# make_dot asks for it (trace_outputs(bases=True)), so the app's pictures never hold one.
BASE = "base"
# Edge kinds: an op's input (drawn from the input towards the op, the forward direction),
# a leaf into its AccumulateGrad, the output's grad_fn into the output, an op to a tensor it saved.
INPUT, LEAF_EDGE, OUTPUT_EDGE, SAVED_EDGE = "input", "leaf", "output", "saved"
VIEW_EDGE = "view"  # a base to the output that is a view of it: torchviz's dotted line


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    name: str
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    value: Any = None  # plain numbers for small tensors (values.SMALL_TENSOR_ELEMENTS), else None
    attrs: tuple[tuple[str, str], ...] = ()  # an op's non-tensor saved attributes, as torchviz shows them
    refers_to: str | None = None  # a saved tensor that is a leaf or the output itself: that node's id

    def to_dict(self) -> dict:
        data = asdict(self)
        data["shape"] = list(self.shape) if self.shape is not None else None
        data["attrs"] = dict(self.attrs)
        return data


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    kind: str
    slot: int = 0  # for an input edge: the position in the op's next_functions (its input number)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    output: str
    _by_id: dict[str, Node] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self._by_id = {node.id: node for node in self.nodes}

    def node(self, node_id: str) -> Node:
        return self._by_id[node_id]

    def of_kind(self, kind: str) -> list[Node]:
        return [node for node in self.nodes if node.kind == kind]

    def leaf_named(self, name: str) -> Node:
        for node in self.of_kind(LEAF):
            if node.name == name:
                return node
        raise KeyError(name)

    def accumulator_of(self, leaf_id: str) -> str:
        """The AccumulateGrad node that writes a leaf's .grad."""
        return next(e.dst for e in self.edges if e.kind == LEAF_EDGE and e.src == leaf_id)

    def to_dict(self) -> dict:
        return {
            "output": self.output,
            "nodes": [node.to_dict() for node in self.nodes],
            "edges": [edge.to_dict() for edge in self.edges],
        }


def capture(output: torch.Tensor, params: dict[str, torch.Tensor] | None = None, output_name: str = "f") -> Graph:
    """The autograd graph behind `output`, with leaves named as in `params`."""
    return trace(output, params or {}, output_name)[0]


def trace(output: torch.Tensor, params: dict[str, torch.Tensor], output_name: str) -> tuple[Graph, dict[str, Any]]:
    """Like capture(), and also the live autograd node behind each backward-node id (for hooks)."""
    if not isinstance(output, torch.Tensor):
        raise ExplorerError(f"{output_name} must be a tensor, but it is a {type(output).__name__}.")
    if output.grad_fn is None:
        if output.requires_grad:
            raise ExplorerError(
                f"{output_name} is a leaf tensor itself: autograd recorded no operation, so there is no graph "
                "to draw. Compute something from it, for example x * 1 or x ** 2."
            )
        raise ExplorerError(
            f"{output_name} does not depend on any tensor with requires_grad=True, so autograd recorded "
            "nothing. Create the inputs with requires_grad=True."
        )
    return trace_outputs([output], params, [output_name])


def trace_outputs(outputs, params: dict[str, torch.Tensor], names, bases: bool = False) -> tuple[Graph, dict[str, Any]]:
    """The graph behind several outputs at once (torchviz's make_dot((h, c))), drawn together: their
    backward nodes are shared, and an output that is a leaf of the graph is that leaf's node. An
    output autograd recorded nothing for is a node alone. Graph.output is the first output's node.
    `bases`: an output that is a view gets its base too, with the base's own graph, as torchviz draws it."""
    names_by_tensor = {id(t): name for name, t in params.items()}
    views = [out for out in outputs if bases and out._is_view() and out._base is not None]
    base_of = {id(view): view._base for view in views}
    roots = []
    for out in outputs:  # torchviz's order: an output's graph, then its base's
        roots += [tensor.grad_fn for tensor in (out, base_of.get(id(out))) if tensor is not None and tensor.grad_fn is not None]
    order = list(_depth_first(roots))
    reached_leaves = {id(fn.variable) for fn in order if hasattr(fn, "variable")}
    builder = _Builder()
    output_ids = {id(out): builder.add(OUTPUT, name, out) for out, name in zip(outputs, names)
                  if id(out) not in reached_leaves}
    live: dict[str, Any] = {}
    fn_ids: dict[Any, str] = {}
    for fn in order:
        fn_id = builder.add(ACCUMULATE if hasattr(fn, "variable") else OP, type(fn).__name__, None,
                            attrs=_attrs_of(fn))
        fn_ids[fn] = fn_id
        live[fn_id] = fn
        if hasattr(fn, "variable"):
            leaf = fn.variable
            leaf_id = builder.add(LEAF, names_by_tensor.get(id(leaf), ""), leaf)
            builder.edge(leaf_id, fn_id, LEAF_EDGE)
            builder.leaf_ids[id(leaf)] = leaf_id
        for attr_name, tensor in _saved_tensors(fn):
            saved_id = builder.add(SAVED, attr_name, tensor)
            builder.edge(fn_id, saved_id, SAVED_EDGE)
            builder.saved.append((saved_id, tensor))
    for fn in order:
        for slot, (next_fn, _output_nr) in enumerate(fn.next_functions):
            if next_fn is not None:
                builder.edge(fn_ids[next_fn], fn_ids[fn], INPUT, slot)
    for out in outputs:
        if out.grad_fn is not None:
            builder.edge(fn_ids[out.grad_fn], output_ids[id(out)], OUTPUT_EDGE)
    for view in views:
        base = view._base
        base_id = output_ids.get(id(base)) or builder.leaf_ids.get(id(base))  # drawn already: torchviz's one node
        if base_id is None:
            base_id = output_ids[id(base)] = builder.add(BASE, names_by_tensor.get(id(base), "base"), base)
            if base.grad_fn is not None:
                builder.edge(fn_ids[base.grad_fn], base_id, OUTPUT_EDGE)
        builder.edge(base_id, output_ids.get(id(view)) or builder.leaf_ids[id(view)], VIEW_EDGE)
    builder.link_saved(output_ids)
    first = outputs[0]
    return Graph(builder.nodes, builder.edges, output_ids.get(id(first)) or builder.leaf_ids[id(first)]), live


def _depth_first(roots) -> Iterator[Any]:
    """Backward nodes in depth-first preorder from each root in turn, as torchviz's recursion meets them."""
    seen = set()
    for root in roots:
        yield from _depth_first_from(root, seen)


def _depth_first_from(root, seen: set) -> Iterator[Any]:
    stack = [root]
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        yield fn
        stack.extend(next_fn for next_fn, _ in reversed(fn.next_functions) if next_fn is not None)


def _saved_attributes(fn) -> Iterator[tuple[str, Any]]:
    for attr in dir(fn):
        if attr.startswith(SAVED_PREFIX):
            try:
                value = getattr(fn, attr)
            except RuntimeError as error:  # the graph is still drawable, saying why the value is missing
                # PyTorch refuses a saved tensor freed by an earlier backward, or one changed in place since
                value = "[changed in place]" if "inplace operation" in str(error) else "[freed]"
            yield attr[len(SAVED_PREFIX):], value


def _attrs_of(fn) -> tuple[tuple[str, str], ...]:
    attrs = []
    for name, value in _saved_attributes(fn):
        if torch.is_tensor(value):
            continue
        if isinstance(value, tuple) and any(torch.is_tensor(v) for v in value):
            continue
        attrs.append((name, str(value)))
    return tuple(attrs)


def _saved_tensors(fn) -> Iterator[tuple[str, torch.Tensor]]:
    for name, value in _saved_attributes(fn):
        if torch.is_tensor(value):
            yield name, value
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if torch.is_tensor(item):
                    yield f"{name}[{i}]", item
    yield from _context_saved_tensors(fn)


def _context_saved_tensors(fn) -> Iterator[tuple[str, torch.Tensor]]:
    """What a custom autograd.Function saved with ctx.save_for_backward: its node has no `_saved_`
    attributes, only `saved_tensors` (torchviz reads it too), which PyTorch refuses once freed."""
    if not isinstance(fn, torch.autograd.function.BackwardCFunction):
        return
    try:
        saved = fn.saved_tensors
    except RuntimeError:  # freed by an earlier backward: the node is still drawn, without them
        return
    for i, item in enumerate(saved):
        if torch.is_tensor(item):
            yield f"saved_tensors[{i}]", item


class _Builder:
    def __init__(self):
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.leaf_ids: dict[int, str] = {}
        self.saved: list[tuple[str, torch.Tensor]] = []

    def add(self, kind: str, name: str, tensor: torch.Tensor | None, attrs=()) -> str:
        node_id = f"n{len(self.nodes)}"
        shape = dtype = value = None
        if tensor is not None:
            shape, dtype, value = tuple(tensor.shape), str(tensor.dtype).removeprefix("torch."), to_plain(tensor)
        self.nodes.append(Node(node_id, kind, name, shape, dtype, value, tuple(attrs)))
        return node_id

    def edge(self, src: str, dst: str, kind: str, slot: int = 0) -> None:
        self.edges.append(Edge(src, dst, kind, slot))

    def link_saved(self, output_ids: dict[int, str]) -> None:
        """Mark saved tensors that are a leaf (or an output) itself, so views can say `self is x`."""
        targets = {**self.leaf_ids, **output_ids}
        for saved_id, tensor in self.saved:
            target = targets.get(id(tensor))
            if target is not None:
                index = int(saved_id[1:])
                self.nodes[index] = replace(self.nodes[index], refers_to=target)
