"""Rendering Argo Workflow objects: status -> graph -> DOT -> SVG, with real Graphviz."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import jupyter_argo
from jupyter_argo.errors import ConfigError
from jupyter_argo.render import Collapse, build_graph, draw, recolour, render_svg, text_summary
from jupyter_argo.render import engine as engine_module
from jupyter_argo.render._samples import dag_workflow, fan_out_workflow
from jupyter_argo.render.dot import to_dot
from jupyter_argo.render.graph import NEVER
from jupyter_argo.render.style import LEGEND_PHASES, SHAPES, phase_style

FIXTURES = Path(__file__).parent / "fixtures" / "workflows"
SVG = "{http://www.w3.org/2000/svg}"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def all_fixtures() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def nodes_of(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = workflow["status"].get("nodes") or {}
    return nodes


def drawn(svg: str) -> dict[str, ET.Element]:
    """SVG node groups by id (legend entries included, as `legend-*`)."""
    root = ET.fromstring(svg)
    return {
        g.attrib["id"]: g
        for g in root.iter(f"{SVG}g")
        if g.attrib.get("class", "").split()[:1] == ["node"]
    }


def filled_shapes(g: ET.Element) -> list[ET.Element]:
    return [
        e
        for e in g
        if e.tag in (f"{SVG}path", f"{SVG}polygon", f"{SVG}ellipse")
        and e.attrib.get("fill") != "none"
    ]


def texts(g: ET.Element) -> list[str]:
    return [t.text or "" for t in g.iter(f"{SVG}text")]


def display_phase(node: dict[str, Any]) -> str:
    phase = str(node.get("phase") or "")
    return "Suspended" if node.get("type") == "Suspend" and phase == "Running" else phase


def numbers(element: ET.Element) -> list[tuple[float, float]]:
    """The points an SVG shape passes through (enough for bounding boxes)."""
    if element.tag == f"{SVG}ellipse":
        cx, cy = float(element.attrib["cx"]), float(element.attrib["cy"])
        rx, ry = float(element.attrib["rx"]), float(element.attrib["ry"])
        return [(cx - rx, cy - ry), (cx + rx, cy + ry)]
    raw = element.attrib.get("points") or element.attrib.get("d") or ""
    values = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", raw)]
    return list(zip(values[::2], values[1::2], strict=False))


def bbox(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {name: render_svg(load(name)) for name in all_fixtures()}


def test_fixtures_are_argo_workflow_objects() -> None:
    names = all_fixtures()
    assert len(names) >= 4
    for name in names:
        workflow = load(name)
        assert workflow["kind"] == "Workflow"
        assert {"metadata", "spec", "status"} <= workflow.keys()
        for node_id, node in nodes_of(workflow).items():
            assert node["id"] == node_id
            for child in node.get("children", []):
                assert child in nodes_of(workflow), f"{name}: {node_id} -> {child}"


@pytest.mark.parametrize("name", all_fixtures())
def test_every_node_drawn_and_coloured_by_phase(name: str, rendered: dict[str, str]) -> None:
    workflow = load(name)
    groups = drawn(rendered[name])
    nodes = nodes_of(workflow)
    for node_id, node in nodes.items():
        assert node_id in groups, f"{node['name']} not drawn"
        expected = phase_style(display_phase(node))
        fills = {e.attrib["fill"] for e in filled_shapes(groups[node_id])}
        assert fills == {expected.fill}, node["name"]
        assert f"phase-{display_phase(node) or 'none'}" in groups[node_id].attrib["class"]
    if not nodes:  # just submitted: the workflow itself stands in
        assert workflow["metadata"]["name"] in groups


def test_phases_have_distinct_colours() -> None:
    fills = {phase_style(p).fill for p in ("Pending", "Running", "Succeeded", "Failed", "Skipped")}
    assert len(fills) == 5


@pytest.mark.parametrize("name", all_fixtures())
def test_node_shapes_follow_types(name: str, rendered: dict[str, str]) -> None:
    workflow = load(name)
    graph = build_graph(workflow)
    source = to_dot(graph)
    groups = drawn(rendered[name])
    for box in graph.boxes.values():
        shape = dict(SHAPES[box.kind].attrs)["shape"]
        assert re.search(rf'id="{re.escape(box.id)}"[^\]]*shape={shape}\b', source) or (
            shape == "box" and f'id="{box.id}"' in source
        ), box
        element = groups[box.id]
        if box.kind == "Retry":  # a double ellipse
            assert len([e for e in element if e.tag == f"{SVG}ellipse"]) == 2
        if box.kind == "DAG":
            (polygon,) = [e for e in element if e.tag == f"{SVG}polygon"]
            assert len(numbers(polygon)) == 7  # a closed hexagon
        if box.kind == "Suspend":
            (polygon,) = [e for e in element if e.tag == f"{SVG}polygon"]
            assert len(numbers(polygon)) == 9  # a closed octagon
        if box.kind in ("StepGroup", "TaskGroup"):
            assert texts(element) == []  # junctions, as the Argo UI hides them
        if box.kind == "Skipped" or box.hooked:
            assert any("stroke-dasharray" in e.attrib for e in filled_shapes(element))


def test_labels_start_with_phase_glyph(rendered: dict[str, str]) -> None:
    workflow = load("dag-running")
    groups = drawn(rendered["dag-running"])
    for node_id, node in nodes_of(workflow).items():
        lines = texts(groups[node_id])
        if node["type"] in ("StepGroup", "TaskGroup"):
            continue
        assert lines[0] == f"{phase_style(display_phase(node)).glyph} {lines[0][2:]}"


def test_loop_items_are_labelled_with_their_item(rendered: dict[str, str]) -> None:
    workflow = load("loops-succeeded")
    groups = drawn(rendered["loops-succeeded"])
    items = workflow["spec"]["templates"][0]["steps"][0][0]["withItems"]
    looped = [n for n in nodes_of(workflow).values() if "(" in n["displayName"]]
    assert len(looped) == len(items)
    for index, item in enumerate(items):
        (node,) = [n for n in looped if f"({index}:" in n["displayName"]]
        lines = texts(groups[node["id"]])
        assert lines[0].endswith("print-message")
        text = item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))
        line = lines[1]
        assert line.startswith(f"{index}: ")
        head, _, tail = line[len(f"{index}: ") :].partition("…")
        assert text.startswith(head)
        assert text.endswith(tail)


def test_retry_attempts_are_grouped_in_one_box(rendered: dict[str, str]) -> None:
    workflow = load("exit-handler-retries-failed")
    svg = rendered["exit-handler-retries-failed"]
    (retry,) = [n for n in nodes_of(workflow).values() if n["type"] == "Retry"]
    graph = build_graph(workflow)
    members = [b for b in graph.boxes.values() if b.cluster == retry["id"]]
    assert {b.id for b in members} == {retry["id"], *retry["children"]}
    attempts = [b for b in members if b.id != retry["id"]]
    assert sorted(b.lines[-1] for b in attempts) == [
        f"attempt {i + 1}" for i in range(len(retry["children"]))
    ]
    root = ET.fromstring(svg)
    (cluster,) = [g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "cluster"]
    x0, y0, x1, y1 = bbox([p for e in cluster if e.tag != f"{SVG}text" for p in numbers(e)])
    groups = drawn(svg)
    for box in members:
        bx0, by0, bx1, by1 = bbox([p for e in filled_shapes(groups[box.id]) for p in numbers(e)])
        assert x0 <= bx0, box.id
        assert bx1 <= x1, box.id
        assert by1 <= y1, box.id
        assert y0 <= by0, box.id
    outside = next(
        n for n in nodes_of(workflow).values() if n["type"] == "Pod" and "(" not in n["displayName"]
    )
    ox0, _, ox1, oy1 = bbox([p for e in filled_shapes(groups[outside["id"]]) for p in numbers(e)])
    assert not (x0 <= ox0 and ox1 <= x1 and oy1 <= y1 and oy1 >= y0)


def test_exit_handler_hangs_off_the_end() -> None:
    workflow = load("exit-handler-retries-failed")
    name = workflow["metadata"]["name"]
    nodes = nodes_of(workflow)
    (handler,) = [n for n in nodes.values() if n["name"] == f"{name}.onExit"]
    graph = build_graph(workflow)
    into = [e for e in graph.edges if e.head == handler["id"]]
    assert [e.tail for e in into] == nodes[name]["outboundNodes"]
    assert all(e.hooked for e in into)
    assert graph.boxes[handler["id"]].hooked
    # The handler's own steps hang below it, as in the Argo UI.
    below = [e.head for e in graph.edges if e.tail == handler["id"]]
    assert below == handler["children"]


def test_legend_lists_drawn_types_and_phase_colours(rendered: dict[str, str]) -> None:
    for name, svg in rendered.items():
        graph = build_graph(load(name))
        groups = drawn(svg)
        legend = {k.removeprefix("legend-") for k in groups if k.startswith("legend-")}
        assert set(graph.kinds()) <= legend
        assert set(LEGEND_PHASES) <= legend
        for phase in LEGEND_PHASES:
            (shape,) = filled_shapes(groups[f"legend-{phase}"])
            assert shape.attrib["fill"] == phase_style(phase).fill
        assert ("hook" in legend) == any(b.hooked for b in graph.boxes.values())


def test_title_carries_phase_progress_and_duration(rendered: dict[str, str]) -> None:
    workflow = load("exit-handler-retries-failed")
    root = ET.fromstring(rendered["exit-handler-retries-failed"])
    title = "".join(next(root.iter(f"{SVG}text")).itertext())
    status = workflow["status"]
    assert workflow["metadata"]["name"] in title
    assert status["phase"] in title
    assert status["progress"] in title
    assert render_svg(workflow, title=False).count(workflow["metadata"]["name"]) < rendered[
        "exit-handler-retries-failed"
    ].count(workflow["metadata"]["name"])


def test_user_text_is_drawn_literally() -> None:
    workflow = load("loops-succeeded")
    node = next(n for n in nodes_of(workflow).values() if n["type"] == "Pod")
    node["displayName"] = 'print(0:<b>&"\\N\\l")'
    groups = drawn(render_svg(workflow))  # parses: the SVG stays well-formed
    assert texts(groups[node["id"]])[1] == '0: <b>&"\\N\\l"'


def test_shape_key_ignores_phases_but_not_structure() -> None:
    workflow = load("dag-running")
    before = build_graph(workflow)
    later = copy.deepcopy(workflow)
    for node in nodes_of(later).values():
        node["phase"] = "Succeeded"
    assert build_graph(later).shape_key == before.shape_key
    assert build_graph(later).phases() != before.phases()
    grown = copy.deepcopy(later)
    first = next(n for n in nodes_of(grown).values() if n["type"] == "Pod")
    extra = dict(first, id=f"{first['id']}-x", name=f"{first['name']}-x", children=[])
    nodes_of(grown)[extra["id"]] = extra
    first["children"] = [*first.get("children", []), extra["id"]]
    assert build_graph(grown).shape_key != before.shape_key


def test_recolour_equals_a_fresh_drawing() -> None:
    workflow = load("dag-running")
    old = draw(build_graph(workflow))
    later = copy.deepcopy(workflow)
    flip = {"Running": "Succeeded", "Pending": "Running", "Succeeded": "Failed"}
    for node in nodes_of(later).values():
        node["phase"] = flip.get(node["phase"], node["phase"])
    graph = build_graph(later)
    repainted, fresh = drawn(recolour(old, graph.phases())), drawn(draw(graph))
    for node_id in graph.boxes:
        assert [e.attrib["fill"] for e in filled_shapes(repainted[node_id])] == [
            e.attrib["fill"] for e in filled_shapes(fresh[node_id])
        ]
        assert texts(repainted[node_id]) == texts(fresh[node_id])
        assert repainted[node_id].attrib["class"] == fresh[node_id].attrib["class"]


def fan_out_members(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = nodes_of(workflow)
    group = next(n for n in nodes.values() if n["type"] == "StepGroup")
    return [nodes[c] for c in group["children"]]


def test_large_fan_out_collapses_to_first_group_last() -> None:
    collapse = Collapse(above=50, fanout=10)
    workflow = fan_out_workflow(120, running=37, failed=3)
    items = fan_out_members(workflow)
    graph = build_graph(workflow, collapse=collapse)
    (group,) = [b for b in graph.boxes.values() if b.kind == "Group"]
    hidden = items[1:-1]
    assert group.lines == (f"{len(hidden)} more",)
    assert list(group.members) == [n["id"] for n in hidden]
    running = sum(n["phase"] == "Running" for n in hidden)
    failed = sum(n["phase"] == "Failed" for n in hidden)
    assert group.note == f"{running} running, {failed} failed"
    assert group.phase == "Running"
    assert items[0]["id"] in graph.boxes
    assert items[-1]["id"] in graph.boxes
    svg = render_svg(workflow, collapse=collapse)
    assert group.note in texts(drawn(svg)[group.id])


def test_collapse_threshold() -> None:
    workflow = fan_out_workflow(40)
    size = len(nodes_of(workflow))
    below = build_graph(workflow, collapse=Collapse(above=size, fanout=10))
    above = build_graph(workflow, collapse=Collapse(above=size - 1, fanout=10))
    assert not any(b.kind == "Group" for b in below.boxes.values())
    assert len(below.boxes) == size
    assert [b.kind for b in above.boxes.values()].count("Group") == 1
    narrow = build_graph(workflow, collapse=Collapse(above=size - 1, fanout=40))
    assert not any(b.kind == "Group" for b in narrow.boxes.values())


def test_expanding_a_fan_out() -> None:
    collapse = Collapse(above=50, fanout=10, expanded=60)
    workflow = fan_out_workflow(120)
    items = fan_out_members(workflow)
    parent = next(n["id"] for n in nodes_of(workflow).values() if n["type"] == "StepGroup")
    graph = build_graph(workflow, expand={parent}, collapse=collapse)
    (group,) = [b for b in graph.boxes.values() if b.kind == "Group"]
    shown = [n["id"] for n in items if n["id"] in graph.boxes]
    assert len(shown) == collapse.expanded
    assert len(group.members) == len(items) - collapse.expanded


def test_ten_thousand_nodes_stay_bounded() -> None:
    workflow = dag_workflow(10_000)
    graph = build_graph(workflow)
    assert graph.total == len(nodes_of(workflow))
    assert len(graph.boxes) <= 2 * Collapse().budget
    groups = [b for b in graph.boxes.values() if b.kind == "Group"]
    assert groups
    drawn_nodes = [b for b in graph.boxes.values() if b.kind != "Group"]
    assert all(b.id in nodes_of(workflow) for b in drawn_nodes)
    assert NEVER.above > len(nodes_of(workflow))


def test_text_summary_lists_failures() -> None:
    workflow = load("exit-handler-retries-failed")
    text = text_summary(workflow)
    status = workflow["status"]
    assert status["phase"] in text
    assert status["message"] in text
    for node in nodes_of(workflow).values():
        if node["type"] == "Pod" and node["phase"] == "Failed":
            assert f"{node['displayName']}: {node['message']}" in text


def test_not_a_workflow_object_still_renders_a_placeholder() -> None:
    svg = render_svg({"metadata": {"name": "x"}})
    assert "x" in drawn(svg)


def test_bundled_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_ARGO_GRAPHVIZ", "bundled")
    assert engine_module.engine_name() == "bundled"
    svg = render_svg(load("dag-running"))
    assert set(nodes_of(load("dag-running"))) <= set(drawn(svg))


def test_bundled_worker_restarts_after_dying(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_ARGO_GRAPHVIZ", "bundled")
    engine_module.layout("digraph { a -> b }")
    process = engine_module._worker._process
    assert process is not None
    process.kill()
    process.wait()
    assert "<svg" in engine_module.layout("digraph { a -> c }")


@pytest.mark.skipif(not shutil.which("dot"), reason="Graphviz's dot not on PATH")
def test_dot_engine_draws_the_same_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = load("exit-handler-retries-failed")
    monkeypatch.setenv("JUPYTER_ARGO_GRAPHVIZ", "dot")
    by_dot = drawn(render_svg(workflow))
    monkeypatch.setenv("JUPYTER_ARGO_GRAPHVIZ", "bundled")
    bundled = drawn(render_svg(workflow))
    assert set(by_dot) == set(bundled)


def test_engine_choice_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_ARGO_GRAPHVIZ", "neato")
    with pytest.raises(ConfigError, match="JUPYTER_ARGO_GRAPHVIZ"):
        render_svg(load("loops-succeeded"))
    monkeypatch.setenv("JUPYTER_ARGO_GRAPHVIZ", "dot")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ConfigError, match="not on PATH"):
        render_svg(load("loops-succeeded"))


def test_lazy_public_api() -> None:
    assert jupyter_argo.render_svg is render_svg
    code = (
        "import sys, jupyter_argo;"
        "print(sorted(m for m in ('graphviz', 'anywidget', 'ipywidgets') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# Readable at any size: which fan-outs fold by default, what a group carries, bad input.


def test_a_loop_wider_than_ten_folds_by_default() -> None:
    # The Argo UI folds a node's children past a handful into first, "N hidden", last.
    for width, folded in ((10, False), (11, True), (30, True), (200, True)):
        workflow = fan_out_workflow(width)
        graph = build_graph(workflow)
        groups = [b for b in graph.boxes.values() if b.kind == "Group"]
        assert bool(groups) is folded, width
        if folded:
            items = fan_out_members(workflow)
            assert list(groups[0].members) == [n["id"] for n in items[1:-1]]
            assert items[0]["id"] in graph.boxes
            assert items[-1]["id"] in graph.boxes
            # Steps, [0], first item, group, last item, [1], summarise.
            assert len(graph.boxes) == 7
            assert graph.total == len(nodes_of(workflow))


def test_a_thousand_task_dag_is_drawn_in_full() -> None:
    # A DAG's root tasks and their dependents are separate tasks, not a loop: all drawn.
    workflow = dag_workflow(1000)
    graph = build_graph(workflow)
    assert set(graph.boxes) == set(nodes_of(workflow))
    assert not any(b.kind == "Group" for b in graph.boxes.values())
    edges = {(e.tail, e.head) for e in graph.edges}
    for node_id, node in nodes_of(workflow).items():
        for child in node.get("children") or ():
            assert (node_id, child) in edges


def test_a_group_carries_counts_by_phase_and_its_failed_and_running_items() -> None:
    workflow = fan_out_workflow(200, failed=3, running=20)
    items = fan_out_members(workflow)
    graph = build_graph(workflow)
    ((group_id, group),) = graph.groups().items()
    hidden = items[1:-1]
    expected = {p: sum(n["phase"] == p for n in hidden) for p in ("Failed", "Running", "Succeeded")}
    assert group["counts"] == {p: n for p, n in expected.items() if n}
    assert group["members"] == group["nodes"] == len(hidden) == 198
    assert group["name"] == "work"
    assert group["failed"] == [
        [n["id"], n["displayName"]] for n in hidden if n["phase"] == "Failed"
    ]
    running = [[n["id"], n["displayName"]] for n in hidden if n["phase"] == "Running"]
    assert group["running"] == running
    assert graph.boxes[group_id].phase == "Running"
    # Every folded node can be found by name.
    assert graph.index() == {group_id: [[n["id"], n["displayName"]] for n in hidden]}


def test_a_group_counts_the_work_of_folded_subtrees() -> None:
    # Items that are Steps of their own: the group counts their pods, lists the failed pod.
    workflow = fan_out_workflow(15)
    nodes = nodes_of(workflow)
    items = fan_out_members(workflow)
    target = items[5]
    pod = dict(target, id=f"{target['id']}-pod", name=f"{target['name']}.inner", phase="Failed")
    pod["displayName"] = "inner"
    pod["children"] = []
    nodes[pod["id"]] = pod
    target.update(type="Steps", phase="Failed", children=[pod["id"]])
    graph = build_graph(workflow)
    ((group_id, group),) = graph.groups().items()
    assert group["failed"] == [[pod["id"], "inner"]]
    assert group["nodes"] == group["members"] + 1
    assert pod["id"] in {n for n, _ in graph.index()[group_id]}


def test_unfolding_and_folding_again() -> None:
    workflow = fan_out_workflow(200)
    parent = next(n["id"] for n in nodes_of(workflow).values() if n["type"] == "StepGroup")
    folded = build_graph(workflow)
    unfolded = build_graph(workflow, expand={parent})
    assert not any(b.kind == "Group" for b in unfolded.boxes.values())
    assert set(unfolded.boxes) == set(nodes_of(workflow))
    assert unfolded.expandable == {parent: 200}
    assert folded.expandable == {}
    assert build_graph(workflow, expand=()).shape_key == folded.shape_key


def test_dag_task_loops_fold_under_their_task_group() -> None:
    workflow = load("dag-running")
    nodes = nodes_of(workflow)
    group = next(n for n in nodes.values() if n["type"] == "TaskGroup")
    first = nodes[group["children"][0]]
    for index in range(len(group["children"]), 25):
        item = copy.deepcopy(first)
        item["id"] = f"{first['id']}x{index}"
        item["name"] = re.sub(r"\(\d+:[^)]*\)$", f"({index}:{index})", first["name"])
        item["displayName"] = re.sub(r"\(\d+:[^)]*\)$", f"({index}:{index})", first["displayName"])
        nodes[item["id"]] = item
        group["children"].append(item["id"])
    graph = build_graph(workflow)
    (box,) = [b for b in graph.boxes.values() if b.kind == "Group"]
    assert box.id == f"{group['id']}/more"
    assert len(box.members) == 23


@pytest.mark.parametrize(
    ("workflow", "said"),
    [
        ({"metadata": {"name": "fresh-x1"}, "spec": {}}, "no status yet"),
        ({"metadata": {"name": "odd"}, "status": "Running"}, "status is not a mapping"),
        ({"metadata": {"name": "odd"}, "status": {"nodes": [1, 2]}}, "status.nodes is not"),
        (["not", "a", "workflow"], "not a Workflow object (a list)"),
    ],
)
def test_bad_input_draws_a_placeholder_and_says_why(workflow: Any, said: str) -> None:
    graph = build_graph(workflow)
    assert len(graph.boxes) == 1
    assert any(said in problem for problem in graph.problems), graph.problems
    render_svg(workflow)  # no traceback


def test_children_missing_from_the_status_are_left_out_and_named() -> None:
    workflow = fan_out_workflow(3)
    nodes = nodes_of(workflow)
    steps = next(n for n in nodes.values() if n["type"] == "Steps")
    steps["children"].append("ghost-123")
    nodes["junk"] = "not a node"
    graph = build_graph(workflow)
    assert set(graph.boxes) == set(nodes) - {"junk"}
    assert graph.problems == (
        "1 unreadable entry in status.nodes (e.g. 'junk'): not drawn",
        f"1 child missing from status.nodes (e.g. {steps['displayName']} -> ghost-123): not drawn",
    )
    assert "ghost-123" not in render_svg(workflow)
