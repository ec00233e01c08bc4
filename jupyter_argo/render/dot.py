"""A `Graph` as Graphviz DOT, built with the `graphviz` package.

DOT node names are short and generated (`n0`, `n1`, ...); the Argo node ID travels in the
`id` attribute, so it becomes the SVG element's `id` and the widget finds nodes by it.
The `class` attribute carries `<type> phase-<phase>` for styling and recolouring.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any

from jupyter_argo.render.graph import Box, Graph
from jupyter_argo.render.style import (
    BORDER,
    DARK_TEXT,
    DEFAULT_SHAPE,
    EDGE,
    FONT,
    LEGEND_PHASES,
    MUTED,
    ON_PAPER,
    PAPER,
    SHAPES,
    phase_style,
)

__all__ = ["legend_dot", "phase_class", "to_dot"]

# Past this many nodes, trade some crossing reduction for speed (dot's mincross and
# network simplex dominate layout time on wide graphs).
_BIG = 200

_GRAPH_ATTRS = {
    "rankdir": "TB",
    "nodesep": "0.25",
    "ranksep": "0.35",
    "bgcolor": "transparent",
    "pad": "0.1",
    "outputorder": "edgesfirst",
    "fontname": FONT,
    "fontsize": "9",
}
_NODE_ATTRS = {
    "shape": "box",
    "style": "rounded,filled",
    "fontname": FONT,
    "fontsize": "10",
    "height": "0.3",
    "margin": "0.1,0.04",
    "color": BORDER,
    "penwidth": "0.8",
}
_EDGE_ATTRS = {"color": EDGE, "arrowsize": "0.6"}
_CLUSTER_ATTRS = {
    "label": "retries",
    "style": "dashed,rounded",
    "color": "#8fa4b1",
    "fontcolor": MUTED,
    "fontsize": "9",
}


def phase_class(kind: str, phase: str) -> str:
    return f"{kind} phase-{phase or 'none'}"


def _escape(text: str) -> str:
    # Graphviz expands backslash escapes (\N, \G, \l, ...) in labels; user text is literal.
    return text.replace("\\", "\\\\")


def _label(box: Box) -> str:
    if not box.lines:
        return ""
    first, *rest = box.lines
    lines = [f"{phase_style(box.phase).glyph} {first}", *rest]
    if box.kind == "Group":
        lines.append(box.note or " ")
    return "\\n".join(_escape(line) for line in lines)


def _node_attrs(box: Box) -> dict[str, str]:
    shape = SHAPES.get(box.kind, DEFAULT_SHAPE)
    style = phase_style(box.phase)
    attrs = dict(shape.attrs)
    attrs.update(
        id=box.id,
        label=_label(box),
        fillcolor=style.fill,
        fontcolor=style.text,
        **{"class": phase_class(box.kind, box.phase)},
    )
    if not shape.labelled:
        attrs.update(style="filled", penwidth="0.3")
    if box.hooked:
        attrs["style"] = attrs.get("style", _NODE_ATTRS["style"]) + ",dashed"
        attrs["penwidth"] = "1.6"
    return attrs


def to_dot(graph: Graph) -> str:
    """The DOT source for `graph`: what Graphviz lays out. Phases only colour it."""
    import graphviz

    graph_attrs = dict(_GRAPH_ATTRS)
    if len(graph.boxes) > _BIG:
        graph_attrs.update(mclimit="0.3", nslimit="2", nslimit1="2", remincross="false")
    dot = graphviz.Digraph(
        name="workflow",
        graph_attr=graph_attrs,
        node_attr=_NODE_ATTRS,
        edge_attr=_EDGE_ATTRS,
    )
    names = {box_id: f"n{index}" for index, box_id in enumerate(graph.boxes)}
    clusters: dict[str, list[Box]] = {}
    for box in graph.boxes.values():
        if box.cluster:
            clusters.setdefault(box.cluster, []).append(box)
        else:
            dot.node(names[box.id], **_node_attrs(box))
    for index, members in enumerate(clusters.values()):
        with dot.subgraph(name=f"cluster_{index}", graph_attr=_CLUSTER_ATTRS) as cluster:
            for box in members:
                cluster.node(names[box.id], **_node_attrs(box))
    for edge in graph.edges:
        extra: dict[str, Any] = {"style": "dashed"} if edge.hooked else {}
        dot.edge(names[edge.tail], names[edge.head], **extra)
    source: str = dot.source
    return source


_LEGEND_NAMES = {
    "StepGroup": "● step group",
    "TaskGroup": "◆ task group",
    "Group": "collapsed",
    "hook": "exit handler",
}


@lru_cache(maxsize=64)
def legend_dot(kinds: tuple[str, ...], hooked: bool) -> str:
    """A two-row legend: the node types drawn, then the phase colours."""
    import graphviz

    dot = graphviz.Digraph(
        name="legend",
        graph_attr={**_GRAPH_ATTRS, "nodesep": "0.15", "ranksep": "0.12"},
        node_attr={**_NODE_ATTRS, "fontsize": "8", "height": "0.22", "fillcolor": PAPER},
        edge_attr={"style": "invis"},
    )
    types: list[str] = []
    for kind in (*kinds, *(("hook",) if hooked else ())):
        name = f"t{len(types)}"
        types.append(name)
        label = _LEGEND_NAMES.get(kind, kind)
        attrs: dict[str, str] = {
            "label": label,
            "fontcolor": DARK_TEXT,
            "id": f"legend-{kind}",
            "class": ON_PAPER,
        }
        if kind == "hook":
            attrs.update(style="rounded,filled,dashed", penwidth="1.6")
        elif kind in ("StepGroup", "TaskGroup"):
            attrs.update(shape="plaintext")
        else:
            attrs.update(dict(SHAPES.get(kind, DEFAULT_SHAPE).attrs))
            attrs.update(fixedsize="false", width="0", height="0.22", fillcolor=PAPER)
        dot.node(name, **attrs)
    phases: list[str] = []
    for phase in LEGEND_PHASES:
        name = f"p{len(phases)}"
        phases.append(name)
        style = phase_style(phase)
        dot.node(
            name,
            label=f"{style.glyph} {phase}",
            fillcolor=style.fill,
            fontcolor=style.text,
            id=f"legend-{phase}",
        )
    for row in (types, phases):
        with dot.subgraph() as same:
            same.attr(rank="same")
            for tail, head in itertools.pairwise(row):
                same.edge(tail, head)
    if types:
        dot.edge(types[0], phases[0])
    source: str = dot.source
    return source
