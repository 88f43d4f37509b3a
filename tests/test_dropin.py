"""explorer.make_dot is torchviz's make_dot, drop-in: same call, a graphviz.Digraph back, and the same
nodes and edges as torchviz's own output on torchviz's examples (an MLP with named parameters, an
LSTMCell's (h, c), double backprop), compared node for node through the objects behind them."""

from __future__ import annotations

import re
from collections import Counter

import graphviz
import pytest
import torch
import torchviz
from torch import nn

import explorer
from explorer.core.graph import ACCUMULATE, BASE, LEAF, LEAF_EDGE, OP, OUTPUT, SAVED, trace_outputs
from explorer.errors import ExplorerError


def mlp():
    """torchviz's README example."""
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("W0", nn.Linear(8, 16))
    model.add_module("tanh", nn.Tanh())
    model.add_module("W1", nn.Linear(16, 1))
    y = model(torch.randn(1, 8))
    return y.mean(), dict(model.named_parameters())


def lstm_cell():
    """A tuple of outputs: an LSTMCell's (h, c), drawn together."""
    torch.manual_seed(0)
    cell = nn.LSTMCell(3, 4)
    h, c = cell(torch.randn(2, 3))
    return (h, c), dict(cell.named_parameters())


def double_backprop():
    """A gradient built with create_graph=True, drawn with the leaf and the output it came from."""
    x = torch.tensor([1.5], requires_grad=True)
    y = x * x * x
    dy_dx, = torch.autograd.grad(y, x, create_graph=True)
    return (dy_dx, x, y), {"x": x}


def slice_of_a_product():
    """An output that is a view of a computed tensor: torchviz draws the base, its graph, a dotted line."""
    w = torch.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True)
    return (w * 2)[1:3], {"w": w}


def transpose_of_a_leaf():
    """A view of a leaf: the base is the leaf's own node, tied to the output by the dotted line."""
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    return x.t(), {"x": x}


def a_view_and_its_base():
    """Both drawn as outputs: the base is one node, the output it is."""
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    return (y, y[0]), {"x": x}


EXAMPLES = {"mlp": mlp, "lstm-cell": lstm_cell, "double-backprop": double_backprop,
            "slice-of-a-product": slice_of_a_product, "transpose-of-a-leaf": transpose_of_a_leaf,
            "a-view-and-its-base": a_view_and_its_base}


def torchviz_sets(digraph: graphviz.Digraph):
    """torchviz's nodes ({id: first label line}) and edges (a multiset of (src, dst)), its ids being id()s."""
    source = digraph.source
    nodes = {match[1]: match[2] for match in re.finditer(r'(?m)^\t(\d+) \[label="?([^"\n\]]*)', source)}
    edges = Counter(re.findall(r"(?m)^\t(\d+) -> (\d+)", source))
    return nodes, edges


def explorer_sets(digraph: graphviz.Digraph, var, params):
    """The explorer's nodes and edges in torchviz's terms: each node as the id() of the object behind it
    (the same trace gives the same n0, n1, ... ids), each arrow back in torchviz's (forward) direction."""
    outputs = list(var) if isinstance(var, tuple) else [var]
    graph, live = trace_outputs(outputs, params, ["output"] * len(outputs), bases=True)
    accumulator_of = {edge.src: edge.dst for edge in graph.edges if edge.kind == LEAF_EDGE}
    outputs_left = iter(out for out in outputs if all(out is not live[fn].variable
                                                     for fn in accumulator_of.values()))
    drawn_already = {id(out) for out in outputs} | {id(live[fn].variable) for fn in accumulator_of.values()}
    bases_left = iter(out._base for out in outputs if out._is_view() and id(out._base) not in drawn_already)
    behind = {}
    for node in graph.nodes:
        if node.kind in (OP, ACCUMULATE):
            behind[node.id] = str(id(live[node.id]))
        elif node.kind == LEAF:
            behind[node.id] = str(id(live[accumulator_of[node.id]].variable))
        elif node.kind == OUTPUT:
            behind[node.id] = str(id(next(outputs_left)))
        elif node.kind == BASE:  # the bases are added after every output, in the outputs' order
            behind[node.id] = str(id(next(bases_left)))
    source = digraph.source
    drawn = set(re.findall(r"(?m)^  (n\d+) \[", source))
    edges = Counter()
    for src, dst, kind in re.findall(r'(?m)^  (n\d+)(?:r\d+)? -> (n\d+)(?:r\d+)? \[.*class="edge-(\w+)"', source):
        # A saved tensor torchviz names by the id() of a tensor unpacked for it: ours keeps its own id.
        src, dst = behind.get(src, src), behind.get(dst, dst)
        edges[(src, dst) if kind == "saved" else (dst, src)] += 1
    names = {behind.get(node.id, node.id): node.name for node in graph.nodes if node.id in drawn}
    return names, edges, graph


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_same_nodes_and_edges_as_torchviz(example):
    var, params = EXAMPLES[example]()
    ours = explorer.make_dot(var, params=params)
    assert isinstance(ours, graphviz.Digraph)
    names, edges, _ = explorer_sets(ours, var, params)
    their_nodes, their_edges = torchviz_sets(torchviz.make_dot(var, params=params))
    assert set(names) == set(their_nodes)
    assert edges == their_edges
    # Leaves carry the same names; torchviz leaves outputs unnamed (pytorchviz#58), the explorer labels them.
    for node_id, label in their_nodes.items():
        if label.strip() and not label.endswith("Backward0") and label != "AccumulateGrad":
            assert names[node_id] == label.strip(), label
    assert all(names[node_id] for node_id in their_nodes)


def test_the_text_is_stable_and_renders():
    first, second = (explorer.make_dot(*mlp()) for _ in range(2))
    assert first.source == second.source  # ids n0, n1, ...: not id()s, so the same model is the same text
    svg = first.pipe(format="svg").decode()
    assert svg.count('class="node') == len(re.findall(r"(?m)^  n\d+ \[", first.source))
    assert "W0.weight" in svg and "AddmmBackward0" in svg


def test_show_saved_draws_each_saved_tensor_apart_from_the_leaf():
    x = torch.tensor(3.0, requires_grad=True)
    f = x ** 2  # PowBackward0 saves x itself: torchviz draws the leaf and the saved tensor as one node
    ours = explorer.make_dot(f, params={"x": x}, show_saved=True)
    _, _, graph = explorer_sets(ours, f, {"x": x})
    saved = graph.of_kind(SAVED)
    assert [node.name for node in saved] == ["self"] and saved[0].refers_to == graph.leaf_named("x").id
    assert f'{saved[0].id} [' in ours.source and 'class="edge-saved"' in ours.source
    their_nodes, _ = torchviz_sets(torchviz.make_dot(f, params={"x": x}, show_saved=True))
    assert len(their_nodes) == len(re.findall(r"(?m)^  n\d+ \[", ours.source)) - 1  # the merged node
    plain = explorer.make_dot(f, params={"x": x})
    assert "kind-saved" not in plain.source and "edge-saved" not in plain.source


def test_show_attrs_adds_the_attributes_cut_to_max_attr_chars():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    f = x.sum(dim=0, keepdim=True)
    assert "keepdim" not in explorer.make_dot(f).source
    assert "keepdim: True" in explorer.make_dot(f, show_attrs=True).source
    long = explorer.make_dot(x.reshape(3, 1).expand(3, 1000).sum(), show_attrs=True, max_attr_chars=6)
    assert "self_sym_sizes: (3,..." in long.source and "(3, 1000)" not in long.source


def test_make_dot_from_trace_says_what_torchvizs_says():
    with pytest.raises(NotImplementedError) as ours:
        explorer.make_dot_from_trace(None)
    with pytest.raises(NotImplementedError) as theirs:
        torchviz.make_dot_from_trace(None)
    assert str(ours.value) == str(theirs.value)


def test_bad_input_is_one_line():
    with pytest.raises(ExplorerError, match="make_dot draws tensors, but it was given a float"):
        explorer.make_dot(1.0)
    with pytest.raises(ExplorerError, match=r"\(item 1\)"):
        explorer.make_dot((torch.ones(1, requires_grad=True) * 2, "h"))
    with pytest.raises(ExplorerError, match="'w' is a int"):
        explorer.make_dot(torch.ones(1, requires_grad=True) * 2, params={"w": 3})


def test_a_views_base_is_torchvizs_darker_green_tied_by_a_dotted_line():
    var, params = slice_of_a_product()
    source = explorer.make_dot(var, params=params).source
    base = re.search(r'(?m)^  (n\d+) \[id="\1" label="base\\n\(4\)\\n= \[2, -4, 6, 1\]" fillcolor="#a2cd5a"', source)
    assert base, source  # w * 2 at w = [1, -2, 3, 0.5], as PyTorch computed it
    assert re.search(rf'(?m)^  n0 -> {base[1]} \[.*class="edge-view" dir="none" style="dotted"\]', source)
