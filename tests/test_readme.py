"""The README's examples run as written: every public name it shows still works."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from support import ROOT


def readme_block(heading: str, language: str) -> str:
    """The first fenced block of `language` under a README heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(rf"```{language}\n(.*?)```", section, flags=re.S)
    assert match, f"no {language} block under '## {heading}'"
    return match.group(1)


def run_notebook_example(python: str, folder, env: dict) -> None:
    """The README's notebook example, run as a script by `python` in `folder`, and what it must give."""
    script = folder / "example.py"
    # The example's last lines show values in a notebook; here they are printed so the test can read them.
    script.write_text(readme_block("In a notebook", "python") +
                      "\nprint('w.grad', explorer.animate(lambda w: (w - 2) ** 2, {'w': 1.0}, calls=3).grads)"
                      "\nprint('x.grad', s.leaves['x'].grad.item())\n")
    done = subprocess.run([python, str(script)], cwd=folder, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "w.grad {'w': -6.0}" in done.stdout
    assert "x.grad 10.0" in done.stdout  # 10, 20, zero_() 0, 10: what the README's comment says
    assert (folder / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (folder / "flow.html").read_text()


def test_the_notebook_example_runs(tmp_path):
    run_notebook_example(sys.executable, tmp_path, {**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_make_dot_example_runs(tmp_path):
    """The drop-in's block, after the notebook example that defines its model and inputs."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## In a notebook\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    drop_in = next(block for block in blocks if "from explorer import make_dot" in block)
    script = tmp_path / "make_dot_example.py"
    script.write_text(readme_block("In a notebook", "python") + drop_in + "print(type(dot).__module__, type(dot).__name__)\n")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("graphviz.graphs Digraph")
    assert "AddmmBackward0" in (tmp_path / "mlp.svg").read_text() and "0.weight" in (tmp_path / "mlp.svg").read_text()
