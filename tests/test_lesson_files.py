"""The lesson-file loader (explorer/functions/lesson_files.py): a good file becomes a Lesson whose
numbers are PyTorch's; every kind of broken file is one message naming the file and the line, and
the folder's other lessons still load."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import torch
from support import ROOT, close

from explorer.core.calls import run_calls
from explorer.errors import ExplorerError, UnknownLessonError
from explorer.functions.lesson_files import (FileLesson, LessonFileError, find_lesson, lesson_id_of, lessons_with,
                                             holds_grad_tensor, load_folder, load_lesson_file)
from explorer.functions.matrices import value_parser
from explorer.functions.lessons import all_lessons

EXAMPLES = ROOT / "examples" / "lessons"

GOOD = '''\
"""A square and a cube

f = x² + y³ at (2, −1): `x.grad` = 4 and `y.grad` = 3.
"""

import torch


def f(x=2.0, y=-1):
    return x**2 + y**3


EXPECTED = {"x": 4.0, "y": 3.0}


def by_hand(x, y):
    return {"x": 2 * x, "y": 3 * y**2}
'''


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def reference(lesson, values=None):
    """torch.autograd.grad of the lesson's f at its defaults (or `values`), leaf by leaf."""
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in (values or lesson.defaults).items()}
    grads = torch.autograd.grad(lesson.fn(**leaves), list(leaves.values()))
    return dict(zip(leaves, grads))


def test_a_good_file_is_a_lesson_with_pytorchs_numbers(tmp_path):
    lesson = load_lesson_file(write(tmp_path, "square_and_cube.py", GOOD))
    assert isinstance(lesson, FileLesson)
    assert (lesson.id, lesson.page, lesson.title) == ("square-and-cube", "square-and-cube", "A square and a cube")
    assert lesson.explanation == "f = x² + y³ at (2, −1): `x.grad` = 4 and `y.grad` = 3."
    assert lesson.defaults == {"x": 2.0, "y": -1.0} and isinstance(lesson.defaults["y"], float)
    assert lesson.expected == {"x": 4.0, "y": 3.0} and lesson.predicts_first
    assert lesson.repeated_calls == (1, "none")
    # The page shows the file's code (its imports and helpers too), without the docstring it shows as text.
    assert lesson.source.startswith("import torch\n") and "def by_hand" in lesson.source and '"""' not in lesson.source
    session = run_calls(lesson.fn, lesson.defaults, 1)
    for name, grad in reference(lesson).items():
        assert close(session.grads()[name], grad) and close(lesson.expected[name], grad)
        assert close(lesson.by_hand(**lesson.defaults)[name], grad)


def test_the_examples_load_and_agree_with_autograd():
    loaded = load_folder(EXAMPLES)
    assert loaded.problems == ()
    assert [lesson.id for lesson in loaded.lessons] == ["neuron", "training-steps"]
    neuron, steps = loaded.lessons
    for lesson in loaded.lessons:
        for name, grad in reference(lesson).items():
            assert close(lesson.expected[name], grad)
    assert steps.repeated_calls == (3, "zero") and steps.defaults == {"v": [0.0, 1.0, 2.0]}
    assert neuron.by_hand is not None and not neuron.expected_calls


# (file name, text, line the message names, words of the message): every kind of broken file.
BROKEN = {
    "syntax error": ("bad.py", '"""T"""\n\ndef f(x=1.0)\n    return x\n', 3, "syntax error"),
    "import error": ("bad.py", '"""T"""\nimport numpy_that_is_not_here\n', 2,
                     "importing it raised ModuleNotFoundError: No module named 'numpy_that_is_not_here'"),
    "error at import": ("bad.py", '"""T"""\nSCALE = 1 / 0\n', 2, "importing it raised ZeroDivisionError"),
    "no docstring": ("bad.py", 'def f(x=1.0):\n    return x * x\n', 1, "has no docstring"),
    "no f": ("bad.py", '"""T"""\ndef g(x=1.0):\n    return x * x\n', 1, "has no function f"),
    "f not a function": ("bad.py", '"""T"""\n\nf = 3\n', 3, "has no function f"),
    "default not a number": ("bad.py", '"""T"""\n\n\ndef f(x="three"):\n    return x * x\n', 4,
                             "the default of x, 'three': a leaf's value must be a number"),
    "default True": ("bad.py", '"""T"""\ndef f(x=True):\n    return x * x\n', 2, "must be a number"),
    "default not finite": ("bad.py", '"""T"""\ndef f(x=float("nan")):\n    return x * x\n', 2, "finite"),
    "ragged matrix": ("bad.py", '"""T"""\ndef f(w=[[1.0, 2.0], [3.0]]):\n    return (w * w).sum()\n', 2,
                      "each row as long as the others"),
    "no default": ("bad.py", '"""T"""\ndef f(x):\n    return x * x\n', 2, "f's parameter x has no default value"),
    "no parameters": ("bad.py", '"""T"""\nimport torch\ndef f():\n    return torch.ones(())\n', 3, "f has no parameters"),
    "exception inside f": ("bad.py", '"""T"""\ndef f(x=1.0):\n    y = x * 2\n    return y.no_such_method()\n', 4,
                           "f raised AttributeError"),
    "output not a tensor": ("bad.py", '"""T"""\ndef f(x=1.0):\n    return 3.0\n', 2, "f returned float, not a tensor"),
    "output not scalar": ("bad.py", '"""T"""\ndef f(x=[1.0, 2.0]):\n    return x * x\n', 2,
                          "f returned a tensor of shape (2,)"),
    "output without a graph": ("bad.py", '"""T"""\ndef f(x=1.0):\n    return x.detach() * 2\n', 2,
                               "does not depend on any of its parameters"),
    "EXPECTED disagrees": ("bad.py", '"""T"""\ndef f(x=3.0):\n    return x**2\n\nEXPECTED = {"x": 5.0}\n', 5,
                           "EXPECTED gives x.grad = 5, but autograd gives 6 (tolerance 1e-05)."),
    "EXPECTED of a vector disagrees": ("bad.py", '"""T"""\ndef f(x=[1.0, 2.0]):\n    return (x * x).sum()\n'
                                       'EXPECTED = {"x": [2.0, 3.0]}\n', 4, "autograd gives [2, 4]"),
    "EXPECTED names no leaf": ("bad.py", '"""T"""\ndef f(x=3.0):\n    return x**2\nEXPECTED = {"y": 1.0}\n', 4,
                               "EXPECTED names \"y\", which is not a parameter of f (x)."),
    "EXPECTED not a dict": ("bad.py", '"""T"""\ndef f(x=3.0):\n    return x**2\nEXPECTED = 6.0\n', 4,
                            "EXPECTED must be a dict"),
    "by_hand disagrees": ("bad.py", '"""T"""\ndef f(x=3.0):\n    return x**2\n\n\ndef by_hand(x):\n'
                          '    return {"x": 3 * x}\n', 6, "by_hand gives x = 9, but autograd gives 6"),
    "by_hand other parameters": ("bad.py", '"""T"""\ndef f(x=3.0):\n    return x**2\ndef by_hand(z):\n'
                                 '    return {"z": 2 * z}\n', 4, "by_hand must take f's parameters, (x)."),
    "CALLS out of range": ("bad.py", '"""T"""\ndef f(x=3.0):\n    return x**2\nCALLS = 0\n', 4,
                           "CALLS must be a whole number from 1 to 20, not 0."),
    "ZERO unknown": ("bad.py", '"""T"""\ndef f(x=3.0):\n    return x**2\nCALLS = 2\nZERO = "clear"\n', 5,
                     "ZERO must be one of none, zero, set-none"),
    "a leaf shared by every student": ("bad.py", '"""T"""\nimport torch\nW = torch.ones(2, requires_grad=True)\n'
                                       'def f(x=3.0):\n    return (W * x).sum()\n', 3,
                                       "W is a tensor that requires grad outside f"),
    "a tensor at the top that f makes a leaf": ("bad.py", '"""T"""\nimport torch\nW = torch.ones(())\n'
                                                'def f(x=3.0):\n    W.requires_grad_()\n    return W * x\n', 3,
                                                "f makes W, outside f, require grad"),
    "a leaf f closes over": ("bad.py", '"""T"""\nimport torch\ndef make():\n'
                             '    W = torch.ones((), requires_grad=True)\n    def f(x=3.0):\n        return W * x\n'
                             '    return f\nf = make()\n', 4, "W is a tensor that requires grad outside f"),
    "a list at the top that f fills": ("bad.py", '"""T"""\nimport torch\nSEEN = []\ndef f(x=3.0):\n'
                                       '    SEEN.append(torch.ones((), requires_grad=True))\n    return SEEN[-1] * x\n',
                                       3, "after a call of f, SEEN, outside f, holds tensors that require grad"),
    "a layer shared by every student": ("bad.py", '"""T"""\nimport torch\nlayer = torch.nn.Linear(1, 1)\n'
                                        'def f(x=3.0):\n    return layer(x.reshape(1)).sum()\n', 3,
                                        "layer holds tensors that require grad"),
    "leaves in a list shared by every student": ("bad.py", '"""T"""\nimport torch\n'
                                                 'WEIGHTS = [torch.ones(()), torch.ones((), requires_grad=True)]\n'
                                                 'def f(x=3.0):\n    return WEIGHTS[1] * x\n', 3,
                                                 "WEIGHTS holds tensors that require grad"),
    "shadows a built-in lesson": ("accumulation.py", GOOD, 1,
                                  "the lesson id \"accumulation\" is taken by a built-in lesson or page; rename the file."),
    "shadows a built-in page": ("playground.py", GOOD, 1, "is taken by a built-in lesson or page"),
    "a name that is no id": ("My Lesson.py", GOOD, 1, "may hold only small letters, digits and hyphens"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_file_is_one_message_naming_the_file_and_line(tmp_path, kind):
    name, text, line, words = BROKEN[kind]
    path = write(tmp_path, name, text)
    with pytest.raises(LessonFileError) as raised:
        load_lesson_file(path, {lesson.id for lesson in all_lessons()} | {"playground"})
    message = str(raised.value)
    assert message.startswith(f"{path}:{line}: ") and words in message, message
    assert "\n" not in message and raised.value.line == line and raised.value.path == str(path)


def test_a_folder_loads_its_good_lessons_beside_every_broken_one(tmp_path):
    write(tmp_path, "a_square.py", GOOD)
    for kind in ("syntax error", "exception inside f", "EXPECTED disagrees"):
        write(tmp_path, f"broken_{kind.split()[0]}.py", BROKEN[kind][1])
    write(tmp_path, "_helpers.py", "raise RuntimeError('not a lesson: never imported')\n")
    write(tmp_path, "notes.txt", "not python")
    loaded = load_folder(tmp_path)
    assert [lesson.id for lesson in loaded.lessons] == ["a-square"]
    assert sorted(Path(problem.path).name for problem in loaded.problems) == [
        "broken_EXPECTED.py", "broken_exception.py", "broken_syntax.py"]
    lessons, again = lessons_with(tmp_path)
    assert lessons[:len(all_lessons())] == all_lessons() and lessons[-1].id == "a-square"
    # A broken file's id answers with its own message; an unknown id lists the lessons there are.
    with pytest.raises(LessonFileError, match=r"broken_syntax\.py:3: syntax error"):
        find_lesson("broken-syntax", lessons, again)
    with pytest.raises(UnknownLessonError, match="a-square"):
        find_lesson("nope", lessons, again)


def test_two_files_of_one_id_keep_the_first(tmp_path):
    write(tmp_path, "a-square.py", GOOD)
    write(tmp_path, "a_square.py", GOOD)
    loaded = load_folder(tmp_path)
    assert [Path(lesson.path).name for lesson in loaded.lessons] == ["a-square.py"]
    (problem,) = loaded.problems
    assert str(problem) == f"{tmp_path / 'a_square.py'}:1: the lesson id \"a-square\" is taken by another lesson file; rename the file."


def test_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(LessonFileError, match="this lesson folder does not exist or is not a folder"):
        load_folder(tmp_path / "missing")
    assert lesson_id_of("my_first_lesson.py") == "my-first-lesson"


def test_a_matrix_leaf_and_its_value_box(tmp_path):
    lesson = load_lesson_file(write(tmp_path, "layer.py", '''\
        """One linear layer

        f = sum(W @ x): every row of W gets x.
        """

        import torch


        def f(W=[[1.0, 2.0], [3.0, 4.0]], x=[1.0, -1.0]):
            return (W @ x).sum()


        EXPECTED = {"W": [[1.0, -1.0], [1.0, -1.0]], "x": [4.0, 6.0]}
        '''))
    parse = value_parser(lesson.defaults)
    assert parse("[[0, 1], [2, 3.5]]", "W") == [[0.0, 1.0], [2.0, 3.5]]
    assert parse("[1, 2]", "x") == [1.0, 2.0]
    with pytest.raises(ExplorerError, match="The rows of W have different lengths"):
        parse("[[1, 2], [3]]", "W")
    with pytest.raises(ExplorerError, match="`__import__` is not one"):
        parse("[[1, 2], [3, __import__]]", "W")
    values = {"W": parse("[[0, 1], [2, 3.5]]", "W"), "x": [2.0, 5.0]}
    session = run_calls(lesson.fn, values, 1)
    for name, grad in reference(lesson, values).items():
        assert close(session.full_grads()[name], grad)


def test_the_readmes_lesson_file_is_the_example_and_its_error_is_the_one_quoted(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Your own lessons\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks == [(EXAMPLES / "neuron.py").read_text(encoding="utf-8")]
    lesson = load_lesson_file(write(tmp_path, "neuron.py", blocks[0]))
    assert all(close(lesson.expected[name], grad) for name, grad in reference(lesson).items())
    # The message the README quotes, for EXPECTED with w.grad = 2: PyTorch's number, the file and line.
    (tmp_path / "wrong").mkdir()
    wrong = write(tmp_path / "wrong", "neuron.py", blocks[0].replace('EXPECTED = {"w": 1.5729', 'EXPECTED = {"w": 2'))
    with pytest.raises(LessonFileError) as raised:
        load_lesson_file(wrong)
    quoted = re.search(r"\(`(neuron\.py:\d+: EXPECTED gives.*?)`\)", " ".join(section.split())).group(1)
    assert str(raised.value) == f"{wrong.parent}/{quoted}"


def test_what_the_app_caches_for_every_session_holds_no_tensor():
    # explorer/ui/lesson_folder.py keeps a loaded folder in st.cache_resource, shared by every browser.
    loaded = load_folder(EXAMPLES)
    assert loaded.lessons
    for lesson in loaded.lessons:
        for value in (*lesson.defaults.values(), *lesson.expected.values()):
            assert not isinstance(value, torch.Tensor) and not (
                isinstance(value, list) and any(isinstance(item, torch.Tensor) for item in value)), lesson.id
        # f's globals are its file's top level: the module a cached lesson keeps alive
        assert "f" in lesson.fn.__globals__
        # nothing at the top holds a tensor that requires grad: not bare, not in a layer or a list
        assert not any((isinstance(value, torch.Tensor) and value.requires_grad) or holds_grad_tensor(value)
                       for value in lesson.fn.__globals__.values()), lesson.id
