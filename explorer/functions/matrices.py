"""A leaf's value from its text box when the lesson's leaves are matrices (W of shape (2, 3)).

The playground's parse_leaf_value reads a number or a flat list; a matrix is a list of such rows,
all of one length: "[[0.5, -1, 2], [1, 0, -0.5]]". Read by hand, row by row, never by Python.
"""

from __future__ import annotations

from typing import Any, Callable

from explorer.errors import BadValueError
from explorer.functions.expr import MAX_ELEMENTS, parse_leaf_value
from explorer.values import parse_number


def parse_matrix_value(text, name: str) -> float | list:
    """A number, a flat list, or a list of rows of one length (each row read by parse_leaf_value)."""
    stripped = text.strip() if isinstance(text, str) else text
    if not (isinstance(stripped, str) and stripped.startswith("[[")):
        return parse_leaf_value(text, name)
    if not stripped.endswith("]]"):
        raise BadValueError(f"The matrix {name} must end with ]]: such as [[1, 2], [3, 4]].")
    inner = stripped[1:-1].strip()  # "[1, 2], [3, 4]"
    pieces = [piece.strip() for piece in inner.split("]")]
    if pieces[-1] != "":
        raise BadValueError(f"{name}: write each row of the matrix in brackets, such as [[1, 2], [3, 4]].")
    rows = []
    for index, piece in enumerate(pieces[:-1]):
        piece = piece.removeprefix(",").strip() if index else piece
        row = parse_leaf_value(piece + "]", f"{name}[{index}]")
        rows.append(row if isinstance(row, list) else [row])
    if len({len(row) for row in rows}) != 1:
        raise BadValueError(f"The rows of {name} have different lengths ({', '.join(str(len(r)) for r in rows)}); "
                            "a matrix needs rows of one length.")
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
