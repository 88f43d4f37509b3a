"""Render: a Graph (and, optionally, a backward pass) -> DOT text -> SVG through Graphviz's dot.

The DOT text is a pure function of the graph, so it is stable across runs and can key a
cache of layouts. Nodes and edges carry ids (n0..., e0...) that survive into the SVG, where
the animation player finds them.

Edges are drawn the way the gradient travels: the output at the top, each arrow from a node to
the node the engine sends its gradient to (its grad_fn.next_functions), down to AccumulateGrad
and the leaf whose .grad it writes. A Graph's edges point the forward way (an input into the op
that used it), so every arrow here is that edge reversed; a saved tensor's dashed line has no
arrow. torchviz draws the forward way; its own view in the app stays as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
import shutil
import subprocess

from explorer.core.backward import BackwardPass, ChangedOnTheWay, hooked_edges
from explorer.drawing.collapse import GraphView
from explorer.errors import ExplorerError
from explorer.core.graph import (ACCUMULATE, BASE, INPUT, LEAF, LEAF_EDGE, OUTPUT, OUTPUT_EDGE, SAVED, SAVED_EDGE,
                                 VIEW_EDGE, Edge, Graph, Node)
from explorer.drawing.legend import DEFAULT_LOOK, Look, Palette, fill_for
from explorer.values import format_number

LAYOUT_SECONDS = 10  # a layout that takes longer is stopped, and drawing falls back to a smaller view
# A node that feeds more than this many ops (a leaf reused at every step of a loop) is drawn
# once, plus a small reference copy beside each further use. Its long edges would otherwise
# span many ranks, each a chain of virtual nodes, and dot's layout blows up (60 loop steps: 27 s).
SHARED_FAN_OUT = 3
MONOSPACE_EM = 0.62  # width of one monospace character, in font sizes (a little over the usual 0.6)
NODE_PADDING_PT = 20  # Graphviz's default side margins of a box, in points


def node_label(node: Node, grad=None, show_grad: bool = False, same_as: str | None = None) -> str:
    """The text of a node, torchviz-style: name, then shape, then the value of a small tensor.

    `same_as` names the leaf a saved tensor is (x**2 saves x itself), which torchviz cannot show.
    """
    if node.kind in (LEAF, SAVED, OUTPUT, BASE):
        lines = [node.name or "(unnamed leaf)", _shape_text(node.shape)]
        if node.value is not None:
            lines.append("= " + format_number(node.value))
        if node.kind == SAVED and same_as:
            lines.append(f"(is {same_as})")
        if node.kind == LEAF and show_grad:
            lines.append("grad = " + format_number(grad))
        return "\n".join(lines)
    lines = [node.name]
    if node.attrs:
        lines.append("-" * max(len(node.name), 8))
        lines += [f"{key}: {value}" for key, value in node.attrs]
    return "\n".join(lines)


def hook_label(sent_text: str, change: ChangedOnTheWay) -> str:
    """An edge's text where a hook replaced the gradient: what was sent, then what arrived instead."""
    if len(change.sources) == 1:
        return f"{sent_text} → hook → {format_number(change.arrived)}"
    return f"{sent_text} (+ the others, hook → {format_number(change.arrived)})"


def to_dot(graph: Graph, backward: BackwardPass | None = None, look: Look = DEFAULT_LOOK,
           view: GraphView | None = None, marked: Mapping[str, str] | None = None) -> str:
    """DOT text for the graph in a look (legend.look_for). With a backward pass, leaves show their .grad,
    edges the gradient sent, and an edge where a hook replaced it says so. With a view (collapse.py), nodes
    it hides are drawn as their group's one node. `marked` maps a node id to a line saying what is wrong
    there (the node whose saved tensor an in-place operation changed): drawn in the warning colour."""
    view = view or GraphView(graph)
    marked = marked or {}
    hooked = hooked_edges(backward) if backward is not None else {}
    palette, font_size, edge_width = look.palette, look.font_size, look.edge_width
    grad_of_leaf, grad_before = {}, {}
    sent_along = {}
    if backward is not None:
        for event in backward.events:
            if event.leaf is not None:
                grad_of_leaf[event.leaf] = event.grad_after
                grad_before[event.leaf] = event.grad_before
            for sent in event.grads_out:
                sent_along[(event.node, sent.slot)] = sent.value
    lines = [
        "digraph autograd {",
        f'  graph [bgcolor="{palette.background}" ordering=out ranksep=0.3 nodesep=0.3 fontname="monospace"];',
        f'  node [shape=box style="filled,rounded" fontname="monospace" fontsize={font_size} '
        f'fontcolor="{palette.text}" color="{palette.edge}" height=0.3 penwidth={edge_width:g}];',
        f'  edge [color="{palette.edge}" fontname="monospace" fontsize={font_size - 1} fontcolor="{palette.gradient}" '
        f'penwidth={edge_width:g} arrowsize={max(1.0, edge_width / 2):g}];',
    ]
    for node in graph.nodes:
        if node.id in view.group_of:
            continue
        attrs = {
            "id": node.id,
            "label": node_label(node, grad_of_leaf.get(node.id), show_grad=backward is not None,
                                same_as=graph.node(node.refers_to).name if node.refers_to else None),
            "fillcolor": fill_for(node.kind, palette),
            "class": f"kind-{node.kind}",
        }
        if node.id in grad_before:
            # The animation shows .grad before this call too ("grad = None"): size the box for both texts.
            longest = max(len(line) for line in (attrs["label"] + "\ngrad = " + format_number(grad_before[node.id])).split("\n"))
            attrs["width"] = f"{(longest * MONOSPACE_EM * font_size + NODE_PADDING_PT) / 72:.2f}"
        if node.kind == ACCUMULATE:
            attrs["color"] = palette.accumulate_border
            attrs["penwidth"] = f"{2 * edge_width:g}"
        if node.id in marked:
            attrs["label"] += "\n" + marked[node.id]
            attrs.update({"color": palette.warning, "penwidth": f"{3 * edge_width:g}",
                          "class": attrs["class"] + " marked"})
        lines.append(f"  {node.id} [{_attr_list(attrs)}];")
    for group in view.groups:
        lines.append(f'  {group.id} [{_attr_list({"id": group.id, "label": group.label, "class": "collapsed", "shape": "box3d", "fillcolor": palette.op})}];')
    group_edges = set()
    fan_out = {}
    for edge in graph.edges:
        if edge.kind == INPUT:
            fan_out[edge.src] = fan_out.get(edge.src, 0) + 1
    shared = any(count > SHARED_FAN_OUT for count in fan_out.values())
    leaf_name = {e.dst: graph.node(e.src).name for e in graph.edges if e.kind == LEAF_EDGE}
    uses = {}
    for index, edge in enumerate(graph.edges):
        src, dst = view.where(edge.src), view.where(edge.dst)
        if src != edge.src or dst != edge.dst:  # an edge into, out of or inside a group
            if src != dst and (src, dst) not in group_edges:
                group_edges.add((src, dst))
                lines.append(f'  {_arrow(edge, src, dst)} [class="edge-group"];')
            continue
        attrs = {"id": f"e{index}", "class": f"edge-{edge.kind}"}
        if edge.kind == INPUT and fan_out[edge.src] > SHARED_FAN_OUT:
            uses[src] = uses.get(src, 0) + 1
            if uses[src] > 1:
                src = f"{edge.src}r{uses[src]}"
                reference = _reference_attrs(graph.node(edge.src), leaf_name.get(edge.src), palette)
                lines.append(f"  {src} [{_attr_list(reference)}];")
        elif edge.kind in (INPUT, OUTPUT_EDGE) and shared:
            attrs["weight"] = "4"  # heavier main edges keep the chain straight; reference edges bend instead
        if edge.kind == SAVED_EDGE:
            attrs.update({"dir": "none", "style": "dashed", "color": palette.saved})
        if edge.kind == VIEW_EDGE:  # shared memory, not a step of the gradient: no arrowhead
            attrs.update({"dir": "none", "style": "dotted"})
        if edge.kind == INPUT and (edge.dst, edge.slot) in sent_along:
            attrs["label"] = " " + format_number(sent_along[(edge.dst, edge.slot)])
            change = hooked.get((edge.dst, edge.src))
            if change is not None:
                attrs["label"] = " " + hook_label(attrs["label"][1:], change)
                attrs.update({"class": attrs["class"] + " edge-hooked", "color": palette.warning,
                              "fontcolor": palette.warning, "penwidth": f"{2 * edge_width:g}"})
        if edge.kind == OUTPUT_EDGE and backward is not None:
            attrs["label"] = " " + format_number(backward.seed)  # the seed gradient, d f / d f = 1
        lines.append(f"  {_arrow(edge, src, edge.dst)} [{_attr_list(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _arrow(edge: Edge, src: str, dst: str) -> str:
    """DOT for one edge, pointing where the gradient goes: from the node that uses a tensor to the node
    that made it (a saved tensor hangs below the op that saved it, its line without an arrowhead)."""
    return f"{src} -> {dst}" if edge.kind == SAVED_EDGE else f"{dst} -> {src}"


def _reference_attrs(node: Node, leaf_name: str | None, palette: Palette) -> dict[str, str]:
    """A small stand-in for a shared node at one of its uses, named after the leaf it writes."""
    label = f"{node.name} ({leaf_name})" if leaf_name else f"{node.name} (again)"
    return {"label": label, "fillcolor": fill_for(node.kind, palette), "style": "filled,rounded,dashed",
            "fontsize": "9", "class": f"ref ref-of-{node.id} kind-{node.kind}"}


class LayoutTimeout(ExplorerError):
    """dot did not finish within its time bound; the caller falls back to a smaller view."""


def to_svg(dot_text: str, seconds: float = LAYOUT_SECONDS) -> str:
    """Lay out DOT text with the real `dot` and return the SVG. Cached by the text itself."""
    return _layout(dot_text, "svg", seconds).decode("utf-8")


def to_format(dot_text: str, fmt: str, seconds: float = LAYOUT_SECONDS) -> bytes:
    """Any format `dot` writes (svg, png, pdf), from DOT text."""
    return _layout(dot_text, fmt, seconds)


@functools.lru_cache(maxsize=256)
def _layout(dot_text: str, fmt: str, seconds: float) -> bytes:
    binary = shutil.which("dot")
    if binary is None:
        raise ExplorerError("Graphviz's `dot` program is not installed, so the graph cannot be drawn. "
                            "Run `make run`, which installs it, or install the `graphviz` package.")
    try:
        done = subprocess.run([binary, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=seconds, check=False)
    except subprocess.TimeoutExpired:  # subprocess.run has killed dot by now
        raise LayoutTimeout(f"Graphviz could not lay this graph out within {seconds:g} seconds.") from None
    if done.returncode != 0:
        raise ExplorerError("Graphviz could not draw this graph: " + done.stderr.decode("utf-8", "replace").strip())
    return done.stdout


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")" if shape is not None else ""


def _attr_list(attrs: dict[str, str]) -> str:
    return " ".join(f'{key}="{_escape(str(value))}"' for key, value in attrs.items())


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


