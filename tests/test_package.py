"""The installable package: the wheel, installed into a fresh venv, works from a folder outside the
repository: `import explorer`, the README's notebook example, an exported notebook run in a kernel
of that venv, the `autograd-explorer` console script, and the app's pages from site-packages.

The fresh venv reuses this venv's packages (torch, graphviz, Streamlit, ipykernel) through a .pth
file naming this venv's site-packages: `venv --system-site-packages` would link the base Python's
site-packages instead, which has no torch. The wheel goes in with --no-deps, and `pip check` then
says its declared dependencies are met by what is there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest

from browser_support import free_port
from support import ROOT
from explorer.functions.lessons import CHAPTER_PAGES, EXTRA_PAGES, PAGES
from test_notebook import outputs, run
from test_readme import run_notebook_example

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the fresh venv's python, its bin folder, a work folder outside the repository, an environment
    without PYTHONPATH, its site-packages, the wheel) once the wheel is built and installed there."""
    base = tmp_path_factory.mktemp("package")
    assert not base.resolve().is_relative_to(ROOT)
    wheels = base / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels),
                            str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel, = wheels.glob("autograd_explorer-*-py3-none-any.whl")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "project-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", python]
    done = subprocess.run([*pip, "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    check = subprocess.run([*pip, "check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr

    work = base / "work"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return python, venv / "bin", work, env, Path(site), wheel


def test_import_explorer_finds_the_installed_package(installed):
    python, _, work, env, site, _ = installed
    done = subprocess.run([python, "-c", "import explorer; print(explorer.__file__); print(explorer.__version__)"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    where, version = done.stdout.split()
    assert Path(where) == site / "explorer" / "__init__.py"
    metadata = subprocess.run([python, "-c", "from importlib.metadata import version; print(version('autograd-explorer'))"],
                              env=env, capture_output=True, text=True, timeout=120)
    assert metadata.stdout.strip() == version
    # The player's JavaScript and stylesheet are in the wheel: an offline HTML file holds them.
    for name in ("player.js", "cursor.mjs", "inspector.mjs", "player.css"):
        assert (site / "explorer" / "play" / "player" / name).is_file(), name


def test_the_readme_notebook_example_runs_with_the_installed_package(installed):
    python, _, work, env, _, _ = installed
    folder = work / "readme"
    folder.mkdir()
    run_notebook_example(python, folder, env)


def test_an_exported_notebook_reruns_in_a_kernel_of_the_installed_package(installed, monkeypatch):
    python, bin_folder, work, env, site, _ = installed
    path = work / "accumulation.ipynb"
    # The console script, from outside the repository.
    done = subprocess.run([str(bin_folder / "autograd-explorer"), "export", "accumulation", "--format", "ipynb",
                           "-o", str(path), "--calls", "2", "--zero", "zero"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    notebook = nbformat.read(path, as_version=4)
    assert str(ROOT) not in path.read_text()  # no path to a checkout anywhere in it

    jupyter = work / "jupyter"
    spec = jupyter / "data" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (the wheel's venv)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter / "data"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(jupyter / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(jupyter / "ipython"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    executed, (explorer_file, executable, *_), seconds = run(notebook, work)
    print(f"\nthe exported notebook ran in {seconds:.2f} s in the wheel's venv")
    assert Path(explorer_file) == site / "explorer" / "__init__.py" and executable == python
    for saved, ran in zip(notebook.cells, executed.cells):
        if saved.cell_type == "code":
            assert outputs(ran) == outputs(saved), saved.id


def test_the_wheel_holds_every_file_of_the_package(installed):
    """Every file under explorer/ (the player's JS and CSS, the app's pages and settings) is in the wheel."""
    *_, wheel = installed
    ours = {path.relative_to(ROOT).as_posix() for path in (ROOT / "explorer").rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if name.startswith("explorer/")}
    assert ours == shipped


APP_CHECK = """
import explorer.launch
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(str(explorer.launch.ENTRYPOINT), default_timeout=60).run()
assert not at.exception, at.exception
print(len(at.get("page_link")))
at.switch_page("app_pages/3_Accumulation.py").run()
assert not at.exception, at.exception
print(explorer.launch.ENTRYPOINT)
print(sorted(metric.label for metric in at.metric))
"""


def test_the_app_runs_from_the_installed_package(installed):
    python, bin_folder, work, env, site, _ = installed
    done = subprocess.run([python, "-c", APP_CHECK], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    links, entrypoint, metrics = done.stdout.strip().splitlines()
    assert int(links) == len(PAGES) + len(CHAPTER_PAGES) + len(EXTRA_PAGES)  # the home page links every other page
    assert Path(entrypoint) == site / "explorer" / "ui" / "app" / "Home.py"
    assert "'w.grad'" in metrics

    # `autograd-explorer app` serves it: a real server from outside the repository, until it answers.
    port = free_port()
    server = subprocess.Popen([str(bin_folder / "autograd-explorer"), "app", "--port", str(port), "--",
                               "--server.address", "127.0.0.1"], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline and server.poll() is None and answer != b"ok":
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    answer = response.read()
            except OSError:
                time.sleep(0.3)  # polling a server that is starting
        assert answer == b"ok", f"the app did not answer (exit status {server.poll()})"
    finally:
        server.terminate()
        log, _ = server.communicate(timeout=30)
    assert "Traceback" not in log, log
