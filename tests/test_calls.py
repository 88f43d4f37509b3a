"""Repeated calls on persistent leaves: accumulation, both zeroings, the freed graph, bad input."""

import pytest
import torch

from explorer.core.calls import BackwardSession, run_calls
from explorer.errors import BadValueError, ExplorerError, GraphFreedError, PyTorchRefusedError
from explorer.functions.expr import parse_expression
from explorer.functions.lessons import square


def test_three_calls_accumulate_6_12_18():
    session = run_calls(square, {"x": 3.0}, 3)
    assert session.grad_history("x") == [6.0, 12.0, 18.0]
    assert [p.grads_before["x"] for p in session.passes] == [None, 6.0, 12.0]


def test_zero_keeps_a_tensor_and_set_none_drops_it():
    session = BackwardSession(square, {"x": 3.0})
    session.backward()
    session.zero_grad("zero")
    assert session.leaves["x"].grad is not None and session.grads() == {"x": 0.0}
    session.zero_grad("set-none")
    assert session.leaves["x"].grad is None and session.grads() == {"x": None}
    session.backward()
    assert session.grads() == {"x": 6.0}
    assert [entry.action for entry in session.history] == ["backward", "zero", "set-none", "backward"]


def test_same_graph_again_fails_then_works_with_retain_graph():
    session = BackwardSession(square, {"x": 3.0})
    with pytest.raises(ExplorerError, match="call .backward\\(\\) once first"):
        session.backward_same_graph()
    session.backward()
    with pytest.raises(GraphFreedError):
        session.backward_same_graph()
    assert session.grads() == {"x": 6.0}
    assert session.history[-1].action == "refused"
    # the session still works after the refusal
    session.backward(retain_graph=True)
    session.backward_same_graph()
    assert session.grad_history("x") == [6.0, 12.0, 18.0]


def test_same_graph_calls_follow_pytorchs_retain_graph_rule():
    """Each call's own retain_graph decides whether the next same-graph call may run, as in PyTorch."""
    x = torch.tensor(3.0, requires_grad=True)
    f = x ** 2
    f.backward(retain_graph=True)
    f.backward()  # allowed: the graph was kept; this call frees it
    with pytest.raises(RuntimeError, match="second time"):
        f.backward()
    session = BackwardSession(square, {"x": 3.0})
    session.backward(retain_graph=True)
    session.backward_same_graph()
    with pytest.raises(GraphFreedError):
        session.backward_same_graph()
    assert session.grads()["x"] == pytest.approx(x.grad.item(), rel=1e-6)
    assert session.actions_code() == "Baa"
    # keeping the graph on the same-graph call itself lets one more follow
    kept = BackwardSession(square, {"x": 3.0})
    kept.backward(retain_graph=True)
    kept.backward_same_graph(retain_graph=True)
    kept.backward_same_graph()
    assert kept.grad_history("x") == [6.0, 12.0, 18.0]
    assert kept.actions_code() == "BAa"
    again = BackwardSession(square, {"x": 3.0})
    again.replay("BAaa")
    assert again.grad_history("x") == [6.0, 12.0, 18.0] and again.history[-1].action == "refused"


@pytest.mark.parametrize("bad", ["abc", "nan", "inf", "-inf", "", "1e999", "\u0663", "\uff13", "1_000"])  # ٣ and ３ read as 3 by float()
def test_bad_values_are_refused_with_a_message(bad):
    with pytest.raises(BadValueError) as caught:
        BackwardSession(square, {"x": bad})
    assert "x" in str(caught.value)


def test_calls_must_be_positive():
    with pytest.raises(ExplorerError, match="1 or more"):
        run_calls(square, {"x": 3.0}, 0)
    with pytest.raises(ExplorerError, match="Unknown zeroing"):
        run_calls(square, {"x": 3.0}, 2, "sometimes")


def test_calls_are_bounded():
    """Each call keeps its record: a hundred million calls would fill the memory, so they are refused."""
    with pytest.raises(ExplorerError, match="the most is 1000"):
        run_calls(square, {"x": 3.0}, 1001)
    assert run_calls(square, {"x": 3.0}, 1000).grads() == {"x": 6000.0}


def test_a_big_gradient_is_not_shown_as_none():
    expression = parse_expression("sum(v*v)")
    session = run_calls(expression.build, {"v": [1.0] * 20}, 1)
    assert session.grads()["v"] == "tensor of shape (20,)"
    assert session.passes[0].grads_before["v"] is None


def squares(x):
    return x * x


def test_a_non_scalar_output_is_refused_with_pytorchs_own_message():
    session = BackwardSession(squares, {"x": [1.0, 2.0, 3.0]})
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError) as pytorch:
        (x * x).backward()
    with pytest.raises(PyTorchRefusedError) as ours:
        session.backward()
    assert ours.value.pytorch_message == str(pytorch.value) == "grad can be implicitly created only for scalar outputs"
    assert str(ours.value).startswith(f'PyTorch refused: "{pytorch.value}"') and "gradient=v" in str(ours.value)
    assert session.grads() == {"x": None} and session.history == []  # nothing ran, the session goes on
    assert "AccumulateGrad" in [node.name for node in session.graph().nodes]  # the graph is still drawn


@pytest.mark.parametrize("v", [[1.0, 1.0, 1.0], [1.0, 0.1, 0.01]])
def test_backward_with_a_gradient_is_the_vector_jacobian_product(v):
    session = BackwardSession(squares, {"x": [1.0, 2.0, 3.0]}, gradient=v)
    record = session.backward()
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (reference,) = torch.autograd.grad(x * x, x, grad_outputs=torch.tensor(v))
    assert torch.allclose(torch.tensor(session.grads()["x"]), reference, rtol=1e-6, atol=0)
    assert record.seed == pytest.approx(v) and record.seed_given
    assert record.to_dict(with_graph=False)["seed_given"] is True


def test_a_gradient_of_the_wrong_shape_gets_pytorchs_words():
    session = BackwardSession(squares, {"x": [1.0, 2.0, 3.0]}, gradient=[1.0, 1.0])
    with pytest.raises(PyTorchRefusedError, match=r"(?s)Mismatch in shape.*shape of f, \(3,\)"):
        session.backward()
    assert session.grads() == {"x": None}
