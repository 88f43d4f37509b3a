"""The chapter's pages through AppTest: each loads, its cases and actions run, no exception; the
numbers on screen are PyTorch's; an error case shows PyTorch's message first and the page goes on."""

import json

import pytest
import torch
from support import metric, open_app, players, shown
from explorer.functions.lessons import CHAPTER_PAGES, lessons_on_page
from explorer.ui.links import PAGE_FILES
from explorer.ui.navigation import ORDER, TITLES
from test_chapter import reference_grads


def choose(at, page_key, case_id):
    return at.radio(key=f"{page_key}:case").set_value(case_id).run()


def key_of(page_key, lesson, case):
    return f"{page_key}:{lesson.id}" + ("" if case.id == "main" else f":{case.id}")


@pytest.mark.parametrize("page_key", list(CHAPTER_PAGES))
def test_every_case_of_every_chapter_page(page_key):
    at = open_app(PAGE_FILES[page_key])
    assert not at.exception and at.title[0].value == TITLES[page_key]
    (lesson,) = lessons_on_page(page_key)
    for case in lesson.all_cases:
        if case.id != "main":
            choose(at, page_key, case.id)
        key = key_of(page_key, lesson, case)
        at.button(key=f"{key}:backward").click().run()
        assert not at.exception
        if case.error:
            message = shown(at.error[0].value)
            assert message.startswith('PyTorch refused: "') and case.error in message.split("\n")[0]
            assert all(metric(at, f"{name}.grad") == "None" for name in lesson.defaults)
            continue
        assert not at.error
        for name, reference in reference_grads(lesson, case).items():
            on_screen = metric(at, f"{name}.grad")  # format_number: 4 significant digits
            if reference is None:
                assert on_screen == "None"
            else:
                assert torch.allclose(torch.tensor(json.loads(on_screen), dtype=torch.float32), reference,
                                      rtol=1e-3, atol=1e-6), (name, on_screen)
        assert players(at), "the player of the call"


@pytest.mark.parametrize("page_key", list(CHAPTER_PAGES))
def test_a_link_reopens_the_case_and_a_next_link_ends_the_page(page_key):
    (lesson,) = lessons_on_page(page_key)
    case = lesson.all_cases[-1]
    at = open_app("Home.py")  # the whole app, so links to other pages resolve
    at.query_params["case"] = case.id
    at.switch_page(PAGE_FILES[page_key]).run()
    assert not at.exception
    if lesson.cases:  # a lesson of one function has no chooser
        assert at.radio(key=f"{page_key}:case").value == case.id
    following = ORDER[ORDER.index(page_key) + 1]
    assert any(TITLES[following] in link.proto.label for link in at.get("page_link"))


def test_the_seed_ends_with_a_link_to_the_chapter():
    at = open_app("Home.py")
    at.switch_page(PAGE_FILES["exercises"]).run()
    first = next(iter(CHAPTER_PAGES))
    assert any(link.proto.label == f"Next: **{TITLES[first]}** →" for link in at.get("page_link"))


def test_an_unknown_case_in_a_link_is_a_warning():
    page_key = next(iter(CHAPTER_PAGES))
    at = open_app(PAGE_FILES[page_key], {"case": "nonsense"})
    assert not at.exception and "nonsense" in at.warning[0].value


@pytest.mark.parametrize("case_id", ["main", "no-grad", "frozen"])
def test_the_stop_gradient_page_says_y_is_not_in_the_graph(case_id):
    at = open_app(PAGE_FILES["stop-gradient"])
    if case_id != "main":
        choose(at, "stop-gradient", case_id)
    assert any("`y` is not in the graph" in info.value for info in at.info)
    key = "stop-gradient:stop-gradient" + ("" if case_id == "main" else f":{case_id}")
    at.button(key=f"{key}:backward").click().run()
    assert not at.exception and metric(at, "y.grad") == "None"
    svg = json.loads(players(at)[0].proto.json)["svg"]
    assert ">x<" in svg and ">y<" not in svg  # only x's leaf is drawn


def test_the_non_leaf_page_shows_h_grad_pytorchs_warning_and_the_hook():
    at = open_app(PAGE_FILES["non-leaf-grad"])
    at.button(key="non-leaf-grad:non-leaf-grad:backward").click().run()
    assert not at.exception and metric(at, "h.grad (not a leaf)") == "None"
    assert shown(at.warning[0].value).startswith('PyTorch warned: "The .grad attribute of a Tensor that is not a leaf')
    choose(at, "non-leaf-grad", "retain-grad")
    at.button(key="non-leaf-grad:non-leaf-grad:retain-grad:backward").click().run()
    assert metric(at, "h.grad (not a leaf)") == "12" and not at.warning
    choose(at, "non-leaf-grad", "hook-times-10")
    at.button(key="non-leaf-grad:non-leaf-grad:hook-times-10:backward").click().run()
    assert metric(at, "x.grad") == "240"
    assert any("from PowBackward0 to MulBackward0: 12 was sent, 120 arrived" in info.value for info in at.info)


def test_the_in_place_page_names_the_node_and_its_versions_then_the_fix_works():
    at = open_app(PAGE_FILES["in-place"])
    choose(at, "in-place", "mul-in-place")
    at.button(key="in-place:in-place:mul-in-place:backward").click().run()
    assert not at.exception and "modified by an inplace operation" in shown(at.error[0].value)
    assert any("**SigmoidBackward0**" in info.value and "version 0 when saved and is at version 1" in info.value
               for info in at.info)
    choose(at, "in-place", "main")
    at.button(key="in-place:in-place:backward").click().run()
    assert not at.exception and not at.error and metric(at, "x.grad") == "[0.5, 0.3932, 0.21]"
