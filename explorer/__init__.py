"""Autograd Explorer: see exactly what PyTorch's autograd does.

The pipeline, one folder a stage; a module imports only from its own folder or from those above it:

    errors.py, values.py, files.py   what every stage shares: student-facing errors, numbers, files
    functions/   what goes in: the lesson registry, and the playground's safe interpreter of typed text
    core/        capture (graph.py), record (backward.py), repeated calls (calls.py) named by one
                 vocabulary of actions (actions.py), the forward pass (forward.py), the JSON report
    drawing/     the colour legend and looks, DOT and SVG through dot, folding big graphs, layout
                 bounded in time, SVG fit for a page, Diagram (explorer.draw), torchviz for comparison
    play/        a recorded pass -> the player's frames, their captions, the tables beside them, the
                 prediction judge, the JS/CSS player, Flow (explorer.animate), the live notebook
                 widget (explorer.widget)
    io/          files: every export format, notebooks, the static site
    api.py       the public face: explorer.draw / animate / session / animate_session
    cli.py       `python -m explorer ...` (bench.py: its benchmark; launch.py: `app`) } the two front doors,
    ui/          Streamlit helpers for the app's pages, and the app (ui/app/)       } imported by nothing here

Nothing in this package imports Streamlit except the `ui` subpackage used by the app's pages.
"""

# The package's version (pyproject.toml reads it from here).
__version__ = "0.1.0"

from explorer.errors import ExplorerError
from explorer.core.actions import Action
from explorer.core.graph import Graph, capture
from explorer.core.backward import BackwardPass, record_backward
from explorer.core.calls import BackwardSession
from explorer.api import Diagram, Flow, animate, animate_session, draw, session, widget
from explorer.drawing.dropin import make_dot, make_dot_from_trace

__all__ = ["Action", "ExplorerError", "Graph", "capture", "BackwardPass", "record_backward", "BackwardSession",
           "Diagram", "Flow", "animate", "animate_session", "draw", "session", "widget", "make_dot", "make_dot_from_trace"]
