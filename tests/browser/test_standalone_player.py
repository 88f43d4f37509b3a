"""The standalone player, opened from a file with the network cut off, in Debian's Chromium.

What the page shows is held against PyTorch itself: the leaf's .grad text in the SVG after the
last frame must be what `w.grad` holds, and stepping with the keyboard must visit the nodes in
the order the engine ran them.
"""

from __future__ import annotations

import statistics

import pytest
import torch

from explorer.core.calls import BackwardSession, run_calls
from explorer.errors import GraphFreedError
from explorer.play.frames import build_animation
from explorer.functions.lessons import get_lesson
from explorer.drawing.legend import look_for
from explorer.values import format_number
from support import close

from browser_support import ALL_NODES_INSIDE, ARTIFACTS, open_player, screenshot, settled, zoom_with_wheel

ROOT = ".agp-root"


def step_and_active(page) -> tuple[int, str]:
    return tuple(page.eval_on_selector(ROOT, "e => [Number(e.dataset.step), e.dataset.activeNode]"))


@pytest.fixture(scope="module")
def accumulation():
    """The accumulation lesson after three calls without zeroing: w.grad is -2, -4, -6."""
    lesson = get_lesson("accumulation")
    session = run_calls(lesson.fn, lesson.defaults, 3)
    return lesson, session, build_animation(session)


def test_plays_to_the_end_and_shows_pytorchs_grad(offline, tmp_path, accumulation):
    lesson, session, animation = accumulation
    page = offline
    root = open_player(page, tmp_path, animation, lesson.title)
    leaf = session.passes[-1].graph.leaf_named("w").id
    grad_text = page.locator(f"text.grad-value[data-leaf='{leaf}']")
    assert grad_text.text_content() == "grad = -4"  # before the third call's AccumulateGrad
    screenshot(page, "player-accumulation-start")

    root.focus()
    middle = len(animation.frames) // 2
    for _ in range(middle):
        page.keyboard.press("ArrowRight")
    assert step_and_active(page)[0] == middle
    screenshot(page, "player-accumulation-middle")

    page.keyboard.press("End")
    assert step_and_active(page) == (len(animation.frames) - 1, "")
    w_grad = session.leaves["w"].grad.item()
    shown = grad_text.text_content()
    assert shown == f"grad = {format_number(w_grad)}"
    assert close(float(shown.split("=")[1]), w_grad) and close(w_grad, -6.0)
    chips = page.locator(".agp-chip .agp-value").all_text_contents()
    assert chips == ["-2", "-4", "-6"]
    screenshot(page, "player-accumulation-end")


def test_keyboard_steps_follow_the_engine_order(offline, tmp_path):
    lesson = get_lesson("exercise-2")
    session = run_calls(lesson.fn, lesson.defaults, 1)
    animation = build_animation(session)
    record = session.passes[-1]
    page = offline
    open_player(page, tmp_path, animation, lesson.title).focus()

    expected = [record.graph.output] + [event.node for event in record.events] + [""]
    seen = [step_and_active(page)[1]]
    for _ in range(len(expected) - 1):
        page.keyboard.press("ArrowRight")
        seen.append(step_and_active(page)[1])
    assert seen == expected
    page.keyboard.press("ArrowRight")  # past the end: stays there
    assert step_and_active(page) == (len(expected) - 1, "")

    for index in reversed(range(len(expected) - 1)):  # back again, one step at a time
        page.keyboard.press("ArrowLeft")
        assert step_and_active(page) == (index, expected[index])
    page.keyboard.press("End")
    page.keyboard.press("Home")
    assert step_and_active(page) == (0, record.graph.output)

    # The values on screen are PyTorch's: each leaf's text against torch.autograd.grad.
    page.keyboard.press("End")
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in lesson.defaults.items()}
    grads = torch.autograd.grad(lesson.fn(**leaves), list(leaves.values()))
    for name, grad in zip(leaves, grads):
        leaf = record.graph.leaf_named(name).id
        text = page.locator(f"text.grad-value[data-leaf='{leaf}']").text_content()
        assert close(float(text.split("=")[1]), grad.item())


def test_space_plays_and_keys_leave_text_inputs_alone(offline, tmp_path, accumulation):
    lesson, _, animation = accumulation
    page = offline
    open_player(page, tmp_path, animation, lesson.title)
    page.select_option(".agp-speed select", "10")
    page.locator(ROOT).focus()
    page.keyboard.press(" ")
    # A function, not an expression: the page's Content-Security-Policy forbids eval of a string.
    page.wait_for_function("last => document.querySelector('.agp-root').dataset.step === String(last)",
                           arg=len(animation.frames) - 1, timeout=10_000)
    assert "playing" not in page.locator(ROOT).get_attribute("class")  # it stops by itself at the end

    page.keyboard.press("Home")
    page.evaluate("""() => {
        const input = document.createElement('input');
        input.id = 'typing';
        document.body.appendChild(input);
    }""")
    page.focus("#typing")
    page.keyboard.press("ArrowRight")
    page.keyboard.type(" x")
    assert step_and_active(page)[0] == 0  # typing is not playing


def test_the_strip_tells_each_action_and_a_same_graph_call_is_a_call(offline, tmp_path):
    """Every kind of history entry in the strip: its words, its .grad, its look (action-<action>)."""
    lesson = get_lesson("accumulation")
    session = BackwardSession(lesson.fn, lesson.defaults)
    session.backward(retain_graph=True)
    session.backward_same_graph()  # call 2, on the kept graph
    session.zero_grad("zero")
    session.backward()  # call 3, the one animated
    with pytest.raises(GraphFreedError):
        session.backward_same_graph()  # the graph was freed: PyTorch refuses
    animation = build_animation(session)
    page = offline
    open_player(page, tmp_path, animation, lesson.title).focus()
    page.keyboard.press("End")  # the animated call's chip fills in when w.grad is written

    chips = page.locator(".agp-chip")
    assert chips.locator(".agp-action").all_text_contents() == ["call 1", "call 2", "zero_()", "call 3", "refused"]
    assert chips.locator(".agp-value").all_text_contents() == ["-2", "-4", "0", "-2", "refused"]
    actions = ["backward", "backward-same-graph", "zero", "backward", "refused"]
    for index, action in enumerate(actions):
        assert f"action-{action}" in chips.nth(index).get_attribute("class").split(), index
    assert "current" in chips.nth(3).get_attribute("class").split()
    assert chips.nth(4).get_attribute("title").startswith("Trying to backward through the graph a second time")

    def border(index):
        return chips.nth(index).evaluate("e => [getComputedStyle(e).borderStyle, getComputedStyle(e).borderColor]")

    assert border(1) == border(0)  # a call on the same graph looks like any call
    assert border(2)[0] == "dashed" and border(0)[0] == "solid"  # a zeroing is not a call
    assert border(4)[1] == "rgb(198, 40, 40)"  # refused: red
    screenshot(page, "player-strip-actions")


def test_zoom_pan_and_fit_move_the_camera(offline, tmp_path, accumulation):
    lesson, _, animation = accumulation
    page = offline
    open_player(page, tmp_path, animation, lesson.title)
    svg = page.locator(".agp-svg svg")

    def graph_box():
        return svg.bounding_box()

    settled(page)  # a refit the stage's first resize queues has run: `fitted` is the real fit
    fitted = graph_box()
    box = page.locator(".agp-stage").bounding_box()
    zoom_with_wheel(page, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, -400)
    zoomed = graph_box()
    assert zoomed["width"] > fitted["width"] * 1.2  # the graph got bigger on screen
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 40, steps=4)
    page.mouse.up()
    moved = graph_box()
    assert moved["x"] == pytest.approx(zoomed["x"] + 80, abs=1) and moved["y"] == pytest.approx(zoomed["y"] + 40, abs=1)
    page.click("button[data-act='fit']")
    assert graph_box() == pytest.approx(fitted)


def chain(x, h0):
    h = h0
    for _ in range(165):
        h = h * 1.01 + x
    return h


def test_frame_advance_is_cheap_on_a_500_node_graph(offline, tmp_path):
    session = BackwardSession(chain, {"x": 0.5, "h0": 1.0})
    record = session.backward()
    animation = build_animation(session, expand=True)  # every node drawn, none folded
    assert len(record.graph.nodes) == 500 and animation.too_large
    page = offline
    open_player(page, tmp_path, animation, "A loop of 165 steps")
    timings = page.evaluate("""() => {
        const root = document.querySelector('.agp-root');
        const svg = root.querySelector('.agp-svg svg');
        const press = (key) => root.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));
        const handler = [], withLayout = [];
        const last = Number(root.dataset.frames) - 1;
        for (let i = 0; i < last; i++) {
            const start = performance.now();
            press('ArrowRight');
            handler.push(performance.now() - start);
            svg.getBoundingClientRect();  // force style and layout: the cost the browser pays too
            withLayout.push(performance.now() - start);
        }
        const start = performance.now();
        press('Home');
        const jumpBack = performance.now() - start;
        return {handler, withLayout, jumpBack, step: Number(root.dataset.step), last};
    }""")
    assert timings["step"] == 0 and timings["last"] == len(record.events) + 1
    handler, with_layout = timings["handler"], timings["withLayout"]
    print(f"\nframe advance on {len(record.graph.nodes)} nodes, {len(handler)} frames: "
          f"handler median {statistics.median(handler):.3f} ms, max {max(handler):.3f} ms; "
          f"with style+layout median {statistics.median(with_layout):.3f} ms, max {max(with_layout):.3f} ms; "
          f"jump back to the start {timings['jumpBack']:.3f} ms")
    page.locator(ROOT).focus()
    page.keyboard.press("End")
    x_leaf = record.graph.leaf_named("x").id
    text = page.locator(f"text.grad-value[data-leaf='{x_leaf}']").text_content()
    assert text == f"grad = {format_number(session.leaves['x'].grad.item())}"
    screenshot(page, "player-chain-500-end")


def exported_html(tmp_path, lesson_id: str) -> str:
    """The HTML export of a lesson after one call, as the app's download writes it, opened from disk."""
    from explorer.io.export import html_bytes, trace_of

    lesson = get_lesson(lesson_id)
    path = tmp_path / "export.html"
    path.write_bytes(html_bytes(trace_of(run_calls(lesson.fn, lesson.defaults, 1), lesson.id, lesson.title)))
    return path.as_uri()


def test_the_html_export_has_the_forward_pass_panel(offline, tmp_path):
    offline.goto(exported_html(tmp_path, "exercise-2"))
    panel = offline.locator(".agp-forward")
    panel.wait_for(state="visible")
    assert panel.locator(".agp-forward-steps li").count() >= 1


def test_a_light_export_stays_light_under_a_dark_system_preference(offline, tmp_path):
    offline.emulate_media(color_scheme="dark")
    offline.goto(exported_html(tmp_path, "requires-grad"))
    offline.wait_for_selector(".agp-root")
    light = look_for(dark=False).palette.background  # the graph's own background in the light look
    as_rgb = "rgb({}, {}, {})".format(*(int(light[i:i + 2], 16) for i in (1, 3, 5)))
    assert offline.eval_on_selector("body", "e => getComputedStyle(e).backgroundColor") == as_rgb
    screenshot(offline, "export-light-under-dark-preference")


def test_a_notebook_output_below_the_fold_is_framed_when_scrolled_to(offline, tmp_path):
    """A Flow as Jupyter shows it (its iframe) far down a notebook: Chromium does not render an iframe
    out of sight, so the player must frame its graph when the output comes into view."""
    import explorer

    flow = explorer.animate(get_lesson("exercise-2").fn, get_lesson("exercise-2").defaults, calls=1)
    notebook = tmp_path / "notebook.html"
    notebook.write_text("<!doctype html><meta charset='utf-8'><body style='width:900px'>"
                        "<div style='height:4000px'>cells above</div>" + flow._repr_html_() + "</body>",
                        encoding="utf-8")
    offline.goto(notebook.as_uri())
    output = offline.locator("iframe")
    frame = output.element_handle().content_frame()
    root = frame.wait_for_selector(".agp-root")
    output.scroll_into_view_if_needed()
    frame.wait_for_function(ALL_NODES_INSIDE, arg=root)
    ARTIFACTS.mkdir(exist_ok=True)
    output.screenshot(path=str(ARTIFACTS / "notebook-output-scrolled-into-view.png"))
