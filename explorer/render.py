"""Render: a Graph (and, optionally, a backward pass) -> DOT text -> SVG through Graphviz's dot.

The DOT text is a pure function of the graph, so it is stable across runs and can key a
cache of layouts. Nodes and edges carry ids (n0..., e0...) that survive into the SVG, where
the animation player finds them.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from explorer.backward import BackwardPass
from explorer.errors import ExplorerError
from explorer.graph import ACCUMULATE, INPUT, LEAF, OUTPUT, OUTPUT_EDGE, SAVED, SAVED_EDGE, Graph, Node
from explorer.legend import LIGHT, Palette, fill_for
from explorer.values import format_number

LAYOUT_SECONDS = 20  # a layout that takes longer is stopped with a clear message
# A node that feeds more than this many ops (a leaf reused at every step of a loop) is drawn
# once, plus a small reference copy beside each further use. Its long edges would otherwise
# span many ranks, each a chain of virtual nodes, and dot's layout blows up (60 loop steps: 27 s).
SHARED_FAN_OUT = 3


def node_label(node: Node, grad=None, show_grad: bool = False, same_as: str | None = None) -> str:
    """The text of a node, torchviz-style: name, then shape, then the value of a small tensor.

    `same_as` names the leaf a saved tensor is (x**2 saves x itself), which torchviz cannot show.
    """
    if node.kind in (LEAF, SAVED, OUTPUT):
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


def to_dot(graph: Graph, backward: BackwardPass | None = None, palette: Palette = LIGHT, font_size: int = 12) -> str:
    """DOT text for the graph. With a backward pass, leaves show their .grad and edges the gradient sent."""
    grad_of_leaf = {}
    sent_along = {}
    if backward is not None:
        for event in backward.events:
            if event.leaf is not None:
                grad_of_leaf[event.leaf] = event.grad_after
            for sent in event.grads_out:
                sent_along[(event.node, sent.slot)] = sent.value
    lines = [
        "digraph autograd {",
        f'  graph [bgcolor="{palette.background}" ordering=in ranksep=0.3 nodesep=0.3 fontname="monospace"];',
        f'  node [shape=box style="filled,rounded" fontname="monospace" fontsize={font_size} '
        f'fontcolor="{palette.text}" color="{palette.edge}" height=0.3];',
        f'  edge [color="{palette.edge}" fontname="monospace" fontsize={font_size - 1} fontcolor="{palette.gradient}"];',
    ]
    for node in graph.nodes:
        attrs = {
            "id": node.id,
            "label": node_label(node, grad_of_leaf.get(node.id), show_grad=backward is not None,
                                same_as=graph.node(node.refers_to).name if node.refers_to else None),
            "fillcolor": fill_for(node.kind, palette),
            "class": f"kind-{node.kind}",
        }
        if node.kind == ACCUMULATE:
            attrs["color"] = palette.accumulate_border
            attrs["penwidth"] = "2"
        lines.append(f"  {node.id} [{_attr_list(attrs)}];")
    fan_out = {}
    for edge in graph.edges:
        if edge.kind == INPUT:
            fan_out[edge.src] = fan_out.get(edge.src, 0) + 1
    uses = {}
    for index, edge in enumerate(graph.edges):
        attrs = {"id": f"e{index}", "class": f"edge-{edge.kind}"}
        src = edge.src
        if edge.kind == INPUT and fan_out[src] > SHARED_FAN_OUT:
            uses[src] = uses.get(src, 0) + 1
            if uses[src] > 1:
                src = f"{edge.src}r{uses[src]}"
                lines.append(f"  {src} [{_attr_list(_reference_attrs(graph, graph.node(edge.src), palette))}];")
        if edge.kind == SAVED_EDGE:
            attrs.update({"dir": "none", "style": "dashed", "color": palette.saved})
        if edge.kind == INPUT and (edge.dst, edge.slot) in sent_along:
            attrs["label"] = " " + format_number(sent_along[(edge.dst, edge.slot)])
        if edge.kind == OUTPUT_EDGE and backward is not None:
            attrs["label"] = " " + format_number(backward.seed)  # the seed gradient, d f / d f = 1
        lines.append(f"  {src} -> {edge.dst} [{_attr_list(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _reference_attrs(graph: Graph, node: Node, palette: Palette) -> dict[str, str]:
    """A small stand-in for a shared node at one of its uses, named after the leaf it writes."""
    leaf = next((graph.node(e.src).name for e in graph.edges if e.dst == node.id and e.src != node.id
                 and graph.node(e.src).kind == LEAF), None)
    label = f"{node.name} ({leaf})" if leaf else f"{node.name} (again)"
    return {"label": label, "fillcolor": fill_for(node.kind, palette), "style": "filled,rounded,dashed",
            "fontsize": "9", "class": f"ref ref-of-{node.id} kind-{node.kind}"}


def to_svg(dot_text: str) -> str:
    """Lay out DOT text with the real `dot` and return the SVG. Cached by the text itself."""
    return _layout(dot_text, "svg").decode("utf-8")


def to_format(dot_text: str, fmt: str) -> bytes:
    """Any format `dot` writes (svg, png, pdf), from DOT text."""
    return _layout(dot_text, fmt)


@functools.lru_cache(maxsize=256)
def _layout(dot_text: str, fmt: str) -> bytes:
    binary = shutil.which("dot")
    if binary is None:
        raise ExplorerError("Graphviz's `dot` program is not installed, so the graph cannot be drawn. "
                            "Run `make run`, which installs it, or install the `graphviz` package.")
    try:
        done = subprocess.run([binary, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=LAYOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise ExplorerError(f"This graph is too large to lay out within {LAYOUT_SECONDS} seconds.") from None
    if done.returncode != 0:
        raise ExplorerError("Graphviz could not draw this graph: " + done.stderr.decode("utf-8", "replace").strip())
    return done.stdout


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")" if shape is not None else ""


def _attr_list(attrs: dict[str, str]) -> str:
    return " ".join(f'{key}="{_escape(str(value))}"' for key, value in attrs.items())


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# -- The player's layout: a shared node's many long edges drawn as short stubs ------------------
# A leaf used at every step of a loop (`h = h * 1.01 + x`) gives its AccumulateGrad an edge into
# every step. Each such edge spans many ranks, dot turns it into a chain of virtual nodes and its
# positioning blows up (120 steps: over 20 s; 165 steps: dot crashes). Drawing each of those
# edges from a small dashed copy of the shared node, placed beside the op that uses it, lays out
# the same 165-step graph in 0.15 s. The edge keeps its id, so the player lights it as usual.
STUB_FAN_OUT = 4  # a node feeding more ops than this gets stubs


def stubbed_edges(graph: Graph) -> set[int]:
    """Indices of the input edges drawn from a stub: those leaving a node that feeds many ops."""
    fan_out: dict[str, int] = {}
    for edge in graph.edges:
        if edge.kind == INPUT:
            fan_out[edge.src] = fan_out.get(edge.src, 0) + 1
    return {index for index, edge in enumerate(graph.edges)
            if edge.kind == INPUT and fan_out[edge.src] > STUB_FAN_OUT}


def to_dot_for_player(graph: Graph, backward: BackwardPass | None = None, palette: Palette = LIGHT,
                      font_size: int = 12) -> str:
    """to_dot(), with the edges of stubbed_edges() drawn from stubs. Identical when there are none."""
    dot_text = to_dot(graph, backward, palette, font_size)
    stubs = stubbed_edges(graph)
    if not stubs:
        return dot_text
    lines = dot_text.splitlines()
    first_edge = len(lines) - 1 - len(graph.edges)  # to_dot writes one line per edge, then "}"
    for index, edge in enumerate(graph.edges):
        line = lines[first_edge + index]
        if index in stubs:
            stub = f"stub_e{index}"
            stub_attrs = {"id": stub, "label": _stub_label(graph, edge.src), "class": "kind-stub",
                          "style": "dashed,rounded", "fillcolor": palette.background,
                          "color": palette.accumulate_border, "fontsize": str(font_size - 1)}
            line = f"  {stub} [{_attr_list(stub_attrs)}];\n" + line.replace(f"  {edge.src} -> ", f"  {stub} -> ", 1)
        elif edge.kind in (INPUT, OUTPUT_EDGE):
            # Heavier main edges keep the chain straight; the stub edges bend instead.
            line = line.replace(f'[id="e{index}" ', f'[id="e{index}" weight="4" ', 1)
        lines[first_edge + index] = line
    return "\n".join(lines) + "\n"


def _stub_label(graph: Graph, node_id: str) -> str:
    node = graph.node(node_id)
    if node.kind == ACCUMULATE:
        leaf = next((e.src for e in graph.edges if e.kind == "leaf" and e.dst == node_id), None)
        if leaf is not None:
            return f"AccumulateGrad ({graph.node(leaf).name or leaf})"
    return f"{node.name} (shared)"
