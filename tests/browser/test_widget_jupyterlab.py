"""explorer.widget in a real JupyterLab and a real Notebook 7: a server started here on a loopback
port with a token, a notebook in a temporary folder, a kernel in this venv, Chromium through
Playwright. Two clicks on the widget's .backward() are two real calls: x.grad reads 12 in the
kernel and in the picture. Switching to the dark theme redraws the picture dark."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from browser_support import ROOT, free_port, screenshot

CELLS = [
    # x = 3, f = x**2: each .backward() adds 2x = 6 to x.grad
    "import torch, explorer\nx = torch.tensor(3.0, requires_grad=True)\n"
    "w = explorer.widget(lambda x: x ** 2, {'x': x})\nw",
    # PyTorch's own gradient of the same function at the same x, against what the clicks left
    "g, = torch.autograd.grad(x ** 2, x)\nprint(f'kernel x.grad={float(x.grad)} autograd={float(g)}')",
    # The theme the browser reported to the kernel
    "print(f'widget dark={w.dark}')",
]


def _notebook() -> dict:
    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "cells": [{"cell_type": "code", "id": f"cell{i}", "metadata": {}, "execution_count": None,
                       "outputs": [], "source": source} for i, source in enumerate(CELLS)]}


# Each front end: the module that serves it, and where it opens a notebook.
FRONT_ENDS = {"jupyterlab": ("jupyterlab", "lab/tree/widget.ipynb"), "notebook7": ("notebook", "notebooks/widget.ipynb")}


@pytest.fixture(params=FRONT_ENDS)
def jupyterlab(tmp_path, request):
    """JupyterLab (or Notebook 7, the same server and widgets) on 127.0.0.1 with a random token, serving
    only tmp_path, with its own config and runtime folders (no user settings leak in); the venv's
    python3 kernel and labextensions. Gives (front end's name, base URL, token)."""
    module, _ = FRONT_ENDS[request.param]
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "widget.ipynb").write_text(json.dumps(_notebook()), encoding="utf-8")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "IPYTHONDIR": str(tmp_path / "ipython"), "JUPYTER_PLATFORM_DIRS": "1",
           # the kernel imports this checkout's explorer, whichever checkout the venv was installed from
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = open(tmp_path / "jupyterlab.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--no-browser", f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
         "--allow-root", "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("JupyterLab did not start: " + (tmp_path / "jupyterlab.log").read_text()[-2000:])
            time.sleep(0.2)  # polling a server that is starting, not waiting for the page
        yield request.param, base, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _run_cell(page, index: int) -> None:
    """Put the cursor in a cell's editor and run it (Shift+Enter), as a person does."""
    editor = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Shift+Enter")


def _wait_for_an_idle_kernel(base: str, token: str) -> None:
    """The notebook's kernel has started and is idle (the server's sessions API says so): a cell run
    before that was dropped. Polls the server, bounded in time."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=2) as answer:
            sessions = json.load(answer)
        if any(session.get("kernel", {}).get("execution_state") == "idle" for session in sessions):
            return
        time.sleep(0.2)  # polling a kernel that is starting, not waiting for the page
    pytest.fail(f"no idle kernel after 40 s: {sessions}")


def test_two_clicks_on_backward_are_two_real_calls(jupyterlab, page):
    front, base, token = jupyterlab
    page.set_default_timeout(40_000)
    page.goto(f"{base}/{FRONT_ENDS[front][1]}?token={token}")
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(len(CELLS), timeout=40_000)
    _wait_for_an_idle_kernel(base, token)
    _run_cell(page, 0)

    widget = page.locator(".aex-widget")
    status = widget.locator(".aex-status")
    try:
        expect(status).to_have_text("x.grad = None (after 0 backward calls)", timeout=40_000)
    except AssertionError:
        screenshot(page, f"widget-{front}-failed")
        raise AssertionError("no widget; the cell's output: "
                             + page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-Cell-outputWrapper").inner_text())
    expect(widget.locator(".aex-graph svg")).to_be_visible()  # the graph, before any call

    backward = widget.locator("button.aex-backward")
    expect(backward).to_have_text("Call .backward()")
    backward.click()
    backward.click()
    expect(status).to_have_text("x.grad = 12 (after 2 backward calls)")
    expect(widget.locator(".aex-queued")).to_be_hidden()

    # The picture: the player of the second call; at its end the .grad strip reads 6, then 12
    # (the chip of the call on screen fills in as the animation reaches x's AccumulateGrad).
    expect(widget.locator(".agp-root")).to_be_visible()
    widget.locator('.agp-root button[data-act="last"]').click()
    chips = widget.locator(".agp-strip .agp-chips li .agp-value")
    expect(chips).to_have_text(["6", "12"])
    screenshot(page, f"widget-{front}")

    # The kernel: x.grad itself, beside torch.autograd.grad's 6 for one call.
    _run_cell(page, 1)
    output = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output")
    expect(output).to_contain_text("kernel x.grad=12.0 autograd=6.0")

    # The dark theme: the widget tells the kernel, which draws the picture dark.
    player = widget.locator(".agp-root")
    expect(player).not_to_have_class(re.compile(r"\bagp-dark\b"))
    # The theme as a user picks it: the command palette (Ctrl+Shift+C), "Use Theme: JupyterLab Dark".
    page.locator(".jp-Notebook").click(position={"x": 5, "y": 5})  # command mode: the keys are JupyterLab's
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    palette.fill("JupyterLab Dark")
    page.locator(".lm-CommandPalette-item", has_text="JupyterLab Dark").first.click()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    expect(player).to_have_class(re.compile(r"\bagp-dark\b"))
    expect(player.locator(".agp-strip .agp-chips li .agp-value")).to_have_text(["6", "12"])  # the same calls
    expect(page.locator("#jupyterlab-splash")).to_have_count(0)  # JupyterLab's own fade between themes
    screenshot(page, f"widget-{front}-dark")
    _run_cell(page, 2)
    expect(page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-OutputArea-output")).to_contain_text(
        "widget dark=True")
