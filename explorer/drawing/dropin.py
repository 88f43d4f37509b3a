"""torchviz's API, drop-in: `from explorer import make_dot` in place of `from torchviz import make_dot`.

Same signature, same return type (a graphviz.Digraph, so `.source`, `.render(...)`, `.pipe()` and
Jupyter's display work as before), the same nodes and edges as torchviz draws for the same call
(tests/test_dropin.py compares them on torchviz's own examples), drawn the explorer's way:

- leaves named from `params`, outputs labelled (their name in `params`, else `output`, `output[1]`, ...);
- ids n0, n1, ... in torchviz's order of meeting the nodes, so the same model gives the same text;
- with show_saved=True, a saved tensor is a node of its own even when it is the leaf it was saved
  from (torchviz draws the two as one node, pytorchviz#69), linked to the op by a dashed line;
- no recursion (the walk is a loop: torchviz's RecursionError at about 330 steps of three ops does
  not happen), and a leaf feeding many ops is drawn once plus a small copy at each further use,
  which dot lays out in milliseconds rather than minutes;
- arrows point the way the gradient travels (the output at the top), as in every explorer picture;
- an output that is a view (y[1:3], x.t()) is tied to its base by a dotted line, the base drawn in
  torchviz's darker green with its own graph, as torchviz draws it.
"""

from __future__ import annotations

from dataclasses import replace

import graphviz
import torch

from explorer.core.graph import SAVED, SAVED_EDGE, Graph, trace_outputs
from explorer.drawing.render import to_dot
from explorer.errors import ExplorerError


def make_dot(var, params=None, show_attrs=False, show_saved=False, max_attr_chars=50) -> graphviz.Digraph:
    """The autograd graph behind `var` (a tensor, or a tuple or list of them drawn together) as a
    graphviz.Digraph. `params` names tensors ({"W0.weight": ...}); `show_attrs` adds each backward
    node's non-tensor attributes (cut to `max_attr_chars`); `show_saved` adds the tensors it saved."""
    outputs = list(var) if isinstance(var, (tuple, list)) else [var]
    if not outputs:
        raise ExplorerError("make_dot needs a tensor, or a tuple of tensors, not an empty sequence.")
    for index, output in enumerate(outputs):
        if not isinstance(output, torch.Tensor):
            where = "" if len(outputs) == 1 and not isinstance(var, (tuple, list)) else f" (item {index})"
            raise ExplorerError(f"make_dot draws tensors, but it was given a {type(output).__name__}{where}.")
    params = dict(params or {})
    for name, tensor in params.items():
        if not isinstance(tensor, torch.Tensor):
            raise ExplorerError(f"params maps names to tensors, but {name!r} is a {type(tensor).__name__}.")
    graph, _ = trace_outputs(outputs, params, _output_names(outputs, params, isinstance(var, (tuple, list))),
                             bases=True)
    graph = _shown(graph, show_attrs, show_saved, max(int(max_attr_chars), 3))
    return _digraph(to_dot(graph))


def make_dot_from_trace(trace):
    """As torchviz 0.0.3 has it: moved to PyTorch itself, so it says where (the same error, by design)."""
    raise NotImplementedError("This function has been moved to pytorch core and "
                              "can be found here: https://pytorch.org/docs/stable/tensorboard.html")


def _output_names(outputs, params: dict, several: bool) -> list[str]:
    """Each output's label: its name in params, else output (or output[i] for one of several)."""
    named = {id(tensor): name for name, tensor in params.items()}
    return [named.get(id(output), f"output[{index}]" if several else "output") for index, output in enumerate(outputs)]


def _shown(graph: Graph, show_attrs: bool, show_saved: bool, max_attr_chars: int) -> Graph:
    """The graph as torchviz's flags show it: saved tensors only with show_saved, attributes only with show_attrs."""
    nodes = [node for node in graph.nodes if show_saved or node.kind != SAVED]
    edges = [edge for edge in graph.edges if show_saved or edge.kind != SAVED_EDGE]
    nodes = [replace(node, attrs=tuple((key, _cut(value, max_attr_chars)) for key, value in node.attrs)
                     if show_attrs else ()) for node in nodes]
    return Graph(nodes, edges, graph.output)


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most - 3] + "..."


def _digraph(dot_text: str) -> graphviz.Digraph:
    """A graphviz.Digraph whose source is exactly `dot_text` (to_dot's statements become its body)."""
    lines = dot_text.rstrip("\n").split("\n")
    header, statements = lines[0], lines[1:-1]
    assert header.startswith("digraph ") and lines[-1] == "}", "to_dot writes one digraph"
    digraph = graphviz.Digraph(name=header.split()[1])
    digraph.body.extend(statement + "\n" for statement in statements)
    return digraph
