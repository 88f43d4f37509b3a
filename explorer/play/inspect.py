"""The node inspector's data: what each drawn node is, in plain words, computed once in Python.

The player (inspector.mjs) shows this and computes nothing: hovering a node shows `tooltip`,
clicking it (or Enter on it) opens a panel with the rest. Every number is a recorded one: a
tensor's value as captured, a gradient that arrived or left (backward.py's events), a local
derivative as sent ÷ arrived (BackwardEvent.local_derivative, worded by captions.NodeNames), a
.grad before and after. The words come from ONE table of names (NAMES: saved tensors and op
attributes) and one of ops (OPS); a name neither table has gets a generic sentence, and
tests/test_inspect.py fails when a lesson or a playground expression produces such a name.

In the player's JSON, `inspect` maps a drawn node id to a dict with these fields:
  kind, name      as in `nodes`
  title           the node as captions name it: "AccumulateGrad (x)", "PowBackward0 (of y)"
  tooltip         one short line for hovering
  what            what this node is, in plain words (per kind; an op per its name)
  shape, shape_words, dtype, value   a tensor's shape (list), in words, dtype, value as text (else null)
  meaning         a saved tensor: what its name means (from NAMES); else null
  forward         {"line": "t1 = x ** 2", "value": "9"}: the forward operation that made it, or null
  attrs           [{"name", "value", "meaning"}]: an op's non-tensor attributes
  saved           [{"name", "node", "value", "meaning", "is"}]: the tensors an op saved (`is`: the
                  leaf or output it is, else null)
  derivatives     an op's [{"slot", "to", "formula", "at", "local"}]: per input, the local derivative
                  as a formula and `at` these values (captions' words, null when the pass recorded
                  no single number), `local` the recorded number itself (sent ÷ arrived) or null
  runs            [{"frame", "arrived", "left": [{"to", "text"}], "grad_before", "grad_after",
                  "grad_after_value"}]: each time the node took part in the pass, at which frame (the
                  player's index), as texts, and .grad after as the recorded number (so tests can hold
                  it against torch); a leaf shares its AccumulateGrad's runs, the output has frame 0
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from explorer.core.backward import BackwardPass
from explorer.core.forward import ForwardView
from explorer.core.graph import ACCUMULATE, LEAF, OP, OUTPUT, OUTPUT_EDGE, SAVED, SAVED_EDGE, Graph, Node
from explorer.drawing.collapse import GraphView
from explorer.play.captions import NodeNames, power_rule, value_text
from explorer.values import format_number

# Saved tensors and attributes an op keeps for its backward, by the name PyTorch gives them
# (grad_fn._saved_<name>; a tuple's items are name[0], name[1], ...: looked up without the index).
NAMES = {
    "self": "the op's first input, as it was in the forward pass",
    "other": "the op's second input, as it was in the forward pass",
    "result": "the op's own output, kept because its derivative is written in terms of it",
    "alpha": "the factor on the second input: a + alpha·b (1 unless given)",
    "exponent": "the power the input was raised to",
    "self_sym_sizes": "the first input's shape, so the gradient can be given that shape again",
    "other_sym_sizes": "the second input's shape, so its gradient can be given that shape again",
    "self_sym_numel": "how many elements the input had (a mean divides by it)",
    "self_sym_strides": "the first input's memory layout (strides)",
    "mat2": "the second matrix of a matrix product",
    "mat2_sym_sizes": "the second matrix's shape",
    "mat2_sym_strides": "the second matrix's memory layout (strides)",
    "self_scalar_type": "the first input's dtype",
    "other_scalar_type": "the second input's dtype",
    "dim": "the dimension(s) the op worked along",
    "keepdim": "whether the reduced dimension was kept, with size 1",
    "sizes": "the shape asked for",
    "size": "the shape asked for",
    "index": "which positions were picked",
    "indices": "which positions were picked",
    "saved_tensors": "what a custom autograd.Function kept with ctx.save_for_backward(...), in that order",
    "dtype": "the dtype of the result",
    "negative_slope": "the slope below zero (leaky ReLU)",
    "min": "the lower bound of a clamp",
    "max": "the upper bound of a clamp",
    "beta": "the factor on the added term: beta·input + alpha·(product)",
    "start": "where the slice starts",
    "end": "where the slice ends",
    "step": "the slice's step",
    "dim0": "the first dimension swapped",
    "dim1": "the second dimension swapped",
    "p": "the order of the norm",
    "weight": "the weights",
    "value": "the fill value",
}
NO_MEANING = "a value this op kept for its backward"

# What each kind of node is, in plain words ({name}, {leaf} and {op} filled in).
KIND_WORDS = {
    LEAF: "A leaf tensor: {name} was made by you with requires_grad=True, not computed from other tensors. "
          "The backward pass ends here: AccumulateGrad adds the gradient that arrives to {name}.grad.",
    SAVED: "A saved tensor: {op} kept it in the forward pass, because its local derivative needs it.",
    OUTPUT: "The output {name}: {name}.backward() starts here, with the gradient 1 (d{name}/d{name} = 1).",
    ACCUMULATE: "AccumulateGrad: the last stop for {leaf}. It adds the gradient that arrives to {leaf}.grad "
                "(.backward() adds to .grad, it never overwrites it).",
}
SHORT_KINDS = {LEAF: "leaf tensor", SAVED: "saved tensor", OUTPUT: "output", ACCUMULATE: "writes {leaf}.grad"}


@dataclass(frozen=True)
class OpText:
    """What a backward op computes the gradient of, and its local derivative per input (slot)."""

    what: str
    formulas: tuple[str, ...]  # one per input; a shorter tuple repeats its last formula


# By the op's name without its trailing number (PowBackward0 and PowBackward1 differ in their inputs).
OPS = {
    "PowBackward": OpText("a power, u ** e", ("d(u^e)/du = e·u^(e−1)", "d(u^v)/dv = u^v·ln u")),
    "MulBackward": OpText("a product, a * b", ("d(a·b)/da = b", "d(a·b)/db = a")),
    "AddBackward": OpText("a sum, a + alpha·b", ("d(a + alpha·b)/da = 1", "d(a + alpha·b)/db = alpha")),
    "SubBackward": OpText("a difference, a − alpha·b", ("d(a − alpha·b)/da = 1", "d(a − alpha·b)/db = −alpha")),
    "RsubBackward": OpText("a difference with the operands swapped, b − alpha·a",
                           ("d(b − alpha·a)/da = −alpha", "d(b − alpha·a)/db = 1")),
    "DivBackward": OpText("a quotient, a / b", ("d(a/b)/da = 1/b", "d(a/b)/db = −a/b²")),
    "SumBackward": OpText("a sum of all the elements (or along a dimension)",
                          ("d(sum)/du = 1 for every element: the gradient is copied to each",)),
    "MeanBackward": OpText("a mean of the elements", ("d(mean)/du = 1/n for every element (n elements)",)),
    "TanhBackward": OpText("tanh(u)", ("d tanh(u)/du = 1 − tanh(u)² = 1 − result²",)),
    "SigmoidBackward": OpText("the sigmoid σ(u) = 1/(1 + e^(−u))", ("dσ(u)/du = σ(u)·(1 − σ(u)) = result·(1 − result)",)),
    "ExpBackward": OpText("e^u", ("d e^u/du = e^u = result",)),
    "LogBackward": OpText("the natural logarithm ln u", ("d ln u/du = 1/u",)),
    "SinBackward": OpText("sin(u)", ("d sin(u)/du = cos(u)",)),
    "CosBackward": OpText("cos(u)", ("d cos(u)/du = −sin(u)",)),
    "ReluBackward": OpText("relu(u) = max(u, 0)", ("d relu(u)/du = 1 where u > 0, else 0",)),
    "NegBackward": OpText("the negation −u", ("d(−u)/du = −1",)),
    "SqrtBackward": OpText("the square root √u", ("d√u/du = 1/(2√u)",)),
    "AbsBackward": OpText("the absolute value |u|", ("d|u|/du = sign(u)",)),
    # The custom autograd.Function of the custom-function lesson (explorer/functions/chapter.py: Cube).
    "CubeBackward": OpText("the lesson's own autograd.Function Cube, u³, whose backward is the hand-written "
                           "Cube.backward", ("d(u³)/du = 3·u², as Cube.backward returns it",)),
    "MmBackward": OpText("a matrix product, A @ B", ("dL/dA = (gradient) @ Bᵀ", "dL/dB = Aᵀ @ (gradient)")),
    "MvBackward": OpText("a matrix times a vector, A @ v", ("dL/dA = (gradient) ⊗ v", "dL/dv = Aᵀ @ (gradient)")),
    "DotBackward": OpText("a dot product, a · b", ("d(a·b)/da = b", "d(a·b)/db = a")),
    "AddmmBackward": OpText("beta·c + alpha·(A @ B)",
                            ("d/dc = beta", "dL/dA = alpha·(gradient) @ Bᵀ", "dL/dB = alpha·Aᵀ @ (gradient)")),
    "ExpandBackward": OpText("an expand (broadcast) to a bigger shape",
                             ("the gradient is summed back to the original shape",)),
    "ViewBackward": OpText("a view with another shape", ("the gradient is given the input's shape again",)),
    "ReshapeAliasBackward": OpText("a reshape", ("the gradient is given the input's shape again",)),
    "UnsqueezeBackward": OpText("a new dimension of size 1", ("the gradient loses that dimension again",)),
    "SqueezeBackward": OpText("a dimension of size 1 removed", ("the gradient gets that dimension back",)),
    "TBackward": OpText("a transpose", ("the gradient is transposed back",)),
    "TransposeBackward": OpText("a transpose", ("the gradient is transposed back",)),
    "CloneBackward": OpText("a copy", ("1: the gradient passes through unchanged",)),
    "SelectBackward": OpText("one element or row picked out", ("1 at the picked position, 0 elsewhere",)),
    "IndexBackward": OpText("elements picked by index", ("1 at each picked position, 0 elsewhere",)),
}
GENERIC_OP = OpText("an operation PyTorch recorded in the forward pass",
                    ("the gradient of its output, turned into a gradient for this input",))


def op_text(name: str) -> OpText:
    return OPS.get(re.sub(r"\d+$", "", name), GENERIC_OP)


def meaning_of(name: str) -> str | None:
    """What a saved tensor's or attribute's name means; None when the table does not have it."""
    return NAMES.get(re.sub(r"\[\d+\]$", "", name))


def _attr_meaning(name: str, value: str) -> str:
    meaning = meaning_of(name) or NO_MEANING
    # MulBackward0 of x * 5 keeps no `self`: no gradient goes to the constant 5, so x is not needed.
    return f"{meaning}; None here: not kept, no gradient needs it" if value == "None" else meaning


def shape_words(shape) -> str | None:
    """A shape as a student says it: scalar, vector of 3, 3 x 4 matrix, tensor of shape (2, 3, 4)."""
    if shape is None:
        return None
    shape = tuple(shape)
    if not shape:
        return "scalar"
    if len(shape) == 1:
        return f"vector of {shape[0]}"
    if len(shape) == 2:
        return f"{shape[0]} x {shape[1]} matrix"
    return "tensor of shape (" + ", ".join(str(n) for n in shape) + ")"


def node_info(record: BackwardPass, view: GraphView, frames, forward: ForwardView | None = None) -> dict[str, dict]:
    """The inspector's data for every node drawn as itself (one hidden in a folded group has none)."""
    return _Inspector(record, view, frames, forward).all()


class _Inspector:
    def __init__(self, record: BackwardPass, view: GraphView, frames, forward: ForwardView | None):
        self.record = record
        self.graph: Graph = record.graph
        self.view = view
        self.names = NodeNames(record)
        self.frame_of = {step: frame.index for frame in frames for step in frame.events}
        self.saved_by = {e.dst: e.src for e in self.graph.edges if e.kind == SAVED_EDGE}
        self.saved_of: dict[str, list[str]] = {}
        for edge in self.graph.edges:
            if edge.kind == SAVED_EDGE:
                self.saved_of.setdefault(edge.src, []).append(edge.dst)
        self.lines = self._forward_lines(forward) if forward is not None else {}
        self.runs: dict[str, list[dict]] = {}
        self.first_run = {}  # node id -> its first event: looked up once per op, not searched (a 5,000-op chain)
        for event in reversed(record.events):
            self.first_run[event.node] = event
        for event in record.events:
            run = self._run(event)
            self.runs.setdefault(event.node, []).append(run)
            if event.leaf is not None:
                self.runs.setdefault(event.leaf, []).append(run)
        out_edge = next((e for e in self.graph.edges if e.kind == OUTPUT_EDGE), None)
        if out_edge is not None:
            seed = value_text(record.seed)
            self.runs[self.graph.output] = [{"frame": 0, "arrived": f"{seed} (the seed)",
                                             "left": [{"to": self.names.describe(out_edge.src), "text": seed}],
                                             "grad_before": None, "grad_after": None,
                                             "grad_after_value": None}]

    def all(self) -> dict[str, dict]:
        return {node.id: self.info(node) for node in self.graph.nodes if self.view.where(node.id) == node.id}

    def info(self, node: Node) -> dict:
        title = self.names.describe(node.id)
        leaf = self.names.leaf_of(node.id) if node.kind == ACCUMULATE else None
        op = self.names.describe(self.saved_by[node.id]) if node.kind == SAVED and node.id in self.saved_by else None
        if node.kind == OP:
            what = f"A backward op: in the forward pass this node computed {op_text(node.name).what}. " \
                   "Backward, it multiplies the gradient that arrives by its local derivative, once per input."
        else:
            what = KIND_WORDS[node.kind].format(name=node.name, leaf=leaf or "its leaf", op=op or "an op")
        words = shape_words(node.shape)
        short = SHORT_KINDS.get(node.kind, "backward op").format(leaf=leaf or "a leaf")
        tooltip = f"{title}: {short}" + (f", {words}" if words else "") + \
                  (f" = {format_number(node.value)}" if node.value is not None else "")
        return {
            "kind": node.kind, "name": node.name, "title": title, "tooltip": tooltip, "what": what,
            "shape": list(node.shape) if node.shape is not None else None, "shape_words": words,
            "dtype": node.dtype, "value": None if node.value is None else format_number(node.value),
            "meaning": (meaning_of(node.name) or NO_MEANING) if node.kind == SAVED else None,
            "forward": self.lines.get(node.id),
            "attrs": [{"name": key, "value": value, "meaning": _attr_meaning(key, value)} for key, value in node.attrs],
            "saved": [self._saved(saved_id) for saved_id in self.saved_of.get(node.id, [])],
            "derivatives": self._derivatives(node) if node.kind == OP else [],
            "runs": self.runs.get(node.id, []),
        }

    def _saved(self, saved_id: str) -> dict:
        saved = self.graph.node(saved_id)
        return {"name": saved.name, "node": saved_id,
                "value": None if saved.value is None else format_number(saved.value),
                "meaning": meaning_of(saved.name) or NO_MEANING,
                "is": self.graph.node(saved.refers_to).name if saved.refers_to else None}

    def _derivatives(self, node: Node) -> list[dict]:
        """Per input: the formula, and at the recorded values (the same words as the captions)."""
        event = self.first_run.get(node.id)
        text = op_text(node.name)
        exponent = dict(node.attrs).get("exponent")
        base = self.names.saved(node.id, "self")
        rows = []
        for position, sent in enumerate(event.grads_out if event else ()):
            formula = text.formulas[min(sent.slot, len(text.formulas) - 1)]
            if node.name.startswith("PowBackward") and sent.slot == 0 and exponent is not None and base is not None:
                formula = f"d(u^{exponent})/du = {power_rule(exponent, base[0], None)}"
            local = event.local_derivative[position] if event.local_derivative else None
            # The captions' words for it, without their lead-in: "2·x = 2·1.5 = 3".
            at = None if local is None else \
                self.names.local_rule(node.id, node.name, sent.slot, local).removeprefix("local derivative").lstrip(" =")
            rows.append({"slot": sent.slot, "to": self.names.describe(sent.to) if sent.to else None,
                         "formula": formula, "at": at, "local": local})
        return rows

    def _run(self, event) -> dict:
        arrived = event.grads_in[0] if len(event.grads_in) == 1 else list(event.grads_in)
        left = [{"to": self.names.describe(sent.to), "text": value_text(sent.value, sent.shape)}
                for sent in event.grads_out if sent.to is not None]
        is_leaf = event.leaf is not None
        return {"frame": self.frame_of.get(event.step), "arrived": value_text(arrived), "left": left,
                "grad_before": format_number(event.grad_before) if is_leaf else None,
                "grad_after": format_number(event.grad_after) if is_leaf else None,
                "grad_after_value": event.grad_after if is_leaf else None}

    def _forward_lines(self, forward: ForwardView) -> dict[str, dict]:
        """Node id -> the forward line that made it: an op's, the output's, a saved tensor's op's, a leaf's."""
        lines = {}
        output_name = self.graph.node(self.graph.output).name
        for step in forward.steps:
            line = {"line": step.text, "value": None if step.value is None else format_number(step.value)}
            if step.node:
                lines.setdefault(step.node, line)
                for saved_id in self.saved_of.get(step.node, []):
                    lines.setdefault(saved_id, line)
            if step.result == output_name:
                lines[self.graph.output] = line
        for name, leaf_id in forward.leaf_nodes.items():
            value = self._value_text(leaf_id)
            line = {"line": f"{name} = torch.tensor({value or '...'}, requires_grad=True)", "value": value}
            lines.setdefault(leaf_id, line)
            accumulate = forward.leaves.get(name)
            if accumulate:
                lines.setdefault(accumulate, line)
        return lines

    def _value_text(self, node_id: str) -> str | None:
        try:
            node = self.graph.node(node_id)
        except KeyError:
            return None
        return None if node.value is None else format_number(node.value)
