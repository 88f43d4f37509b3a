"""A leaf's value from its text box when leaves may be matrices (W of shape (2, 3)): the one reader
for the chapter's tensors lesson, a lecturer's lesson file and a playground program's boxes.

parse_leaf_value reads a number or a flat list; a matrix is a list of such rows, all of one length:
"[[0.5, -1, 2], [1, 0, -0.5]]". Read by hand, row by row, never by Python.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from explorer.errors import BadValueError
from explorer.functions.expr import MAX_ELEMENTS, parse_leaf_value
from explorer.values import parse_number


def parse_matrix_value(text, name: str) -> float | list:
    """A leaf's value: a number, a flat list [1, 2] (as expr reads it), or a matrix [[1, 2], [3, 4]].

    A hand parser, not Python: the rows are split at brackets and each goes to parse_leaf_value.
    """
    stripped = text.strip() if isinstance(text, str) else ""
    if not re.match(r"\[\s*\[", stripped):
        return parse_leaf_value(text, name)
    if len(stripped) > 30_000:
        raise BadValueError(f"The value of {name} is {len(stripped)} characters long; the most allowed is 30000.")
    if not re.fullmatch(r"\[\s*\[[^\[\]]*\](\s*,\s*\[[^\[\]]*\])*\s*,?\s*\]", stripped):
        raise BadValueError(f"{name} must be a matrix written as rows in brackets, such as [[1, 2], [3, 4]].")
    rows = [parse_leaf_value(row, f"{name}'s row {index + 1}")
            for index, row in enumerate(re.findall(r"\[[^\[\]]*\]", stripped[1:-1]))]
    lengths = {len(row) for row in rows}
    if len(lengths) != 1:
        raise BadValueError(f"The rows of {name} have different lengths ({', '.join(str(len(row)) for row in rows)}); "
                            "a matrix needs the same number of values in every row.")
    if len(rows) * len(rows[0]) > MAX_ELEMENTS:
        raise BadValueError(f"{name} has {len(rows) * len(rows[0])} values; the most allowed is {MAX_ELEMENTS}.")
    return rows


def value_parser(defaults: dict[str, Any]) -> Callable[[str, str], Any]:
    """How a lesson's value boxes are read: matrices where a default is one, lists where one is a list,
    numbers otherwise (a number box refuses brackets with a message that says so)."""
    if any(isinstance(v, list) and v and isinstance(v[0], list) for v in defaults.values()):
        return parse_matrix_value
    if any(isinstance(v, list) for v in defaults.values()):
        return parse_leaf_value
    return parse_number
