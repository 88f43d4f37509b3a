"""The playground in a real browser: type a function, share its link, open it in a new browser."""

import re

import torch
from playwright.sync_api import expect

from browser_support import metric, new_page, screenshot, the_player, wait_for_app
from explorer.values import format_number


def autograd_grads(calls=1):
    """PyTorch's own gradients of tanh(w*x + b) at w = 0.5, x = 2, b = -1, summed over `calls` backward calls."""
    w, x, b = (torch.tensor(v, requires_grad=True) for v in (0.5, 2.0, -1.0))
    for _ in range(calls):
        torch.tanh(w * x + b).backward()
    return {name: format_number(leaf.grad.item()) for name, leaf in zip("wxb", (w, x, b))}


def test_typed_function_and_its_shared_link(browser, server):
    page = new_page(browser)
    page.goto(f"{server}/Playground")
    wait_for_app(page)
    box = page.get_by_label("f =")
    box.fill("tanh(w*x + b)")
    box.press("Enter")
    wait_for_app(page)
    for name, value in (("w", "0.5"), ("x", "2"), ("b", "-1")):
        field = page.get_by_label(f"{name} =")
        field.fill(value)
        field.press("Enter")
        wait_for_app(page)
    page.get_by_role("button", name="Call .backward()").click()
    expected = autograd_grads()
    expect(metric(page, "w.grad")).to_have_text(expected["w"])
    # The browser's address follows the app's query parameters a moment after the run; wait for the call to be in it.
    expect(page).to_have_url(re.compile(r"ops=b(&|$)"))
    shared_link = page.url
    assert "expr=" in shared_link and "w=0.5" in shared_link
    screenshot(page, "playground-tanh")
    page.context.close()

    page = new_page(browser)
    page.goto(shared_link)
    wait_for_app(page)
    # Waiting assertions: the boxes are filled from the link by the run, and read as soon as they exist.
    expect(page.get_by_label("f =")).to_have_value("tanh(w*x + b)")
    expect(page.get_by_label("x =")).to_have_value("2")
    # A new browser is a new session: the link replays the one call it records, in that session's own tensors.
    for name in "wxb":
        expect(metric(page, f"{name}.grad")).to_have_text(expected[name])
    page.get_by_role("button", name="Call .backward()").click()
    twice = autograd_grads(calls=2)
    for name in "wxb":
        expect(metric(page, f"{name}.grad")).to_have_text(twice[name])
    expect(page).to_have_url(re.compile(r"ops=bb(&|$)"))
    page.context.close()


def test_hostile_text_gets_a_message(page, server):
    page.goto(f"{server}/Playground")
    wait_for_app(page)
    box = page.get_by_label("f =")
    box.fill("__import__('os').system('touch /tmp/owned')")
    box.press("Enter")
    wait_for_app(page)
    error = page.locator("[data-testid='stAlertContentError']").first
    expect(error).to_contain_text("not one of them")
    expect(error).to_contain_text("__import__")  # read as typed, not as Markdown's bold
    box.fill("x**2 + *y")
    box.press("Enter")
    wait_for_app(page)
    error = page.locator("[data-testid='stAlertContentError']").first
    expect(error).to_contain_text("x**2 + *y")  # the quoted expression, with no escaping backslash
    expect(error).not_to_contain_text("\\")


def test_an_infinite_gradient_plays(page, server):
    """d sqrt(x)/dx at 0 is inf in PyTorch: the player must draw it, not fail to read its data."""
    x = torch.tensor(0.0, requires_grad=True)
    torch.sqrt(x).backward()
    page.goto(f"{server}/Playground?expr=sqrt(x)&x=0&ops=b")
    wait_for_app(page)
    expect(metric(page, "x.grad")).to_have_text(format_number(x.grad.item()))
    player = the_player(page)
    player.focus()
    page.keyboard.press("End")
    expect(player.locator(".agp-svg")).to_contain_text("grad = inf")
    # The page's warning (the player carries the same note: two elements say "not finite").
    expect(page.locator("[data-testid='stAlert']", has_text="not finite")).to_be_visible()
