"""Frames: a recorded backward pass turned into plain data the animation player steps through.

Everything here is computed once, in Python, from what the engine really did (backward.py's
events, calls.py's history). The player in the browser never computes a gradient: it only
toggles classes and sets texts that this module wrote. Every number in a frame or caption is a
recorded value (a gradient that arrived or left, a .grad before or after, a saved tensor, an
op's attribute) printed with values.format_number.

The graph is laid out once, through drawing.draw (bounded in time; a big loop's repeats folded
into one group node unless `expand`). Frames refer to the drawn ids: node ids (n0, n1, ...) and
edge ids (e0, e1, ...), which Graphviz keeps in the SVG; a node hidden in a folded group is shown
by its group's node (c0, ...), and an edge hidden in a group lights nothing.

Frame 0 is the seed (the gradient 1 at the output), then one frame per BackwardEvent in engine
order, then a final "done" frame. A pass with more than MAX_FRAMES events is summarised: several
consecutive events share a frame, so the data stays small and the end state stays exact.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from explorer.core.backward import BackwardEvent, BackwardPass
from explorer.core.calls import BackwardSession, HistoryEntry
from explorer.errors import ExplorerError
from explorer.core.graph import ACCUMULATE, INPUT, LEAF, LEAF_EDGE, OP, OUTPUT_EDGE, SAVED, SAVED_EDGE, Graph
from explorer.drawing.legend import KIND_LABELS, Look, Palette, legend_items, look_for
from explorer.drawing.collapse import GraphView
from explorer.drawing.layout import draw
from explorer.core.forward import ForwardView
from explorer.values import format_number, json_safe

MAX_ANIMATED_NODES = 400  # above this the player warns that stepping through is long
MAX_FRAMES = 1000  # above this many events, consecutive events share a frame
MAX_NAMESAKES_BY_LEAVES = 8  # ops sharing a name are told apart by their leaves up to this many, else counted

# Seed, one backward node, one AccumulateGrad, several events at once, the end.
SEED, NODE, ACCUMULATE_FRAME, SUMMARY, DONE = "seed", "node", "accumulate", "summary", "done"
# History marks, for the accumulation strip.
BACKWARD_MARK, ZERO_MARK, NONE_MARK, REFUSED_MARK = "backward", "zero", "none", "refused"


@dataclass(frozen=True)
class LitEdge:
    """An edge a gradient travels along in a frame; text is None for an edge that carries no label."""

    id: str
    text: str | None = None
    value: Any = None


@dataclass(frozen=True)
class GradChange:
    """At an AccumulateGrad: the leaf's .grad before, the gradient arriving, and .grad after."""

    leaf: str  # node id
    name: str
    before: Any
    arrived: Any
    after: Any
    text: str  # "12 → 18"


@dataclass(frozen=True)
class Frame:
    index: int
    kind: str
    title: str
    caption: str  # one line: the whole step, arithmetic included
    lines: tuple[str, ...]  # the same, one statement per line, for the caption panel
    active: str | None  # the drawn node running now (a folded node's group id)
    ran: tuple[str, ...]  # drawn nodes that ran in this frame (they are "done" in later frames)
    edges: tuple[LitEdge, ...] = ()
    leaf_grads: dict[str, str] = field(default_factory=dict)  # leaf id -> .grad text, where it changes
    events: tuple[int, ...] = ()  # indices into BackwardPass.events shown by this frame
    change: GradChange | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["lines"] = list(self.lines)
        data["ran"] = list(self.ran)
        data["events"] = list(self.events)
        data["edges"] = [asdict(edge) for edge in self.edges]
        return data


@dataclass(frozen=True)
class HistoryMark:
    """One thing done to the leaves (a backward call, zero_(), set to None) and every .grad after it."""

    number: int
    action: str
    mark: str
    grads: dict[str, Any]  # leaf name -> .grad value
    texts: dict[str, str]  # leaf name -> .grad as text
    current: bool  # the backward call the frames animate
    message: str = ""
    call: int | None = None  # 1, 2, 3 ... for backward calls (entries count zeroings too)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Animation:
    svg: str
    output: str
    nodes: dict[str, dict[str, str]]  # node id -> {"kind", "name"}
    leaves: dict[str, str]  # leaf node id -> leaf name
    frames: list[Frame]
    history: list[HistoryMark]
    calls: int
    too_large: bool
    note: str
    palette: dict[str, str]
    legend: list[tuple[str, str, str | None]]  # (fill, meaning, border or None)
    event_count: int
    dark: bool = False  # drawn on a dark background: the player's controls go dark too
    presentation: bool = False  # lecturer mode: the player's own text is large and high-contrast
    font_size: int = 12  # of the node labels in the SVG, in points
    forward: dict | None = None  # the forward pass linked to the drawn nodes (_forward_data)
    start_step: int | None = None  # where a newly mounted player opens (a deep link's ?step=)
    signature: str = ""  # a hash of everything above except start_step: the player rebuilds when it changes
    story: str = ""  # a hash of what happened (frames, history), whatever the look: kept across a look change

    def to_dict(self) -> dict:
        """Plain, standard-JSON data for the player (an inf or NaN gradient becomes the text "inf" or "nan")."""
        return json_safe({
            "version": 1,
            "signature": self.signature,
            "story": self.story,
            "svg": self.svg,
            "output": self.output,
            "nodes": self.nodes,
            "leaves": self.leaves,
            "frames": [frame.to_dict() for frame in self.frames],
            "history": {"leaves": list(self.leaves.values()), "entries": [m.to_dict() for m in self.history]},
            "calls": self.calls,
            "too_large": self.too_large,
            "note": self.note,
            "node_count": len(self.nodes),
            "event_count": self.event_count,
            "palette": self.palette,
            "legend": [list(item) for item in self.legend],
            "dark": self.dark,
            "presentation": self.presentation,
            "font_size": self.font_size,
            "forward": self.forward,
            "start_step": self.start_step,
        })


# -- building ---------------------------------------------------------------------------------
def build_animation(session: BackwardSession, look: Look = look_for(), expand: bool = False,
                    start_step: int | None = None, forward: ForwardView | None = None) -> Animation:
    """The player's data for the session's latest backward call, with the .grad history of all calls.

    `look` (legend.look_for: theme and lecturer mode) sets the colours, type size and line width
    of the drawing and of the player around it. `expand` asks for every node of a big graph to be
    drawn instead of folding its repeats. `start_step` is the frame a newly mounted player opens
    at (clamped to the frames; a deep link's ?step=). `forward` (forward.forward_view of the same
    function and values) adds the forward pass beside the graph, each line linked to its node.
    """
    if not session.passes:
        raise ExplorerError("There is nothing to animate yet: call .backward() once first.")
    return animate_pass(session.passes[-1], session.history, look, expand, start_step, forward)


def animate_pass(record: BackwardPass, history: list[HistoryEntry] = (), look: Look = look_for(),
                 expand: bool = False, start_step: int | None = None,
                 forward: ForwardView | None = None) -> Animation:
    """The player's data for one recorded pass (build_animation's core; usable without a session)."""
    look = look or look_for()  # None too means the default look
    palette = look.palette
    graph = record.graph
    drawing = draw(graph, record, palette, font_size=look.font_size, expand=expand, edge_width=look.edge_width)
    leaves = {node.id: node.name or node.id for node in graph.of_kind(LEAF)}
    too_large = len(graph.nodes) > MAX_ANIMATED_NODES
    notes = [drawing.note, _size_note(graph, record) if too_large else ""]
    frames = _frames(record, drawing.view)
    animation = Animation(
        svg=clean_svg(drawing.svg, graph) if drawing.svg else "",
        output=graph.output,
        nodes={node.id: {"kind": node.kind, "name": node.name} for node in graph.nodes},
        leaves=leaves,
        frames=frames,
        history=_history(history),
        calls=sum(1 for entry in history if entry.is_backward) or 1,
        too_large=too_large,
        note=" ".join(note for note in notes if note),
        palette=_css_palette(palette),
        legend=legend_items(palette),
        event_count=len(record.events),
        dark=is_dark(palette),
        presentation=is_presentation(look),
        font_size=look.font_size,
        forward=_forward_data(forward, graph, drawing.view) if forward is not None else None,
        start_step=None if start_step is None else min(max(int(start_step), 0), len(frames) - 1),
    )
    animation.signature = _signature(animation)
    animation.story = _story(animation)
    return animation


def is_dark(palette: Palette) -> bool:
    """A palette drawn on a dark background (legend.DARK, PRESENTATION_DARK): by its luminance."""
    return _luminance(palette.background) < 0.18


def is_presentation(look: Look) -> bool:
    """Lecturer mode's look (legend.look_for(presentation=True)), or any look with type as large."""
    return look.font_size >= look_for(presentation=True).font_size


def _luminance(colour: str) -> float:
    """WCAG relative luminance of a #rrggbb colour."""
    channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _forward_data(forward: ForwardView, graph: Graph, view: GraphView) -> dict:
    """forward.to_dict(), with texts to show and, for every node it names, the id drawn for it.

    `drawn` maps a graph node id to the element that shows it: itself, or the folded group hiding
    it (collapse.GraphView.where). A node the drawn graph does not have (a forward view of another
    function) maps to nothing, so its line links to nothing rather than to a wrong node.
    """
    data = forward.to_dict()
    known = {node.id for node in graph.nodes}
    named = [step.node for step in forward.steps if step.node] + list(forward.leaves.values()) \
        + list(forward.leaf_nodes.values())
    data["drawn"] = {node_id: view.where(node_id) if node_id in known else None for node_id in named if node_id}
    for step in data["steps"]:
        step["value_text"] = None if step["value"] is None else format_number(step["value"])
    data["leaf_values"] = {name: _leaf_value_text(graph, node_id) for name, node_id in forward.leaf_nodes.items()}
    return data


def _leaf_value_text(graph: Graph, node_id: str) -> str | None:
    try:
        node = graph.node(node_id)
    except KeyError:
        return None
    return None if node.value is None else format_number(node.value)


def _frames(record: BackwardPass, view: GraphView) -> list[Frame]:
    steps = _Steps(record, view)
    frames = [steps.seed()]
    chunk = max(1, math.ceil(len(record.events) / MAX_FRAMES))
    for start in range(0, len(record.events), chunk):
        events = record.events[start:start + chunk]
        frame = steps.event(events[0]) if len(events) == 1 else steps.summary(events)
        frames.append(frame)
    frames.append(steps.done())
    return [replace(frame, index=index) for index, frame in enumerate(frames)]


class _Steps:
    """Writes the frames of one pass: which edges light up, and the chain rule in words."""

    def __init__(self, record: BackwardPass, view: GraphView):
        self.record = record
        self.graph: Graph = record.graph
        self.at = view.where  # the drawn id of a node: itself, or the folded group hiding it
        # Only edges drawn with their own id can light up; one into or inside a folded group is not.
        drawn = [(i, e) for i, e in enumerate(self.graph.edges) if self.at(e.src) == e.src and self.at(e.dst) == e.dst]
        self.edge_of = {(e.dst, e.slot): f"e{i}" for i, e in drawn if e.kind == INPUT}
        self.leaf_edge_of = {e.dst: f"e{i}" for i, e in drawn if e.kind == LEAF_EDGE}
        # AccumulateGrad id -> its leaf's name
        self.leaf_name_of = {e.dst: self.graph.node(e.src).name for e in self.graph.edges if e.kind == LEAF_EDGE}
        self.received: dict[str, list[Any]] = {}  # node id -> gradients sent to it so far, in order
        self.total = len(record.events)
        # An op's name -> every op of that name, in the order the engine ran them (then any it did not run).
        ran = {event.node: index for index, event in enumerate(record.events)}
        self.namesakes: dict[str, list[str]] = {}
        for node in sorted(self.graph.of_kind(OP), key=lambda n: ran.get(n.id, len(ran))):
            self.namesakes.setdefault(node.name, []).append(node.id)
        self.order = {op: position + 1 for same in self.namesakes.values() for position, op in enumerate(same)}
        self.inputs: dict[str, list[str]] = {}  # node id -> the nodes its gradient goes to
        for edge in self.graph.edges:
            if edge.kind == INPUT:
                self.inputs.setdefault(edge.dst, []).append(edge.src)
        self.below: dict[str, list[str]] = {}  # op id -> _leaves_below(op id), computed once

    # -- frames --
    def seed(self) -> Frame:
        graph, seed = self.graph, self.record.seed
        output = graph.node(graph.output)
        out_index, out_edge = next((i, e) for i, e in enumerate(graph.edges) if e.kind == OUTPUT_EDGE)
        first = self.describe(out_edge.src)
        text = format_number(seed)
        lines = (f"{output.name}.backward() starts at the output {output.name} with the gradient {text} "
                 f"(d{output.name}/d{output.name} = 1)",
                 f"it goes to {first}, the node that made {output.name}")
        grads_before = {leaf.id: self._leaf_grad_before(leaf) for leaf in graph.of_kind(LEAF)}
        return Frame(0, SEED, "Seed", "Seed: " + "; ".join(lines), lines, graph.output, (graph.output,),
                     edges=(LitEdge(f"e{out_index}", text, seed),),
                     leaf_grads={leaf: format_number(value) for leaf, value in grads_before.items()})

    def event(self, event: BackwardEvent) -> Frame:
        arrived_line = self._arrived_line(event)
        if event.leaf is not None:
            return self._accumulate(event, arrived_line)
        edges, sends = [], []
        for position, sent in enumerate(event.grads_out):
            line, edge = self._send(event, position, sent)
            sends.append(line)
            if edge is not None:
                edges.append(edge)
        lines = (arrived_line, *sends)
        title = f"Step {event.step + 1} of {self.total}: {self.describe(event.node)}"
        node = self.at(event.node)
        return Frame(0, NODE, title, f"{event.name}: " + "; ".join(lines), lines, node, (node,),
                     edges=tuple(edges), events=(event.step,))

    def summary(self, events: list[BackwardEvent]) -> Frame:
        """Several events at once (a very long pass): the end state stays exact, the words get shorter."""
        parts = [self.event(event) for event in events]
        first, last = events[0].step + 1, events[-1].step + 1
        names = ", ".join(event.name for event in events[:4]) + (", ..." if len(events) > 4 else "")
        lines = (f"{len(events)} backward nodes ran: {names}",) + tuple(part.caption for part in parts[:3])
        leaf_grads = {leaf: text for part in parts for leaf, text in part.leaf_grads.items()}
        change = next((part.change for part in reversed(parts) if part.change), None)
        return Frame(0, SUMMARY, f"Steps {first} to {last} of {self.total}", "; ".join(lines), lines,
                     parts[-1].active, tuple(node for part in parts for node in part.ran),
                     edges=tuple(edge for part in parts for edge in part.edges), leaf_grads=leaf_grads,
                     events=tuple(event.step for event in events), change=change)

    def done(self) -> Frame:
        leaves = self.graph.of_kind(LEAF)
        lines = (f"the engine ran {self.total} backward node{'s' if self.total != 1 else ''}",
                 *(self._final_line(leaf) for leaf in leaves))
        return Frame(0, DONE, "Done", "Done: " + "; ".join(lines), lines, None, ())

    # -- the pieces of a caption --
    def _arrived_line(self, event: BackwardEvent) -> str:
        arrived = _value_text(event.grads_in[0] if len(event.grads_in) == 1 else list(event.grads_in))
        parts = self.received.get(event.node, [])
        if len(parts) > 1 and all(isinstance(p, float) for p in parts):
            summed = " + ".join(_factor(p) for p in parts)
            return f"{summed} = {arrived} arrives (the engine adds the gradients of its {len(parts)} paths)"
        return f"{arrived} arrives"

    def _send(self, event: BackwardEvent, position: int, sent) -> tuple[str, LitEdge | None]:
        if sent.to is None:
            return f"input {sent.slot} needs no gradient (a constant or a tensor without requires_grad)", None
        self.received.setdefault(sent.to, []).append(sent.value)
        target = self.describe(sent.to)
        text = _value_text(sent.value, sent.shape)
        edge_id = self.edge_of.get((event.node, sent.slot))
        edge = LitEdge(edge_id, text, sent.value) if edge_id else None
        local = event.local_derivative[position] if event.local_derivative else None
        if local is None:
            return f"sends {text} to {target}", edge
        rule = self._local_rule(event, sent.slot, local)
        arrived = event.grads_in[0]
        return f"{rule}; sends {_factor(arrived)} × {_factor(local)} = {text} to {target}", edge

    def _local_rule(self, event: BackwardEvent, slot: int, local: float) -> str:
        """The local derivative in words for common ops; its number is always the recorded one."""
        name, value = event.name, format_number(local)
        node = self.graph.node(event.node)
        if name.startswith("PowBackward"):
            exponent = dict(node.attrs).get("exponent")
            base = self._saved(event.node, "self")
            if exponent is not None and base is not None:
                return f"local derivative {_power_rule(exponent, *base)} = {value}"
        if name.startswith("MulBackward"):
            other = self._saved(event.node, "other" if slot == 0 else "self")
            who = f" {other[0]}" if other and other[0] != "input" else ""
            return f"local derivative = the other factor{who} = {value}"
        if name.startswith("AddBackward"):
            return f"local derivative {value} (a sum passes the gradient on)"
        if name.startswith("SubBackward"):
            role = "the first term" if slot == 0 else "the subtracted term"
            return f"local derivative {value} ({role} of a difference)"
        return f"local derivative {value} (sent ÷ arrived)"

    def _accumulate(self, event: BackwardEvent, arrived_line: str) -> Frame:
        leaf = self.graph.node(event.leaf)
        before, after = event.grad_before, event.grad_after
        arrived = event.grads_in[0] if len(event.grads_in) == 1 else list(event.grads_in)
        change_text = f"{format_number(before)} → {format_number(after)}"
        if before is None:
            rule = f"{leaf.name} had no .grad yet, so .grad becomes {format_number(after)}"
        else:
            rule = (f"{_value_text(before)} + {_factor(arrived)} = {_value_text(after)} "
                    "(.backward() adds to .grad, it never overwrites it)")
        lines = (f"{arrived_line} for {leaf.name}", f"{leaf.name}.grad {change_text}", rule)
        edges = (LitEdge(self.leaf_edge_of[event.node]),) if event.node in self.leaf_edge_of else ()
        change = GradChange(leaf.id, leaf.name, before, arrived, after, change_text)
        node = self.at(event.node)
        return Frame(0, ACCUMULATE_FRAME, f"Step {event.step + 1} of {self.total}: AccumulateGrad ({leaf.name})",
                     "AccumulateGrad: " + "; ".join(lines), lines, node, (node,), edges=edges,
                     leaf_grads={leaf.id: format_number(after)}, events=(event.step,), change=change)

    # -- lookups --
    def describe(self, node_id: str) -> str:
        """A node as a student reads it: AccumulateGrad (x) names its leaf, and an op whose name another
        op shares says which one it is: PowBackward0 (of x) and PowBackward0 (of y) in x**2 + y**3."""
        node = self.graph.node(node_id)
        if node.kind == ACCUMULATE:
            leaf = self._leaf_of(node_id)
            if leaf is not None:
                return f"AccumulateGrad ({leaf})"
        same = self.namesakes.get(node.name, [])
        if node.kind != OP or len(same) < 2:
            return node.name
        # Naming by leaves walks the graph once per namesake: worth it for a few, not for a loop's 1,000.
        of = self._leaves_below(node_id) if len(same) <= MAX_NAMESAKES_BY_LEAVES else []
        if of and all(self._leaves_below(other) != of for other in same if other != node_id):
            return f"{node.name} (of {', '.join(of)})"
        return f"{node.name} (#{self.order[node_id]} of {len(same)} to run)"

    def _leaf_of(self, accumulate_id: str) -> str | None:
        return self.leaf_name_of.get(accumulate_id)

    def _leaves_below(self, op_id: str) -> list[str]:
        """Every leaf an op's gradient reaches, in the graph's order: the inputs it was computed from."""
        if op_id in self.below:
            return self.below[op_id]
        seen, stack, leaves = set(), [op_id], set()
        while stack:  # iterative: a 5,000-step chain must not hit the recursion limit
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            if self.graph.node(current).kind == ACCUMULATE:
                leaves.add(current)
            stack.extend(self.inputs.get(current, []))
        names = [self._leaf_of(node.id) for node in self.graph.nodes if node.id in leaves]
        self.below[op_id] = [name for name in names if name]
        return self.below[op_id]

    def _saved(self, op_id: str, name: str) -> tuple[str, Any] | None:
        """(what it is, value) of a tensor an op saved: the leaf's name when it is a leaf, else 'input'."""
        for edge in self.graph.edges:
            if edge.kind == SAVED_EDGE and edge.src == op_id:
                saved = self.graph.node(edge.dst)
                if saved.kind == SAVED and saved.name == name:
                    label = self.graph.node(saved.refers_to).name if saved.refers_to else "input"
                    return label, saved.value
        return None

    def _leaf_grad_before(self, leaf) -> Any:
        event = next((e for e in self.record.events if e.leaf == leaf.id), None)
        return event.grad_before if event else self.record.grads_before.get(leaf.name)

    def _final_line(self, leaf) -> str:
        line = f"{leaf.name}.grad = {format_number(self._final_grad(leaf.id))}"
        before = self._leaf_grad_before(leaf)
        return line if before is None else f"{line} (it held {format_number(before)} before this call)"

    def _final_grad(self, leaf_id: str) -> Any:
        event = next((e for e in reversed(self.record.events) if e.leaf == leaf_id), None)
        return event.grad_after if event else self.record.grads_after.get(self.graph.node(leaf_id).name)


# -- small formatting helpers -----------------------------------------------------------------
def _value_text(value, shape=None) -> str:
    """A gradient as text; a tensor too big to record shows its shape."""
    if value is None and shape:
        return "tensor of shape (" + ", ".join(str(n) for n in shape) + ")"
    return format_number(value)


def _factor(value) -> str:
    """A number inside a product or sum: negative numbers in parentheses, 1 × (-2)."""
    text = _value_text(value)
    return f"({text})" if text.startswith("-") else text


SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _power_rule(exponent: str, base_name: str, base_value) -> str:
    """d/du u**e = e·u^(e−1), written with the recorded exponent and saved value: 2·x = 2·3."""
    try:
        e = float(exponent)
    except ValueError:
        return f"{exponent}·{base_name}^({exponent}−1)"
    shown = format_number(e)
    if e == 2:
        formula, numbers = f"2·{base_name}", f"2·{_factor(base_value)}"
    elif e == int(e):
        power = format_number(e - 1).translate(SUPERSCRIPTS)
        formula, numbers = f"{shown}·{base_name}{power}", f"{shown}·{_factor(base_value)}{power}"
    else:
        formula, numbers = f"{shown}·{base_name}^({shown}−1)", ""
    if base_value is None or isinstance(base_value, list) or not numbers:
        return formula
    return f"{formula} = {numbers}"


def _history(history) -> list[HistoryMark]:
    backward_numbers = [entry.number for entry in history if entry.is_backward]
    current = backward_numbers[-1] if backward_numbers else None
    calls = {number: index + 1 for index, number in enumerate(backward_numbers)}
    return [HistoryMark(entry.number, entry.action, _mark(entry.action), dict(entry.grads),
                        {name: format_number(value) for name, value in entry.grads.items()},
                        entry.number == current, entry.message, calls.get(entry.number))
            for entry in history]


def _mark(action: str) -> str:
    if action.startswith("backward"):
        return BACKWARD_MARK
    return {"zero_()": ZERO_MARK, "set to None": NONE_MARK}.get(action, REFUSED_MARK)


def _size_note(graph: Graph, record: BackwardPass) -> str:
    return (f"This graph has {len(graph.nodes)} nodes and the backward pass ran {len(record.events)} of them, "
            f"more than the {MAX_ANIMATED_NODES} nodes a step-by-step reading is made for. Zoom in to read it, "
            "let it play fast, or press End to jump to the result.")


def _css_palette(palette: Palette) -> dict[str, str]:
    return {key: value for key, value in asdict(palette).items()}


def _signature(animation: Animation) -> str:
    """A short hash of the content: the player rebuilds itself only when it changes.

    Not of start_step: a page that keeps ?step= in step with the player passes a new start_step
    on every rerun, and that must not rebuild (and rewind) the player.
    """
    data = animation.to_dict()
    for key in ("signature", "story", "start_step"):
        data.pop(key)
    return _hash(data)


def _story(animation: Animation) -> str:
    """A short hash of what the animation tells, not how it is drawn: the same pass in another look
    (lecturer mode switched on, the theme changed) has the same story, and the player keeps its step."""
    data = animation.to_dict()
    return _hash({key: data[key] for key in ("output", "nodes", "leaves", "frames", "history", "calls", "event_count")})


def _hash(data) -> str:
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:16]


# -- the SVG, made fit to inline into a page ---------------------------------------------------
def clean_svg(svg: str, graph: Graph) -> str:
    """Graphviz's SVG without its XML prolog, comments and namespace URLs, with readable tooltips.

    Inline in HTML the parser puts <svg> in the SVG namespace itself, so the xmlns attributes are
    not needed, and dropping them keeps the standalone page free of any URL. Graphviz's <title>
    elements hold our ids (n3, n1->n0); hovering a node shows what it is instead.
    """
    start = svg.find("<svg")
    svg = re.sub(r"<!--.*?-->\n?", "", svg[start:], flags=re.S)
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    return re.sub(r'<title>([^<]*)</title>\n?', lambda m: _tooltip(graph, m.group(1)), svg)


def _tooltip(graph: Graph, title: str) -> str:
    try:
        node = graph.node(title)
    except KeyError:
        return ""  # an edge or the graph itself: no tooltip
    kind = KIND_LABELS.get(node.kind, node.kind)
    return f"<title>{_xml(node.name)} : {_xml(kind)}</title>\n"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
