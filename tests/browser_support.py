"""Helpers for browser tests: Debian's Chromium driven by Playwright, against a real Streamlit server.

Playwright never downloads a browser here: we launch /usr/bin/chromium (make test installs it).
Screenshots go to test-artifacts/ so a person can look at them.
"""

from __future__ import annotations

import socket
import subprocess
import sys
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




def start_server(port: int, *options: str) -> subprocess.Popen:
    """A fresh Streamlit server for the app (extra `options` such as --theme.base dark);
    returns once /_stcore/health answers ok."""
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "Home.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         *options],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the Streamlit server did not start within 60 s")


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script for this page."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_timeout(300)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot to test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def metric(page, label):
    """A Streamlit metric's value element; expect(...) on it retries until the rerun has landed."""
    return page.locator("[data-testid='stMetric']", has_text=label).first.locator("[data-testid='stMetricValue']")


def the_player(page):
    """The page's one player. Each backward call mounts a new one (it starts at step 0); the previous
    call's player stays on screen, faded, until Streamlit finishes the rerun, so wait for one."""
    from playwright.sync_api import expect

    player = page.locator(".agp-root")
    expect(player).to_have_count(1)
    return player
