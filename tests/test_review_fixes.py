"""Regression tests for problems a review found: each names what used to go wrong."""

import json
import time

import pytest
import torch

from support import metric, open_app
from explorer.core.backward import record_backward
from explorer.core.calls import run_calls
from explorer.errors import BadValueError
from explorer.functions.expr import URL_PARAMETERS, ExpressionError, parse_expression
from explorer.play.predict import judge
from explorer.ui.state import STATE_PARAMS
from explorer.values import parse_number


def test_a_guess_on_a_function_with_32_paths_is_judged_quickly():
    text = "x"
    for _ in range(5):  # a balanced sum of 32 x's: 32 paths from f to x, so 2**32 subsets to try
        text = f"({text}+{text})"
    expression = parse_expression(text)
    session = run_calls(expression.build, {"x": 1.0}, 1)
    start = time.perf_counter()
    verdict = judge(0.5, "x", session.passes[0])
    assert time.perf_counter() - start < 1.0
    assert not verdict.correct and verdict.autograd == 32.0


def test_nothing_agrees_with_an_infinite_gradient():
    session = run_calls(parse_expression("sqrt(x)").build, {"x": 0.0}, 1)
    assert session.grads()["x"] == float("inf")
    assert not judge(12345.0, "x", session.passes[0]).correct


@pytest.mark.parametrize("step", ["²", "9" * 5000, "-1", "abc"])
def test_odd_step_in_a_link_does_not_break_the_page(step):
    at = open_app("pages/1_Gradients.py", {"step": step, "ops": "b"})
    assert not at.exception
    assert metric(at, "x.grad") == "6"


def test_url_words_cannot_be_variables():
    assert STATE_PARAMS <= URL_PARAMETERS
    for name in ("embed", "ops", "expr", "step", "present"):
        with pytest.raises(ExpressionError, match="keeps for itself"):
            parse_expression(f"{name} * 2")
    at = open_app("pages/6_Playground.py", {"expr": "embed*2"})
    assert not at.exception and any("keeps for itself" in e.value for e in at.error)


def test_the_output_name_cannot_be_a_variable():
    """f = f*2 would show two boxes labelled "f =" and two graph nodes named f."""
    with pytest.raises(ExpressionError, match="the function's own name"):
        parse_expression("f * 2")
    assert parse_expression("f1 * 2 + F").variables == ("f1", "F")  # only f itself
    at = open_app("pages/6_Playground.py", {"expr": "f*2", "f": "3", "ops": "b"})
    assert not at.exception and any("the function's own name" in e.value for e in at.error) and not at.metric


def test_predict_with_a_vector_variable_does_not_crash():
    at = open_app("pages/6_Playground.py", {"expr": "sum(v*v)", "v": "[1, 2]", "predict": "1"})
    assert not at.exception
    assert any("single number" in c.value for c in at.caption)


def test_a_new_expression_does_not_replay_the_old_ones_calls():
    at = open_app("pages/6_Playground.py", {"expr": "x**2", "x": "3", "ops": "bb"})
    assert metric(at, "x.grad") == "12"
    at.text_input(key="playground:expr").set_value("x**3").run()
    assert metric(at, "x.grad") == "None"
    assert at.text_input(key="playground:x**3:value:x").value == "3"  # the value carries over
    assert "ops" not in at.query_params


def test_switching_exercises_opens_the_new_one_at_its_own_values():
    at = open_app("pages/5_Exercises.py", {"lesson": "exercise-2", "predict": "0", "ops": "b"})
    assert metric(at, "x.grad") == "13"
    at.radio(key="exercises:lesson").set_value("exercise-4").run()
    assert at.text_input(key="exercises:exercise-4:value:x").value == "3"
    assert metric(at, "x.grad") == "None"
    at.button(key="exercises:exercise-4:backward").click().run()
    assert metric(at, "x.grad") == "42"


def test_a_big_gradient_is_not_shown_as_none():
    expression = parse_expression("sum(v*v)")
    session = run_calls(expression.build, {"v": [1.0] * 20}, 1)
    assert session.grads()["v"] == "tensor of shape (20,)"
    assert session.passes[0].grads_before["v"] is None


@pytest.mark.parametrize("text", ["1e39", "-3.5e38"])
def test_values_beyond_float32_are_refused(text):
    with pytest.raises(BadValueError, match="too large"):
        parse_number(text, "x")


def test_minus_zero_is_a_new_leaf():
    at = open_app("pages/6_Playground.py", {"expr": "sigmoid(1/x)", "x": "0"})
    assert metric(at, "f") == "1"
    at.text_input(key="playground:sigmoid(1/x):value:x").set_value("-0").run()
    assert metric(at, "f") == "0"


def test_no_local_derivative_from_subnormal_gradients():
    x = torch.tensor(1.0, requires_grad=True)
    record = record_backward(1e-45 * (x * 2.6), {"x": x})
    mul = next(e for e in record.events if e.name == "MulBackward0" and e.grads_in[0] < 1e-30)
    assert mul.local_derivative is None


def test_each_call_gets_its_own_player():
    at = open_app("pages/1_Gradients.py", {"ops": "bb"})
    assert json.loads(at.get("bidi_component")[0].proto.json)["calls"] == 2
    assert at.get("bidi_component")[0].proto.id.endswith("player:2")


def test_values_are_echoed_as_code_not_markdown():
    with pytest.raises(BadValueError) as caught:
        parse_number("[Session expired](https://example.invalid)", "x")
    assert "`[Session expired](https://example.invali…`" in str(caught.value)  # inline code, shortened
