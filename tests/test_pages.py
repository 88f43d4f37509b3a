"""Every page through Streamlit's AppTest: loads, backward accumulates, both zeroings, bad input,
the freed graph, deep-link values, and two sessions that never share gradients."""

import base64
import html
import json
import unicodedata
from pathlib import Path

import pytest
from support import APP, metric, open_app, open_tab, shown, players
from explorer.functions.lessons import CHAPTER_PAGES, EXTRA_PAGES, PAGES, lessons_on_page
from explorer.ui.links import PAGE_FILES



def open_page(page_key, query=None, predict=False):
    """A page in a new AppTest session. Exercises open in predict-first mode; tests of the
    gradients themselves switch it off unless `predict`."""
    at = open_app(PAGE_FILES[page_key], query)
    if page_key == "exercises" and not predict:
        at.toggle(key=next(t.key for t in at.toggle if t.key.endswith(":predict"))).set_value(False).run()
    return at


def graph_svg(at):
    """The SVG of the page's graph: the player's data after a call, else an st.image of dot's SVG."""
    mounted = players(at)
    if mounted:
        return html.unescape(json.loads(mounted[0].proto.json)["svg"])
    url = at.get("image")[0].proto.imgs[0].url
    return html.unescape(base64.b64decode(url.split(",", 1)[1]).decode("utf-8"))


def player_data(at):
    return json.loads(players(at)[0].proto.json)


def click(at, key):
    return at.button(key=key).click().run()


def test_home_links_every_page():
    at = open_app("Home.py")
    assert not at.exception
    links = [link.proto.page for link in at.get("page_link")]
    assert len(links) == len(PAGES) + len(CHAPTER_PAGES) + len(EXTRA_PAGES)
    assert all(Path(APP / path).exists() for path in PAGE_FILES.values())


def grads_are(at, lesson, factor):
    """Every leaf's .grad on screen is `factor` times the lesson's one-call gradient (None for None)."""
    for name, expected in lesson.expected.items():
        shown = metric(at, f"{name}.grad")
        if factor is None:
            assert shown == "None", name
        else:
            assert float(shown) == pytest.approx(factor * expected, abs=1e-5), name


@pytest.mark.parametrize("page_key", list(PAGES))
def test_every_page_accumulates_and_zeroes_both_ways(page_key):
    at = open_page(page_key)
    assert not at.exception
    lesson = lessons_on_page(page_key)[0]
    key = f"{page_key}:{lesson.id}"
    grads_are(at, lesson, None)
    click(at, f"{key}:backward")
    assert not at.exception and not at.error
    grads_are(at, lesson, 1)
    assert "PowBackward0" in graph_svg(at)
    click(at, f"{key}:backward")
    grads_are(at, lesson, 2)
    click(at, f"{key}:zero")
    grads_are(at, lesson, 0)
    click(at, f"{key}:backward")
    grads_are(at, lesson, 1)
    click(at, f"{key}:none")
    grads_are(at, lesson, None)
    click(at, f"{key}:backward")
    grads_are(at, lesson, 1)
    assert not at.exception and not at.error


@pytest.mark.parametrize("page_key", list(PAGES))
def test_every_page_keeps_two_sessions_apart(page_key):
    lesson = lessons_on_page(page_key)[0]
    key = f"{page_key}:{lesson.id}"
    first, second = open_page(page_key), open_page(page_key)
    click(first, f"{key}:backward")
    click(first, f"{key}:backward")
    click(second, f"{key}:backward")
    grads_are(first, lesson, 2)
    grads_are(second, lesson, 1)


def test_accumulation_then_both_zeroings():
    at = open_page("accumulation")
    key = "accumulation:accumulation"
    for expected in ("-2", "-4", "-6"):
        click(at, f"{key}:backward")
        assert metric(at, "w.grad") == expected
        assert f"grad = {expected}" in graph_svg(at)
    assert any("**-2** → **-4** → **-6**" in m.value for m in at.markdown)
    strip = player_data(at)["history"]["entries"]
    assert [entry["grads"]["w"] for entry in strip] == [-2.0, -4.0, -6.0]
    assert player_data(at)["frames"][-2]["change"]["text"] == "-4 → -6"
    click(at, f"{key}:zero")
    assert metric(at, "w.grad") == "0"
    click(at, f"{key}:backward")
    assert metric(at, "w.grad") == "-2"
    click(at, f"{key}:none")
    assert metric(at, "w.grad") == "None"
    click(at, f"{key}:backward")
    assert metric(at, "w.grad") == "-2"
    assert not at.table  # the history's tab is closed, so not drawn
    open_tab(at, key, "History of calls")
    history = at.table[-1].value if at.table else None
    assert history is not None and list(history["action"]) == [
        "backward", "backward", "backward", "zero_()", "backward", "set to None", "backward"]


def test_freed_graph_is_explained_and_the_page_keeps_working():
    at = open_page("gradients")
    key = "gradients:requires-grad"
    click(at, f"{key}:backward")
    click(at, f"{key}:again")
    assert not at.exception
    assert any("second time" in shown(e.value) and "retain_graph=True" in shown(e.value) for e in at.error)
    assert metric(at, "x.grad") == "6"
    at.checkbox(key=f"{key}:retain").check().run()
    click(at, f"{key}:backward")
    click(at, f"{key}:again")
    assert not at.error and metric(at, "x.grad") == "18"


def test_same_graph_call_uses_the_retain_box_as_it_is_now():
    """retain_graph ticked for the first call only: one more same-graph call runs, the next is refused
    (PyTorch: f.backward(retain_graph=True); f.backward(); f.backward() fails on the third)."""
    at = open_page("gradients")
    key = "gradients:requires-grad"
    at.checkbox(key=f"{key}:retain").check().run()
    click(at, f"{key}:backward")
    at.checkbox(key=f"{key}:retain").uncheck().run()
    click(at, f"{key}:again")
    assert not at.error and metric(at, "x.grad") == "12"
    click(at, f"{key}:again")
    assert any("second time" in e.value for e in at.error) and metric(at, "x.grad") == "12"
    assert at.query_params["ops"] == "Baa"


def test_an_overflowing_value_is_shown_and_explained():
    """x = 1e20: f = x**2 overflows float32 to inf, as in PyTorch; the page says why, and the
    player's data stays standard JSON (a browser's JSON.parse refuses Infinity)."""
    at = open_page("gradients", {"x": "1e20", "ops": "b"})
    assert not at.exception and metric(at, "f") == "inf" and metric(at, "x.grad") == "2e+20"
    assert any("not finite" in warning.value and "float32" in warning.value for warning in at.warning)
    data = json.loads(players(at)[0].proto.json, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert data["history"]["entries"][-1]["texts"]["x"] == "2e+20"


def test_by_hand_caption_after_a_refused_call():
    """A refused same-graph call changes no .grad, so the accumulation is still explained."""
    at = open_page("by-hand", {"x": "4", "ops": "bbab"})
    check = at.table[-1].value
    assert list(check["autograd (last call)"]) == ["24"] and list(check["agree"]) == ["no"]  # 3 calls of 2x
    assert any("accumulated over several calls" in caption.value for caption in at.caption)


@pytest.mark.parametrize("text", ["abc", "nan", "inf", ""])
def test_bad_value_shows_an_error_and_recovers(text):
    at = open_page("gradients")
    at.text_input(key="gradients:requires-grad:value:x").set_value(text).run()
    assert not at.exception and at.error
    at.text_input(key="gradients:requires-grad:value:x").set_value("5").run()
    assert not at.error
    click(at, "gradients:requires-grad:backward")
    assert metric(at, "x.grad") == "10"


@pytest.mark.parametrize("text, named", [
    ("3\u200b", "U+200B ZERO WIDTH SPACE"), ("\u202e3", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("\u20663\u2069", "U+2066 LEFT-TO-RIGHT ISOLATE"), ("\ufeff3", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
])
def test_a_value_box_names_invisible_characters_instead_of_echoing_them(text, named):
    """As the playground does: a bidi or zero-width character echoed raw reorders or hides the message."""
    at = open_page("gradients")
    at.text_input(key="gradients:requires-grad:value:x").set_value(text).run()
    (error,) = at.error
    assert named in error.value and "column" in error.value
    assert all(unicodedata.category(c)[0] not in "CZ" or c == " " for c in error.value), repr(error.value)


def test_values_from_the_url():
    at = open_page("several-variables", {"x": "5", "y": "2"})
    click(at, "several-variables:several-variables:backward")
    assert metric(at, "x.grad") == "10" and metric(at, "y.grad") == "12"


def test_exercise_chosen_from_the_url_and_by_hand_check():
    at = open_page("exercises", {"lesson": "exercise-2"})
    click(at, "exercises:exercise-2:backward")
    assert metric(at, "x.grad") == "13" and metric(at, "y.grad") == "25.5"
    check = at.table[-1].value
    assert list(check["by hand"]) == ["13", "25.5"] and list(check["agree"]) == ["yes", "yes"]


def test_changing_a_value_makes_new_leaves():
    at = open_page("gradients")
    key = "gradients:requires-grad"
    click(at, f"{key}:backward")
    click(at, f"{key}:backward")
    assert metric(at, "x.grad") == "12"
    at.text_input(key=f"{key}:value:x").set_value("4").run()
    assert metric(at, "x.grad") == "None"
    click(at, f"{key}:backward")
    assert metric(at, "x.grad") == "8"


def test_two_sessions_keep_their_own_gradients():
    first, second = open_page("accumulation"), open_page("accumulation")
    key = "accumulation:accumulation"
    click(first, f"{key}:backward")
    click(first, f"{key}:backward")
    click(second, f"{key}:backward")
    assert metric(first, "w.grad") == "-4"
    assert metric(second, "w.grad") == "-2"
    click(first, f"{key}:backward")
    second.run()
    assert metric(second, "w.grad") == "-2"


def test_by_hand_explains_a_float32_overflow():
    at = open_page("by-hand", {"x": "3e38", "ops": "b"})
    check = at.table[-1].value
    assert list(check["autograd (last call)"]) == ["inf"] and list(check["agree"]) == ["no"]
    assert any("float32" in caption.value and "float64" in caption.value for caption in at.caption)


def test_switching_exercises_opens_the_new_one_at_its_own_values():
    at = open_page("exercises", {"lesson": "exercise-2", "predict": "0", "ops": "b"})
    assert metric(at, "x.grad") == "13"
    at.radio(key="exercises:lesson").set_value("exercise-4").run()
    assert at.text_input(key="exercises:exercise-4:value:x").value == "3"
    assert metric(at, "x.grad") == "None"
    at.button(key="exercises:exercise-4:backward").click().run()
    assert metric(at, "x.grad") == "42"


def test_one_player_shows_each_call_in_turn():
    at = open_page("gradients")
    click(at, "gradients:requires-grad:backward")
    first = players(at)[0].proto
    click(at, "gradients:requires-grad:backward")
    second = players(at)[0].proto
    assert first.id == second.id  # the same component: the browser swaps the animation in place
    assert (json.loads(first.json)["calls"], json.loads(second.json)["calls"]) == (1, 2)
    assert json.loads(first.json)["story"] != json.loads(second.json)["story"]


def test_start_over_stays_after_a_refused_same_graph_call():
    at = open_page("gradients")
    click(at, "gradients:requires-grad:backward")
    click(at, "gradients:requires-grad:again")  # the graph was freed: refused
    error = at.error[0]
    assert "retain_graph" in shown(error.value) and error.icon.startswith(":material/")  # no emoji to draw as a box
    assert at.button(key="gradients:requires-grad:reset").label == "Start over"
    click(at, "gradients:requires-grad:reset")
    assert metric(at, "x.grad") == "None" and not at.error
