"""Capture: kinds, names, stable ids, kept edges, separate saved tensors, no recursion limit."""

import torch

from explorer.core.graph import ACCUMULATE, INPUT, LEAF, OP, OUTPUT, SAVED, capture
from explorer.functions.lessons import get_lesson


def leaves(**values):
    return {name: torch.tensor(v, requires_grad=True) for name, v in values.items()}


def test_square_has_every_kind_with_names_shapes_and_values():
    p = leaves(x=3.0)
    graph = capture(p["x"] ** 2, p, "f")
    kinds = [node.kind for node in graph.nodes]
    assert kinds == [OUTPUT, OP, SAVED, ACCUMULATE, LEAF]
    assert [node.id for node in graph.nodes] == ["n0", "n1", "n2", "n3", "n4"]
    output, power, saved, accumulate, leaf = graph.nodes
    assert (output.name, output.value, output.shape, output.dtype) == ("f", 9.0, (), "float32")
    assert power.name == "PowBackward0" and dict(power.attrs) == {"exponent": "2"}
    assert accumulate.name == "AccumulateGrad"
    assert (leaf.name, leaf.value) == ("x", 3.0)
    assert graph.output == "n0"


def test_saved_leaf_is_its_own_node_not_merged_with_the_leaf():
    # torchviz draws x and the saved `self` as one node (pytorchviz#69); we keep two and link them.
    p = leaves(x=3.0)
    graph = capture(p["x"] ** 2, p)
    saved = graph.of_kind(SAVED)
    leaf = graph.leaf_named("x")
    assert len(saved) == 1 and saved[0].name == "self"
    assert saved[0].id != leaf.id
    assert saved[0].refers_to == leaf.id
    assert leaf.kind == LEAF and leaf.name == "x"


def test_repeated_input_keeps_both_edges():
    p = leaves(x=2.0)
    graph = capture(p["x"] + p["x"], p)
    add = graph.of_kind(OP)[0]
    into_add = [e for e in graph.edges if e.dst == add.id and e.kind == INPUT]
    assert add.name == "AddBackward0"
    assert len(into_add) == 2
    assert sorted(e.slot for e in into_add) == [0, 1]
    assert {e.src for e in into_add} == {graph.of_kind(ACCUMULATE)[0].id}


def test_ids_are_stable_across_runs():
    lesson = get_lesson("exercise-2")
    first = [capture(lesson.fn(**p), p).to_dict() for p in [leaves(**lesson.defaults) for _ in range(2)]]
    assert first[0] == first[1]


def test_constant_inputs_are_not_edges():
    p = leaves(z=5.0)
    graph = capture(3 * p["z"] ** 2 + 4 * p["z"], p)
    # 3 * z**2 + 4 * z: Add, two Mul, one Pow: every input edge comes from a node in the graph
    ops = sorted(node.name for node in graph.of_kind(OP))
    assert ops == ["AddBackward0", "MulBackward0", "MulBackward0", "PowBackward0"]
    node_ids = {node.id for node in graph.nodes}
    assert all(e.src in node_ids and e.dst in node_ids for e in graph.edges)
    # z feeds both terms: its AccumulateGrad has two outgoing input edges
    acc = graph.of_kind(ACCUMULATE)[0].id
    assert len([e for e in graph.edges if e.src == acc and e.kind == INPUT]) == 2


def test_five_thousand_step_chain_without_recursion_error():
    p = leaves(x=0.5)
    h = p["x"]
    for _ in range(5000):
        h = h * 1.0001
    graph = capture(h, p)
    assert len(graph.of_kind(OP)) == 5000
    assert len(graph.of_kind(LEAF)) == 1
    assert graph.nodes[-1].kind in (SAVED, LEAF)


def test_big_tensors_keep_shape_but_not_values():
    w = torch.randn(20, 20, requires_grad=True)
    graph = capture((w * 2).sum(), {"w": w})
    leaf = graph.leaf_named("w")
    assert leaf.shape == (20, 20) and leaf.value is None


def test_output_without_graph_is_a_clear_error():
    import pytest

    from explorer.errors import ExplorerError

    with pytest.raises(ExplorerError, match="requires_grad"):
        capture(torch.tensor(2.0) * 3, {})
    x = torch.tensor(1.0, requires_grad=True)
    with pytest.raises(ExplorerError, match="leaf tensor itself"):
        capture(x, {"x": x})
