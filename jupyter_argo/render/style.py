"""How the graph looks: shapes by node type, colours and glyphs by phase.

Colours are the Argo UI's (argo-ui's success, failed, running and warning colours, its
gray-6 for skipped work); the glyphs stand in for the UI's Font Awesome icons. The live
widget receives `PALETTE` as data, so Python and JavaScript recolour nodes the same way.
Phase colours read on light and dark backgrounds alike; what is drawn in the paper's
colours (the background, the title, the legend's type samples) is classed so the live
view's stylesheet can give it JupyterLab's theme colours.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LEGEND_PHASES",
    "ON_PAPER",
    "PALETTE",
    "PAPER",
    "SHAPES",
    "PhaseStyle",
    "Shape",
    "phase_style",
]

FONT = "Helvetica,Arial,sans-serif"
DARK_TEXT = "#1e2a33"
BORDER = "#3d4b55"
EDGE = "#a9b7c1"
MUTED = "#6d7f8b"
PAPER = "white"  # the drawing's background, standalone (the live view uses the theme's)
# The class of the legend's node-type samples, which are drawn on the paper's colour (the
# live view's stylesheet gives them the theme's colours; phase colours stay as they are).
ON_PAPER = "argo-on-paper"


@dataclass(frozen=True)
class PhaseStyle:
    fill: str
    text: str
    glyph: str  # one code point, shown before the label's first line


PALETTE: dict[str, PhaseStyle] = {
    "Pending": PhaseStyle("#f4c030", DARK_TEXT, "◷"),
    "Running": PhaseStyle("#0dadea", "#ffffff", "⟳"),
    "Suspended": PhaseStyle("#f4c030", DARK_TEXT, "‖"),
    "Succeeded": PhaseStyle("#18be94", "#ffffff", "✓"),
    "Failed": PhaseStyle("#e96d76", "#ffffff", "✗"),
    "Error": PhaseStyle("#e96d76", "#ffffff", "✗"),
    "Skipped": PhaseStyle("#6d7f8b", "#ffffff", "»"),
    "Omitted": PhaseStyle("#6d7f8b", "#ffffff", "»"),
    "": PhaseStyle("#ccd6dd", DARK_TEXT, "○"),  # not started, or a phase we do not know
}

# The legend's colour row: one entry per distinct colour, named like the Argo UI's filter.
LEGEND_PHASES: tuple[str, ...] = (
    "Pending",
    "Running",
    "Suspended",
    "Succeeded",
    "Failed",
    "Skipped",
)


def phase_style(phase: str) -> PhaseStyle:
    return PALETTE.get(phase, PALETTE[""])


@dataclass(frozen=True)
class Shape:
    """Graphviz node attributes for one node type."""

    attrs: tuple[tuple[str, str], ...]
    labelled: bool = True  # False: a junction dot, as the Argo UI hides these node types


def _shape(**attrs: str) -> Shape:
    return Shape(tuple(attrs.items()))


_JUNCTION = Shape((("shape", "point"), ("width", "0.09")), labelled=False)

SHAPES: dict[str, Shape] = {
    "Pod": _shape(shape="box"),
    "Container": _shape(shape="box", style="filled"),
    "Steps": _shape(shape="tab", style="filled"),
    "StepGroup": _JUNCTION,
    "DAG": _shape(shape="hexagon", style="filled"),
    "TaskGroup": Shape((("shape", "diamond"), ("width", "0.14"), ("height", "0.14")), False),
    "Retry": _shape(shape="ellipse", peripheries="2", style="filled"),
    "Skipped": _shape(shape="box", style="rounded,filled,dashed"),
    "Suspend": _shape(shape="octagon", style="filled"),
    "HTTP": _shape(shape="cds", style="filled"),
    "Plugin": _shape(shape="cds", style="filled"),
    # Not an Argo node type: the stand-in for a collapsed fan-out.
    "Group": _shape(shape="box3d", style="filled", fixedsize="true", width="1.9", height="0.45"),
}
DEFAULT_SHAPE = SHAPES["Pod"]
