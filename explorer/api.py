"""The Python API, for Jupyter and scripts: `explorer.draw(tensor)` and `explorer.animate(fn, params)`.

    import torch, explorer

    x = torch.tensor(3.0, requires_grad=True)
    explorer.draw(x ** 2, params={"x": x})            # the graph autograd recorded, inline
    explorer.animate(lambda x: x ** 2, {"x": 3.0})     # three real .backward() calls, the player inline

`draw` is torchviz's make_dot with our fixes: leaves named from `params`, every saved tensor a
node of its own, the output labelled, small tensors' values shown. `animate` runs real backward
calls on leaves that persist between calls, as a training loop does, and returns a Flow: the
player of the last call with the .grad history of all of them.

Both display themselves in Jupyter (`_repr_mimebundle_`): a Diagram as HTML and SVG that scale
to the cell's width; a Flow as the interactive player in an <iframe srcdoc> (front ends that
strip scripts from outputs still run a sandboxed iframe), plus a static SVG of the final state
for viewers that run no JavaScript. Both save to a file chosen by its extension.

Nothing here assumes the CPU: tensors stay on their device, and every value shown is copied
with .detach().to("cpu") (values.to_plain).
"""

from __future__ import annotations

import html
import inspect
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import torch

from explorer.core.backward import BackwardPass
from explorer.core.calls import BackwardSession, check_zeroing, repeat_calls
from explorer.drawing.layout import Drawing
from explorer.drawing.layout import draw as lay_out
from explorer.errors import ExplorerError
from explorer.files import write_atomic
from explorer.play.frames import Animation, build_animation, clean_svg
from explorer.core.graph import Graph, capture
from explorer.play.player import standalone_html
from explorer.drawing.render import to_dot, to_format
from explorer.values import format_number, json_text, parse_number, to_plain

DIAGRAM_FORMATS = ("svg", "png", "pdf", "dot", "json")
FLOW_FORMATS = ("html", *DIAGRAM_FORMATS)
MIN_DPI, MAX_DPI = 10, 1200
SVG_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


# -- draw -------------------------------------------------------------------------------------
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
        raise ExplorerError(_unknown_format(fmt, DIAGRAM_FORMATS))

    def save(self, path: str | os.PathLike, dpi: float = 96) -> Path:
        """Write the diagram; the extension chooses the format (.svg .png .pdf .dot .json)."""
        return write_atomic(path, self.render(_format_of(path, DIAGRAM_FORMATS), dpi))

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
        return _filtered(bundle, include, exclude)

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


# -- animate ----------------------------------------------------------------------------------
class Flow:
    """Real backward calls, recorded: the player of the last call, the .grad history of all of them."""

    def __init__(self, session: BackwardSession, animation: Animation, diagram: Diagram, title: str):
        self.session = session  # holds the leaves (tensors); never cache a Flow across users
        self.animation = animation  # frames.Animation: plain data only
        self.diagram = diagram  # the final state, drawn statically
        self.title = title

    @property
    def html(self) -> str:
        """One self-contained HTML page that plays the last call (no URL in it, works offline)."""
        return standalone_html(self.animation, self.title)

    @property
    def svg(self) -> str:
        return self.diagram.svg

    @property
    def dot(self) -> str:
        return self.diagram.dot

    @property
    def grads(self) -> dict[str, Any]:
        """Every leaf's .grad now, every element, as plain numbers (nested lists for a tensor);
        None for a leaf without a .grad. (The drawing shows values of small tensors only.)"""
        return self.session.full_grads()

    @property
    def record(self) -> BackwardPass:
        """The last call's events, in the engine's order."""
        return self.session.passes[-1]

    def report(self) -> dict:
        """The same JSON as `python -m explorer show --json`: graph, every call's events, history."""
        from explorer.cli import session_report

        return session_report(self.diagram.graph.node(self.diagram.graph.output).name, self.session)

    def render(self, fmt: str, dpi: float = 96) -> bytes:
        if fmt == "html":
            return self.html.encode("utf-8")
        if fmt == "json":
            return (json_text(self.report()) + "\n").encode("utf-8")
        if fmt in DIAGRAM_FORMATS:
            return self.diagram.render(fmt, dpi)
        raise ExplorerError(_unknown_format(fmt, FLOW_FORMATS))

    def save(self, path: str | os.PathLike, dpi: float = 96) -> Path:
        """.html: the standalone player; .json: the trace; .svg .png .pdf .dot: the final state."""
        return write_atomic(path, self.render(_format_of(path, FLOW_FORMATS), dpi))

    # -- Jupyter --
    def _repr_html_(self) -> str:
        """The player in a sandboxed iframe: its page goes in `srcdoc`, escaped for an attribute."""
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" title="{html.escape(self.title)}" '
                f'sandbox="allow-scripts" allow="fullscreen" '
                f'style="width:100%;height:{self._height()}px;border:0;resize:vertical"></iframe>')

    def _repr_svg_(self) -> str | None:
        return self.diagram._repr_svg_()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        bundle = {"text/plain": repr(self), "text/html": self._repr_html_()}
        static = self._repr_svg_()
        if static is not None:
            bundle["image/svg+xml"] = static
        return _filtered(bundle, include, exclude)

    def _height(self) -> int:
        """Tall enough for the player at a usual cell width (about 800 px), no inner scroll bar:
        its stage as player.js sizes it, the controls and caption, and the .grad strip, one row
        of chips per leaf (more when long values wrap). The iframe can be resized by dragging."""
        height = _svg_size(self.animation.svg)[1] if self.animation.svg else 0
        stage = min(max(height * 96 / 72 + 24, 260), 620) if height else 0
        strip = 0
        for leaf in self.animation.leaves.values():
            chips = sum(max(70, 9 * len(mark.texts.get(leaf, "")) + 24) + 20 for mark in self.animation.history)
            strip += 50 * max(1, math.ceil(chips / 640))
        return int(stage + 420 + strip)

    def __repr__(self) -> str:
        grads = ", ".join(f"{name}.grad = {_short(value)}" for name, value in self.grads.items())
        calls = self.animation.calls
        return (f"<Flow {self.title!r}: {calls} backward call{'s' if calls != 1 else ''}, "
                f"{self.animation.event_count} nodes ran in the last; {grads}>")


class _LeafSession(BackwardSession):
    """A BackwardSession on leaves the caller made (kept as they are, on their device), calling
    `fn(**leaves)`, or `fn()` for a function that reads its tensors itself (a model's loss)."""

    def __init__(self, fn: Callable, leaves: dict[str, torch.Tensor], output_name: str, pass_leaves: bool):
        self.fn = fn
        self.output_name = output_name
        self.leaves = leaves
        self.values = {name: to_plain(leaf) for name, leaf in leaves.items()}
        self.passes = []
        self.history = []
        self._pass_leaves = pass_leaves
        self._last_output = None

    def _call(self) -> torch.Tensor:
        return self.fn(**self.leaves) if self._pass_leaves else self.fn()

    def forward(self) -> torch.Tensor:
        output = self._call()
        if isinstance(output, torch.Tensor) and output.numel() != 1:
            raise ExplorerError(
                f"{self.output_name} has {output.numel()} values; .backward() needs a single number. "
                "Reduce it first, for example with .sum() or .mean()."
            )
        return output

    def value(self):
        with torch.no_grad():
            return to_plain(self._call())


def animate(fn: Callable[..., torch.Tensor], params: Mapping[str, Any] | torch.nn.Module | None = None,
            calls: int = 3, zero: str | None = None, name: str = "f", title: str | None = None,
            expand: bool = False) -> Flow:
    """Call .backward() `calls` times on leaves that persist, and animate the last call.

    Two ways to hand over the leaves:

    * `fn` takes the leaves as keyword arguments: `animate(lambda x, y: x**2 + y**3, {"x": 2.0, "y": -1.0})`.
      A number or list becomes a new float32 leaf; a tensor that already requires grad is used
      as it is (its .grad changes, as your own calls would change it); any other tensor is
      copied into a new leaf.
    * `fn` takes no arguments and reads its tensors itself, as a model's loss does:
      `animate(lambda: loss_fn(model(x), y), dict(model.named_parameters()), zero="set-none")`.
      Then `params` must be those tensors (leaves with requires_grad=True): they name the graph's
      leaves and their .grad is what the player shows. Their .grad is changed for real.

    Between calls `zero` does nothing (None or "none": .grad accumulates), `.grad.zero_()`
    ("zero") or `.grad = None` ("set-none").
    """
    check_zeroing(zero)
    calls_made = repeat_calls(session(fn, params, name), calls, zero)
    return animate_session(calls_made, title=title or _title_of(fn), expand=expand)


def session(fn: Callable[..., torch.Tensor], params: Mapping[str, Any] | torch.nn.Module | None = None,
            name: str = "f") -> BackwardSession:
    """Leaves for `fn` (handed over as for `animate`) and no call yet: make the calls yourself, in
    any order, then animate them with `animate_session`:

        s = explorer.session(lambda x: x**2, {"x": 5.0})
        s.backward(); s.backward(); s.zero_grad("zero"); s.backward()
        explorer.animate_session(s)

    Besides `backward(retain_graph=False)` a session has `backward_same_graph(retain_graph=False)`
    (.backward() again on the last output, refused as PyTorch refuses it once the graph is freed)
    and `zero_grad("zero")` (.grad.zero_()) or `zero_grad("set-none")` (.grad = None).
    """
    if not callable(fn):
        raise ExplorerError(f"fn must be a function that returns a tensor, not a {type(fn).__name__}.")
    pass_leaves = _takes_arguments(fn)
    leaves = _leaves(params, pass_leaves)
    if pass_leaves:
        _check_names(fn, leaves)
    return _LeafSession(fn, leaves, name, pass_leaves)


def _check_names(fn, leaves: dict[str, torch.Tensor]) -> None:
    """fn(**leaves) must be a call fn accepts, said before Python says it inside the first backward call."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: the call itself will tell
        return
    try:
        signature.bind(**leaves)
    except TypeError as error:
        wanted = ", ".join(signature.parameters) or "nothing"
        raise ExplorerError(f"fn takes {wanted}, but params gives {', '.join(leaves) or 'nothing'} "
                            f"({error}). Name each value as fn's parameter.") from None


def animate_session(calls_made: BackwardSession, title: str | None = None, expand: bool = False) -> Flow:
    """The player of a session's last backward call, with the .grad history of everything done to it."""
    if not calls_made.passes:
        raise ExplorerError("There is nothing to animate yet: call .backward() on the session first.")
    animation = build_animation(calls_made, expand=expand)
    return Flow(calls_made, animation, diagram_of_pass(calls_made.passes[-1], expand),
                title or _title_of(calls_made.fn))


# -- helpers ----------------------------------------------------------------------------------
def scalable_svg(svg: str, graph: Graph, inline: bool = True) -> str:
    """Graphviz's SVG fit for a notebook cell: never wider than the cell, never clipped, never
    blown up past its natural size; no prolog or comments; tooltips that name each node.

    `inline` (for HTML): width 100% of the cell, at most the natural width, height from the
    kept viewBox. Otherwise (image/svg+xml, which JupyterLab shows as an <img>): the natural
    width and height stay as the image's own size, and max-width 100% with height auto scales
    it down in a narrow cell (an <img> whose SVG says width="100%" would stretch to the cell).
    """
    body = clean_svg(svg, graph)
    match = re.match(r"<svg\b[^>]*>", body)
    if match is None:
        raise ExplorerError("Graphviz wrote an SVG without an <svg> element.")
    tag = match.group(0)
    width = re.search(r'\swidth="([^"]*)"', tag)
    height = re.search(r'\sheight="([^"]*)"', tag)
    attributes = re.sub(r'\s(width|height|style|xmlns(:xlink)?)="[^"]*"', "", tag[len("<svg"):-1]).strip()
    if inline:
        limit = f"max-width:{width.group(1)};" if width else ""
        size = f'width="100%" style="{limit}height:auto;display:block"'
    else:
        natural = " ".join(f'{key}="{found.group(1)}"' for key, found in (("width", width), ("height", height))
                           if found)
        size = f'{natural} style="max-width:100%;height:auto"'.strip()
    return f"<svg {size} {attributes} {SVG_NS}>" + body[match.end():]


def fixed_pdf_date(pdf: bytes) -> bytes:
    """A PDF without the moment it was made: cairo (before 1.17) writes the clock into /CreationDate
    and ignores SOURCE_DATE_EPOCH. The date is replaced by one of the same length, so every byte
    offset in the file's cross-reference table stays right."""
    def constant(match: re.Match) -> bytes:
        date = match.group(1)
        fixed = (b"D:19700101000000" + re.sub(rb"\d", b"0", date[16:]))[:len(date)] if len(date) >= 16 else date
        return b"/CreationDate (" + fixed + b")"

    return re.sub(rb"/CreationDate \(([^)]*)\)", constant, pdf, count=1)


def _svg_size(svg: str) -> tuple[float, float]:
    """An SVG's size in its viewBox units (points, for Graphviz)."""
    match = re.search(r'viewBox="([^"]*)"', svg)
    if not match:
        return 0.0, 0.0
    numbers = [float(n) for n in re.split(r"[\s,]+", match.group(1).strip())]
    return numbers[2], numbers[3]


def _with_dpi(dot: str, dpi: float) -> str:
    """The same DOT with a resolution, as `dot -Tpng -Gdpi=N` would set it."""
    head, sep, rest = dot.partition("{\n")
    return f"{head}{sep}  graph [dpi={dpi:g}];\n{rest}"


def _check_dpi(dpi) -> float:
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not math.isfinite(dpi) \
            or not MIN_DPI <= dpi <= MAX_DPI:
        raise ExplorerError(f"dpi must be a number from {MIN_DPI} to {MAX_DPI}, not {dpi!r}.")
    return float(dpi)


def _format_of(path, formats: tuple[str, ...]) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in formats:
        raise ExplorerError(_unknown_format(suffix, formats, path))
    return suffix


def _unknown_format(fmt: str, formats: tuple[str, ...], path=None) -> str:
    choices = ", ".join("." + f for f in formats)
    what = f"\"{path}\"" if path is not None else f"the format \"{fmt}\""
    return f"Cannot save {what}: unknown format; use a file name ending in one of {choices}."


def _filtered(bundle: dict[str, str], include, exclude) -> dict[str, str]:
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


def _takes_arguments(fn) -> bool:
    try:
        return bool(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # a builtin without a signature: hand it the leaves
        return True


def _leaves(params, pass_leaves: bool) -> dict[str, torch.Tensor]:
    if params is None:
        params = {}
    if isinstance(params, torch.nn.Module):
        params = dict(params.named_parameters())
    if not isinstance(params, Mapping):
        raise ExplorerError(f"params must be a dict of name -> value, not a {type(params).__name__}.")
    device = next((v.device for v in params.values() if isinstance(v, torch.Tensor)), torch.device("cpu"))
    leaves = {}
    for key, value in params.items():
        name = str(key)
        if isinstance(value, torch.Tensor):
            if value.requires_grad and not value.is_leaf:
                raise ExplorerError(f"{name} is computed from other tensors, so it is not a leaf and gets no "
                                    ".grad; pass the leaves it is made from.")
            if not pass_leaves and not value.requires_grad:
                raise ExplorerError(f"{name} does not require grad. A function without arguments reads its "
                                    "tensors itself, so params must be those tensors with requires_grad=True "
                                    "(for a model: dict(model.named_parameters())).")
            if value.requires_grad:
                leaves[name] = value
            elif value.is_floating_point() or value.is_complex():
                leaves[name] = value.detach().clone().requires_grad_(True)
            else:
                raise ExplorerError(f"{name} holds {str(value.dtype).removeprefix('torch.')} values; only "
                                    "floating-point tensors can have gradients. Use a float, e.g. 3.0.")
        elif not pass_leaves:
            raise ExplorerError(f"fn takes no arguments, so {name} = {value!r} could not reach it. Either give fn "
                                f"a parameter {name}, or pass the tensors fn uses (requires_grad=True).")
        elif isinstance(value, (list, tuple)):
            try:
                tensor = torch.tensor(value, dtype=torch.float32, device=device)
            except (TypeError, ValueError, RuntimeError) as error:
                raise ExplorerError(f"{name} must be a list of numbers with one length per level, such as "
                                    f"[1.0, 2.0] or [[1.0, 2.0], [3.0, 4.0]]: {error}.") from None
            if not torch.isfinite(tensor).all():
                raise ExplorerError(f"{name} holds a value that is not finite; please use finite numbers.")
            leaves[name] = tensor.requires_grad_(True)
        else:
            leaves[name] = torch.tensor(parse_number(value, name), dtype=torch.float32, device=device,
                                        requires_grad=True)
    return leaves


def _title_of(fn) -> str:
    name = getattr(fn, "__name__", type(fn).__name__)
    return "Backward pass of a lambda" if name == "<lambda>" else f"Backward pass of {name}"


def _short(value) -> str:
    text = format_number(value)
    return text if len(text) <= 40 else text[:37] + "..."
