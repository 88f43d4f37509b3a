"""Collapse: keep big graphs readable by drawing a repeated block once, with "× N".

A loop (an unrolled RNN, gradient descent over many steps) records the same few backward ops
again and again. In the capture's depth-first order those ops form a periodic sequence:
AddBackward0, MulBackward0, SinBackward0, AddBackward0, MulBackward0, SinBackward0, ...
We look for the longest such run, keep its first and last block, and hide the blocks between
behind one summary node. The hidden nodes' saved tensors, AccumulateGrads and leaves go with
them. Nothing is lost: the graph itself is untouched, and a view with no groups draws it all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.core.graph import ACCUMULATE, LEAF_EDGE, OP, SAVED_EDGE, Graph

COLLAPSE_ABOVE = 300  # graphs with more nodes than this are collapsed unless asked not to be
MIN_REPEATS = 4  # a pattern must repeat this often to be worth collapsing (first + last stay visible)
MAX_PERIOD = 40  # the longest block we look for, in backward nodes


@dataclass(frozen=True)
class Group:
    """Consecutive repeats of one block, drawn as a single node."""

    id: str  # "c0", "c1", ...
    repeats: int  # how many blocks it stands for
    pattern: tuple[str, ...]  # the backward ops of one block, in capture order
    members: frozenset[str]

    @property
    def label(self) -> str:
        return f"× {self.repeats} repeats of\n" + " → ".join(self.pattern)


@dataclass
class GraphView:
    """Which nodes of a graph are drawn, and which stand behind a group node."""

    graph: Graph
    groups: list[Group] = field(default_factory=list)

    def __post_init__(self):
        self.group_of = {member: group.id for group in self.groups for member in group.members}

    @property
    def drawn_nodes(self) -> int:
        return len(self.graph.nodes) - len(self.group_of) + len(self.groups)

    def where(self, node_id: str) -> str:
        """The id drawn for a node: itself, or the group that hides it."""
        return self.group_of.get(node_id, node_id)


def collapse(graph: Graph, above: int = COLLAPSE_ABOVE) -> GraphView:
    """A view of `graph` with long repeated runs folded, when it has more than `above` nodes."""
    if len(graph.nodes) <= above:
        return GraphView(graph)
    attached = _attached_nodes(graph)
    spine = [node for node in graph.nodes if node.kind in (OP, ACCUMULATE)]
    signature = [(node.kind, node.name, node.attrs) for node in spine]
    codes = _codes(signature)
    groups, taken = [], [False] * len(spine)
    for start, period, repeats in _runs(codes, taken):
        hidden_blocks = range(start + period, start + period * (repeats - 1))  # keep first and last block
        members = set()
        for index in hidden_blocks:
            members.add(spine[index].id)
            members.update(attached.get(spine[index].id, ()))
        for index in range(start, start + period * repeats):
            taken[index] = True
        pattern = tuple(node.name for node in spine[start:start + period])
        groups.append(Group(f"c{len(groups)}", repeats - 2, pattern, frozenset(members)))
    return GraphView(graph, groups)


def _attached_nodes(graph: Graph) -> dict[str, list[str]]:
    """Nodes that belong to a backward node: its saved tensors, and an AccumulateGrad's leaf."""
    attached: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.kind == SAVED_EDGE:
            attached.setdefault(edge.src, []).append(edge.dst)
        elif edge.kind == LEAF_EDGE:
            attached.setdefault(edge.dst, []).append(edge.src)
    return attached


def _codes(signature: list) -> list[int]:
    table: dict = {}
    return [table.setdefault(item, len(table)) for item in signature]


def _runs(codes: list[int], taken: list[bool]):
    """Non-overlapping (start, period, repeats) runs, biggest first, each covering MIN_REPEATS+ blocks."""
    while True:
        best = None
        for period in range(1, min(MAX_PERIOD, len(codes) // MIN_REPEATS) + 1):
            length = 0  # how many positions i in a row have codes[i] == codes[i + period]
            for i in range(len(codes) - period):
                if codes[i] == codes[i + period] and not taken[i] and not taken[i + period]:
                    length += 1
                    continue
                best = _better(best, i - length, period, length)
                length = 0
            best = _better(best, len(codes) - period - length, period, length)
        if best is None:
            return
        yield best
        start, period, repeats = best
        for index in range(start, start + period * repeats):
            taken[index] = True


def _better(best, start, period, length):
    repeats = (length + period) // period
    if repeats < MIN_REPEATS:
        return best
    if best is None or period * repeats > best[1] * best[2]:
        return (start, period, repeats)
    return best


def summary(graph: Graph) -> list[tuple[str, int]]:
    """Backward ops by name and count, most frequent first: a view of any graph that needs no layout."""
    counts: dict[str, int] = {}
    for node in graph.nodes:
        if node.kind in (OP, ACCUMULATE):
            counts[node.name] = counts.get(node.name, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
