"""Links the app writes always reopen: runs of an action written with their count, a cap with a message,
and lists the explorer never writes refused before anything runs."""

from __future__ import annotations

import random
import time

import pytest
import torch

from explorer.core.actions import MOST_LINK_ACTIONS, decode_actions, encode_actions
from explorer.core.calls import BackwardSession
from explorer.errors import ExplorerError
from support import metric, open_app


def square(x):
    return x ** 2


def _history(rng: random.Random, length: int) -> str:
    """A history a student could make: calls, zeroings, kept graphs and same-graph calls after a call."""
    letters = ["b"]
    while len(letters) < length:
        letters.append(rng.choice("bbbbbBzn" + ("aA" if letters[-1] in "BA" else "")))
    return "".join(letters)


@pytest.mark.parametrize("seed", range(20))
def test_round_trip(seed):
    rng = random.Random(seed)
    letters = _history(rng, rng.choice([1, 5, 50, 400, MOST_LINK_ACTIONS]))
    code = encode_actions(letters)
    assert decode_actions(code) == letters
    assert len(code) <= len(letters)


def test_runs_are_counted_short_ones_kept():
    assert encode_actions("b" * 300) == "b300"
    assert encode_actions("bbzb") == "bbzb" and encode_actions("bbbb") == "b4"
    assert encode_actions("bBbbbbzzzzn") == "bBb4z4n"


def test_a_long_session_reopens_to_the_same_gradients():
    first = BackwardSession(square, {"x": 3.0})
    for _ in range(250):
        first.backward()
    first.zero_grad("zero")
    first.backward()
    code = first.actions_code()
    assert code == "b250zb"
    second = BackwardSession(square, {"x": 3.0})
    started = time.perf_counter()
    second.replay(code)
    print(f"\nreplaying {len(second.history)} actions: {time.perf_counter() - started:.3f} s")
    x = torch.tensor(3.0, requires_grad=True)
    (expected,) = torch.autograd.grad(square(x), x)
    assert second.grads()["x"] == pytest.approx(float(expected), rel=1e-5, abs=1e-5) == first.grads()["x"]


def test_the_cap_is_replayed_and_one_more_gets_no_link():
    session = BackwardSession(square, {"x": 1.0})
    started = time.perf_counter()
    session.replay(f"b{MOST_LINK_ACTIONS}")
    print(f"\nreplaying the cap, {MOST_LINK_ACTIONS} calls: {time.perf_counter() - started:.3f} s")
    assert session.actions_code() == f"b{MOST_LINK_ACTIONS}"
    assert session.grads()["x"] == pytest.approx(2.0 * MOST_LINK_ACTIONS, rel=1e-5)
    session.backward()
    assert session.actions_code() is None and not session.fits_in_link()


@pytest.mark.parametrize("code", ["b1", "b01", "b0", "b2", "bb3", "b3b", "b" * 201, f"b{MOST_LINK_ACTIONS + 1}",
                                  f"b{MOST_LINK_ACTIONS}z", "b999999", "a4", "zA4", "b4q", "4b", "b-4", "b 4", "b٣"])
def test_lists_the_explorer_never_writes_are_refused(code):
    session = BackwardSession(square, {"x": 3.0})
    with pytest.raises(ExplorerError, match="afresh"):
        session.replay(code)
    assert session.history == [] and session.leaves["x"].grad is None


def test_plain_letters_of_older_links_still_reopen():
    assert decode_actions("bbbbzb") == "bbbbzb" and decode_actions("b" * 200) == "b" * 200


def test_the_page_reopens_a_counted_link_and_extends_it():
    at = open_app("app_pages/3_Accumulation.py", {"ops": "b300"})
    assert metric(at, "w.grad") == "-600"
    at.button(key="accumulation:accumulation:backward").click().run()
    assert metric(at, "w.grad") == "-602" and at.query_params["ops"] == "b301"


def test_past_the_cap_the_page_says_so_and_writes_no_link():
    at = open_app("app_pages/3_Accumulation.py", {"ops": f"b{MOST_LINK_ACTIONS}"})
    at.button(key="accumulation:accumulation:backward").click().run()
    assert metric(at, "w.grad") == f"-{2 * (MOST_LINK_ACTIONS + 1)}"
    assert "ops" not in at.query_params
    assert any("more than a link holds" in w.value for w in at.warning)
