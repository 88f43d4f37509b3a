"""Lessons 6-10 of the chapter in Chromium: each page opened at its case with one call made (a link
with ops=b), the node or table the lesson is about read off the page, and a screenshot at
1366x768 (test-artifacts/chapter-ID.png) for a person to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser_support import metric, open_lesson, screenshot, the_player

# lesson, case, what the player's graph must hold, a .grad on screen, text of the page's table
PAGES = [
    ("higher-order", "create-graph", ["MulBackward1", "PowBackward0", "MulBackward0"], ("x.grad", "12"), None),
    ("micro-batches", "first-micro-batch", ["DivBackward0", "MeanBackward0"], ("w.grad", "-1.5"), "-15.5"),
    ("gradient-descent", "main", ["PowBackward0", "SubBackward0"], ("w.grad", "-2"), "2.76"),
    ("custom-function", "main", ["CubeBackward", "saved_tensors[0]", "(is x)"], ("x.grad", "[3, 12, 27]"),
     "True"),
    ("tensors", "main", ["AddBackward0", "MmBackward0", "(2, 1)", "(2, 3)"], ("b.grad", "[[21.4], [1.2]]"), None),
]



@pytest.mark.parametrize("lesson_id,case,nodes,grad,table", PAGES, ids=[p[0] for p in PAGES])
def test_the_page_draws_what_its_lesson_is_about(small_page, server, lesson_id, case, nodes, grad, table):
    page = small_page
    query = ("" if case == "main" else f"case={case}&") + "ops=b"
    open_lesson(page, server, lesson_id, query)
    svg = the_player(page).locator(".agp-svg svg")
    expect(svg).to_be_visible()
    text = svg.evaluate("element => element.textContent")
    for name in nodes:
        assert name in text, (lesson_id, name)
    expect(metric(page, grad[0])).to_have_text(grad[1])
    if table is not None:
        expect(page.locator("[data-testid='stTable']").last).to_contain_text(table)
    screenshot(page, f"chapter-{lesson_id}", graph=True)


def test_the_bias_step_says_how_the_gradient_was_summed_back(small_page, server):
    page = small_page
    open_lesson(page, server, "tensors", "ops=b&step=3")  # seed, Sum, Pow, then AddBackward0
    expect(the_player(page)).to_contain_text("summed over dimension 1 from shape (2, 2) to (2, 1)")
    expect(the_player(page)).to_contain_text("13.2 + 8.2 = 21.4")
    screenshot(page, "chapter-tensors-bias-step", graph=True)


def test_the_refused_higher_order_case_shows_pytorchs_words_and_no_graph(small_page, server):
    page = small_page
    open_lesson(page, server, "higher-order", "case=retain-graph", call=True)
    expect(page.locator("[data-testid='stAlert']").first).to_contain_text(
        'PyTorch refused: "element 0 of tensors does not require grad and does not have a grad_fn"')
    expect(page.get_by_text("No graph to draw")).to_be_visible()
    expect(metric(page, "x.grad")).to_have_text("None")
    screenshot(page, "chapter-higher-order-retain-graph")
