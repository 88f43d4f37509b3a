"""The player's keys on a whole page, its framing (hidden mount, full screen, lecturer mode) and a
new call's animation playing once by itself: in the app and in the standalone page."""

import re

import pytest
from playwright.sync_api import expect

from browser_support import ALL_NODES_INSIDE, lesson_url as lesson_page_url, new_page, open_player, screenshot, settled, wait_for_app
from explorer.functions.lessons import get_lesson

def lesson_url(server, lesson_id, query=""):
    """The lesson's page, predict first off (browser_support.lesson_url)."""
    return lesson_page_url(server, get_lesson(lesson_id), query)


def the_player(page):
    """The page's one player, given the time a loaded machine takes to build it after the run."""
    player = page.locator(".agp-root")
    expect(player).to_have_count(1, timeout=30_000)
    return player


# The smallest height on screen of a node label of the player's graph (the root is passed in).
SMALLEST_LABEL = """root => Math.min(...[...root.querySelectorAll('.agp-svg g.node text')]
    .map(t => t.getBoundingClientRect().height).filter(h => h > 0))"""



def call_backward(page):
    page.get_by_role("button", name="Call .backward()").click()
    wait_for_app(page)
    return the_player(page)


def test_space_after_a_call_steps_the_player_and_calls_nothing_again(page, server):
    page.goto(lesson_url(server, "accumulation"))
    wait_for_app(page)
    player = call_backward(page)
    expect(page).to_have_url(re.compile(r"ops=b(&|$)"))
    expect(player).to_have_attribute("data-step", "0")
    # The click left the focus on Streamlit's button: Space used to press it again.
    assert page.evaluate("() => document.activeElement.textContent") == "Call .backward()"
    page.keyboard.press("Space")
    expect(player).to_have_class(re.compile(r"\bplaying\b"))
    page.keyboard.press("ArrowRight")  # a step pauses, and the step report reruns the page
    expect(player).not_to_have_class(re.compile(r"\bplaying\b"))
    wait_for_app(page)
    expect(page).to_have_url(re.compile(r"step=\d"))
    assert re.search(r"ops=b(&|$)", page.url), page.url  # still one call
    expect(page.locator(".agp-strip .agp-chip")).to_have_count(1)
    page.keyboard.press("Home")
    expect(player).to_have_attribute("data-step", "0")


def test_space_after_the_lecturer_toggle_steps_the_player_and_keeps_lecturer_mode(page, server):
    page.goto(lesson_url(server, "accumulation", "ops=b"))
    wait_for_app(page)
    page.locator("label", has_text="Lecturer mode").click()
    wait_for_app(page)
    expect(page).to_have_url(re.compile(r"present=1"))
    player = the_player(page)
    expect(player).to_have_class(re.compile(r"agp-presentation"))
    page.keyboard.press("ArrowRight")
    expect(player).to_have_attribute("data-step", "1")
    page.keyboard.press("Space")
    expect(player).to_have_class(re.compile(r"\bplaying\b"))
    page.keyboard.press("Space")
    expect(player).not_to_have_class(re.compile(r"\bplaying\b"))
    wait_for_app(page)
    expect(page).to_have_url(re.compile(r"present=1"))
    expect(the_player(page)).to_have_class(re.compile(r"agp-presentation"))


def test_question_mark_lists_the_keys_and_escape_closes_the_list(page, server):
    page.goto(lesson_url(server, "accumulation", "ops=b"))
    wait_for_app(page)
    player = the_player(page)
    help_list = player.locator(".agp-help")
    expect(help_list).to_be_hidden()
    page.keyboard.press("?")
    expect(help_list).to_be_visible()
    expect(help_list).to_contain_text("Space")
    page.keyboard.press("Escape")
    expect(help_list).to_be_hidden()
    player.get_by_role("button", name="Keyboard shortcuts").click()
    expect(help_list).to_be_visible()


def test_typing_in_a_field_is_not_taken_by_the_player(page, server):
    page.goto(lesson_url(server, "accumulation", "ops=b"))
    wait_for_app(page)
    player = the_player(page)
    box = page.get_by_label("w =", exact=True)
    box.click()
    page.keyboard.press("End")
    page.keyboard.type(" 1")
    expect(box).to_have_value(re.compile(r" 1$"))
    expect(player).to_have_attribute("data-step", "0")


def test_a_player_mounted_on_a_hidden_tab_is_fitted_when_shown(page, server):
    page.goto(lesson_url(server, "several-variables"))
    wait_for_app(page)
    call_backward(page)  # the tabs as they are after a call: a rerun keeps the one picked
    page.get_by_role("tab", name="Engine order").click()
    page.get_by_role("button", name="Call .backward()").click()
    wait_for_app(page)
    expect(page.locator(".agp-strip .agp-row").first.locator(".agp-chip")).to_have_count(2)  # the second call's, hidden
    expect(page.get_by_role("tab", name="Engine order")).to_have_attribute("aria-selected", "true")
    page.get_by_role("tab", name="Autograd graph").click()
    player = the_player(page)
    expect(player).to_be_visible()
    page.wait_for_function(ALL_NODES_INSIDE, arg=player.element_handle())
    screenshot(page, "keys-fitted-after-hidden-mount")


@pytest.mark.parametrize("lecturer", [False, True], ids=["normal", "lecturer"])
def test_full_screen_gives_the_graph_the_screen_and_never_smaller_labels(browser, server, lecturer):
    page = new_page(browser, viewport=(1920, 1080))
    page.goto(lesson_url(server, "accumulation", "ops=b" + ("&present=1" if lecturer else "")))
    wait_for_app(page)
    player = the_player(page)
    settled(page)
    handle = player.element_handle()
    before = page.evaluate(SMALLEST_LABEL, handle)
    player.get_by_role("button", name="Full screen").click()
    page.wait_for_function("root => root.matches(':fullscreen')", arg=handle)
    page.wait_for_function(f"root => ({SMALLEST_LABEL})(root) >= {before} - 0.01"
                           " && root.querySelector('.agp-stage').getBoundingClientRect().height >= 0.75 * innerHeight",
                           arg=handle)
    after = page.evaluate(SMALLEST_LABEL, handle)
    strip = page.evaluate("root => root.querySelector('.agp-strip').getBoundingClientRect().bottom", handle)
    print(f"full screen labels ({'lecturer' if lecturer else 'normal'}): {before:.1f}px -> {after:.1f}px")
    screenshot(page, f"keys-fullscreen-{'lecturer' if lecturer else 'normal'}")
    assert after >= before - 0.01
    assert strip > 0
    page.context.close()


def test_a_new_call_plays_once_by_itself_and_its_strip_chip_fills_in(browser, server):
    page = new_page(browser, autoplay=True)
    page.goto(lesson_url(server, "accumulation"))
    wait_for_app(page)
    player = call_backward(page)
    expect(player).to_have_class(re.compile(r"\bplaying\b"))
    count = player.locator(".agp-count")
    expect(count).to_have_text("end", timeout=30_000)
    expect(player).not_to_have_class(re.compile(r"\bplaying\b"))
    current = player.locator(".agp-strip .agp-chip.current .agp-value")
    expect(current).not_to_have_text("…")
    wait_for_app(page)  # the end is reported: the rerun keeps this player at its end
    expect(count).to_have_text("end")
    page.context.close()


def test_no_autoplay_with_reduced_motion_or_with_autoplay_switched_off(browser, server):
    page = new_page(browser, autoplay=True, reduced_motion="reduce")
    page.goto(lesson_url(server, "accumulation"))
    wait_for_app(page)
    player = call_backward(page)
    expect(player.locator(".agp-count")).to_have_text("start")
    expect(player).not_to_have_class(re.compile(r"\bplaying\b"))  # play() would have started at mount
    page.context.close()

    page = new_page(browser, autoplay=True)
    page.goto(lesson_url(server, "accumulation"))
    wait_for_app(page)
    player = call_backward(page)
    player.get_by_label("Autoplay").uncheck()
    page.keyboard.press("Home")  # stops the playback and reports the step: a rerun
    wait_for_app(page)
    page.get_by_role("button", name="Call .backward()").click()
    wait_for_app(page)
    expect(page.locator(".agp-strip .agp-chip")).to_have_count(2)
    player = the_player(page)
    expect(player.get_by_label("Autoplay")).not_to_be_checked()  # remembered
    expect(player.locator(".agp-count")).to_have_text("start")
    expect(player).not_to_have_class(re.compile(r"\bplaying\b"))
    page.context.close()


def test_a_link_with_a_step_opens_at_that_step_and_does_not_play(browser, server):
    page = new_page(browser, autoplay=True)
    page.goto(lesson_url(server, "accumulation", "ops=b&step=2"))
    wait_for_app(page)
    player = the_player(page)
    expect(player).to_have_attribute("data-step", "2")
    expect(player).not_to_have_class(re.compile(r"\bplaying\b"))
    page.context.close()


def test_the_standalone_page_takes_the_keys_without_a_click(page, tmp_path):
    from explorer.core.calls import run_calls
    from explorer.play.frames import build_animation

    lesson = get_lesson("accumulation")
    root = open_player(page, tmp_path, build_animation(run_calls(lesson.fn, lesson.defaults, 1)), lesson.title)
    page.keyboard.press("ArrowRight")
    expect(root).to_have_attribute("data-step", "1")
    page.keyboard.press("?")
    expect(root.locator(".agp-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(root.locator(".agp-help")).to_be_hidden()
    page.keyboard.press("End")
    expect(root.locator(".agp-count")).to_have_text("end")


@pytest.mark.parametrize("width,height", [(1366, 768), (1920, 1080), (1024, 768)])
@pytest.mark.parametrize("lecturer", [False, True], ids=["normal", "lecturer"])
def test_screenshots_and_caption_beside_graph(browser, server, width, height, lecturer):
    page = new_page(browser, viewport=(width, height))
    page.goto(lesson_url(server, "exercise-2", "ops=b&step=2" + ("&present=1" if lecturer else "")))
    wait_for_app(page)
    player = the_player(page)
    expect(player).to_have_attribute("data-step", "2")
    player.locator(".agp-caption").evaluate("e => e.scrollIntoView({block: 'start'})")
    settled(page)
    caption = player.locator(".agp-caption").bounding_box()
    stage = player.locator(".agp-stage").bounding_box()
    name = f"keys-{width}x{height}-{'lecturer' if lecturer else 'normal'}"
    page.screenshot(path=str(screenshot(page, name).with_name(f"{name}-viewport.png")))
    if (width, height) == (1024, 768):
        # The caption and the graph on one screen: the caption at the top, the whole stage below it.
        assert caption["y"] >= -1 and caption["y"] + caption["height"] <= stage["y"], (caption, stage)
        assert stage["y"] + stage["height"] <= height + 1, (caption, stage)
    page.context.close()
