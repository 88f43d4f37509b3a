"""The Python API, for Jupyter and scripts: the public face of the pipeline.

    import torch, explorer

    x = torch.tensor(3.0, requires_grad=True)
    explorer.draw(x ** 2, params={"x": x})            # the graph autograd recorded, inline
    explorer.animate(lambda x: x ** 2, {"x": 3.0})     # three real .backward() calls, the player inline

    s = explorer.session(lambda x: x ** 2, {"x": 5.0})  # leaves, no call yet: make the calls yourself
    s.backward(); s.zero_grad("zero"); s.backward()
    explorer.animate_session(s)

    w = explorer.widget(lambda x: x ** 2, {"x": 3.0})  # the player with the app's buttons, live
    w.backward(); w.grads                             # {"x": 6.0}, as a click on .backward() gives

`draw` and `Diagram` live in drawing/diagram.py; `animate`, `session`, `animate_session` and
`Flow` in play/flow.py; `widget` in play/widget.py. This module only gathers them.
"""

from explorer.core.actions import Action
from explorer.drawing.diagram import Diagram, diagram_of_pass, draw
from explorer.play.flow import Flow, animate, animate_session, session

__all__ = ["Action", "Diagram", "Flow", "animate", "animate_session", "diagram_of_pass", "draw", "session", "widget"]


def widget(fn, params=None, calls: int = 0, zero=None, name: str = "f", title=None, expand: bool = False,
           gradient=None):
    """The player with the app's buttons in a notebook, each click a real call in the kernel
    (explorer/play/widget.py, where the arguments are explained). Returns a play.widget.Widget."""
    # anywidget brings ipywidgets and IPython (0.3 s to import): only a notebook needs them, not the
    # app, the command line or `import explorer`.
    from explorer.play.widget import widget as make_widget
    return make_widget(fn, params, calls, zero, name, title, expand, gradient)
