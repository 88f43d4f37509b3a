"""The sum backward does for a broadcast tensor, in words: y = W @ x + b with b of shape (2, 1)
spread over 2 columns gets back the gradient of y summed over those columns, so that b.grad has
b's shape. Both gradients are the recorded ones; this module only finds which elements were added
(the dimensions PyTorch's broadcasting spread) and writes the sums, which hold for those numbers."""

from __future__ import annotations

import itertools
from typing import Any

import torch

from explorer.play.captions import exact_sum, factor, shows_as, value_text
from explorer.values import real_numbers

MAX_SHOWN_SUMS = 4  # element sums written out, each of at most this many terms; beyond that, words only


def reduction_line(arrived: Any, sent: Any) -> str | None:
    """How `sent` is `arrived` summed back to a smaller shape, or None when it is not such a sum."""
    if not isinstance(arrived, list) or not real_numbers(arrived) or not real_numbers(sent):
        return None
    big, small = torch.tensor(arrived, dtype=torch.float64), torch.tensor(sent, dtype=torch.float64)
    lead = big.dim() - small.dim()
    if big.shape == small.shape or lead < 0 or any(
            n not in (1, m) for n, m in zip(small.shape, big.shape[lead:])):
        return None
    groups: dict[tuple[int, ...], list[float]] = {}
    for index in itertools.product(*(range(n) for n in big.shape)):
        target = tuple(0 if n == 1 else i for i, n in zip(index[lead:], small.shape))
        groups.setdefault(target, []).append(big[index].item())
    if not all(math_close(sum(parts), small[target].item()) for target, parts in groups.items()):
        return None
    dims = [*range(lead), *(lead + i for i, (n, m) in enumerate(zip(small.shape, big.shape[lead:])) if n == 1 and m != 1)]
    words = (f"summed over dimension{'s' if len(dims) > 1 else ''} {', '.join(map(str, dims))} from shape "
             f"{_shape(big.shape)} to {_shape(small.shape)}, the shape of the tensor that was broadcast")
    # The sums are written only where they hold as printed: a float32 sum that rounded visibly (16777216 + 1)
    # would be false arithmetic, and the words above say what happened without it.
    if len(groups) <= MAX_SHOWN_SUMS and all(len(parts) <= MAX_SHOWN_SUMS for parts in groups.values()) \
            and all(shows_as(exact_sum(parts), small[target].item()) for target, parts in groups.items()):
        sums = [" + ".join(factor(p) for p in parts) + f" = {value_text(small[target].item())}"
                for target, parts in groups.items()]
        words += ": " + ", ".join(sums)
    return words


def math_close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-5 * max(1.0, abs(a), abs(b))


def _shape(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + (",)" if len(shape) == 1 else ")")
