"""The protocol-level load generator: a quick class against a real server (part of make test), and
its checks, which must be able to fail."""

from __future__ import annotations

import asyncio
import math
import os
import threading

import pytest
import torch

from browser_support import ROOT, free_port, start_server
from explorer import loadtest
from explorer.cli import main
from explorer.errors import ExplorerError
from explorer.functions.lessons import get_lesson


@pytest.fixture(scope="module")
def server():
    # The server imports this checkout's explorer, whatever the venv's editable install points at.
    # (Set for the server's start only: other tests build their own environments from os.environ.)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), before]))
    try:
        process = start_server(free_port())
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
    try:
        yield int(process.args[process.args.index("--server.port") + 1])
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.slow
def test_a_quick_class_sees_only_its_own_gradients(server):
    report = loadtest.run(f"http://127.0.0.1:{server}/Accumulation", **loadtest.QUICK)
    print("\n" + loadtest.summary(report))
    assert report.errors == [] and report.wrong == []
    assert all(student.clicks >= 1 for student in report.students)
    # Every student's link was reopened in a new session and checked: the reload is part of the run.
    assert all(student.link.startswith("ops=") for student in report.students)
    assert sum(s.emptied_boxes for s in report.students) == 0
    assert report.memory["before"] > 0 and "after" in report.memory


def test_the_gradient_per_call_is_torchs():
    w = torch.tensor(1.0, requires_grad=True)
    (expected,) = torch.autograd.grad(get_lesson("accumulation").fn(w=w), w)
    assert math.isclose(loadtest.gradient_per_call(), float(expected), abs_tol=1e-5) and expected == -2


@pytest.mark.parametrize("url", ["http://example.com/Accumulation", "http://10.0.0.5:8501/Accumulation",
                                 "http://0.0.0.0:8501/Accumulation", "https://127.0.0.1/Accumulation",
                                 "http://127.0.0.1:8501/Exercises", "127.0.0.1:8501", "http://127.0.0.1:99999/Accumulation"])
def test_only_this_machines_accumulation_page(url):
    with pytest.raises(ExplorerError):
        loadtest.parse_target(url)


def test_loopback_addresses_are_taken():
    assert loadtest.parse_target("http://[::1]:8650/Accumulation").stream == "ws://[::1]:8650/_stcore/stream"
    assert loadtest.parse_target("http://localhost:8650/Accumulation/").port == 8650


@pytest.mark.parametrize("students, seconds, interval", [(0, 5, 1), (loadtest.MAX_STUDENTS + 1, 5, 1),
                                                         (3, 0, 1), (3, loadtest.MAX_SECONDS + 1, 1), (3, 5, 0.01)])
def test_bounded(students, seconds, interval):
    with pytest.raises(ExplorerError):
        loadtest.check_options(loadtest.Options(students, seconds, interval))


def _view(grad: str, alerts=(), box: str = "1") -> loadtest.PageView:
    return loadtest.PageView(metrics={"f": "1", "w.grad": grad}, alerts=list(alerts), status="FINISHED_SUCCESSFULLY",
                             texts={"w =": ("$$ID-w", box, False)})


def test_the_checks_see_a_wrong_gradient_and_an_emptied_box():
    student = loadtest.Student(1, expected=-4.0)
    loadtest.check_view(student, _view("-4"), -2.0, "ok")
    assert student.wrong == [] and student.errors == []
    loadtest.check_view(student, _view("-6"), -2.0, "doubled click")
    assert len(student.wrong) == 1
    loadtest.check_view(student, _view("-4", ["Please give w a number, for example 3 or -1.5."]), -2.0, "emptied")
    assert student.emptied_boxes == 1 and len(student.errors) == 1
    loadtest.check_view(student, _view("-4", box=""), -2.0, "a box whose element carries no value")
    assert student.emptied_boxes == 2 and len(student.errors) == 2
    fresh = loadtest.Student(2)
    loadtest.check_view(fresh, _view("-2"), -2.0, "another session's .grad")
    assert len(fresh.wrong) == 1


def test_the_cli_refuses_a_stranger_in_one_line(capsys):
    assert main(["loadtest", "--url", "http://example.com/Accumulation"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_class_runs_where_an_event_loop_is_already_running():
    # A notebook cell, or this very test process once Playwright's sync API has started, holds a running
    # loop in the main thread; asyncio.run refuses there, so run_to_end hands the class to a worker thread.
    # Both cases run in a fresh thread of their own: this process's main thread may hold Playwright's loop.
    async def where():
        await asyncio.sleep(0)
        return threading.get_ident()

    async def cell():
        return loadtest.run_to_end(where())

    seen = {}

    def both():
        seen["caller"] = threading.get_ident()
        seen["inside a running loop"] = asyncio.run(cell())
        seen["without a loop"] = loadtest.run_to_end(where())

    thread = threading.Thread(target=both)
    thread.start()
    thread.join(timeout=30)
    assert seen["inside a running loop"] != seen["caller"]
    assert seen["without a loop"] == seen["caller"]


def a_class(p95: float, students: int = 4, wrong: bool = False) -> loadtest.Report:
    """A finished class whose clicks all took `p95` seconds (so its p95 is that)."""
    roll = [loadtest.Student(number, latencies=[p95] * 5, wrong=["w.grad -4, not -2"] if wrong and number == 0 else [])
            for number in range(students)]
    return loadtest.Report(roll, 20.0, {"before": 300.0, "loaded": 302.0, "active": 304.0, "after": 304.0})


def test_the_largest_class_held_is_the_last_of_the_rising_ones_under_the_goal():
    rows = [(2, a_class(0.4)), (4, a_class(0.9)), (8, a_class(1.3)), (16, a_class(0.8))]
    assert loadtest.most_held(rows) == 4  # 16 passing after 8 failed is luck, not a class held
    assert loadtest.most_held([(2, a_class(1.01))]) == 0
    assert loadtest.most_held(rows, goal=1.5) == 16 and loadtest.most_held(rows, goal=0.5) == 2
    assert loadtest.most_held([(2, a_class(0.2)), (4, a_class(0.3, wrong=True))]) == 2  # wrong is never held
    row = loadtest.sweep_row(4, a_class(0.9))
    assert row.startswith("| 4 | 20 | 0.90 s | 0.90 s | 0.90 s | 0 | 0 | 0.50 MB / 1.00 MB |")


@pytest.mark.parametrize("counts, seconds, words", [
    ([4, 2], 10, "rising order"), ([], 10, "rising order"), ([2, 2], 10, "rising order"),
    ([1, 2, 3], loadtest.MAX_SECONDS, "over 900 s in all"),
])
def test_a_sweep_is_bounded_and_in_rising_order(counts, seconds, words):
    with pytest.raises(ExplorerError, match=words):
        loadtest.sweep("http://127.0.0.1:8501/Accumulation", counts, seconds)


def test_the_cli_sweep_refuses_text_in_one_line(capsys):
    assert main(["loadtest", "--sweep", "2,four"]) == 2
    assert "--sweep takes class sizes such as 2,4,8" in capsys.readouterr().err


def test_the_cli_sweep_refuses_a_goal_that_is_no_time(capsys):
    assert main(["loadtest", "--sweep", "2,4", "--p95", "0"]) == 2
    assert "--p95 must be a number of seconds above 0" in capsys.readouterr().err
