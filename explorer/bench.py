"""`python -m explorer bench`: how long capture + DOT + SVG takes, against torchviz + dot, in one run.

Machines here are noisy, so every figure is printed next to a baseline measured in the same
run (torchviz's make_dot followed by the same `dot`), and the ratio between them. torchviz is
capped: a run that hits the cap is reported as "over N s" and its dot process is killed.
"""

from __future__ import annotations

import os
import subprocess
import shutil
import sys
import time
import tracemalloc
from dataclasses import dataclass

import torch

from explorer.drawing import render
from explorer.drawing.diagram import draw
from explorer.drawing.layout import lay_out
from explorer.core.graph import capture
from explorer.functions.lessons import all_lessons
from explorer.play.flow import animate


@dataclass
class Row:
    case: str
    nodes: int
    explorer_s: float
    explorer_peak_mb: float
    torchviz_s: float | None  # None: hit the cap
    torchviz_note: str
    drawn: str

    def line(self, cap: float) -> str:
        if self.torchviz_s is None:
            theirs, ratio = f"{self.torchviz_note or f'over {cap:g} s'}", "-"
            if not self.torchviz_note:
                ratio = f"> {cap / self.explorer_s:.0f}x"
        else:
            theirs, ratio = f"{self.torchviz_s:.3f} s", f"{self.torchviz_s / self.explorer_s:.1f}x"
        return (f"| {self.case} | {self.nodes:,} | {self.drawn} | {self.explorer_s:.3f} s | "
                f"{self.explorer_peak_mb:.1f} MB | {theirs} | {ratio} |")


def shared_leaf_loop(steps: int):
    """h = sin(h) * 1.01 + x, repeated: the leaf x is used at every step (the layout killer)."""
    x = torch.tensor(0.5, requires_grad=True)
    h = torch.tensor(0.1)
    for _ in range(steps):
        h = torch.sin(h) * 1.01 + x
    return h, {"x": x}


def mlp_loss(layers: int = 64, width: int = 8):
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[m for _ in range(layers) for m in (torch.nn.Linear(width, width), torch.nn.ReLU())])
    loss = model(torch.randn(4, width)).pow(2).mean()
    return loss, dict(model.named_parameters())


def lesson_case(lesson):
    params = {name: torch.tensor(value, requires_grad=True) for name, value in lesson.defaults.items()}
    return lesson.fn(**params), params


def explorer_once(build, expand=False):
    output, params = build()
    render._layout.cache_clear()  # measure the layout itself, not the cache
    graph = capture(output, params)
    return graph, lay_out(graph, expand=expand)


def time_explorer(build, expand=False) -> tuple[float, float, int, str]:
    """Capture + DOT + SVG from a freshly built graph: best of 3 times, then peak Python memory in a 4th run."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        graph, drawing = explorer_once(build, expand)
        times.append(time.perf_counter() - start)
    tracemalloc.start()  # measured apart: tracing slows the run it watches
    explorer_once(build, expand)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    drawn = f"{drawing.view.drawn_nodes:,}" + (" (folded)" if drawing.view.groups else "")
    return min(times), peak, len(graph.nodes), drawn


def time_torchviz(build, cap: float) -> tuple[float | None, str]:
    """torchviz.make_dot + `dot -Tsvg` on the same graph, killed at `cap` seconds."""
    import torchviz

    best = None
    for _ in range(3):  # best of three, as for the explorer, unless a run is slow
        output, params = build()
        start = time.perf_counter()
        try:
            source = torchviz.make_dot(output, params=params).source
        except RecursionError:
            return None, "RecursionError"
        remaining = cap - (time.perf_counter() - start)
        try:
            subprocess.run([shutil.which("dot"), "-Tsvg"], input=source.encode(), capture_output=True,
                           timeout=max(remaining, 0.01), check=True)
        except subprocess.TimeoutExpired:
            return None, ""
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
        if elapsed > 1.0:
            break
    return best, ""


def cases(quick: bool, lessons=None):
    """(name, build, expand): expand draws every node instead of folding repeats. `lessons`: the
    built-in ones unless given (the CLI's --lessons DIR adds a folder's)."""
    yield from ((f"lesson {lesson.id}", lambda lesson=lesson: lesson_case(lesson), False)
                for lesson in (all_lessons() if lessons is None else lessons))
    steps = (20, 60, 200) if quick else (20, 40, 60, 200, 1000, 5000)
    for n in steps:
        yield f"shared-leaf loop, {n} steps", lambda n=n: shared_leaf_loop(n), False
    yield "shared-leaf loop, 200 steps, every node", lambda: shared_leaf_loop(200), True
    yield "64-layer MLP loss", mlp_loss, False
    yield "64-layer MLP loss, every node", mlp_loss, True


BIG_ELEMENTS = 1_000_000


def big_leaf_step(x: torch.Tensor) -> torch.Tensor:
    return (x * 2).sin().sum()


def best_of(repeats: int, work) -> float:
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def big_tensor(out=sys.stdout, elements: int = BIG_ELEMENTS, repeats: int = 3) -> list[tuple[str, float, float]]:
    """A leaf of `elements` numbers: showing, printing and exporting its Flow and Diagram, each timed
    against one plain `.backward()` of the same function (the baseline, in this run). A display
    that formatted every element took 1.4-3.3 s here; a summary should cost about one backward."""
    x = torch.randn(elements, requires_grad=True)

    def plain_backward():
        x.grad = None
        big_leaf_step(x).backward()

    baseline = best_of(repeats, plain_backward)
    flow = animate(big_leaf_step, {"x": x}, calls=1)
    diagram = draw(big_leaf_step(x), {"x": x})
    works = [("Flow: animate, one call (records, draws)", lambda: animate(big_leaf_step, {"x": x}, calls=1)),
             ("Flow: repr", lambda: repr(flow)),
             ("Flow: notebook display (every mime type)", flow._repr_mimebundle_),
             ("Flow: HTML page", lambda: flow.html),
             ("Diagram: repr", lambda: repr(diagram)),
             ("Diagram: notebook display", diagram._repr_mimebundle_)]
    print(f"\nA leaf of {elements:,} elements; baseline: one plain .backward(), {baseline:.4f} s (best of {repeats})",
          file=out)
    print("| shown | time | × one backward |", file=out)
    print("|---|---|---|", file=out)
    rows = []
    for name, work in works:
        elapsed = best_of(repeats, work)
        rows.append((name, elapsed, elapsed / baseline))
        print(f"| {name} | {elapsed:.4f} s | {elapsed / baseline:.2f}x |", file=out, flush=True)
    return rows


def run(quick: bool = False, cap: float | None = None, out=sys.stdout, lessons=None) -> list[Row]:
    cap = cap if cap is not None else (3.0 if quick else 60.0)
    print(f"explorer vs torchviz + dot, torch {torch.__version__}, {os.cpu_count()} cores, torchviz capped at {cap:g} s",
          file=out)
    print("| graph | nodes | drawn | explorer | explorer peak | torchviz + dot | speed-up |", file=out)
    print("|---|---|---|---|---|---|---|", file=out)
    rows = []
    for name, build, expand in cases(quick, lessons):
        elapsed, peak, nodes, drawn = time_explorer(build, expand)
        theirs, note = time_torchviz(build, cap)
        row = Row(name, nodes, elapsed, peak, theirs, note, drawn)
        rows.append(row)
        print(row.line(cap), file=out, flush=True)
    big_tensor(out, elements=100_000 if quick else BIG_ELEMENTS)
    return rows
