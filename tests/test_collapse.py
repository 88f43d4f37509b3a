"""Large graphs: folded repeats (node counts, the repeat count shown), bounded layout, the benchmark."""

import html
import io
import time

import pytest

from explorer.drawing import render
from explorer.bench import mlp_loss, run, shared_leaf_loop
from explorer.drawing.collapse import GraphView, collapse, summary
from explorer.drawing.layout import MAX_DRAWN_NODES, lay_out
from explorer.core.graph import capture
from explorer.functions.lessons import all_lessons
from explorer.drawing.render import LayoutTimeout, to_dot, to_svg
from support import best_seconds, within_ratio


def loop_graph(steps):
    output, params = shared_leaf_loop(steps)
    return capture(output, params)


# A benchmark's work (seconds of layout or of timing): `slow`, left out of the fast layer.
benchmark = pytest.mark.slow


def dot_children() -> list[int]:
    """The process ids of `dot` programs this test process started and that still run."""
    import os
    from pathlib import Path

    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:  # the process ended while we read
            continue
        if fields.get("Name") == "dot" and fields.get("PPid", "").strip() == str(os.getpid()) \
                and not fields.get("State", "").startswith("Z"):
            found.append(int(status.parent.name))
    return found


def test_small_graphs_are_not_folded():
    graph = loop_graph(20)
    assert collapse(graph).groups == []
    assert lay_out(graph).complete


def test_loop_folds_into_one_block_with_its_repeat_count():
    graph = loop_graph(200)
    view = collapse(graph)
    assert len(graph.nodes) == 999
    assert len(view.groups) == 1
    group = view.groups[0]
    assert group.pattern == ("AddBackward0", "MulBackward0", "SinBackward0")
    # 199 full blocks of three ops (step 1 has only the Add: h0 needs no grad); first and last stay.
    assert group.repeats == 197
    assert view.drawn_nodes == len(graph.nodes) - len(group.members) + 1
    assert view.drawn_nodes < 20
    svg = html.unescape(to_svg(to_dot(graph, view=view)))
    assert "× 197 repeats of" in svg
    # every hidden node's saved tensors go with it: nothing hidden is drawn
    for member in group.members:
        assert f'id="{member}"' not in svg


def test_folded_edges_keep_the_graph_connected():
    graph = loop_graph(100)
    view = collapse(graph, above=0)
    dot = to_dot(graph, view=view)
    group = view.groups[0].id
    assert f"-> {group} " in dot and f"{group} -> " in dot


def test_mlp_folds_layers_and_keeps_first_and_last():
    loss, params = mlp_loss(64)
    graph = capture(loss, params)
    view = collapse(graph)
    assert len(graph.nodes) > 600
    assert view.groups and max(g.repeats for g in view.groups) >= 60
    names = dict(summary(graph))
    assert names["AddmmBackward0"] == 64 and names["AccumulateGrad"] == 128


def test_expand_draws_every_node_when_it_can():
    graph = loop_graph(200)
    drawing = lay_out(graph, expand=True)
    assert drawing.complete and drawing.view.drawn_nodes == len(graph.nodes)


def test_shared_leaf_uses_are_drawn_as_reference_copies():
    graph = loop_graph(60)
    dot = to_dot(graph)
    assert dot.count('class="ref ref-of-') == 59  # 60 uses: the first keeps the real edge
    assert "AccumulateGrad (x)" in dot


@benchmark
def test_layout_time_bound_falls_back():
    """A DOT that dot needs minutes for (torchviz's 60-step loop) is stopped at the bound."""
    import torchviz

    output, params = shared_leaf_loop(60)
    slow_dot = torchviz.make_dot(output, params=params).source
    start = time.perf_counter()
    with pytest.raises(LayoutTimeout):
        render._layout(slow_dot, "svg", 1.0)
    print(f"\nstopped after {time.perf_counter() - start:.2f} s for a bound of 1 s (dot alone needs about 13 s)")
    # Stopped, not left running: no dot of ours is still laying that graph out.
    assert dot_children() == []


def test_draw_falls_back_to_folded_then_summary(monkeypatch):
    graph = loop_graph(200)
    real = render._layout.__wrapped__

    def only_small(dot_text, fmt, seconds):  # pretend any layout of over 100 nodes times out
        if dot_text.count("[id=") > 100:
            raise LayoutTimeout("too slow")
        return real(dot_text, fmt, seconds)

    monkeypatch.setattr(render, "_layout", only_small)
    drawing = lay_out(graph, expand=True)
    assert drawing.svg is not None and drawing.view.groups
    assert "stay folded" in drawing.note
    # a graph that cannot be folded (we pretend nothing repeats) and cannot be laid out gets a summary
    monkeypatch.setattr("explorer.drawing.layout.collapse", lambda graph, above=0: GraphView(graph))  # the name lay_out() calls
    fallback = lay_out(graph)
    assert fallback.svg is None and "what it is made of" in fallback.note
    assert dict(fallback.ops) == {"AddBackward0": 200, "MulBackward0": 199, "SinBackward0": 199, "AccumulateGrad": 1}


@benchmark
def test_fifty_thousand_nodes_answer_quickly():
    graph = loop_graph(10_000)
    assert len(graph.nodes) == 49_999
    drawing = lay_out(graph)
    assert drawing.svg is not None and drawing.view.drawn_nodes < MAX_DRAWN_NODES
    # Against a tenth of the graph, drawn the same way: linear work gives about 10x, quadratic 100x.
    small = loop_graph(1_000)
    within_ratio("drawing 49,999 nodes against 4,999", best_seconds(lambda: lay_out(graph), repeat=2),
                 best_seconds(lambda: lay_out(small), repeat=2), most=40)  # the best of two: both laid out from the cache


@benchmark
def test_quick_benchmark_prints_every_case_with_a_ratio():
    out = io.StringIO()
    # Two lessons stand for all of them (each lesson row is the same code; all of them took 15 s of the suite).
    rows = run(quick=True, cap=2.0, out=out, lessons=all_lessons()[:2])
    text = out.getvalue()
    assert len(rows) == 2 + 6  # the two lessons, then six big graphs
    assert "× one backward" in text and "Flow: repr" in text and "Diagram: notebook display" in text
    assert all(row.explorer_s > 0 for row in rows)
    assert "shared-leaf loop, 60 steps" in text and "speed-up" in text
    print(text)
