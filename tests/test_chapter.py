"""The autograd chapter beyond the seed (issue 12): every number each lesson and each of its cases
shows, against torch.autograd.grad on tensors made here, at 1e-6 relative; where a case's point
is an error, PyTorch's own message, word for word."""

import json
import sys
import warnings

import pytest
import torch

from support import run_cli
from explorer.core.backward import changed_on_the_way
from explorer.core.calls import BackwardSession, run_calls
from explorer.core.watch import call_watching
from explorer.errors import PyTorchRefusedError
from explorer.functions.lessons import CHAPTER_PAGES, all_lessons, get_lesson, lessons_on_page, squares
from explorer.play.frames import build_animation
from explorer.values import format_number

RTOL = 1e-6
CHAPTER = [lesson for lesson in all_lessons() if lesson.page in CHAPTER_PAGES]
CASES = [(lesson, case) for lesson in CHAPTER for case in lesson.all_cases]


def leaves_of(lesson):
    return {name: torch.tensor(value, requires_grad=True) for name, value in lesson.defaults.items()}


def reference_grads(lesson, case):
    """The gradients PyTorch gives for the case, by torch.autograd.grad (None for a leaf it does not reach)."""
    leaves = leaves_of(lesson)
    output = case.fn(**leaves)
    seed = None if case.gradient is None else torch.tensor(case.gradient)
    tracked = [name for name, leaf in leaves.items() if leaf.requires_grad]  # requires_grad_(False) unhooks one
    grads = torch.autograd.grad(output, [leaves[name] for name in tracked], grad_outputs=seed, allow_unused=True)
    return {name: dict(zip(tracked, grads)).get(name) for name in leaves}


def assert_same(shown, reference):
    if reference is None:
        assert shown is None
    else:
        assert torch.allclose(torch.as_tensor(shown, dtype=torch.float32), reference, rtol=RTOL, atol=0)


def test_each_chapter_page_holds_its_lesson_in_course_order():
    assert [lesson.page for lesson in CHAPTER] == list(CHAPTER_PAGES)
    assert all(len(lessons_on_page(page)) == 1 for page in CHAPTER_PAGES)


@pytest.mark.parametrize("lesson,case", [(l, c) for l, c in CASES if not c.error],
                         ids=lambda item: getattr(item, "id", ""))
def test_every_case_gives_pytorchs_gradients(lesson, case):
    session = BackwardSession(case.fn, lesson.defaults, gradient=case.gradient)
    session.backward()
    reference = reference_grads(lesson, case)
    for name, value in case.expected.items():  # the numbers the page's text states
        assert_same(value, reference[name])
    for name, ref in reference.items():  # and every .grad the page shows
        assert_same(session.grads()[name], ref)


@pytest.mark.parametrize("lesson,case", [(l, c) for l, c in CASES if c.error], ids=lambda item: getattr(item, "id", ""))
def test_an_error_case_shows_pytorchs_own_message_and_the_session_goes_on(lesson, case):
    leaves = leaves_of(lesson)
    with pytest.raises(RuntimeError) as pytorch:
        output = case.fn(**leaves)
        output.backward() if case.gradient is None else output.backward(torch.tensor(case.gradient))
    session = BackwardSession(case.fn, lesson.defaults, gradient=case.gradient)
    with pytest.raises(PyTorchRefusedError) as ours:
        session.backward()
    assert case.error in str(pytorch.value)
    assert ours.value.pytorch_message == str(pytorch.value)
    assert str(ours.value).startswith(f'PyTorch refused: "{pytorch.value}"')  # PyTorch's words first, then ours
    assert session.history == [] and session.value() is not None
    if session.has_graph():  # a gradient taken without create_graph=True has none to draw
        assert session.graph() is not None


# -- 1. leaf-twice ------------------------------------------------------------------------------
def test_leaf_twice_three_edges_summed_in_the_buffer_and_accumulated_once():
    lesson = get_lesson("leaf-twice")
    record = run_calls(lesson.fn, lesson.defaults, 1).passes[-1]
    graph = record.graph
    accumulate = graph.accumulator_of(graph.leaf_named("x").id)
    into = [edge for edge in graph.edges if edge.src == accumulate]
    assert sorted(graph.node(edge.dst).name for edge in into) == ["AddBackward0", "MulBackward0", "MulBackward0"]
    sent = [grad.value for event in record.events for grad in event.grads_out if grad.to == accumulate]
    assert sorted(sent) == [1.0, 3.0, 3.0]  # x along both edges of the product, 1 from the sum
    runs = [event for event in record.events if event.node == accumulate]
    assert len(runs) == 1 and runs[0].grads_in == (7.0,) and runs[0].grad_after == 7.0
    x = torch.tensor(3.0, requires_grad=True)
    (reference,) = torch.autograd.grad(x * x + x, x)
    assert runs[0].grad_after == pytest.approx(reference.item(), rel=RTOL) == 2 * 3.0 + 1


def test_x_plus_x_keeps_both_edges():
    lesson = get_lesson("leaf-twice")
    case = lesson.case("x-plus-x")
    record = run_calls(case.fn, lesson.defaults, 1).passes[-1]
    graph = record.graph
    accumulate = graph.accumulator_of(graph.leaf_named("x").id)
    assert [edge.slot for edge in graph.edges if edge.src == accumulate] == [0, 1]
    runs = [event for event in record.events if event.node == accumulate]
    assert len(runs) == 1 and runs[0].grads_in == (2.0,)


# -- the command line ---------------------------------------------------------------------------
@pytest.mark.parametrize("lesson", CHAPTER, ids=lambda lesson: lesson.id)
def test_show_json_exits_0_with_every_case(capsys, lesson):
    status, out, err = run_cli(capsys, "show", lesson.id, "--json")
    assert status == 0 and not err
    report = json.loads(out)
    if not lesson.cases:  # a lesson of one function: its .grad is the report's own
        assert "cases" not in report
        for name, ref in reference_grads(lesson, lesson.all_cases[0]).items():
            assert_same(report["grads"][name], ref)
        return
    assert [case["id"] for case in report["cases"]] == [case.id for case in lesson.all_cases]
    for case, result in zip(lesson.all_cases, report["cases"]):
        if case.error:
            assert case.error in result["error"]["pytorch"] and result["error"]["explanation"]
        else:
            for name, ref in reference_grads(lesson, case).items():
                assert_same(result["grads"][name], ref)


@pytest.mark.parametrize("lesson,case", [(l, c) for l, c in CASES if l.cases], ids=lambda item: getattr(item, "id", ""))
def test_show_runs_each_case_as_its_own_call(capsys, lesson, case):
    status, out, _ = run_cli(capsys, "show", lesson.id, "--case", case.id)
    assert status == 0 and f"case {case.id} ({case.label}): " in out


def test_show_refuses_an_unknown_case_and_a_case_for_an_expression(capsys):
    assert run_cli(capsys, "show", "leaf-twice", "--case", "nope")[0] == 2
    status, _, err = run_cli(capsys, "show", "--expr", "x*x", "--set", "x=1", "--case", "main")
    assert status == 2 and "--case" in err


# -- 2. vector-jacobian -------------------------------------------------------------------------
@pytest.mark.parametrize("case_id", ["ones", "weighted"])
def test_the_seed_at_the_output_is_v_and_the_result_is_v_times_the_jacobian(case_id):
    lesson = get_lesson("vector-jacobian")
    case = lesson.case(case_id)
    session = BackwardSession(case.fn, lesson.defaults, gradient=case.gradient)
    record = session.backward()
    x = torch.tensor(lesson.defaults["x"], requires_grad=True)
    jacobian = torch.autograd.functional.jacobian(lambda t: t * t, x)  # built here only, to check against
    v = torch.tensor(case.gradient)
    assert torch.allclose(torch.tensor(session.grads()["x"]), v @ jacobian, rtol=RTOL, atol=0)
    assert record.seed == pytest.approx(case.gradient) and record.seed_given
    seed = build_animation(session).frames[0]
    assert seed.edges[0].text == format_number(case.gradient)
    assert f"f.backward(gradient={format_number(case.gradient)})" in seed.lines[0]


def test_ones_is_the_same_as_the_sum():
    lesson = get_lesson("vector-jacobian")
    summed = run_calls(lesson.fn, lesson.defaults, 1).grads()["x"]
    ones = run_calls(squares, lesson.defaults, 1, gradient=[1.0, 1.0, 1.0]).grads()["x"]
    assert summed == ones == [2.0, 4.0, 6.0]


# -- 3. stop-gradient ---------------------------------------------------------------------------
@pytest.mark.parametrize("case_id", ["main", "no-grad", "frozen"])
def test_the_stopped_branch_is_missing_from_the_graph(case_id):
    lesson = get_lesson("stop-gradient")
    case = lesson.case(case_id)
    session = BackwardSession(case.fn, lesson.defaults)
    assert session.leaves_outside_graph() == ["y"]  # before any call, from the graph a call would use
    record = session.backward()
    assert [node.name for node in record.graph.of_kind("leaf")] == ["x"]
    assert [node.name for node in record.graph.of_kind("accumulate")] == ["AccumulateGrad"]  # x's only
    assert session.leaves["y"].grad is None and session.leaves_outside_graph() == ["y"]
    session.backward()  # and stays None call after call, while x.grad accumulates
    assert session.grads()["y"] is None and session.grads()["x"] == pytest.approx(2 * case.expected["x"], rel=RTOL)


def test_no_grad_computes_the_value_but_records_nothing():
    x, y = torch.tensor(2.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    with torch.no_grad():
        scale = y * 2
    assert scale.grad_fn is None and scale.item() == 6.0
    lesson = get_lesson("stop-gradient")
    record = run_calls(lesson.case("no-grad").fn, lesson.defaults, 1).passes[-1]
    assert [node.name for node in record.graph.of_kind("op")] == ["MulBackward0"]  # x * scale only


# -- 4. non-leaf-grad ---------------------------------------------------------------------------
def pytorch_non_leaf(case, x_value):
    """PyTorch by hand: (x.grad, h.grad, the warning on reading h.grad) for the case's own code."""
    x = torch.tensor(x_value, requires_grad=True)
    h = 2 * x
    if case.id == "retain-grad":
        h.retain_grad()
    if case.id == "hook-times-10":
        h.register_hook(lambda grad: grad * 10)
    (h**2).backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h_grad = h.grad
    return x.grad.item(), None if h_grad is None else h_grad.item(), next((str(w.message) for w in caught), None)


@pytest.mark.parametrize("case_id", ["main", "retain-grad", "hook-times-10"])
def test_non_leaf_grad_and_pytorchs_warning(case_id):
    lesson = get_lesson("non-leaf-grad")
    case = lesson.case(case_id)
    session = BackwardSession(case.fn, lesson.defaults, watch=tuple(case.non_leaf))
    session.backward()
    x_grad, h_grad, warning = pytorch_non_leaf(case, 3.0)
    assert session.grads()["x"] == pytest.approx(x_grad, rel=RTOL) == case.expected["x"]
    shown, shown_warning = session.non_leaf_grads()["h"]
    assert shown == h_grad == case.non_leaf["h"]
    assert shown_warning == warning  # word for word, None when retain_grad() kept it
    if h_grad is None:
        assert "not a leaf Tensor is being accessed" in shown_warning


def test_the_hook_is_found_on_the_edge_where_it_acted():
    lesson = get_lesson("non-leaf-grad")
    record = run_calls(lesson.case("hook-times-10").fn, lesson.defaults, 1).passes[-1]
    (change,) = changed_on_the_way(record)
    assert [record.graph.node(n).name for n in (*change.sources, change.node)] == ["PowBackward0", "MulBackward0"]
    assert (change.sent, change.arrived) == (12.0, 120.0)
    assert changed_on_the_way(run_calls(lesson.fn, lesson.defaults, 1).passes[-1]) == []  # no hook, no change


def test_watching_a_local_leaves_nothing_behind():
    lesson = get_lesson("non-leaf-grad")
    before = sys.getprofile()
    output, made = call_watching(lesson.fn, {"x": torch.tensor(3.0, requires_grad=True)}, ("h",))
    assert sys.getprofile() is before and made["h"].item() == 6.0 and output.item() == 36.0


# -- 5. in-place --------------------------------------------------------------------------------
def test_in_place_error_marks_the_node_and_its_versions_and_the_fix_works():
    lesson = get_lesson("in-place")
    x = torch.tensor(lesson.defaults["x"], requires_grad=True)
    y = x.sigmoid()
    y.mul_(2)
    assert y._version == 1
    with pytest.raises(RuntimeError) as pytorch:
        y.sum().backward()
    session = BackwardSession(lesson.case("mul-in-place").fn, lesson.defaults)
    with pytest.raises(PyTorchRefusedError) as ours:
        session.backward()
    assert ours.value.pytorch_message == str(pytorch.value)
    assert session.graph().node(ours.value.node).name == "SigmoidBackward0"
    assert ours.value.versions == {"saved": 0, "now": 1}
    assert "version 0" in ours.value.explanation and "version 1" in ours.value.explanation
    assert session.grads() == {"x": None}  # refused before any AccumulateGrad ran
    fixed = run_calls(lesson.fn, lesson.defaults, 1).grads()["x"]  # y = y * 2, out of place
    x = torch.tensor(lesson.defaults["x"], requires_grad=True)
    (reference,) = torch.autograd.grad((x.sigmoid() * 2).sum(), x)
    assert torch.allclose(torch.tensor(fixed), reference, rtol=RTOL, atol=0)
    assert torch.allclose(reference, 2 * torch.sigmoid(x) * (1 - torch.sigmoid(x)), rtol=RTOL)


def test_in_place_in_the_json_names_the_node(capsys):
    status, out, _ = run_cli(capsys, "show", "in-place", "--case", "mul-in-place", "--json")
    assert status == 0
    report = json.loads(out)
    error = report["cases"][1]["error"]
    names = {node["id"]: node["name"] for node in report["graph"]["nodes"]}
    assert names[error["node"]] == "SigmoidBackward0" and error["versions"] == {"saved": 0, "now": 1}
    assert report["calls"] == []  # the refused call ran nothing
