"""The live notebook widget: `explorer.widget(fn, params)`, the player with the page's buttons.

Built on anywidget, so it runs wherever Jupyter widgets do (JupyterLab, Notebook 7, VS Code,
Colab). The buttons (buttons.BUTTONS: .backward(), zero_(), = None, the same graph again, start
over) make real calls on the kernel's tensors, and so do `w.backward()`, `w.zero_grad(...)` from
code; each press goes through buttons.press, as on the app's page, and the picture follows.

What the widget syncs with the browser is plain data only (text, numbers, the player's frames):
the leaves live in a BackwardSession held in a plain attribute of this kernel's object, never in
a trait. A click arrives as a message {press, retain, seq, view}; each view numbers its clicks,
and a number is applied once, in order (a repeated or older one is dropped), as the page applies
its press log. Without a kernel (a saved notebook on GitHub) the output's text/html and
image/svg+xml show the graph as it was when the cell ran.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any, Callable

import anywidget
import torch
import traitlets

from explorer.core.actions import Action, zeroing
from explorer.core.buttons import AGAIN, BACKWARD, BUTTONS, CALLS, LABELS, NONE, RESET, ZERO, button_help, press
from explorer.core.calls import BackwardSession, repeat_calls
from explorer.drawing.diagram import Diagram, diagram_of_pass
from explorer.drawing.layout import lay_out
from explorer.drawing.legend import DEFAULT_LOOK, Look, look_for
from explorer.drawing.svg import scalable_svg
from explorer.errors import ExplorerError
from explorer.play.flow import session as new_session, title_of
from explorer.play.frames import build_animation
from explorer.play.player import widget_css, widget_js
from explorer.values import format_number

MOST_VIEWS = 100  # views whose press numbers are kept (a view is one display of the widget in a page)
VIEW_TOKEN_CHARS = 64


class Widget(anywidget.AnyWidget):
    """The player of a session's latest call, with buttons that make real calls in the kernel.

    `w.backward()`, `w.backward_same_graph()`, `w.zero_grad("zero" | "set-none")` and
    `w.start_over()` do what the buttons do; `w.grads` reads every leaf's .grad; `w.session` is
    the BackwardSession (its tensors: `w.session.leaves`)."""

    _esm = widget_js()
    _css = widget_css()

    title = traitlets.Unicode("").tag(sync=True)
    buttons = traitlets.List().tag(sync=True)  # [name, label, tooltip] per button
    animation = traitlets.Dict().tag(sync=True)  # frames.Animation.to_dict(), {} before any call
    graph_svg = traitlets.Unicode("").tag(sync=True)  # the graph before any call
    status = traitlets.Unicode("").tag(sync=True)  # every leaf's .grad, as text
    message = traitlets.Unicode("").tag(sync=True)  # the last press's refusal or error, "" if none
    applied = traitlets.Dict().tag(sync=True)  # view token -> the number of its last press applied
    # The notebook's theme, as the browser reports it (widget.mjs): the picture is drawn to match.
    dark = traitlets.Bool(False).tag(sync=True)

    def __init__(self, calls_made: BackwardSession, title: str, expand: bool = False):
        super().__init__(title=title)
        self._session = calls_made  # the tensors: a plain attribute, never synced
        self._expand = expand
        self.buttons = [[name, LABELS[name], button_help(name, calls_made)] for name in BUTTONS]
        self.on_msg(self._on_message)
        self._show(new_call=False)

    # -- what code can do: the buttons' presses ------------------------------------------------
    @property
    def session(self) -> BackwardSession:
        return self._session

    @property
    def grads(self) -> dict[str, Any]:
        """Every leaf's .grad now, every element, as plain numbers (None for a leaf without one)."""
        return self._session.full_grads()

    def backward(self, retain_graph: bool = False) -> None:
        """Build f again from the same leaves and call .backward() (the "Call .backward()" button)."""
        self._press(BACKWARD, retain_graph, raise_errors=True)

    def backward_same_graph(self, retain_graph: bool = False) -> None:
        """.backward() on the last output again; PyTorch refuses once the graph is freed (GraphFreedError)."""
        self._press(AGAIN, retain_graph, raise_errors=True)

    def zero_grad(self, zero: Action | str | None = "zero") -> None:
        """"zero": every .grad.zero_(); "set-none": .grad = None; None or "none": nothing."""
        action = zeroing(zero)
        if action is not None:
            self._press(ZERO if action is Action.ZERO else NONE, False, raise_errors=True)

    def start_over(self) -> None:
        """No history and every .grad None (leaves made from numbers are made again)."""
        self._press(RESET, False, raise_errors=True)

    # -- the browser's presses ----------------------------------------------------------------
    def _on_message(self, _widget, content, _buffers) -> None:
        """A click: {press, retain, seq, view}. Anything else (the browser may send anything) is dropped."""
        if not isinstance(content, Mapping):
            return
        name, seq, view, retain = content.get("press"), content.get("seq"), content.get("view"), content.get("retain")
        if (name not in BUTTONS or type(seq) is not int or not isinstance(view, str) or not view
                or len(view) > VIEW_TOKEN_CHARS or not isinstance(retain, bool)):
            return
        if seq <= self.applied.get(view, 0):
            return  # applied already: each press once
        applied = {token: number for token, number in self.applied.items() if token != view}
        while len(applied) >= MOST_VIEWS:
            applied.pop(next(iter(applied)))
        applied[view] = seq
        self.applied = applied  # marked before the call, so an error in it never applies it again
        self._press(name, retain, raise_errors=False)

    def _press(self, name: str, retain_graph: bool, raise_errors: bool) -> None:
        try:
            self._session = press(self._session, name, retain_graph)
            self.message = ""
        except ExplorerError as error:
            self.message = str(error)
            if raise_errors:
                raise
        finally:
            self._show(new_call=name in CALLS and not self.message)

    # -- the picture ----------------------------------------------------------------------------
    @traitlets.observe("dark")
    def _theme_changed(self, _change) -> None:
        self._show(new_call=False)  # the same story in another look: the player keeps its step

    def _show(self, new_call: bool) -> None:
        calls_made = self._session
        look = look_for(dark=self.dark)
        if calls_made.passes:
            data = build_animation(calls_made, look=look, expand=self._expand).to_dict()
            data["autoplay"] = new_call  # a new call's player plays once by itself (player.js)
            self.animation, self.graph_svg = data, ""
        else:
            diagram = self._static(look)
            self.animation = {}
            self.graph_svg = scalable_svg(diagram.drawing.svg, diagram.graph) if diagram.drawing.svg else ""
        calls = sum(entry.is_backward for entry in calls_made.history)
        grads = ", ".join(f"{leaf}.grad = {format_number(value)}" for leaf, value in calls_made.grads().items())
        self.status = f"{grads} (after {calls} backward call{'' if calls == 1 else 's'})"

    def _static(self, look: Look = DEFAULT_LOOK) -> Diagram:
        """The state drawn without JavaScript: the last call's pass, or the graph before any call.
        A saved notebook keeps it in the default (light) look: it is read on pages of any theme."""
        calls_made = self._session
        if calls_made.passes:
            return diagram_of_pass(calls_made.passes[-1], self._expand)
        graph = calls_made.graph()
        return Diagram(graph, lay_out(graph, look=look, expand=self._expand))

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus the static picture for a front end that has no widget manager or no
        kernel: a notebook saved and read on GitHub shows the graph as it was when the cell ran."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        static = self._static()
        data["text/html"] = (f"<p>{html.escape(self.status)}</p>{static._repr_html_()}"
                             "<p><em>A live explorer widget: run the cell in a kernel for its buttons.</em></p>")
        svg = static._repr_svg_()
        if svg is not None:
            data["image/svg+xml"] = svg
        return data, metadata

    def __repr__(self) -> str:
        return f"<explorer Widget {self.title!r}: {self.status}>"


def widget(fn: Callable[..., torch.Tensor], params: Mapping[str, Any] | torch.nn.Module | None = None,
           calls: int = 0, zero: str | None = None, name: str = "f", title: str | None = None,
           expand: bool = False, gradient: Any = None) -> Widget:
    """The player with the app's buttons, live in a notebook: each click is a real call in the kernel.

    `fn` and `params` are as for explorer.animate (numbers become new leaves; tensors that require
    grad are used as they are, so their .grad changes for real). `calls` backward calls are made
    first (with `zero` between them), none by default: the widget then shows the graph until a
    button or `w.backward()` makes one. `gradient` seeds each call, as `f.backward(gradient=v)` does.
    """
    zeroing(zero)
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
        raise ExplorerError(f"The number of calls must be a whole number, 0 or more, not {calls!r}.")
    calls_made = new_session(fn, params, name, gradient)
    if calls:
        repeat_calls(calls_made, calls, zero)
    return Widget(calls_made, title or title_of(fn), expand)

