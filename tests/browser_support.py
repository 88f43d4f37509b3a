"""Helpers for browser tests: Debian's Chromium driven by Playwright, against a real Streamlit server.

Playwright never downloads a browser here: we launch /usr/bin/chromium (make test installs it).
Screenshots go to test-artifacts/ so a person can look at them.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import re
import time
import urllib.request
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, *options: str, app: Path = ROOT / "explorer" / "ui" / "app" / "Home.py") -> subprocess.Popen:
    """A fresh Streamlit server for the app (or another script, `app`), with extra `options` such
    as --theme.base dark; returns once /_stcore/health answers ok."""
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         *options],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return wait_until_serving(process, port)


def wait_until_serving(process: subprocess.Popen, port: int) -> subprocess.Popen:
    """Return the server's process once its /_stcore/health answers ok (killed after 60 s without)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Streamlit server exited with status {process.returncode} before answering")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return process
        except OSError:
            time.sleep(0.3)  # polling a server that is starting: the interval, not a wait for a result
    process.kill()
    raise RuntimeError("the Streamlit server did not start within 60 s")


# Streamlit shows its script's state in stApp's data-test-script-state, but a click only sends a
# message: until the server answers, the attribute still says "notRunning" from the run before,
# and one action can start a second run (a widget's value settling, the player's step report).
# So every page counts the runs it has seen start and finish (a MutationObserver installed before
# any of the page's own scripts), and wait_for_app waits until a run newer than the last one it
# returned on has finished and none is under way.
COUNT_RUNS = """
window.__appRuns = {started: 0, finished: 0};
new MutationObserver(records => {
    // A busy spell, from leaving notRunning to coming back, is one run: a rerun requested during a
    // run goes running -> rerunRequested -> running -> notRunning, and counting each "running" left
    // started ahead of finished for good (wait_for_app then waited out its timeout).
    const idle = value => value === null || value === 'notRunning';
    records.forEach((record, index) => {
        // What the attribute became: the next change's old value, or for the last change the value
        // now (one callback can carry several changes).
        const next = records.slice(index + 1).find(later => later.target === record.target);
        const state = next ? next.oldValue : record.target.getAttribute('data-test-script-state');
        if (idle(record.oldValue) && !idle(state)) window.__appRuns.started += 1;
        if (idle(state) && !idle(record.oldValue)) window.__appRuns.finished += 1;
    });
}).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                      attributeFilter: ['data-test-script-state']});
"""
NEW_RUN_FINISHED = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    const runs = window.__appRuns;
    return app !== null && app.dataset.testScriptState === 'notRunning'
        && runs.finished > (window.__appRunsSeen || 0) && runs.finished >= runs.started;
}"""


# The player plays a new call's animation once by itself unless the student switched that off
# (remembered in localStorage under this key, as cursor.mjs's AUTOPLAY_KEY).
AUTOPLAY_OFF = "try { localStorage.setItem('agp-autoplay', 'off'); } catch (e) {}"


def new_page(browser, autoplay: bool = False, viewport=(1400, 1000), **options):
    """A page in a context of its own (a new browser session for Streamlit), 1400 x 1000, that
    counts Streamlit's runs for wait_for_app. The page's context closes with `page.context.close()`.
    Autoplay is off unless asked for: most tests step a new call's player from its start."""
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    context.add_init_script(COUNT_RUNS)
    if not autoplay:
        context.add_init_script(AUTOPLAY_OFF)
    return context.new_page()


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Wait until a run of the script newer than the one this returned on last (the first run,
    after page.goto) has finished. Call it once per action that makes Streamlit rerun: after an
    action that starts no run it times out, which is a test's mistake worth hearing about."""
    page.wait_for_function(NEW_RUN_FINISHED, timeout=timeout)
    page.evaluate("() => { window.__appRunsSeen = window.__appRuns.finished; }")


def settled(page) -> None:
    """Wait until the page's fonts have loaded and two frames have been drawn: by then every
    ResizeObserver callback and layout the last change queued has run, so sizes read are final."""
    page.evaluate("""() => document.fonts.ready.then(() => new Promise(done =>
        requestAnimationFrame(() => requestAnimationFrame(done))))""")


def zoom_with_wheel(page, x: float, y: float, delta_y: float) -> None:
    """Turn the mouse wheel over (x, y) on the player, and wait until its camera (the SVG's CSS
    transform) has moved: Playwright's wheel returns before the page has handled the event."""
    before = page.eval_on_selector(".agp-svg svg", "e => e.style.transform")
    page.mouse.move(x, y)
    page.mouse.wheel(0, delta_y)
    page.wait_for_function("before => document.querySelector('.agp-svg svg').style.transform !== before",
                           arg=before)


def open_player(page, tmp_path, animation, title: str, step: int = 0):
    """The standalone player page for `animation`, written to a file and opened from disk; returns
    the player's root once it shows `step` (the player builds, fits and goes to it in one go)."""
    from explorer.play.player import standalone_html

    path = tmp_path / "player.html"
    path.write_text(standalone_html(animation, title), encoding="utf-8")
    page.goto(path.as_uri())
    page.wait_for_selector(f".agp-root[data-step='{step}']")
    return page.locator(".agp-root")


def screenshot(page, name: str, graph: bool = False) -> Path:
    """Save a full-page screenshot to test-artifacts/ for a person to look at. Streamlit scrolls its main
    column itself, so the page's shot ends at the window; `graph` also saves NAME-graph.png, the player
    (or the static graph image before any call) scrolled into view."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if graph:
        drawn = page.locator(".agp-root, [data-testid='stImage']").first
        drawn.screenshot(path=str(ARTIFACTS / f"{name}-graph.png"))
    return path


def metric(page, label):
    """A Streamlit metric's value element; expect(...) on it retries until the rerun has landed."""
    return page.locator("[data-testid='stMetric']", has_text=label).first.locator("[data-testid='stMetricValue']")


# Every node of the player's graph lies inside its stage (the root is passed in): the framing a
# student sees without pressing Fit.
ALL_NODES_INSIDE = """root => {
    const stage = root.querySelector('.agp-stage').getBoundingClientRect();
    const nodes = [...root.querySelectorAll('.agp-svg g.node')].map(n => n.getBoundingClientRect());
    return stage.width > 100 && nodes.length > 0 && nodes.every(b => b.width > 0 && b.left >= stage.left - 1
        && b.right <= stage.right + 1 && b.top >= stage.top - 1 && b.bottom <= stage.bottom + 1);
}"""


def the_player(page):
    """The page's one player. Each backward call mounts a new one (it starts at step 0); the previous
    call's player stays on screen, faded, until Streamlit finishes the rerun, so wait for one."""
    from playwright.sync_api import expect

    player = page.locator(".agp-root")
    expect(player).to_have_count(1)
    return player


def lesson_url(server: str, lesson, query: str = "") -> str:
    """A lesson's address in the app: its page (served under the page file's name, read off
    app_pages/), with ?lesson= for a page of several, and predict first off (it hides the graph)."""
    paths = {}
    for file in sorted((ROOT / "explorer" / "ui" / "app" / "app_pages").glob("*.py")):
        found = re.search(r'lesson_page\("([^"]+)"\)', file.read_text())
        if found:
            paths[found.group(1)] = "/" + re.sub(r"^\d+_", "", file.stem)
    return f"{server}{paths[lesson.page]}?lesson={lesson.id}&predict=0" + (f"&{query}" if query else "")


def open_lesson(page, server: str, lesson_id: str, query: str = "", call: bool = False) -> None:
    """Open a lesson's page (lesson_url), wait for its first run, and with `call` press "Call .backward()"
    once and wait for that run too."""
    from explorer.functions.lessons import get_lesson

    page.goto(lesson_url(server, get_lesson(lesson_id), query))
    wait_for_app(page)
    if call:
        page.get_by_role("button", name="Call .backward()").click()
        wait_for_app(page)

