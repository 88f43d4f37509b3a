"""What the graph marks where something went wrong on it: the edge whose gradient a hook replaced
(drawn in the warning colour, "sent → hook → arrived", in the DOT, the SVG and the player's frames)
and the node whose saved tensor an in-place operation changed (outlined, with the versions PyTorch
counted). Every number is held against PyTorch's own, at 1e-6 relative."""

from __future__ import annotations

import re

import pytest
import torch

from explorer.core.backward import hooked_edges
from explorer.core.calls import BackwardSession
from explorer.core.cases import case_session
from explorer.drawing.layout import lay_out
from explorer.drawing.legend import look_for
from explorer.drawing.render import to_dot
from explorer.errors import PyTorchRefusedError
from explorer.functions.lessons import all_lessons, get_lesson
from explorer.play.frames import build_animation
from explorer.values import format_number


def _hooked_session() -> BackwardSession:
    lesson = get_lesson("non-leaf-grad")
    session = case_session(lesson, lesson.case("hook-times-10"))
    session.backward()
    return session


def _by_pytorch() -> tuple[float, float]:
    """df/dh that PowBackward0 sends towards h, and what arrives at MulBackward0 once the hook has run."""
    x = torch.tensor(3.0, requires_grad=True)
    h = 2 * x
    (sent,) = torch.autograd.grad(h ** 2, h)
    h2 = 2 * x
    h2.register_hook(lambda grad: grad * 10)
    (dx,) = torch.autograd.grad(h2 ** 2, x)
    return sent.item(), dx.item() / 2  # MulBackward0 (h = 2x) multiplies what arrives by 2


def test_the_hooked_edge_is_the_one_from_powbackward_to_mulbackward():
    session = _hooked_session()
    record = session.passes[-1]
    hooked = hooked_edges(record)
    assert [(record.graph.node(s).name, record.graph.node(r).name) for s, r in hooked] == [
        ("PowBackward0", "MulBackward0")]
    change = next(iter(hooked.values()))
    sent, arrived = _by_pytorch()
    assert change.sent == pytest.approx(sent, rel=1e-6)
    assert change.arrived == pytest.approx(arrived, rel=1e-6)
    assert session.grads()["x"] == pytest.approx(arrived * 2, rel=1e-6)


@pytest.mark.parametrize("presentation", [False, True])
@pytest.mark.parametrize("dark", [False, True])
def test_the_hooked_edge_says_what_was_sent_and_what_arrived(dark, presentation):
    session = _hooked_session()
    look = look_for(dark, presentation)
    dot = to_dot(session.passes[-1].graph, session.passes[-1], look)
    hooked = [line for line in dot.splitlines() if "edge-hooked" in line]
    assert len(hooked) == 1
    sent, arrived = _by_pytorch()
    assert f'label=" {format_number(sent)} → hook → {format_number(arrived)}"' in hooked[0]
    assert f'color="{look.palette.warning}"' in hooked[0]
    svg = lay_out(session.passes[-1].graph, session.passes[-1], look).svg
    assert re.search(r'<g id="e\d+" class="edge edge&#45;input edge&#45;hooked">', svg)


def test_the_players_frame_lights_the_hooked_edge_with_the_same_text():
    session = _hooked_session()
    animation = build_animation(session)
    sent, arrived = _by_pytorch()
    text = f"{format_number(sent)} → hook → {format_number(arrived)}"
    lit = [(frame, edge) for frame in animation.frames for edge in frame.edges if edge.text == text]
    assert len(lit) == 1
    frame, edge = lit[0]
    assert edge.value == pytest.approx(sent, rel=1e-6)
    assert f"= {format_number(sent)} to MulBackward0; a hook on the tensor between replaced it, so " \
           f"{format_number(arrived)} arrives instead" in frame.caption
    # The caption's product holds for its numbers: 1 × 12 = 12.
    product = re.search(r"sends (\S+) × (\S+) = (\S+) to", frame.caption)
    assert float(product[1]) * float(product[2]) == pytest.approx(float(product[3]), rel=1e-6)


@pytest.mark.parametrize("lesson", all_lessons(), ids=lambda lesson: lesson.id)
def test_no_other_lesson_has_a_hooked_edge(lesson):
    for case in lesson.all_cases:
        if case.id == "hook-times-10":
            continue
        session = case_session(lesson, case)
        try:
            session.backward()
        except PyTorchRefusedError:
            continue
        assert hooked_edges(session.passes[-1]) == {}, case.id
        assert "edge-hooked" not in to_dot(session.passes[-1].graph, session.passes[-1])


def _refused_in_place() -> BackwardSession:
    lesson = get_lesson("in-place")
    session = case_session(lesson, lesson.case("mul-in-place"))
    with pytest.raises(PyTorchRefusedError):
        session.backward()
    return session


def test_the_in_place_refusal_marks_the_node_that_saved_the_changed_tensor():
    session = _refused_in_place()
    x = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
    y = x.sigmoid()
    saved = y._version
    y.mul_(2)
    (node_id, line), = session.marks.items()
    assert session.graph().node(node_id).name == "SigmoidBackward0"
    assert line == f"saved at version {saved}, now {y._version}"
    dot = to_dot(session.graph(), marked=session.marks)
    marked = [text for text in dot.splitlines() if "marked" in text]
    assert len(marked) == 1 and marked[0].startswith(f"  {node_id} [")
    assert "result: [changed in place]" in marked[0] and line in marked[0]
    svg = lay_out(session.graph(), marked=session.marks).svg
    assert re.search(rf'<g id="{node_id}" class="node kind&#45;op marked">', svg)


def test_a_call_that_works_clears_the_marks():
    session = _refused_in_place()
    assert session.marks
    session.fn = get_lesson("in-place").fn  # the out-of-place fix, on the same leaves
    session.backward()
    assert session.marks == {}
    x = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
    (grad,) = torch.autograd.grad((x.sigmoid() * 2).sum(), x)
    assert session.grads()["x"] == pytest.approx(grad.tolist(), rel=1e-6)


def test_a_refusal_about_no_node_marks_nothing():
    lesson = get_lesson("vector-jacobian")
    session = case_session(lesson, lesson.case("backward"))
    with pytest.raises(PyTorchRefusedError):
        session.backward()
    assert session.marks == {}


def test_a_hooked_tensor_used_twice_marks_both_edges_with_the_sum():
    def f(x):
        h = 2 * x
        h.register_hook(lambda grad: grad * 10)
        return h * h + h

    session = BackwardSession(f, {"x": 3.0})
    session.backward()
    record = session.passes[-1]
    x = torch.tensor(3.0, requires_grad=True)
    h = 2 * x
    (total,) = torch.autograd.grad(h * h + h, h)  # what both uses send, summed: 2h + 1 = 13
    labels = [line for line in to_dot(record.graph, record).splitlines() if "edge-hooked" in line]
    # Three edges reach h's node (h * h's two inputs and + h's), from two senders.
    assert len(labels) == 3 and len(hooked_edges(record)) == 2
    assert all(f"(+ the others, hook → {format_number(10 * total.item())})" in line for line in labels)
    sent = [float(re.search(r'label=" (\S+) \(', line)[1]) for line in labels]
    assert sum(sent) == pytest.approx(total.item(), rel=1e-6)
    assert session.grads()["x"] == pytest.approx(10 * total.item() * 2, rel=1e-6)
