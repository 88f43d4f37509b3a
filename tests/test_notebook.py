"""Exported notebooks: valid, readable without running, and run top to bottom with nbclient in a
kernel that is this very interpreter (the venv's), giving back the outputs they were saved with.

No global Jupyter set-up is needed: the test writes a kernelspec named python3 whose argv is
sys.executable into a temporary folder and puts that folder first on JUPYTER_PATH; Jupyter's
runtime files and IPython's profile go to temporary folders too.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch

from explorer.io import export
from explorer.core.calls import BackwardSession
from explorer.errors import GraphFreedError
from explorer.io.export import recipe_for_session
from explorer.functions.lessons import all_lessons, get_lesson
from explorer.io.notebook import INSTALL_HINT, SETUP, build_notebook, lesson_recipe, notebook_text

ROOT = Path(__file__).resolve().parents[1]
PLAYGROUND = ("5*x**2 + x*y + 2*y**3", {"x": 1.5, "y": -2.0})
CHECK = ("import importlib.util, sys\n"
         "print(importlib.util.find_spec('explorer').origin)\n"
         "print(sys.executable)\n"
         "print(sys.prefix)")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """Point Jupyter at a kernelspec for this interpreter; returns a folder to run notebooks from,
    with no explorer/ package in it. The kernel imports this checkout's explorer through PYTHONPATH,
    as it would import an installed package: the notebook itself names no path (test_package.py runs
    one with the built wheel instead)."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec = jupyter / "data" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (Autograd Explorer's venv)",
        "language": "python",
    }))
    patch = pytest.MonkeyPatch()
    patch.setenv("JUPYTER_PATH", str(jupyter / "data"))
    patch.setenv("JUPYTER_RUNTIME_DIR", str(jupyter / "runtime"))
    patch.setenv("IPYTHONDIR", str(jupyter / "ipython"))
    patch.setenv("PYTHONPATH", str(ROOT))
    yield jupyter
    patch.undo()


@pytest.fixture(scope="module")
def shared_kernel(kernel):
    """One kernel for this module's notebooks, its namespace reset before each (run(..., km=)): a fresh
    kernel per notebook spent about 5 s of each run importing torch again, and a reset leaves nothing
    of one notebook's names for the next."""
    from nbclient import NotebookClient
    from nbclient.util import run_sync

    km = NotebookClient(nbformat.v4.new_notebook(), kernel_name="python3").create_kernel_manager()
    yield kernel, km
    if km.has_kernel:
        run_sync(km.shutdown_kernel)(now=True)


RESET = "get_ipython().run_line_magic('reset', '-f')"


def run(notebook, folder: Path, km=None):
    """Execute a copy of the notebook in `folder`, with a first cell that reports on the kernel: in a kernel
    of its own, or in `km`'s kernel (shared_kernel) with every name of an earlier notebook deleted first."""
    from nbclient import NotebookClient

    executed = copy.deepcopy(notebook)
    executed.cells.insert(0, nbformat.v4.new_code_cell(CHECK, id="kernel-check"))
    if km is not None:
        executed.cells.insert(0, nbformat.v4.new_code_cell(RESET, id="kernel-reset"))
    started = time.perf_counter()
    client = NotebookClient(executed, kernel_name="python3", timeout=120, km=km,
                            resources={"metadata": {"path": str(folder)}}, allow_errors=False)
    client.execute()
    if km is not None:
        client.kc.stop_channels()  # the kernel stays for the next notebook; this client's sockets do not
        assert executed.cells.pop(0).outputs == []  # the reset said nothing
    seconds = time.perf_counter() - started
    check = "".join(output.get("text", "") for output in executed.cells.pop(0).outputs).split("\n")
    return executed, check, seconds


def outputs(cell) -> list:
    """A cell's outputs as a notebook viewer shows them (streams joined; counts aside)."""
    shown, text = [], {}
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            text[output.name] = text.get(output.name, "") + output.text
        else:
            shown.append((output.output_type, dict(output.data)))
    return [("stream", name, value) for name, value in text.items()] + shown


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every lesson's notebook and the playground's, written by one fresh process as `python -m explorer
    export` writes them (2 calls, zeroed between); returns name -> notebook.

    A fresh process reads the source as it is now, like the kernel that runs the notebook next:
    a notebook built by this test process could differ if the code changed on disk mid-run."""
    folder = tmp_path_factory.mktemp("notebooks")
    text, values = PLAYGROUND
    script = ("import sys; from pathlib import Path; from explorer.io import export; "
              "from explorer.io.notebook import build_notebook, expression_recipe, notebook_text; "
              f"export.export_all({str(folder)!r}, formats=('ipynb',), calls=2, zero='zero'); "
              f"Path({str(folder / 'playground.ipynb')!r}).write_text(notebook_text(build_notebook("
              f"expression_recipe({text!r}, {values!r}, calls=3))), encoding='utf-8')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return {path.stem: nbformat.read(path, as_version=4) for path in folder.glob("*.ipynb")}


@pytest.mark.parametrize("name", [lesson.id for lesson in all_lessons()] + ["playground"])
def test_notebook_runs_top_to_bottom_and_reproduces_its_saved_outputs(shared_kernel, exported, name):
    folder, km = shared_kernel
    notebook = exported[name]
    nbformat.validate(notebook)
    executed, (explorer_file, executable, prefix, *_), seconds = run(notebook, folder, km)
    print(f"\n{name}: notebook executed in {seconds:.2f} s")
    assert explorer_file == str(ROOT / "explorer" / "__init__.py")  # this checkout's code, found as a package
    assert (executable, prefix) == (sys.executable, sys.prefix)  # the venv's interpreter, not a global one
    for saved, ran in zip(notebook.cells, executed.cells):
        assert saved.source == ran.source
        if saved.cell_type == "code":
            assert outputs(ran) == outputs(saved), saved.id
    dot = notebook.metadata["autograd_explorer"]["dot"]
    graph_cell = next(cell for cell in executed.cells if cell.get("id") == "graph")
    assert outputs(graph_cell)[0] == ("stream", "stdout", dot + "\n")  # the same DOT, printed when run
    flow_cell = next(cell for cell in executed.cells if cell.get("id") == "flow")
    assert set(flow_cell.outputs[0].data) == {"text/plain", "text/html", "image/svg+xml"}


def test_a_lesson_notebook_reads_without_running():
    lesson = get_lesson("exercise-2")
    notebook = nbformat.reads(notebook_text(build_notebook(lesson_recipe(lesson))), as_version=4)
    nbformat.validate(notebook)
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert markdown[0].startswith(f"# {lesson.title}\n\n{lesson.explanation}")
    assert code[0] == SETUP and lesson.source.rstrip() in code
    assert any("explorer.draw(" in source for source in code) and any("explorer.animate(" in source for source in code)
    graph, flow, grads = (next(c for c in notebook.cells if c.get("id") == name) for name in ("graph", "flow", "grads"))
    assert set(graph.outputs[1].data) == {"text/plain", "text/html", "image/svg+xml"}
    assert graph.outputs[1].data["text/html"].startswith('<div style="max-width:100%;overflow:auto"><svg')
    assert flow.outputs[0].data["text/html"].startswith("<iframe srcdoc=")
    assert "grad = 13" in flow.outputs[0].data["image/svg+xml"]
    assert grads.outputs[0].text == "x.grad = 13.0\ny.grad = 25.5\n"
    assert [cell.execution_count for cell in notebook.cells if cell.cell_type == "code"] == [1, 2, 3, 4, 5]


def test_notebooks_are_deterministic(tmp_path):
    first = export.export_lesson("accumulation", "ipynb", tmp_path / "a.ipynb", calls=3)
    second = export.export_lesson("accumulation", "ipynb", tmp_path / "b.ipynb", calls=3)
    assert first.read_bytes() == second.read_bytes()
    assert [cell.id for cell in nbformat.read(first, as_version=4).cells] == [
        "intro", "setup", "function-text", "function", "graph-text", "graph", "flow-text", "flow", "grads-text", "grads"]


def test_a_sessions_notebook_redoes_its_exact_actions(shared_kernel):
    """A history no `calls`/`zero` pair can say (a kept graph, a same-graph call, a refused one, a
    zeroing, two more calls) comes back action for action, and ends at the session's own .grad."""
    lesson = get_lesson("accumulation")
    session = BackwardSession(lesson.fn, {"w": 5.0})
    session.backward()
    session.backward(retain_graph=True)
    session.backward_same_graph()
    with pytest.raises(GraphFreedError):
        session.backward_same_graph()
    session.zero_grad("zero")
    session.backward()
    session.backward()
    notebook = build_notebook(recipe_for_session(session, lesson))
    flow_code = next(cell.source for cell in notebook.cells if cell.get("id") == "flow")
    assert "session.backward(retain_graph=True)" in flow_code and "refused" in flow_code
    executed, *_ = run(notebook, *shared_kernel)
    ran = next(cell for cell in executed.cells if cell.get("id") == "grads")
    w = torch.tensor(5.0, requires_grad=True)
    grad = torch.autograd.grad(lesson.fn(w=w), [w])[0].item()
    assert outputs(ran) == [("stream", "stdout", f"w.grad = {2 * grad}\n")]  # zeroed, then two calls
    assert session.grads()["w"] == 2 * grad
    history = executed.cells[[c.get("id") for c in executed.cells].index("flow")].outputs[0].data["text/plain"]
    assert "5 backward calls" in history  # b, B, a and the two after zeroing; the refused one made none


def test_a_refused_call_is_redone_because_pytorch_ran_part_of_it(shared_kernel):
    """x*x + y: a second backward on the freed graph still adds 1 to y.grad before MulBackward0
    finds its saved values gone. The notebook redoes that refusal, so it ends where the app did."""
    from explorer.functions.expr import parse_expression

    x, y = torch.tensor(1.0, requires_grad=True), torch.tensor(1.0, requires_grad=True)
    f = x * x + y
    f.backward()
    with pytest.raises(RuntimeError):
        f.backward()
    (x * x + y).backward()
    pytorch = {"x": x.grad.item(), "y": y.grad.item()}
    assert pytorch["y"] == 3.0  # the refused call's branch counted

    session = BackwardSession(parse_expression("x*x + y").build, {"x": 1.0, "y": 1.0})
    session.replay("bab")
    assert session.grads() == pytorch
    recipe = recipe_for_session(session)
    assert recipe.steps == (("backward", False), ("refused", False), ("backward", False))
    notebook = build_notebook(recipe)
    saved = next(cell for cell in notebook.cells if cell.get("id") == "grads")
    executed, *_ = run(notebook, *shared_kernel)
    ran = next(cell for cell in executed.cells if cell.get("id") == "grads")
    expected = [("stream", "stdout", "".join(f"{name}.grad = {value}\n" for name, value in pytorch.items()))]
    assert outputs(saved) == outputs(ran) == expected


def test_without_the_package_the_set_up_cell_says_how_to_install_it(tmp_path):
    """The first cell holds no path: wherever it runs, explorer is imported as an installed package is,
    and where it is missing the cell says in one line how to install it."""
    assert "sys.path" not in SETUP and str(ROOT) not in SETUP
    hidden = "import sys\nsys.modules['explorer'] = None  # as in an environment without the package\n"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", hidden + SETUP], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    message = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0 and message == f"ModuleNotFoundError: {INSTALL_HINT}"
    env["PYTHONPATH"] = str(ROOT)  # this checkout, found as an installed package is found
    found = subprocess.run([sys.executable, "-c", SETUP + "\nprint(explorer.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
    assert found.returncode == 0 and found.stdout.strip() == str(ROOT / "explorer" / "__init__.py")
