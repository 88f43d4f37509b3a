"""The chain rule in words: the captions of the player's frames.

Every number in a caption is a recorded value (a gradient that arrived or left, a .grad before
or after, a saved tensor, an op's attribute) printed with values.format_number; frames.py hands
them over, this module only writes the sentences around them. `NodeNames` says which node is
which as a student reads it: AccumulateGrad (x), PowBackward0 (of y), AddBackward0 (#1 of 2 to run).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from explorer.core.backward import BackwardPass
from explorer.core.graph import ACCUMULATE, INPUT, LEAF_EDGE, OP, SAVED, SAVED_EDGE, Graph
from explorer.values import format_number, real_numbers

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
                return f"local derivative {power_rule(exponent, *base, local=local, dtype=node.dtype)}"
        if op_name.startswith("MulBackward"):
            other = self.saved(op_id, "other" if slot == 0 else "self")
            who = f" {other[0]}" if other and other[0] != "input" else ""
            # float32 may round the product (overflow to inf, a subnormal result): then sent ÷ arrived is not
            # the factor, and calling it so would be false.
            if other is None or not isinstance(other[1], float) or shows_as(other[1], local):
                return f"local derivative = the other factor{who} = {value}"
        if is_custom(op_name):
            return (f"local derivative {value} (sent ÷ arrived: the backward of a custom autograd.Function, "
                    "code of its own, computed what it sends)")
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


def arrived_line(arrived, parts: list[Any], dtype: str | None = None) -> str:
    """What arrives at a node; the sum when several paths' gradients met in the engine's buffer.

    A tensor hook runs on what the buffer holds (one path's gradient, or the sum of all of them) before
    the node gets it, and float32 may round the sum: the words then say so, never "a + b = c" for a c
    that is not a + b."""
    text = value_text(arrived)
    if len(parts) == 1 and real_numbers(parts[0]) and real_numbers(arrived) and not _same(parts[0], arrived):
        return f"{text} arrives (a hook on the tensor before this node made it from {value_text(parts[0])})"
    if len(parts) > 1 and all(isinstance(p, float) for p in parts):
        paths = f"the engine adds the gradients of its {len(parts)} paths"
        if shows_as(exact_sum(parts), arrived):
            return f"{sum_text(parts, arrived, dtype)} arrives ({paths})"
        if _same(rounded_sum(parts, dtype), arrived):
            return f"{sum_text(parts, arrived, dtype)}, which arrives ({paths})"
        return (f"{sum_text(parts, rounded_sum(parts, dtype), dtype)} ({paths}); a hook on the tensor "
                f"made it {text}, which arrives")
    return f"{text} arrives"


def no_gradient_line(slot: int) -> str:
    return f"input {slot} needs no gradient (a constant or a tensor without requires_grad)"


def send_line(sent_text: str, target: str, rule: str | None = None, arrived=None, local=None) -> str:
    """What a node sends along one edge: arrived × local = sent, when the local derivative is known."""
    if rule is None:
        return f"sends {sent_text} to {target}"
    return f"{rule}; sends {factor(arrived)} × {factor(local)} = {sent_text} to {target}"


def hook_line(arrived, summed=None, gradients: int = 1) -> str:
    """Said after a send whose gradient a tensor hook replaced before it arrived (backward.hooked_edges).
    With several gradients sent there the hook ran once, on their sum (`summed`)."""
    if gradients > 1 and summed is not None:
        return (f"; a hook on the tensor between replaced the sum of the {gradients} gradients sent there, "
                f"{value_text(summed)}, so {value_text(arrived)} arrives instead")
    return f"; a hook on the tensor between replaced it, so {value_text(arrived)} arrives instead"


def accumulate_lines(leaf_name: str, arrived_text: str, before, arrived, after,
                     dtype: str | None = None) -> tuple[str, ...]:
    """At AccumulateGrad: what arrived, .grad before → after, and the sum that makes it.

    A post-accumulate-grad hook runs after the sum and may change .grad: then the sum is written with
    what AccumulateGrad made of it, and the hook's change after it."""
    change = change_text(before, after)
    numeric = real_numbers(arrived) and real_numbers(after) and (before is None or real_numbers(before))
    made = arrived if before is None else rounded_sum([before, arrived], dtype) if numeric else after
    if before is None:
        rule = f"{leaf_name} had no .grad yet, so .grad becomes {format_number(made)}"
    elif numeric:
        rounded = not shows_as(exact_sum([before, arrived]), made)  # then sum_text gives its reason in brackets
        rule = f"{sum_text([before, arrived], made, dtype)}{'; ' if rounded else ' ('}.backward() adds to .grad, " \
               f"it never overwrites it{'' if rounded else ')'}"
    else:  # a tensor too big to record: its shape is known, not its numbers
        rule = (f"{value_text(before)} + {factor(arrived)} = {value_text(after)} "
                "(.backward() adds to .grad, it never overwrites it)")
    if numeric and not _same(made, after):
        rule += f"; then a post-accumulate-grad hook on {leaf_name} made it {format_number(after)}"
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


def power_rule(exponent: str, base_name: str, base_value, local=None, dtype: str | None = None) -> str:
    """d/du u**e = e·u^(e−1), written with the recorded exponent and saved value: 2·x = 2·3.

    With `local`, the recorded local derivative, the chain ends "= local" when e·v^(e−1) of the printed
    numbers is that number; where float32 rounded it (a subnormal or overflowing result) it says so."""
    try:
        e = float(exponent)
    except ValueError:
        return _ending(f"{exponent}·{base_name}^({exponent}−1)", local)
    shown = format_number(e)
    if e == 2:
        formula, numbers = f"2·{base_name}", f"2·{factor(base_value)}"
    elif math.isfinite(e) and e == int(e):  # an exponent of 1/0 or 0/0 is inf or nan: int() of it raises
        power = format_number(e - 1).translate(SUPERSCRIPTS)
        formula, numbers = f"{shown}·{base_name}{power}", f"{shown}·{factor(base_value)}{power}"
    else:
        formula, numbers = f"{shown}·{base_name}^({shown}−1)", ""
    if base_value is None or isinstance(base_value, list) or not numbers:
        return _ending(formula, local)
    if local is None:
        return f"{formula} = {numbers}"
    if shows_as(_power_derivative(e, base_value), local):
        return f"{formula} = {numbers} = {format_number(local)}"
    return (f"{formula} at {base_name} = {format_number(base_value)} comes out as {format_number(local)} "
            f"({rounding_reason(local, dtype)})")


def _ending(formula: str, local) -> str:
    return formula if local is None else f"{formula} = {format_number(local)}"


def _power_derivative(e: float, base: float) -> float:
    """e·base^(e−1) in float64: what the power rule gives without float32's rounding."""
    try:
        return e * base ** (e - 1)
    except (ZeroDivisionError, OverflowError):
        return math.inf


def is_custom(op_name: str) -> bool:
    """A custom autograd.Function's node: PyTorch names it after the class (CubeBackward), while its own
    nodes carry a number (MulBackward0)."""
    return op_name.endswith("Backward") and op_name != "Backward"


# -- arithmetic that holds as printed -----------------------------------------------------------
# Numbers are printed to 4 significant digits, so a caption may write "a + b = c" only when the
# exact a + b of the recorded numbers prints as c does: then the printed equation holds for the
# printed numbers too (each is within half a unit of its last digit of what it stands for). A sum
# PyTorch rounded in float32 beyond that (16777216 + 1 stays 16777216) is said to round instead.
def shows_as(value, result) -> bool:
    return format_number(value) == format_number(result)


def exact_sum(terms: list[Any]):
    """The sum of recorded numbers (or same-shape lists) in float64, where float32's sums are exact."""
    return _plain(sum(torch.tensor(term, dtype=torch.float64) for term in terms))


def rounded_sum(terms: list[Any], dtype: str | None = None):
    """The sum as PyTorch makes it, term by term in the tensors' dtype (float32 unless said)."""
    kind = _torch_dtype(dtype)
    total = torch.tensor(terms[0], dtype=kind)
    for term in terms[1:]:
        total = total + torch.tensor(term, dtype=kind)
    return _plain(total)


def sum_text(terms: list[Any], result, dtype: str | None = None) -> str:
    """"a + b = c" when it holds as printed, else "a + b rounds to c (why)": c is then the dtype's rounding."""
    summed = " + ".join([value_text(terms[0]), *(factor(term) for term in terms[1:])])
    if shows_as(exact_sum(terms), result):
        return f"{summed} = {value_text(result)}"
    return f"{summed} rounds to {value_text(result)} ({rounding_reason(result, dtype)})"


def rounding_reason(result, dtype: str | None = None) -> str:
    """Why `result` is not the exact arithmetic: the dtype's range ends, or its digits do."""
    info, name = torch.finfo(_torch_dtype(dtype)), _dtype_name(dtype)
    values = [v for v in _flat(result) if isinstance(v, float)]
    if any(math.isinf(v) for v in values):
        return f"{name}'s largest number is about {info.max:.2g}"
    if any(v != 0 and abs(v) < info.tiny for v in values) or all(v == 0 for v in values):
        return f"{name} holds numbers below about {info.tiny:.2g} only roughly"
    return f"{name} keeps about {round(-math.log10(info.eps))} significant digits"


def _torch_dtype(dtype: str | None) -> torch.dtype:
    kind = getattr(torch, dtype, None) if dtype else None
    return kind if isinstance(kind, torch.dtype) and kind.is_floating_point else torch.float32


def _dtype_name(dtype: str | None) -> str:
    return str(_torch_dtype(dtype)).removeprefix("torch.")


def _plain(tensor: torch.Tensor):
    return tensor.item() if tensor.dim() == 0 else tensor.tolist()


def _flat(value) -> list:
    return [x for item in value for x in _flat(item)] if isinstance(value, list) else [value]


def _same(a, b) -> bool:
    """Equal numbers or lists, NaN equal to NaN: what was sent is what arrived."""
    if not (real_numbers(a) and real_numbers(b)):
        return False
    left, right = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    return left.shape == right.shape and bool(torch.equal(left.isnan(), right.isnan())) and \
        bool((left[~left.isnan()] == right[~right.isnan()]).all())
