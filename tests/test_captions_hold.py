"""Every equation a caption prints holds for the numbers it prints (tests/equations.py re-evaluates them).

First the checker itself, on true and false equations, so that it can be trusted to fail. Then random
functions of one to three leaves (scalars, sometimes vectors of two), with tensors reused on several
paths, hooks on intermediate tensors and on leaves, post-accumulate-grad hooks that change .grad, a
custom autograd.Function, several backward calls, and values that make float32 round, overflow or
go subnormal: every line of every frame of every call is checked.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from equations import equations, violations
from explorer.core.calls import BackwardSession
from explorer.errors import ExplorerError
from explorer.play.frames import build_animation


# -- 1. the checker ---------------------------------------------------------------------------
@pytest.mark.parametrize("line", [
    "2 + 2 = 5 arrives",
    "3 × (-2) = 6",
    "sends 1 × (-6) = 6 to MulBackward0",
    "1 + (-6) + (-6) = -33 arrives (the engine adds the gradients of its 3 paths)",
    "100000000 + 3 = 100000000 (.backward() adds to .grad, it never overwrites it)",  # absorption, in full
    "16777216 + 1 = 16777216",
    "0.3333 + 0.3333 = 0.6677",  # off by 1e-4: more than two 4-digit roundings allow
    "local derivative 2·x = 2·3 = 7",
    "local derivative 3·x² = 3·(2)² = 11",
    "local derivative 3·x² = 3·(1e-22)² = 2.942e-44",  # float32's subnormal rounding, printed as arithmetic
    "local derivative 3·x² = 3·(1e+20)² = inf",  # overflow: finite numbers never give inf
    "sends 1e+30 × 1e+10 = inf to AccumulateGrad (x)",
    "sends inf × nan = inf to AccumulateGrad (x)",
    "inf + (-inf) = inf arrives",
    "[1, 2] + [3, 4] = [4, 7] (.backward() adds to .grad, it never overwrites it)",
    "[1, 2] + [3, 4, 5] = [4, 6, 5]",
    "a caption with 2 + 3 × 4 = 14 in it",  # a shape the checker does not know is reported, not skipped
])
def test_the_checker_rejects_false_arithmetic(line):
    assert violations(line), line


@pytest.mark.parametrize("line", [
    "1 + 1 = 2 arrives",
    "3 × (-2) = -6",
    "sends (-33) × (-2) = 66 to AccumulateGrad (x)",
    "1 + (-6) + (-6) = -11 arrives (the engine adds the gradients of its 3 paths)",
    "-206 + (-103) = -309 (.backward() adds to .grad, it never overwrites it)",
    "0.3333 + 0.6667 = 1",
    "sends 3 × 0.3333 = 1 to AccumulateGrad (x)",  # 0.9999: within 3 × 5e-5 of 1
    "1.5 + 24 = 25.5 arrives",
    "local derivative 2·x = 2·3 = 6; sends 1 × 6 = 6 to AccumulateGrad (x)",
    "local derivative 3·x² = 3·(2)² = 12",
    "local derivative -1·x⁻² = -1·(-2)⁻² = -0.25",
    "sends 1 × inf = inf to AccumulateGrad (x)",
    "inf + (-inf) = nan arrives",
    "sends 0 × inf = nan to AccumulateGrad (x)",
    "[1, 2] + [3, 4] = [4, 6] (.backward() adds to .grad, it never overwrites it)",
    "[[1, 2], [3, 4]] + [[0.5, 0.5], [0.5, 0.5]] = [[1.5, 2.5], [3.5, 4.5]]",
    "1e+08 + 1 = 1e+08",  # true to 4 digits, which is all it claims
    "x.grad = 18 (it held 12 before this call)",
    "f.backward() starts at the output f with the gradient 1 (df/df = 1)",
    "local derivative = the other factor y = -2; sends 1 × (-2) = -2 to AccumulateGrad (x)",
    "x.grad tensor of shape (1000,) → tensor of shape (1000,)",
])
def test_the_checker_accepts_true_arithmetic(line):
    assert violations(line) == [], line


def test_the_checker_finds_each_kind_of_equation():
    line = "local derivative 2·x = 2·3 = 6; sends 1 × 6 = 6 to PowBackward0; 1 + 2 = 3 arrives"
    assert sorted(equation.kind for equation in equations(line)) == ["power", "product", "sum"]


# -- 2. random functions ------------------------------------------------------------------------
class Scale(torch.autograd.Function):
    """A custom Function whose backward is not the derivative of its forward (2·x forward, 7·grad back):
    nothing in the graph says so, and the captions must not pretend otherwise."""

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 7


UNARY = {
    "square": lambda a: a ** 2, "cube": lambda a: a ** 3, "reciprocal": lambda a: a ** -1,
    "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "sin": torch.sin, "tanh": torch.tanh,
    "neg": lambda a: -a, "scale": Scale.apply, "times3": lambda a: a * 3,
    "big": lambda a: a * 16777216,  # 2**24: adding 1 to a gradient this size is lost in float32
}
BINARY = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
HOOKS = {"times10": lambda g: g * 10, "negate": lambda g: -g, "half": lambda g: g * 0.5, "zero": lambda g: g * 0,
         "plus1": lambda g: g + 1}
# Ordinary numbers, and ones that make float32 round visibly, overflow or go subnormal.
SPECIAL = [0.0, 1.0, -2.0, 3.0, 16777216.0, 1e8, 1e-20, 1e-40, 1e20, 3e38, 0.1]
SCALARS = st.one_of(st.floats(-3, 3, width=32), st.sampled_from(SPECIAL))


@st.composite
def programs(draw):
    """Leaves, a list of steps (each an op on earlier values, so one tensor may feed several), hooks."""
    names = ["x", "y", "z"][:draw(st.integers(1, 3))]
    size = draw(st.sampled_from([None, None, None, 2]))  # mostly scalars; sometimes vectors of two
    values = {name: draw(SCALARS) if size is None else draw(st.lists(SCALARS, min_size=size, max_size=size))
              for name in names}
    steps = []
    for index in range(draw(st.integers(1, 5))):
        pool = len(names) + index
        if draw(st.booleans()):
            op, args = draw(st.sampled_from(sorted(BINARY))), (draw(st.integers(0, pool - 1)),
                                                                draw(st.integers(0, pool - 1)))
        else:
            op, args = draw(st.sampled_from(sorted(UNARY))), (draw(st.integers(0, pool - 1)),)
        steps.append((op, args, draw(st.none() | st.sampled_from(sorted(HOOKS)))))
    total = len(names) + len(steps)
    outputs = draw(st.lists(st.integers(0, total - 1), min_size=1, max_size=3))  # summed: more shared paths
    leaf_hooks = {name: draw(st.none() | st.sampled_from(sorted(HOOKS))) for name in names}
    after_hooks = {name: draw(st.none() | st.sampled_from(["double", "add_one"])) for name in names}
    return values, steps, outputs, leaf_hooks, after_hooks, draw(st.integers(1, 3))


def function_of(names, steps, outputs):
    def fn(**leaves):
        pool = [leaves[name] for name in names]
        for op, args, hook in steps:
            made = (BINARY[op] if op in BINARY else UNARY[op])(*(pool[i] for i in args))
            if hook is not None and made.requires_grad:
                made.register_hook(HOOKS[hook])
            pool.append(made)
        return sum(pool[i] for i in outputs).sum()
    return fn


def _double(leaf) -> None:  # a post-accumulate-grad hook must return None
    leaf.grad.mul_(2)


def _add_one(leaf) -> None:
    leaf.grad.add_(1)


AFTER_ACCUMULATE = {"double": _double, "add_one": _add_one}


def _check_frames(animation) -> None:
    for frame in animation.frames:
        for line in frame.lines:
            assert violations(line) == [], (frame.title, line)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs())
def test_every_printed_equation_holds(program):
    values, steps, outputs, leaf_hooks, after_hooks, calls = program
    session = BackwardSession(function_of(list(values), steps, outputs), values)
    for name, leaf in session.leaves.items():
        if leaf_hooks[name]:
            leaf.register_hook(HOOKS[leaf_hooks[name]])
        if after_hooks[name]:
            leaf.register_post_accumulate_grad_hook(AFTER_ACCUMULATE[after_hooks[name]])
    for _ in range(calls):
        try:
            session.backward()
        except ExplorerError:
            return  # a function of no leaf at all (outputs of constants only) has nothing to animate
        _check_frames(build_animation(session))


# -- 3. each way a printed equation could have been false, and what the caption says instead -----------
def _hook_on_a_tensor_used_twice(x):
    h = 2 * x
    h.register_hook(lambda grad: grad * 10)
    return h * h + h  # d/dh = 2h + 1 = 13 at x = 3, summed from three edges; the hook makes it 130


def _double_after_accumulating(session):
    session.leaves["x"].register_post_accumulate_grad_hook(_double)


def _big_then_small():
    calls = []

    def fn(x):
        calls.append(1)
        return x * 16777216 if len(calls) == 1 else x * 3  # .grad 16777216, then + 3: float32 rounds
    return fn


CASES = [  # (what, function, leaves, calls, set-up, a line that must say what happened)
    ("hook on the sum", _hook_on_a_tensor_used_twice, {"x": 3.0}, 1, None,
     "1 + 6 + 6 = 13 (the engine adds the gradients of its 3 paths); a hook on the tensor made it 130, which arrives"),
    ("hook on the sum, each edge", _hook_on_a_tensor_used_twice, {"x": 3.0}, 1, None,
     "a hook on the tensor between replaced the sum of the 3 gradients sent there, 13, so 130 arrives instead"),
    ("post-accumulate hook, first call", lambda x: x ** 2, {"x": 3.0}, 1, _double_after_accumulating,
     "x had no .grad yet, so .grad becomes 6; then a post-accumulate-grad hook on x made it 12"),
    ("post-accumulate hook, second call", lambda x: x ** 2, {"x": 3.0}, 2, _double_after_accumulating,
     "12 + 6 = 18 (.backward() adds to .grad, it never overwrites it); then a post-accumulate-grad hook on x made it 36"),
    ("float32 absorbs a path", lambda x: x * 16777216 + x, {"x": 1.0}, 1, None,
     "16777216 rounds to 16777216 (float32 keeps about 7 significant digits), which arrives"),
    ("float32 rounds .grad", _big_then_small(), {"x": 1.0}, 2, None,
     "16777216 + 3 rounds to 16777220 (float32 keeps about 7 significant digits); .backward() adds to .grad"),
    ("inf - inf", lambda x: torch.sqrt(x) - torch.sqrt(x), {"x": 0.0}, 1, None, "-inf + inf = nan arrives"),
    ("inf arrives: no product", lambda x: torch.sqrt(x ** 2), {"x": 0.0}, 1, None, "sends nan to AccumulateGrad (x)"),
    ("subnormal power", lambda x: x ** 3, {"x": 1e-22}, 1, None,
     "3·x² at x = 1e-22 comes out as 2.943e-44 (float32 holds numbers below about 1.2e-38 only roughly)"),
    ("overflowing power", lambda x: x ** 3, {"x": 1e20}, 1, None,
     "3·x² at x = 1e+20 comes out as inf (float32's largest number is about 3.4e+38)"),
    ("custom Function", lambda x: Scale.apply(x), {"x": 3.0}, 1, None,
     "local derivative 7 (sent ÷ arrived: the backward of a custom autograd.Function"),
]


@pytest.mark.parametrize("what, fn, values, calls, setup, expected", CASES, ids=[case[0] for case in CASES])
def test_the_caption_says_what_happened(what, fn, values, calls, setup, expected):
    session = BackwardSession(fn, values)
    if setup:
        setup(session)
    for _ in range(calls):
        session.backward()
    animation = build_animation(session)
    _check_frames(animation)
    assert any(expected in line for frame in animation.frames for line in frame.lines), what


def test_nan_from_inf_minus_inf_is_no_hook():
    """A NaN that arrives as the sum of inf and -inf is the engine's sum, not a hook's doing."""
    session = BackwardSession(lambda x: torch.sqrt(x) - torch.sqrt(x), {"x": 0.0})
    session.backward()
    assert not any("hook" in line for frame in build_animation(session).frames for line in frame.lines)


def test_a_broadcast_sum_float32_rounded_is_told_in_words_only():
    from explorer.play.broadcast import reduction_line

    b = torch.tensor([0.0], requires_grad=True)
    grad = torch.tensor([16777216.0, 1.0])
    (summed,) = torch.autograd.grad(b + torch.zeros(2), b, grad)  # b broadcast over 2: its gradient is a sum
    assert summed.item() == 16777216.0  # float32 lost the 1
    line = reduction_line(grad.tolist(), summed.tolist())
    assert line.startswith("summed over dimension 0") and "+" not in line
    exact = reduction_line([[1.0, 2.0], [3.0, 4.0]], [[3.0], [7.0]])
    assert exact.endswith(": 1 + 2 = 3, 3 + 4 = 7") and violations(exact) == []
