"""Lessons 1-5 of the chapter in Chromium: each page opened at the case its point is in, the node or
edge the lesson is about read off the player's SVG (the AccumulateGrad a leaf used twice gets, the
seed v on the output's edge, the branch that is missing, the edge a hook changed, the node whose
saved tensor changed in place), and a screenshot at 1366x768 (test-artifacts/chapter-ID.png)."""

from __future__ import annotations

import html
import re

import pytest
import torch
from playwright.sync_api import expect

from browser_support import metric, open_lesson, screenshot, the_player
from svg_geometry import pointed_at



def _svg(page):
    svg = the_player(page).locator(".agp-svg svg")
    expect(svg).to_be_visible()
    return svg


def _node_names(svg, kind: str) -> list[str]:
    """The first line of every drawn node of a kind (kind-op, kind-accumulate, kind-leaf, ...)."""
    return svg.evaluate("(svg, kind) => [...svg.querySelectorAll(`g.node.${kind}`)]"
                        ".map(g => g.querySelector('text').textContent)", f"kind-{kind}")


def test_a_leaf_used_twice_has_one_accumulategrad(small_page, server):
    page = small_page
    open_lesson(page, server, "leaf-twice", "ops=b")
    svg = _svg(page)
    assert _node_names(svg, "accumulate") == ["AccumulateGrad"]
    assert _node_names(svg, "leaf") == ["x"]
    # x * x and + x both reach x: the engine sums what the two paths send, and AccumulateGrad runs once.
    x = torch.tensor(3.0, requires_grad=True)
    (grad,) = torch.autograd.grad(x * x + x, x)
    expect(metric(page, "x.grad")).to_have_text(f"{grad.item():g}")
    screenshot(page, "chapter-leaf-twice", graph=True)


def test_the_seed_v_is_on_the_outputs_edge(small_page, server):
    page = small_page
    open_lesson(page, server, "vector-jacobian", "case=weighted&ops=b&step=0")
    svg = _svg(page)
    seed_edge = svg.locator("g.edge.edge-output text")
    expect(seed_edge).to_have_text("[1, 0.1, 0.01]")
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (grad,) = torch.autograd.grad(x * x, x, grad_outputs=torch.tensor([1.0, 0.1, 0.01]))
    expect(metric(page, "x.grad")).to_have_text("[" + ", ".join(f"{v:.4g}" for v in grad.tolist()) + "]")
    screenshot(page, "chapter-vector-jacobian", graph=True)


@pytest.mark.parametrize("case", ["main", "no-grad", "frozen"])
def test_the_stopped_branch_is_missing_from_the_graph(small_page, server, case):
    page = small_page
    open_lesson(page, server, "stop-gradient", ("" if case == "main" else f"case={case}&") + "ops=b")
    svg = _svg(page)
    assert _node_names(svg, "leaf") == ["x"]  # y's branch is not in the graph at all
    expect(page.get_by_text("is not in the graph")).to_be_visible()
    expect(metric(page, "y.grad")).to_have_text("None")
    screenshot(page, f"chapter-stop-gradient-{case}", graph=True)


def test_the_edge_a_hook_changed_says_so(small_page, server):
    page = small_page
    open_lesson(page, server, "non-leaf-grad", "case=hook-times-10&ops=b")
    svg = _svg(page)
    hooked = svg.locator("g.edge.edge-hooked")
    expect(hooked).to_have_count(1)
    # What PowBackward0 sends towards h is df/dh = 2h = 12; the hook returns ten times it.
    x = torch.tensor(3.0, requires_grad=True)
    h = 2 * x
    (sent,) = torch.autograd.grad(h ** 2, h)
    page.keyboard.press("End")  # every edge has carried its gradient: each shows its text
    expect(hooked.locator("text")).to_have_text(f"{sent.item():g} → hook → {10 * sent.item():g}")
    # Its arrowhead is at MulBackward0, the node that made h: where the hook's gradient arrived.
    edge_id = hooked.get_attribute("id")
    receiver = pointed_at(svg.evaluate("element => element.outerHTML"))[edge_id]
    assert svg.locator(f"g#{receiver} text").first.text_content() == "MulBackward0"
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")  # from the seed to PowBackward0, which sends along the hooked edge
    expect(the_player(page)).to_contain_text("a hook on the tensor between replaced it")
    expect(metric(page, "x.grad")).to_have_text(f"{10 * sent.item() * 2:g}")
    screenshot(page, "chapter-non-leaf-grad-hook", graph=True)


def test_the_node_whose_saved_tensor_changed_is_marked(small_page, server):
    page = small_page
    open_lesson(page, server, "in-place", "case=mul-in-place", call=True)
    expect(page.locator("[data-testid='stAlert']").first).to_contain_text("modified by an inplace operation")
    # Before any pass ran the page shows the graph as an image: read the SVG it was made from.
    image = page.locator("[data-testid='stImage'] img").first
    expect(image).to_be_visible()
    drawn = page.evaluate("src => fetch(src).then(answer => answer.text())", image.get_attribute("src"))
    marked = re.findall(r'<g id="(n\d+)" class="node kind&#45;op marked">(.*?)</g>', drawn, re.S)
    assert len(marked) == 1, drawn
    texts = [html.unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", marked[0][1])]
    x = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
    y = x.sigmoid()
    saved = y._version
    y.mul_(2)
    assert texts[0] == "SigmoidBackward0"
    assert f"saved at version {saved}, now {y._version}" in texts
    expect(metric(page, "x.grad")).to_have_text("None")
    screenshot(page, "chapter-in-place-marked", graph=True)
