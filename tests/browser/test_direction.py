"""In the app, on every lesson, each arrow of the player's graph points where the gradient goes:
its arrowhead touches the node that receives the gradient (read from the SVG on the page)."""

from __future__ import annotations

import pytest
import torch
from playwright.sync_api import expect

from browser_support import lesson_url, the_player, wait_for_app
from explorer.core.backward import record_backward
from explorer.core.graph import SAVED_EDGE
from explorer.functions.lessons import all_lessons
from svg_geometry import pointed_at


@pytest.mark.parametrize("lesson", all_lessons(), ids=lambda lesson: lesson.id)
def test_every_arrow_on_the_page_points_where_the_gradient_goes(page, server, lesson):
    page.goto(lesson_url(server, lesson, "ops=b"))
    wait_for_app(page)
    svg = the_player(page).locator(".agp-svg svg")
    expect(svg).to_be_visible()
    pointed = pointed_at(svg.evaluate("element => element.outerHTML"))
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in lesson.defaults.items()}
    graph = record_backward(lesson.fn(**leaves), leaves).graph  # ids are stable: the same graph as the page's
    assert set(pointed) == {f"e{index}" for index in range(len(graph.edges))}  # a lesson's graph is small: nothing folded
    for index, edge in enumerate(graph.edges):
        assert pointed[f"e{index}"] == (None if edge.kind == SAVED_EDGE else edge.src), (lesson.id, edge)
