"""Exports: every format of every lesson, parsed back; deterministic bytes; atomic writes; the CLI's
`export` and `site` (in this process, and end to end in a real one); the app's buttons."""

from __future__ import annotations

import json
import os
import re
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
import torch

from explorer.io import export
from explorer.core.calls import BackwardSession, run_calls
from explorer.errors import ExplorerError
from explorer.functions.expr import parse_expression
from explorer.functions.lessons import get_lesson, lesson_ids
from explorer.drawing.diagram import fixed_pdf_date
from explorer.drawing.render import _layout
from support import close, run_cli, run_process
from test_api import png_size, svg_texts

ROOT = Path(__file__).resolve().parents[1]
URL = re.compile(r"https?://[^\s\"'<>)]*")
NAMESPACE_URLS = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink")


def external_urls(text: str) -> list[str]:
    """URLs that a browser could fetch: everything but the SVG namespace names (never fetched)."""
    return [url for url in URL.findall(text) if url not in NAMESPACE_URLS]


@pytest.fixture(scope="module")
def accumulation_files(tmp_path_factory):
    """The accumulation lesson, three calls without zeroing (w.grad -2, -4, -6), in every format."""
    folder = tmp_path_factory.mktemp("accumulation")
    return {fmt: export.export_lesson("accumulation", fmt, folder / f"accumulation.{fmt}", calls=3)
            for fmt in export.FORMATS}


def test_every_format_parses_back(accumulation_files):
    files = accumulation_files
    dot = files["dot"].read_text()
    assert dot.startswith("digraph autograd {") and 'grad = -6' in dot
    svg = ET.parse(files["svg"]).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "grad = -6" in svg_texts(files["svg"].read_text())
    width, height = png_size(files["png"].read_bytes())
    points = float(svg.get("width").removesuffix("pt"))
    assert abs(width - points * export.PNG_DPI / 72) <= 2 and height > 0  # the asked resolution
    assert files["pdf"].read_bytes().startswith(b"%PDF-")
    page = files["html"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'id="player-data"' in page
    assert external_urls(page) == []
    report = json.loads(files["json"].read_text())
    assert [call["grads_after"]["w"] for call in report["calls"]] == [-2.0, -4.0, -6.0]
    notebook = nbformat.read(files["ipynb"], as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["autograd_explorer"]["lesson"] == "accumulation"


def test_json_is_what_show_json_prints(capsys, accumulation_files):
    status, out, err = run_cli(capsys, "show", "accumulation", "--calls", "3", "--json")
    assert status == 0, err
    assert accumulation_files["json"].read_text() == out


def test_exports_are_deterministic(tmp_path, accumulation_files):
    _layout.cache_clear()  # lay everything out again: Graphviz itself must give the same bytes
    for fmt, first in accumulation_files.items():
        again = export.export_lesson("accumulation", fmt, tmp_path / f"again.{fmt}", calls=3)
        assert again.read_bytes() == first.read_bytes(), fmt
    # The clock: two exports in the same second match even with a date in them, so instead of
    # waiting a second, check that no date but the fixed one is left in the PDF.
    dates = re.findall(rb"/CreationDate \(([^)]*)\)", accumulation_files["pdf"].read_bytes())
    assert all(date.startswith(b"D:19700101000000") for date in dates), dates


def test_a_pdf_date_is_replaced_in_place():
    """cairo (before 1.17) writes the clock into /CreationDate: it becomes 1970, at the same length,
    so the byte offsets of the PDF's cross-reference table stay right."""
    made = b"%PDF-1.5\n<< /Producer (cairo) /CreationDate (D:20240229131415+01'00) >>\nxref 0 1\n"
    fixed = fixed_pdf_date(made)
    assert fixed == made.replace(b"D:20240229131415+01'00", b"D:19700101000000+00'00")
    assert len(fixed) == len(made)
    assert fixed_pdf_date(b"%PDF-1.5 no date") == b"%PDF-1.5 no date"


def test_values_calls_and_zeroing_reach_every_export(tmp_path):
    path = export.export_lesson("exercise-2", "json", tmp_path / "e.json", values={"x": 2, "y": "1"},
                                calls=2, zero="zero")
    report = json.loads(path.read_text())
    assert report["values"] == {"x": 2.0, "y": 1.0}
    x, y = torch.tensor(2.0, requires_grad=True), torch.tensor(1.0, requires_grad=True)
    gx, gy = torch.autograd.grad(get_lesson("exercise-2").fn(x, y), [x, y])
    assert close(report["calls"][-1]["grads_after"]["x"], gx) and close(report["calls"][-1]["grads_after"]["y"], gy)
    assert [entry["action"] for entry in report["history"]] == ["backward", "zero", "backward"]
    notebook = nbformat.reads(export.render(export.lesson_trace("exercise-2", {"x": 2}, 2, "zero"), "ipynb")
                              .decode(), as_version=4)
    assert "{'x': 2.0, 'y': -2.0}, calls=2, zero='zero'" in notebook.cells[7].source


@pytest.mark.parametrize("call,words", [
    (lambda p: export.export_lesson("nope", "svg", p / "x.svg"), 'no lesson "nope"'),
    (lambda p: export.export_lesson("accumulation", "gif", p / "x.gif"), 'Unknown format "gif"'),
    (lambda p: export.export_lesson("accumulation", "svg", p / "missing" / "x.svg"), "does not exist"),
    (lambda p: export.export_lesson("accumulation", "svg", p), "it is a folder"),
    (lambda p: export.export_lesson("accumulation", "svg", p / "x.svg", values={"q": 1}), 'no variable "q"'),
    (lambda p: export.export_lesson("accumulation", "svg", p / "x.svg", zero="maybe"), 'Unknown zeroing'),
    (lambda p: export.export_lesson("accumulation", "svg", p / "x.svg", calls=0), "1 or more"),
])
def test_errors_are_clear_and_leave_no_file(tmp_path, call, words):
    with pytest.raises(ExplorerError, match=re.escape(words)):
        call(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ExplorerError, match="permission denied"):
            export.export_lesson("accumulation", "svg", folder / "x.svg")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_a_refused_write_is_a_clear_error_even_for_root(tmp_path, monkeypatch):
    """What a read-only folder does to anyone but root, simulated where the file is created."""
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ExplorerError, match=r"^Cannot write .*x\.svg: permission denied\.$"):
        export.export_lesson("accumulation", "svg", tmp_path / "x.svg")
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_file_is_refused_and_left_as_it_is(capsys, tmp_path):
    """Replacing a 0444 file turned it into 0644 (issue 17); a shell's `>` refuses it, and so does this,
    for root too (whom os.access lets write anything)."""
    target = tmp_path / "graph.svg"
    target.write_text("the old file")
    target.chmod(0o444)
    status, out, err = run_cli(capsys, "export", "accumulation", "-o", str(target))
    assert status == 2 and err.count("\n") == 1 and "read-only, so it was left as it is" in err
    assert target.read_text() == "the old file" and stat.S_IMODE(target.stat().st_mode) == 0o444
    assert [p.name for p in tmp_path.iterdir()] == ["graph.svg"]


def test_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "graph.svg"
    target.write_text("the old file")
    target.chmod(0o600)  # private: replacing it must not make it readable by everyone
    export.export_lesson("accumulation", "svg", target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and ET.fromstring(target.read_bytes()).tag.endswith("svg")


def test_a_failure_while_writing_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "graph.svg"
    target.write_text("the old file")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ExplorerError, match="no space left on device"):
        export.export_lesson("accumulation", "svg", target)
    assert [p.name for p in tmp_path.iterdir()] == ["graph.svg"] and target.read_text() == "the old file"


def test_a_session_exports_too_including_a_playground_notebook(tmp_path):
    expression = parse_expression("sin(x) * exp(-y)")
    session = BackwardSession(expression.build, {"x": 0.5, "y": 1.0})
    session.backward()
    session.zero_grad("set-none")
    session.backward()
    path = export.export_session(session, "ipynb", tmp_path / "play.ipynb", name="play", title="f = sin(x) * exp(-y)")
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["autograd_explorer"]["expression"] == "sin(x) * exp(-y)"
    assert "calls=2, zero='set-none'" in notebook.cells[7].source
    report = json.loads(export.export_session(session, "json", tmp_path / "play.json", name="play").read_text())
    assert report["lesson"] == "play" and len(report["calls"]) == 2

    plain = BackwardSession(lambda x: x * 3, {"x": 1.0})  # no lesson, no expression: no notebook
    plain.backward()
    with pytest.raises(ExplorerError, match="lesson or a playground expression"):
        export.export_session(plain, "ipynb", tmp_path / "plain.ipynb")
    fresh = BackwardSession(lambda x: x * 3, {"x": 1.0})  # no call yet: the graph, but no animation
    assert export.export_session(fresh, "svg", tmp_path / "fresh.svg").read_text().startswith("<?xml")
    with pytest.raises(ExplorerError, match="call .backward"):
        export.export_session(fresh, "html", tmp_path / "fresh.html")
    assert not (tmp_path / "plain.ipynb").exists() and not (tmp_path / "fresh.html").exists()


# -- the command line -----------------------------------------------------------------------
def test_cli_export_one_lesson_in_each_format(capsys, tmp_path):
    for fmt in export.FORMATS:
        status, _, err = run_cli(capsys, "export", "several-variables", "--format", fmt, "-o", str(tmp_path / f"s.{fmt}"))
        assert status == 0, err
    assert ET.parse(tmp_path / "s.svg").getroot().tag.endswith("svg")
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF-")
    status, _, _ = run_cli(capsys, "export", "accumulation", "-o", str(tmp_path / "by-extension.png"), "--calls", "2")
    assert status == 0 and png_size((tmp_path / "by-extension.png").read_bytes())[0] > 0


@pytest.mark.parametrize("name", ["b" * 240 + ".svg", "b" * 246 + ".svg", "b" * 250 + ".svg", "é" * 125 + ".svg"])
def test_names_up_to_255_bytes_are_written(capsys, tmp_path, name):
    """Legal names whose temporary file (".NAME.<12 hex>.tmp") would go over 255 bytes: it is shortened."""
    status, out, err = run_cli(capsys, "export", "accumulation", "-o", str(tmp_path / name))
    assert status == 0, err
    assert [p.name for p in tmp_path.iterdir()] == [name] and len(name.encode()) <= 255
    assert ET.fromstring((tmp_path / name).read_bytes()).tag.endswith("svg")
    folder = tmp_path / ("d" * 255)
    status, _, err = run_cli(capsys, "site", str(folder))
    assert status == 0, err
    assert (folder / "index.html").is_file()


def test_cli_export_all_and_site(tmp_path):
    """End to end, in real processes: every lesson in every format, and the static site."""
    done = run_process("export", "--all", str(tmp_path / "all"))
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "all").iterdir())
    assert names == sorted(f"{lesson}.{fmt}" for lesson in lesson_ids() for fmt in export.FORMATS)
    done = run_process("site", str(tmp_path / "site"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == sorted(
        ["index.html"] + [f"{lesson}.html" for lesson in lesson_ids()])


@pytest.mark.parametrize("args,words", [
    (["export", "nope", "--format", "svg", "-o", "{tmp}/x.svg"], 'no lesson "nope"'),
    (["export", "accumulation", "--format", "gif", "-o", "{tmp}/x.gif"], 'Unknown format "gif"'),
    (["export", "accumulation", "-o", "{tmp}/x.webp"], 'Unknown format "webp"'),
    (["export", "accumulation", "--format", "svg", "-o", "{tmp}/missing/x.svg"], "does not exist"),
    (["export", "accumulation", "--format", "svg"], "Name a lesson and a file"),
    (["export", "accumulation", "--all", "{tmp}/all"], "give no lesson"),
    (["export", "accumulation", "-f", "svg", "-o", "{tmp}/x.svg", "--set", "q=1"], 'no variable "q"'),
    (["site", "{tmp}/a-file"], "it is a file, not a folder"),
    (["site", "{tmp}/a-file/site"], "Cannot create the folder"),
    (["export", "--all", "{tmp}/a-file"], "it is a file, not a folder"),
    (["export", "--all", ""], "Please give a folder"),  # "" would be the working folder
    (["site", ""], "Please give a folder"),
    (["export", "accumulation", "-o", ""], "Name a lesson and a file"),
    (["export", "accumulation", "--format", "svg", "-o", "{tmp}/b.png"], "whose name says PNG"),
    (["export", "accumulation", "-o", "{tmp}/x.svg", "--calls", "100000000"], "the most is 1000"),
    # Names over the file system's 255 bytes (issue 17): an OSError traceback before.
    (["export", "accumulation", "-o", "{tmp}/" + "a" * 300 + ".svg"], "304 bytes long; the most is 255"),
    (["export", "accumulation", "-o", "{tmp}/" + "é" * 127 + ".svg"], "258 bytes long"),
    (["export", "accumulation", "-o", "{tmp}/" + "a" * 256 + "/x.svg"], "256 bytes long"),
    (["export", "--all", "{tmp}/" + "a" * 300], "300 bytes long"),
    (["site", "{tmp}/" + "a" * 300], "300 bytes long"),
    (["site", "{tmp}/" + "a" * 300 + "/site"], "300 bytes long"),
    (["export", "accumulation", "-o", "{tmp}"], "it is a folder; give a file name such as"),  # was: Unknown format ""
])
def test_cli_errors_exit_2_with_one_line(capsys, tmp_path, args, words):
    (tmp_path / "a-file").write_text("not a folder")
    status, out, err = run_cli(capsys, *[arg.format(tmp=tmp_path) for arg in args])
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# -- the app's download buttons ----------------------------------------------------------------
def contains_tensor(value, seen=None) -> bool:
    """Whether a value holds a tensor anywhere inside (dataclasses, containers, closures)."""
    seen = seen if seen is not None else set()
    if id(value) in seen:
        return False
    seen.add(id(value))
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, BackwardSession):
        return True  # a live session holds the student's leaves
    if isinstance(value, dict):
        return any(contains_tensor(v, seen) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(contains_tensor(v, seen) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return any(contains_tensor(getattr(value, name), seen) for name in value.__dataclass_fields__)
    if callable(value) and getattr(value, "__closure__", None):
        return any(contains_tensor(cell.cell_contents, seen) for cell in value.__closure__)
    return False


@pytest.mark.parametrize("with_lesson", [True, False])
def test_download_buttons_make_every_file_on_click_from_plain_data(monkeypatch, with_lesson):
    import streamlit as st

    from explorer.ui import downloads

    pressed = []

    def fake_button(self, label, data, **kwargs):
        pressed.append((label, data, kwargs))
        return False

    monkeypatch.setattr(st.delta_generator.DeltaGenerator, "download_button", fake_button)
    lesson = get_lesson("accumulation")
    if with_lesson:
        session = run_calls(lesson.fn, lesson.defaults, 3)
        downloads.download_buttons(session, lesson.title, lesson=lesson, key="acc")
    else:  # a function that is neither a lesson nor a playground expression: no notebook offered
        session = run_calls(lambda w: (w - 2) ** 2, lesson.defaults, 3)
        downloads.download_buttons(session, "My function", key="mine")
    formats = [kwargs["file_name"].rsplit(".", 1)[1] for _, _, kwargs in pressed]
    assert formats == ["dot", "svg", "png", "html", "json", "ipynb"][:6 if with_lesson else 5]
    stem = "accumulation" if with_lesson else "my-function"
    for label, data, kwargs in pressed:
        fmt = kwargs["file_name"].rsplit(".", 1)[1]
        assert kwargs["file_name"] == f"{stem}.{fmt}" and kwargs["mime"] == export.MIME_TYPES[fmt]
        assert kwargs["on_click"] == "ignore" and not kwargs["disabled"]
        assert callable(data) and not contains_tensor(data), fmt  # made on click, from plain data
        made = data()
        if fmt == "svg":
            assert "grad = -6" in svg_texts(made.decode())
        elif fmt == "png":
            assert png_size(made)[0] > 0
        elif fmt == "json":
            assert [c["grads_after"]["w"] for c in json.loads(made)["calls"]] == [-2.0, -4.0, -6.0]
        elif fmt == "ipynb":
            nbformat.validate(nbformat.reads(made.decode(), as_version=4))
        elif fmt == "html":
            assert made.startswith(b"<!DOCTYPE html>") and external_urls(made.decode()) == []

    pressed.clear()
    downloads.download_buttons(BackwardSession(lesson.fn, lesson.defaults), lesson.title, lesson=lesson)
    disabled = {kwargs["file_name"].rsplit(".", 1)[1] for _, _, kwargs in pressed if kwargs["disabled"]}
    assert disabled == {"html", "json"}  # no call yet: nothing to animate or trace


def test_download_buttons_render_in_a_streamlit_page():
    from streamlit.testing.v1 import AppTest

    def app():
        from explorer.core.calls import run_calls
        from explorer.functions.lessons import get_lesson
        from explorer.ui.downloads import download_buttons

        lesson = get_lesson("accumulation")
        download_buttons(run_calls(lesson.fn, lesson.defaults, 3), lesson.title, lesson=lesson, key="d")

    page = AppTest.from_function(app).run(timeout=60)
    assert not page.exception
    buttons = page.get("download_button")
    assert [button.proto.label for button in buttons] == ["DOT", "SVG", "PNG", "HTML", "JSON", "Notebook"]


def test_a_symbolic_link_is_written_through(tmp_path):
    real = tmp_path / "real.svg"
    real.write_text("old")
    link = tmp_path / "link.svg"
    link.symlink_to(real)
    export.export_lesson("accumulation", "svg", link)
    assert link.is_symlink() and ET.fromstring(real.read_bytes()).tag.endswith("svg")


def test_a_stream_is_written_into(tmp_path):
    """-o /dev/stdout, as a shell user writes it: the picture comes out on standard output."""
    done = run_process("export", "accumulation", "--format", "dot", "-o", "/dev/stdout")  # a real stdout to open
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("digraph") and done.stdout.rstrip().endswith("wrote /dev/stdout")


def test_format_names_are_read_in_any_case(capsys, tmp_path):
    status, _, err = run_cli(capsys, "export", "accumulation", "--format", "SVG", "-o", str(tmp_path / "a.SVG"))
    assert status == 0, err
    assert ET.fromstring((tmp_path / "a.SVG").read_bytes()).tag.endswith("svg")
