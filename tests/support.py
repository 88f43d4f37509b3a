"""Shared test set-up: tolerances and small helpers."""

from pathlib import Path

import torch

# Gradients are float32 computations; the seed's numbers are exact in float32, so this is tight.
ATOL = 1e-5
RTOL = 1e-5


def close(a, b, atol=ATOL, rtol=RTOL) -> bool:
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                          atol=atol, rtol=rtol)


ROOT = Path(__file__).resolve().parents[1]
# The app's folder inside the package: its entrypoint Home.py, app_pages/ and .streamlit/config.toml.
APP = ROOT / "explorer" / "ui" / "app"
APPTEST_TIMEOUT = 60  # torch's first import alone exceeds AppTest's 3 s default


def open_app(path: str, query: dict | None = None):
    """A page of the app (a path from the app's folder: "Home.py", "app_pages/3_Accumulation.py")
    in a new AppTest session, run once."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP / path), default_timeout=APPTEST_TIMEOUT)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    return at.run()


def open_tab(at, key: str, label: str):
    """Open one of the results' tabs of the explore() with this key, and rerun: every tab but the
    graph's is drawn only while open (explorer/ui/page.py), as a student's click on it does."""
    at.session_state[f"{key}:tab"] = label
    return at.run()


def metric(at, label: str) -> str:
    """The value an st.metric with this label shows."""
    return next(m.value for m in at.metric if m.label == label)


def shown(markdown: str) -> str:
    """What a reader sees of a message the app escaped for Markdown (explorer.ui.markdown.literal)."""
    import re

    return re.sub(r"\\(.)", r"\1", markdown)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """`python -m explorer ARGS` inside this process, for the many error paths and outputs that do
    not need a process of their own: (exit status, stdout, stderr). An argparse error exits through
    SystemExit; its status is returned like main's own. tests/test_cli.py keeps a few runs of the
    real `python -m explorer` for exit codes and streams end to end."""
    from explorer.cli import main

    capsys.readouterr()  # what earlier code printed is not this command's output
    try:
        status = main(list(args))
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def run_process(*args: str, cwd: Path = ROOT):
    """`python -m explorer ARGS` as a student runs it: a real subprocess, its real exit code and streams."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def best_seconds(fn, repeat: int = 5) -> float:
    """The fastest of `repeat` runs of fn(), in seconds: the run least disturbed by other work."""
    import time

    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


BLOW_UP_SECONDS = 1.0


def within_ratio(label: str, seconds: float, baseline: float, most: float) -> float:
    """Print `seconds` as a multiple of `baseline` (timed in the same test, so under the same load)
    and fail if it is over `most`. A bound on a ratio, not on the clock: a busy machine slows both
    alike, while work that blows up (exponential, a hang the timeout cuts) still fails."""
    ratio = seconds / max(baseline, 1e-9)
    print(f"\n{label}: {seconds * 1e3:.3f} ms, {ratio:.1f}x the baseline's {baseline * 1e3:.3f} ms")
    # Against a baseline of a fraction of a millisecond, one pause of the machine (another process,
    # the garbage collector) is a ratio of thousands; only work that also takes a real second fails.
    assert ratio <= most or seconds < BLOW_UP_SECONDS, f"{label}: {ratio:.0f}x the baseline (at most {most:.0f}x)"
    return ratio


def players(at) -> list:
    """The page's backward players (components v2), not an empty one mounted before any call only to
    load its code early (its data is {"preload": true}) nor any other component."""
    import json

    return [element for element in at.get("bidi_component")
            if element.proto.component_name.endswith("backward_player") and "preload" not in json.loads(element.proto.json)]
