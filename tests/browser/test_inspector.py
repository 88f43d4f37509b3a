"""The node inspector in a real browser: hover a node for its tooltip, click it (or Enter on it)
for the panel, Escape to close it; the panel's "at this step" follows the frame on screen.

Opened from a file with the network cut off (the standalone HTML export; the notebook shows the
same page in an iframe), and once in the app. What the panel must say is held against the
recorded pass and against PyTorch (d(x**2)/dx at x = 1.5 is 3).
"""

from __future__ import annotations

import pytest
import torch
from playwright.sync_api import expect

from browser_support import open_player, screenshot, wait_for_app
from explorer.core.calls import run_calls
from explorer.core.forward import forward_view
from explorer.functions.lessons import get_lesson
from explorer.play.frames import build_animation
from explorer.values import format_number

PANEL = ".agp-inspector"
TIP = ".agp-tip"


@pytest.fixture(scope="module")
def exercise():
    """exercise-2, 5·x² + x·y + 2·y³ at x = 1.5, y = -2: every kind of node, and a forward pass."""
    lesson = get_lesson("exercise-2")
    session = run_calls(lesson.fn, lesson.defaults, 1)
    animation = build_animation(session, forward=forward_view(lesson.fn, session.leaves, session.output_name))
    return lesson, session, animation


def node_of(animation, predicate) -> str:
    return next(node_id for node_id, info in animation.inspect.items() if predicate(info))


def pow_of_x(animation) -> str:
    return node_of(animation, lambda i: i["title"] == "PowBackward0 (of x)")


def kind_cases(animation):
    """(node id, texts the panel must show) for one node of each kind."""
    x = torch.tensor(1.5, requires_grad=True)
    (slope,) = torch.autograd.grad(x ** 2, [x])  # PyTorch's own d(x²)/dx at 1.5
    return {
        "leaf": (node_of(animation, lambda i: i["kind"] == "leaf" and i["name"] == "x"),
                 ["A leaf tensor: x", "scalar", "float32", "1.5"]),
        "saved": (node_of(animation, lambda i: i["kind"] == "saved" and "PowBackward0 (of x)" in i["what"]),
                  ["A saved tensor", "first input", "float32", "t1 = x ** 2"]),
        "output": (animation.output, ["The output f", "-7.75", "f = t4 + t6", "1 (the seed)"]),
        "op": (pow_of_x(animation), ["a power", "d(u^2)/du = 2·x", f"2·x = 2·1.5 = {format_number(slope.item())}",
                                     "self = 1.5 (is x)", "exponent: 2", "the power the input was raised to"]),
        "accumulate": (node_of(animation, lambda i: i["title"] == "AccumulateGrad (x)"),
                       ["AccumulateGrad: the last stop for x", "x.grad"]),
    }


@pytest.mark.parametrize("kind", ["leaf", "saved", "output", "op", "accumulate"])
def test_tooltip_and_panel_for_each_kind(offline, tmp_path, exercise, kind):
    lesson, _, animation = exercise
    node_id, texts = kind_cases(animation)[kind]
    page = offline
    open_player(page, tmp_path, animation, lesson.title)
    node = page.locator(f"g.node#{node_id}")
    expect(page.locator(TIP)).to_be_hidden()
    node.hover()
    expect(page.locator(TIP)).to_be_visible()
    expect(page.locator(TIP)).to_have_text(animation.inspect[node_id]["tooltip"])
    expect(node.locator("title")).to_have_count(0)  # one tooltip, ours, not the browser's too
    node.click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-node", node_id)
    expect(panel.locator(".agp-inspector-title")).to_have_text(animation.inspect[node_id]["title"])
    for text in texts:
        expect(panel).to_contain_text(text)


def test_enter_on_a_focused_node_opens_the_panel_and_escape_closes_it(offline, tmp_path, exercise):
    lesson, _, animation = exercise
    page = offline
    open_player(page, tmp_path, animation, lesson.title)
    node_id = pow_of_x(animation)
    node = page.locator(f"g.node#{node_id}")
    expect(node).to_have_attribute("tabindex", "0")
    expect(node).to_have_attribute("aria-label", f"{animation.inspect[node_id]['tooltip']}. Press Enter for details.")
    node.focus()
    expect(page.locator(PANEL)).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.locator(PANEL)).to_have_attribute("data-node", node_id)
    expect(page.locator(PANEL)).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(node).to_be_focused()  # back where the student was
    expect(page.locator(".agp-root")).to_have_attribute("data-step", "0")  # Enter moved nothing


def test_arrived_and_left_follow_the_step_on_screen(offline, tmp_path, exercise):
    lesson, session, animation = exercise
    page = offline
    root = open_player(page, tmp_path, animation, lesson.title)
    node_id = pow_of_x(animation)
    event = next(e for e in session.passes[-1].events if e.node == node_id)
    frame = next(f.index for f in animation.frames if event.step in f.events)
    page.locator(f"g.node#{node_id}").click()
    step = page.locator(f"{PANEL} .agp-inspector-step li")
    expect(step).to_have_text([f"Not reached yet: it runs at step {frame}."])
    root.focus()
    for _ in range(frame):
        page.keyboard.press("ArrowRight")
    expect(root).to_have_attribute("data-step", str(frame))
    arrived, sent = format_number(event.grads_in[0]), format_number(event.grads_out[0].value)
    expect(step).to_have_text(["Running at this step:", f"arrived: {arrived}", f"left: {sent} → AccumulateGrad (x)"])
    assert (arrived, sent) == ("5", "15")  # 5·x² at x = 1.5: 5 arrives, 5 × 2x = 15 leaves
    page.set_viewport_size({"width": 1366, "height": 768})
    expect(page.locator(PANEL)).to_be_visible()
    page.locator(f"g.node#{node_of(animation, lambda i: i['title'] == 'PowBackward0 (of y)')}").hover()
    expect(page.locator(TIP)).to_be_visible()
    page.screenshot(path=str(screenshot(page, "inspector-panel").with_name("inspector-panel-1366.png")))
    page.keyboard.press("ArrowRight")
    expect(step.first).to_have_text(f"Ran at step {frame}:")


def test_the_panel_in_the_app(page, server):
    page.goto(f"{server}/Several_variables")
    wait_for_app(page)
    page.get_by_role("button", name="Call .backward()").click()
    wait_for_app(page)
    player = page.locator(".agp-root")
    expect(player).to_have_count(1)
    leaf = player.locator("g.node.kind-leaf").first
    leaf.hover()
    expect(player.locator(TIP)).to_contain_text("leaf tensor")
    leaf.click()
    panel = player.locator(PANEL)
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("A leaf tensor")
    expect(panel).to_have_attribute("data-kind", "leaf")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
