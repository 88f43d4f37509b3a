"""Lessons from a lecturer's own folder: one trusted `.py` file per lesson, imported by path.

A lesson file is the lecturer's own code, like a notebook: it is imported with importlib and runs
as Python on the machine that loads it (the CLI, or the app's server). Only the person who runs
the server adds these files; nothing a student types or uploads ever reaches this module.

    lesson id     the file name without .py, underscores read as hyphens (my_lesson.py -> my-lesson)
    title         the module docstring's first line; the rest of it is the explanation (Markdown)
    f             the function: its parameters are the leaves, their defaults the leaves' values
                  (numbers, or lists of numbers for vectors and matrices); it returns one number
    EXPECTED      optional: leaf name -> .grad after one .backward() at the defaults (None: never reached)
    by_hand       optional: a function of the same parameters (plain numbers) returning
                  {leaf name: derivative worked out by hand}
    CALLS, ZERO   optional: the lesson is about repeated calls: how many, and "none", "zero" or
                  "set-none" between them

Everything is checked when the file loads, against PyTorch itself (torch.autograd.grad, relative
and absolute tolerance 1e-5, float32), so a lesson whose numbers are wrong never reaches a page.
A broken file is a LessonFileError naming the file and the line; the folder's other lessons load.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import math
import os
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from explorer.errors import ExplorerError, UnknownLessonError
from explorer.functions.lessons import CHAPTER_PAGES, EXTRA_PAGES, PAGES, Lesson, all_lessons

# The environment variable the app reads its lesson folder from (make run LESSONS=DIR sets it).
LESSONS_VARIABLE = "AUTOGRAD_EXPLORER_LESSONS"
# The heading over a folder's lessons, in the app's sidebar and home page and in the static site.
OWN_LESSONS_HEADING = "This course's lessons"
OWN_LESSONS_LINE = "This course's own lessons, from its lesson files."
TOLERANCE = 1e-5  # relative and absolute, float32: what the project's tests use against autograd
MAX_CALLS = 20  # CALLS: a page about repeated calls shows each one
MAX_ELEMENTS = 10_000  # elements of one leaf: a lesson is something to look at, element by element
ZERO_CHOICES = ("none", "zero", "set-none")  # as the CLI's --zero spells them
# Names the explorer uses itself: a lesson file may not take them (its page, link and files would clash).
RESERVED_IDS = frozenset({"home", *PAGES, *CHAPTER_PAGES, *EXTRA_PAGES})
_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


class LessonFileError(ExplorerError):
    """A lesson file that cannot be used: `str(error)` is `path:line: what is wrong`."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str):
        self.path, self.line, self.problem = str(path), line, message
        super().__init__(self._located(self.path))

    def _located(self, where: str) -> str:
        return f"{where}:{self.line}: {self.problem}" if self.line is not None else f"{where}: {self.problem}"

    @property
    def by_name(self) -> str:
        """The message with the file's name alone: what the app shows, so that no page tells a student
        where the server keeps its files."""
        return self._located(Path(self.path).name)


@dataclass(frozen=True)
class FileLesson(Lesson):
    """A lesson read from a file: a Lesson like the built-in ones, plus where it came from."""

    path: str = ""
    file_source: str = ""  # the file's code, its docstring left out (the page shows that as text)
    calls: int = 1
    zero: str = "none"

    @property
    def source(self) -> str:
        # The whole file, not f alone: f may use the file's imports and helpers, and a notebook made
        # from this lesson must run on its own.
        return self.file_source

    @property
    def repeated_calls(self) -> tuple[int, str]:
        return self.calls, self.zero

    @property
    def predicts_first(self) -> bool:
        return bool(self.expected)  # the lecturer wrote the answer down: the page asks before it tells


@dataclass(frozen=True)
class LessonFolder:
    """What a folder holds: the lessons that loaded, in file-name order, and one error per broken file."""

    folder: str
    lessons: tuple[FileLesson, ...] = ()
    problems: tuple[LessonFileError, ...] = ()


def lesson_id_of(path: str | os.PathLike) -> str:
    return Path(path).stem.replace("_", "-")


def load_folder(folder: str | os.PathLike) -> LessonFolder:
    """Every `*.py` of `folder` (not those starting with _ or .), each loaded on its own."""
    where = Path(folder).expanduser()
    if not where.is_dir():
        raise LessonFileError(folder, None, "this lesson folder does not exist or is not a folder.")
    lessons, problems, taken = [], [], set(RESERVED_IDS) | {lesson.id for lesson in all_lessons()}
    for path in sorted(where.glob("*.py")):
        if path.name.startswith(("_", ".")):
            continue
        try:
            lesson = load_lesson_file(path, taken)
        except LessonFileError as error:
            problems.append(error)
            continue
        lessons.append(lesson)
        taken.add(lesson.id)
    return LessonFolder(str(where), tuple(lessons), tuple(problems))


def load_lesson_file(path: str | os.PathLike, taken: set[str] | frozenset[str] | None = None) -> FileLesson:
    """One lesson file, imported and checked against autograd; `taken` holds the ids already in use
    (by default the built-in lessons' and pages')."""
    path = Path(path)
    taken = RESERVED_IDS | _builtin_ids() if taken is None else taken
    lesson_id = lesson_id_of(path)
    if not _ID.fullmatch(lesson_id):
        raise LessonFileError(path, 1, f"the lesson id \"{lesson_id}\" (from the file's name) may hold only "
                                       "small letters, digits and hyphens (underscores in the name become hyphens).")
    if lesson_id in taken:
        owner = "a built-in lesson or page" if lesson_id in RESERVED_IDS or lesson_id in _builtin_ids() \
            else "another lesson file"
        raise LessonFileError(path, 1, f"the lesson id \"{lesson_id}\" is taken by {owner}; rename the file.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LessonFileError(path, 1, f"cannot be read: {error}") from None
    module = _import(path, lesson_id)
    title, explanation = _title_and_text(path, module)
    fn = getattr(module, "f", None)
    if not inspect.isfunction(fn):
        raise LessonFileError(path, _line_of(text, "f"), "has no function f: define `def f(x=3.0): return x ** 2`.")
    defaults = _defaults(path, fn)
    _refuse_global_leaves(path, text, module, fn)
    expected = _expected(path, text, module, defaults)
    calls, zero = _calls_and_zero(path, text, module)
    by_hand = getattr(module, "by_hand", None)
    grads = _autograd(path, fn, defaults)
    # Again after f has run: f may itself make a tensor at the top require grad (W.requires_grad_()).
    _refuse_global_leaves(path, text, module, fn, after_call=True)
    _check_expected(path, text, expected, grads)
    if by_hand is not None:
        _check_by_hand(path, fn, by_hand, defaults, grads)
    return FileLesson(
        id=lesson_id, page=lesson_id, title=title, explanation=explanation, fn=fn, defaults=defaults,
        expected=expected, by_hand=by_hand, path=str(path), file_source=_without_docstring(text),
        calls=calls, zero=zero,
    )


def lessons_with(folder: str | os.PathLike | None) -> tuple[tuple[Lesson, ...], LessonFolder | None]:
    """The built-in lessons, then a folder's (None: the built-in ones alone), and the folder itself."""
    if folder is None:
        return all_lessons(), None
    loaded = load_folder(folder)
    return (*all_lessons(), *loaded.lessons), loaded


def find_lesson(lesson_id: str, lessons: tuple[Lesson, ...], loaded: LessonFolder | None = None) -> Lesson:
    """The lesson of this id among `lessons`; for a file that did not load, that file's own error."""
    for lesson in lessons:
        if lesson.id == lesson_id:
            return lesson
    for problem in (loaded.problems if loaded else ()):
        if lesson_id_of(problem.path) == lesson_id:
            raise problem
    raise UnknownLessonError(f"There is no lesson \"{lesson_id}\". Known lessons: "
                             f"{', '.join(lesson.id for lesson in lessons)}.")


# -- importing ------------------------------------------------------------------------------------
def _builtin_ids() -> set[str]:
    return {lesson.id for lesson in all_lessons()}


def _import(path: Path, lesson_id: str):
    """Run the file as a module of its own (not put in sys.modules: two folders may hold the same name)."""
    spec = importlib.util.spec_from_file_location(f"explorer_lesson_file_{lesson_id.replace('-', '_')}", path)
    if spec is None or spec.loader is None:
        raise LessonFileError(path, 1, "cannot be imported as a Python file.")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise LessonFileError(path, error.lineno or 1, f"syntax error: {error.msg}.") from None
    except Exception as error:  # noqa: BLE001 - any failure of the lecturer's code is reported, with its line
        raise LessonFileError(path, _failing_line(error, path), f"importing it raised {_named(error)}.") from None
    return module


def _title_and_text(path: Path, module) -> tuple[str, str]:
    doc = inspect.cleandoc(module.__doc__ or "")
    title, _, rest = doc.partition("\n")
    if not title.strip():
        raise LessonFileError(path, 1, "has no docstring: its first line is the lesson's title, the rest its "
                                       "explanation.")
    return title.strip(), rest.strip()


def _without_docstring(text: str) -> str:
    body = ast.parse(text).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        text = "\n".join(text.splitlines()[body[0].end_lineno:])
    return text.strip("\n") + "\n"


def _line_of(text: str, name: str) -> int:
    """Where the file sets `name` (def, assignment), or 1: at the top first (ast.walk goes level by
    level), then inside a function (a variable f closes over)."""
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node.lineno
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) \
            else []
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            return node.lineno
    return 1


def _failing_line(error: BaseException, path: Path) -> int:
    """The last line of the lesson file that the error passed through."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if Path(frame.filename).resolve() == path.resolve() and frame.lineno]
    return lines[-1] if lines else 1


def _named(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


# -- the leaves ---------------------------------------------------------------------------------------
def _defaults(path: Path, fn: Callable) -> dict[str, Any]:
    line = fn.__code__.co_firstlineno
    defaults = {}
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise LessonFileError(path, line, f"f's parameter {parameter} cannot be a leaf: give f named parameters, "
                                              "each with a default value (def f(x=3.0, y=-1.0)).")
        if parameter.default is parameter.empty:
            raise LessonFileError(path, line, f"f's parameter {parameter.name} has no default value: the default "
                                              f"is the leaf's value ({parameter.name}=3.0).")
        problem = _value_problem(parameter.default)
        if problem:
            raise LessonFileError(path, line, f"the default of {parameter.name}, {parameter.default!r}: {problem}")
        defaults[parameter.name] = _as_floats(parameter.default)
    if not defaults:
        raise LessonFileError(path, line, "f has no parameters: each leaf is a parameter with its default value.")
    return defaults


def _value_problem(value) -> str:
    """Why `value` cannot be a leaf's value ("" when it can): a finite number, or rectangular lists of them."""
    if isinstance(value, bool) or not isinstance(value, (int, float, list)):
        return "a leaf's value must be a number (3.0) or a list of numbers ([1, 2, 3], [[1, 2], [3, 4]])."
    if not isinstance(value, list):
        return "" if math.isfinite(value) else "a leaf's value must be a finite number."
    try:
        shape = tuple(torch.tensor(value, dtype=torch.float64).shape)
    except (TypeError, ValueError, RuntimeError):
        return "a leaf's lists must hold numbers only, each row as long as the others."
    if _has_bool(value):
        return "a leaf's lists must hold numbers, not True or False."
    flat = torch.tensor(value, dtype=torch.float64).flatten()
    if not flat.numel():
        return "a leaf's list must hold at least one number."
    if flat.numel() > MAX_ELEMENTS:
        return f"a leaf holds {flat.numel()} numbers here; the most is {MAX_ELEMENTS}."
    if not bool(torch.isfinite(flat).all()):
        return "every number of a leaf must be finite."
    return "" if len(shape) <= 2 else "a leaf is a number, a vector or a matrix: lists inside lists inside lists are too deep."


def _has_bool(value) -> bool:
    return isinstance(value, bool) or (isinstance(value, list) and any(_has_bool(item) for item in value))


def _as_floats(value):
    return [_as_floats(item) for item in value] if isinstance(value, list) else float(value)


def _refuse_global_leaves(path: Path, text: str, module, fn, after_call: bool = False) -> None:
    """A tensor that requires grad at module level, or in a variable f closes over, would be one
    tensor shared by every student of the server (its .grad piling up across browsers): the leaves
    belong in f's parameters. Checked when the file has run, and `after_call`, once f has run too."""
    shared = {**vars(module), **inspect.getclosurevars(fn).nonlocals}
    for name, value in shared.items():
        if not holds_grad_tensor(value):
            continue
        tensor = isinstance(value, torch.Tensor)
        if after_call:
            where = (f"f makes {name}, outside f, require grad" if tensor else
                     f"after a call of f, {name}, outside f, holds tensors that require grad")
        else:
            where = (f"{name} is a tensor that requires grad outside f" if tensor else
                     f"{name} holds tensors that require grad (a layer's parameters, a list of tensors) outside f")
        raise LessonFileError(path, _line_of(text, name), f"{where}, where every student would share it; "
                              "build it inside f, from f's parameters.")


def holds_grad_tensor(value, depth: int = 3) -> bool:
    """A layer with trainable parameters, or a list, tuple or dict with a tensor that requires grad
    (looked into `depth` levels deep): shared by every student as much as a tensor at the top is."""
    if isinstance(value, torch.nn.Module):
        return any(parameter.requires_grad for parameter in value.parameters())
    if isinstance(value, torch.Tensor):
        return value.requires_grad
    if depth and isinstance(value, (list, tuple, dict)):
        items = value.values() if isinstance(value, dict) else value
        return any(holds_grad_tensor(item, depth - 1) for item in items)
    return False


# -- what the file says it gives ----------------------------------------------------------------------
def _expected(path: Path, text: str, module, defaults: dict) -> dict:
    expected = getattr(module, "EXPECTED", None)
    if expected is None:
        return {}
    line = _line_of(text, "EXPECTED")
    if not isinstance(expected, dict):
        raise LessonFileError(path, line, "EXPECTED must be a dict: leaf name -> .grad after one call, "
                                          "{\"x\": 6.0}.")
    for name, value in expected.items():
        if name not in defaults:
            raise LessonFileError(path, line, f"EXPECTED names \"{name}\", which is not a parameter of f "
                                              f"({', '.join(defaults)}).")
        problem = "" if value is None else _value_problem(value)
        if problem:
            raise LessonFileError(path, line, f"EXPECTED[\"{name}\"], {value!r}: {problem}")
    return {name: None if value is None else _as_floats(value) for name, value in expected.items()}


def _calls_and_zero(path: Path, text: str, module) -> tuple[int, str]:
    calls, zero = getattr(module, "CALLS", 1), getattr(module, "ZERO", "none")
    if isinstance(calls, bool) or not isinstance(calls, int) or not 1 <= calls <= MAX_CALLS:
        raise LessonFileError(path, _line_of(text, "CALLS"), f"CALLS must be a whole number from 1 to {MAX_CALLS}, "
                                                             f"not {calls!r}.")
    if zero not in ZERO_CHOICES:
        raise LessonFileError(path, _line_of(text, "ZERO"), f"ZERO must be one of {', '.join(ZERO_CHOICES)} "
                                                            f"(what happens to .grad between calls), not {zero!r}.")
    return calls, zero


def _autograd(path: Path, fn: Callable, defaults: dict) -> dict[str, torch.Tensor | None]:
    """One call of f at its defaults, differentiated by torch.autograd.grad: the reference."""
    leaves = {name: torch.tensor(value, dtype=torch.float32, requires_grad=True) for name, value in defaults.items()}
    line = fn.__code__.co_firstlineno
    try:
        output = fn(**leaves)
    except Exception as error:  # noqa: BLE001 - the lecturer's code: reported with its line
        raise LessonFileError(path, _failing_line(error, path), f"f raised {_named(error)}.") from None
    if not isinstance(output, torch.Tensor):
        raise LessonFileError(path, line, f"f returned {type(output).__name__}, not a tensor: it must return the "
                                          "output computed from its parameters.")
    if output.numel() != 1:
        raise LessonFileError(path, line, f"f returned a tensor of shape {tuple(output.shape)}; .backward() needs a "
                                          "single number: reduce it (.sum(), .mean()).")
    if not output.requires_grad:
        raise LessonFileError(path, line, "f's output does not depend on any of its parameters (it does not require "
                                          "grad), so .backward() has nothing to do.")
    tracked = [name for name, leaf in leaves.items() if leaf.requires_grad]
    try:
        found = torch.autograd.grad(output, [leaves[name] for name in tracked], allow_unused=True)
    except RuntimeError as error:
        raise LessonFileError(path, line, f"PyTorch refused .backward() on f's output: {error}") from None
    grads = dict.fromkeys(leaves)
    grads.update(zip(tracked, found))
    return grads


def _check_expected(path: Path, text: str, expected: dict, grads: dict) -> None:
    line = _line_of(text, "EXPECTED")
    for name, value in expected.items():
        problem = _disagreement(value, grads[name])
        if problem:
            raise LessonFileError(path, line, f"EXPECTED gives {name}.grad = {_shown(value)}, but autograd gives "
                                              f"{problem} (tolerance {TOLERANCE:g}).")


def _check_by_hand(path: Path, fn: Callable, by_hand, defaults: dict, grads: dict) -> None:
    line = by_hand.__code__.co_firstlineno if inspect.isfunction(by_hand) else 1
    if not inspect.isfunction(by_hand):
        raise LessonFileError(path, line, "by_hand must be a function of f's parameters.")
    if list(inspect.signature(by_hand).parameters) != list(inspect.signature(fn).parameters):
        raise LessonFileError(path, line, f"by_hand must take f's parameters, ({', '.join(defaults)}).")
    if any(isinstance(value, list) for value in defaults.values()):
        raise LessonFileError(path, line, "by_hand works with leaves that hold one number each (it is given plain "
                                          "numbers); leave it out for vectors and matrices.")
    try:
        worked = by_hand(**defaults)
    except Exception as error:  # noqa: BLE001 - the lecturer's code
        raise LessonFileError(path, _failing_line(error, path), f"by_hand raised {_named(error)}.") from None
    if not isinstance(worked, dict) or set(worked) - set(defaults):
        raise LessonFileError(path, line, "by_hand must return a dict of f's parameters' names and their derivatives, "
                                          "{\"x\": 2 * x}.")
    for name, value in worked.items():
        problem = _value_problem(value) or _disagreement(value, grads[name])
        if problem:
            raise LessonFileError(path, line, f"by_hand gives {name} = {_shown(value)}, but autograd gives {problem} "
                                              f"at the defaults (tolerance {TOLERANCE:g}).")


def _disagreement(value, grad: torch.Tensor | None) -> str:
    """What autograd gives, as text, when it differs from `value` (None: never reached); "" when they agree."""
    if value is None or grad is None:
        return "" if value is None and grad is None else _shown(None if grad is None else grad.tolist())
    wanted = torch.tensor(value, dtype=torch.float32)
    if wanted.shape != grad.shape or not torch.allclose(grad, wanted, rtol=TOLERANCE, atol=TOLERANCE):
        return _shown(grad.tolist())
    return ""


def _shown(value) -> str:
    if value is None:
        return "None (no gradient reaches it)"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    return f"{value:.6g}"
