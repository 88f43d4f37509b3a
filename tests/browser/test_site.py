"""The static site, the exported HTML and a notebook's saved outputs, opened from disk in Debian's
Chromium with every request that is not the file itself refused (and the refusals asserted away).

What the pages show is held against PyTorch: after End, each leaf's .grad text in the player is
what torch.autograd.grad (or repeated .backward() calls) gives.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest
import torch
from playwright.sync_api import expect

from explorer.io.export import export_lesson
from explorer.functions.lessons import all_lessons, get_lesson
from explorer.io.notebook import build_notebook, lesson_recipe
from explorer.io.site import INDEX, page_name, site_calls, write_site
from explorer.values import format_number, to_plain

from browser_support import screenshot

ROOT = ".agp-root"
URL = re.compile(r"https?://[^\s\"'<>)]*")
NAMESPACE_URLS = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    write_site(folder)
    return folder


def pytorch_grads(lesson, calls: int = 1) -> dict[str, float | list | None]:
    """The leaves' .grad after `calls` backward calls without zeroing, straight from PyTorch (a
    number for a scalar leaf, nested lists for a vector's, None for a leaf the graph never reaches)."""
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in lesson.defaults.items()}
    grads = {name: None for name in leaves}
    for _ in range(calls):
        found = torch.autograd.grad(lesson.fn(**leaves), list(leaves.values()), allow_unused=True)
        for name, grad in zip(leaves, found):
            if grad is not None:
                grads[name] = grad if grads[name] is None else grads[name] + grad
    return {name: to_plain(grad) for name, grad in grads.items()}


def shown_grads(frame, names) -> dict[str, str]:
    """Each named leaf's .grad text in the player's SVG: the grad line of the leaf node that has the
    leaf's name as a line of its label, as a reader finds it (text_content fails if two match)."""
    return {name: frame.locator(f"{ROOT} g.node.kind-leaf:has(> text:text-is('{name}')) text.grad-value").text_content()
            for name in names}


def press_end(page, frame) -> None:
    root = frame.locator(ROOT)
    root.focus()
    page.keyboard.press("End")
    expect(root.locator(".agp-count")).to_have_text("end")  # what the reader sees at the last frame
    assert root.get_attribute("data-step") == str(int(root.get_attribute("data-frames")) - 1)


def assert_grads_match(page, frame, lesson, calls: int) -> None:
    press_end(page, frame)
    expected = pytorch_grads(lesson, calls)
    reached = {name: grad for name, grad in expected.items() if grad is not None}
    for name, text in shown_grads(frame, reached).items():
        assert text == f"grad = {format_number(reached[name])}", name
        shown = torch.tensor(json.loads(text.split("=")[1]), dtype=torch.float64)
        assert torch.allclose(shown, torch.tensor(reached[name], dtype=torch.float64), rtol=1e-4, atol=1e-6), name
    for name in expected.keys() - reached.keys():  # cut off from the graph: not drawn as a leaf of it
        expect(frame.locator(f"{ROOT} g.node.kind-leaf:has(> text:text-is('{name}'))")).to_have_count(0)


def test_site_has_no_external_url_and_only_relative_links(site):
    names = sorted(path.name for path in site.iterdir())
    assert names == sorted([INDEX] + [page_name(lesson) for lesson in all_lessons()])
    for path in site.iterdir():
        text = path.read_text(encoding="utf-8")
        assert [url for url in URL.findall(text) if url not in NAMESPACE_URLS] == [], path.name
        assert not re.search(r"\ssrc=", text), path.name  # nothing is loaded from anywhere
        for link in re.findall(r'href="([^"]*)"', text):
            assert ":" not in link and not link.startswith("/"), (path.name, link)  # relative: works anywhere
            assert (site / link).is_file(), (path.name, link)
    index = (site / INDEX).read_text(encoding="utf-8")
    assert all(f'href="{page_name(lesson)}"' in index for lesson in all_lessons())


def test_site_opens_from_disk_and_plays_pytorchs_gradients(offline, site):
    page = offline
    page.goto((site / INDEX).as_uri())
    lesson = get_lesson("accumulation")
    page.click(f"a[href='{page_name(lesson)}']")
    page.wait_for_selector(f"{ROOT}[data-step='0']")
    assert page.url.endswith(f"/{page_name(lesson)}")
    assert page.locator("pre.lesson-code").text_content() == lesson.source.rstrip()
    assert "`.backward()` never overwrites" not in page.content()  # markdown was turned into HTML
    assert page.locator(".lesson-text code").first.text_content() == ".backward()"
    screenshot(page, "site-accumulation-start")
    assert_grads_match(page, page.main_frame, lesson, site_calls(lesson))  # three calls: w.grad = -6
    assert page.locator(".agp-chip .agp-value").all_text_contents() == ["-2", "-4", "-6"]
    screenshot(page, "site-accumulation-end")

    page.click("a[rel='next']")
    following = get_lesson("by-hand")
    page.wait_for_selector(f"{ROOT}[data-step='0']")
    assert page.locator("h1").text_content() == following.title
    assert_grads_match(page, page.main_frame, following, site_calls(following))
    page.click(f"a[href='{INDEX}']")
    assert page.url.endswith(f"/{INDEX}") and page.locator("h1").text_content() == "Autograd Explorer"
    screenshot(page, "site-index")


def test_every_site_page_plays_to_pytorchs_result(offline, site):
    page = offline
    for lesson in all_lessons():
        page.goto((site / page_name(lesson)).as_uri())
        page.wait_for_selector(f"{ROOT}[data-step='0']")
        assert_grads_match(page, page.main_frame, lesson, site_calls(lesson))


def test_exported_html_plays_from_disk(offline, tmp_path):
    lesson = get_lesson("exercise-2")
    path = export_lesson(lesson.id, "html", tmp_path / "exercise-2.html")
    text = path.read_text(encoding="utf-8")
    assert [url for url in URL.findall(text) if url not in NAMESPACE_URLS] == []
    page = offline
    page.goto(path.as_uri())
    page.wait_for_selector(f"{ROOT}[data-step='0']")
    assert_grads_match(page, page.main_frame, lesson, 1)  # 13 and 25.5


def test_a_notebooks_saved_outputs_display_and_play(offline, tmp_path):
    """The outputs as a notebook front end shows them: text/html as it is (the player's iframe), and
    image/svg+xml as an <img>, in a column narrower than the graph; nothing clipped."""
    lesson = get_lesson("exercise-2")
    notebook = build_notebook(lesson_recipe(lesson))
    graph, flow = (next(c for c in notebook.cells if c.get("id") == name) for name in ("graph", "flow"))
    diagram_html = graph.outputs[1].data["text/html"]
    picture = urllib.parse.quote(flow.outputs[0].data["image/svg+xml"])
    page_text = f"""<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
<div id="narrow" style="width:160px">{diagram_html}</div>
<div id="static" style="width:160px"><img style="max-width:100%;height:auto" src="data:image/svg+xml,{picture}"></div>
<div id="cell" style="width:820px">{flow.outputs[0].data["text/html"]}</div>
</body></html>"""
    path = tmp_path / "outputs.html"
    path.write_text(page_text, encoding="utf-8")
    page = offline
    page.goto(path.as_uri())

    for selector in ("#narrow svg", "#static img"):
        box = page.locator(selector).bounding_box()
        natural = page.locator(selector).evaluate(
            "e => e.viewBox ? {width: e.viewBox.baseVal.width, height: e.viewBox.baseVal.height}"
            " : {width: e.naturalWidth, height: e.naturalHeight}")
        assert box["width"] <= 160.5, selector  # scaled down to the column
        assert abs(box["height"] / box["width"] - natural["height"] / natural["width"]) < 0.02, selector  # whole

    frame = page.frame_locator("#cell iframe")
    frame.locator(f"{ROOT}[data-step='0']").wait_for()
    inner = page.frames[1]
    scroll, client = inner.evaluate("() => [document.documentElement.scrollHeight, document.documentElement.clientHeight]")
    assert scroll <= client  # the iframe is tall enough for the whole player
    assert_grads_match(page, inner, lesson, 1)
    screenshot(page, "notebook-outputs")
