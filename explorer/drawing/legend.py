"""The one colour legend. Every view and every export takes its colours from here.

It keeps torchviz's visual language, so a student who has seen `make_dot` reads ours at once:

    leaf tensor (a variable you created, requires_grad=True)  light blue
    saved tensor (a value a backward node kept for later)     orange
    output tensor (the function's result)                      light green
    backward op (PowBackward0, MulBackward0, ...)              light grey
    AccumulateGrad (writes a leaf's .grad)                     light grey, blue border

and adds two colours for the backward pass: the node the engine is running now, and the
gradients travelling along the edges.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Palette:
    background: str
    text: str
    edge: str
    leaf: str
    saved: str
    output: str
    op: str
    accumulate_border: str
    active: str  # the node running now
    gradient: str  # gradient values on edges and the edges they travel
    done: str  # border of nodes that already ran
    warning: str  # what went wrong on the graph: a node whose saved tensor changed, an edge a hook changed
    base: str = "#a2cd5a"  # the base of an output that is a view (make_dot only): torchviz's darkolivegreen3


LIGHT = Palette(
    background="#ffffff",
    text="#111111",
    edge="#555555",
    leaf="#add8e6",  # torchviz's lightblue
    saved="#ffa500",  # torchviz's orange
    output="#caff70",  # torchviz's darkolivegreen1
    op="#d3d3d3",  # Graphviz's default fill, lightgrey, as torchviz leaves it
    accumulate_border="#1f5fa8",
    active="#ffd21f",
    gradient="#c0392b",
    done="#2e7d32",
    warning="#a4206f",
)

# The dark theme keeps the node fills (dark text on them stays readable) and lightens what sits
# on the background itself: edges, the gradients written on them, borders.
DARK = Palette(
    background="#0e1117",
    text="#111111",
    edge="#b0b7c3",
    leaf="#add8e6",
    saved="#ffa500",
    output="#caff70",
    op="#d3d3d3",
    accumulate_border="#6ea8fe",
    active="#ffd21f",
    gradient="#ff7b72",
    done="#7ee787",
    warning="#f778ba",
)

# Presentation: the Okabe-Ito colours, which stay distinct under the common colour-vision
# deficiencies, on pure white or black for the highest contrast on a projector.
PRESENTATION_LIGHT = Palette(
    background="#ffffff",
    text="#000000",
    edge="#000000",
    leaf="#56b4e9",
    saved="#e69f00",
    output="#009e73",
    op="#e0e0e0",
    accumulate_border="#0072b2",
    active="#f0e442",
    gradient="#d55e00",
    done="#009e73",  # not AccumulateGrad's blue: a node that ran must not look like one
    warning="#a4206f",
)
PRESENTATION_DARK = Palette(
    background="#000000",
    text="#000000",
    edge="#ffffff",
    leaf="#56b4e9",
    saved="#e69f00",
    output="#009e73",
    op="#e0e0e0",
    accumulate_border="#56b4e9",
    active="#f0e442",
    gradient="#ff9e4a",
    done="#009e73",
    warning="#cc79a7",
)


@dataclass(frozen=True)
class Look:
    """Everything that changes how a graph is drawn: colours, type size, line width, and what the
    look is for (a dark background; lecturer mode), so nothing has to guess them from the colours."""

    palette: Palette
    font_size: int  # points, in the SVG
    edge_width: float  # Graphviz penwidth of edges and node borders
    dark: bool = False  # drawn on a dark background: the player's controls go dark too
    presentation: bool = False  # lecturer mode: large, high-contrast type around the graph too


def look_for(dark: bool = False, presentation: bool = False) -> Look:
    """The one place that picks the drawing for a theme and for lecturer mode."""
    if presentation:
        return Look(PRESENTATION_DARK if dark else PRESENTATION_LIGHT, font_size=20, edge_width=3.0, dark=dark,
                    presentation=True)
    return Look(DARK if dark else LIGHT, font_size=12, edge_width=1.0, dark=dark)


DEFAULT_LOOK = look_for()


# Which way the arrows run, said where the colours are explained (render.py draws them so).
GRADIENT_LABEL = "gradient flowing back, along the arrows: from the output down to the leaves"

KIND_LABELS = {
    "leaf": "leaf tensor (requires_grad=True)",
    "saved": "saved tensor (kept for backward)",
    "output": "output tensor",
    "op": "backward op",
    "accumulate": "AccumulateGrad (writes .grad)",
}


def fill_for(kind: str, palette: Palette = LIGHT) -> str:
    return {"leaf": palette.leaf, "saved": palette.saved, "output": palette.output, "base": palette.base}.get(kind, palette.op)


def legend_items(palette: Palette = LIGHT) -> list[tuple[str, str, str | None]]:
    """(fill, meaning, border or None) in the order a legend shows them. A border tells apart
    what the fill does not: AccumulateGrad from a backward op, and a node that already ran."""
    borders = {"accumulate": palette.accumulate_border}
    return [(fill_for(kind, palette), label, borders.get(kind)) for kind, label in KIND_LABELS.items()] + [
        (palette.active, "running now (animation)", None),
        (palette.op, "already ran (animation)", palette.done),
        (palette.gradient, GRADIENT_LABEL, None),
    ]
