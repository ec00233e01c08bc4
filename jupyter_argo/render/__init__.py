"""Argo's Workflow status as a picture: status -> graph -> DOT -> SVG, all pure functions.

`render_svg(workflow)` is the whole pipeline. Its steps, for the live view:
`build_graph` (which nodes and edges to draw, folding large fan-outs), `draw` (DOT laid
out by Graphviz, legend below), `recolour` (new phases on an existing layout).
"""

from __future__ import annotations

from jupyter_argo.render.graph import Collapse, Graph, build_graph
from jupyter_argo.render.summary import summarise, text_summary
from jupyter_argo.render.svg import draw, recolour, render_svg

__all__ = [
    "Collapse",
    "Graph",
    "build_graph",
    "draw",
    "recolour",
    "render_svg",
    "summarise",
    "text_summary",
]
