"""The live view without a browser: trait values, layout counts, coalescing, static output."""

from __future__ import annotations

import copy
import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display
from IPython.utils.capture import capture_output

import jupyter_argo
from jupyter_argo.render import Collapse, build_graph
from jupyter_argo.render._samples import fan_out_workflow
from jupyter_argo.render.style import phase_style
from jupyter_argo.widgets import Coalescer, WorkflowView

FIXTURES = Path(__file__).parent / "fixtures" / "workflows"
SVG = "{http://www.w3.org/2000/svg}"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def nodes_of(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = workflow["status"].get("nodes") or {}
    return nodes


def finish(workflow: dict[str, Any]) -> dict[str, Any]:
    """The same run, later: every node that was running or pending has succeeded."""
    later = copy.deepcopy(workflow)
    for node in nodes_of(later).values():
        if node["phase"] in ("Running", "Pending"):
            node["phase"] = "Succeeded"
            node["finishedAt"] = "2024-05-25T11:29:00Z"
    later["status"].update(phase="Succeeded", finishedAt="2024-05-25T11:29:00Z")
    return later


def node_fills(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    fills = {}
    for g in root.iter(f"{SVG}g"):
        if g.attrib.get("class", "").startswith("node"):
            shapes = [
                e for e in g if e.attrib.get("fill", "none") != "none" and e.tag != f"{SVG}text"
            ]
            if shapes:
                fills[g.attrib["id"]] = shapes[0].attrib["fill"]
    return fills


class Logs:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, node_id: str) -> str:
        self.calls.append(node_id)
        return f"line 1 of {node_id}\nline 2 of {node_id}"


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    existed = InteractiveShell.initialized()
    yield InteractiveShell.instance()
    if not existed:
        InteractiveShell.clear_instance()


def test_public_name() -> None:
    assert jupyter_argo.WorkflowView is WorkflowView


def test_initial_state() -> None:
    workflow = load("dag-running")
    view = WorkflowView(workflow)
    graph = build_graph(workflow)
    assert view.layouts == 1
    assert view.phases == graph.phases()
    assert set(nodes_of(workflow)) <= set(view.phases)
    assert view.header["phase"] == workflow["status"]["phase"]
    assert view.header["progress"] == workflow["status"]["progress"]
    assert view.header["name"] in repr(view)
    assert set(view.palette) >= {"Running", "Succeeded", "Failed", ""}
    assert set(nodes_of(workflow)) <= set(node_fills(view.svg))


def test_phase_only_change_recolours_without_layout() -> None:
    workflow = load("dag-running")
    view = WorkflowView(workflow)
    svg = view.svg
    later = finish(workflow)
    view.update(later)
    assert view.layouts == 1
    assert view.svg is svg
    assert view.phases == build_graph(later).phases()
    assert view.header["phase"] == "Succeeded"
    # What the browser shows after repainting equals the static copy Python makes.
    fills = node_fills(view.static_svg())
    for node_id, node in nodes_of(later).items():
        assert fills[node_id] == phase_style(node["phase"]).fill


def test_structure_change_lays_out_again() -> None:
    workflow = load("dag-running")
    view = WorkflowView(workflow)
    grown = copy.deepcopy(workflow)
    a = next(n for n in nodes_of(grown).values() if n["displayName"] == "A")
    d = dict(a, id=f"{a['id']}9", name=f"{a['name']}-d", displayName="D", phase="Pending")
    d.pop("children")
    nodes_of(grown)[d["id"]] = d
    a["children"] = [*a["children"], d["id"]]
    view.update(grown)
    assert view.layouts == 2
    assert d["id"] in node_fills(view.svg)


def test_group_counts_update_without_layout() -> None:
    collapse = Collapse(above=20, fanout=5)
    running = fan_out_workflow(60, running=30)
    view = WorkflowView(running, collapse=collapse)
    (group,) = [
        b for b in build_graph(running, collapse=collapse).boxes.values() if b.kind == "Group"
    ]
    assert view.notes == {group.id: group.note}
    later = copy.deepcopy(running)
    for node in nodes_of(later).values():
        if node["phase"] == "Running" and node["type"] == "Pod":
            node["phase"] = "Succeeded"
    view.update(later)
    (after,) = [
        b for b in build_graph(later, collapse=collapse).boxes.values() if b.kind == "Group"
    ]
    assert view.layouts == 1
    assert view.notes == {group.id: after.note}
    assert after.note != group.note
    assert view.phases[group.id] == after.phase


def test_selecting_a_node_shows_inputs_outputs_message_and_log() -> None:
    workflow = load("exit-handler-retries-failed")
    logs = Logs()
    view = WorkflowView(workflow, logs=logs)
    failed = next(n for n in nodes_of(workflow).values() if n["displayName"] == "intentional-fail")
    view.selected = failed["id"]
    detail = view.detail
    assert detail["id"] == failed["id"]
    assert detail["phase"] == failed["phase"]
    assert detail["message"] == failed["message"]
    assert ["exitCode", failed["outputs"]["exitCode"]] in detail["outputs"]["parameters"]
    assert [a[0] for a in detail["outputs"]["artifacts"]] == ["main-logs"]
    assert failed["outputs"]["artifacts"][0]["s3"]["key"] in detail["outputs"]["artifacts"][0][1]
    assert detail["log"] == logs(failed["id"])
    assert logs.calls.count(failed["id"]) == 2  # once for the view, once just above

    loop = load("loops-succeeded")
    view = WorkflowView(loop)
    item = next(n for n in nodes_of(loop).values() if n["type"] == "Pod")
    view.selected = item["id"]
    assert view.detail["inputs"]["parameters"] == [
        [p["name"], p["value"]] for p in item["inputs"]["parameters"]
    ]
    assert ["result", item["outputs"]["result"]] in view.detail["outputs"]["parameters"]
    assert view.detail["log"] == ""  # no log source given


def test_logs_fetched_again_only_when_the_node_changes() -> None:
    workflow = load("dag-running")
    logs = Logs()
    view = WorkflowView(workflow, logs=logs)
    pending = next(n for n in nodes_of(workflow).values() if n["phase"] == "Pending")
    view.selected = pending["id"]
    assert logs.calls == [pending["id"]]
    view.update(copy.deepcopy(workflow))  # same phases: the log tail stays
    assert logs.calls == [pending["id"]]
    view.update(finish(workflow))  # it finished: fetch the end of its log
    assert logs.calls == [pending["id"], pending["id"]]
    assert view.detail["phase"] == "Succeeded"


def test_unreadable_logs_do_not_break_the_view() -> None:
    def broken(node_id: str) -> str:
        raise ConnectionError(f"no pod for {node_id}")

    workflow = load("dag-running")
    view = WorkflowView(workflow, logs=broken)
    pod = next(n for n in nodes_of(workflow).values() if n["type"] == "Pod")
    view.selected = pod["id"]
    assert view.detail["log"] == f"(logs unavailable: no pod for {pod['id']})"


def test_deselecting_and_unknown_ids_clear_the_detail() -> None:
    workflow = load("dag-running")
    view = WorkflowView(workflow)
    view.selected = next(iter(nodes_of(workflow)))
    assert view.detail
    view.selected = ""
    assert view.detail == {}
    view.selected = "no-such-node"
    assert view.detail == {}


def test_selecting_a_group_unfolds_it() -> None:
    collapse = Collapse(above=20, fanout=5)
    workflow = fan_out_workflow(40)
    view = WorkflowView(workflow, collapse=collapse)
    (group,) = [
        b for b in build_graph(workflow, collapse=collapse).boxes.values() if b.kind == "Group"
    ]
    view.selected = group.id
    assert view.selected == ""
    assert view.layouts == 2
    assert group.id not in view.phases
    assert set(group.members) <= set(view.phases)


def test_static_fallback_bundle() -> None:
    workflow = load("exit-handler-retries-failed")
    view = WorkflowView(workflow)
    data, _ = view._repr_mimebundle_()
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == view.model_id
    root = ET.fromstring(data["image/svg+xml"])
    ids = {g.attrib.get("id") for g in root.iter(f"{SVG}g")}
    assert set(nodes_of(workflow)) <= ids
    text = data["text/plain"]
    assert workflow["metadata"]["name"] in text
    assert workflow["status"]["phase"] in text


def test_display_embeds_svg_and_text_then_the_final_graph(shell: InteractiveShell) -> None:
    workflow = load("dag-running")
    view = WorkflowView(workflow)
    with capture_output() as shown:
        display(view)  # type: ignore[no-untyped-call]
        view.update(copy.deepcopy(workflow))  # still running: nothing re-published
        final = finish(workflow)
        view.update(final)
        view.update(final)  # unchanged: not re-published again
    first, *updates = shown.outputs
    assert {"image/svg+xml", "text/plain"} <= first.data.keys()
    assert "Running" in first.data["text/plain"]
    assert len(updates) == 1
    assert updates[0].update
    assert updates[0].transient["display_id"] == first.transient["display_id"]
    fills = node_fills(updates[0].data["image/svg+xml"])
    for node_id, node in nodes_of(final).items():
        assert fills[node_id] == phase_style(node["phase"]).fill
    assert "Succeeded" in updates[0].data["text/plain"]


def test_follow_applies_the_last_snapshot() -> None:
    workflow = load("dag-running")
    snapshots = [copy.deepcopy(workflow) for _ in range(50)]
    for index, snapshot in enumerate(snapshots):
        snapshot["status"]["message"] = f"snapshot {index}"
    view = WorkflowView(workflow)
    follower = view.follow(iter(snapshots))
    assert follower.join(timeout=60)
    assert follower.error is None
    assert follower.coalescer.error is None
    assert view.header["message"] == "snapshot 49"
    assert view.workflow is snapshots[-1]
    assert follower.coalescer.applied <= follower.coalescer.pushed == len(snapshots)
    assert view.layouts == 1


def test_follow_reports_a_broken_stream() -> None:
    workflow = load("dag-running")

    def stream() -> Iterator[dict[str, Any]]:
        yield finish(workflow)
        raise ConnectionResetError("watch closed")

    view = WorkflowView(workflow)
    follower = view.follow(stream())
    assert follower.join(timeout=60)
    assert isinstance(follower.error, ConnectionResetError)
    assert view.header["phase"] == "Succeeded"  # what arrived before the break is shown


# The coalescer on its own ---------------------------------------------------------------


def test_coalescer_never_queues_and_ends_with_the_last_value() -> None:
    applied: list[int] = []
    started, release = threading.Event(), threading.Event()

    def apply(value: int) -> None:
        applied.append(value)
        started.set()
        release.wait(timeout=60)

    coalescer: Coalescer[int] = Coalescer(apply, interval=0)
    coalescer.push(0)
    assert started.wait(timeout=60)
    for value in range(1, 100):  # all while the first apply is still running
        assert coalescer.push(value)
    release.set()
    coalescer.close(timeout=60)
    assert applied == [0, 99]
    assert coalescer.pushed == 100
    assert coalescer.applied == 2


def test_coalescer_rate_limit_still_flushes_the_final_value() -> None:
    applied: list[int] = []
    coalescer: Coalescer[int] = Coalescer(applied.append, interval=3600)
    for value in range(100):
        coalescer.push(value)
    coalescer.close(timeout=60)
    assert applied[0] in range(100)
    assert applied[-1] == 99
    assert len(applied) <= 2  # one per hour at most, plus the final value


def test_coalescer_close_without_flush_and_errors() -> None:
    seen: list[int] = []
    done = threading.Event()

    def apply(value: int) -> None:
        seen.append(value)
        done.set()
        raise ValueError(f"bad snapshot {value}")

    coalescer: Coalescer[int] = Coalescer(apply, interval=3600)
    coalescer.push(0)
    assert done.wait(timeout=60)
    coalescer.push(1)  # waits for the rate limit, then is dropped
    coalescer.close(flush=False, timeout=60)
    assert isinstance(coalescer.error, ValueError)
    assert 1 not in seen
    assert not coalescer.push(2)
    assert not coalescer.running


def test_a_group_folds_and_unfolds_both_ways_and_stays_so_across_updates() -> None:
    running = fan_out_workflow(200, failed=3, running=20)
    view = WorkflowView(running)
    (group_id,) = view.groups
    parent = view.groups[group_id]["parent"]
    assert view.expanded == []
    # A click on the group unfolds it, as in the Argo UI.
    view.selected = group_id
    assert view.expanded == [parent]
    assert view.layouts == 2
    assert view.groups == {}
    assert view.index == {}
    assert view.header["foldable"] == {parent: {"items": 200, "name": "work"}}
    # Still unfolded after a phase-only update: no new layout.
    view.update(finish(running))
    assert view.layouts == 2
    assert group_id not in view.phases
    # The browser's fold button sets `expanded`: folded again, and it stays folded.
    view.expanded = []
    assert view.layouts == 3
    assert group_id in view.phases
    assert view.header["foldable"] == {}
    view.update(finish(running))
    assert view.layouts == 3
    # And from Python.
    view.expand([parent])
    assert view.expanded == [parent]
    view.fold([parent])
    assert view.expanded == []
    assert group_id in view.phases


def test_groups_carry_counts_failed_and_running_items_and_the_index_every_name() -> None:
    running = fan_out_workflow(200, failed=3, running=20)
    view = WorkflowView(running)
    ((group_id, group),) = view.groups.items()
    items = [n for n in nodes_of(running).values() if n["type"] == "Pod"][1:-1]
    assert group["counts"] == {"Failed": 2, "Running": 20, "Succeeded": 176}
    assert [name for _, name in group["failed"]] == ["work(1:item-1)", "work(2:item-2)"]
    assert len(group["running"]) == 20
    assert [name for _, name in view.index[group_id]] == [n["displayName"] for n in items]
    index = view.index
    # Counts follow phases without a new layout, and the index (structure) is not resent.
    view.update(finish(running))
    assert view.layouts == 1
    assert view.index is index
    assert view.groups[group_id]["counts"] == {"Failed": 2, "Succeeded": 196}
    assert view.groups[group_id]["running"] == []
    # A folded item can be selected: its details, as for a drawn node.
    failed_id = group["failed"][0][0]
    view.selected = failed_id
    assert view.detail["id"] == failed_id
    assert view.detail["phase"] == "Failed"


def test_legend_travels_apart_from_the_graph() -> None:
    view = WorkflowView(load("dag-running"))

    def ids(svg: str) -> set[str]:
        return {g.attrib.get("id", "") for g in ET.fromstring(svg).iter(f"{SVG}g")}

    assert "legend-Pod" in ids(view.legend)
    assert not any(i.startswith("legend-") for i in ids(view.svg))
    # The static copy still has both.
    static = view.static_svg()
    assert "legend-Pod" in ids(static)
    assert set(nodes_of(load("dag-running"))) <= set(node_fills(static))


@pytest.mark.parametrize(
    ("workflow", "said"),
    [
        ({"metadata": {"name": "fresh-x1"}, "spec": {}}, "no status yet"),
        ({"metadata": {"name": "odd"}, "status": "Running"}, "status is not a mapping"),
        ({"metadata": "odd", "status": {"phase": "Running", "nodes": 3}}, "status.nodes is not"),
    ],
)
def test_bad_input_shows_what_it_can_and_says_what_it_cannot(
    workflow: dict[str, Any], said: str
) -> None:
    view = WorkflowView(workflow)
    assert any(said in problem for problem in view.header["problems"]), view.header
    assert view.svg
    assert said in view.text()
    data, _ = view._repr_mimebundle_()
    assert data["image/svg+xml"]
    view.selected = "anything"
    assert view.detail == {}


def test_children_missing_from_the_status_are_named_and_the_rest_drawn() -> None:
    workflow = load("dag-running")
    nodes = nodes_of(workflow)
    dag = next(n for n in nodes.values() if n["type"] == "DAG")
    dag["children"] = [*dag["children"], "gone-404"]
    view = WorkflowView(workflow)
    (problem,) = view.header["problems"]
    assert "gone-404" in problem
    assert "missing" in problem
    assert set(nodes) <= set(view.phases)
    fixed = copy.deepcopy(workflow)
    nodes_of(fixed)[dag["id"]]["children"].remove("gone-404")
    view.update(fixed)
    assert view.header["problems"] == []


BIG_LOG = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: loud}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c]
      # 50 MB of 100-character lines, then a last line.
      args: ["head -c 50000000 /dev/zero | tr '\\\\0' x | fold -w 99; echo; echo the last line"]
"""


def test_a_50_mb_log_shows_its_end_at_the_cost_of_its_tail(tmp_path: Path) -> None:
    """Bad input (issue 13): the view asks for a node's log by its last lines, and the
    local engine reads those from the file's end, so a 50 MB log costs what its tail
    does, each second it streams; the panel shows the log's last line."""
    from jupyter_argo.backends.local import LocalBackend
    from jupyter_argo.progress import Widget
    from jupyter_argo.run import Run
    from jupyter_argo.spec.parse import parse_text

    backend = LocalBackend(home=tmp_path / "home")
    (manifest,) = [d.body for d in parse_text(BIG_LOG)]
    final = backend.wait(backend.submit(manifest)["metadata"]["name"], timeout=120)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    (pod,) = [n for n in final["status"]["nodes"].values() if n["type"] == "Pod"]
    started = time.perf_counter()
    tail = list(backend.logs("loud", node=pod["id"], tail=3))
    took = time.perf_counter() - started
    assert [line for _, line in tail] == ["x" * 99, "x" * 50, "the last line"]
    assert took < 0.05, took  # reading 50 MB and splitting it takes about 0.2 s
    # The full log is all there (the tail is not a truncation of what is kept).
    assert sum(1 for _ in backend.logs("loud", node=pod["id"])) == 50_000_000 // 99 + 2
    view = Widget(Run(backend, final), final).view
    view.selected = pod["id"]
    assert view.detail["log"].endswith("the last line")
    assert len(view.detail["log"]) <= 16_000
