"""Recording: engine order, every gradient against torch.autograd.grad, hooks removed."""

import pytest
import torch
from torch.overrides import TorchFunctionMode

from support import close
from explorer.core.backward import record_backward
from explorer.errors import GraphFreedError
from explorer.core.graph import INPUT, trace
from explorer.functions.lessons import all_lessons, get_lesson


def build(lesson):
    params = {n: torch.tensor(v, requires_grad=True) for n, v in lesson.defaults.items()}
    return params, lesson.fn(**params)


@pytest.mark.parametrize("lesson", all_lessons(), ids=lambda lesson: lesson.id)
def test_leaf_grads_equal_torch_autograd_grad(lesson):
    params, output = build(lesson)
    expected = torch.autograd.grad(lesson.fn(**params), list(params.values()), allow_unused=True)
    record = record_backward(output, params)
    for (name, tensor), reference in zip(params.items(), expected):
        if reference is None:  # a leaf the function keeps out of the graph (stop-gradient's y)
            assert name not in record.grads_after and tensor.grad is None
            continue
        assert close(record.grads_after[name], reference), name
        assert close(tensor.grad, reference)


class _Intermediates(TorchFunctionMode):
    """Every tensor the forward pass makes that has a grad_fn: the tensors autograd differentiates by."""

    def __init__(self):
        super().__init__()
        self.tensors = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if isinstance(result, torch.Tensor):
            self.tensors.append(result)
        return result

    def __exit__(self, *exc):
        # Read grad_fn once the function has returned: a custom autograd.Function's forward makes its
        # result with autograd off, and apply() gives it its grad_fn (CubeBackward) afterwards.
        self.tensors = [tensor for tensor in self.tensors if tensor.grad_fn is not None]
        return super().__exit__(*exc)


@pytest.mark.parametrize("lesson", all_lessons(), ids=lambda lesson: lesson.id)
def test_every_node_receives_autograd_grad_with_respect_to_its_tensor(lesson):
    """The gradient arriving at each op node is torch.autograd.grad(f, the tensor that op made),
    the one at each AccumulateGrad is d f / d leaf, and what the events send along the edges into
    a node adds up to it: every number the player shows on an edge, checked by PyTorch itself."""
    params = {n: torch.tensor(v, requires_grad=True) for n, v in lesson.defaults.items()}
    with _Intermediates() as seen:
        output = lesson.fn(**params)
    made = {}
    for tensor in seen.tensors:  # the first tensor an op made (a multi-output op makes several)
        made.setdefault(tensor.grad_fn, tensor)
    _, live = trace(output, params, "f")  # node id -> grad_fn: only the ids, no recording involved
    node_of = {fn: node_id for node_id, fn in live.items()}
    tensors = list(made.values())
    reference = torch.autograd.grad(output, tensors + list(params.values()), retain_graph=True, allow_unused=True)
    expected = {node_of[fn]: grad for fn, grad in zip(made, reference)}
    record = record_backward(output, params)
    graph = record.graph
    for name, grad in zip(params, reference[len(tensors):]):
        if grad is not None:  # a leaf outside the graph (stop-gradient's y) has no AccumulateGrad
            expected[graph.accumulator_of(graph.leaf_named(name).id)] = grad
    received = {}
    for event in record.events:
        for sent in event.grads_out:
            if sent.to is not None:  # as tensors: a vector leaf's gradients add element by element
                received[sent.to] = received.get(sent.to, 0.0) + torch.tensor(sent.value, dtype=torch.float64)
    checked = 0
    for event in record.events:
        assert event.node in expected, event.name  # every node that ran is one autograd knows
        assert close(event.grads_in[0], expected[event.node]), event.name
        if event.node in received:
            assert close(received[event.node], expected[event.node]), event.name
            checked += 1
    assert checked == len(record.events) - 1  # every node but the first is reached along an edge


def test_square_event_values():
    x = torch.tensor(3.0, requires_grad=True)
    record = record_backward(x**2, {"x": x})
    names = [event.name for event in record.events]
    assert names == ["PowBackward0", "AccumulateGrad"]
    power, accumulate = record.events
    assert power.grads_in == (1.0,) and power.grads_out[0].value == 6.0
    assert power.local_derivative == (6.0,)
    assert power.grads_out[0].to == accumulate.node
    assert (accumulate.grad_before, accumulate.grad_after) == (None, 6.0)
    assert record.seed == 1.0


def test_events_follow_the_engines_real_order():
    """Compare with an independent recording made by plain tensor hooks in the same run order."""
    lesson = get_lesson("exercise-2")
    params, output = build(lesson)
    seen = []
    fns = []
    stack = [output.grad_fn]
    while stack:
        fn = stack.pop()
        if fn in fns:
            continue
        fns.append(fn)
        stack.extend(f for f, _ in fn.next_functions if f is not None)
    handles = [fn.register_hook(lambda gi, go, fn=fn: seen.append(type(fn).__name__)) for fn in fns]
    record = record_backward(output, params, retain_graph=True)
    for handle in handles:
        handle.remove()
    assert [event.name for event in record.events] == seen
    # The engine finishes a node before any node it feeds: every op runs after all its consumers.
    position = {event.node: event.step for event in record.events}
    for edge in record.graph.edges:
        if edge.kind == INPUT:
            assert position[edge.dst] < position[edge.src]


def test_hooks_are_removed_afterwards():
    x = torch.tensor(3.0, requires_grad=True)
    output = x**3
    first = record_backward(output, {"x": x}, retain_graph=True)
    assert len(first.events) == 2
    x.grad = None
    output.backward()  # if our hooks were still there they would try to record and raise or add events
    assert len(first.events) == 2
    assert close(x.grad, 27.0)


def test_second_backward_through_freed_graph_is_explained():
    x = torch.tensor(3.0, requires_grad=True)
    output = x**2
    record_backward(output, {"x": x})
    with pytest.raises(GraphFreedError) as caught:
        record_backward(output, {"x": x})
    assert "second time" in caught.value.pytorch_message
    assert "retain_graph=True" in str(caught.value)
    assert close(x.grad, 6.0)  # the failed call changed nothing


def test_retain_graph_allows_a_second_pass_that_accumulates():
    x = torch.tensor(3.0, requires_grad=True)
    output = x**2
    record_backward(output, {"x": x}, retain_graph=True)
    second = record_backward(output, {"x": x})
    assert second.grads_before == {"x": 6.0} and second.grads_after == {"x": 12.0}
    assert second.events[-1].grad_before == 6.0 and second.events[-1].grad_after == 12.0


def test_shared_leaf_gets_the_summed_gradient_once():
    lesson = get_lesson("exercise-2")
    params, output = build(lesson)
    record = record_backward(output, params)
    y_acc = record.graph.accumulator_of(record.graph.leaf_named("y").id)
    arriving = [s.value for e in record.events for s in e.grads_out if s.to == y_acc]
    assert sorted(arriving) == [1.5, 24.0]
    assert [e.grads_in for e in record.events if e.node == y_acc] == [(25.5,)]


def test_no_local_derivative_from_subnormal_gradients():
    x = torch.tensor(1.0, requires_grad=True)
    record = record_backward(1e-45 * (x * 2.6), {"x": x})
    mul = next(e for e in record.events if e.name == "MulBackward0" and e.grads_in[0] < 1e-30)
    assert mul.local_derivative is None
