"""A lesson folder passed to the app, in a real browser: `python -m explorer app --lessons DIR` (what
`make run LESSONS=DIR` runs) on a fresh server, a lesson file's page as the very first request, its
heading in the sidebar, a real .backward() with PyTorch's numbers, the player and its node panel."""

from __future__ import annotations

import subprocess
import sys

import torch
from playwright.sync_api import expect

from browser_support import ROOT, free_port, metric, new_page, screenshot, the_player, wait_for_app, wait_until_serving
from explorer.functions.lesson_files import OWN_LESSONS_HEADING
from explorer.values import format_number

EXAMPLES = ROOT / "examples" / "lessons"


def test_a_lesson_folder_passed_to_the_app(browser):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "explorer", "app", "--port", str(port), "--lessons", str(EXAMPLES), "--",
         "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    page = None
    try:
        wait_until_serving(process, port)
        page = new_page(browser)
        page.goto(f"http://127.0.0.1:{port}/neuron?predict=0&w=1")  # a deep link, the server's first request
        wait_for_app(page)
        expect(page.get_by_role("heading", name="One neuron: tanh(w * x + b)")).to_be_visible()
        expect(page.get_by_label("w =")).to_have_value("1")
        nav = page.locator("[data-testid='stSidebarNav']")
        # The whole list is shown (st.navigation expanded): no "View N more" hides the folder's lessons.
        expect(nav.get_by_role("button", name="View")).to_have_count(0)
        expect(nav).to_contain_text(OWN_LESSONS_HEADING)
        expect(nav.get_by_role("link", name="Three steps of a loss, cleared between them")).to_be_visible()

        page.get_by_role("button", name="Call .backward()").click()
        w, x, b = (torch.tensor(value, requires_grad=True) for value in (1.0, 2.0, -0.5))
        grads = torch.autograd.grad(torch.tanh(w * x + b), [w, x, b])
        for name, grad in zip("wxb", grads):
            expect(metric(page, f"{name}.grad")).to_have_text(format_number(grad.item()))
        wait_for_app(page)
        player = the_player(page)
        node = player.locator("g.node.kind-op", has_text="TanhBackward0")
        node.click()
        panel = player.locator(".agp-inspector")
        expect(panel).to_be_visible()
        expect(panel).to_contain_text("TanhBackward0")
        page.keyboard.press("Escape")
        screenshot(page, "lesson-file-neuron")

        nav.get_by_role("link", name="Three steps of a loss, cleared between them").click()
        wait_for_app(page)
        expect(page.get_by_role("heading", name="Three steps of a loss, cleared between them")).to_be_visible()
        v = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
        (grad,) = torch.autograd.grad(((v - torch.tensor([1.0, -1.0, 0.5])) ** 2).sum(), [v])
        expect(metric(page, "v.grad")).to_have_text(format_number(grad.tolist()))  # CALLS = 3, cleared between
    finally:
        if page is not None:
            page.context.close()
        process.terminate()
        process.wait(timeout=20)
