"""explorer.widget's Python side: the browser's click messages (each applied once, in order), the
same presses from code, plain traits, the static fallback. Gradients against torch.autograd.grad
at 1e-6 (float32)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import explorer
from explorer.core.buttons import BUTTONS, press, start_over
from explorer.core.calls import BackwardSession
from explorer.errors import ExplorerError, GraphFreedError
from explorer.drawing.legend import DARK, LIGHT
from explorer.play.widget import Widget

TOL = dict(rtol=1e-6, atol=1e-6)


def click(w: Widget, name: str, seq: int, view: str = "view-a", retain: bool = False) -> None:
    """What widget.mjs sends for one click."""
    w._handle_custom_msg({"press": name, "seq": seq, "view": view, "retain": retain}, [])


def autograd_grad(fn, value: float) -> float:
    x = torch.tensor(value, requires_grad=True)
    return torch.autograd.grad(fn(x), x)[0].item()


def square(x):
    return x ** 2


def test_two_clicks_are_two_real_calls_on_the_callers_tensor():
    x = torch.tensor(3.0, requires_grad=True)
    w = explorer.widget(square, {"x": x})
    assert w.animation == {} and "<svg" in w.graph_svg  # the graph before any call
    assert w.status == "x.grad = None (after 0 backward calls)"
    click(w, "backward", 1)
    click(w, "backward", 2)
    torch.testing.assert_close(x.grad, torch.tensor(2 * autograd_grad(square, 3.0)), **TOL)
    assert w.grads == {"x": 12.0} and w.status == "x.grad = 12 (after 2 backward calls)"
    assert w.applied == {"view-a": 2}
    # the picture is the second call's: its strip holds both calls, 6 then 12
    entries = w.animation["history"]["entries"]
    assert [entry["grads"]["x"] for entry in entries] == [6.0, 12.0]
    assert w.animation["autoplay"] is True and w.graph_svg == ""


def test_a_click_number_is_applied_once_and_never_out_of_order():
    w = explorer.widget(square, {"x": 3.0})
    click(w, "backward", 1)
    click(w, "backward", 1)  # sent twice: one call
    click(w, "backward", 3)
    click(w, "backward", 2)  # older than one applied: dropped
    assert w.grads == {"x": 12.0} and w.applied == {"view-a": 3}
    # another view (the same widget displayed twice) numbers its own clicks
    click(w, "backward", 1, view="view-b")
    assert w.grads == {"x": 18.0} and w.applied == {"view-a": 3, "view-b": 1}


@pytest.mark.parametrize("content", [
    None, [], "backward", {}, {"press": "backward"}, {"press": "explode", "seq": 1, "view": "v", "retain": False},
    {"press": "backward", "seq": "1", "view": "v", "retain": False},
    {"press": "backward", "seq": True, "view": "v", "retain": False},
    {"press": "backward", "seq": 1.0, "view": "v", "retain": False},
    {"press": "backward", "seq": 1, "view": "", "retain": False},
    {"press": "backward", "seq": 1, "view": "v" * 65, "retain": False},
    {"press": "backward", "seq": 1, "view": "v", "retain": "yes"},
])
def test_a_message_that_is_not_a_click_changes_nothing(content):
    w = explorer.widget(square, {"x": 3.0})
    w._handle_custom_msg(content, [])
    assert w.grads == {"x": None} and w.applied == {} and w.session.history == []


def test_every_button_by_message():
    fn = lambda w: (w - 2) ** 2  # noqa: E731
    one = autograd_grad(fn, 1.0)  # -2
    w = explorer.widget(fn, {"w": 1.0})
    click(w, "backward", 1, retain=True)
    click(w, "again", 2)  # the same graph, kept by retain_graph: accumulates
    assert w.grads["w"] == pytest.approx(2 * one, rel=1e-6, abs=1e-6)
    click(w, "again", 3)  # freed now: PyTorch's refusal, as a message; .grad untouched
    assert w.message.startswith('PyTorch refused: "Trying to backward through the graph a second time')
    assert w.grads["w"] == pytest.approx(2 * one, rel=1e-6, abs=1e-6)
    click(w, "zero", 4)
    assert w.grads == {"w": 0.0} and w.message == ""
    click(w, "backward", 5)
    assert w.grads["w"] == pytest.approx(one, rel=1e-6, abs=1e-6)
    click(w, "none", 6)
    assert w.grads == {"w": None}
    assert w.session.actions_code() == "Baazbn"
    click(w, "reset", 7)
    assert w.session.history == [] and w.grads == {"w": None} and w.animation == {} and "<svg" in w.graph_svg


def test_the_same_presses_from_code():
    x = torch.tensor(3.0, requires_grad=True)
    w = explorer.widget(square, {"x": x}, calls=1)
    assert w.grads == {"x": pytest.approx(autograd_grad(square, 3.0), rel=1e-6, abs=1e-6)}
    assert w.animation["autoplay"] is False  # made before display: nothing to play by itself
    with pytest.raises(GraphFreedError):
        w.backward_same_graph()
    assert "a second time" in w.message
    w.backward()
    assert w.message == "" and x.grad.item() == pytest.approx(12.0, rel=1e-6, abs=1e-6)
    w.zero_grad("zero")
    assert x.grad.item() == 0.0
    w.zero_grad(None)  # leave it: nothing happens, nothing recorded
    assert w.session.actions_code() == "babz"  # the refusal is in the history (a)
    w.zero_grad("set-none")
    assert x.grad is None
    w.backward()
    w.start_over()
    assert w.session.leaves["x"] is x and x.grad is None and w.session.history == []
    with pytest.raises(ExplorerError, match="Unknown zeroing"):
        w.zero_grad("zeros")


def test_a_model_through_the_widget():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))
    inputs, targets = torch.randn(4, 3), torch.randn(4, 1)
    loss = lambda: nn.functional.mse_loss(model(inputs), targets)  # noqa: E731
    w = explorer.widget(loss, dict(model.named_parameters()))
    click(w, "backward", 1)
    expected = torch.autograd.grad(loss(), list(model.parameters()))
    for (name, parameter), want in zip(model.named_parameters(), expected):
        torch.testing.assert_close(parameter.grad, want, **TOL)
        torch.testing.assert_close(torch.tensor(w.grads[name]), want, **TOL)


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def test_the_synced_state_is_plain_data():
    w = explorer.widget(square, {"x": 3.0})
    click(w, "backward", 1)
    state = w.get_state()
    json.dumps(state)  # what goes over the wire
    assert _plain(state)
    assert [row[0] for row in state["buttons"]] == list(BUTTONS)
    assert state["buttons"][0][1] == "Call .backward()" and "x.grad" in state["buttons"][1][2]
    assert not any(isinstance(value, torch.Tensor) for value in vars(w).values() if value is not w.session.leaves)


def test_without_a_kernel_the_output_keeps_the_static_graph():
    w = explorer.widget(square, {"x": 3.0}, calls=2)
    data, _ = w._repr_mimebundle_()
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == w.model_id
    assert "<svg" in data["text/html"] and "x.grad = 12" in data["text/html"]
    assert data["image/svg+xml"].lstrip().startswith("<svg") and "grad = 12" in data["image/svg+xml"]
    before = explorer.widget(square, {"x": 3.0})._repr_mimebundle_()[0]
    assert "<svg" in before["image/svg+xml"] and "x.grad = None" in before["text/html"]


@pytest.mark.parametrize("call, message", [
    (lambda: explorer.widget(square, {"x": "three"}), "x"),
    (lambda: explorer.widget(square, {"x": 3.0}, calls=-1), "0 or more"),
    (lambda: explorer.widget(square, {"x": 3.0}, zero="sometimes"), "Unknown zeroing"),
    (lambda: explorer.widget(42, {"x": 3.0}), "fn must be a function"),
    (lambda: explorer.widget(square, {"y": 3.0}), "fn takes x"),
])
def test_bad_input_is_one_line(call, message):
    with pytest.raises(ExplorerError, match=message) as raised:
        call()
    assert "\n" not in str(raised.value)


def test_press_is_the_pages_and_the_widgets_one_logic():
    session = BackwardSession(square, {"x": 3.0})
    assert press(session, "backward") is session and session.grads() == {"x": 6.0}
    with pytest.raises(ExplorerError, match="Unknown button"):
        press(session, "jump")
    fresh = press(session, "reset", prelude="b")  # numbers' leaves are made again, the prelude redone
    assert fresh is not session and fresh.leaves["x"] is not session.leaves["x"]
    assert fresh.grads() == {"x": 6.0} and fresh.actions_code() == "b"
    x = torch.tensor(2.0, requires_grad=True)
    given = explorer.session(square, {"x": x})
    given.backward()
    again = start_over(given)
    assert again.leaves["x"] is x and x.grad is None and again.history == []


def test_the_readme_widget_example_runs():
    """README.md, "A live widget": its code as written, and what its comments say."""
    import re
    from support import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n### A live widget: `explorer.widget`\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    names: dict = {}
    lines = code.splitlines()
    grads_line = next(i for i, line in enumerate(lines) if line.startswith("w.grads"))
    exec(compile("\n".join(lines[:grads_line]), "README.md", "exec"), names)  # noqa: S102 - our own README
    w = names["w"]
    assert w.grads == {"x": 12.0} and names["x"].grad.item() == pytest.approx(12.0, rel=1e-6, abs=1e-6)
    assert w.status == "x.grad = 12 (after 2 backward calls)"
    exec(compile("\n".join(lines[grads_line:]), "README.md", "exec"), names)  # noqa: S102
    assert names["x"].grad is None


def test_a_dark_notebook_gets_the_picture_in_the_dark_look_with_the_same_calls():
    w = explorer.widget(square, {"x": 3.0})
    w.dark = True  # what widget.mjs sets when the notebook's theme is dark
    assert DARK.background in w.graph_svg and LIGHT.background not in w.graph_svg  # the graph before any call
    click(w, "backward", 1)
    click(w, "backward", 2)
    dark_story = w.animation["story"]
    assert w.animation["dark"] and w.animation["palette"]["background"] == DARK.background
    w.dark = False
    assert not w.animation["dark"] and w.animation["palette"]["background"] == LIGHT.background
    assert w.animation["story"] == dark_story  # the same calls: the player keeps its step in the new look
    assert w.grads == {"x": 2 * autograd_grad(square, 3.0)}
    assert not w.animation["autoplay"]  # a new look is not a new call
