"""The code of the chapter's lessons 6-10 (issue 12), exactly as their pages show it.

Each lesson function takes its leaves by name and returns the tensor its page calls .backward() on.
A lesson whose idea needs more than one call (a training loop, micro-batches, gradcheck) also has a
*loop*: a function of the lesson's plain values that makes its own tensors, runs the real calls and
returns one row of plain numbers per step, for the page's table and the JSON. Data the loops read is
plain numbers here; every tensor is made inside a call, so no tensor that requires grad outlives it.
"""

from __future__ import annotations

import torch

# -- 6. higher-order --------------------------------------------------------------------------------------


def cube(x):
    return x**3


def gradient_of_cube(x):
    f = x**3
    (g,) = torch.autograd.grad(f, x, create_graph=True)  # g = 3x², with a graph of its own
    return g


def gradient_of_cube_without_graph(x):
    f = x**3
    (g,) = torch.autograd.grad(f, x, retain_graph=True)  # f's graph kept, but g = 3x² has none
    return g


# -- 7. micro-batches -------------------------------------------------------------------------------------
INPUTS = [1.0, 2.0, 3.0, 4.0]  # four samples of a one-weight model, prediction = w * input
TARGETS = [2.0, 3.0, 7.0, 8.0]


def batch_loss(w):
    inputs, targets = torch.tensor(INPUTS), torch.tensor(TARGETS)
    return ((w * inputs - targets) ** 2).mean()


def micro_batch_loss(w, part=0):
    inputs, targets = torch.tensor(INPUTS[2 * part:2 * part + 2]), torch.tensor(TARGETS[2 * part:2 * part + 2])
    return ((w * inputs - targets) ** 2).mean() / 2  # / 2: two micro-batches make one batch


def micro_batches(w):
    """One batch of 4, then 2 micro-batches of 2 each scaled by 1/2, two .backward() calls, no zeroing."""
    one = torch.tensor(w, requires_grad=True)
    batch_loss(one).backward()
    rows = [{"run": "one batch of 4: loss.backward()", "w.grad": one.grad.item()}]
    split = torch.tensor(w, requires_grad=True)
    for part in range(2):
        micro_batch_loss(split, part).backward()  # adds onto split.grad: accumulation on purpose
        rows.append({"run": f"micro-batch {part + 1} of 2: (loss / 2).backward()", "w.grad": split.grad.item()})
    return rows


# -- 8. gradient-descent ----------------------------------------------------------------------------------
LEARNING_RATE = 0.4
STEPS = 3


def distance_to_two_squared(w):
    return (w - 2) ** 2


def gradient_descent(w):
    """Three steps of w -= lr * w.grad with w.grad.zero_() after each, then the same loop without it."""
    rows = []
    for zero_grad in (True, False):
        leaf = torch.tensor(w, requires_grad=True)
        for step in range(1, STEPS + 1):
            loss = distance_to_two_squared(leaf)
            loss.backward()
            before = leaf.item()
            with torch.no_grad():  # the update itself is not part of any graph
                leaf -= LEARNING_RATE * leaf.grad
            rows.append({"loop": "w.grad.zero_() each step" if zero_grad else "never zeroed", "step": step,
                         "w": before, "loss": loss.item(), "w.grad": leaf.grad.item(), "w after": leaf.item()})
            if zero_grad:
                leaf.grad.zero_()
    return rows


# -- 9. custom-function -----------------------------------------------------------------------------------
class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


def custom_cube(x):
    return Cube.apply(x).sum()


def builtin_cube(x):
    return (x**3).sum()


def check_cube(x):
    """torch.autograd.gradcheck on Cube in float64: its backward against finite differences."""
    values = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    passed = torch.autograd.gradcheck(Cube.apply, (values,), eps=1e-6, atol=1e-4)
    return [{"check": "torch.autograd.gradcheck(Cube.apply, (x in float64,))", "passed": bool(passed)}]


# -- 10. tensors ------------------------------------------------------------------------------------------
SAMPLES = [[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]]  # x: 3 features (rows) of 2 samples (columns)


def linear_layer(W, b):
    x = torch.tensor(SAMPLES)  # (3, 2)
    y = W @ x + b  # (2, 3) @ (3, 2) -> (2, 2); b of shape (2, 1) is broadcast over the 2 columns
    return (y**2).sum()
