"""Every press is one real call: quick clicks on the action buttons are all applied, once, in order
(the press log, explorer/ui/presses.py), and a reload replays exactly those calls.

Each gap gets four trials of three clicks. The first clicks straight after the page's first run, when
the press counter's code may still be loading (the case that lost clicks most); the other three
follow a "Start over" on the same page, which is what a student's next attempt looks like.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser_support import metric, new_page, wait_for_app

TRIALS = 4
CALL, ZERO, START_OVER = "Call .backward()", ".grad.zero_()", "Start over"


# The browser's press log (explorer/ui/press_log.js): each log's last entries and how many it sent.
PRESS_LOG = """() => [...((window.__agpPresses || {}).logs || new Map()).values()]
    .map(log => ({seq: log.seq, sent: log.sent, last: log.entries.slice(-4)}))"""


def click_quickly(page, names: list[str], gap_ms: int) -> None:
    """Click the buttons one after another, `gap_ms` apart, without waiting for the page."""
    for index, name in enumerate(names):
        if index and gap_ms:
            page.wait_for_timeout(gap_ms)  # the gap between a student's clicks is what is tested
        page.get_by_role("button", name=name).click(no_wait_after=True)


def trials(browser, server, names: list[str], gap_ms: int, ops: str, grad: str) -> None:
    """TRIALS times: click `names` quickly, then read w.grad and the link's ops."""
    page = new_page(browser)
    page.goto(f"{server}/Accumulation")
    wait_for_app(page)
    for trial in range(TRIALS):
        if trial:
            page.get_by_role("button", name=START_OVER).click()
            expect(page).not_to_have_url(re.compile(r"ops="))
            expect(metric(page, "w.grad")).to_have_text("None")
            expect(page.locator(".agp-queued:not(:empty)")).to_have_count(0)
        click_quickly(page, names, gap_ms)
        try:
            expect(page).to_have_url(re.compile(rf"ops={ops}(&|$)"))
        except AssertionError as error:  # say whether the page logged the presses (then Python lost one) or not
            logged = page.evaluate(PRESS_LOG)
            raise AssertionError(f"trial {trial}: the page's press log {logged}") from error
        expect(metric(page, "w.grad")).to_have_text(grad)  # (w - 2)² at w = 1: -2 per call
        # Nothing is left queued once the calls have landed.
        expect(page.locator(".agp-queued:not(:empty)")).to_have_count(0)
    page.context.close()


@pytest.mark.parametrize("gap_ms", [0, 30, 100])
def test_three_quick_calls_are_three_calls(browser, server, gap_ms):
    trials(browser, server, [CALL] * 3, gap_ms, "bbb", "-6")


def test_call_zero_call_in_quick_succession(browser, server):
    trials(browser, server, [CALL, ZERO, CALL], 0, "bzb", "-2")


def test_a_reload_replays_exactly_the_presses(browser, server):
    page = new_page(browser)
    page.goto(f"{server}/Accumulation")
    wait_for_app(page)
    click_quickly(page, [CALL] * 2, 0)
    expect(page).to_have_url(re.compile(r"ops=bb(&|$)"))
    expect(metric(page, "w.grad")).to_have_text("-4")
    page.reload()
    wait_for_app(page)
    expect(metric(page, "w.grad")).to_have_text("-4")  # the link's two calls, replayed once
    expect(page).to_have_url(re.compile(r"ops=bb(&|$)"))
    page.context.close()
