"""The chain rule in words: the captions of the player's frames.

Every number in a caption is a recorded value (a gradient that arrived or left, a .grad before
or after, a saved tensor, an op's attribute) printed with values.format_number; frames.py hands
them over, this module only writes the sentences around them. `NodeNames` says which node is
which as a student reads it: AccumulateGrad (x), PowBackward0 (of y), AddBackward0 (#1 of 2 to run).
"""

from __future__ import annotations

import math
from typing import Any

from explorer.core.backward import BackwardPass
from explorer.core.graph import ACCUMULATE, INPUT, LEAF_EDGE, OP, SAVED, SAVED_EDGE, Graph
from explorer.values import format_number

MAX_NAMESAKES_BY_LEAVES = 8  # ops sharing a name are told apart by their leaves up to this many, else counted
SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class NodeNames:
    """Names for the nodes of one recorded pass, and what each op saved."""

    def __init__(self, record: BackwardPass):
        self.graph: Graph = record.graph
        # AccumulateGrad id -> its leaf's name
        self.leaf_name_of = {e.dst: self.graph.node(e.src).name for e in self.graph.edges if e.kind == LEAF_EDGE}
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
        self.below: dict[str, list[str]] = {}  # op id -> leaves_below(op id), computed once

    def describe(self, node_id: str) -> str:
        """A node as a student reads it: AccumulateGrad (x) names its leaf, and an op whose name another
        op shares says which one it is: PowBackward0 (of x) and PowBackward0 (of y) in x**2 + y**3."""
        node = self.graph.node(node_id)
        if node.kind == ACCUMULATE:
            leaf = self.leaf_of(node_id)
            if leaf is not None:
                return f"AccumulateGrad ({leaf})"
        same = self.namesakes.get(node.name, [])
        if node.kind != OP or len(same) < 2:
            return node.name
        # Naming by leaves walks the graph once per namesake: worth it for a few, not for a loop's 1,000.
        of = self.leaves_below(node_id) if len(same) <= MAX_NAMESAKES_BY_LEAVES else []
        if of and all(self.leaves_below(other) != of for other in same if other != node_id):
            return f"{node.name} (of {', '.join(of)})"
        return f"{node.name} (#{self.order[node_id]} of {len(same)} to run)"

    def leaf_of(self, accumulate_id: str) -> str | None:
        return self.leaf_name_of.get(accumulate_id)

    def leaves_below(self, op_id: str) -> list[str]:
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
        names = [self.leaf_of(node.id) for node in self.graph.nodes if node.id in leaves]
        self.below[op_id] = [name for name in names if name]
        return self.below[op_id]

    def saved(self, op_id: str, name: str) -> tuple[str, Any] | None:
        """(what it is, value) of a tensor an op saved: the leaf's name when it is a leaf, else 'input'."""
        for edge in self.graph.edges:
            if edge.kind == SAVED_EDGE and edge.src == op_id:
                saved = self.graph.node(edge.dst)
                if saved.kind == SAVED and saved.name == name:
                    label = self.graph.node(saved.refers_to).name if saved.refers_to else "input"
                    return label, saved.value
        return None

    def local_rule(self, op_id: str, op_name: str, slot: int, local: float) -> str:
        """The local derivative in words for common ops; its number is always the recorded one."""
        value = format_number(local)
        node = self.graph.node(op_id)
        if op_name.startswith("PowBackward"):
            exponent = dict(node.attrs).get("exponent")
            base = self.saved(op_id, "self")
            if exponent is not None and base is not None:
                return f"local derivative {power_rule(exponent, *base)} = {value}"
        if op_name.startswith("MulBackward"):
            other = self.saved(op_id, "other" if slot == 0 else "self")
            who = f" {other[0]}" if other and other[0] != "input" else ""
            return f"local derivative = the other factor{who} = {value}"
        if op_name.startswith("AddBackward"):
            return f"local derivative {value} (a sum passes the gradient on)"
        if op_name.startswith("SubBackward"):
            role = "the first term" if slot == 0 else "the subtracted term"
            return f"local derivative {value} ({role} of a difference)"
        return f"local derivative {value} (sent ÷ arrived)"


# -- sentences --------------------------------------------------------------------------------
def seed_lines(output_name: str, seed_text: str, first: str, given: bool = False) -> tuple[str, ...]:
    """The seed frame's sentences; `given` when the caller passed the seed (backward(gradient=v))."""
    if given:
        return (f"{output_name}.backward(gradient={seed_text}) starts at the output {output_name} with the "
                f"gradient you passed, {seed_text}: each element of {output_name} is weighted by it, so what "
                "reaches a leaf is the vector-Jacobian product v·J",
                f"it goes to {first}, the node that made {output_name}")
    return (f"{output_name}.backward() starts at the output {output_name} with the gradient {seed_text} "
            f"(d{output_name}/d{output_name} = 1)",
            f"it goes to {first}, the node that made {output_name}")


def arrived_line(arrived, parts: list[Any]) -> str:
    """What arrives at a node; the sum when several paths' gradients met in the engine's buffer."""
    text = value_text(arrived)
    if len(parts) > 1 and all(isinstance(p, float) for p in parts):
        summed = " + ".join(factor(p) for p in parts)
        return f"{summed} = {text} arrives (the engine adds the gradients of its {len(parts)} paths)"
    return f"{text} arrives"


def no_gradient_line(slot: int) -> str:
    return f"input {slot} needs no gradient (a constant or a tensor without requires_grad)"


def send_line(sent_text: str, target: str, rule: str | None = None, arrived=None, local=None) -> str:
    """What a node sends along one edge: arrived × local = sent, when the local derivative is known."""
    if rule is None:
        return f"sends {sent_text} to {target}"
    return f"{rule}; sends {factor(arrived)} × {factor(local)} = {sent_text} to {target}"


def hook_line(arrived) -> str:
    """Said after a send whose gradient a tensor hook replaced before it arrived (backward.hooked_edges)."""
    return f"; a hook on the tensor between replaced it, so {value_text(arrived)} arrives instead"


def accumulate_lines(leaf_name: str, arrived_text: str, before, arrived, after) -> tuple[str, ...]:
    """At AccumulateGrad: what arrived, .grad before → after, and the sum that makes it."""
    change = change_text(before, after)
    if before is None:
        rule = f"{leaf_name} had no .grad yet, so .grad becomes {format_number(after)}"
    else:
        rule = (f"{value_text(before)} + {factor(arrived)} = {value_text(after)} "
                "(.backward() adds to .grad, it never overwrites it)")
    return f"{arrived_text} for {leaf_name}", f"{leaf_name}.grad {change}", rule


def change_text(before, after) -> str:
    return f"{format_number(before)} → {format_number(after)}"


def done_lines(total: int, final: list[tuple[str, Any, Any]]) -> tuple[str, ...]:
    """The end of a pass: how many nodes ran, and each leaf's (name, .grad now, .grad before the call)."""
    lines = [f"the engine ran {total} backward node{'s' if total != 1 else ''}"]
    for name, grad, before in final:
        line = f"{name}.grad = {format_number(grad)}"
        lines.append(line if before is None else f"{line} (it held {format_number(before)} before this call)")
    return tuple(lines)


def size_note(nodes: int, ran: int, limit: int) -> str:
    return (f"This graph has {nodes} nodes and the backward pass ran {ran} of them, "
            f"more than the {limit} nodes a step-by-step reading is made for. Zoom in to read it, "
            "let it play fast, or press End to jump to the result.")


# -- numbers inside sentences -----------------------------------------------------------------
def value_text(value, shape=None) -> str:
    """A gradient as text; a tensor too big to record shows its shape."""
    if value is None and shape:
        return "tensor of shape (" + ", ".join(str(n) for n in shape) + ")"
    return format_number(value)


def factor(value) -> str:
    """A number inside a product or sum: negative numbers in parentheses, 1 × (-2)."""
    text = value_text(value)
    return f"({text})" if text.startswith("-") else text


def power_rule(exponent: str, base_name: str, base_value) -> str:
    """d/du u**e = e·u^(e−1), written with the recorded exponent and saved value: 2·x = 2·3."""
    try:
        e = float(exponent)
    except ValueError:
        return f"{exponent}·{base_name}^({exponent}−1)"
    shown = format_number(e)
    if e == 2:
        formula, numbers = f"2·{base_name}", f"2·{factor(base_value)}"
    elif math.isfinite(e) and e == int(e):  # an exponent of 1/0 or 0/0 is inf or nan: int() of it raises
        power = format_number(e - 1).translate(SUPERSCRIPTS)
        formula, numbers = f"{shown}·{base_name}{power}", f"{shown}·{factor(base_value)}{power}"
    else:
        formula, numbers = f"{shown}·{base_name}^({shown}−1)", ""
    if base_value is None or isinstance(base_value, list) or not numbers:
        return formula
    return f"{formula} = {numbers}"
