"""The node inspector's data (explorer/play/inspect.py): its tables cover every name the lessons
and playground expressions produce, shapes read as words, and every number is the recorded one,
held against torch.autograd.grad where a gradient is shown."""

from __future__ import annotations

import math

import pytest
import torch

from explorer.core.calls import run_calls
from explorer.core.graph import ACCUMULATE, LEAF, OP, SAVED
from explorer.functions.expr import parse_expression
from explorer.functions.lessons import all_lessons
from explorer.play.frames import build_animation
from explorer.play.inspect import GENERIC_OP, NAMES, meaning_of, op_text, shape_words
from explorer.values import format_number

# Playground expressions and their leaves' values (vectors where the expression reduces one).
EXPRESSIONS = {
    "sin(x) * exp(-y)": {"x": 0.7, "y": 1.2},
    "tanh(w*x + b)": {"w": 0.5, "x": 2.0, "b": 0.1},
    "sum(v * v)": {"v": [1.0, 2.0, 3.0]},
    "x/y - x": {"x": 1.5, "y": 4.0},
    "relu(x) + sigmoid(y)": {"x": 1.0, "y": -0.5},
    "mean(v) * x": {"v": [1.0, 2.0, 3.0], "x": 2.0},
    "log(x) ** 2": {"x": 2.5},
    "cos(x) / x": {"x": 0.9},
}


def sessions():
    for lesson in all_lessons():
        yield lesson.id, lesson.fn, run_calls(lesson.fn, lesson.defaults, 1, output_name=lesson.output_name)
    for text, values in EXPRESSIONS.items():
        fn = parse_expression(text).build
        yield text, fn, run_calls(fn, values, 1)


SESSIONS = list(sessions())
IDS = [name for name, _, _ in SESSIONS]


def test_the_table_explains_every_saved_tensor_and_attribute_the_lessons_and_expressions_make():
    missing = set()
    for name, _, session in SESSIONS:
        for node in session.passes[-1].graph.nodes:
            names = [node.name] if node.kind == SAVED else [key for key, _ in node.attrs]
            missing |= {f"{n} ({name})" for n in names if meaning_of(n) is None}
    assert not missing, f"add these to inspect.NAMES: {sorted(missing)}"
    assert meaning_of("indices[1]") == NAMES["indices"]  # a tuple's items read as the tuple


def test_every_op_they_make_has_its_own_words_and_formula():
    generic = {node.name for _, _, session in SESSIONS for node in session.passes[-1].graph.of_kind(OP)
               if op_text(node.name) is GENERIC_OP}
    assert not generic, f"add these to inspect.OPS: {sorted(generic)}"
    assert op_text("SomethingNewBackward0") is GENERIC_OP


@pytest.mark.parametrize("shape, words", [
    ((), "scalar"), ((3,), "vector of 3"), ((3, 4), "3 x 4 matrix"), ((2, 3, 4), "tensor of shape (2, 3, 4)"),
    ((1,), "vector of 1"), (None, None),
])
def test_shape_in_words(shape, words):
    assert shape_words(shape) == words


@pytest.mark.parametrize("name, fn, session", SESSIONS, ids=IDS)
def test_numbers_are_the_recorded_pass_and_pytorchs(name, fn, session):
    record = session.passes[-1]
    info = build_animation(session).to_dict()["inspect"]
    graph = record.graph
    assert set(info) == {node.id for node in graph.nodes}  # nothing folded in these small graphs
    for event in record.events:
        node = info[event.node]
        run = next(r for r in node["runs"] if r["arrived"] == format_number(
            event.grads_in[0] if len(event.grads_in) == 1 else list(event.grads_in)))
        assert [left["text"] for left in run["left"]] == [format_number(s.value) for s in event.grads_out if s.to]
        if graph.node(event.node).kind == OP:
            locals_ = [d["local"] for d in node["derivatives"]]
            assert locals_ == list(event.local_derivative or [None] * len(locals_))
            for row, sent in zip(node["derivatives"], event.grads_out):
                if row["local"] is not None:  # shown "at these values": arrived × local is what left
                    assert math.isclose(event.grads_in[0] * row["local"], sent.value, rel_tol=1e-6, abs_tol=1e-12)
                    assert format_number(row["local"]) in row["at"]
    # .grad as shown at the leaf and its AccumulateGrad is PyTorch's own gradient.
    leaves = {n: torch.tensor(v, dtype=torch.float32, requires_grad=True) for n, v in session.values.items()}
    output = fn(**leaves)
    names = list(leaves)
    grads = torch.autograd.grad(output.sum(), [leaves[n] for n in names], allow_unused=True)
    checked = 0
    for leaf_name, grad in zip(names, grads):
        if grad is None:
            continue
        checked += 1
        leaf = graph.leaf_named(leaf_name)
        for node_id in (leaf.id, graph.accumulator_of(leaf.id)):
            shown = info[node_id]["runs"][-1]
            assert torch.allclose(torch.as_tensor(shown["grad_after_value"], dtype=torch.float64),
                                  grad.double(), rtol=1e-6, atol=1e-9), (name, leaf_name)
            assert shown["grad_after"] == format_number(shown["grad_after_value"])
    assert checked, "no leaf's gradient was held against PyTorch"


def test_each_kind_says_what_it_is():
    _, _, session = next(s for s in SESSIONS if s[0] == "log(x) ** 2")
    info = build_animation(session).to_dict()["inspect"]
    graph = session.passes[-1].graph
    by_kind = {graph.node(i).kind: v for i, v in info.items()}
    assert by_kind[LEAF]["what"].startswith("A leaf tensor: x")
    assert by_kind[LEAF]["shape_words"] == "scalar" and by_kind[LEAF]["dtype"] == "float32"
    assert "x.grad" in by_kind[ACCUMULATE]["what"]
    assert by_kind[SAVED]["meaning"] in NAMES.values()
    assert by_kind["output"]["runs"][0]["frame"] == 0
    pow_info = next(v for v in info.values() if v["name"] == "PowBackward0")
    assert pow_info["derivatives"][0]["formula"] == "d(u^2)/du = 2·input"  # its base is log(x), not a leaf
