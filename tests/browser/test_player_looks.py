"""The player's looks (lecturer mode, the dark theme), deep links and the linked forward view,
in the standalone page opened from a file in Debian's Chromium.

Sizes and colours are read from what the browser really shows (the SVG's attributes, computed
styles) and held against legend.py's palettes; contrast is WCAG's formula, computed here.
The node a forward line links to is held against the graph capture() recorded.
"""

from __future__ import annotations

import json
import re

import pytest
import torch

from explorer.core.calls import run_calls
from explorer.core.forward import forward_view
from explorer.play.frames import build_animation
from explorer.core.graph import INPUT
from explorer.drawing.legend import DARK, GRADIENT_LABEL, PRESENTATION_DARK, PRESENTATION_LIGHT, look_for
from explorer.functions.lessons import all_lessons, get_lesson
from explorer.play.player import player_js, standalone_html

from browser_support import open_player, screenshot, settled, zoom_with_wheel

ROOT = ".agp-root"


# -- colours, as WCAG measures them -------------------------------------------------------------
def rgb(colour: str) -> tuple[float, float, float]:
    """'#rrggbb', 'rgb(r, g, b)', 'rgba(...)' or 'color(srgb r g b)' as three 0-255 numbers."""
    colour = colour.strip()
    if colour.startswith("#"):
        return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    if colour.startswith("color(srgb"):  # what the browser computes for color-mix()
        return tuple(255 * float(n) for n in re.findall(r"[\d.]+", colour.split("srgb", 1)[1])[:3])
    return tuple(float(n) for n in re.findall(r"[\d.]+", colour)[:3])


def luminance(colour: str) -> float:
    def linear(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# -- pages ------------------------------------------------------------------------------------
def fresh_leaves(values: dict) -> dict:
    return {name: torch.tensor(value, requires_grad=True) for name, value in values.items()}


def lesson_animation(lesson_id: str, calls: int = 1, **options):
    lesson = get_lesson(lesson_id)
    session = run_calls(lesson.fn, lesson.defaults, calls)
    forward = forward_view(lesson.fn, fresh_leaves(lesson.defaults))
    return lesson, session, forward, build_animation(session, forward=forward, **options)


def font_px(page, selector: str) -> float:
    return page.eval_on_selector(selector, "e => parseFloat(getComputedStyle(e).fontSize)")


def legend_swatches(page) -> dict[str, str]:
    """The legend's meaning -> the colour of its swatch, as shown."""
    return dict(page.eval_on_selector_all(
        ".agp-legend span", "ss => ss.map(s => [s.textContent, getComputedStyle(s.querySelector('i')).backgroundColor])"))


def overflowing(page) -> list[str]:
    """Elements of the player whose text runs out of their own box (large type must fit)."""
    return page.evaluate("""() => {
        const root = document.querySelector('.agp-root');
        const found = [];
        for (const e of root.querySelectorAll(
                '.agp-bar button, .agp-speed, .agp-count, .agp-title, .agp-lines li, .agp-link, '
                + '.agp-chip, .agp-leaf, .agp-legend span, .agp-forward, .agp-caption, .agp-strip')) {
            if (e.offsetParent === null) continue;  // hidden
            if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'auto') {
                found.push(e.className + ': ' + e.textContent.slice(0, 40));
            }
        }
        const box = root.getBoundingClientRect();
        for (const e of root.querySelectorAll('.agp-bar, .agp-main, .agp-caption, .agp-strip, .agp-legend')) {
            if (e.getBoundingClientRect().right > box.right + 1) found.push(e.className + ' leaves the player');
        }
        return found;
    }""")


# -- lecturer mode ----------------------------------------------------------------------------
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_presentation_mode_has_large_type_everywhere(offline, tmp_path, dark):
    lesson, session, _, animation = lesson_animation("accumulation", 3, look=look_for(dark, presentation=True))
    data = animation.to_dict()
    assert data["presentation"] is True and data["dark"] is dark and data["font_size"] >= 18
    page = offline
    root = open_player(page, tmp_path, animation, lesson.title)
    assert "agp-presentation" in root.get_attribute("class")

    # The graph: Graphviz wrote the look's font size on every node label.
    sizes = page.eval_on_selector_all(".agp-svg g.node text", "ts => ts.map(t => Number(t.getAttribute('font-size')))")
    assert sizes and min(sizes) >= 18
    # The player's own text: caption, controls, forward pass, strip, legend.
    for selector in (".agp-title", ".agp-lines li", ".agp-count", ".agp-speed", ".agp-speed select",
                     ".agp-forward-title", ".agp-link", ".agp-strip-title", ".agp-leaf", ".agp-action",
                     ".agp-value", ".agp-legend span"):
        assert font_px(page, selector) >= 20, selector
    # High contrast: the text of the caption against its panel, and of the forward lines.
    for selector in (".agp-lines li", ".agp-link", ".agp-action"):
        colours = page.eval_on_selector(selector, """e => {
            const style = getComputedStyle(e);
            let back = e, colour;
            while (back && (colour = getComputedStyle(back).backgroundColor) === 'rgba(0, 0, 0, 0)') back = back.parentElement;
            return [style.color, colour || 'rgb(255, 255, 255)', style.opacity];
        }""")
        assert contrast(colours[0], colours[1]) >= 7 and float(colours[2]) == 1, (selector, colours)
    # The legend's swatches are the palette the SVG was drawn with.
    palette = PRESENTATION_DARK if dark else PRESENTATION_LIGHT
    swatches = legend_swatches(page)
    assert rgb(swatches["leaf tensor (requires_grad=True)"]) == rgb(palette.leaf)
    assert rgb(swatches["output tensor"]) == rgb(palette.output)
    assert f'fill="{palette.leaf}"' in page.inner_html(".agp-svg")

    root.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert overflowing(page) == []
    screenshot(page, f"presentation-{'dark' if dark else 'light'}")


def test_presentation_fits_a_narrow_column(offline, tmp_path):
    """A lecture projector at 1024 px, or a Streamlit column: the forward pass goes below the graph,
    which stays right under the caption that explains its step (issue 11: caption and graph together)."""
    page = offline
    page.set_viewport_size({"width": 800, "height": 900})
    lesson, _, _, animation = lesson_animation("exercise-2", look=look_for(presentation=True))
    root = open_player(page, tmp_path, animation, lesson.title)
    root.focus()
    page.keyboard.press("End")
    forward, stage = page.locator(".agp-forward").bounding_box(), page.locator(".agp-stage").bounding_box()
    assert stage["y"] + stage["height"] <= forward["y"] + 1  # below, not squeezed beside
    assert overflowing(page) == []
    screenshot(page, "presentation-narrow")


# -- the dark theme ---------------------------------------------------------------------------
def test_dark_theme_graph_and_controls(offline, tmp_path):
    lesson, session, _, animation = lesson_animation("exercise-2", look=look_for(dark=True))
    assert animation.dark and not animation.presentation
    page = offline
    page.emulate_media(color_scheme="light")  # a dark export stays dark on a light system
    root = open_player(page, tmp_path, animation, lesson.title)
    root.focus()
    page.keyboard.press("End")  # every gradient written on its edge

    background = page.get_attribute(".agp-svg g.graph > polygon", "fill")
    assert background == DARK.background
    edge_text = page.eval_on_selector(".agp-svg g.edge.passed text", "t => getComputedStyle(t).fill")
    assert rgb(edge_text) == rgb(DARK.gradient)
    assert contrast(edge_text, background) >= 4.5
    op = next(node for node in session.passes[-1].graph.nodes if node.kind == "op")
    node_text, node_fill = page.eval_on_selector(
        f"g#{op.id}", "g => [getComputedStyle(g.querySelector('text')).fill, getComputedStyle(g.querySelector('path, polygon')).fill]")
    assert contrast(node_text, node_fill) >= 4.5
    for kind in ("leaf", "saved", "output", "accumulate"):
        selector = f".agp-svg g.node.kind-{kind}"
        if page.locator(selector).count():
            text, fill = page.eval_on_selector(
                selector, "g => [getComputedStyle(g.querySelector('text')).fill, getComputedStyle(g.querySelector('path, polygon')).fill]")
            assert contrast(text, fill) >= 4.5, kind

    # The controls are dark too, and their text reads on them.
    caption_colour, caption_back = page.eval_on_selector(
        ".agp-caption", "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
    assert luminance(caption_back) < 0.1 and contrast(caption_colour, caption_back) >= 7
    body = page.eval_on_selector("body", "e => getComputedStyle(e).backgroundColor")
    assert luminance(body) < 0.1
    swatches = legend_swatches(page)
    assert rgb(swatches["running now (animation)"]) == rgb(DARK.active)  # the legend speaks the graph's palette
    assert rgb(swatches[GRADIENT_LABEL]) == rgb(DARK.gradient)
    screenshot(page, "dark-theme")


def test_light_look_keeps_its_light_graph():
    lesson, _, _, animation = lesson_animation("requires-grad")
    assert not animation.dark and not animation.presentation
    # A light export stays light whatever the reader's system prefers: a dark page around the
    # white graph read as a dark frame (the export-under-dark-preference test shows the page).
    assert '<html lang="en" data-theme="light">' in standalone_html(animation, "x")


# -- deep links ---------------------------------------------------------------------------------
def test_standalone_opens_at_the_start_step(offline, tmp_path):
    lesson, _, _, animation = lesson_animation("exercise-2", start_step=2)
    assert animation.to_dict()["start_step"] == 2
    page = offline
    root = open_player(page, tmp_path, animation, lesson.title, step=2)
    assert root.get_attribute("data-step") == "2"
    assert page.input_value(".agp-scrub") == "2"
    assert page.text_content(".agp-title") == animation.frames[2].title
    steps = animation.event_count  # the counter counts as the caption does: "Step 2 of 9" beside "2 / 9"
    assert animation.frames[2].title.startswith(f"Step 2 of {steps}:") and page.text_content(".agp-count") == f"2 / {steps}"
    # Stepping on works from there, and Home still goes to the seed.
    root.focus()
    page.keyboard.press("ArrowRight")
    assert root.get_attribute("data-step") == "3"
    page.keyboard.press("Home")
    assert root.get_attribute("data-step") == "0" and page.text_content(".agp-count") == "start"
    page.keyboard.press("End")
    assert page.text_content(".agp-count") == "end"


def test_start_step_is_clamped():
    lesson = get_lesson("requires-grad")
    session = run_calls(lesson.fn, lesson.defaults, 1)
    animation = build_animation(session, start_step=999)
    assert animation.start_step == len(animation.frames) - 1


# -- the forward pass linked to the backward graph ----------------------------------------------
def test_forward_lines_link_to_their_backward_nodes(offline, tmp_path):
    lesson, session, forward, animation = lesson_animation("exercise-2")
    graph = session.passes[-1].graph
    x_leaf = graph.leaf_named("x").id
    x_accumulate = graph.accumulator_of(x_leaf)
    # The PowBackward0 reached from x: its input edge comes from x's AccumulateGrad.
    (pow_of_x,) = [e.dst for e in graph.edges if e.kind == INPUT and e.src == x_accumulate
                   and graph.node(e.dst).name == "PowBackward0"]
    step = next(s for s in forward.steps if s.text == "t1 = x ** 2")
    assert step.node == pow_of_x

    page = offline
    root = open_player(page, tmp_path, animation, lesson.title)
    line = page.locator(f".agp-forward [data-node='{pow_of_x}']")
    assert line.inner_text().replace("\n", "") == "t1 = x ** 2 = 2.25"
    assert page.locator(".agp-forward [data-leaf='x']").inner_text() == "x = 1.5"
    assert root.get_attribute("data-linked") == ""

    line.click()
    assert root.get_attribute("data-linked") == pow_of_x
    assert line.get_attribute("aria-pressed") == "true"
    assert page.eval_on_selector_all(".agp-svg g.node.linked", "gs => gs.map(g => g.id)") == [pow_of_x]
    stroke = page.eval_on_selector(f"g#{pow_of_x} > path, g#{pow_of_x} > polygon",
                                   "p => [getComputedStyle(p).stroke, parseFloat(getComputedStyle(p).strokeWidth)]")
    assert stroke[1] >= 5
    assert in_view(page, pow_of_x)
    screenshot(page, "linked-forward-step")

    leaf = page.locator(".agp-forward [data-leaf='x']")
    leaf.click()
    assert root.get_attribute("data-linked") == f"{x_leaf} {x_accumulate}"
    assert sorted(page.eval_on_selector_all(".agp-svg g.node.linked", "gs => gs.map(g => g.id)")) \
        == sorted([x_leaf, x_accumulate])
    assert leaf.get_attribute("aria-pressed") == "true" and line.get_attribute("aria-pressed") == "false"
    screenshot(page, "linked-forward-leaf")

    page.keyboard.press("Escape")
    assert root.get_attribute("data-linked") == ""
    assert page.locator(".agp-svg g.node.linked").count() == 0
    assert page.locator(".agp-forward [aria-pressed='true']").count() == 0

    line.click()
    line.click()  # clicking again clears too
    assert root.get_attribute("data-linked") == ""


def test_forward_lines_work_from_the_keyboard(offline, tmp_path):
    lesson, session, forward, animation = lesson_animation("exercise-2")
    page = offline
    root = open_player(page, tmp_path, animation, lesson.title)
    last = forward.steps[-1]
    page.focus(f".agp-forward [data-node='{last.node}']")
    page.keyboard.press("Enter")
    assert root.get_attribute("data-linked") == last.node
    page.keyboard.press("ArrowRight")  # the player's keys still step the animation
    assert root.get_attribute("data-step") == "1"
    assert root.get_attribute("data-linked") == last.node  # and the pick stays through frames
    page.keyboard.press("Escape")
    assert root.get_attribute("data-linked") == ""


def test_clicking_a_node_picks_its_forward_line(offline, tmp_path):
    lesson, session, forward, animation = lesson_animation("exercise-2")
    page = offline
    root = open_player(page, tmp_path, animation, lesson.title)
    step = forward.steps[2]  # t3 = x * y
    box = page.locator(f"g#{step.node}").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert root.get_attribute("data-linked") == step.node
    assert page.get_attribute(f".agp-forward [data-node='{step.node}']", "aria-pressed") == "true"


def test_the_running_node_marks_its_forward_line(offline, tmp_path):
    lesson, session, forward, animation = lesson_animation("exercise-2")
    page = offline
    root = open_player(page, tmp_path, animation, lesson.title)
    root.focus()
    page.keyboard.press("ArrowRight")  # the first backward node: f's grad_fn
    active = root.get_attribute("data-active-node")
    assert active == forward.steps[-1].node
    running = page.eval_on_selector_all(".agp-link.running", "bs => bs.map(b => b.dataset.node)")
    assert running == [active]


def test_a_zoomed_in_graph_pans_to_the_linked_node(offline, tmp_path):
    lesson, session, forward, animation = lesson_animation("exercise-2")
    page = offline
    open_player(page, tmp_path, animation, lesson.title)
    stage = page.locator(".agp-stage").bounding_box()
    zoom_with_wheel(page, stage["x"] + 20, stage["y"] + 20, -1500)  # zoom in on the top-left corner
    target = forward.leaf_nodes["y"]
    assert not in_view(page, target)
    page.click(".agp-forward [data-leaf='y']")
    assert in_view(page, target)


def in_view(page, node_id: str) -> bool:
    """Whether the node's box lies inside the stage on screen."""
    return page.evaluate("""id => {
        const stage = document.querySelector('.agp-stage').getBoundingClientRect();
        const box = document.getElementById(id).getBoundingClientRect();
        return box.left >= stage.left - 1 && box.right <= stage.right + 1
            && box.top >= stage.top - 1 && box.bottom <= stage.bottom + 1;
    }""", node_id)


def test_no_forward_no_panel(offline, tmp_path):
    lesson = get_lesson("requires-grad")
    animation = build_animation(run_calls(lesson.fn, lesson.defaults, 1))
    assert animation.to_dict()["forward"] is None
    page = offline
    open_player(page, tmp_path, animation, lesson.title)
    assert page.locator(".agp-forward").is_hidden()
    page.keyboard.press("Escape")  # nothing picked: Escape is left alone


def test_a_dark_graph_on_a_light_page_brings_dark_controls(offline, tmp_path):
    """Inside Streamlit the controls take the app's theme; a dark look in a light app must not
    end up as a dark graph under light controls."""
    lesson, _, _, light = lesson_animation("requires-grad")
    _, _, _, dark = lesson_animation("requires-grad", look=look_for(dark=True))
    page = offline
    open_player(page, tmp_path, light, lesson.title)
    # A second player on the page, mounted as the page mounts the first: through mountPlayer, the
    # module's public export (an inline module, which the page's Content-Security-Policy allows).
    page.add_script_tag(type="module", content=player_js() + f"""
const box = document.createElement("div");
box.id = "second";
document.querySelector("main").appendChild(box);
mountPlayer(box, {json.dumps(dark.to_dict())});
""")
    classes = page.get_attribute("#second .agp-root", "class")
    assert "agp-own-dark" in classes and "agp-dark" in classes
    back, colour = page.eval_on_selector(
        "#second .agp-caption", "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
    assert luminance(back) < 0.1 and contrast(colour, back) >= 7
    assert "agp-own-dark" not in page.get_attribute("main > #player .agp-root", "class")
    page.locator("#second").scroll_into_view_if_needed()
    screenshot(page, "dark-graph-on-light-page")


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_running_line_reads_in_every_look(offline, tmp_path, dark):
    lesson, _, forward, animation = lesson_animation("exercise-2", look=look_for(dark, presentation=True))
    page = offline
    root = open_player(page, tmp_path, animation, lesson.title)
    root.focus()
    page.keyboard.press("ArrowRight")
    colour, back = page.eval_on_selector(
        ".agp-link.running", "b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]")
    assert contrast(colour, back) >= 7


@pytest.mark.parametrize("width, height", [(1000, 800), (800, 700)])
@pytest.mark.parametrize("lesson_id", [lesson.id for lesson in all_lessons()])
def test_the_mouse_hint_never_covers_a_node(offline, tmp_path, lesson_id, width, height):
    """The fitted graph keeps clear of the hint in the stage's corner (it used to cover f or a leaf)."""
    lesson, _, _, animation = lesson_animation(lesson_id)
    page = offline
    page.set_viewport_size({"width": width, "height": height})
    open_player(page, tmp_path, animation, lesson.title)
    settled(page)  # the stage's size is final (fonts, the ResizeObserver's refit) before we measure
    hint = page.locator(".agp-hint").bounding_box()
    overlaps = page.eval_on_selector_all(".agp-svg g.node", """(nodes, hint) => nodes.filter(node => {
        const box = node.getBoundingClientRect();
        return box.right > hint.x && box.left < hint.x + hint.width
            && box.bottom > hint.y && box.top < hint.y + hint.height;
    }).map(node => node.id)""", hint)
    assert hint["height"] > 0 and overlaps == []


@pytest.mark.parametrize("dark", [False, True])
@pytest.mark.parametrize("presentation", [False, True])
def test_a_written_grad_reads_and_a_node_that_ran_is_not_an_accumulategrad(offline, tmp_path, dark, presentation):
    look = look_for(dark=dark, presentation=presentation)
    lesson, session, _, animation = lesson_animation("accumulation", look=look)
    page = offline
    root = open_player(page, tmp_path, animation, lesson.title)
    root.focus()
    accumulate = next(f.index for f in animation.frames if f.kind == "accumulate")
    for _ in range(accumulate):
        page.keyboard.press("ArrowRight")  # to the frame where AccumulateGrad writes w.grad
    text, fill = page.eval_on_selector(".agp-svg .grad-value.changed", """t => [getComputedStyle(t).fill,
        getComputedStyle(t.closest('g.node').querySelector('path, polygon')).fill]""")
    assert contrast(text, fill) >= 4.5
    ran = page.eval_on_selector(".agp-svg g.node.done.kind-op > path, .agp-svg g.node.done.kind-op > polygon",
                                "e => getComputedStyle(e).stroke")
    assert rgb(ran) == rgb(look.palette.done) and rgb(ran) != rgb(look.palette.accumulate_border)
    swatches = legend_swatches(page)
    assert "already ran (animation)" in swatches


@pytest.mark.parametrize("presentation", [False, True])
def test_full_screen_gives_the_graph_most_of_a_projector(offline, tmp_path, presentation):
    lesson, _, _, animation = lesson_animation("exercise-2", calls=2, look=look_for(presentation=presentation))
    page = offline
    page.set_viewport_size({"width": 1024, "height": 768})
    open_player(page, tmp_path, animation, lesson.title)
    page.click("button[data-act=fullscreen]")
    page.wait_for_function("document.fullscreenElement !== null")
    settled(page)  # the player refits in the frame after fullscreenchange; measure after that frame
    stage = page.locator(".agp-stage").bounding_box()
    assert stage["height"] >= 0.55 * 768  # was 0.45 of it, with the strip and legend at full height
    strip = page.locator(".agp-strip").bounding_box()
    assert strip["y"] + strip["height"] <= 768  # the .grad strip stays on screen (it scrolls)
