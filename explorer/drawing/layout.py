"""Drawing any graph within a bounded time: whole when it is small, folded when it repeats,
a table of its ops when nothing else can be laid out in time. The app, the CLI and the
exports draw through here so that no graph can hang them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from explorer.core.backward import BackwardPass
from explorer.drawing.collapse import GraphView, collapse, summary
from explorer.core.graph import Graph
from explorer.drawing.legend import DEFAULT_LOOK, Look
from explorer.drawing.render import LAYOUT_SECONDS, LayoutTimeout, to_dot, to_svg

MAX_DRAWN_NODES = 3000  # beyond this many nodes on screen a picture stops teaching anything


@dataclass
class Drawing:
    view: GraphView
    dot: str | None  # None when only a summary could be made
    svg: str | None
    note: str  # what was folded or left out, for the student; empty when the whole graph is drawn
    ops: list[tuple[str, int]]  # backward ops by count, always available

    @property
    def complete(self) -> bool:
        return self.svg is not None and not self.view.groups


def lay_out(graph: Graph, backward: BackwardPass | None = None, look: Look = DEFAULT_LOOK, expand: bool = False,
            seconds: float = LAYOUT_SECONDS, marked: Mapping[str, str] | None = None) -> Drawing:
    """Lay the graph out, folding repeats unless `expand`, and never waiting on dot beyond `seconds`.
    `marked`: node id -> a line saying what went wrong there (render.to_dot)."""
    views = [GraphView(graph)] if expand else []
    views.append(collapse(graph))
    views.append(collapse(graph, above=0))
    tried = set()
    for view in views:
        key = tuple(group.members for group in view.groups)
        if key in tried or view.drawn_nodes > MAX_DRAWN_NODES:
            continue
        tried.add(key)
        dot = to_dot(graph, backward, look, view, marked)
        try:
            svg = to_svg(dot, seconds)
        except LayoutTimeout:
            continue
        return Drawing(view, dot, svg, _note(graph, view, expand), summary(graph))
    return Drawing(GraphView(graph), None, None,
                   f"This graph has {len(graph.nodes):,} nodes and no repeated structure small enough to draw "
                   f"within {seconds:g} seconds, so here is what it is made of instead.", summary(graph))


def _note(graph: Graph, view: GraphView, expand: bool) -> str:
    if not view.groups:
        return ""
    folded = sum(len(group.members) for group in view.groups)
    repeats = ", ".join(f"× {group.repeats}" for group in view.groups)
    ask = "" if expand else " Choose to show every node to draw them all (slower)."
    if expand:
        ask = (" Every node is more than can be laid out in time (or drawn usefully), "
               "so the repeats stay folded.")
    return (f"This graph has {len(graph.nodes):,} nodes; {folded:,} of them are folded into "
            f"{len(view.groups)} repeated block{'s' if len(view.groups) > 1 else ''} ({repeats}).{ask}")
