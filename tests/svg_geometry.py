"""Where the arrows of a drawn graph point, read from its SVG: for each edge, the node its arrowhead
touches. Shared by the unit tests (SVG from dot) and the browser tests (SVG read from the page)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

NUMBER = r"-?\d+(?:\.\d+)?"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _points(element) -> list[tuple[float, float]]:
    text = element.get("points") or element.get("d") or ""
    values = [float(v) for v in re.findall(NUMBER, text)]
    return list(zip(values[0::2], values[1::2]))


def node_boxes(svg: str) -> dict[str, tuple[float, float, float, float]]:
    """node id -> (left, top, right, bottom) of its shape, in the SVG's own coordinates."""
    boxes = {}
    for group in ET.fromstring(svg).iter():
        if _local(group.tag) == "g" and "node" in (group.get("class") or "").split():
            points = [p for child in group if _local(child.tag) in ("path", "polygon", "ellipse")
                      for p in _points(child)]
            if points:
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                boxes[group.get("id")] = (min(xs), min(ys), max(xs), max(ys))
    return boxes


def arrowheads(svg: str) -> dict[str, tuple[float, float] | None]:
    """edge id -> the centre of its arrowhead (None for a line drawn without one)."""
    heads = {}
    for group in ET.fromstring(svg).iter():
        if _local(group.tag) == "g" and "edge" in (group.get("class") or "").split():
            polygon = next((child for child in group if _local(child.tag) == "polygon"), None)
            points = _points(polygon)[:-1] if polygon is not None else []  # the last point closes the shape
            heads[group.get("id")] = (sum(p[0] for p in points) / len(points),
                                      sum(p[1] for p in points) / len(points)) if points else None
    return heads


def _distance(point, box) -> float:
    x, y = point
    left, top, right, bottom = box
    dx = max(left - x, 0, x - right)
    dy = max(top - y, 0, y - bottom)
    return (dx * dx + dy * dy) ** 0.5


def pointed_at(svg: str) -> dict[str, str | None]:
    """edge id -> the id of the node its arrowhead touches (None for an edge without arrowhead)."""
    boxes = node_boxes(svg)
    return {edge: None if head is None else min(boxes, key=lambda node: _distance(head, boxes[node]))
            for edge, head in arrowheads(svg).items()}
