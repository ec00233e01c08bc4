"""Laid-out SVG: drawing a graph with its legend, recolouring it, titling it.

`draw` is the only step that runs Graphviz. `recolour` repaints an existing drawing for
new phases without a new layout (what the widget's JavaScript does in the browser, done
here for the static copy), and `stack` puts a title line, the graph and the legend one
under another in one SVG.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from typing import Any

from jupyter_argo.render.dot import legend_dot, to_dot
from jupyter_argo.render.engine import layout
from jupyter_argo.render.graph import FOLD, Collapse, Graph, build_graph, sanitise
from jupyter_argo.render.style import DARK_TEXT, FONT, PALETTE, PAPER, phase_style
from jupyter_argo.render.summary import summarise

__all__ = ["draw", "draw_parts", "recolour", "render_svg", "stack"]

_ROOT = re.compile(r"<svg\b[^>]*>")
_VIEWBOX = re.compile(r'viewBox="([^"]*)"')
_NODE = re.compile(r'<g id="([^"]*)" class="node ?([^"]*)">(.*?)</g>', re.DOTALL)
_SHAPE_FILL = re.compile(r'(<(?:path|polygon|ellipse|polyline)\b[^>]*?\bfill=")([^"]*)(")')
_TEXT = re.compile(r"(<text\b)([^>]*)(>)([^<]*)(</text>)")
_FILL = re.compile(r'\bfill="[^"]*"')
_PHASE_CLASS = re.compile(r"\bphase-\S*")
_FIRST_CHAR = re.compile(r"^(&#x?[0-9a-fA-F]+;|.)", re.DOTALL)
_GLYPHS = {style.glyph for style in PALETTE.values()}
_TITLE_HEIGHT = 24.0


def render_svg(
    workflow: Mapping[str, Any],
    *,
    expand: Collection[str] = (),
    collapse: Collapse = FOLD,
    title: bool = True,
) -> str:
    """The SVG of an Argo Workflow object (metadata, spec, status), as either backend returns it.

    Nodes are shaped by type and coloured by phase like the Argo UI, loop items carry their
    item, retries are boxed together, the exit handler hangs off the end, a legend sits
    below, and fan-outs of large runs fold into group nodes. `title` adds the workflow's
    name, phase, progress and duration above the graph.
    """
    clean, _ = sanitise(workflow)
    graph = build_graph(clean, expand=expand, collapse=collapse)
    drawing = draw(graph)
    return with_title(drawing, clean) if title else drawing


def draw(graph: Graph) -> str:
    """Lay out `graph` (one Graphviz run) and put the legend under it."""
    return stack(list(draw_parts(graph)))


def draw_parts(graph: Graph) -> tuple[str, str]:
    """The laid-out graph and its legend, as two Graphviz SVG documents (one layout run)."""
    hooked = any(box.hooked for box in graph.boxes.values())
    return layout(to_dot(graph)), _legend(graph.kinds(), hooked)


@lru_cache(maxsize=64)
def _legend(kinds: tuple[str, ...], hooked: bool) -> str:
    return layout(legend_dot(kinds, hooked))


def with_title(drawing: str, workflow: Mapping[str, Any]) -> str:
    summary = summarise(workflow)
    return stack([drawing], title=summary.headline(), title_phase=summary.phase)


def _split(svg: str) -> tuple[str, float, float, str]:
    """(viewBox, width, height, inner markup) of a standalone SVG document."""
    root = _ROOT.search(svg)
    if root is None:
        raise ValueError("not an SVG document")
    box = _VIEWBOX.search(root.group(0))
    numbers = [float(n) for n in box.group(1).replace(",", " ").split()] if box else []
    if len(numbers) != 4:
        raise ValueError("SVG without a viewBox")
    end = svg.rindex("</svg>")
    return box.group(1) if box else "", numbers[2], numbers[3], svg[root.end() : end]


def stack(parts: Sequence[str], *, title: str = "", title_phase: str = "") -> str:
    """One SVG with `title` (optional) and `parts` stacked top to bottom, left-aligned.

    Standalone (a saved notebook's image) it is drawn on white; in the live view, whose
    stylesheet follows JupyterLab's theme, the classes `argo-paper` (the background) and
    `argo-title` take the theme's colours."""
    pieces: list[str] = []
    width, y = 0.0, 0.0
    if title:
        glyph, _, rest = title.partition(" ")
        colour = phase_style(title_phase).fill
        pieces.append(
            f'<text class="argo-title" x="8" y="17" font-family="{FONT}" font-size="13" '
            f'font-weight="bold" fill="{DARK_TEXT}">'
            f'<tspan fill="{colour}">{html.escape(glyph)}</tspan> {html.escape(rest)}</text>'
        )
        width, y = 16 + 7.2 * len(title), _TITLE_HEIGHT
    for part in parts:
        view_box, w, h, inner = _split(part)
        pieces.append(
            f'<svg x="0" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}" viewBox="{view_box}">'
            f"{inner}</svg>"
        )
        width, y = max(width, w), y + h
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'class="argo-dag" width="{width:.0f}pt" height="{y:.0f}pt" '
        f'viewBox="0 0 {width:.2f} {y:.2f}">\n'
        f'<rect class="argo-paper" width="100%" height="100%" fill="{PAPER}"/>\n'
        + "\n".join(pieces)
        + "\n</svg>\n"
    )


def recolour(svg: str, phases: Mapping[str, str], notes: Mapping[str, str] = {}) -> str:
    """`svg` with each node in `phases` repainted for its phase (and groups' counts in `notes`).

    No layout: fills, text colours, the glyph and the `phase-*` class change in place.
    """

    def repaint(match: re.Match[str]) -> str:
        node_id = html.unescape(match.group(1))
        phase = phases.get(node_id)
        if phase is None:
            return match.group(0)
        style = phase_style(phase)
        # Graphviz writes "-" in attributes as "&#45;".
        kept = _PHASE_CLASS.sub("", html.unescape(match.group(2))).split()
        classes = " ".join([*kept, f"phase-{phase or 'none'}"])
        body = _SHAPE_FILL.sub(
            lambda m: m.group(0) if m.group(2) == "none" else f'{m.group(1)}{style.fill}"',
            match.group(3),
        )
        index = 0

        def retext(m: re.Match[str]) -> str:
            nonlocal index
            attrs = _FILL.sub(f'fill="{style.text}"', m.group(2))
            if "fill=" not in attrs:
                attrs += f' fill="{style.text}"'
            content = m.group(4)
            if index == 0:
                first = _FIRST_CHAR.match(content)
                if first and html.unescape(first.group(1)) in _GLYPHS:
                    content = style.glyph + content[first.end() :]
            elif index == 1 and node_id in notes:
                content = html.escape(notes[node_id] or " ")
            index += 1
            return f"{m.group(1)}{attrs}{m.group(3)}{content}{m.group(5)}"

        body = _TEXT.sub(retext, body)
        return f'<g id="{match.group(1)}" class="node {html.escape(classes)}">{body}</g>'

    return _NODE.sub(repaint, svg)
