"""Lecturer mode, deep links and predict-then-reveal in a real browser, with screenshots."""

import re

import torch
from playwright.sync_api import expect

from browser_support import ARTIFACTS, metric, new_page, open_lesson, screenshot, the_player, wait_for_app
from explorer.functions.lessons import get_lesson
from explorer.ui.navigation import TITLES
from explorer.values import format_number




def autograd(lesson_id, **values):
    lesson = get_lesson(lesson_id)
    leaves = {name: torch.tensor(v, requires_grad=True) for name, v in values.items()}
    grads = torch.autograd.grad(lesson.fn(**leaves), list(leaves.values()))
    return {name: g.item() for name, g in zip(leaves, grads)}


def test_wrong_then_right_guess_on_an_exercise(page, server):
    page.goto(f"{server}/Exercises?lesson=exercise-2")
    wait_for_app(page)
    expect(page.get_by_text("The gradients stay hidden")).to_be_visible()
    truth = autograd("exercise-2", x=1.5, y=-2.0)
    guess_x, guess_y = page.get_by_label("x.grad ="), page.get_by_label("y.grad =")
    guess_x.fill("15")  # forgets the x*y term
    guess_x.press("Enter")
    guess_y.fill(format_number(truth["y"]))
    guess_y.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Check my prediction").click()
    expect(page.get_by_text("leaves out").first).to_be_visible()
    expect(metric(page, "x.grad")).to_have_text(format_number(truth["x"]))
    screenshot(page, "predict-wrong")
    guess_x.fill(format_number(truth["x"]))
    guess_x.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Check my prediction").click()
    expect(page.get_by_text("Score this session: 1 of 2")).to_be_visible()
    screenshot(page, "predict-right")


def test_lecturer_mode_hides_the_sidebar_and_enlarges_type(page, server):
    page.goto(f"{server}/Gradients?present=1")
    wait_for_app(page)
    expect(page.locator("[data-testid='stSidebar']")).to_be_hidden()
    size = page.eval_on_selector("html", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 20
    page.get_by_role("button", name="Call .backward()").click()
    expect(page.locator(".agp-root")).to_be_visible()
    screenshot(page, "lecturer-mode")


def test_lecturer_mode_follows_the_home_pages_links(page, server):
    page.goto(server)
    wait_for_app(page)
    page.locator("label", has_text="Lecturer mode").click()
    wait_for_app(page)
    expect(page.locator("[data-testid='stSidebar']")).to_be_hidden()
    page.get_by_role("link", name="Accumulation").first.click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name=TITLES["accumulation"])).to_be_visible()
    expect(page.locator("[data-testid='stSidebar']")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/Accumulation\?.*present=1"))
    assert page.eval_on_selector("html", "e => parseFloat(getComputedStyle(e).fontSize)") >= 20
    page.get_by_role("button", name="Call .backward()").click()
    wait_for_app(page)
    expect(page).to_have_url(re.compile(r"ops=b"))
    # Opening the page was one step of the browser's history; the call replaced that step's address
    # (every change of the URL used to be a step of its own), so one press of Back leaves the page.
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"/Accumulation"))
    expect(page.get_by_role("link", name=re.compile("Several variables"))).to_be_visible()


def test_lecturer_mode_on_a_projector_cuts_no_label(page, server):
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{server}/Gradients?present=1&ops=b")
    wait_for_app(page)
    expect(page.locator(".agp-root")).to_be_visible()
    cut = page.eval_on_selector_all(
        "[data-testid^=stBaseButton] .stMarkdownEllipsis, [data-testid=stCheckbox] .stMarkdownEllipsis",
        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")
    assert cut == []  # "Backward again, same…" and "retain_graph=True (keep the saved values for anot…" were


# The top of the player's graph lies in the upper half of the window (what a lecturer's room sees).
GRAPH_IN_VIEW = """root => {
    const box = root.querySelector('.agp-stage').getBoundingClientRect();
    return box.top >= 0 && box.top < innerHeight / 2 && box.bottom > box.top + 100;
}"""


def test_in_lecturer_mode_a_call_brings_its_graph_into_view(browser, server):
    """At 1920x1080 the lesson's text, code and buttons fill the first screen: the animation a click
    starts must not play below the fold."""
    page = new_page(browser, viewport=(1920, 1080))
    open_lesson(page, server, "non-leaf-grad", "present=1")
    button = page.get_by_role("button", name="Call .backward()")
    button.scroll_into_view_if_needed()
    before = page.locator("[data-testid='stImage']").first.bounding_box()  # the graph before any call
    assert before["y"] > 1080 / 2, before  # below the middle of the screen, or further down
    button.click()
    player = the_player(page)
    page.wait_for_function(GRAPH_IN_VIEW, arg=player.element_handle())
    wait_for_app(page)
    expect(metric(page, "x.grad")).to_have_text(format_number(autograd("non-leaf-grad", x=3.0)["x"]))
    page.wait_for_function(GRAPH_IN_VIEW, arg=the_player(page).element_handle())  # the finished rerun leaves it there
    page.screenshot(path=str(ARTIFACTS / "lecturer-1920-after-a-call.png"))
    page.context.close()
