"""Notebooks: a lesson, or a playground expression, as a Jupyter notebook that reads without running.

The notebook holds the explanation, the function's code, and cells that rebuild every picture
with the Python API (`explorer.draw`, `explorer.animate`). Each cell's output is saved already:
it is made here by running the very calls the cell holds, so the saved SVG, the player's HTML
and the printed DOT are what running the cell gives (tests run every notebook with nbclient and
compare). Everything is deterministic: cell ids are fixed, values are written with repr().
"""

from __future__ import annotations

import inspect

import io
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Any, Callable

import nbformat
import torch
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from explorer.core.actions import Action, zeroing
from explorer.drawing.diagram import draw
from explorer.errors import ExplorerError
from explorer.functions.program import Program, function_title, parse_function
from explorer.functions.lessons import Lesson
from explorer.play.flow import animate, animate_session, session
from explorer.values import format_number, not_finite_note

# The first code cell: the package, wherever the notebook runs (no path to a checkout anywhere).
INSTALL_HINT = ("This notebook rebuilds its pictures with the autograd-explorer package: install it into this "
                "kernel's environment (pip install . in a checkout of Autograd Explorer, or pip install the wheel "
                "`make wheel` builds) and restart the kernel. Its saved outputs read without running.")
SETUP = f'''\
# This notebook rebuilds its pictures with Autograd Explorer, the Python package `explorer`.
try:
    import explorer
except ModuleNotFoundError:
    raise ModuleNotFoundError({INSTALL_HINT!r}) from None
import torch'''

ZERO_WORDS = {
    "none": "without clearing `.grad` in between, so the gradients add up",
    "zero": "with `.grad.zero_()` in between",
    "set-none": "with `.grad = None` in between",
}


@dataclass(frozen=True)
class Recipe:
    """What a notebook rebuilds: a function (its code, and the same function here), values, calls."""

    title: str
    explanation: str  # markdown
    definition: str  # code that defines the function
    function: str  # the function's name in that code
    fn: Callable[..., torch.Tensor]  # the same function, in this process
    values: dict[str, Any]  # plain numbers or lists, one per leaf
    calls: int = 1
    zero: str = "none"
    origin: str = ""  # one line: where it came from
    output_name: str = "f"
    metadata: dict | None = None
    # The exact actions, when they are not `calls` with one zeroing between them: (action, retain_graph)
    # pairs, as the session's history holds them.
    steps: tuple[tuple[Action, bool], ...] | None = None


# How the notebook redoes each action of the app's history: the session method that does it.
# A refused call is made again too: PyTorch runs a freed graph until it needs a freed value, so
# a branch that needs none (the `+ y` of x*x + y) still adds to y.grad before the refusal.
STEP_METHODS = {
    Action.BACKWARD: "backward",
    Action.BACKWARD_SAME_GRAPH: "backward_same_graph",
    Action.REFUSED: "backward_same_graph",
    Action.ZERO: "zero_grad",
    Action.SET_NONE: "zero_grad",
}


def _step_call(action: Action, retain: bool) -> tuple[str, dict[str, Any]]:
    """(session method, its keyword arguments) for one action: the cell's code and this process both use it."""
    method = STEP_METHODS[action]
    if method == "zero_grad":
        return method, {"zero": action.value}
    return method, {"retain_graph": True} if retain else {}


def _step_code(action: Action, retain: bool) -> str:
    method, arguments = _step_call(action, retain)
    call = f"session.{method}(" + ", ".join(f"{key}={value!r}" for key, value in arguments.items()) + ")"
    if action is not Action.REFUSED:
        return call
    return ("try:  # refused, as in the app: the graph was freed (what ran before the refusal stays)\n"
            f"    {call}\nexcept explorer.ExplorerError:\n    pass")


def _run_steps(recipe: "Recipe"):
    """The same actions as the notebook's cell, run here on a new session."""
    done = session(recipe.fn, dict(recipe.values), name=recipe.output_name)
    for action, retain in recipe.steps:
        method, arguments = _step_call(action, retain)
        try:
            getattr(done, method)(**arguments)
        except ExplorerError:
            if action is not Action.REFUSED:
                raise
    return animate_session(done, title=recipe.title)


def lesson_recipe(lesson: Lesson, values: dict[str, Any] | None = None, calls: int = 1, zero: str = "none",
                  steps: tuple[tuple[Action, bool], ...] | None = None) -> Recipe:
    return Recipe(
        title=lesson.title,
        explanation=lesson.full_text,
        definition=_imports_for(lesson.fn) + lesson.source.rstrip("\n"),
        function=lesson.fn.__name__,
        fn=lesson.fn,
        values=_floats(values if values is not None else lesson.defaults),
        calls=calls,
        zero=zero,
        origin=f"lesson `{lesson.id}`",
        output_name=lesson.output_name,
        metadata={"lesson": lesson.id},
        steps=steps,
    )


def _imports_for(fn) -> str:
    """The import a lesson function's cell needs for the names it reads from its own module (the
    chapter's data, INPUTS, and its autograd.Function, Cube): the cell holds the function alone."""
    module = inspect.getmodule(fn)
    found = vars(module) if module is not None else {}
    names = sorted(name for name in fn.__code__.co_names
                   if name in found and not inspect.ismodule(found[name]) and not name.startswith("__"))
    return f"from {module.__name__} import {', '.join(names)}\n\n\n" if names else ""


def expression_recipe(text: str, values: dict[str, Any], calls: int = 1, zero: str = "none",
                      steps: tuple[tuple[Action, bool], ...] | None = None) -> Recipe:
    """A playground expression or program: the notebook parses the same text with explorer.functions
    (never eval), so it makes the same PyTorch operations."""
    function = parse_function(text)
    if isinstance(function, Program):
        parser, fn, what = "program", function, f"A program typed into the playground:\n\n```python\n{function.text}\n```\n\nof "
    else:
        parser, fn, what = "expr", function.build, f"A function typed into the playground: f = `{function.text}`, of "
    name = "parse_program" if parser == "program" else "parse_expression"
    definition = (
        f"from explorer.functions.{parser} import {name}\n\n"
        "# The playground's parser turns the text into the same PyTorch operations, one per step (it never\n"
        "# runs the text as Python). fn(**leaves) builds f from leaf tensors named as the variables.\n"
        f"fn = {name}({function.text!r})" + ("" if parser == "program" else ".build")
    )
    return Recipe(
        title=function_title(function),
        explanation=what + ", ".join(f"`{variable}`" for variable in function.variables) + ".",
        definition=definition,
        function="fn",
        fn=fn,
        values=_floats({variable: values[variable] for variable in function.variables}),
        calls=calls,
        zero=zero,
        origin="the playground",
        metadata={"expression": function.text},
        steps=steps,
    )


def build_notebook(recipe: Recipe) -> nbformat.NotebookNode:
    """The notebook for a recipe, with every output saved. Raises ExplorerError on a bad recipe."""
    if isinstance(recipe.calls, bool) or not isinstance(recipe.calls, int) or recipe.calls < 1:
        raise ExplorerError(f"The number of calls must be 1 or more, not {recipe.calls}.")
    zeroing(recipe.zero)  # a clear error for an unknown zeroing, before any work
    leaves_code = "leaves = {" + ", ".join(
        f"{name!r}: torch.tensor({value!r}, requires_grad=True)" for name, value in recipe.values.items()) + "}"
    # A lesson file's function is called f, like its output: `f = f(**leaves)` would rebind the
    # function that the next cell animates.
    output = recipe.output_name if recipe.output_name != recipe.function else "output"
    draw_code = (f"{leaves_code}\n{output} = {recipe.function}(**leaves)\n"
                 f"diagram = explorer.draw({output}, params=leaves, name={recipe.output_name!r})\n"
                 "print(diagram.dot)\ndiagram")
    zero_literal = "None" if recipe.zero == "none" else repr(recipe.zero)
    values_literal = "{" + ", ".join(f"{name!r}: {value!r}" for name, value in recipe.values.items()) + "}"
    if recipe.steps is None:
        opening = "flow = explorer.animate("
        animate_code = (f"{opening}{recipe.function}, {values_literal}, calls={recipe.calls}, zero={zero_literal},\n"
                        f"{' ' * len(opening)}title={recipe.title!r})\nflow")
    else:
        animate_code = "\n".join([
            "# The same actions as in the app, one by one, on leaf tensors that persist between them.",
            f"session = explorer.session({recipe.function}, {values_literal})",
            *(_step_code(action, retain) for action, retain in recipe.steps),
            f"flow = explorer.animate_session(session, title={recipe.title!r})",
            "flow",
        ])
    grads_code = 'for name, grad in flow.grads.items():\n    print(f"{name}.grad = {grad}")'

    # The outputs: the same calls the cells make, run here.
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in recipe.values.items()}
    diagram = draw(recipe.fn(**leaves), params=leaves, name=recipe.output_name)
    if recipe.steps is None:
        flow = animate(recipe.fn, dict(recipe.values), calls=recipe.calls,
                       zero=None if recipe.zero == "none" else recipe.zero, title=recipe.title)
    else:
        flow = _run_steps(recipe)
    printed = io.StringIO()
    with redirect_stdout(printed):
        for name, grad in flow.grads.items():
            print(f"{name}.grad = {grad}")

    at = ", ".join(f"{name} = {format_number(value)}" for name, value in recipe.values.items())
    note = not_finite_note({recipe.output_name: flow.session.value(),
                            **{f"{name}.grad": grad for name, grad in flow.grads.items()}})
    if recipe.steps is None:
        calls = "once" if recipe.calls == 1 else f"{recipe.calls} times, {ZERO_WORDS[recipe.zero]}"
        how = (f"`explorer.animate` calls `.backward()` {calls}, on the same leaf tensors, and plays the last call "
               "in the engine's own order.")
    else:
        how = ("`explorer.session` holds the leaf tensors; the cell redoes what was done in the app, call by call "
               "and zeroing by zeroing, and `explorer.animate_session` plays the last call in the engine's own order.")
    cells = [
        _markdown("intro", f"# {recipe.title}\n\n{recipe.explanation}\n\n"
                           f"*From Autograd Explorer ({recipe.origin}). Every output below is saved; run all "
                           "cells to rebuild them from PyTorch.*"),
        _code("setup", SETUP, 1),
        _markdown("function-text", "## The function\n\nThe code that runs, exactly as the explorer runs it:"),
        _code("function", recipe.definition, 2),
        _markdown("graph-text",
                  f"## The graph autograd records\n\nAt {at}. `explorer.draw` is torchviz's `make_dot` with the "
                  "leaves named, every saved tensor drawn apart and small values shown. It displays itself "
                  "here; `diagram.dot` is the Graphviz text, and `diagram.save(\"graph.png\", dpi=150)` "
                  "writes a file (also .svg, .pdf, .dot, .json)."),
        _code("graph", draw_code, 3, [
            new_output("stream", name="stdout", text=diagram.dot + "\n"),
            _result(diagram, 3),
        ]),
        _markdown("flow-text",
                  f"## The backward pass, step by step\n\n{how} Click the player "
                  "and press Space to play, ← → to step, End to jump to the result. A viewer that runs no "
                  "JavaScript shows the final state as a picture instead. `flow.save(\"flow.html\")` writes "
                  "the player as one file that works offline."),
        _code("flow", animate_code, 4, [_result(flow, 4)]),
        _markdown("grads-text", "Every leaf's `.grad` after the last call, straight from PyTorch:"
                  + (f"\n\n*{note}*" if note else "")),
        _code("grads", grads_code, 5, [new_output("stream", name="stdout", text=printed.getvalue())]),
    ]
    notebook = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "autograd_explorer": {**(recipe.metadata or {}), "values": recipe.values, "calls": recipe.calls,
                              "steps": [[action.value, retain] for action, retain in recipe.steps] if recipe.steps is not None else None,
                              "zero": recipe.zero, "dot": diagram.dot},
    })
    nbformat.validate(notebook)
    return notebook


def notebook_text(notebook: nbformat.NotebookNode) -> str:
    """The .ipynb file's text (nbformat writes sorted keys, so the same notebook is the same bytes)."""
    return nbformat.writes(notebook) + "\n"


def _floats(values: dict[str, Any]) -> dict[str, Any]:
    """Values as the leaves take them: floats (3 -> 3.0, else torch.tensor(3) would be an integer tensor)."""
    def floated(value):
        if isinstance(value, (list, tuple)):
            return [floated(item) for item in value]
        return float(value)

    try:
        return {name: floated(value) for name, value in values.items()}
    except (TypeError, ValueError):
        raise ExplorerError("Every value must be a number or a list of numbers.") from None


def _markdown(cell_id: str, text: str):
    cell = new_markdown_cell(text)
    cell.id = cell_id
    return cell


def _code(cell_id: str, source: str, count: int, outputs=()):
    cell = new_code_cell(source, execution_count=count, outputs=list(outputs))
    cell.id = cell_id
    return cell


def _result(shown, count: int):
    """What IPython displays for the cell's last expression: the object's own mime bundle."""
    return new_output("execute_result", data=shown._repr_mimebundle_(), execution_count=count)
