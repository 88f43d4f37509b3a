"""Graphviz's SVG, made fit for a page: inline in HTML (the app, the standalone player, the static
site) or in a notebook cell, with tooltips that say what each node is."""

from __future__ import annotations

import re

from explorer.core.graph import Graph
from explorer.drawing.legend import KIND_LABELS
from explorer.errors import ExplorerError

SVG_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def clean_svg(svg: str, graph: Graph) -> str:
    """Graphviz's SVG without its XML prolog, comments and namespace URLs, with readable tooltips.

    Inline in HTML the parser puts <svg> in the SVG namespace itself, so the xmlns attributes are
    not needed, and dropping them keeps the standalone page free of any URL. Graphviz's <title>
    elements hold our ids (n3, n1->n0); hovering a node shows what it is instead.
    """
    start = svg.find("<svg")
    svg = re.sub(r"<!--.*?-->\n?", "", svg[start:], flags=re.S)
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    return re.sub(r'<title>([^<]*)</title>\n?', lambda m: _tooltip(graph, m.group(1)), svg)


def _tooltip(graph: Graph, title: str) -> str:
    try:
        node = graph.node(title)
    except KeyError:
        return ""  # an edge or the graph itself: no tooltip
    kind = KIND_LABELS.get(node.kind, node.kind)
    return f"<title>{_xml(node.name)} : {_xml(kind)}</title>\n"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def scalable_svg(svg: str, graph: Graph, inline: bool = True) -> str:
    """Graphviz's SVG fit for a notebook cell: never wider than the cell, never clipped, never
    blown up past its natural size; no prolog or comments; tooltips that name each node.

    `inline` (for HTML): width 100% of the cell, at most the natural width, height from the
    kept viewBox. Otherwise (image/svg+xml, which JupyterLab shows as an <img>): the natural
    width and height stay as the image's own size, and max-width 100% with height auto scales
    it down in a narrow cell (an <img> whose SVG says width="100%" would stretch to the cell).
    """
    body = clean_svg(svg, graph)
    match = re.match(r"<svg\b[^>]*>", body)
    if match is None:
        raise ExplorerError("Graphviz wrote an SVG without an <svg> element.")
    tag = match.group(0)
    width = re.search(r'\swidth="([^"]*)"', tag)
    height = re.search(r'\sheight="([^"]*)"', tag)
    attributes = re.sub(r'\s(width|height|style|xmlns(:xlink)?)="[^"]*"', "", tag[len("<svg"):-1]).strip()
    if inline:
        limit = f"max-width:{width.group(1)};" if width else ""
        size = f'width="100%" style="{limit}height:auto;display:block"'
    else:
        natural = " ".join(f'{key}="{found.group(1)}"' for key, found in (("width", width), ("height", height))
                           if found)
        size = f'{natural} style="max-width:100%;height:auto"'.strip()
    return f"<svg {size} {attributes} {SVG_NS}>" + body[match.end():]


def svg_size(svg: str) -> tuple[float, float]:
    """An SVG's size in its viewBox units (points, for Graphviz)."""
    match = re.search(r'viewBox="([^"]*)"', svg)
    if not match:
        return 0.0, 0.0
    numbers = [float(n) for n in re.split(r"[\s,]+", match.group(1).strip())]
    return numbers[2], numbers[3]
