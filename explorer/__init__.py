"""Autograd Explorer: see exactly what PyTorch's autograd does.

The pipeline, one module a stage:

    lessons.py   the seed lesson's functions of named leaf tensors
    graph.py     capture: output tensor -> Graph (nodes, edges, stable ids n0, n1, ...)
    backward.py  record: a real .backward() with node hooks -> BackwardPass (engine order)
    calls.py     repeated calls on persistent leaves, zeroing, the freed-graph error
    render.py    Graph (+ a pass) -> DOT in one colour legend (legend.py) -> SVG via dot
    api.py       explorer.draw(tensor), explorer.animate(fn, params) and explorer.session(fn, params),
                 for Jupyter and scripts
    export.py    every format from a lesson or a session (notebook.py: .ipynb; site.py: a static site)
    cli.py       `python -m explorer ...`

Nothing in this package imports Streamlit except the `ui` subpackage used by the app's pages.
"""

from explorer.errors import ExplorerError
from explorer.core.graph import Graph, capture
from explorer.core.backward import BackwardPass, record_backward
from explorer.core.calls import BackwardSession
from explorer.api import Diagram, Flow, animate, animate_session, draw, session

__all__ = ["ExplorerError", "Graph", "capture", "BackwardPass", "record_backward", "BackwardSession",
           "Diagram", "Flow", "animate", "animate_session", "draw", "session"]
