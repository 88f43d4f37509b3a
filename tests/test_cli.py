"""The command line. Its outputs and error paths run in this process (`main([...])`, read with
capsys), which is fast; a few tests run the real `python -m explorer` to hold the exit codes and
streams a student sees end to end."""

import json

import pytest
import torch

from support import close, run_cli, run_process
from explorer.functions.lessons import get_lesson, lesson_ids


# -- end to end: a real process, real exit codes -----------------------------------------------
def test_lessons_lists_every_id():
    done = run_process("lessons")
    assert done.returncode == 0
    assert [line.split()[0] for line in done.stdout.splitlines()] == lesson_ids()


def test_show_json_has_graph_events_and_grads_per_call():
    done = run_process("show", "requires-grad", "--set", "x=3", "--calls", "3", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    kinds = [node["kind"] for node in report["graph"]["nodes"]]
    assert kinds == ["output", "op", "saved", "accumulate", "leaf"]
    assert [call["grads_after"]["x"] for call in report["calls"]] == [6.0, 12.0, 18.0]
    first = report["calls"][0]["events"]
    assert [e["name"] for e in first] == ["PowBackward0", "AccumulateGrad"]
    assert first[0]["grads_in"] == [1.0] and first[0]["grads_out"][0]["value"] == 6.0


def test_bad_input_exits_2_from_a_real_process():
    done = run_process("show", "requires-grad", "--set", "x=nan")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "NaN" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


# -- in this process ------------------------------------------------------------------------------
@pytest.mark.parametrize("zero,expected", [("none", [-2, -4, -6]), ("zero", [-2, -2, -2]), ("set-none", [-2, -2, -2])])
def test_show_zero_modes(capsys, zero, expected):
    status, out, _ = run_cli(capsys, "show", "accumulation", "--calls", "3", "--zero", zero, "--json")
    assert status == 0
    assert [call["grads_after"]["w"] for call in json.loads(out)["calls"]] == expected


def test_show_values_equal_autograd_at_new_values(capsys):
    _, out, _ = run_cli(capsys, "show", "exercise-2", "--set", "x=0.25", "--set", "y=3", "--json")
    report = json.loads(out)
    x, y = torch.tensor(0.25, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    gx, gy = torch.autograd.grad(get_lesson("exercise-2").fn(x=x, y=y), [x, y])
    assert close(report["calls"][0]["grads_after"]["x"], gx)
    assert close(report["calls"][0]["grads_after"]["y"], gy)


def test_show_text_output(capsys):
    status, out, _ = run_cli(capsys, "show", "accumulation", "--calls", "2")
    assert status == 0
    assert "w.grad = -2" in out and "w.grad = -4" in out


@pytest.mark.parametrize("args,words", [
    (["show", "nope"], "no lesson"),
    (["show", "requires-grad", "--set", "x=abc"], "must be a number"),
    (["show", "requires-grad", "--set", "x=nan"], "NaN"),
    (["show", "requires-grad", "--set", "x=inf"], "infinite"),
    (["show", "requires-grad", "--set", "q=1"], "no variable"),
    (["show", "requires-grad", "--set", "x"], "NAME=VALUE"),
    (["show", "requires-grad", "--calls", "0"], "1 or more"),
])
def test_bad_input_exits_non_zero_with_a_message(capsys, args, words):
    status, out, err = run_cli(capsys, *args)
    assert status == 2
    assert err.startswith("error: ") and words in err
    assert out == ""


def test_show_json_writes_inf_as_text_not_an_invalid_number(capsys):
    status, out, err = run_cli(capsys, "show", "--expr", "sqrt(x)", "--set", "x=0", "--json")
    assert status == 0, err
    report = json.loads(out, parse_constant=lambda constant: pytest.fail(f"non-standard JSON {constant}"))
    x = torch.tensor(0.0, requires_grad=True)
    torch.sqrt(x).backward()
    assert report["calls"][-1]["grads_after"]["x"] == str(x.grad.item()) == "inf"  # 1 / (2·sqrt(0))


@pytest.mark.parametrize("cap", ["nan", "inf", "-1", "0"])
def test_bench_refuses_a_cap_that_is_not_a_time(capsys, cap):
    status, out, err = run_cli(capsys, "bench", "--quick", "--cap", cap)
    assert status == 2 and err.startswith("error: --cap must be") and out == ""


def test_show_explains_a_value_that_overflows(capsys):
    status, out, _ = run_cli(capsys, "show", "exercise-2", "--set", "x=3e38")
    x, y = torch.tensor(3e38, requires_grad=True), torch.tensor(-2.0, requires_grad=True)
    gx, _ = torch.autograd.grad(get_lesson("exercise-2").fn(x=x, y=y), [x, y])
    assert status == 0 and f"x.grad = {gx.item()}" in out  # PyTorch's own inf, shown
    assert "note: f, x.grad are not finite" in out and "float32" in out
