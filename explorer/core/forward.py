"""The forward computation, op by op, linked to the backward nodes it recorded.

torchviz draws the backward graph, and students expect the forward one (pytorchviz#32). We
run the function once more under a TorchFunctionMode that sees every tensor operation as it
happens, and write each one down as a line a student can read (`t1 = x ** 2 = 9`) together
with the `grad_fn` its result got. Tracing that result's graph with the same walk as capture()
gives the same stable ids, so each forward line points at its node in the backward graph,
and each leaf at the AccumulateGrad that writes its .grad.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
from torch.overrides import TorchFunctionMode

from explorer.core.graph import LEAF, trace
from explorer.values import format_number, to_plain

# How a recorded torch function reads in Python, for the common operators.
INFIX = {"add": "+", "__add__": "+", "__radd__": "+", "sub": "-", "__sub__": "-", "rsub": "-", "__rsub__": "-",
         "mul": "*", "__mul__": "*", "__rmul__": "*", "div": "/", "true_divide": "/", "__truediv__": "/",
         "__rtruediv__": "/", "pow": "**", "__pow__": "**", "__rpow__": "**", "matmul": "@", "__matmul__": "@"}
REVERSED = {"__radd__", "__rsub__", "rsub", "__rmul__", "__rtruediv__", "__rpow__"}  # other operand first
UNARY = {"neg": "-", "__neg__": "-"}


@dataclass(frozen=True)
class ForwardStep:
    """One operation of the forward pass."""

    index: int
    result: str  # the name given to its result: t1, t2, ... and the output's own name last
    text: str  # "t1 = x ** 2"
    value: Any  # the result's value (small tensors only)
    node: str | None  # the backward node (grad_fn) it recorded, in the graph's ids; None if none

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ForwardView:
    steps: list[ForwardStep]
    leaves: dict[str, str]  # leaf name -> the AccumulateGrad node id that writes its .grad
    leaf_nodes: dict[str, str]  # leaf name -> its node id

    def to_dict(self) -> dict:
        return {"steps": [step.to_dict() for step in self.steps], "leaves": self.leaves,
                "leaf_nodes": self.leaf_nodes}


class _Recorder(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, tuple, torch.Tensor]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if isinstance(result, torch.Tensor):
            self.calls.append((getattr(func, "__name__", str(func)), args, result))
        return result


def forward_view(fn: Callable[..., torch.Tensor], leaves: dict[str, torch.Tensor], output_name: str = "f") -> ForwardView:
    """Run `fn(**leaves)` once more, recording each op, and link it to the backward graph's ids.

    A function that can say its own lines (a playground program: `forward_lines`, see
    explorer.functions.program) gets one line per line its author wrote instead of one per op:
    a line of three ops reads as the student wrote it, and links to the node of its result."""
    if hasattr(fn, "forward_lines"):
        return _lines_view(fn, leaves, output_name)
    recorder = _Recorder()
    with recorder:
        output = fn(**leaves)
    graph, live = trace(output, leaves, output_name)
    node_of_fn = {fn_object: node_id for node_id, fn_object in live.items()}
    names = {id(tensor): name for name, tensor in leaves.items()}
    made_by: dict[Any, str] = {}  # a result's grad_fn -> the result's name
    steps = []
    kept = [call for call in recorder.calls if call[2].grad_fn is not None]
    for index, (func_name, args, result) in enumerate(kept):
        is_output = result is output
        name = output_name if is_output else f"t{index + 1}"
        names[id(result)] = name
        made_by[result.grad_fn] = name
        expression = (_describe_custom(result.grad_fn, names, made_by)
                      if isinstance(result.grad_fn, torch.autograd.function.BackwardCFunction)
                      else _describe(func_name, args, names))
        steps.append(ForwardStep(index, name, f"{name} = {expression}", to_plain(result),
                                 node_of_fn.get(result.grad_fn)))
    return _view(graph, steps)


def _lines_view(fn, leaves: dict[str, torch.Tensor], output_name: str) -> ForwardView:
    output, lines = fn.forward_lines(**leaves)
    graph, live = trace(output, leaves, output_name)
    node_of_fn = {fn_object: node_id for node_id, fn_object in live.items()}
    steps = [ForwardStep(index, name, text, None if value is None else to_plain(value),
                         node_of_fn.get(value.grad_fn) if isinstance(value, torch.Tensor) else None)
             for index, (name, text, value) in enumerate(lines)]
    return _view(graph, steps)


def _view(graph, steps: list[ForwardStep]) -> ForwardView:
    leaf_nodes = {node.name: node.id for node in graph.of_kind(LEAF) if node.name}
    return ForwardView(steps, {name: graph.accumulator_of(node_id) for name, node_id in leaf_nodes.items()},
                       leaf_nodes)


def _describe_custom(grad_fn, names: dict[int, str], made_by: dict[Any, str]) -> str:
    """A custom autograd.Function's result as the student wrote it, `Cube.apply(x)`. What its forward
    did inside (x ** 3) runs with autograd off and hands over its very result tensor, which then gets
    CubeBackward as grad_fn: that op's own arguments would name the wrong call. The inputs are read
    off the node's edges: a leaf by its name, another result by the grad_fn that made it."""
    operands = []
    for next_fn, _ in grad_fn.next_functions:
        if hasattr(next_fn, "variable"):
            operands.append(names.get(id(next_fn.variable), "…"))
        else:
            operands.append(made_by.get(next_fn, "…"))  # None: an input that needs no gradient
    return f"{grad_fn._forward_cls.__name__}.apply({', '.join(operands)})"


def _describe(func_name: str, args: tuple, names: dict[int, str]) -> str:
    operands = [_operand(arg, names) for arg in args]
    if func_name in INFIX and len(operands) == 2:
        left, right = (operands[1], operands[0]) if func_name in REVERSED else operands
        return f"{left} {INFIX[func_name]} {right}"
    if func_name in UNARY and len(operands) == 1:
        return f"-{operands[0]}"
    return f"{func_name}({', '.join(operands)})"


def _operand(arg, names: dict[int, str]) -> str:
    if isinstance(arg, torch.Tensor):
        return names.get(id(arg), format_number(to_plain(arg)) if arg.numel() == 1 else f"tensor{tuple(arg.shape)}")
    if isinstance(arg, (int, float)):
        return format_number(arg)
    if isinstance(arg, (list, tuple)):
        return "[" + ", ".join(_operand(a, names) for a in arg) + "]"
    return str(arg)
