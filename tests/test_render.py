"""Rendering: stable DOT in the legend's colours, SVG through dot, and parity with torchviz."""

import html
import re
import xml.etree.ElementTree as ET

import pytest
import torch

from explorer.core.backward import record_backward
from explorer.core.graph import ACCUMULATE, INPUT, LEAF_EDGE, OP, SAVED_EDGE, trace
from explorer.drawing.legend import LIGHT
from explorer.functions.lessons import all_lessons, get_lesson
from explorer.drawing.render import to_dot, to_svg
from explorer.drawing.torchviz_view import torchviz_dot
from svg_geometry import node_boxes, pointed_at


def built(lesson, **overrides):
    params = {n: torch.tensor(v, requires_grad=True) for n, v in {**lesson.defaults, **overrides}.items()}
    return params, lesson.fn(**params)


def test_dot_uses_the_legend_colours_and_is_stable():
    lesson = get_lesson("requires-grad")
    dots = []
    for _ in range(2):
        params, output = built(lesson)
        graph, _ = trace(output, params, "f")
        dots.append(to_dot(graph))
    assert dots[0] == dots[1]
    assert f'fillcolor="{LIGHT.leaf}"' in dots[0] and f'fillcolor="{LIGHT.saved}"' in dots[0]
    assert f'fillcolor="{LIGHT.output}"' in dots[0] and f'fillcolor="{LIGHT.op}"' in dots[0]


def test_svg_shows_values_and_gradients_after_backward():
    params, output = built(get_lesson("requires-grad"))
    record = record_backward(output, params)
    svg = to_svg(to_dot(record.graph, record))
    root = ET.fromstring(svg.encode())  # parses as XML
    texts = [html.unescape(t.text or "") for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "grad = 6" in texts and "= 9" in texts and "(is x)" in texts
    assert " 6" in texts  # the gradient written on the edge PowBackward0 -> AccumulateGrad
    ids = {g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g")}
    assert {n.id for n in record.graph.nodes} <= ids


def test_svg_tracks_accumulated_grad_per_call():
    lesson = get_lesson("accumulation")
    params = {"w": torch.tensor(1.0, requires_grad=True)}
    for expected in ("-2", "-4", "-6"):
        record = record_backward(lesson.fn(**params), params)
        assert f"grad = {expected}" in html.unescape(to_svg(to_dot(record.graph, record)))


def parse_torchviz(dot_text):
    """torchviz DOT -> ({node id: [labels, in order written]}, [(src, dst)]) for its nodes and edges.

    A node declared twice keeps every label; in DOT the last one written is the one drawn.
    """
    labels = {}
    for match in re.finditer(r'^\s*(\d+) \[label=(?:"([^"]*)"|([^\s\]]+))', dot_text, re.M):
        labels.setdefault(match.group(1), []).append((match.group(2) or match.group(3)).split("\n")[0])
    edges = re.findall(r"^\s*(\d+) -> (\d+)(.*)$", dot_text, re.M)
    return labels, [(a, b) for a, b, rest in edges if "dir=none" not in rest]


@pytest.mark.parametrize("lesson", all_lessons(), ids=lambda l: l.id)
def test_same_backward_ops_and_edges_as_torchviz(lesson):
    params, output = built(lesson)
    graph, live = trace(output, params, "f")
    labels, edges = parse_torchviz(torchviz_dot(output, params))
    ours_by_pyid = {str(id(fn)): node_id for node_id, fn in live.items()}
    # Every backward node torchviz draws is one of ours, with the same name.
    torchviz_fns = {pyid: label for pyid, label in labels.items() if pyid in ours_by_pyid}
    assert len(torchviz_fns) == len([n for n in graph.nodes if n.kind in (OP, ACCUMULATE)])
    for pyid, label in torchviz_fns.items():
        assert [graph.node(ours_by_pyid[pyid]).name] == label
    # The same edges between backward nodes, counted with multiplicity.
    theirs = sorted((ours_by_pyid[a], ours_by_pyid[b]) for a, b in edges if a in ours_by_pyid and b in ours_by_pyid)
    ours = sorted((e.src, e.dst) for e in graph.edges if e.kind == INPUT)
    assert theirs == ours


def test_torchviz_merges_the_saved_leaf_and_we_do_not():
    """The bug we fix (pytorchviz#69): torchviz declares leaf x and the saved `self` as one node;
    in exercise 2 the saved label is written last, so x is drawn as `self`."""
    params, output = built(get_lesson("exercise-2"))
    labels, _ = parse_torchviz(torchviz_dot(output, params))
    x_labels = labels[str(id(params["x"]))]
    assert "x" in x_labels and x_labels[-1] == "self"
    graph, _ = trace(output, params, "f")
    x = graph.leaf_named("x")
    saved_x = [n for n in graph.of_kind("saved") if n.refers_to == x.id]
    assert x.kind == "leaf" and len(saved_x) == 2 and all(n.id != x.id for n in saved_x)


def test_repeated_edge_drawn_twice():
    x = torch.tensor(2.0, requires_grad=True)
    graph, _ = trace(x + x, {"x": x}, "f")
    dot = to_dot(graph)
    acc = graph.of_kind(ACCUMULATE)[0].id
    add = graph.of_kind(OP)[0].id
    assert dot.count(f"{add} -> {acc} ") == 2  # drawn the way the gradient goes: the op sends it twice
    assert len([e for e in graph.edges if e.kind == LEAF_EDGE]) == 1


def test_stable_torchviz_ids_give_the_same_text_and_the_same_picture():
    lesson = get_lesson("exercise-2")
    texts = []
    for _ in range(2):
        params, output = built(lesson)
        texts.append(torchviz_dot(output, params, stable_ids=True))
    assert texts[0] == texts[1]
    params, output = built(lesson)
    raw = torchviz_dot(output, params)
    # same node declarations and edges, only renamed
    assert texts[0].count("[label=") == raw.count("[label=") and texts[0].count(" -> ") == raw.count(" -> ")
    assert "t0" in texts[0] and not re.search(r"\b\d{6,}\b", texts[0])


@pytest.mark.parametrize("lesson", all_lessons(), ids=lambda lesson: lesson.id)
def test_every_arrow_points_where_the_gradient_goes(lesson):
    """The seed goes from f into its grad_fn, each op sends to its inputs' nodes, AccumulateGrad writes
    the leaf: each arrowhead touches the node receiving the gradient; saved tensors' lines have none."""
    params, output = built(lesson)
    record = record_backward(output, params)
    graph = record.graph
    pointed = pointed_at(to_svg(to_dot(graph, record)))
    for index, edge in enumerate(graph.edges):
        receiver = None if edge.kind == SAVED_EDGE else edge.src  # a Graph's edge points the forward way
        assert pointed[f"e{index}"] == receiver, (lesson.id, edge)
    output_node = graph.node(graph.output)
    top = min(node_boxes(to_svg(to_dot(graph, record))).items(), key=lambda item: item[1][1])[0]
    assert top == output_node.id  # the output is drawn at the top, where the gradient starts
