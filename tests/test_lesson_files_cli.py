"""Lesson files on the command line: `--lessons DIR` on lessons, show, export (one and --all), site
and bench; the examples' numbers equal torch.autograd.grad; a broken file is named with its line
on stderr while the good lessons still list, and `show BAD` exits 2."""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess

import nbformat
import pytest
import torch
from support import ROOT, close, run_cli
from test_notebook import kernel, outputs, run  # noqa: F401 - kernel is a fixture

from explorer import bench
from explorer.functions.lesson_files import LESSONS_VARIABLE, OWN_LESSONS_HEADING, lessons_with, load_folder
from explorer.functions.lessons import all_lessons
from explorer.io.export import FORMATS
from explorer.io.site import page_name

EXAMPLES = ROOT / "examples" / "lessons"
EXAMPLE_IDS = ["neuron", "training-steps"]


def reference_calls(lesson, calls: int, zero: str) -> list[dict[str, list | float]]:
    """Each leaf's .grad after each of `calls` real .backward() calls, with `zero` between, from
    torch.autograd.grad alone: one call's gradient, piled up or not."""
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in lesson.defaults.items()}
    one = dict(zip(leaves, torch.autograd.grad(lesson.fn(**leaves), list(leaves.values()))))
    return [{name: (grad * (1 if zero != "none" else call)).tolist() for name, grad in one.items()}
            for call in range(1, calls + 1)]


@pytest.fixture
def folder(tmp_path):
    """The examples, and a broken file beside them."""
    where = tmp_path / "lessons"
    shutil.copytree(EXAMPLES, where)
    (where / "broken.py").write_text('"""Broken"""\n\ndef f(x=1.0):\n    return x.nope()\n', encoding="utf-8")
    return where


def test_lessons_lists_the_good_ones_and_names_the_broken_one_on_stderr(capsys, folder):
    status, out, err = run_cli(capsys, "lessons", "--lessons", str(folder))
    assert status == 0
    ids = [line.split()[0] for line in out.splitlines()]
    assert ids == [lesson.id for lesson in all_lessons()] + EXAMPLE_IDS
    assert "neuron             One neuron: tanh(w * x + b)" in out.splitlines()
    assert err == f"skipped {folder / 'broken.py'}:4: f raised AttributeError: 'Tensor' object has no attribute 'nope'.\n"


def test_show_of_a_broken_file_exits_2_with_its_file_and_line(capsys, folder):
    status, out, err = run_cli(capsys, "show", "broken", "--lessons", str(folder))
    assert status == 2 and out == ""
    assert err.splitlines()[-1] == f"error: {folder / 'broken.py'}:4: f raised AttributeError: 'Tensor' object has no attribute 'nope'."


def test_a_missing_folder_is_one_line(capsys, tmp_path):
    status, _, err = run_cli(capsys, "lessons", "--lessons", str(tmp_path / "nowhere"))
    assert status == 2 and err == f"error: {tmp_path / 'nowhere'}: this lesson folder does not exist or is not a folder.\n"


@pytest.mark.parametrize("lesson_id, calls, zero", [("neuron", 1, "none"), ("training-steps", 3, "zero"),
                                                    ("training-steps", 2, "none")])
def test_show_json_of_an_example_is_autograds(capsys, lesson_id, calls, zero):
    status, out, _ = run_cli(capsys, "show", lesson_id, "--lessons", str(EXAMPLES), "--json", "--calls", str(calls),
                             "--zero", zero)
    assert status == 0
    report = json.loads(out)
    lesson = next(lesson for lesson in load_folder(EXAMPLES).lessons if lesson.id == lesson_id)
    expected = reference_calls(lesson, calls, zero)
    assert len(report["calls"]) == calls
    for call, wanted in zip(report["calls"], expected):
        for name, grad in wanted.items():
            assert close(call["grads_after"][name], grad)
    assert all(close(report["grads"][name], grad) for name, grad in expected[-1].items())


def test_show_takes_values_for_a_file_lesson(capsys):
    status, out, _ = run_cli(capsys, "show", "neuron", "--lessons", str(EXAMPLES), "--set", "w=1", "--set", "b=0")
    assert status == 0
    w, x, b = (torch.tensor(value, requires_grad=True) for value in (1.0, 2.0, 0.0))
    grads = torch.autograd.grad(torch.tanh(w * x + b), [w, x, b])
    line = out.splitlines()[-1].strip()
    assert line == ", ".join(f"{name}.grad = {value:.4g}" for name, value in zip("wxb", (g.item() for g in grads)))


def test_export_all_writes_every_format_of_every_lesson_and_the_examples(capsys, tmp_path):
    status, out, _ = run_cli(capsys, "export", "--all", str(tmp_path), "--lessons", str(EXAMPLES))
    count = (len(all_lessons()) + len(EXAMPLE_IDS)) * len(FORMATS)
    assert status == 0 and out == f"wrote {count} files to {tmp_path}\n"
    lessons = {lesson.id: lesson for lesson in load_folder(EXAMPLES).lessons}
    for lesson_id in EXAMPLE_IDS:
        assert all((tmp_path / f"{lesson_id}.{fmt}").stat().st_size > 0 for fmt in FORMATS)
        trace = json.loads((tmp_path / f"{lesson_id}.json").read_text(encoding="utf-8"))
        (wanted,) = reference_calls(lessons[lesson_id], 1, "none")
        assert all(close(trace["grads"][name], grad) for name, grad in wanted.items())
        notebook = nbformat.read(tmp_path / f"{lesson_id}.ipynb", as_version=4)
        code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
        assert lessons[lesson_id].source.strip() in code  # the whole file: imports, helpers, f
        assert f"<title>{lessons[lesson_id].title}" in (tmp_path / f"{lesson_id}.html").read_text(encoding="utf-8")


def test_site_has_the_examples_under_their_own_heading(capsys, tmp_path):
    status, out, _ = run_cli(capsys, "site", str(tmp_path), "--lessons", str(EXAMPLES))
    assert status == 0 and out.startswith(f"wrote {1 + len(all_lessons()) + 2} pages")  # the index, then a page each
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    heading = index.index(f"<h2>{OWN_LESSONS_HEADING.replace(chr(39), '&#x27;')}</h2>")
    last_built_in = all_lessons()[-1]
    assert heading > index.index(f'href="{page_name(last_built_in)}"')  # after the built-in chapter
    assert index.index('href="neuron.html"') > heading and index.index('href="training-steps.html"') > heading
    steps = (tmp_path / "training-steps.html").read_text(encoding="utf-8")
    # CALLS = 3, ZERO = "zero": the page shows three calls, cleared between them, and autograd's numbers.
    assert "<code>.backward()</code> called 3 times with <code>.grad.zero_()</code> in between" in steps
    assert "<code>v.grad</code> = [-2, 4, 3] (from PyTorch)" in steps
    neuron = (tmp_path / "neuron.html").read_text(encoding="utf-8")
    assert f'rel="prev">← {html.escape(last_built_in.title)}' in neuron and "def by_hand(w, x, b)" in neuron


def test_bench_times_the_folders_lessons_too():
    lessons, _ = lessons_with(EXAMPLES)
    names = [name for name, _, _ in bench.cases(True, lessons)]
    assert names[:len(lessons)] == [f"lesson {lesson.id}" for lesson in lessons]
    row = bench.time_explorer(dict((name, build) for name, build, _ in bench.cases(True, lessons))["lesson neuron"])
    assert row[2] == 13  # nodes: the same graph `show neuron` prints (13 nodes, 12 edges)


def test_bench_command_takes_the_folder(capsys, monkeypatch):
    seen = {}
    monkeypatch.setattr(bench, "run", lambda **options: seen.update(options))
    status, _, _ = run_cli(capsys, "bench", "--quick", "--lessons", str(EXAMPLES))
    assert status == 0 and [lesson.id for lesson in seen["lessons"]][-2:] == EXAMPLE_IDS


@pytest.mark.slow
def test_an_exported_lesson_file_notebook_runs_on_its_own(kernel, tmp_path, capsys):  # noqa: F811
    path = tmp_path / "neuron.ipynb"
    assert run_cli(capsys, "export", "neuron", "-o", str(path), "--lessons", str(EXAMPLES))[0] == 0
    notebook = nbformat.read(path, as_version=4)
    executed, _, _ = run(notebook, kernel)
    for saved, again in zip(notebook.cells, executed.cells):
        if saved.cell_type == "code":
            assert [kind for kind, *_ in outputs(saved)] == [kind for kind, *_ in outputs(again)]
    # The last cell prints each .grad: the same when run as saved, and autograd's.
    printed = outputs(executed.cells[-1])
    assert printed == outputs(notebook.cells[-1])
    w, x, b = (torch.tensor(value, requires_grad=True) for value in (0.5, 2.0, -0.5))
    for name, grad in zip("wxb", torch.autograd.grad(torch.tanh(w * x + b), [w, x, b])):
        value = next(line for line in printed[0][2].splitlines() if line.startswith(f"{name}.grad = "))
        assert close(float(value.split(" = ")[1]), grad)


def test_app_passes_the_folder_to_the_server_in_its_environment(capsys, monkeypatch):
    from explorer import launch

    # launch sets the variable in os.environ itself (the server inherits it): setenv first, so that the
    # variable is gone again after this test (a leak would give every later app a lesson folder).
    monkeypatch.setenv(LESSONS_VARIABLE, "")
    became = []
    monkeypatch.setattr(launch.os, "execv", lambda path, command: became.append(dict(os.environ)))
    status, _, _ = run_cli(capsys, "app", "--port", "8611", "--lessons", str(EXAMPLES.relative_to(ROOT)))
    assert status == 0 and became[0][LESSONS_VARIABLE] == str(EXAMPLES)  # absolute: the server's folder may differ
    monkeypatch.delenv(LESSONS_VARIABLE)
    status, _, err = run_cli(capsys, "app", "--lessons", "no/such/folder")
    assert status == 2 and err == "error: The lesson folder no/such/folder does not exist or is not a folder.\n"


def test_make_run_passes_lessons_to_the_app():
    done = subprocess.run(["make", "-n", "run", "LESSONS=examples/lessons"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert any(line.startswith(".venv/bin/python -m explorer app --port 8501 --lessons \"examples/lessons\" --")
               for line in done.stdout.splitlines()), done.stdout
