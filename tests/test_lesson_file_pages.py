"""A lesson folder in the app (AppTest): the folder named by AUTOGRAD_EXPLORER_LESSONS shows under
its own heading, each file a page with what a built-in lesson page has (predict first where EXPECTED
is given, the player, the check by hand, downloads with a notebook, a next link), every number
PyTorch's; a broken file is named with its line on the home page and the other pages work."""

from __future__ import annotations

import shutil

import pytest
import torch
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash
from support import APP, APPTEST_TIMEOUT, ROOT, close, metric, open_tab, players, shown

from explorer.functions.lesson_files import LESSONS_VARIABLE, OWN_LESSONS_HEADING

EXAMPLES = ROOT / "examples" / "lessons"


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The app's entrypoint with the examples and a broken file as its lesson folder, on its home page."""
    folder = tmp_path / "lessons"
    shutil.copytree(EXAMPLES, folder)
    (folder / "broken.py").write_text('"""Broken"""\n\ndef f(x="one"):\n    return x\n', encoding="utf-8")
    monkeypatch.setenv(LESSONS_VARIABLE, str(folder))
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=APPTEST_TIMEOUT).run()
    at.folder = folder
    return at


def open_lesson(at, lesson_id: str, query: dict | None = None):
    """Go to a lesson file's page as a click on its link does: Streamlit names a page by the hash
    of its url_path, and a callable page has no file for AppTest.switch_page to take."""
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at._page_hash = calc_hash(lesson_id)
    return at.run()


def neuron_grads(w=0.5, x=2.0, b=-0.5) -> dict[str, float]:
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in zip("wxb", (w, x, b))}
    grads = torch.autograd.grad(torch.tanh(leaves["w"] * leaves["x"] + leaves["b"]), list(leaves.values()))
    return {name: grad.item() for name, grad in zip(leaves, grads)}


def test_the_home_page_lists_the_folder_under_its_heading_and_names_the_broken_file(app):
    assert not app.exception
    headings = [subheader.value for subheader in app.subheader]
    assert headings.index(OWN_LESSONS_HEADING) == headings.index("Your own functions") - 1
    labels = [link.proto.label for link in app.get("page_link")]
    assert any(label.startswith("**One neuron: tanh(w * x + b)**: A neuron weighs its input") for label in labels)
    assert any(label.startswith("**Three steps of a loss, cleared between them**") for label in labels)
    (error,) = app.error
    # By the file's name alone: no page says where the server keeps its files.
    assert shown(error.value) == ("broken.py:3: the default of x, 'one': a leaf's value must be a "
                                  "number (3.0) or a list of numbers ([1, 2, 3], [[1, 2], [3, 4]]).")


def test_a_lesson_file_page_predicts_first_then_shows_autograd_beside_the_check_by_hand(app):
    at = open_lesson(app, "neuron")
    assert not at.exception and at.title[0].value == "One neuron: tanh(w * x + b)"
    assert at.code[0].value.startswith("import math\n\nimport torch\n\n\ndef f(w=0.5, x=2.0, b=-0.5):")
    # EXPECTED is given, so the page asks first: no gradient anywhere until the check.
    assert at.toggle(key="neuron:neuron:predict").value is True
    assert not [m for m in at.metric if m.label.endswith(".grad")] and not players(at)
    grads = neuron_grads()
    at.text_input(key="neuron:neuron:guess:w").set_value(f"{grads['w']:.4f}")
    at.text_input(key="neuron:neuron:guess:x").set_value(f"{grads['x']:.4f}")
    at.text_input(key="neuron:neuron:guess:b").set_value("1")  # wrong: forgot tanh's local derivative
    at.button(key="neuron:neuron:check").click().run()
    assert not at.exception
    for name, grad in grads.items():
        assert close(float(metric(at, f"{name}.grad")), grad, atol=1e-3, rtol=1e-3)  # shown to 4 digits
    by_hand = next(table for table in at.table if "by hand" in table.value.columns)
    assert list(by_hand.value["agree"]) == ["yes", "yes", "yes"]
    assert len(players(at)) == 1
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels == ["DOT", "SVG", "PNG", "HTML", "JSON", "Notebook"]
    assert any(link.proto.label == "Next: **Three steps of a loss, cleared between them** →"
               for link in at.get("page_link"))


def test_a_lesson_file_page_takes_values_from_its_link(app):
    at = open_lesson(app, "neuron", {"w": "1", "b": "0", "predict": "0"})
    at.button(key="neuron:neuron:backward").click().run()
    assert not at.exception
    for name, grad in neuron_grads(w=1.0, b=0.0).items():
        assert close(float(metric(at, f"{name}.grad")), grad, atol=1e-3, rtol=1e-3)


def test_calls_and_zero_open_the_page_on_those_calls(app):
    at = open_lesson(app, "training-steps")
    assert not at.exception and at.title[0].value == "Three steps of a loss, cleared between them"
    # CALLS = 3, ZERO = "zero": backward, zero_(), backward, zero_(), backward, made when the page opened.
    open_tab(at, "training-steps:training-steps", "History of calls")
    history = next(table for table in at.table if "action" in table.value.columns)
    assert list(history.value["action"]) == ["backward", "zero_()", "backward", "zero_()", "backward"]
    v = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
    (grad,) = torch.autograd.grad(((v - torch.tensor([1.0, -1.0, 0.5])) ** 2).sum(), [v])
    assert metric(at, "v.grad") == "[" + ", ".join(f"{value:g}" for value in grad.tolist()) + "]"
    # A vector's value box takes a list; a value that is not one gets a message and the page goes on.
    at.text_input(key="training-steps:training-steps:value:v").set_value("[1, 2").run()
    assert not at.exception and "must end with ]" in shown(at.error[0].value)


def test_lecturer_modes_bar_runs_through_the_folders_pages(app):
    at = open_lesson(app, "training-steps")
    at.toggle(key="lecturer-mode").set_value(True).run()
    assert not at.exception
    labels = [link.proto.label for link in at.get("page_link")]
    assert "← One neuron: tanh(w * x + b)" in labels and "Playground →" in labels
    assert "Three steps of a loss, cleared between them" in labels  # the menu of every page


def test_a_file_changed_while_the_server_runs_is_read_again(app):
    neuron = app.folder / "neuron.py"
    neuron.write_text(neuron.read_text(encoding="utf-8").replace('"w": 1.5729', '"w": 2.5'), encoding="utf-8")
    at = app.run()
    assert not at.exception
    problems = sorted(shown(error.value) for error in at.error)
    assert len(problems) == 2 and problems[1].startswith("neuron.py:20: EXPECTED gives w.grad = 2.5, but autograd gives 1.5729")
    assert not any("One neuron" in link.proto.label for link in at.get("page_link"))
