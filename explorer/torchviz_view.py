"""The untouched torchviz picture of the same function: what a student's own notebook draws.

Shown beside our view so the differences are visible, not hidden: torchviz names nodes by
`id()`, merges a saved leaf with the leaf itself (pytorchviz#69) and draws no values.
"""

from __future__ import annotations

import torch

# The exact call we make, shown on the page so a student can reproduce the picture.
TORCHVIZ_CALL = "torchviz.make_dot(f, params={...}, show_attrs=True, show_saved=True)"


def torchviz_dot(output: torch.Tensor, params: dict[str, torch.Tensor]) -> str:
    """torchviz's DOT text for `output`, with its own naming and its own bugs left in."""
    import torchviz  # imported late: it pulls in distutils, which is slow to import

    return torchviz.make_dot(output, params=params, show_attrs=True, show_saved=True).source
