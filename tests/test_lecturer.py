"""Lecturer mode, links that carry the whole state, and predict-then-reveal, through AppTest."""

import pytest

from support import best_seconds, metric, open_app, shown, within_ratio
from explorer.core.calls import BackwardSession, run_calls
from explorer.errors import ExplorerError
from explorer.functions.lessons import get_lesson, square
from explorer.functions.expr import parse_expression
from explorer.play.predict import chain_rule_paths, judge
from explorer.ui.navigation import HOME_FILE


# -- the action code a link carries --------------------------------------------------------------
def test_actions_code_replays_to_the_same_state():
    first = BackwardSession(square, {"x": 3.0})
    first.backward()
    first.backward(retain_graph=True)
    first.backward_same_graph()
    first.zero_grad("zero")
    first.backward()
    first.zero_grad("set-none")
    code = first.actions_code()
    assert code == "bBazbn"
    second = BackwardSession(square, {"x": 3.0})
    second.replay(code)
    assert second.grads() == first.grads()
    assert [e.grads for e in second.history] == [e.grads for e in first.history]


@pytest.mark.parametrize("code", ["bbq", "b" * 500, "import os", "aaa", "zAb"])
def test_hand_made_action_codes_are_refused(code):
    """Refused before anything runs, so "starting afresh" is true: no call, no history."""
    session = BackwardSession(square, {"x": 3.0})
    with pytest.raises(ExplorerError, match="afresh"):
        session.replay(code)
    assert session.history == [] and session.leaves["x"].grad is None


def test_link_reopens_calls_and_zeroing():
    at = open_app("app_pages/3_Accumulation.py", {"w": "1", "ops": "bbbzb"})
    assert metric(at, "w.grad") == "-2"
    assert any("**-2** → **-4** → **-6** → `zero_()` 0 → **-2**" in m.value for m in at.markdown)
    at.button(key="accumulation:accumulation:backward").click().run()
    assert metric(at, "w.grad") == "-4"
    assert at.query_params["ops"] == "bbbzbb"


def test_bad_link_starts_afresh_with_a_message():
    at = open_app("app_pages/1_Gradients.py", {"ops": "xyz"})
    assert not at.exception
    assert any("afresh" in w.value for w in at.warning)
    assert metric(at, "x.grad") == "None"


def test_actions_go_into_the_url():
    at = open_app("app_pages/1_Gradients.py")
    at.button(key="gradients:requires-grad:backward").click().run()
    at.button(key="gradients:requires-grad:zero").click().run()
    assert at.query_params["ops"] == "bz"
    assert "x" not in at.query_params  # the lesson's default, 3, goes without saying
    at.text_input(key="gradients:requires-grad:value:x").set_value("4").run()
    assert at.query_params["x"] == "4"


# -- lecturer mode -----------------------------------------------------------------------------------
def test_lecturer_mode_from_the_url_and_the_toggle():
    at = open_app("app_pages/1_Gradients.py", {"present": "1"})
    toggle = at.toggle(key="lecturer-mode")
    assert toggle.value is True
    assert any("font-size: 22px" in h.proto.body for h in at.get("html"))
    toggle.set_value(False).run()
    assert "present" not in at.query_params
    assert not any("font-size: 22px" in h.proto.body for h in at.get("html"))


def test_lecturer_mode_stays_on_across_pages():
    """With the sidebar hidden, a lecturer moves by the home page's links: the mode must follow."""
    at = open_app("Home.py")
    at.toggle(key="lecturer-mode").set_value(True).run()
    assert at.query_params["present"] == "1"
    at.switch_page("app_pages/3_Accumulation.py").run()
    assert at.toggle(key="lecturer-mode").value is True
    assert at.query_params["present"] == "1"
    assert any("font-size: 22px" in h.proto.body for h in at.get("html"))
    at.toggle(key="lecturer-mode").set_value(False).run()
    at.switch_page(HOME_FILE).run()
    assert at.toggle(key="lecturer-mode").value is False and "present" not in at.query_params


def test_lecturer_mode_draws_large_type():
    at = open_app("app_pages/1_Gradients.py", {"present": "1"})
    url = at.get("image")[0].proto.imgs[0].url
    import base64

    svg = base64.b64decode(url.split(",", 1)[1]).decode()
    assert 'font-size="20.00"' in svg


# -- predict, then reveal ---------------------------------------------------------------------------
def test_judge_explains_a_missed_path_and_a_missed_factor():
    lesson = get_lesson("exercise-2")
    record = run_calls(lesson.fn, lesson.defaults, 1).passes[0]
    assert judge(13.0, "x", record).correct
    missed_path = judge(15.0, "x", record)
    assert not missed_path.correct and "leaves out" in missed_path.explanation and "-2 (MulBackward0)" in missed_path.explanation
    assert "sign" in judge(-13.0, "x", record).explanation
    paths = chain_rule_paths(record, "y")
    assert sorted(p.product for p in paths) == [1.5, 24.0]
    missed_factor = judge(1.5 + 12.0, "y", record)  # forgot the 2 of 2*y**3
    assert "missing one factor" in missed_factor.explanation and "2 of MulBackward0" in missed_factor.explanation


def test_predict_wrong_then_right_on_an_exercise():
    at = open_app("app_pages/5_Exercises.py", {"lesson": "exercise-1"})
    key = "exercises:exercise-1"
    assert at.toggle(key=f"{key}:predict").value is True
    assert not at.metric  # hidden until a prediction is checked
    at.text_input(key=f"{key}:guess:z").set_value("30").run()
    at.button(key=f"{key}:check").click().run()
    assert metric(at, "z.grad") == "34"  # revealed: one real backward call was made
    assert any("leaves out" in w.value for w in at.warning)
    assert any("0 of 1" in c.value for c in at.caption)
    at.text_input(key=f"{key}:guess:z").set_value("34").run()
    at.button(key=f"{key}:check").click().run()
    assert any("Right" in s.value for s in at.success)
    assert any("1 of 2" in c.value for c in at.caption)
    assert metric(at, "z.grad") == "34"  # checking again does not call backward again
    at.button(key=f"{key}:check").click().run()  # the same answer, clicked again: still one answer
    assert any("1 of 2" in c.value for c in at.caption)


def test_a_link_to_an_unknown_exercise_says_so():
    at = open_app("app_pages/5_Exercises.py", {"lesson": "nope", "ops": "b"})
    assert not at.exception
    assert any('"nope" that does not exist' in shown(w.value) for w in at.warning)
    assert "lesson" not in at.query_params and "ops" not in at.query_params  # exercise 1, the default


def test_new_values_drop_the_old_animation_step():
    at = open_app("app_pages/1_Gradients.py", {"ops": "b", "step": "2"})
    assert at.query_params["step"] == "2"  # a deep link keeps its step
    at.text_input(key="gradients:requires-grad:value:x").set_value("5").run()
    assert "step" not in at.query_params and "ops" not in at.query_params


def test_a_guess_on_a_function_with_32_paths_is_judged_quickly():
    text = "x"
    for _ in range(5):  # a balanced sum of 32 x's: 32 paths from f to x, so 2**32 subsets to try
        text = f"({text}+{text})"
    session = run_calls(parse_expression(text).build, {"x": 1.0}, 1)
    two_paths = run_calls(parse_expression("x+x").build, {"x": 1.0}, 1)
    verdict = judge(0.5, "x", session.passes[0])
    assert not verdict.correct and verdict.autograd == 32.0
    # Trying every subset of paths would be 2**30 times the work of two paths; the timeout cuts that.
    within_ratio("judging 32 paths against 2", best_seconds(lambda: judge(0.5, "x", session.passes[0])),
                 best_seconds(lambda: judge(0.5, "x", two_paths.passes[0])), most=1000)


def test_nothing_agrees_with_an_infinite_gradient():
    session = run_calls(parse_expression("sqrt(x)").build, {"x": 0.0}, 1)
    assert session.grads()["x"] == float("inf")
    assert not judge(12345.0, "x", session.passes[0]).correct


@pytest.mark.parametrize("step", ["²", "9" * 5000, "-1", "abc"])
def test_odd_step_in_a_link_does_not_break_the_page(step):
    at = open_app("app_pages/1_Gradients.py", {"step": step, "ops": "b"})
    assert not at.exception
    assert metric(at, "x.grad") == "6"
