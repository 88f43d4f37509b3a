"""One neuron: tanh(w * x + b)

A neuron weighs its input, adds a bias and squashes the sum with `tanh`. Backward runs the chain
rule through those three steps: `TanhBackward0` multiplies the incoming gradient by
1 − tanh², then the sum hands it unchanged to `b` and to the product, which sends `x` to `w`
(and `w` to `x`). Predict `w.grad` and `b.grad` before you check.
"""

import math

import torch


def f(w=0.5, x=2.0, b=-0.5):
    return torch.tanh(w * x + b)


# .grad after one .backward() at the defaults: checked against autograd when the file loads.
# w * x + b = 0.5, and 1 - tanh(0.5)**2 = 0.78645.
EXPECTED = {"w": 1.5729, "x": 0.39322, "b": 0.78645}


def by_hand(w, x, b):
    slope = 1 - math.tanh(w * x + b) ** 2  # d tanh(u)/du at u = w·x + b
    return {"w": slope * x, "x": slope * w, "b": slope}
