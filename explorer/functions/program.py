"""Short programs a student types in the playground: a few lines, such as

    h = tanh(W @ x + b)
    f = mse_loss(h, [0.5, -0.5])

Same safety model as explorer.functions.expr, whose translator and node evaluation this module
extends rather than copies: `ast.parse` builds a tree, nothing is ever run as Python, and each
node kind is translated against a whitelist. Programs add assignments, `for i in range(N)` with
N written out (loops are unrolled while translating, so the total number of rounds and the
number of operations they make are known and bounded before anything is computed), matrices as
nested lists, indexing and slicing with whole numbers written out, and a few more functions and
tensor methods (FUNCTION_NAMES, METHODS).

A name assigned nowhere is a leaf (a value box on the page); a name assigned somewhere must be
assigned before it is read. A value made of numbers only (`n = 2`, a loop's `i`) is a number,
worked out as expr works out numbers and written in where it is used, as Python would use it,
so `x ** n` is PowBackward0 with exponent 2. The output is the last value given to f, or the
last line when it is an expression.

Positions are offsets into the whole text while translating and computing; a ProgramError
says the line and column.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from explorer.functions.expr import (
    _PYTHON_NAMES, CONSTANTS, FUNCTIONS, MAX_DEPTH, MAX_ELEMENTS, MAX_SECONDS, MAX_VARIABLES, OUTPUT_NAME,
    URL_PARAMETERS, Expression, ExpressionError, Operation, _Apply, _check_leaves, _check_nesting, _evaluate,
    _is_constant, _Literal, _Node, _shorten, _sized, _Translator, _Variable, parse_expression,
)
from explorer.values import character_message

# -- bounds -----------------------------------------------------------------------------------
MAX_PROGRAM_LENGTH = 1000  # characters: a dozen lines of a model step
MAX_LINES = 20  # lines with something on them
MAX_PARTS = 600  # names, numbers and operations in the text, before loops are unrolled
MAX_ITERATIONS = 100  # rounds of every loop together, nested ones counted each time they run
MAX_LOOP_NESTING = 2  # a loop inside a loop, no deeper
MAX_OPERATIONS = 2000  # operations once loops are unrolled: bounds the time and the graph's size
MAX_INDEX = 2**31  # a whole number written in a program (range, index, dim, shape) stays below this

# Functions a program may call beyond expr.FUNCTIONS, with what each takes (for messages and the page).
EXTRA_FUNCTIONS = {
    "softmax": "softmax(z, dim): exp(z) / sum(exp(z)) along dim, values between 0 and 1",
    "log_softmax": "log_softmax(z, dim): log(softmax(z, dim)), computed stably",
    "mse_loss": "mse_loss(y, target): the mean of (y - target)**2; both the same shape",
    "cross_entropy": "cross_entropy(logits, target): target a class number (2), a list of them, or probabilities",
    "matmul": "matmul(a, b) is a @ b",
    "t": "t(m): m's rows become columns (also m.t() and m.T)",
    "reshape": "reshape(v, 2, 3): the same values in another shape (-1: whatever fits)",
}
FUNCTION_NAMES = tuple(FUNCTIONS) + tuple(EXTRA_FUNCTIONS)
# v.sum() is sum(v), and so on: the methods a first course uses, each the function of that name.
METHODS = ("sum", "mean", "max", "min", "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
           "pow", "softmax", "log_softmax", "matmul", "t", "reshape")
_WITH_DIM = {"sum": torch.sum, "mean": torch.mean, "softmax": F.softmax, "log_softmax": F.log_softmax}

_STATEMENTS = {  # what each kind of statement is, in the student's words, and what to do instead
    ast.While: "while loops: a loop must say how many rounds it runs, as in for i in range(3):",
    ast.If: "if statements",
    ast.FunctionDef: "defining functions with def",
    ast.AsyncFunctionDef: "defining functions with def",
    ast.ClassDef: "classes",
    ast.Import: "import",
    ast.ImportFrom: "import",
    ast.AugAssign: "+= and friends (h += x changes h in place, which autograd treats differently); write h = h + x",
    ast.AnnAssign: "type annotations; write h = ...",
    ast.Return: "return; put the result in f instead: f = ...",
    ast.Delete: "del",
    ast.With: "with blocks",
    ast.Try: "try blocks",
    ast.Raise: "raise",
    ast.Assert: "assert",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.Pass: "pass",
    ast.Break: "break",
    ast.Continue: "continue",
    ast.Match: "match",
}


class ProgramError(ExpressionError):
    """A problem with a typed program. `position` is the 0-based offset into the whole text;
    `line` and `column` count from 1; `source` is that line, for a caret under it."""

    def __init__(self, message: str, line: int, column: int, position: int, source: str):
        super().__init__(f"Line {line}, column {column}: {message}", position, source=source,
                         summary=f"Line {line}, column {column}: {message}".replace("\n", " "))
        self.line, self.column = line, column

    def with_caret(self, prefix: str) -> str:
        return f"{prefix}{self.summary}\n{' ' * len(prefix)}{self.source}\n{' ' * (len(prefix) + self.column - 1)}^"


@dataclass(frozen=True)
class _Step:
    """One statement as it runs (a loop's body once per round): its value goes to `target`, if any."""

    target: str | None
    tree: _Node
    statement: int  # index into Program.statements: the line of the forward panel it belongs to


@dataclass(frozen=True)
class Program:
    """A checked program. `build(**leaves)` runs its steps on leaf tensors and returns the output."""

    text: str
    variables: tuple[str, ...]  # the leaves, in order of first appearance
    statements: tuple[str, ...]  # the text of each statement (a loop: its `for` line), in order
    _steps: tuple[_Step, ...]
    _output: int  # the index of the step whose value is the output
    _locate: Callable[[ExpressionError], ProgramError]

    def build(self, /, **leaves) -> torch.Tensor:
        return self._run(leaves)[0]

    def __call__(self, /, **leaves) -> torch.Tensor:
        return self.build(**leaves)

    def forward_lines(self, /, **leaves) -> tuple[torch.Tensor, list[tuple[str, str, torch.Tensor | None]]]:
        """The output and, for each statement, (name, text, its last value): one forward line per line written.
        A loop's `for` line has no value of its own."""
        output, last = self._run(leaves)
        lines = []
        for index, text in enumerate(self.statements):
            target, value = last.get(index, (None, None))
            lines.append((target or f"line {index + 1}", text, value))
        return output, lines

    def _run(self, leaves: dict) -> tuple[torch.Tensor, dict[int, tuple[str | None, torch.Tensor]]]:
        try:
            tensors = _check_leaves(self.variables, leaves)
            held, last, output = dict(tensors), {}, None
            deadline = time.perf_counter() + MAX_SECONDS
            for index, step in enumerate(self._steps):
                value = _evaluate(step.tree, held, deadline)
                if step.target is not None:
                    held[step.target] = value
                last[step.statement] = (step.target, value)
                if index == self._output:
                    output = value
        except ProgramError:
            raise
        except ExpressionError as error:
            raise self._locate(error) from None
        if not output.requires_grad and any(leaf.requires_grad for leaf in tensors.values()):
            raise self._locate(ExpressionError(
                f"The output does not depend on any leaf ({', '.join(self.variables)}), so backward has "
                "nothing to reach. Use them in what f is made of.", self._steps[self._output].tree.position))
        return output, last


# -- the front door -----------------------------------------------------------------------------
def is_program(text: str) -> bool:
    """Several lines, a `;`, an assignment or a loop: a program. Anything else is read as one expression,
    exactly as before programs existed (its messages included)."""
    stripped = text.strip() if isinstance(text, str) else ""
    return ("\n" in stripped or ";" in stripped or stripped.startswith("for ")
            or re.search(r"(?<![=<>!])=(?![=])", stripped) is not None)


def parse_function(text: str) -> Expression | Program:
    """What the playground and `show --expr` read: a program, or a single expression."""
    return parse_program(text) if is_program(text) else parse_expression(text)


def function_title(function: Expression | Program) -> str:
    """One line naming the function: `f = x**2`, or a program's statements (a loop's `for ...:` runs into its body)."""
    if isinstance(function, Program):
        text = "; ".join(function.statements).replace(":; ", ": ")
        return _shorten(text, 160)
    return f"f = {function.text}"


def parse_program(text: str) -> Program:
    """Check everything that can be checked without values; a ProgramError says what and where."""
    if not isinstance(text, str):
        raise ExpressionError("The program must be text, such as h = 2*x; f = h**2.")
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    if not text.strip():
        raise ExpressionError("Type a program, for example h = 2*x on one line and f = h**2 on the next.")
    if len(text) > MAX_PROGRAM_LENGTH:
        raise ExpressionError(f"This program has {len(text)} characters; the most allowed is {MAX_PROGRAM_LENGTH}.")
    translator = _ProgramTranslator(text)
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) > MAX_LINES:
        raise ExpressionError(f"This program has {len(lines)} lines; the most allowed is {MAX_LINES}.")
    try:
        for index, character in enumerate(text):
            if character not in "\n\t" and not " " <= character <= "~":  # a tab may indent a loop
                raise ExpressionError(character_message(character, index, "The program").split(" at column")[0]
                                      + ". Please type it with plain keyboard characters.", index)
        _check_nesting(text, 0)
        tree = translator.parse()
        translator.check_size(tree)
        translator.program(tree)
    except ProgramError:
        raise
    except ExpressionError as error:
        raise translator.locate(error) from None
    return translator.result()


# -- translation ----------------------------------------------------------------------------------
class _ProgramTranslator(_Translator):
    """expr's translator over a whole program: statements unrolled into steps, more node kinds."""

    def __init__(self, text: str):
        super().__init__(text, 0)
        self.line_starts = [0] + [match.end() for match in re.finditer("\n", text)]
        self.bound: dict[str, _Literal | None] = {}  # assigned so far: a number (written in) or None (held)
        self.assigned: set[str] = set()  # every name the program assigns somewhere
        self.steps: list[_Step] = []
        self.statements: list[str] = []
        self.statement_of: dict[int, int] = {}  # id of an ast statement -> its index in self.statements
        self.outputs: list[int] = []  # steps that give f a value
        self.last_expression: int | None = None  # the step of a last line that is an expression
        self.iterations = self.operations = self.depth = 0
        self.deadline = time.perf_counter() + MAX_SECONDS

    # -- positions: offsets into the whole text -----------------------------------------------------
    def at(self, node: ast.AST) -> int:
        return self.line_starts[node.lineno - 1] + node.col_offset

    def end(self, node: ast.AST) -> int:
        return self.line_starts[node.end_lineno - 1] + node.end_col_offset

    def operator_position(self, node: ast.BinOp) -> int:
        for index in range(self.end(node.left), self.at(node.right)):
            if self.text[index] not in " ()\n\\":
                return index
        return self.at(node)

    def locate(self, error: ExpressionError) -> ProgramError:
        position = min(max(error.position or 0, 0), len(self.text))
        line = max(index for index, start in enumerate(self.line_starts) if start <= position)
        source = self.text.split("\n")[line]
        message = str(error).replace("This expression", "This program").replace("this expression", "this program")
        return ProgramError(message, line + 1, position - self.line_starts[line] + 1, position, source)

    # -- reading --------------------------------------------------------------------------------------
    def parse(self) -> ast.Module:
        try:
            return ast.parse(self.text, mode="exec")
        except SyntaxError as error:
            raise self.syntax_error(error) from None
        except (RecursionError, MemoryError, ValueError, OverflowError):
            raise ExpressionError("This program is too deeply nested or too large to read.", 0) from None

    def syntax_error(self, error: SyntaxError) -> ProgramError:
        line = min(max(error.lineno or 1, 1), len(self.line_starts))
        source = self.text.split("\n")[line - 1]
        column = min(max(error.offset or 1, 1), len(source) + 1)
        hint = ""
        if isinstance(error, IndentationError):
            hint = " The lines inside a loop are indented, all by the same spaces; the others start at the left."
        elif "decimal literal" in (error.msg or ""):
            hint = " Write multiplication with *: 2*x, not 2x."
        message = f"Python cannot read this line ({error.msg}).{hint}"
        return ProgramError(message, line, column, self.line_starts[line - 1] + column - 1, source)

    def check_size(self, tree: ast.Module) -> None:
        helpers = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
        stack, count = [(statement, 1) for statement in tree.body], 0
        while stack:
            node, depth = stack.pop()
            count += 1
            if depth > MAX_DEPTH + 2 * MAX_LOOP_NESTING:
                raise ExpressionError(f"This program is too deeply nested: more than {MAX_DEPTH} operations "
                                      "inside one another. Please simplify it.",
                                      self.at(node) if hasattr(node, "lineno") else 0)
            if count > MAX_PARTS:
                raise ExpressionError(f"This program has more than {MAX_PARTS} parts. Please shorten it.",
                                      self.at(node) if hasattr(node, "lineno") else 0)
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node) if not isinstance(child, helpers))

    # -- statements -----------------------------------------------------------------------------------
    def program(self, tree: ast.Module) -> None:
        self.assigned = _names_assigned(tree)
        for statement in tree.body:
            self.statement(statement)
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            self.last_expression = len(self.steps) - 1

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            self.assign(node)
        elif isinstance(node, ast.Expr):
            self.add_step(None, self.translate(node.value), node)
        elif isinstance(node, ast.For):
            self.loop(node)
        else:
            what = _STATEMENTS.get(type(node), f"Python's {type(node).__name__} statement")
            raise self.error(f"Not allowed in a program: {what}. A program has assignments such as h = 2*x, "
                             "loops for i in range(3):, and expressions.", node)

    def assign(self, node: ast.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            raise self.error("Assign one name at a time, such as h = W @ x (not a, b = ... or a = b = ...).", node)
        target = node.targets[0]
        self.check_target(target.id, target)
        tree = self.translate(node.value)
        self.add_step(target.id, tree, node)
        if _is_constant(tree):  # a number: written in where it is used, as Python would use it
            self.bound[target.id] = _Literal(_evaluate(tree, {}, self.deadline).item(), target.id, self.at(target))
        else:
            self.bound[target.id] = None
        if target.id == OUTPUT_NAME:
            self.outputs.append(len(self.steps) - 1)

    def loop(self, node: ast.For) -> None:
        if node.orelse:
            raise self.error("A for loop with an else is not allowed here.", node.orelse[0])
        if not isinstance(node.target, ast.Name):
            raise self.error("A loop counts with one name, as in for i in range(3):", node.target)
        if self.depth >= MAX_LOOP_NESTING:
            raise self.error(f"Loops are nested more than {MAX_LOOP_NESTING} deep; please flatten them.", node)
        rounds = self.rounds(node.iter)
        if self.iterations + len(rounds) > MAX_ITERATIONS:
            raise self.error(
                f"This loop runs {len(rounds)} times{', inside another loop' if self.depth else ''}, which brings the "
                f"program to more than {MAX_ITERATIONS} rounds in all; the most is {MAX_ITERATIONS}.",
                node.iter.args[0 if len(node.iter.args) == 1 else 1])  # at the count itself
        self.check_target(node.target.id, node.target)
        header = self.text[self.at(node):self.at(node.body[0])].strip().rstrip(";").strip()
        self.statement_index(node, header.split("\n")[0].strip())
        self.depth += 1
        for value in rounds:
            self.iterations += 1
            self.bound[node.target.id] = _Literal(value, node.target.id, self.at(node.target))
            for statement in node.body:
                self.statement(statement)
        self.depth -= 1

    def rounds(self, node: ast.AST) -> range:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"):
            raise self.error("A loop here runs over range(N) with N written out, as in for i in range(3):", node)
        if node.keywords or not 1 <= len(node.args) <= 3:
            raise self.error("range takes one to three whole numbers, such as range(3) or range(1, 4).", node)
        for argument in node.args:
            if self.static_int(argument) is None:
                raise self.error(f"A loop's rounds must be written out, as in range(3): range({_shorten(self.source(argument))}) "
                                 "gives no count known before it runs, so it could run without bound.", argument)
        numbers = [self.whole_number(argument, "range") for argument in node.args]
        if len(numbers) == 3 and numbers[2] == 0:
            raise self.error("range's step cannot be 0: the loop would never end.", node.args[2])
        return range(*numbers)

    def add_step(self, target: str | None, tree: _Node, node: ast.stmt) -> None:
        self.operations += _count_operations(tree)
        if self.operations > MAX_OPERATIONS:
            raise self.error(f"With its loops run, this program makes more than {MAX_OPERATIONS} operations; "
                             "please use fewer rounds or shorter lines.", node)
        index = self.statement_index(node, _shorten(self.source(node).replace("\n", " "), 80))
        self.steps.append(_Step(target, tree, index))

    def statement_index(self, node: ast.stmt, text: str) -> int:
        key = self.at(node)
        if key not in self.statement_of:
            self.statement_of[key] = len(self.statements)
            self.statements.append(text)
        return self.statement_of[key]

    def check_target(self, name: str, node: ast.AST) -> None:
        self.check_name(name, node)
        if name in FUNCTION_NAMES or name in CONSTANTS or name in _PYTHON_NAMES or name.lower() in URL_PARAMETERS:
            raise self.error(f"'{name}' is a name the explorer keeps (a function, constant or Python built-in); "
                             "choose another, such as h or w1.", node)

    def result(self) -> Program:
        if self.outputs:
            output = self.outputs[-1]
        elif self.last_expression is not None:
            output = self.last_expression
        else:
            last = self.steps[-1].tree if self.steps else None
            raise self.locate(ExpressionError(
                "This program has no output: give f its value (f = ...), or end with an expression such as sum(h).",
                last.position if last is not None else len(self.text)))
        variables = self.variables()
        if not variables:
            raise self.locate(ExpressionError(
                "This program has no leaves (names it uses without assigning them), so there is nothing to take "
                "a gradient with respect to. Use a name such as x without assigning it: f = 3*x**2.", 0))
        if len(variables) > MAX_VARIABLES:
            raise self.locate(ExpressionError(
                f"This program has {len(variables)} leaves ({', '.join(variables)}); the most allowed is "
                f"{MAX_VARIABLES}.", 0))
        return Program(self.text, variables, tuple(self.statements), tuple(self.steps), output, self.locate)

    # -- expressions: expr's handlers, and these ------------------------------------------------------
    def name(self, node: ast.Name) -> _Node:
        name = node.id
        if name in self.bound:
            held = self.bound[name]
            return _Variable(name, name, self.at(node)) if held is None else _Literal(held.value, name, self.at(node))
        if name in self.assigned:
            raise self.error(f"'{name}' is used before it is assigned: give it a value on an earlier line.", node)
        if name in EXTRA_FUNCTIONS or name == "range":
            raise self.error(f"'{name}' is a function: call it on something, like {name}(x).", node)
        new = name not in self.first_seen
        leaf = super().name(node)
        if new and isinstance(leaf, _Variable):
            self.first_seen[name] = self.at(node)  # offsets in the whole text, for the order of the value boxes
        return leaf

    def binary(self, node: ast.BinOp) -> _Node:
        if not isinstance(node.op, ast.MatMult):
            return super().binary(node)
        left, right = self.translate(node.left), self.translate(node.right)
        return self.apply(_matmul(self.source(node.left), self.source(node.right), self.at(node)), (left, right), node)

    def matrix(self, node: ast.List) -> _Node:
        if not node.elts:
            raise self.error("An empty list [] has no values; give it at least one, such as [1, 2].", node)
        if len(node.elts) > MAX_ELEMENTS:
            raise self.error(f"This list has {len(node.elts)} values; the most is {MAX_ELEMENTS}.", node)
        elements = tuple(self.translate(element) for element in node.elts)
        return self.apply(_stack(_shorten(self.source(node)), self.at(node)), elements, node)

    def index(self, node: ast.Subscript) -> _Node:
        value = self.translate(node.value)
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        key = tuple(self.index_part(part) for part in parts)
        return self.apply(_indexer(key, self.source(node.value), self.source(node), self.at(node)), (value,), node)

    def index_part(self, node: ast.AST):
        if isinstance(node, ast.Slice):
            bounds = [None if part is None else self.whole_number(part, "a slice") for part in
                      (node.lower, node.upper, node.step)]
            if bounds[2] is not None and bounds[2] <= 0:
                raise self.error("A slice's step must be 1 or more, as in v[0:4:2].", node.step)
            return slice(*bounds)
        return self.whole_number(node, "an index")

    def attribute(self, node: ast.Attribute) -> _Node:
        if node.attr == "T":
            return self.apply(_transpose(self.source(node.value), self.at(node)), (self.translate(node.value),), node)
        if node.attr in METHODS:
            raise self.error(f"{_shorten(self.source(node))} is a method: call it, {_shorten(self.source(node))}().", node)
        raise self.error(self.unknown_method(node.attr), self.end(node) - len(node.attr))

    def call(self, node: ast.Call) -> _Node:
        if isinstance(node.func, ast.Attribute):  # v.sum() is sum(v)
            name = node.func.attr
            if name not in METHODS:
                raise self.error(self.unknown_method(name), self.end(node.func) - len(name))
            arguments = [node.func.value, *node.args]
        elif isinstance(node.func, ast.Name) and node.func.id in (*EXTRA_FUNCTIONS, "range") or (
                isinstance(node.func, ast.Name) and node.func.id in _WITH_DIM and (node.keywords or len(node.args) > 1)):
            name, arguments = node.func.id, list(node.args)
            if name == "range":
                raise self.error("range(...) is only for loops: for i in range(3):", node)
        else:
            return super().call(node)  # expr's functions, and its messages, exactly as in an expression
        for argument in arguments:
            if isinstance(argument, ast.Starred):
                raise self.error(f"The * in {_shorten(self.source(node))} is not allowed.", argument)
        return self.function(name, arguments, node)

    def function(self, name: str, arguments: list, node: ast.Call) -> _Node:
        dim = self.dim_keyword(name, node)
        here, source = self.at(node), self.source(node)
        if name in _WITH_DIM:
            if dim is None and len(arguments) == 2:
                dim = self.whole_number(arguments.pop(), f"{name}'s dim")
            if dim is None and name in ("softmax", "log_softmax"):
                raise self.error(f"{name} needs the dim it works along, such as {name}(z, 0) or {name}(z, dim=0).", node)
            self.count_arguments(name, arguments, 1, node)
            if dim is None:  # sum(v) and v.sum(): expr's own step, folded like it where v is a number
                return _Apply(name, (self.translate(arguments[0]),), source, here)
            return self.apply(_along(name, dim, self.source(arguments[0]), here), (self.translate(arguments[0]),), node)
        if dim is not None:
            raise self.error(f"{name} takes no dim.", node)
        if name == "reshape":
            if len(arguments) < 2:
                raise self.error("reshape needs the new shape, such as reshape(v, 2, 3) or v.reshape(2, 3).", node)
            shape_nodes = arguments[1].elts if len(arguments) == 2 and isinstance(arguments[1], (ast.Tuple, ast.List)) \
                else arguments[1:]
            shape = tuple(self.whole_number(part, "a shape") for part in shape_nodes)
            return self.apply(_reshape(shape, self.source(arguments[0]), here), (self.translate(arguments[0]),), node)
        if name == "cross_entropy":
            self.count_arguments(name, arguments, 2, node)
            classes = self.class_numbers(arguments[1])
            inputs = (self.translate(arguments[0]),) if classes is not None else tuple(map(self.translate, arguments))
            return self.apply(_cross_entropy(classes, self.source(arguments[0]), self.source(arguments[1]), here),
                              inputs, node)
        if name in ("t",) + tuple(FUNCTIONS):  # a method of one of expr's functions: x.exp() is exp(x)
            if name == "t":
                self.count_arguments(name, arguments, 1, node)
                return self.apply(_transpose(self.source(arguments[0]), here), (self.translate(arguments[0]),), node)
            function = FUNCTIONS[name]
            self.count_arguments(name, arguments, function.arity, node)
            translated = tuple(self.translate(argument) for argument in arguments)
            if name == "pow":
                self.check_exponent(translated[1])
            return _Apply(name, translated, source, here)
        self.count_arguments(name, arguments, 2, node)
        left, right = (self.translate(argument) for argument in arguments)
        operation = (_matmul(self.source(arguments[0]), self.source(arguments[1]), here) if name == "matmul"
                     else _mse_loss(self.source(arguments[0]), self.source(arguments[1]), here))
        return self.apply(operation, (left, right), node)

    def dim_keyword(self, name: str, node: ast.Call) -> int | None:
        for keyword_argument in node.keywords:
            if keyword_argument.arg != "dim" or name not in _WITH_DIM:
                written = f"{keyword_argument.arg}=..." if keyword_argument.arg else "**..."
                raise self.error(f"{name}(...) takes no keyword argument {written}"
                                 + (" (only dim=...)." if name in _WITH_DIM else "."), keyword_argument.value)
            return self.whole_number(keyword_argument.value, "dim")
        return None

    def count_arguments(self, name: str, arguments: list, wanted: int, node: ast.AST) -> None:
        if len(arguments) != wanted:
            summary = EXTRA_FUNCTIONS.get(name) or FUNCTIONS[name].summary
            raise self.error(f"{name} takes {wanted} argument{'s' if wanted > 1 else ''} ({summary}), but "
                             f"{_shorten(self.source(node))} gives {len(arguments)}.", node)

    def class_numbers(self, node: ast.AST) -> torch.Tensor | None:
        """cross_entropy's target as class numbers (2, or [0, 2]), or None for a tensor of probabilities."""
        if isinstance(node, ast.List) and all(self.static_int(element) is not None for element in node.elts) and node.elts:
            return torch.tensor([self.static_int(element) for element in node.elts], dtype=torch.long)
        number = self.static_int(node)
        return None if number is None else torch.tensor(number, dtype=torch.long)

    def whole_number(self, node: ast.AST, what: str) -> int:
        number = self.static_int(node)
        if number is None:
            raise self.error(f"{what} must be a whole number written out (such as 3 or -1), or a loop's counter; "
                             f"{_shorten(self.source(node))} is not one.", node)
        return number

    def static_int(self, node: ast.AST) -> int | None:
        """A whole number known before anything runs: 3, -1, a loop's i, or a name given a whole number."""
        negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        inner = node.operand if negative else node
        if isinstance(inner, ast.Constant) and type(inner.value) is int:
            value = inner.value
        elif isinstance(inner, ast.Name) and isinstance(self.bound.get(inner.id), _Literal):
            value = self.bound[inner.id].value
            if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                return None
        else:
            return None
        if abs(value) >= MAX_INDEX:
            raise self.error(f"{_shorten(self.source(node))} is too large a whole number here.", node)
        return -int(value) if negative else int(value)

    def unknown_method(self, name: str) -> str:
        close = difflib.get_close_matches(name, METHODS, n=1)
        known = "; the methods you can call are ." + ", .".join(METHODS) + "()"
        if close:
            return f"Unknown method '.{name}'. Did you mean '.{close[0]}'?"
        return f"'.{name}' is not one of the methods you can use here{known}."

    def unknown_function(self, name: str) -> str:
        close = difflib.get_close_matches(name, FUNCTION_NAMES, n=1)
        if close and name not in _PYTHON_NAMES:
            return f"Unknown function '{name}'. Did you mean '{close[0]}'?"
        return super().unknown_function(name) + " In a program also: " + ", ".join(EXTRA_FUNCTIONS) + "."

    def apply(self, operation: Operation, arguments: tuple, node: ast.AST) -> _Apply:
        return _Apply(operation, arguments, self.source(node), self.at(node))

    def error(self, message: str, node) -> ExpressionError:
        return ExpressionError(message, node if isinstance(node, int) else self.at(node))

    HANDLERS = {**_Translator.HANDLERS, ast.Name: name, ast.BinOp: binary, ast.Call: call, ast.List: matrix,
                ast.Subscript: index, ast.Attribute: attribute}


def _names_assigned(tree: ast.Module) -> set[str]:
    """Every name the program assigns (ast.walk would do, but it imports on each call)."""
    names, stack = set(), [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _count_operations(tree: _Node) -> int:
    """Operations in one step's tree (at most MAX_DEPTH deep, so the recursion is short)."""
    if isinstance(tree, _Apply):
        return 1 + sum(_count_operations(argument) for argument in tree.arguments)
    return 0


# -- a program's own steps: each checks its inputs' shapes and says so in the student's terms -----------
def _tensor(value) -> torch.Tensor:
    """A number handed over as a Python number (expr does so) becomes a float32 tensor, as a leaf is."""
    return value if isinstance(value, torch.Tensor) else torch.tensor(float(value), dtype=torch.float32)


def _step(compute: Callable, summary: str, arity: int = 1) -> Operation:
    return Operation(arity, compute, "any", summary, folds=False)


def _matmul(left: str, right: str, position: int) -> Operation:
    def compute(a, b):
        a, b = _tensor(a), _tensor(b)
        for source, value in ((left, a), (right, b)):
            if value.dim() not in (1, 2):
                raise ExpressionError(f"@ multiplies vectors and matrices, but {_sized(source, tuple(value.shape))}."
                                      + (" To multiply by a single number, use *." if value.dim() == 0 else ""),
                                      position)
        inner_left, inner_right = a.shape[-1], b.shape[0]
        if inner_left != inner_right:
            raise ExpressionError(
                f"The shapes do not match for @: {_sized(left, tuple(a.shape))}, {_sized(right, tuple(b.shape))}. "
                f"The left's last size ({inner_left}) must equal the right's first size ({inner_right}).", position)
        size = (a.shape[0] if a.dim() == 2 else 1) * (b.shape[1] if b.dim() == 2 else 1)
        if size > MAX_ELEMENTS:
            raise ExpressionError(f"{_shorten(left)} @ {_shorten(right)} would have {size} values; the most is "
                                  f"{MAX_ELEMENTS}.", position)
        return a @ b
    return _step(compute, "a @ b", 2)


def _stack(source: str, position: int) -> Operation:
    def compute(*elements):
        rows = [_tensor(element) for element in elements]
        shapes = [tuple(row.shape) for row in rows]
        if len(set(shapes)) > 1:
            different = next(index for index, shape in enumerate(shapes) if shape != shapes[0])
            raise ExpressionError(
                f"The parts of {source} do not match: part 1 {_sized('', shapes[0])[1:]}, part {different + 1} "
                f"{_sized('', shapes[different])[1:]}. Every row of a matrix needs the same number of values.", position)
        if math.prod(shapes[0]) * len(rows) > MAX_ELEMENTS:
            raise ExpressionError(f"{source} has more than {MAX_ELEMENTS} values.", position)
        return torch.stack(rows)
    return _step(compute, "a vector or matrix [[1, 2], [3, 4]]", 0)


def _indexer(key: tuple, value_source: str, source: str, position: int) -> Operation:
    def compute(value):
        value = _tensor(value)
        if len(key) > value.dim():
            raise ExpressionError(f"{_shorten(source)} uses {len(key)} indices, but "
                                  f"{_sized(value_source, tuple(value.shape))}.", position)
        for size, part in zip(value.shape, key):
            if isinstance(part, int) and not -size <= part < size:
                raise ExpressionError(f"The index {part} in {_shorten(source)} is out of range: that side has {size} "
                                      f"value{'s' if size != 1 else ''} (indices 0 to {size - 1}, or -{size} to -1).",
                                      position)
        result = value[key]
        if result.numel() == 0:
            raise ExpressionError(f"{_shorten(source)} is empty: the slice holds no values.", position)
        return result
    return _step(compute, "v[0], v[1:3], m[0, 1]")


def _transpose(source: str, position: int) -> Operation:
    def compute(value):
        value = _tensor(value)
        if value.dim() > 2:
            raise ExpressionError(f"t() turns a matrix around, but {_sized(source, tuple(value.shape))}.", position)
        return value.t()
    return _step(compute, "m.t()")


def _reshape(shape: tuple[int, ...], source: str, position: int) -> Operation:
    def compute(value):
        value = _tensor(value)
        known = math.prod(size for size in shape if size != -1)
        fits = (shape.count(-1) == 0 and known == value.numel()) or (
            shape.count(-1) == 1 and known > 0 and value.numel() % known == 0)
        if not fits or any(size == 0 or size < -1 for size in shape):
            raise ExpressionError(f"{_sized(source, tuple(value.shape))}, which cannot take the shape {shape} "
                                  f"({value.numel()} values in all must fit).", position)
        return value.reshape(shape)
    return _step(compute, "v.reshape(2, 3)")


def _along(name: str, dim: int, source: str, position: int) -> Operation:
    def compute(value):
        value = _tensor(value)
        dims = max(value.dim(), 1)
        if not -dims <= dim < dims:
            raise ExpressionError(f"{name}'s dim {dim} is out of range: {_sized(source, tuple(value.shape))}, so dim "
                                  f"is between {-dims} and {dims - 1}.", position)
        return _WITH_DIM[name](value, dim=dim)
    return _step(compute, f"{name}(v, dim)")


def _mse_loss(left: str, right: str, position: int) -> Operation:
    def compute(a, b):
        a, b = _tensor(a), _tensor(b)
        if a.shape != b.shape:
            raise ExpressionError(f"mse_loss needs two tensors of the same shape: {_sized(left, tuple(a.shape))}, "
                                  f"{_sized(right, tuple(b.shape))}.", position)
        return F.mse_loss(a, b)
    return _step(compute, "mse_loss(y, target)", 2)


def _cross_entropy(classes: torch.Tensor | None, left: str, right: str, position: int) -> Operation:
    def compute(logits, probabilities=None):
        logits = _tensor(logits)
        if logits.dim() not in (1, 2):
            raise ExpressionError(f"cross_entropy's logits are a vector (one example) or a matrix (a row per "
                                  f"example), but {_sized(left, tuple(logits.shape))}.", position)
        count = logits.shape[-1]
        if classes is None:
            target = _tensor(probabilities)
            if target.shape != logits.shape:
                raise ExpressionError(f"cross_entropy with probabilities needs them the logits' shape: "
                                      f"{_sized(left, tuple(logits.shape))}, {_sized(right, tuple(target.shape))}.",
                                      position)
        else:
            target = classes
            wanted = () if logits.dim() == 1 else (logits.shape[0],)
            if tuple(target.shape) != wanted:
                raise ExpressionError(f"cross_entropy needs {'one class number' if not wanted else f'{wanted[0]} class numbers'}"
                                      f" for {_sized(left, tuple(logits.shape))}; {_shorten(right)} gives "
                                      f"{target.numel()}.", position)
            if bool(((target < 0) | (target >= count)).any()):
                raise ExpressionError(f"A class number in {_shorten(right)} is out of range: {_shorten(left)} has {count} "
                                      f"classes, numbered 0 to {count - 1}.", position)
        return F.cross_entropy(logits, target)
    return _step(compute, "cross_entropy(logits, target)", 1 if classes is not None else 2)
