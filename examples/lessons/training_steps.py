"""Three steps of a loss, cleared between them

A training loop builds its loss again at every step and calls `.backward()` each time. Here the
loss is the squared distance of a weight vector `v` from a target, summed: each call gives
`v.grad` = 2·(v − target). Cleared with `.grad.zero_()` between calls, every step reads the same
gradient; leave it out (press `.backward()` again) and it piles up.
"""

import torch

TARGET = torch.tensor([1.0, -1.0, 0.5])  # a constant: it needs no gradient, so every student may share it


def f(v=[0.0, 1.0, 2.0]):
    return ((v - TARGET) ** 2).sum()


EXPECTED = {"v": [-2.0, 4.0, 3.0]}
CALLS = 3
ZERO = "zero"
