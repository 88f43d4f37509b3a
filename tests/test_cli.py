"""The command line, run as a student runs it: a real subprocess, real exit codes."""

import json
import subprocess
import sys

import pytest
import torch

from support import close
from explorer.functions.lessons import get_lesson, lesson_ids


def cli(*args):
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, timeout=120)


def test_lessons_lists_every_id():
    done = cli("lessons")
    assert done.returncode == 0
    assert [line.split()[0] for line in done.stdout.splitlines()] == lesson_ids()


def test_show_json_has_graph_events_and_grads_per_call():
    done = cli("show", "requires-grad", "--set", "x=3", "--calls", "3", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    kinds = [node["kind"] for node in report["graph"]["nodes"]]
    assert kinds == ["output", "op", "saved", "accumulate", "leaf"]
    assert [call["grads_after"]["x"] for call in report["calls"]] == [6.0, 12.0, 18.0]
    first = report["calls"][0]["events"]
    assert [e["name"] for e in first] == ["PowBackward0", "AccumulateGrad"]
    assert first[0]["grads_in"] == [1.0] and first[0]["grads_out"][0]["value"] == 6.0


@pytest.mark.parametrize("zero,expected", [("none", [-2, -4, -6]), ("zero", [-2, -2, -2]), ("set-none", [-2, -2, -2])])
def test_show_zero_modes(zero, expected):
    report = json.loads(cli("show", "accumulation", "--calls", "3", "--zero", zero, "--json").stdout)
    assert [call["grads_after"]["w"] for call in report["calls"]] == expected


def test_show_values_equal_autograd_at_new_values():
    report = json.loads(cli("show", "exercise-2", "--set", "x=0.25", "--set", "y=3", "--json").stdout)
    x, y = torch.tensor(0.25, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    gx, gy = torch.autograd.grad(get_lesson("exercise-2").fn(x=x, y=y), [x, y])
    assert close(report["calls"][0]["grads_after"]["x"], gx)
    assert close(report["calls"][0]["grads_after"]["y"], gy)


def test_show_text_output():
    done = cli("show", "accumulation", "--calls", "2")
    assert done.returncode == 0
    assert "w.grad = -2" in done.stdout and "w.grad = -4" in done.stdout


@pytest.mark.parametrize("args,words", [
    (["show", "nope"], "no lesson"),
    (["show", "requires-grad", "--set", "x=abc"], "must be a number"),
    (["show", "requires-grad", "--set", "x=nan"], "NaN"),
    (["show", "requires-grad", "--set", "x=inf"], "infinite"),
    (["show", "requires-grad", "--set", "q=1"], "no variable"),
    (["show", "requires-grad", "--set", "x"], "NAME=VALUE"),
    (["show", "requires-grad", "--calls", "0"], "1 or more"),
])
def test_bad_input_exits_non_zero_with_a_message(args, words):
    done = cli(*args)
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_show_json_writes_inf_as_text_not_an_invalid_number():
    done = cli("show", "--expr", "sqrt(x)", "--set", "x=0", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout, parse_constant=lambda constant: pytest.fail(f"non-standard JSON {constant}"))
    x = torch.tensor(0.0, requires_grad=True)
    torch.sqrt(x).backward()
    assert report["calls"][-1]["grads_after"]["x"] == str(x.grad.item()) == "inf"  # 1 / (2·sqrt(0))


@pytest.mark.parametrize("cap", ["nan", "inf", "-1", "0"])
def test_bench_refuses_a_cap_that_is_not_a_time(cap):
    done = cli("bench", "--quick", "--cap", cap)
    assert done.returncode == 2 and done.stderr.startswith("error: --cap must be") and "Traceback" not in done.stderr


def test_show_explains_a_value_that_overflows():
    done = cli("show", "exercise-2", "--set", "x=3e38")
    x, y = torch.tensor(3e38, requires_grad=True), torch.tensor(-2.0, requires_grad=True)
    gx, _ = torch.autograd.grad(get_lesson("exercise-2").fn(x=x, y=y), [x, y])
    assert done.returncode == 0 and f"x.grad = {gx.item()}" in done.stdout  # PyTorch's own inf, shown
    assert "note: f, x.grad are not finite" in done.stdout and "float32" in done.stdout
