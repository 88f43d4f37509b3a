"""The untouched torchviz picture of the same function: what a student's own notebook draws.

Shown beside our view so the differences are visible, not hidden: torchviz names nodes by
`id()`, merges a saved leaf with the leaf itself (pytorchviz#69) and draws no values.
"""

from __future__ import annotations

import re

import torch

# The exact call we make, shown on the page so a student can reproduce the picture.
TORCHVIZ_CALL = "torchviz.make_dot(f, params={...}, show_attrs=True, show_saved=True)"


def torchviz_dot(output: torch.Tensor, params: dict[str, torch.Tensor], stable_ids: bool = False) -> str:
    """torchviz's DOT text for `output`, with its own naming and its own bugs left in.

    torchviz names nodes by `id()`, so its text differs on every run and misses the layout cache
    each time. With `stable_ids` the ids become t0, t1, ... in order of appearance: the same
    picture (same nodes, same merges), but the same text for the same function.
    """
    import torchviz  # imported late: it pulls in distutils, which is slow to import

    source = torchviz.make_dot(output, params=params, show_attrs=True, show_saved=True).source
    if not stable_ids:
        return source
    renamed: dict[str, str] = {}
    return re.sub(r"(?m)(?<=^\t)\d+|(?<=-> )\d+",
                  lambda match: renamed.setdefault(match.group(0), f"t{len(renamed)}"), source)
