"""In the app, on every lesson, in lecturer mode on a 1920x1080 projector (one page load per lesson
serves both checks): each arrow of the player's graph points where the gradient goes (its arrowhead
touches the node that receives the gradient, read from the SVG on the page; the look changes sizes
and colours, never which way an edge runs), and no node label is under 24 px high."""

from __future__ import annotations

import re

import pytest
import torch
from playwright.sync_api import expect

from browser_support import lesson_url, new_page, screenshot, settled, the_player, wait_for_app
from explorer.core.backward import record_backward
from explorer.core.graph import SAVED_EDGE
from explorer.functions.lessons import all_lessons
from svg_geometry import pointed_at

# The smallest height on screen of a node label of the player's graph (the root is passed in).
SMALLEST_LABEL = """root => Math.min(...[...root.querySelectorAll('.agp-svg g.node text')]
    .map(t => t.getBoundingClientRect().height).filter(h => h > 0))"""


@pytest.mark.parametrize("lesson", all_lessons(), ids=lambda lesson: lesson.id)
def test_arrows_point_where_the_gradient_goes_and_lecturer_labels_stay_24px_high(browser, server, lesson):
    page = new_page(browser, viewport=(1920, 1080))
    page.goto(lesson_url(server, lesson, "ops=b&present=1"))
    wait_for_app(page)
    player = the_player(page)
    expect(player).to_have_class(re.compile(r"agp-presentation"))
    svg = player.locator(".agp-svg svg")
    expect(svg).to_be_visible()
    pointed = pointed_at(svg.evaluate("element => element.outerHTML"))
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in lesson.defaults.items()}
    graph = record_backward(lesson.fn(**leaves), leaves).graph  # ids are stable: the same graph as the page's
    assert set(pointed) == {f"e{index}" for index in range(len(graph.edges))}  # a lesson's graph is small: nothing folded
    for index, edge in enumerate(graph.edges):
        assert pointed[f"e{index}"] == (None if edge.kind == SAVED_EDGE else edge.src), (lesson.id, edge)
    settled(page)
    smallest = page.evaluate(SMALLEST_LABEL, player.element_handle())
    print(f"{lesson.id}: smallest lecturer label {smallest:.1f}px")
    screenshot(page, f"keys-lecturer-1920-{lesson.id}")
    assert smallest >= 24
    page.context.close()
