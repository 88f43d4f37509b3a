"""Math a student types, such as `5*x**2 + x*y` or `sum(v * v)`, turned into PyTorch ops safely.

The text is never run as Python. `ast.parse` only builds a syntax tree; a translation then
accepts a short whitelist of node kinds (numbers, names, + - * / ** @, unary minus and plus,
calls of the functions in FUNCTIONS) and turns them into a tiny tree of our own. Anything
else, from `x.grad` to f-strings, is refused with a message that names it. `Expression.build`
walks that tree and calls PyTorch once a step, so the graph a student sees is made of the ops
their own Python code would make: `x**2` gives PowBackward0 with exponent 2, as in the lessons.

Hostile text is stopped before it can cost anything, cheapest check first: length and
characters (plain string checks), bracket nesting (before the parser, which could recurse on
it), node count and depth of the tree (with an explicit stack, before our own recursion), the
size of numbers and exponents (during translation), and the size of every tensor (during the
build). Numbers are never combined with each other by Python: a part made of numbers only is
worked out in float64 tensors, so `9**9**9` is an `inf` in microseconds, not a hang, and
`x*(16777217-16777216)` is `x*1`, as Python's exact integers make it (float32 would say 0).
"""

from __future__ import annotations

import ast
import builtins
import difflib
import itertools
import keyword
import math
import operator
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Union

import torch
import torch.nn.functional as F

from explorer.errors import BadValueError, ExplorerError
from explorer.values import character_message, parse_number

# -- bounds -----------------------------------------------------------------------------------
MAX_LENGTH = 300  # characters of an expression: a long polynomial fits, a pasted page does not
MAX_DEPTH = 30  # bracket nesting in the text and nesting of the tree; keeps every recursion short
MAX_NODES = 200  # numbers, names and operations in the tree
MAX_VARIABLES = 10  # distinct variables; each one needs its own value box
MAX_NAME_LENGTH = 20  # characters of a variable name
MAX_EXPONENT = 100  # size of an exponent written as a number; float32 overflows long before (2**128)
MAX_ELEMENTS = 1000  # values in a leaf, and in every tensor the build makes
MAX_VALUE_LENGTH = 30_000  # characters of one value box: MAX_ELEMENTS numbers with long decimals
MAX_SECONDS = 1.0  # a backstop only: within the bounds above a build takes well under a millisecond
FLOAT32_MAX = float(torch.finfo(torch.float32).max)  # about 3.4e38; a bigger number is inf in float32

_SURROUNDING_SPACE = " \t\r\n"  # stripped from both ends; anywhere else a tab or line break is refused


# "1e", "2.5E+x": e-notation without its digits (Python reads them as a broken number, as it reads 2x).
# Pattern texts for re.search (re's compiling function is a word this module's source never holds).
_UNFINISHED_E = r"(?<![\w.])\d+\.?\d*[eE](?![0-9]|[+-][0-9])"
_NUMBER_BEFORE_NAME = r"(?<![\w.])(\d+\.?\d*)([A-Za-z_]\w*)"


class ExpressionError(ExplorerError):
    """A problem with a typed expression. `position` is the 0-based column it points at, or None.
    A syntax error also keeps the expression as typed (`source`) and its message in one line
    (`summary`), for a terminal that shows the caret under the expression itself."""

    def __init__(self, message: str, position: int | None = None, source: str | None = None,
                 summary: str | None = None):
        super().__init__(message)
        self.position = position
        self.source = source
        self.summary = summary or message

    def with_caret(self, prefix: str) -> str:
        """`prefix`, the expression, the message, all on one line; under it a caret at the column."""
        if self.source is None or self.position is None:
            return prefix + self.summary
        return f"{prefix}{self.source}   ← {self.summary}\n{' ' * (len(prefix) + self.position)}^"


# -- what the interpreter can do: one table for operators and functions ------------------------
@dataclass(frozen=True)
class Operation:
    """One step the interpreter can take: its PyTorch call and how its inputs' shapes must agree."""

    arity: int
    compute: Callable
    shapes: str  # "any" (one input), "broadcast" (elementwise, two inputs) or "vectors" (@)
    summary: str  # for a help list on the page
    # Whether a part made of numbers only may be worked out first, as one number (sin(2), 2**31 + 1).
    # A program's tensor-making steps (a matrix [[1, 2], [3, 4]], v[0], reshape) may not: they are no number.
    folds: bool = True


_OPERATORS: dict[str, Operation] = {
    # operator.add and friends, not torch.add: `2 - x` then makes RsubBackward1, exactly as Python does
    "+": Operation(2, operator.add, "broadcast", "a + b"),
    "-": Operation(2, operator.sub, "broadcast", "a - b"),
    "*": Operation(2, operator.mul, "broadcast", "a * b, value by value"),
    "/": Operation(2, operator.truediv, "broadcast", "a / b, value by value"),
    "**": Operation(2, operator.pow, "broadcast", "a ** b, a to the power b"),
    "@": Operation(2, operator.matmul, "vectors", "v @ w, the dot product of two vectors"),
    "neg": Operation(1, operator.neg, "any", "-a"),
    "pos": Operation(1, operator.pos, "any", "+a"),
}

FUNCTIONS: dict[str, Operation] = {
    "sin": Operation(1, torch.sin, "any", "sine, in radians, value by value"),
    "cos": Operation(1, torch.cos, "any", "cosine, in radians, value by value"),
    "tan": Operation(1, torch.tan, "any", "tangent, in radians, value by value"),
    "exp": Operation(1, torch.exp, "any", "e to the power a, value by value"),
    "log": Operation(1, torch.log, "any", "natural logarithm; NaN below 0, -inf at 0"),
    "sqrt": Operation(1, torch.sqrt, "any", "square root; NaN below 0"),
    "abs": Operation(1, torch.abs, "any", "absolute value"),
    "tanh": Operation(1, torch.tanh, "any", "hyperbolic tangent, between -1 and 1"),
    "sigmoid": Operation(1, torch.sigmoid, "any", "1 / (1 + exp(-a)), between 0 and 1"),
    "relu": Operation(1, torch.relu, "any", "a where a > 0, else 0"),
    "softplus": Operation(1, F.softplus, "any", "log(1 + exp(a)), a smooth relu"),
    "pow": Operation(2, operator.pow, "broadcast", "pow(a, b) is a ** b"),
    "sum": Operation(1, torch.sum, "any", "all values added up: one number"),
    "mean": Operation(1, torch.mean, "any", "the average of all values: one number"),
    "max": Operation(1, torch.max, "any", "the largest value: one number"),
    "min": Operation(1, torch.min, "any", "the smallest value: one number"),
}

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_OPERATIONS = {**_OPERATORS, **FUNCTIONS}
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@"}
_UNARY = {ast.USub: "neg", ast.UAdd: "pos"}

# Python's built-in names (open, exec, print, ...): refused as variables so nothing looks like Python.
_PYTHON_NAMES = frozenset(name for name in dir(builtins) if not name.startswith("_"))
# The app keeps a variable's value in the page's URL as ?name=value, beside these parameters of
# its own (and Streamlit's `embed`), so a variable may not take one of these names.
OUTPUT_NAME = "f"  # what the playground calls the expression's value: "f = ..."
URL_PARAMETERS = frozenset({"expr", "lesson", "ops", "step", "present", "predict", "embed", "embed_options", "case"})
_NAME = r"[A-Za-z][A-Za-z0-9]*"  # a variable name: ASCII letters and digits, starting with a letter

_ALLOWED = (
    "You can use numbers, variables such as x or w1, + - * / ** @, brackets ( ), the constants "
    "pi and e, and the functions " + ", ".join(FUNCTIONS) + "."
)

# Syntax that parses as Python but is not math here, in the student's words.
_REFUSED_SYNTAX = {
    ast.Attribute: "attribute access with a dot, like x.grad",
    ast.Subscript: "indexing with [...], like v[0]",
    ast.Slice: "slices, like v[1:3]",
    ast.Lambda: "lambda functions",
    ast.ListComp: "comprehensions (for ... in ...)",
    ast.SetComp: "comprehensions (for ... in ...)",
    ast.DictComp: "comprehensions (for ... in ...)",
    ast.GeneratorExp: "comprehensions (for ... in ...)",
    ast.Compare: "comparisons such as <, > or ==",
    ast.BoolOp: "'and' and 'or'",
    ast.IfExp: "'... if ... else ...'",
    ast.Starred: "* unpacking",
    ast.Dict: "dictionaries {...}",
    ast.Set: "sets {...}",
    ast.List: "lists [...] inside an expression (give a list as a variable's value instead)",
    ast.Tuple: "several values separated by commas",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.NamedExpr: "the := operator",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}

_REFUSED_OPERATORS = {
    ast.FloorDiv: ("//", "Use / to divide."),
    ast.Mod: ("%", ""),
    ast.BitXor: ("^", "For a power write ** as in Python: x**2."),
    ast.BitAnd: ("&", ""),
    ast.BitOr: ("|", ""),
    ast.LShift: ("<<", ""),
    ast.RShift: (">>", ""),
    ast.Invert: ("~", ""),
    ast.Not: ("not", ""),
}

# -- the parsed form -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Literal:
    value: int | float  # within FLOAT32_MAX; only ever handed to PyTorch, never combined by Python
    source: str
    position: int


@dataclass(frozen=True)
class _Variable:
    name: str
    source: str
    position: int


@dataclass(frozen=True)
class _Apply:
    operation: Union[str, Operation]  # a key of _OPERATIONS, or a program's own step (explorer.functions.program)
    arguments: tuple
    source: str
    position: int


_Node = Union[_Literal, _Variable, _Apply]


@dataclass(frozen=True)
class Expression:
    """A checked expression. `build(**leaves)` makes its value from leaf tensors, one PyTorch op a step."""

    text: str
    variables: tuple[str, ...]  # in order of first appearance
    _root: _Node = field(repr=False, compare=False)

    def build(self, /, **leaves) -> torch.Tensor:
        """The value as a tensor, built from the named leaves; the `fn` for BackwardSession(fn, values).

        `self` is positional-only so that a variable may be called anything the parser allows.
        Leaves not in the expression are ignored (a page may keep values of earlier expressions).
        """
        tensors = _check_leaves(self.variables, leaves)
        return _evaluate(self._root, tensors, time.perf_counter() + MAX_SECONDS)

    def __call__(self, /, **leaves) -> torch.Tensor:
        return self.build(**leaves)


# -- parsing -----------------------------------------------------------------------------------
def parse_expression(text: str) -> Expression:
    """Check everything that can be checked without values; an ExpressionError says what is wrong."""
    if not isinstance(text, str):
        raise ExpressionError("The expression must be text, such as 5*x**2 + x*y.")
    stripped = text.strip(_SURROUNDING_SPACE)
    lead = len(text) - len(text.lstrip(_SURROUNDING_SPACE))
    if not stripped:
        raise ExpressionError("Type an expression, for example 5*x**2 + x*y.")
    if len(stripped) > MAX_LENGTH:
        raise ExpressionError(f"This expression has {len(stripped)} characters; the most allowed is {MAX_LENGTH}.")
    _check_characters(stripped, lead, "The expression")
    _check_nesting(stripped, lead)
    translator = _Translator(stripped, lead)
    tree = translator.parse()
    translator.check_size(tree)
    root = translator.translate(tree)
    variables = translator.variables()
    if not variables:
        raise ExpressionError(
            "This expression has no variables, so there is nothing to take a gradient with respect to. "
            "Use a name such as x: for example 3*x**2."
        )
    if len(variables) > MAX_VARIABLES:
        raise ExpressionError(
            f"This expression has {len(variables)} variables ({', '.join(variables)}); the most allowed is {MAX_VARIABLES}."
        )
    return Expression(stripped, variables, root)


def _check_characters(text: str, lead: int, what: str) -> None:
    """Plain printable ASCII only: no look-alike letters, invisible or direction-changing characters."""
    for index, character in enumerate(text):
        if not " " <= character <= "~":
            raise ExpressionError(character_message(character, index + lead, what), index + lead)


def _check_nesting(text: str, lead: int) -> None:
    """Bracket depth, counted before the parser sees the text: deep nesting is what makes parsers recurse."""
    depth = 0
    for index, character in enumerate(text):
        if character in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ExpressionError(
                    f"This expression nests brackets more than {MAX_DEPTH} deep (column {index + lead + 1}).",
                    index + lead,
                )
        elif character in ")]}":
            depth = max(depth - 1, 0)


class _Translator:
    """From text to our tree: parse, measure, then translate node by node against the whitelist."""

    def __init__(self, text: str, lead: int):
        self.text = text
        self.lead = lead  # leading spaces stripped off; positions count them so they match what was typed
        self.first_seen: dict[str, int] = {}

    def parse(self) -> ast.Expression:
        try:
            return ast.parse(self.text, mode="eval")
        except SyntaxError as error:  # IndentationError and "too many nested parentheses" included
            raise self.syntax_error(error) from None
        except (RecursionError, MemoryError, ValueError, OverflowError):
            raise ExpressionError("This expression is too deeply nested or too large to read.") from None

    def check_size(self, tree: ast.Expression) -> None:
        """Count nodes and depth with an explicit stack, so a hostile tree cannot exhaust Python's stack."""
        helpers = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)  # not parts of their own
        stack, count = [(tree.body, 1, self.at(tree.body))], 0
        while stack:
            node, depth, position = stack.pop()
            if isinstance(node, ast.expr):  # a comprehension's `for` or a lambda's arguments have no column
                position = self.at(node)
            count += 1
            if depth > MAX_DEPTH:
                raise ExpressionError(
                    f"This expression is too deeply nested: more than {MAX_DEPTH} operations inside one another "
                    "(in a long chain a + b + c + ... each + counts). Please simplify it.", position)
            if count > MAX_NODES:
                raise ExpressionError(f"This expression has more than {MAX_NODES} parts. Please shorten it.")
            stack.extend((child, depth + 1, position) for child in ast.iter_child_nodes(node)
                         if not isinstance(child, helpers))

    def variables(self) -> tuple[str, ...]:
        return tuple(sorted(self.first_seen, key=self.first_seen.__getitem__))

    # -- translation, one method per allowed node kind -------------------------------------------
    def translate(self, node: ast.AST) -> _Node:
        handler = self.HANDLERS.get(type(node))
        if handler is None:
            raise self.error(self.refusal(node), node)
        return handler(self, node)

    def expression(self, node: ast.Expression) -> _Node:
        return self.translate(node.body)

    def binary(self, node: ast.BinOp) -> _Node:
        symbol = _BINARY.get(type(node.op))
        if symbol is None:
            raise self.operator_error(node.op, self.operator_position(node))
        left, right = self.translate(node.left), self.translate(node.right)
        if symbol == "**":
            self.check_exponent(right)
        return _Apply(symbol, (left, right), self.source(node), self.at(node))

    def unary(self, node: ast.UnaryOp) -> _Node:
        name = _UNARY.get(type(node.op))
        if name is None:
            raise self.operator_error(node.op, self.at(node))
        operand = self.translate(node.operand)
        if isinstance(operand, _Literal):  # -2 is one number, as Python's compiler makes it: x * -2 is MulBackward0
            value = -operand.value if name == "neg" else operand.value
            return _Literal(value, self.source(node), self.at(node))
        return _Apply(name, (operand,), self.source(node), self.at(node))

    def call(self, node: ast.Call) -> _Node:
        if not isinstance(node.func, ast.Name):
            shown = _shorten(self.source(node.func))
            hint = f" To multiply, write {shown}*(...)." if isinstance(node.func, ast.Constant) else ""
            raise self.error(f"Only the listed functions can be called, by name; {shown}(...) is not one of them.{hint}", node)
        name = node.func.id
        self.check_name(name, node.func)
        function = FUNCTIONS.get(name)
        if function is None:
            raise self.error(self.unknown_function(name), node)
        if node.keywords:
            argument = node.keywords[0]
            written = f"{argument.arg}=..." if argument.arg else "**..."
            raise self.error(f"{name}(...) takes no keyword arguments such as {written}; {_arity_text(name, function)}.", argument)
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self.error(f"The * in {_shorten(self.source(node))} is not allowed; {_arity_text(name, function)}.", argument)
        if len(node.args) != function.arity:
            given = len(node.args)
            raise self.error(f"{_arity_text(name, function)}, but {_shorten(self.source(node))} gives {given}.", node)
        arguments = tuple(self.translate(argument) for argument in node.args)
        if name == "pow":
            self.check_exponent(arguments[1])
        return _Apply(name, arguments, self.source(node), self.at(node))

    def name(self, node: ast.Name) -> _Node:
        name = node.id
        self.check_name(name, node)
        if name in CONSTANTS:
            return _Literal(CONSTANTS[name], name, self.at(node))
        if name in FUNCTIONS:
            raise self.error(f"'{name}' is a function: call it on something, like {name}(x).", node)
        if name in _PYTHON_NAMES:
            raise self.error(
                f"'{name}' is the name of a Python built-in, so it cannot be a variable here. "
                "Choose another name, such as x or w1.", node)
        if name == OUTPUT_NAME:
            raise self.error(f"'{name}' is the function's own name (f = ...), so a variable cannot have it; "
                             "choose another name, such as x or w1.", node)
        if name.lower() in URL_PARAMETERS:
            raise self.error(f"'{name}' is a word the explorer keeps for itself; choose another name, such as x or w1.",
                             node)
        self.first_seen.setdefault(name, node.col_offset)
        return _Variable(name, name, self.at(node))

    def constant(self, node: ast.Constant) -> _Node:
        value = node.value
        if type(value) not in (int, float):  # bool is an int subclass: the exact type check refuses True
            raise self.error(f"Not allowed: {_constant_kind(value)}. {_ALLOWED}", node)
        if abs(value) > FLOAT32_MAX:  # int vs float compares exactly in Python, without converting
            raise self.error(
                f"The number {_shorten(self.source(node))} is too large: float32 tensors hold numbers up to about 3.4e38.",
                node)
        number = value if isinstance(value, float) or abs(value) <= 2**31 else float(value)
        return _Literal(number, self.source(node), self.at(node))

    HANDLERS = {ast.Expression: expression, ast.BinOp: binary, ast.UnaryOp: unary, ast.Call: call,
                ast.Name: name, ast.Constant: constant}

    # -- checks and messages -----------------------------------------------------------------------
    def check_name(self, name: str, node: ast.AST) -> None:
        if name.startswith("_") or "__" in name:
            raise self.error(f"Names starting with '_' (such as {name}) are Python internals and are not allowed.", node)
        if not re.fullmatch(_NAME, name):
            raise self.error(f"Names may use only letters and digits, such as w1 or bias; '{name}' has other characters.", node)
        if len(name) > MAX_NAME_LENGTH:
            raise self.error(f"The name '{name[:MAX_NAME_LENGTH]}...' is longer than {MAX_NAME_LENGTH} characters.", node)

    def check_exponent(self, exponent: _Node) -> None:
        if isinstance(exponent, _Literal) and abs(exponent.value) > MAX_EXPONENT:
            size = "too large" if exponent.value > 0 else "too far below zero"
            raise ExpressionError(
                f"The exponent {_shorten(exponent.source)} is {size}: an exponent written as a number must lie "
                f"between -{MAX_EXPONENT} and {MAX_EXPONENT} (float32 overflows long before; 2**128 is already "
                "infinite, and so is 0.5**-128).",
                exponent.position)

    def unknown_function(self, name: str) -> str:
        if name in CONSTANTS:
            return f"'{name}' is a constant, not a function. To multiply, write {name}*(...)."
        if name in _PYTHON_NAMES:
            return f"'{name}' is a Python built-in, not one of the functions you can use here. {_ALLOWED}"
        close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
        if close:
            return f"Unknown function '{name}'. Did you mean '{close[0]}'?"
        return f"Unknown function '{name}'. To multiply, write {name}*(...). {_ALLOWED}"

    def refusal(self, node: ast.AST) -> str:
        what = _REFUSED_SYNTAX.get(type(node), f"Python's {type(node).__name__} syntax")
        return f"Not allowed: {what} (found {_shorten(self.source(node))}). {_ALLOWED}"

    def operator_error(self, op: ast.AST, position: int) -> ExpressionError:
        symbol, hint = _REFUSED_OPERATORS.get(type(op), (type(op).__name__, ""))
        message = f"The operator '{symbol}' is not allowed here. {hint}".rstrip()
        return ExpressionError(f"{message} {_ALLOWED}", position)

    def syntax_error(self, error: SyntaxError) -> ExpressionError:
        column = min(max((error.offset or 1) - 1, 0), len(self.text)) + self.lead  # offset counts from 1
        shown = " " * self.lead + self.text
        reason = f"Python cannot read this expression ({error.msg}), at column {column + 1}"
        hint = self.syntax_hint(error, column - self.lead)
        message = f"{reason}:\n\n    {shown}\n    {' ' * column}^" + ("\n\n" + hint if hint else "")
        return ExpressionError(message, column, source=shown, summary=f"{reason}." + (" " + hint if hint else ""))

    def syntax_hint(self, error: SyntaxError, column: int) -> str:
        if re.search(r"(?<![=<>!])=(?!=)", self.text):
            return "An expression has no '=': type only the right-hand side, such as 5*x**2 + x*y."
        if ";" in self.text:
            return "Only one expression is allowed: remove the ';'."
        if "decimal literal" in (error.msg or ""):
            number = re.search(_NUMBER_BEFORE_NAME, self.text[max(column - 20, 0):])
            if re.search(_UNFINISHED_E, self.text):
                return ("A number written with e needs its power of ten: 1e3 is 1000 and 1e-3 is 0.001; "
                        "for a number times Euler's number e, write 2*e.")
            if number:
                return f"Write multiplication with *: {number[1]}*{number[2]}, not {number[0]}."
            return "Write multiplication with *: 2*x, not 2x."
        words = [word for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", self.text) if keyword.iskeyword(word)]
        if words:
            return f"'{words[0]}' is a Python keyword; only a math expression is allowed here."
        return ""

    # -- positions -------------------------------------------------------------------------------
    def error(self, message: str, node: ast.AST) -> ExpressionError:
        return ExpressionError(message, self.at(node))

    def at(self, node: ast.AST) -> int:
        return node.col_offset + self.lead

    def operator_position(self, node: ast.BinOp) -> int:
        """Where the operator sits: the first character between the operands that is not a space or bracket."""
        start, stop = node.left.end_col_offset, node.right.col_offset
        for index in range(start, stop):
            if self.text[index] not in " ()":
                return index + self.lead
        return self.at(node)

    def source(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or type(node).__name__


def _arity_text(name: str, function: Operation) -> str:
    arguments = "1 argument" if function.arity == 1 else f"{function.arity} arguments"
    return f"{name} takes {arguments} ({function.summary})"


def _constant_kind(value) -> str:
    if isinstance(value, (str, bytes)):
        return "text in quotes"
    if isinstance(value, bool):
        return "True and False"
    if value is None:
        return "None"
    if value is Ellipsis:
        return "'...'"
    if isinstance(value, complex):
        return "complex numbers such as 1j"
    return f"the value {_shorten(repr(value))}"


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- building ----------------------------------------------------------------------------------
def _check_leaves(variables: tuple[str, ...], leaves: dict) -> dict[str, torch.Tensor]:
    missing = [name for name in variables if name not in leaves]
    if missing:
        raise ExpressionError(
            f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no value yet: "
            f"give every variable ({', '.join(variables)}) a value.")
    tensors = {}
    for name in variables:
        leaf = leaves[name]
        if isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
            leaf = torch.tensor(float(leaf), dtype=torch.float32)
        if not isinstance(leaf, torch.Tensor) or not leaf.is_floating_point():
            raise ExpressionError(f"{name} must be a number or a float tensor, not {type(leaf).__name__}.")
        if leaf.numel() == 0 or leaf.numel() > MAX_ELEMENTS:
            raise ExpressionError(f"{name} has {leaf.numel()} values; give it between 1 and {MAX_ELEMENTS}.")
        tensors[name] = leaf
    return tensors


def _evaluate(node: _Node, leaves: dict[str, torch.Tensor], deadline: float) -> torch.Tensor:
    """One node's value. Depth is at most MAX_DEPTH (checked at parse time), so recursion is safe here."""
    if isinstance(node, _Variable):
        return leaves[node.name]
    if isinstance(node, _Literal):
        return _constant(node.value)
    operation = _operation_of(node)
    arguments = _arguments(node, leaves, deadline)
    _check_shapes(operation, node, arguments)
    try:
        result = operation.compute(*arguments)
    except (RuntimeError, TypeError, ValueError) as error:
        raise ExpressionError(f"PyTorch could not compute {_shorten(node.source)}: {_first_line(error)}",
                              node.position) from None
    if result.numel() > MAX_ELEMENTS:
        raise ExpressionError(f"{_shorten(node.source)} would have {result.numel()} values; the most is {MAX_ELEMENTS}.",
                              node.position)
    if time.perf_counter() > deadline:
        raise ExpressionError("This expression took too long to compute. Please simplify it.", node.position)
    return result


def _arguments(node: _Apply, leaves: dict[str, torch.Tensor], deadline: float) -> list:
    """The inputs of one step.

    A number next to a tensor goes to PyTorch as a Python number, as in the student's own code,
    so `x**2` makes PowBackward0 with exponent 2 and `2 - x` makes RsubBackward1; so does a part
    made of numbers only, such as (2**31 + 1 - 2**31), worked out first. Inside such a part every
    number is a float64 tensor: Python itself never does the arithmetic (`9**9**9` cannot become
    a huge Python integer), and float64 holds every integer up to 2**53 exactly, as Python would.
    """
    if _is_constant(node):
        return [_evaluate(argument, leaves, deadline) for argument in node.arguments]
    return [argument.value if isinstance(argument, _Literal)
            else _evaluate(argument, leaves, deadline).item() if _is_constant(argument)
            else _evaluate(argument, leaves, deadline)
            for argument in node.arguments]


def _is_constant(node: _Node) -> bool:
    """Made of numbers only (no variable): a constant. The tree is at most MAX_DEPTH deep."""
    if isinstance(node, _Apply):
        return _operation_of(node).folds and all(_is_constant(argument) for argument in node.arguments)
    return isinstance(node, _Literal)


def _operation_of(node: _Apply) -> Operation:
    return node.operation if isinstance(node.operation, Operation) else _OPERATIONS[node.operation]


def _constant(value: int | float) -> torch.Tensor:
    return torch.tensor(float(value), dtype=torch.float64)


def _check_shapes(operation: Operation, node: _Apply, arguments: list) -> None:
    """Shapes that cannot meet, said in the student's terms before PyTorch says it in its own."""
    shapes = [tuple(argument.shape) if isinstance(argument, torch.Tensor) else () for argument in arguments]
    if operation.shapes == "broadcast":
        shape = _broadcast(*shapes)
        if shape is None:
            (left, right), (left_shape, right_shape) = node.arguments, shapes
            raise ExpressionError(
                f"The shapes do not match in {_shorten(node.source)}: {_sized(left.source, left_shape)}, "
                f"{_sized(right.source, right_shape)}. Value-by-value operations need the same number of "
                "values on both sides, or a single number on one side.", node.position)
        if math.prod(shape) > MAX_ELEMENTS:
            raise ExpressionError(f"{_shorten(node.source)} would have {math.prod(shape)} values; the most is {MAX_ELEMENTS}.",
                                  node.position)
    elif operation.shapes == "vectors":
        for argument, shape in zip(node.arguments, shapes):
            if len(shape) != 1:
                raise ExpressionError(
                    f"@ multiplies two vectors (a dot product), but {_sized(argument.source, shape)}. "
                    "To multiply by a single number, use *.", node.position)
        if shapes[0] != shapes[1]:
            (left, right), (left_shape, right_shape) = node.arguments, shapes
            raise ExpressionError(
                f"{_shorten(node.source)} needs two vectors of the same length: {_sized(left.source, left_shape)}, "
                f"{_sized(right.source, right_shape)}.", node.position)


def _broadcast(left: tuple[int, ...], right: tuple[int, ...]) -> tuple[int, ...] | None:
    """PyTorch's broadcasting of two shapes (aligned from the right, 1 stretches), or None if they cannot meet."""
    shape = []
    for a, b in itertools.zip_longest(reversed(left), reversed(right), fillvalue=1):
        if a == b or b == 1:
            shape.append(a)
        elif a == 1:
            shape.append(b)
        else:
            return None
    return tuple(reversed(shape))


def _sized(source: str, shape: tuple[int, ...]) -> str:
    """'v has 3 values', 'x is a single number' or 'm has shape (2, 3)'."""
    name = _shorten(source, 30)
    if len(shape) == 0:
        return f"{name} is a single number"
    if len(shape) == 1:
        return f"{name} has {shape[0]} value{'' if shape[0] == 1 else 's'}"
    return f"{name} has shape {shape}"


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


# -- results and values ------------------------------------------------------------------------
def check_output(tensor, name: str = "f") -> None:
    """Refuse an output that .backward() cannot start from. An inf or NaN is not refused: it is what
    PyTorch computes, and the page shows it with a note on why (values.not_finite_note)."""
    if not isinstance(tensor, torch.Tensor):
        raise ExpressionError(f"{name} did not come out as a tensor but as {type(tensor).__name__}.")
    count = tensor.numel()
    if count != 1:
        raise ExpressionError(
            f"{name} has {count} values; .backward() needs one number. "
            "Try sum(...) or mean(...) around the expression, such as sum(v * v).")


def parse_leaf_value(text, name: str) -> float | list[float]:
    """A leaf's value from its box: one number ("3", "-1.5") or a flat list ("[1, 2, 3]").

    A hand parser, not Python: brackets, commas and explorer.values.parse_number for each number.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return parse_number(text, name)
    if not isinstance(text, str):
        raise BadValueError(f"{name} must be given as text, such as 3 or [1, 2, 3].")
    stripped = text.strip(_SURROUNDING_SPACE)
    if len(stripped) > MAX_VALUE_LENGTH:
        raise BadValueError(f"The value of {name} is {len(stripped)} characters long; the most allowed is {MAX_VALUE_LENGTH}.")
    for index, character in enumerate(stripped):
        if not " " <= character <= "~" and character != "\u2212":  # parse_number reads a typographic minus
            raise BadValueError(character_message(character, index, f"The value of {name}"))
    if stripped.startswith("["):
        return _parse_list(stripped, name)
    if "," in stripped or stripped.startswith("("):
        raise BadValueError(f"For several values, put {name}'s numbers in square brackets: [1, 2, 3].")
    return parse_number(stripped, name)


def _parse_list(text: str, name: str) -> list[float]:
    if not text.endswith("]"):
        raise BadValueError(f"The list for {name} must end with ]: such as [1, 2, 3].")
    inner = text[1:-1]
    if any(bracket in inner for bracket in "[]"):
        raise BadValueError(f"{name} must be a flat list of numbers, such as [1, 2, 3]; lists inside lists are not allowed.")
    if not inner.strip():
        raise BadValueError(f"The list for {name} is empty; give it at least one number, such as [1, 2, 3].")
    items = inner.split(",")
    if len(items) > MAX_ELEMENTS:
        raise BadValueError(f"{name} has {len(items)} values; the most allowed is {MAX_ELEMENTS}.")
    return [parse_number(item, f"{name}[{index}]") for index, item in enumerate(items)]
