"""A laid-out autograd graph, as `explorer.draw(tensor)` returns it: `.dot`, `.svg`, `.save(path)`,
and inline display in Jupyter.

`draw` is torchviz's make_dot with our fixes: leaves named from `params`, every saved tensor a
node of its own, the output labelled, small tensors' values shown. A Diagram displays itself
in Jupyter (`_repr_mimebundle_`) as HTML and SVG that scale to the cell's width, and saves to a
file chosen by its extension.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from explorer.core.backward import BackwardPass
from explorer.core.graph import Graph, capture
from explorer.drawing.layout import Drawing, lay_out
from explorer.drawing.render import to_dot, to_format
from explorer.drawing.svg import scalable_svg
from explorer.errors import ExplorerError
from explorer.files import write_atomic
from explorer.values import json_text

DIAGRAM_FORMATS = ("svg", "png", "pdf", "dot", "json")
MIN_DPI, MAX_DPI = 10, 1200


class Diagram:
    """A laid-out autograd graph: `.dot`, `.svg`, `.save(path)`, and inline display in Jupyter."""

    def __init__(self, graph: Graph, drawing: Drawing, backward: BackwardPass | None = None):
        self.graph = graph
        self.drawing = drawing
        self.backward = backward  # a recorded pass: leaves show .grad, edges the gradient sent

    @property
    def dot(self) -> str:
        """The DOT text that was laid out (big repeated blocks folded, see drawing.py)."""
        return self.drawing.dot if self.drawing.dot is not None else to_dot(self.graph, self.backward)

    @property
    def svg(self) -> str:
        """Graphviz's SVG document, as `dot -Tsvg` wrote it."""
        if self.drawing.svg is None:
            raise ExplorerError(self.drawing.note)
        return self.drawing.svg

    @property
    def note(self) -> str:
        """What was folded or left out; empty when the whole graph is drawn."""
        return self.drawing.note

    def render(self, fmt: str, dpi: float = 96) -> bytes:
        """The file's bytes in one of DIAGRAM_FORMATS; `dpi` sets a PNG's resolution."""
        if fmt == "svg":
            return self.svg.encode("utf-8")
        if fmt == "dot":
            return self.dot.encode("utf-8")
        if fmt == "json":
            return (json_text(self.graph.to_dict()) + "\n").encode("utf-8")
        if fmt == "png":
            return to_format(_with_dpi(self._laid_out_dot(), _check_dpi(dpi)), "png")
        if fmt == "pdf":
            return fixed_pdf_date(to_format(self._laid_out_dot(), "pdf"))
        raise ExplorerError(unknown_format(fmt, DIAGRAM_FORMATS))

    def save(self, path: str | os.PathLike, dpi: float = 96) -> Path:
        """Write the diagram; the extension chooses the format (.svg .png .pdf .dot .json)."""
        return write_atomic(path, self.render(format_of(path, DIAGRAM_FORMATS), dpi))

    def _laid_out_dot(self) -> str:
        if self.drawing.dot is None:
            raise ExplorerError(self.drawing.note)
        return self.drawing.dot

    # -- Jupyter --
    def _repr_svg_(self) -> str | None:
        return scalable_svg(self.drawing.svg, self.graph, inline=False) if self.drawing.svg else None

    def _repr_html_(self) -> str:
        note = f'<p style="font-size:0.85em;opacity:0.8">{html.escape(self.note)}</p>' if self.note else ""
        if self.drawing.svg is None:
            rows = "".join(f"<tr><td><code>{html.escape(name)}</code></td><td>{count:,}</td></tr>"
                           for name, count in self.drawing.ops)
            return f"{note}<table><tr><th>backward op</th><th>count</th></tr>{rows}</table>"
        return f'<div style="max-width:100%;overflow:auto">{scalable_svg(self.drawing.svg, self.graph)}</div>{note}'

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        bundle = {"text/plain": repr(self), "text/html": self._repr_html_()}
        if self.drawing.svg is not None:
            bundle["image/svg+xml"] = self._repr_svg_()
        return mime_bundle(bundle, include, exclude)

    def __repr__(self) -> str:
        folded = ", folded" if self.drawing.view.groups else ""
        return f"<Diagram of {self.graph.node(self.graph.output).name}: {len(self.graph.nodes)} nodes, " \
               f"{len(self.graph.edges)} edges{folded}>"


def draw(tensor: torch.Tensor, params: Mapping[str, torch.Tensor] | torch.nn.Module | None = None,
         name: str = "f", expand: bool = False) -> Diagram:
    """The autograd graph behind `tensor`, like torchviz's make_dot(tensor, params).

    `params` names the leaves: a dict of name -> tensor, or an nn.Module (its named_parameters()).
    `name` labels the output. A graph too big to lay out in time is drawn with its repeated
    blocks folded, unless `expand`; `Diagram.note` says what was folded.
    """
    graph = capture(tensor, _tensor_names(params), name)
    return Diagram(graph, lay_out(graph, expand=expand))


def diagram_of_pass(record: BackwardPass, expand: bool = False) -> Diagram:
    """The final state of a recorded backward pass: every leaf's .grad, every edge's gradient."""
    return Diagram(record.graph, lay_out(record.graph, record, expand=expand), record)


def fixed_pdf_date(pdf: bytes) -> bytes:
    """A PDF without the moment it was made: cairo (before 1.17) writes the clock into /CreationDate
    and ignores SOURCE_DATE_EPOCH. The date is replaced by one of the same length, so every byte
    offset in the file's cross-reference table stays right."""
    def constant(match: re.Match) -> bytes:
        date = match.group(1)
        fixed = (b"D:19700101000000" + re.sub(rb"\d", b"0", date[16:]))[:len(date)] if len(date) >= 16 else date
        return b"/CreationDate (" + fixed + b")"

    return re.sub(rb"/CreationDate \(([^)]*)\)", constant, pdf, count=1)


def _with_dpi(dot: str, dpi: float) -> str:
    """The same DOT with a resolution, as `dot -Tpng -Gdpi=N` would set it."""
    head, sep, rest = dot.partition("{\n")
    return f"{head}{sep}  graph [dpi={dpi:g}];\n{rest}"


def _check_dpi(dpi) -> float:
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not math.isfinite(dpi) \
            or not MIN_DPI <= dpi <= MAX_DPI:
        raise ExplorerError(f"dpi must be a number from {MIN_DPI} to {MAX_DPI}, not {dpi!r}.")
    return float(dpi)


def format_of(path, formats: tuple[str, ...]) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in formats:
        raise ExplorerError(unknown_format(suffix, formats, path))
    return suffix


def unknown_format(fmt: str, formats: tuple[str, ...], path=None) -> str:
    choices = ", ".join("." + f for f in formats)
    what = f"\"{path}\"" if path is not None else f"the format \"{fmt}\""
    return f"Cannot save {what}: unknown format; use a file name ending in one of {choices}."


def mime_bundle(bundle: dict[str, str], include, exclude) -> dict[str, str]:
    if include:
        bundle = {key: value for key, value in bundle.items() if key in include}
    if exclude:
        bundle = {key: value for key, value in bundle.items() if key not in exclude}
    return bundle


def _tensor_names(params) -> dict[str, torch.Tensor]:
    if params is None:
        return {}
    if isinstance(params, torch.nn.Module):
        return dict(params.named_parameters())
    if not isinstance(params, Mapping):
        raise ExplorerError("params must be a dict of name -> tensor (or an nn.Module), "
                            f"not a {type(params).__name__}.")
    for key, value in params.items():
        if not isinstance(value, torch.Tensor):
            raise ExplorerError(f"params[{key!r}] must be a tensor, not a {type(value).__name__}.")
    return {str(key): value for key, value in params.items()}
