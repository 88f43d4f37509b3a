"""Frames: the player's data says what the engine did, with PyTorch's own numbers.

Gradients in the frames are held against torch.autograd.grad, computed separately from the
recording, so a frame that showed a wrong gradient would fail; the tests of ids, order and edges
hold the frames against the recording they were built from (tests/test_backward.py holds that
recording against autograd, edge by edge).
"""

import json
import re

import pytest
import torch

from explorer.play import frames as frames_module
from explorer.core.calls import BackwardSession, run_calls
from explorer.errors import ExplorerError
from explorer.core.forward import forward_view
from explorer.play.frames import ACCUMULATE_FRAME, DONE, SEED, SUMMARY, build_animation
from explorer.drawing.legend import look_for
from explorer.functions.lessons import all_lessons, get_lesson
from explorer.play.player import standalone_html
from explorer.values import format_number
from support import close


def autograd_grad(fn, **values):
    """d fn / d each leaf, by torch.autograd.grad on fresh leaves (no recording involved)."""
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in values.items()}
    # allow_unused: a leaf kept out of the graph (stop-gradient's detached y) has no gradient, None
    grads = torch.autograd.grad(fn(**leaves), list(leaves.values()), allow_unused=True)
    return {name: None if grad is None else grad.tolist() for name, grad in zip(leaves, grads)}


def numbers_in(text: str) -> list[float]:
    return [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", text)]


@pytest.fixture(scope="module")
def square_three_calls():
    lesson = get_lesson("requires-grad")
    session = run_calls(lesson.fn, lesson.defaults, 3)
    return session, build_animation(session)


# -- the requires-grad lesson: f = x**2 at x = 3 -------------------------------------------
def test_first_frame_is_the_seed_at_the_output(square_three_calls):
    session, animation = square_three_calls
    graph = session.passes[-1].graph
    seed = animation.frames[0]
    assert seed.kind == SEED
    assert seed.active == graph.output == "n0"
    assert graph.node(seed.active).name == "f"
    output_edge = next(f"e{i}" for i, e in enumerate(graph.edges) if e.kind == "output")
    assert [edge.id for edge in seed.edges] == [output_edge]
    # The seed is d f / d f = 1 by definition (a comparison with torch.autograd.grad(f, f) could not fail).
    assert seed.edges[0].value == 1.0 and seed.edges[0].text == "1"
    assert "gradient 1" in seed.caption and "output f" in seed.caption


def test_pow_frame_spells_out_the_chain_rule(square_three_calls):
    session, animation = square_three_calls
    pow_frame = next(frame for frame in animation.frames if frame.title.endswith("PowBackward0"))
    event = session.passes[-1].events[pow_frame.events[0]]
    dfdx = autograd_grad(lambda x: x**2, x=3.0)["x"]
    assert close(event.grads_in[0], 1.0)
    assert close(event.local_derivative[0], dfdx)
    assert close(event.grads_out[0].value, 1.0 * dfdx)
    assert pow_frame.caption == (
        "PowBackward0: 1 arrives; local derivative 2·x = 2·3 = 6; sends 1 × 6 = 6 to AccumulateGrad (x)"
    )
    assert close(pow_frame.edges[0].value, dfdx)
    assert pow_frame.edges[0].text == "6"


def test_frames_follow_the_engine_order(square_three_calls):
    session, animation = square_three_calls
    events = session.passes[-1].events
    middle = animation.frames[1:-1]
    assert [frame.events for frame in middle] == [(event.step,) for event in events]
    assert [frame.active for frame in middle] == [event.node for event in events]
    assert [frame.index for frame in animation.frames] == list(range(len(events) + 2))
    assert animation.frames[-1].kind == DONE and animation.frames[-1].active is None


def test_history_strip_accumulates_6_12_18(square_three_calls):
    session, animation = square_three_calls
    dfdx = autograd_grad(lambda x: x**2, x=3.0)["x"]
    strip = animation.to_dict()["history"]
    assert strip["leaves"] == ["x"]
    values = [entry["grads"]["x"] for entry in strip["entries"]]
    assert all(close(v, k * dfdx) for k, v in zip((1, 2, 3), values)) and len(values) == 3
    assert [entry["texts"]["x"] for entry in strip["entries"]] == ["6", "12", "18"]
    assert [entry["current"] for entry in strip["entries"]] == [False, False, True]
    assert animation.calls == 3


def test_last_accumulate_frame_shows_12_to_18(square_three_calls):
    session, animation = square_three_calls
    dfdx = autograd_grad(lambda x: x**2, x=3.0)["x"]
    frame = [f for f in animation.frames if f.kind == ACCUMULATE_FRAME][-1]
    assert frame.change.text == "12 → 18"
    assert "x.grad 12 → 18" in frame.caption and "12 + 6 = 18" in frame.caption
    assert close(frame.change.before, 2 * dfdx) and close(frame.change.after, 3 * dfdx)
    assert close(frame.change.arrived, dfdx)
    leaf = session.passes[-1].graph.leaf_named("x").id
    assert frame.leaf_grads == {leaf: "18"}
    assert animation.frames[0].leaf_grads == {leaf: "12"}  # before this call's AccumulateGrad ran


def test_done_frame_reads_the_final_grad(square_three_calls):
    session, animation = square_three_calls
    assert "x.grad = 18" in animation.frames[-1].caption
    assert close(session.leaves["x"].grad, 18.0)


# -- every lesson ----------------------------------------------------------------------------
@pytest.mark.parametrize("lesson", all_lessons(), ids=lambda lesson: lesson.id)
def test_every_frame_refers_to_the_drawn_graph(lesson):
    session = run_calls(lesson.fn, lesson.defaults, 1)
    record = session.passes[-1]
    animation = build_animation(session)
    data = json.loads(json.dumps(animation.to_dict()))  # plain JSON, as the player receives it
    svg_ids = set(re.findall(r'<g id="([ne]\d+)"', data["svg"]))
    for frame in data["frames"]:
        assert frame["active"] is None or frame["active"] in svg_ids
        assert {edge["id"] for edge in frame["edges"]} <= svg_ids
        assert set(frame["leaf_grads"]) <= set(data["leaves"])
    # A gradient with slot k leaving node N travels the input edge with dst == N and slot == k.
    for frame, event in zip(animation.frames[1:-1], record.events):
        if event.leaf is not None:
            continue
        expected = [f"e{i}" for i, e in enumerate(record.graph.edges)
                    if e.kind == "input" and e.dst == event.node
                    and any(g.slot == e.slot and g.to is not None for g in event.grads_out)]
        assert sorted(edge.id for edge in frame.edges) == sorted(expected)
        assert all(close(edge.value, g.value) for edge, g in
                   zip(frame.edges, [g for g in event.grads_out if g.to is not None]))


@pytest.mark.parametrize("lesson", all_lessons(), ids=lambda lesson: lesson.id)
def test_final_grads_match_autograd(lesson):
    session = run_calls(lesson.fn, lesson.defaults, 1)
    animation = build_animation(session)
    expected = autograd_grad(lesson.fn, **lesson.defaults)
    record = session.passes[-1]
    for leaf_id, name in animation.leaves.items():
        last = [f for f in animation.frames if f.change and f.change.leaf == leaf_id][-1]
        assert close(last.change.after, expected[name])
        assert f"{name}.grad = " in animation.frames[-1].caption
        assert record.graph.node(leaf_id).name == name


def test_gradients_of_two_paths_are_summed_in_the_caption():
    """Exercise 2: y gets x from x*y and 6y² from 2y³; the caption shows the engine's sum."""
    lesson = get_lesson("exercise-2")
    animation = build_animation(run_calls(lesson.fn, lesson.defaults, 1))
    from_product = autograd_grad(lambda x, y: x * y, x=1.5, y=-2.0)["y"]
    from_cube = autograd_grad(lambda y: 2 * y**3, y=-2.0)["y"]
    frame = next(f for f in animation.frames if f.change and f.change.name == "y")
    first, second, total = numbers_in(frame.lines[0])[:3]
    assert sorted([first, second]) == pytest.approx(sorted([from_product, from_cube]), abs=1e-5)
    assert total == pytest.approx(from_product + from_cube, abs=1e-5)
    assert "adds the gradients of its 2 paths" in frame.lines[0]


def test_constant_inputs_say_no_gradient():
    lesson = get_lesson("accumulation")
    animation = build_animation(run_calls(lesson.fn, lesson.defaults, 1))
    sub = next(f for f in animation.frames if f.title.endswith("SubBackward0"))
    assert len(sub.edges) == 1
    assert any("needs no gradient" in line for line in sub.lines)


# -- zeroing between calls --------------------------------------------------------------------
def test_zero_marks_are_data():
    lesson = get_lesson("accumulation")
    animation = build_animation(run_calls(lesson.fn, lesson.defaults, 3, zero="zero"))
    entries = animation.to_dict()["history"]["entries"]
    assert [e["action"] for e in entries] == ["backward", "zero", "backward", "zero", "backward"]
    assert [e["label"] for e in entries] == ["backward", "zero_()", "backward", "zero_()", "backward"]
    assert [e["call"] for e in entries] == [1, None, 2, None, 3]
    assert [e["texts"]["w"] for e in entries] == ["-2", "0", "-2", "0", "-2"]
    frame = next(f for f in animation.frames if f.change)
    assert frame.change.text == "0 → -2"


def test_set_to_none_shows_none_before():
    lesson = get_lesson("accumulation")
    animation = build_animation(run_calls(lesson.fn, lesson.defaults, 2, zero="set-none"))
    entries = animation.to_dict()["history"]["entries"]
    assert [e["action"] for e in entries] == ["backward", "set-none", "backward"]
    assert entries[1]["texts"]["w"] == "None" and entries[1]["grads"]["w"] is None
    frame = next(f for f in animation.frames if f.change)
    assert frame.change.before is None and frame.change.text == "None → -2"
    assert animation.frames[0].leaf_grads == {frame.change.leaf: "None"}


def test_nothing_to_animate_before_a_call():
    lesson = get_lesson("requires-grad")
    with pytest.raises(ExplorerError, match="call .backward"):
        build_animation(BackwardSession(lesson.fn, lesson.defaults))


# -- big graphs --------------------------------------------------------------------------------
def loop(x, h0, steps=40):
    h = h0
    for _ in range(steps):
        h = h * 1.01 + x
    return h


def test_a_long_pass_is_summarised_with_an_exact_end(monkeypatch):
    monkeypatch.setattr(frames_module, "MAX_FRAMES", 10)
    session = BackwardSession(loop, {"x": 0.5, "h0": 1.0})
    session.backward()
    animation = build_animation(session, expand=True)
    record = session.passes[-1]
    middle = animation.frames[1:-1]
    assert len(middle) <= 10 and sum(f.kind == SUMMARY for f in middle) >= 9  # a last chunk may hold one event
    assert [step for f in middle for step in f.events] == list(range(len(record.events)))
    assert [node for f in middle for node in f.ran] == [e.node for e in record.events]
    expected = autograd_grad(loop, x=0.5, h0=1.0)
    shown = {}
    for frame in animation.frames:
        shown.update(frame.leaf_grads)
        if frame.change:
            shown[frame.change.name] = frame.change.after
    for leaf_id, name in animation.leaves.items():
        assert close(shown[name], expected[name])  # the recorded value the frame carries
        assert shown[leaf_id] == format_number(expected[name])  # and the text the graph shows


def test_too_large_flag_and_note(monkeypatch):
    monkeypatch.setattr(frames_module, "MAX_ANIMATED_NODES", 10)
    lesson = get_lesson("exercise-2")
    animation = build_animation(run_calls(lesson.fn, lesson.defaults, 1))
    assert animation.too_large and "18 nodes" in animation.note and animation.to_dict()["too_large"]
    assert len(animation.frames) == len(animation.frames[1:-1]) + 2  # still every step
    small = build_animation(run_calls(get_lesson("requires-grad").fn, {"x": 3.0}, 1))
    assert not small.too_large and small.note == ""


def test_a_folded_loop_lights_its_group_node():
    """A loop long enough to be folded (drawing.draw): steps hidden in the group light the group."""
    session = BackwardSession(lambda x, h0: loop(x, h0, steps=120), {"x": 0.5, "h0": 1.0})
    record = session.backward()
    animation = build_animation(session)
    drawn = set(re.findall(r'<g id="([^"]+)" class="node', animation.svg))
    edges = set(re.findall(r'<g id="(e\d+)" class="edge', animation.svg))
    assert "c0" in drawn and "folded" in animation.note and animation.too_large is False
    actives = [frame.active for frame in animation.frames[1:-1]]
    assert set(actives) <= drawn and "c0" in actives
    assert all(edge.id in edges for frame in animation.frames for edge in frame.edges)
    assert len(animation.frames) == len(record.events) + 2  # every step still has its frame and caption


def test_expand_draws_every_node_with_reference_copies():
    session = BackwardSession(lambda x, h0: loop(x, h0, steps=120), {"x": 0.5, "h0": 1.0})
    record = session.backward()
    animation = build_animation(session, expand=True)
    drawn = set(re.findall(r'<g id="(n\d+)" class="node', animation.svg))
    assert drawn == {node.id for node in record.graph.nodes}
    assert [frame.active for frame in animation.frames[1:-1]] == [event.node for event in record.events]
    accumulate_x = record.graph.accumulator_of(record.graph.leaf_named("x").id)
    assert f"ref-of-{accumulate_x}" in animation.svg.replace("&#45;", "-")  # its copies beside each use


# -- the standalone page -------------------------------------------------------------------------
def test_standalone_page_has_no_url_and_all_its_parts():
    lesson = get_lesson("accumulation")
    animation = build_animation(run_calls(lesson.fn, lesson.defaults, 3))
    page = standalone_html(animation, "Gradients <add> up")
    assert not re.search(r"https?:|//[a-z]|\bsrc=|\bhref=|url\(|@import", page, re.I)
    assert "Gradients &lt;add&gt; up" in page
    assert page.count("<script") == 2 and page.count("</script>") == 2  # the data and the module
    assert "export function mountPlayer" in page and ".agp-root" in page
    data = page.split('id="player-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["signature"] == animation.signature


# -- looks, deep links and the linked forward pass ------------------------------------------------
def fresh(values: dict) -> dict:
    return {name: torch.tensor(value, requires_grad=True) for name, value in values.items()}


@pytest.mark.parametrize("dark,presentation", [(False, False), (True, False), (False, True), (True, True)])
def test_the_look_draws_the_graph_and_tells_the_player(dark, presentation):
    lesson = get_lesson("exercise-2")
    look = look_for(dark, presentation)
    animation = build_animation(run_calls(lesson.fn, lesson.defaults, 1), look=look)
    data = animation.to_dict()
    assert data["dark"] is dark and data["presentation"] is presentation
    assert data["font_size"] == look.font_size
    assert data["palette"]["background"] == look.palette.background
    assert data["legend"][0][0] == look.palette.leaf  # the player's legend speaks the SVG's palette
    assert f'fill="{look.palette.background}"' in animation.svg  # Graphviz's background polygon
    sizes = {float(size) for size in re.findall(r'<text[^>]*font-size="([\d.]+)"', animation.svg)}
    assert max(sizes) == look.font_size  # node labels; edge labels are a point smaller
    widths = re.findall(r'stroke-width="([\d.]+)"', animation.svg)
    assert (float(max(widths, key=float)) >= look.edge_width) if widths else look.edge_width == 1


def test_a_look_is_a_new_drawing_of_the_same_story():
    session = run_calls(get_lesson("accumulation").fn, get_lesson("accumulation").defaults, 2)
    plain, lecture = build_animation(session), build_animation(session, look=look_for(presentation=True))
    assert plain.signature != lecture.signature  # the player rebuilds with the new SVG...
    assert plain.story == lecture.story  # ...and keeps the student's step (same frames, same history)
    assert [f.to_dict() for f in plain.frames] == [f.to_dict() for f in lecture.frames]
    assert build_animation(session, look=None).signature == plain.signature  # None is the default look
    other = build_animation(run_calls(get_lesson("accumulation").fn, {"w": 5.0}, 2))
    assert other.story != plain.story


def test_start_step_is_data_but_not_signature():
    lesson = get_lesson("exercise-2")
    session = run_calls(lesson.fn, lesson.defaults, 1)
    plain, deep = build_animation(session), build_animation(session, start_step=4)
    assert plain.to_dict()["start_step"] is None and deep.to_dict()["start_step"] == 4
    # A page keeping ?step= in step with the player passes a new start_step on each rerun:
    # that must not rebuild (and rewind) the player.
    assert deep.signature == plain.signature
    last = len(deep.frames) - 1
    assert build_animation(session, start_step=10_000).start_step == last
    assert build_animation(session, start_step=-3).start_step == 0


def test_forward_lines_point_at_drawn_nodes():
    lesson = get_lesson("exercise-2")
    session = run_calls(lesson.fn, lesson.defaults, 1)
    forward = forward_view(lesson.fn, fresh(lesson.defaults))
    data = json.loads(json.dumps(build_animation(session, forward=forward).to_dict()))["forward"]
    graph = session.passes[-1].graph
    svg_ids = set(re.findall(r'<g id="(n\d+)" class="node', build_animation(session).svg))
    assert [step["text"] for step in data["steps"]][:3] == ["t1 = x ** 2", "t2 = t1 * 5", "t3 = x * y"]
    assert [step["value_text"] for step in data["steps"]] == \
        ["2.25", "11.25", "-3", "8.25", "-8", "-16", "-7.75"]
    assert data["leaf_values"] == {"x": "1.5", "y": "-2"}
    for step in data["steps"]:
        assert data["drawn"][step["node"]] == step["node"] in svg_ids
        assert graph.node(step["node"]).kind == "op"
    assert graph.node(data["steps"][0]["node"]).name == "PowBackward0"
    assert graph.node(data["steps"][-1]["node"]).name == "AddBackward0"  # f's grad_fn
    for name in ("x", "y"):
        leaf = graph.leaf_named(name).id
        assert data["leaf_nodes"][name] == leaf and data["leaves"][name] == graph.accumulator_of(leaf)
        assert data["drawn"][leaf] == leaf and data["drawn"][data["leaves"][name]] == data["leaves"][name]
    assert build_animation(session).to_dict()["forward"] is None


def test_forward_lines_in_a_folded_loop_point_at_the_group():
    fn = lambda x, h0: loop(x, h0, steps=120)
    values = {"x": 0.5, "h0": 1.0}
    session = BackwardSession(fn, values)
    session.backward()
    animation = build_animation(session, forward=forward_view(fn, fresh(values)))
    drawn = animation.forward["drawn"]
    svg_nodes = set(re.findall(r'<g id="([^"]+)" class="node', animation.svg))
    assert "c0" in svg_nodes and "c0" in drawn.values()
    assert set(drawn.values()) <= svg_nodes  # every line points at something on screen
    assert len(animation.forward["steps"]) == 240


def test_a_forward_view_of_another_graph_links_nothing_wrong():
    small = run_calls(get_lesson("requires-grad").fn, {"x": 3.0}, 1)
    lesson = get_lesson("exercise-2")
    forward = forward_view(lesson.fn, fresh(lesson.defaults))
    drawn = build_animation(small, forward=forward).forward["drawn"]
    known = {node.id for node in small.passes[-1].graph.nodes}
    assert all(target is None for node, target in drawn.items() if node not in known)


def test_standalone_page_takes_the_look():
    lesson = get_lesson("requires-grad")
    session = run_calls(lesson.fn, lesson.defaults, 1)
    dark = standalone_html(build_animation(session, look=look_for(dark=True, presentation=True)), "t")
    assert '<html lang="en" data-theme="dark" class="presentation">' in dark
    assert '<html lang="en" data-theme="light">' in standalone_html(build_animation(session), "t")  # named, or a dark system wins


OPERATOR_NODES = {"**": "PowBackward", "*": "MulBackward", "+": "AddBackward", "-": "SubBackward", "/": "DivBackward",
                  "@": "MmBackward"}


@pytest.mark.parametrize("lesson", all_lessons(), ids=lambda lesson: lesson.id)
def test_forward_of_the_sessions_own_leaves_links_to_the_animated_pass(lesson):
    """What a page passes: forward_view(session.fn, session.leaves, session.output_name) after some
    calls. Each line links to a node of the pass being animated, of the operator the line shows,
    and building it leaves the student's .grad alone."""
    session = run_calls(lesson.fn, lesson.defaults, 2)
    grads = session.full_grads()
    forward = forward_view(session.fn, session.leaves, session.output_name)
    assert session.full_grads() == grads
    animation = build_animation(session, forward=forward)
    graph = session.passes[-1].graph
    svg_ids = set(re.findall(r'<g id="(n\d+)" class="node', animation.svg))
    for step in forward.steps:
        expression = step.text.split(" = ", 1)[1]
        if " " in expression:  # t1 = x * x: an operator's node
            assert graph.node(step.node).name.startswith(OPERATOR_NODES[expression.split(" ")[1]]), step.text
        else:  # f = sum(t1): the function's own node, SumBackward0
            function = expression.split("(")[0].removesuffix(".apply").lower()  # Cube.apply(x): CubeBackward
            assert graph.node(step.node).name.lower().startswith(function), step.text
        assert animation.forward["drawn"][step.node] in svg_ids
    assert forward.steps[-1].result == session.output_name


def _strict_json(text):
    """json.loads that refuses NaN and Infinity, as a browser's JSON.parse does."""
    def refuse(constant):
        raise ValueError(f"not standard JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("fn, value, expected", [
    (lambda x: torch.sqrt(x), 0.0, "inf"),  # d sqrt(x)/dx at 0 is inf
    (lambda x: torch.sqrt(x) * 0, 0.0, "nan"),  # 0 × inf
    (lambda x: x ** 3, 1e20, "inf"),  # 3x² overflows float32
])
def test_player_data_stays_standard_json_with_inf_or_nan(fn, value, expected):
    x = torch.tensor(value, requires_grad=True)
    torch_grad = torch.autograd.grad(fn(x), [x])[0].item()
    assert format_number(torch_grad) == expected  # the case really is not finite in PyTorch
    animation = build_animation(run_calls(fn, {"x": value}, 1))
    data = _strict_json(json.dumps(animation.to_dict(), allow_nan=False))
    assert data["history"]["entries"][-1]["texts"]["x"] == expected
    embedded = re.search(r'<script type="application/json" id="player-data">(.*?)</script>',
                         standalone_html(animation, "x"), re.S).group(1)
    assert _strict_json(embedded)["history"]["entries"][-1]["grads"]["x"] == expected


def test_ops_that_share_a_name_are_told_apart():
    """x**2 + y**3 has two PowBackward0 nodes: each caption says which one, by the leaf below it."""
    lesson = get_lesson("several-variables")
    animation = build_animation(run_calls(lesson.fn, lesson.defaults, 1))
    add = next(frame for frame in animation.frames if frame.title.endswith("AddBackward0"))
    assert add.lines[1].endswith("to PowBackward0 (of x)") and add.lines[2].endswith("to PowBackward0 (of y)")
    titles = [frame.title.split(": ", 1)[1] for frame in animation.frames if frame.kind == "node"]
    assert sorted(titles) == ["AddBackward0", "PowBackward0 (of x)", "PowBackward0 (of y)"]
    # 5*x**2 + x*y + 2*y**3: the two AddBackward0 both reach x and y, so they are counted in engine order
    exercise = get_lesson("exercise-2")
    session = run_calls(exercise.fn, exercise.defaults, 1)
    titles = [frame.title.split(": ", 1)[1] for frame in build_animation(session).frames if frame.events]
    names = [event.name for event in session.passes[0].events]
    assert [title.split(" (")[0] for title in titles] == names  # still the engine's own names, in its order
    assert titles[0] == "AddBackward0 (#1 of 2 to run)"
    assert {"MulBackward0 (of x)", "MulBackward0 (of y)", "MulBackward0 (of x, y)"} <= set(titles)


def test_a_step_report_counts_only_in_its_own_story():
    from explorer.ui.player import reported_step

    assert reported_step({"story": "abc", "step": 3}, "abc") == 3
    assert reported_step({"story": "old", "step": 3}, "abc") is None  # made before a zeroing changed the story
    for bad in (None, 3, {"story": "abc"}, {"story": "abc", "step": -1}, {"story": "abc", "step": "3"},
                {"story": "abc", "step": True}):
        assert reported_step(bad, "abc") is None
