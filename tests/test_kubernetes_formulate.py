"""Argo's retry, resume and node selection as the Argo server formulates them, on plain
Workflow dicts (no server needed: what is written is checked against the API server in
test_kubernetes_actions.py)."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from k8s.controller import Nodes, steps_with_retry_and_exit, suspended

from jupyter_argo.backends._k8s.actions import (
    formulate_resubmit,
    formulate_retry,
    matches_node,
    pod_name,
    resume_nodes,
)
from jupyter_argo.backends._k8s.nodes import hydrated, repacked
from jupyter_argo.errors import UnsupportedError, UserError
from jupyter_argo.status import node_id


def workflow(name: str, status: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": "ns", **meta},
        "spec": {"entrypoint": "main"},
        "status": status,
    }


def diamond(name: str, failed: str | None) -> dict[str, Any]:
    """A DAG A -> (B, C) -> D; `failed` names the task that failed (D then never ran)."""
    n = Nodes(name)
    n.add(name, "DAG", "Failed" if failed else "Succeeded", template="diamond", display=name)
    phases = {"A": "Succeeded", "B": "Succeeded", "C": "Succeeded", "D": "Succeeded"}
    if failed:
        phases[failed] = "Failed"
    parents = {"A": [name], "B": [f"{name}.A"], "C": [f"{name}.A"]}
    for task in ("A", "B", "C"):
        n.add(f"{name}.{task}", "Pod", phases[task], template="echo", boundary=name)
        for parent in parents[task]:
            n.nodes[node_id(name, parent)].setdefault("children", []).append(
                node_id(name, f"{name}.{task}")
            )
    if not failed:
        n.add(f"{name}.D", "Pod", "Succeeded", template="echo", boundary=name)
        for parent in ("B", "C"):
            n.nodes[node_id(name, f"{name}.{parent}")].setdefault("children", []).append(
                node_id(name, f"{name}.D")
            )
    return workflow(name, {"phase": "Failed" if failed else "Succeeded", "nodes": n.nodes})


def names(wf: dict[str, Any]) -> dict[str, str]:
    base = wf["metadata"]["name"]
    return {n["name"].removeprefix(base): n["phase"] for n in wf["status"]["nodes"].values()}


def test_retry_a_failed_dag_task() -> None:
    wf = diamond("d", failed="B")
    new, pods = formulate_retry(wf)
    assert names(new) == {"": "Running", ".A": "Succeeded", ".C": "Succeeded"}
    assert pods == [pod_name(wf, wf["status"]["nodes"][node_id("d", "d.B")])]
    root = new["status"]["nodes"]["d"]
    assert root["children"] == [node_id("d", "d.A")]


def test_retry_a_succeeded_node_on_request() -> None:
    wf = diamond("d", failed=None)
    with pytest.raises(UserError, match="To retry a succeeded workflow"):
        formulate_retry(wf)
    b = node_id("d", "d.B")
    new, pods = formulate_retry(wf, restart_successful=True, node=f"id={b}")
    # B and everything after it (D) go; the DAG restarts; A and C stay.
    assert names(new) == {"": "Running", ".A": "Succeeded", ".C": "Succeeded"}
    assert len(pods) == 2
    by_name, _ = formulate_retry(wf, restart_successful=True, node="displayName=B")
    assert names(by_name) == names(new)


def test_retry_steps_with_retries_and_an_exit_handler() -> None:
    wf = workflow(
        "s", steps_with_retry_and_exit("s"), labels={"workflows.argoproj.io/completed": "true"}
    )
    new, pods = formulate_retry(wf)
    assert names(new) == {
        "": "Running",
        "[0]": "Succeeded",
        "[0].prepare": "Succeeded",
        "[1]": "Running",
        "[1].work(0:0)": "Succeeded",
        "[1].work(0:0)(0)": "Succeeded",
        "[1].work(0:1)": "Running",
    }
    expected = {
        pod_name(wf, n)
        for n in wf["status"]["nodes"].values()
        if n["type"] == "Pod" and (n["phase"] == "Failed" or n["name"] == "s.onExit")
    }
    assert len(pods) == len(expected) == 3
    assert set(pods) == expected
    assert "workflows.argoproj.io/completed" not in new["metadata"]["labels"]
    assert wf["status"]["phase"] == "Failed"  # the input is left alone


def test_retry_of_a_container_set_deletes_its_pod() -> None:
    n = Nodes("c")
    n.add("c", "Steps", "Failed", template="main", display="c")
    n.add("c[0]", "StepGroup", "Failed", template="main", parent="c", boundary="c")
    n.add("c[0].run", "Pod", "Failed", template="set", parent="c[0]", boundary="c")
    n.add(
        "c[0].run.a",
        "Container",
        "Succeeded",
        template="set",
        parent="c[0].run",
        boundary="c[0].run",
    )
    n.add(
        "c[0].run.b", "Container", "Failed", template="set", parent="c[0].run", boundary="c[0].run"
    )
    wf = workflow("c", {"phase": "Failed", "nodes": n.nodes})
    new, pods = formulate_retry(wf)
    assert names(new) == {"": "Running", "[0]": "Running"}
    assert pods == [pod_name(wf, n.nodes[node_id("c", "c[0].run")])]


def test_retry_refuses_running_workflows() -> None:
    with pytest.raises(UserError, match="Cannot retry a workflow in phase Running"):
        formulate_retry(workflow("r", {"phase": "Running"}))


def test_pod_names_follow_the_pod_name_format() -> None:
    node = {"id": "w-123", "name": "w.step", "templateName": "t"}
    assert pod_name(workflow("w", {}), node).startswith("w-t-")
    v1 = workflow("w", {}, annotations={"workflows.argoproj.io/pod-name-format": "v1"})
    assert pod_name(v1, node) == "w-123"
    assert pod_name(workflow("w", {}), {"name": "w", "id": "w"}) == "w"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("approve", True),
        ("displayName=approve", True),
        ("displayName==approve,phase=Running", True),
        ("displayName!=approve", False),
        ("templateName=approve", True),
        ("inputs.parameters.x.value=1", True),
        ("phase=Succeeded", False),
        ("other", False),
    ],
)
def test_node_selectors(selector: str, expected: bool) -> None:
    node = {
        "id": "w-1",
        "name": "w[1].approve",
        "displayName": "approve",
        "templateName": "approve",
        "phase": "Running",
        "inputs": {"parameters": [{"name": "x", "value": "1"}]},
    }
    assert matches_node(selector, node) is expected


def test_resume_without_default_fails_like_argo() -> None:
    wf = workflow("r", suspended("r"))
    for node in wf["status"]["nodes"].values():
        for param in (node.get("outputs") or {}).get("parameters") or []:
            del param["valueFrom"]["default"]
    with pytest.raises(UserError, match="raw output parameter 'answer' has not been set"):
        resume_nodes(wf, None)


def test_resume_with_nothing_to_do_changes_nothing() -> None:
    wf = workflow("r", {"phase": "Running", "nodes": {}})
    assert resume_nodes(wf, None) is False


def test_resubmit_keeps_owner_references() -> None:
    owner = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u"}]
    wf = workflow("r", {"phase": "Failed"}, generateName="base-", ownerReferences=owner)
    fresh = formulate_resubmit(wf)
    assert fresh["metadata"]["generateName"] == "base-"
    assert fresh["metadata"]["ownerReferences"] == owner
    assert "status" not in fresh


def test_compressed_nodes_round_trip() -> None:
    nodes = steps_with_retry_and_exit("p")["nodes"]
    packed = base64.b64encode(gzip.compress(json.dumps(nodes).encode())).decode()
    original = workflow("p", {"phase": "Failed", "compressedNodes": packed})
    opened = hydrated(original)
    assert opened["status"]["nodes"] == nodes
    again = repacked(original, opened)
    assert "nodes" not in again["status"]
    assert hydrated(again)["status"]["nodes"] == nodes


def test_nodes_packed_with_another_algorithm_are_named() -> None:
    zstd = base64.b64encode(b"\x28\xb5\x2f\xfd rest").decode()
    with pytest.raises(UnsupportedError, match="compressed with zstd"):
        hydrated(workflow("z", {"compressedNodes": zstd}))
