"""The app in a real browser: deep links as the first request, and a page a person would see."""

import html

from playwright.sync_api import expect

from browser_support import screenshot, wait_for_app


def metric(page, label):
    """The value element of a metric; expect(...) on it retries until the rerun has landed."""
    return page.locator("[data-testid='stMetric']", has_text=label).first.locator("[data-testid='stMetricValue']")


def test_deep_link_is_the_first_request_to_a_fresh_server(page, fresh_server):
    page.goto(f"{fresh_server}/Several_variables?x=5&y=2")
    wait_for_app(page)
    assert page.get_by_role("heading", name="Several inputs, one backward pass").is_visible()
    assert page.get_by_label("x =").input_value() == "5"
    # the sidebar lists every page of the lesson
    nav = page.locator("[data-testid='stSidebarNav']").inner_text()
    for name in ("Gradients", "Several variables", "Accumulation", "Checking by hand", "Exercises"):
        assert name in nav
    page.get_by_role("button", name="Call .backward()").click()
    wait_for_app(page)
    expect(metric(page, "x.grad")).to_have_text("10")
    expect(metric(page, "y.grad")).to_have_text("12")
    screenshot(page, "deep-link-several-variables")


def test_accumulation_page_in_the_browser(page, server):
    page.goto(f"{server}/Accumulation")
    wait_for_app(page)
    for expected in ("-2", "-4", "-6"):
        page.get_by_role("button", name="Call .backward()").click()
        expect(metric(page, "w.grad")).to_have_text(expected)
    wait_for_app(page)
    svg_text = html.unescape(page.locator(".autograd-graph svg").first.inner_html())
    assert "grad = -6" in svg_text
    screenshot(page, "accumulation-after-three-calls")
