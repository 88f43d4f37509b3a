"""Browser benchmark: how fast the app answers a student, against a bare Streamlit page timed in the
same run on the same machine (`make bench-browser`). Not a test: it prints a table of medians and
their ratio to the baseline, the figures the README's speed table gives.

Measured in Debian's Chromium through Playwright, each figure from a new browser context (a new
session; the server is warmed up first, so "page load" is a warm load):
  * page load: from navigation to the page's first run finished and its buttons shown;
  * first click: the session's first "Call .backward()" on Accumulation, to the new graph's
    player visible with w.grad = -2 (the baseline: its first button click to its metric updated);
  * later clicks: the next clicks of the same session (w.grad -4, -6, ...).
Traffic goes to 127.0.0.1 only, and the run is bounded: ROUNDS sessions of CLICKS clicks.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_support import CHROMIUM, CHROMIUM_ARGS, COUNT_RUNS, free_port, start_server  # noqa: E402

ROUNDS = 5
CLICKS = 4  # per session: the first, then CLICKS - 1 later ones
TIMEOUT_MS = 60_000

# The baseline: the smallest page that does what ours does on a click (a button, a number shown).
BASELINE_APP = '''
import streamlit as st

st.title("Baseline")
if st.button("Click"):
    st.session_state["clicks"] = st.session_state.get("clicks", 0) + 1
st.metric("clicks", st.session_state.get("clicks", 0))
'''


def _ready(page) -> None:
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=TIMEOUT_MS)


def _metric(page, label: str):
    return page.locator("[data-testid='stMetric']", has_text=label).first.locator("[data-testid='stMetricValue']")


def measure(browser, url: str, button: str, after_click) -> dict[str, list[float]]:
    """Load times, first clicks and later clicks over ROUNDS new sessions of one page."""
    times = {"load": [], "first": [], "later": []}
    for round_ in range(ROUNDS + 1):  # round 0 warms the server up and is not counted
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        context.add_init_script(COUNT_RUNS)
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url)
        _ready(page)
        target = page.get_by_role("button", name=button)
        expect(target).to_be_visible(timeout=TIMEOUT_MS)
        loaded = time.perf_counter() - start
        clicks = []
        for click in range(1, CLICKS + 1):
            start = time.perf_counter()
            target.click()
            after_click(page, click)
            clicks.append(time.perf_counter() - start)
        context.close()
        if round_:
            times["load"].append(loaded)
            times["first"].append(clicks[0])
            times["later"].extend(clicks[1:])
    return times


def explorer_click_done(page, click: int) -> None:
    """The graph of call `click` is on screen: w.grad = -2·click and a player whose strip has that call."""
    expect(_metric(page, "w.grad")).to_have_text(str(-2 * click), timeout=TIMEOUT_MS)
    # The previous call's player stays, faded, until the rerun ends: wait for the new one alone.
    expect(page.locator(".agp-root .agp-svg svg").last).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator(".agp-root")).to_have_count(1, timeout=TIMEOUT_MS)


def baseline_click_done(page, click: int) -> None:
    expect(_metric(page, "clicks")).to_have_text(str(click), timeout=TIMEOUT_MS)


def main() -> int:
    ours_port, base_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as folder:
        baseline_app = Path(folder) / "baseline.py"
        baseline_app.write_text(BASELINE_APP)
        servers = [start_server(ours_port), start_server(base_port, app=baseline_app)]
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                ours = measure(browser, f"http://127.0.0.1:{ours_port}/Accumulation", "Call .backward()",
                               explorer_click_done)
                base = measure(browser, f"http://127.0.0.1:{base_port}/", "Click", baseline_click_done)
                browser.close()
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=20)
    print(f"Browser benchmark: {ROUNDS} sessions of {CLICKS} clicks each, medians in seconds "
          "(a bare Streamlit page with a button and a metric is the baseline, timed in the same run)\n")
    print("| what | explorer | baseline | ratio |")
    print("|---|---|---|---|")
    for key, label in (("load", "warm page load"), ("first", "first click of a session"),
                       ("later", "later clicks")):
        mine, theirs = statistics.median(ours[key]), statistics.median(base[key])
        print(f"| {label} | {mine:.3f} s | {theirs:.3f} s | {mine / theirs:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
