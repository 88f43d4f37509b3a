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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from explorer.core.actions import Action
from explorer.core.backward import BackwardEvent, BackwardPass, hooked_edges
from explorer.core.calls import BackwardSession, HistoryEntry
from explorer.core.forward import ForwardView
from explorer.core.graph import INPUT, LEAF, LEAF_EDGE, OUTPUT_EDGE, Graph
from explorer.drawing.collapse import GraphView
from explorer.drawing.layout import lay_out
from explorer.drawing.render import hook_label
from explorer.drawing.legend import DEFAULT_LOOK, Look, Palette, legend_items
from explorer.drawing.svg import clean_svg
from explorer.errors import ExplorerError
from explorer.play import captions
from explorer.play.broadcast import reduction_line
from explorer.play.captions import NodeNames, value_text
from explorer.play.inspect import node_info
from explorer.values import format_number, json_safe, not_finite_note

MAX_ANIMATED_NODES = 400  # above this the player warns that stepping through is long
MAX_FRAMES = 1000  # above this many events, consecutive events share a frame

# Seed, one backward node, one AccumulateGrad, several events at once, the end.
SEED, NODE, ACCUMULATE_FRAME, SUMMARY, DONE = "seed", "node", "accumulate", "summary", "done"


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
    """One thing done to the leaves (a backward call, zero_(), set to None) and every .grad after it.

    In the player's JSON: "action" is the Action's value ("backward", "backward-same-graph",
    "refused", "zero", "set-none"), "label" the text shown for it, "call" 1, 2, 3 ... for the
    backward calls that ran and null otherwise."""

    number: int
    action: Action
    grads: dict[str, Any]  # leaf name -> .grad value
    texts: dict[str, str]  # leaf name -> .grad as text
    current: bool  # the backward call the frames animate
    message: str = ""
    call: int | None = None  # 1, 2, 3 ... for backward calls (entries count zeroings too)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["action"] = self.action.value
        data["label"] = self.action.label
        return data


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
    dark: bool = False  # drawn on a dark background: the player's controls go dark too (Look.dark)
    presentation: bool = False  # lecturer mode: the player's own text is large and high-contrast
    folded: bool = False  # repeated blocks are drawn folded into one node each (collapse.py)
    font_size: int = 12  # of the node labels in the SVG, in points
    forward: dict | None = None  # the forward pass linked to the drawn nodes (_forward_data)
    start_step: int | None = None  # where a newly mounted player opens (a deep link's ?step=)
    inspect: dict[str, dict] = field(default_factory=dict)  # drawn node id -> the inspector's info (inspect.py)
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
            "folded": self.folded,
            "font_size": self.font_size,
            "forward": self.forward,
            "inspect": self.inspect,
            "start_step": self.start_step,
        })


# -- building ---------------------------------------------------------------------------------
def build_animation(session: BackwardSession, look: Look = DEFAULT_LOOK, expand: bool = False,
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


def animate_pass(record: BackwardPass, history: list[HistoryEntry] = (), look: Look = DEFAULT_LOOK,
                 expand: bool = False, start_step: int | None = None,
                 forward: ForwardView | None = None) -> Animation:
    """The player's data for one recorded pass (build_animation's core; usable without a session)."""
    look = look or DEFAULT_LOOK  # None too means the default look
    palette = look.palette
    graph = record.graph
    drawing = lay_out(graph, record, look, expand=expand)
    leaves = {node.id: node.name or node.id for node in graph.of_kind(LEAF)}
    too_large = len(graph.nodes) > MAX_ANIMATED_NODES
    notes = [drawing.note, captions.size_note(len(graph.nodes), len(record.events), MAX_ANIMATED_NODES)
             if too_large else "", _not_finite_note(record) or ""]
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
        dark=look.dark,
        presentation=look.presentation,
        folded=bool(drawing.view.groups),
        font_size=look.font_size,
        forward=_forward_data(forward, graph, drawing.view) if forward is not None else None,
        inspect=node_info(record, drawing.view, frames, forward),
        start_step=None if start_step is None else min(max(int(start_step), 0), len(frames) - 1),
    )
    animation.signature = _signature(animation)
    animation.story = _story(animation)
    return animation


def _not_finite_note(record: BackwardPass) -> str | None:
    """Why the output or a .grad is inf or NaN, for the player itself: it plays on its own (an HTML file,
    a notebook) where no page around it says so."""
    output = record.graph.node(record.graph.output)
    return not_finite_note({output.name or "f": output.value, **{f"{name}.grad": value
                                                                 for name, value in record.grads_after.items()}},
                           markdown=False)


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
    """Writes the frames of one pass: which nodes and edges light up (captions.py writes the words)."""

    def __init__(self, record: BackwardPass, view: GraphView):
        self.record = record
        self.graph: Graph = record.graph
        self.names = NodeNames(record)
        self.at = view.where  # the drawn id of a node: itself, or the folded group hiding it
        # Only edges drawn with their own id can light up; one into or inside a folded group is not.
        drawn = [(i, e) for i, e in enumerate(self.graph.edges) if self.at(e.src) == e.src and self.at(e.dst) == e.dst]
        self.edge_of = {(e.dst, e.slot): f"e{i}" for i, e in drawn if e.kind == INPUT}
        self.leaf_edge_of = {e.dst: f"e{i}" for i, e in drawn if e.kind == LEAF_EDGE}
        self.received: dict[str, list[Any]] = {}  # node id -> gradients sent to it so far, in order
        self.hooked = hooked_edges(record)  # (sender, receiver) -> what a hook made of the gradient between
        self.total = len(record.events)

    # -- frames --
    def seed(self) -> Frame:
        graph, seed = self.graph, self.record.seed
        output = graph.node(graph.output)
        out_index, out_edge = next((i, e) for i, e in enumerate(graph.edges) if e.kind == OUTPUT_EDGE)
        text = format_number(seed)
        lines = captions.seed_lines(output.name, text, self.names.describe(out_edge.src), self.record.seed_given)
        grads_before = {leaf.id: self._leaf_grad_before(leaf) for leaf in graph.of_kind(LEAF)}
        return Frame(0, SEED, "Seed", "Seed: " + "; ".join(lines), lines, graph.output, (graph.output,),
                     edges=(LitEdge(f"e{out_index}", text, seed),),
                     leaf_grads={leaf: format_number(value) for leaf, value in grads_before.items()})

    def event(self, event: BackwardEvent) -> Frame:
        arrived = event.grads_in[0] if len(event.grads_in) == 1 else list(event.grads_in)
        # What was sent to a node with several outputs went to different ones of them: no sum to write.
        parts = self.received.get(event.node, []) if len(event.grads_in) == 1 else []
        arrived_line = captions.arrived_line(arrived, parts, self._dtype(event))
        if event.leaf is not None:
            return self._accumulate(event, arrived, arrived_line)
        edges, sends = [], []
        for position, sent in enumerate(event.grads_out):
            line, edge = self._send(event, position, sent)
            sends.append(line)
            if edge is not None:
                edges.append(edge)
        lines = (arrived_line, *sends)
        title = f"Step {event.step + 1} of {self.total}: {self.names.describe(event.node)}"
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
        final = [(leaf.name, self._final_grad(leaf.id), self._leaf_grad_before(leaf))
                 for leaf in self.graph.of_kind(LEAF)]
        lines = captions.done_lines(self.total, final)
        return Frame(0, DONE, "Done", "Done: " + "; ".join(lines), lines, None, ())

    # -- the pieces of a frame --
    def _send(self, event: BackwardEvent, position: int, sent) -> tuple[str, LitEdge | None]:
        if sent.to is None:
            return captions.no_gradient_line(sent.slot), None
        self.received.setdefault(sent.to, []).append(sent.value)
        target = self.names.describe(sent.to)
        text = value_text(sent.value, sent.shape)
        change = self.hooked.get((event.node, sent.to))
        edge_id = self.edge_of.get((event.node, sent.slot))
        edge = LitEdge(edge_id, hook_label(text, change) if change else text, sent.value) if edge_id else None
        hook = captions.hook_line(change.arrived, change.sent, len(change.sources)) if change else ""
        local = event.local_derivative[position] if event.local_derivative else None
        if local is None:
            reduced = reduction_line(event.grads_in[0] if event.grads_in else None, sent.value)
            return captions.send_line(text, target) + (f" ({reduced})" if reduced else "") + hook, edge
        rule = self.names.local_rule(event.node, event.name, sent.slot, local)
        return captions.send_line(text, target, rule, event.grads_in[0], local) + hook, edge

    def _accumulate(self, event: BackwardEvent, arrived, arrived_line: str) -> Frame:
        leaf = self.graph.node(event.leaf)
        before, after = event.grad_before, event.grad_after
        lines = captions.accumulate_lines(leaf.name, arrived_line, before, arrived, after, leaf.dtype)
        edges = (LitEdge(self.leaf_edge_of[event.node]),) if event.node in self.leaf_edge_of else ()
        change = GradChange(leaf.id, leaf.name, before, arrived, after, captions.change_text(before, after))
        node = self.at(event.node)
        return Frame(0, ACCUMULATE_FRAME, f"Step {event.step + 1} of {self.total}: AccumulateGrad ({leaf.name})",
                     "AccumulateGrad: " + "; ".join(lines), lines, node, (node,), edges=edges,
                     leaf_grads={leaf.id: format_number(after)}, events=(event.step,), change=change)

    # -- lookups --
    def _dtype(self, event: BackwardEvent) -> str | None:
        """The dtype gradients have at this node: its leaf's at an AccumulateGrad, else the output's."""
        node = self.graph.node(event.leaf) if event.leaf is not None else self.graph.node(self.graph.output)
        return node.dtype

    def _leaf_grad_before(self, leaf) -> Any:
        event = next((e for e in self.record.events if e.leaf == leaf.id), None)
        return event.grad_before if event else self.record.grads_before.get(leaf.name)

    def _final_grad(self, leaf_id: str) -> Any:
        event = next((e for e in reversed(self.record.events) if e.leaf == leaf_id), None)
        return event.grad_after if event else self.record.grads_after.get(self.graph.node(leaf_id).name)


def _history(history) -> list[HistoryMark]:
    backward_numbers = [entry.number for entry in history if entry.is_backward]
    current = backward_numbers[-1] if backward_numbers else None
    calls = {number: index + 1 for index, number in enumerate(backward_numbers)}
    return [HistoryMark(entry.number, entry.action, dict(entry.grads),
                        {name: format_number(value) for name, value in entry.grads.items()},
                        entry.number == current, entry.message, calls.get(entry.number))
            for entry in history]


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
