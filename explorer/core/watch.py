"""Tensors a lesson's function makes on the way (h in `h = 2 * x; return h ** 2`), read after backward.

A non-leaf tensor's `.grad` is None after backward unless `h.retain_grad()` asked for it, and PyTorch
warns when it is read: that is the lesson, so both come from PyTorch itself. The function keeps its
own code (`h` is a plain local variable, as a student writes it); its locals are read as it returns,
by a profile function for that one call, on this thread only."""

from __future__ import annotations

import sys
import warnings
from typing import Any, Callable

import torch

from explorer.values import to_plain


def call_watching(fn: Callable[..., torch.Tensor], kwargs: dict, names: tuple[str, ...]):
    """`fn(**kwargs)`, and the tensors its locals `names` hold when it returns."""
    found: dict[str, torch.Tensor] = {}
    code = getattr(fn, "__code__", None)

    def profile(frame, event, _arg):
        if event == "return" and frame.f_code is code:
            found.update({name: frame.f_locals[name] for name in names
                          if isinstance(frame.f_locals.get(name), torch.Tensor)})

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        output = fn(**kwargs)
    finally:
        sys.setprofile(previous)
    return output, found


def read_grad(tensor: torch.Tensor) -> tuple[Any, str | None]:
    """(tensor.grad as plain numbers, the warning PyTorch gives for reading it, if any)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grad = tensor.grad
    words = next((str(w.message) for w in caught if issubclass(w.category, UserWarning)), None)
    return to_plain(grad, summarize=True), words
