"""Real backward calls, recorded and animated: `explorer.animate(fn, params)` and
`explorer.session(fn, params)` + `explorer.animate_session(s)`, for Jupyter and scripts.

`animate` runs real backward calls on leaves that persist between calls, as a training loop
does, and returns a Flow: the player of the last call with the .grad history of all of them. A
Flow displays itself in Jupyter as the interactive player in an <iframe srcdoc> (front ends that
strip scripts from outputs still run a sandboxed iframe), plus a static SVG of the final state
for viewers that run no JavaScript, and saves to a file chosen by its extension.

Nothing here assumes the CPU: tensors stay on their device, and every value shown is copied
with .detach().to("cpu") (values.to_plain).
"""

from __future__ import annotations

import html
import inspect
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import torch

from explorer.core.actions import zeroing
from explorer.core.backward import BackwardPass
from explorer.core.calls import BackwardSession, repeat_calls
from explorer.core.report import session_report
from explorer.drawing.diagram import DIAGRAM_FORMATS, Diagram, diagram_of_pass, format_of, mime_bundle, unknown_format
from explorer.drawing.svg import svg_size
from explorer.errors import ExplorerError
from explorer.files import write_atomic
from explorer.play.frames import Animation, build_animation
from explorer.play.player import standalone_html
from explorer.values import format_number, json_text, parse_number, to_plain

FLOW_FORMATS = ("html", *DIAGRAM_FORMATS)


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
        return session_report(self.diagram.graph.node(self.diagram.graph.output).name, self.session)

    def render(self, fmt: str, dpi: float = 96) -> bytes:
        if fmt == "html":
            return self.html.encode("utf-8")
        if fmt == "json":
            return (json_text(self.report()) + "\n").encode("utf-8")
        if fmt in DIAGRAM_FORMATS:
            return self.diagram.render(fmt, dpi)
        raise ExplorerError(unknown_format(fmt, FLOW_FORMATS))

    def save(self, path: str | os.PathLike, dpi: float = 96) -> Path:
        """.html: the standalone player; .json: the trace; .svg .png .pdf .dot: the final state."""
        return write_atomic(path, self.render(format_of(path, FLOW_FORMATS), dpi))

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
        return mime_bundle(bundle, include, exclude)

    def _height(self) -> int:
        """Tall enough for the player at a usual cell width (about 800 px), no inner scroll bar:
        its stage as player.js sizes it, the controls and caption, and the .grad strip, one row
        of chips per leaf (more when long values wrap). The iframe can be resized by dragging."""
        height = svg_size(self.animation.svg)[1] if self.animation.svg else 0
        stage = min(max(height * 96 / 72 + 24, 260), 620) if height else 0
        strip = 0
        for leaf in self.animation.leaves.values():
            chips = sum(max(70, 9 * len(mark.texts.get(leaf, "")) + 24) + 20 for mark in self.animation.history)
            strip += 50 * max(1, math.ceil(chips / 640))
        return int(stage + 420 + strip)

    def __repr__(self) -> str:
        # Summarized grads: a repr (and a notebook's text/plain) must not list a million elements.
        grads = ", ".join(f"{name}.grad = {_short(value)}" for name, value in self.session.grads().items())
        calls = self.animation.calls
        return (f"<Flow {self.title!r}: {calls} backward call{'s' if calls != 1 else ''}, "
                f"{self.animation.event_count} nodes ran in the last; {grads}>")


def animate(fn: Callable[..., torch.Tensor], params: Mapping[str, Any] | torch.nn.Module | None = None,
            calls: int = 3, zero: str | None = None, name: str = "f", title: str | None = None,
            expand: bool = False, gradient: Any = None) -> Flow:
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

    A function whose output is not a single number needs the seed of each call, as
    `f.backward(gradient=v)` does: `gradient=v` (a tensor, list or number of the output's shape).
    """
    zeroing(zero)
    calls_made = repeat_calls(session(fn, params, name, gradient), calls, zero)
    return animate_session(calls_made, title=title or title_of(fn), expand=expand)


def session(fn: Callable[..., torch.Tensor], params: Mapping[str, Any] | torch.nn.Module | None = None,
            name: str = "f", gradient: Any = None) -> BackwardSession:
    """Leaves for `fn` (handed over as for `animate`) and no call yet: make the calls yourself, in
    any order, then animate them with `animate_session`:

        s = explorer.session(lambda x: x**2, {"x": 5.0})
        s.backward(); s.backward(); s.zero_grad("zero"); s.backward()
        explorer.animate_session(s)

    Besides `backward(retain_graph=False)` a session has `backward_same_graph(retain_graph=False)`
    (.backward() again on the last output, refused as PyTorch refuses it once the graph is freed)
    and `zero_grad("zero")` (.grad.zero_()) or `zero_grad("set-none")` (.grad = None). `gradient`
    seeds every call, as `f.backward(gradient=v)` does (needed when fn's output is not one number).
    """
    if not callable(fn):
        raise ExplorerError(f"fn must be a function that returns a tensor, not a {type(fn).__name__}.")
    pass_leaves = _takes_arguments(fn)
    leaves = _leaves(params, pass_leaves)
    if pass_leaves:
        _check_names(fn, leaves)
    made = BackwardSession.of_leaves(fn, leaves, name, pass_leaves)
    made.gradient = seed_numbers(gradient)
    return made


def seed_numbers(gradient: Any) -> Any:
    """`gradient=` as the session keeps it: plain numbers (a session holds no tensor but its leaves)."""
    if gradient is None:
        return None
    if isinstance(gradient, torch.Tensor):
        if not (gradient.is_floating_point() or gradient.is_complex()):
            raise ExplorerError(f"gradient must hold floating-point numbers, not {str(gradient.dtype).removeprefix('torch.')}.")
        return to_plain(gradient, limit=None)
    try:
        seed = torch.tensor(gradient, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ExplorerError(f"gradient must be a tensor, a number or a list of numbers of the output's shape: {error}.") from None
    return to_plain(seed, limit=None)


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
                title or title_of(calls_made.fn))


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


def title_of(fn) -> str:
    name = getattr(fn, "__name__", type(fn).__name__)
    return "Backward pass of a lambda" if name == "<lambda>" else f"Backward pass of {name}"


def _short(value) -> str:
    text = format_number(value)
    return text if len(text) <= 40 else text[:37] + "..."
