"""A program typed into the playground's text area, in a real browser: the text area submits
(Ctrl+Enter, as Streamlit's text areas do), the call gives autograd's gradient, and the player's
forward pass reads one line per line typed."""

import torch
import torch.nn.functional as F
from playwright.sync_api import expect

from browser_support import metric, new_page, screenshot, the_player, wait_for_app
from explorer.values import format_number

PROGRAM = "h = tanh(w * x + b)\nfor i in range(2):\n    h = h * x\nf = mse_loss(h, 0.5)"


def test_a_program_in_the_text_area(browser, server):
    page = new_page(browser)
    page.goto(f"{server}/Playground")
    wait_for_app(page)
    page.get_by_text("A short program").click()
    wait_for_app(page)
    area = page.get_by_role("textbox", name="Program")
    area.fill(PROGRAM)
    area.press("Control+Enter")
    wait_for_app(page)
    for name, value in (("w", "0.5"), ("x", "2"), ("b", "-1")):
        field = page.get_by_label(f"{name} =")
        field.fill(value)
        field.press("Enter")
        wait_for_app(page)
    page.get_by_role("button", name="Call .backward()").click()
    w, x, b = (torch.tensor(v, requires_grad=True) for v in (0.5, 2.0, -1.0))
    h = torch.tanh(w * x + b)
    for _ in range(2):
        h = h * x
    grads = torch.autograd.grad(F.mse_loss(h, torch.tensor(0.5)), [w, x, b])
    for name, grad in zip("wxb", grads):
        expect(metric(page, f"{name}.grad")).to_have_text(format_number(grad.item()))
    lines = the_player(page).locator(".agp-forward-steps li code")
    expect(lines).to_have_text(["h = tanh(w * x + b)", "for i in range(2):", "h = h * x", "f = mse_loss(h, 0.5)"])
    screenshot(page, "playground-program")
    page.context.close()
