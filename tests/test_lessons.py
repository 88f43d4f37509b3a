"""Every number in the seed lesson's table, computed by PyTorch through the explorer."""

import pytest
import torch

from support import close
from explorer.core.calls import run_calls
from explorer.errors import UnknownLessonError
from explorer.functions.lessons import all_lessons, get_lesson, lesson_ids

# The seed's table (../shared/seed/README.md), copied as data so the registry cannot drift from it.
SEED_TABLE = {
    "requires-grad": ({"x": 3.0}, {"x": 6.0}),
    "several-variables": ({"x": 2.0, "y": -1.0}, {"x": 4.0, "y": 3.0}),
    "accumulation": ({"w": 1.0}, {"w": -2.0}),
    "by-hand": ({"x": 4.0}, {"x": 8.0}),
    "exercise-1": ({"z": 5.0}, {"z": 34.0}),
    "exercise-2": ({"x": 1.5, "y": -2.0}, {"x": 13.0, "y": 25.5}),
    "exercise-3": ({"x": 1.5, "y": -2.0}, {"x": 13.0, "y": 25.5}),
    "exercise-4": ({"x": 3.0}, {"x": 42.0}),
}


def test_registry_covers_the_whole_seed_first():
    assert lesson_ids()[:len(SEED_TABLE)] == list(SEED_TABLE)


@pytest.mark.parametrize("lesson_id", SEED_TABLE)
def test_one_backward_gives_the_seed_numbers(lesson_id):
    values, grads = SEED_TABLE[lesson_id]
    lesson = get_lesson(lesson_id)
    assert lesson.defaults == values and lesson.expected == grads
    session = run_calls(lesson.fn, values, calls=1)
    for name, expected in grads.items():
        assert close(session.grads()[name], expected)


def test_accumulation_loop_without_and_with_zeroing():
    lesson = get_lesson("accumulation")
    assert run_calls(lesson.fn, lesson.defaults, 3, "none").grad_history("w") == [-2.0, -4.0, -6.0]
    assert run_calls(lesson.fn, lesson.defaults, 3, "zero").grad_history("w") == [-2.0, -2.0, -2.0]
    assert run_calls(lesson.fn, lesson.defaults, 3, "set-none").grad_history("w") == [-2.0, -2.0, -2.0]


def test_exercise_3_zeroed_and_not():
    lesson = get_lesson("exercise-3")
    zeroed = run_calls(lesson.fn, lesson.defaults, 2, "zero")
    assert zeroed.grad_history("x") == [13.0, 13.0] and zeroed.grad_history("y") == [25.5, 25.5]
    piled = run_calls(lesson.fn, lesson.defaults, 2, "none")
    assert piled.grad_history("x") == [13.0, 26.0] and piled.grad_history("y") == [25.5, 51.0]


@pytest.mark.parametrize("lesson", [l for l in all_lessons() if l.expected_calls], ids=lambda l: l.id)
def test_expected_calls_match_pytorch(lesson):
    for mode, per_leaf in lesson.expected_calls.items():
        session = run_calls(lesson.fn, lesson.defaults, 3, mode)
        for name, values in per_leaf.items():
            assert session.grad_history(name) == pytest.approx(values, abs=1e-5), (mode, name)


@pytest.mark.parametrize("lesson", [l for l in all_lessons() if l.by_hand], ids=lambda l: l.id)
def test_by_hand_derivative_agrees_with_autograd(lesson):
    session = run_calls(lesson.fn, lesson.defaults, 1)
    by_hand = lesson.by_hand(**lesson.defaults)
    for name, value in by_hand.items():
        assert close(session.grads()[name], value)
    assert close(get_lesson("by-hand").by_hand(x=4.0)["x"], 8.0)
    assert close(get_lesson("exercise-4").by_hand(x=3.0)["x"], 42.0)


@pytest.mark.parametrize("lesson", all_lessons(), ids=lambda l: l.id)
def test_lessons_agree_with_autograd_at_other_values(lesson):
    values = {name: (torch.tensor(value) + 0.75).tolist() for name, value in lesson.defaults.items()}
    params = {n: torch.tensor(v, requires_grad=True) for n, v in values.items()}
    # allow_unused: a leaf the function keeps out of the graph (detach) gets no gradient, None
    reference = torch.autograd.grad(lesson.fn(**params), list(params.values()), allow_unused=True)
    session = run_calls(lesson.fn, values, 1)
    for name, ref in zip(params, reference):
        assert session.grads()[name] is None if ref is None else close(session.grads()[name], ref)


def test_source_is_the_real_function():
    lesson = get_lesson("exercise-2")
    assert "return 5 * x**2 + x * y + 2 * y**3" in lesson.source


def test_unknown_lesson_message():
    with pytest.raises(UnknownLessonError, match="Known lessons: requires-grad"):
        get_lesson("exercise-9")
