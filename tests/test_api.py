"""The Python API (explorer.draw, explorer.animate) as a notebook or a script uses it.

Every gradient the API shows is held against torch.autograd.grad; every file it writes is
parsed back (SVG as XML, PNG by its signature and IHDR size, PDF by its header)."""

from __future__ import annotations

import html.parser
import json
import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
from torch import nn

import explorer
from explorer.core.report import session_report
from explorer.errors import ExplorerError
from explorer.functions.lessons import get_lesson
from explorer.play.player import standalone_html
from explorer.values import format_number, to_plain
from support import close

SVG = "{http://www.w3.org/2000/svg}"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first chunk, right after the signature)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def svg_texts(svg: str) -> list[str]:
    """Every <text> of an SVG, entities decoded (Graphviz writes a minus sign as &#45;)."""
    return [element.text for element in ET.fromstring(svg.encode()).iter(SVG + "text")]


class IframeSrcdoc(html.parser.HTMLParser):
    """The srcdoc of the first <iframe>, unescaped the way a browser unescapes an attribute."""

    def __init__(self, text: str):
        super().__init__()
        self.attrs: dict[str, str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "iframe" and self.attrs is None:
            self.attrs = dict(attrs)


def small_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    inputs, targets = torch.randn(5, 3), torch.randn(5, 1)
    return model, lambda: nn.functional.mse_loss(model(inputs), targets)


# -- draw -------------------------------------------------------------------------------------
def test_draw_names_leaves_keeps_saved_tensors_apart_and_labels_the_output():
    x = torch.tensor(3.0, requires_grad=True)
    diagram = explorer.draw(x**2, params={"x": x}, name="loss")
    kinds = [(node.kind, node.name) for node in diagram.graph.nodes]
    assert kinds == [("output", "loss"), ("op", "PowBackward0"), ("saved", "self"),
                     ("accumulate", "AccumulateGrad"), ("leaf", "x")]
    assert 'label="x\\n()\\n= 3"' in diagram.dot  # the leaf's name and value, not an address
    assert 'label="loss\\n()\\n= 9"' in diagram.dot
    assert 'label="self\\n()\\n= 3\\n(is x)"' in diagram.dot  # the saved x, drawn apart and named
    root = ET.fromstring(diagram.svg.encode("utf-8"))
    assert root.tag == SVG + "svg"
    assert {g.get("id") for g in root.iter(SVG + "g") if g.get("class", "").startswith("node")} == \
        {node.id for node in diagram.graph.nodes}


def test_inline_display_scales_to_the_cell_and_keeps_the_viewbox():
    x = torch.tensor(2.0, requires_grad=True)
    diagram = explorer.draw(x**3 + x, params={"x": x})
    bundle = diagram._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "image/svg+xml"}
    assert bundle["text/plain"] == repr(diagram) == "<Diagram of f: 6 nodes, 6 edges>"

    natural = ET.fromstring(diagram.svg.encode())
    image = ET.fromstring(bundle["image/svg+xml"].encode())  # a document on its own: namespaced
    assert image.get("viewBox") == natural.get("viewBox")
    assert (image.get("width"), image.get("height")) == (natural.get("width"), natural.get("height"))
    assert "max-width:100%" in image.get("style") and "height:auto" in image.get("style")

    div = ET.fromstring(bundle["text/html"].encode())
    assert div.tag == "div" and "overflow:auto" in div.get("style")
    inline = div.find(SVG + "svg")
    assert inline.get("width") == "100%" and inline.get("height") is None
    assert inline.get("viewBox") == natural.get("viewBox")
    assert f"max-width:{natural.get('width')}" in inline.get("style")
    assert bundle["text/html"] == diagram._repr_html_() and bundle["image/svg+xml"] == diagram._repr_svg_()
    assert set(diagram._repr_mimebundle_(include={"image/svg+xml"})) == {"image/svg+xml"}
    assert "text/html" not in diagram._repr_mimebundle_(exclude={"text/html"})


def test_draw_takes_a_module_for_names():
    model, loss = small_model()
    by_module = explorer.draw(loss(), params=model)
    by_dict = explorer.draw(loss(), params=dict(model.named_parameters()))
    names = sorted(node.name for node in by_module.graph.of_kind("leaf"))
    assert names == sorted(name for name, _ in model.named_parameters())
    assert by_module.dot == by_dict.dot


@pytest.mark.parametrize("make,words", [
    (lambda: torch.tensor(2.0) ** 2, "requires_grad=True"),
    (lambda: torch.tensor(2.0, requires_grad=True), "leaf tensor itself"),
    (lambda: 3.0, "must be a tensor"),
])
def test_draw_refuses_what_has_no_graph(make, words):
    with pytest.raises(ExplorerError, match=re.escape(words)):
        explorer.draw(make())


def test_save_chooses_the_format_by_extension(tmp_path):
    x = torch.tensor(3.0, requires_grad=True)
    diagram = explorer.draw(x**2, params={"x": x})
    assert (diagram.save(tmp_path / "g.dot")).read_text() == diagram.dot
    assert ET.parse(diagram.save(tmp_path / "g.svg")).getroot().tag == SVG + "svg"
    assert json.loads(diagram.save(tmp_path / "g.json").read_text()) == diagram.graph.to_dict()
    assert diagram.save(tmp_path / "g.pdf").read_bytes().startswith(b"%PDF-")
    small = png_size(diagram.save(tmp_path / "small.png").read_bytes())
    big = png_size(diagram.save(tmp_path / "big.PNG", dpi=192).read_bytes())
    assert big[0] > small[0] and big[1] > small[1]
    assert abs(big[0] / small[0] - 2) < 0.05  # twice the DPI, twice the pixels
    # The natural size in points at 96 DPI (Graphviz's default for PNG): pt * 96 / 72.
    width_pt = float(ET.fromstring(diagram.svg.encode()).get("width").removesuffix("pt"))
    assert abs(small[0] - width_pt * 96 / 72) <= 2


def test_save_refuses_an_unknown_format_or_a_missing_folder_and_writes_nothing(tmp_path):
    x = torch.tensor(3.0, requires_grad=True)
    diagram = explorer.draw(x**2, params={"x": x})
    with pytest.raises(ExplorerError) as caught:
        diagram.save(tmp_path / "graph.gif")
    assert all(f".{fmt}" in str(caught.value) for fmt in ("svg", "png", "pdf", "dot", "json"))
    with pytest.raises(ExplorerError, match="does not exist"):
        diagram.save(tmp_path / "missing" / "graph.svg")
    with pytest.raises(ExplorerError, match="dpi"):
        diagram.save(tmp_path / "graph.png", dpi=0)
    assert list(tmp_path.iterdir()) == []


# -- animate ----------------------------------------------------------------------------------
def test_animate_numbers_accumulates_like_the_lesson():
    lesson = get_lesson("accumulation")
    flow = explorer.animate(lesson.fn, lesson.defaults)  # three calls, no zeroing
    assert flow.session.grad_history("w") == lesson.expected_calls["none"]["w"]
    assert flow.animation.calls == 3
    change = [frame.change for frame in flow.animation.frames if frame.change][-1]
    assert (change.before, change.arrived, change.after) == (-4.0, -2.0, -6.0)
    assert [mark.grads["w"] for mark in flow.animation.history] == [-2.0, -4.0, -6.0]
    assert "grad = -6" in svg_texts(flow._repr_svg_())  # the static final state

    zeroed = explorer.animate(lesson.fn, lesson.defaults, zero="zero")
    assert zeroed.session.grad_history("w") == [-2.0, -2.0, -2.0]
    assert [m.action for m in zeroed.animation.history] == ["backward", "zero", "backward", "zero", "backward"]
    dropped = explorer.animate(lesson.fn, lesson.defaults, calls=2, zero="set-none")
    assert [m.action for m in dropped.animation.history] == ["backward", "set-none", "backward"]


def test_animate_a_models_loss_shows_pytorchs_gradients():
    model, loss = small_model()
    params = dict(model.named_parameters())
    expected = dict(zip(params, torch.autograd.grad(loss(), list(params.values()))))

    flow = explorer.animate(loss, params, calls=2, zero="set-none")  # fn() takes no arguments
    assert all(flow.session.leaves[name] is tensor for name, tensor in params.items())  # the model's own
    record = flow.record
    changes = {frame.change.name: frame.change.after for frame in flow.animation.frames if frame.change}
    leaf_texts = {}
    for frame in flow.animation.frames:
        leaf_texts.update(frame.leaf_grads)
    names_by_id = flow.animation.leaves
    for name, grad in expected.items():
        assert close(flow.grads[name], grad), name
        assert close(record.grads_after[name], grad), name
        assert close(changes[name], grad), name  # the number the player's frame carries
        assert close(params[name].grad, grad), name  # and the model's .grad, for real
        leaf_id = record.graph.leaf_named(name).id
        assert names_by_id[leaf_id] == name
        assert leaf_texts[leaf_id] == format_number(to_plain(grad))
    assert flow.animation.history[-1].grads.keys() == expected.keys()

    # Without zeroing, three calls pile up three times the gradient on the model's parameters.
    model.zero_grad(set_to_none=True)
    piled = explorer.animate(loss, model, calls=3)
    for name, grad in expected.items():
        assert close(piled.grads[name], 3 * grad), name


def test_animate_uses_a_leaf_as_it_is_and_copies_any_other_tensor():
    w = torch.tensor(1.0, requires_grad=True)
    flow = explorer.animate(lambda w: (w - 2) ** 2, {"w": w}, calls=2)
    assert flow.session.leaves["w"] is w and w.grad.item() == -4.0

    plain = torch.tensor([1.0, 2.0])
    flow = explorer.animate(lambda v: (v * v).sum(), {"v": plain}, calls=1)
    assert plain.grad is None and not plain.requires_grad
    assert flow.grads["v"] == [2.0, 4.0]
    listed = explorer.animate(lambda v: (v * v).sum(), {"v": [1, 2]}, calls=1)
    assert listed.grads["v"] == [2.0, 4.0]


@pytest.mark.parametrize("call,words", [
    (lambda: explorer.animate(lambda: torch.tensor(1.0), {"x": 3.0}), "takes no arguments"),
    (lambda: explorer.animate(lambda: torch.tensor(1.0), {"x": torch.tensor(3.0)}), "does not require grad"),
    (lambda: explorer.animate(lambda x: x * 2, {"x": torch.tensor(3.0, requires_grad=True) * 2}), "not a leaf"),
    (lambda: explorer.animate(lambda x: x * 2, {"x": torch.tensor(3)}), "floating-point"),
    (lambda: explorer.animate(lambda x: x**2, {"x": 3.0}, calls=0), "calls must be"),
    (lambda: explorer.animate(lambda x: x**2, {"x": 3.0}, zero="sometimes"), "Unknown zero"),
    (lambda: explorer.animate(lambda x: x**2, {"x": "three"}), "must be a number"),
    (lambda: explorer.animate(lambda x: x * 1, {"x": [1.0, 2.0]}), "single number"),
])
def test_animate_says_what_is_wrong(call, words):
    with pytest.raises(ExplorerError, match=re.escape(words)):
        call()


def test_flow_displays_the_player_in_an_iframe_and_a_static_svg():
    lesson = get_lesson("exercise-2")
    title = 'Quotes " and <tags> & ampersands'
    flow = explorer.animate(lesson.fn, lesson.defaults, calls=1, title=title)
    bundle = flow._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "image/svg+xml"}
    frame = IframeSrcdoc(bundle["text/html"]).attrs
    assert frame["srcdoc"] == standalone_html(flow.animation, title) == flow.html  # escaped, and back intact
    assert frame["sandbox"] == "allow-scripts"  # scripts run, isolated from the notebook's page
    assert "<script" not in bundle["text/html"].split("srcdoc=", 1)[1].split('"', 2)[1]  # nothing unescaped
    texts = svg_texts(bundle["image/svg+xml"])
    assert "grad = 13" in texts and "grad = 25.5" in texts
    assert bundle["text/plain"] == repr(flow) and "x.grad = 13" in repr(flow)


def test_flow_saves_html_json_and_pictures(tmp_path):
    lesson = get_lesson("requires-grad")
    flow = explorer.animate(lesson.fn, lesson.defaults, calls=3)
    page = flow.save(tmp_path / "flow.html").read_text(encoding="utf-8")
    assert page == flow.html and page.startswith("<!DOCTYPE html>")
    report = json.loads(flow.save(tmp_path / "flow.json").read_text())
    assert report == json.loads(json.dumps(session_report("f", flow.session)))
    assert [call["grads_after"]["x"] for call in report["calls"]] == [6.0, 12.0, 18.0]
    assert "grad = 18" in svg_texts(flow.save(tmp_path / "final.svg").read_text())
    assert flow.save(tmp_path / "final.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ExplorerError, match=r"\.html"):
        flow.save(tmp_path / "flow.mp4")


def test_nothing_in_the_api_assumes_the_cpu():
    """Values are copied with .detach().to("cpu") in values.to_plain; no module calls .numpy()."""
    root = Path(explorer.__file__).parent
    for path in root.rglob("*.py"):
        source, name = path.read_text(), str(path.relative_to(root))
        assert ".numpy(" not in source and ".cuda(" not in source, name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
def test_animate_on_the_gpu():  # pragma: no cover - runs where CUDA is available
    model, _ = small_model()
    model = model.cuda()
    inputs, targets = torch.randn(5, 3, device="cuda"), torch.randn(5, 1, device="cuda")
    loss = lambda: nn.functional.mse_loss(model(inputs), targets)  # noqa: E731
    params = dict(model.named_parameters())
    expected = torch.autograd.grad(loss(), list(params.values()))
    flow = explorer.animate(loss, params, calls=1)
    for (name, _), grad in zip(params.items(), expected):
        assert close(flow.grads[name], grad.cpu()), name


def test_a_session_takes_calls_in_any_order_and_animates_them():
    s = explorer.session(lambda x, y: x ** 2 * y, {"x": 3.0, "y": 2.0})
    with pytest.raises(ExplorerError, match="nothing to animate"):
        explorer.animate_session(s)
    s.backward()
    s.zero_grad("set-none")
    s.backward(retain_graph=True)
    s.backward_same_graph()
    flow = explorer.animate_session(s, title="mine")
    x, y = torch.tensor(3.0, requires_grad=True), torch.tensor(2.0, requires_grad=True)
    gx, gy = torch.autograd.grad(x ** 2 * y, [x, y])
    assert close(flow.grads["x"], 2 * gx) and close(flow.grads["y"], 2 * gy)  # None, then two calls
    assert [mark.action for mark in flow.animation.history] == [
        "backward", "set-none", "backward", "backward-same-graph"]
    assert flow.title == "mine" and flow.animation.calls == 3


@pytest.mark.parametrize("fn, params, words", [
    (lambda x: x * 2, {"y": 1.0}, "fn takes x, but params gives y"),
    (lambda x, y: x * y, {"x": 1.0}, "fn takes x, y, but params gives x"),
    (lambda x: x.sum(), {"x": [[1.0, 2.0], [3.0]]}, "x must be a list of numbers with one length per level"),
    (lambda x: x.sum(), {"x": [1.0, "a"]}, "x must be a list of numbers"),
])
def test_mistakes_in_params_are_explained(fn, params, words):
    with pytest.raises(ExplorerError, match=re.escape(words)):
        explorer.animate(fn, params)


def test_grads_of_a_big_tensor_are_every_element():
    layer = nn.Linear(5, 4)
    inputs = torch.randn(3, 5)
    flow = explorer.animate(lambda: layer(inputs).sum(), layer, calls=1)
    expected = torch.autograd.grad(layer(inputs).sum(), [layer.weight])[0]
    assert close(flow.grads["weight"], expected)  # 20 elements: more than a drawing shows
    assert close(flow.report()["grads"]["weight"], expected)


def test_a_million_element_leaf_is_summarized_in_displays_but_whole_in_grads():
    x = torch.randn(1_000_000, requires_grad=True)
    flow = explorer.animate(lambda x: (x * 2).sum(), {"x": x}, calls=1)
    text = repr(flow)
    assert "x.grad = tensor of shape (1000000,)" in text and len(text) < 300
    bundle = flow._repr_mimebundle_()
    assert bundle["text/plain"] == text
    # Every element written out would be several MB; the display is a summary of the player and picture.
    assert sum(len(part) for part in bundle.values()) < 500_000
    grads = flow.grads["x"]  # asked for: every element, as PyTorch computed it
    assert len(grads) == 1_000_000 and close(grads, torch.full((1_000_000,), 2.0))


def vector_jacobian(fn, value: list[float], seed: list[float]) -> torch.Tensor:
    leaf = torch.tensor(value, requires_grad=True)
    return torch.autograd.grad(fn(leaf), [leaf], grad_outputs=torch.tensor(seed))[0]


@pytest.mark.parametrize("seed", [torch.tensor([1.0, 0.5, -1.0]), [1.0, 0.5, -1.0]])
def test_a_non_scalar_output_is_animated_with_the_seed_given(seed):
    fn = lambda v: v ** 2 * torch.tensor([1.0, 2.0, 3.0])
    flow = explorer.animate(fn, {"v": [1.0, 2.0, 3.0]}, calls=2, gradient=seed)
    once = vector_jacobian(fn, [1.0, 2.0, 3.0], [1.0, 0.5, -1.0])
    assert close(flow.grads["v"], 2 * once)  # two calls: .grad holds twice the vector-Jacobian product
    first = flow.animation.frames[0].caption
    assert "f.backward(gradient=[1, 0.5, -1])" in first and "v·J" in first


def test_a_non_scalar_output_without_a_seed_gets_pytorchs_refusal_and_the_way_out():
    with pytest.raises(ExplorerError) as refused:
        explorer.animate(lambda v: v * 2, {"v": [1.0, 2.0]})
    text = str(refused.value)
    assert "grad can be implicitly created only for scalar outputs" in text  # PyTorch's own words
    assert "gradient=v" in text


@pytest.mark.parametrize("seed, words", [
    ([1.0, 2.0, 3.0], "must have the shape of f, (2,)"),
    ("a", "gradient must be a tensor, a number or a list of numbers"),
    (torch.tensor([1, 2]), "gradient must hold floating-point numbers"),
])
def test_a_wrong_seed_is_explained(seed, words):
    with pytest.raises(ExplorerError, match=re.escape(words)):
        explorer.animate(lambda v: v * 2, {"v": [1.0, 2.0]}, gradient=seed)


def test_the_widget_takes_the_seed_too():
    fn = lambda v: v.sin()
    live = explorer.widget(fn, {"v": [0.5, 1.0]}, gradient=[2.0, -1.0])
    live.backward()
    live.backward()
    assert close(live.grads["v"], 2 * vector_jacobian(fn, [0.5, 1.0], [2.0, -1.0]))


def test_a_complex_output_gets_pytorchs_refusal_and_the_way_out():
    with pytest.raises(ExplorerError) as refused:
        explorer.animate(lambda z: (z * z).sum(), {"z": torch.tensor([1 + 2j])})
    text = str(refused.value)
    assert "grad can be implicitly created only for real scalar outputs" in text  # PyTorch's own words
    assert "f.abs()" in text and "gradient=v" in text


def test_complex_leaves_with_a_real_output_give_pytorchs_gradients():
    z = torch.tensor([1 + 2j, -0.5j], requires_grad=True)
    fn = lambda z: (z * z).abs().sum()
    flow = explorer.animate(fn, {"z": z}, calls=2)
    fresh = z.detach().clone().requires_grad_()
    (once,) = torch.autograd.grad(fn(fresh), [fresh])
    assert torch.allclose(z.grad, 2 * once)  # the caller's own tensor, after two real calls
    assert flow.grads["z"] == explorer.values.complex_text((2 * once).tolist())  # complex values are text
    assert "(4+8j)" in flow.grads["z"] and "z.grad = [(4+8j)" in repr(flow)


def test_anything_else_pytorch_refuses_mid_pass_is_an_explorer_error_with_its_words():
    def fn(x):
        h = x * 2
        h.register_hook(lambda grad: grad.sum())  # a hook that changes the gradient's shape
        return h.sum()

    with pytest.raises(ExplorerError) as refused:
        explorer.animate(fn, {"x": [1.0, 2.0]})
    assert "hook '<lambda>' has changed the size of value" in str(refused.value)  # PyTorch's words
