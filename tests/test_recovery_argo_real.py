"""Recovery on Argo itself and on the local engine, side by side (issue 14 item 4): the
same workflow, the same action, the same nodes run again, the same phases, outputs and
messages. Argo's side goes through `argo server` (its FormulateRetryWorkflow,
updateSuspendedNode and ResumeWorkflow), its controller running the pods; the local side
is the embedded engine. Skips cleanly when the test bed cannot start (see
tests/k8s/testbed.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import argo_examples
from k8s.testbed import Testbed
from test_argo_real import bed, node_named, server_backend, wait_for, workflow  # noqa: F401

from jupyter_argo.backends.argo_server import ArgoServerBackend
from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.errors import ArgoError

pytestmark = pytest.mark.slow

Backend = ArgoServerBackend | LocalBackend


@pytest.fixture
def both(bed: Testbed, tmp_path: Path) -> Iterator[dict[str, Backend]]:  # noqa: F811
    argo = server_backend(bed)
    yield {"argo": argo, "local": LocalBackend(home=tmp_path / "home")}
    argo.close()


def on_both(both: dict[str, Backend], action: Callable[[Backend], Any]) -> dict[str, Any]:
    return {side: action(backend) for side, backend in both.items()}


def relative(workflow: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Node name (less the workflow's) -> (type, phase)."""
    name = workflow["metadata"]["name"]
    return {
        n["name"][len(name) :]: (n["type"], n["phase"])
        for n in workflow["status"]["nodes"].values()
    }


def results(workflow: dict[str, Any]) -> dict[str, str]:
    """Each pod's random ID (a new one each time it runs). (An output parameter: Argo
    keeps `outputs.result` only where a template refers to it.)"""
    return {
        n["displayName"]: n["outputs"]["parameters"][0]["value"]
        for n in workflow["status"]["nodes"].values()
        if n["type"] == "Pod" and (n.get("outputs") or {}).get("parameters")
    }


def wait_node(backend: Backend, name: str, display: str, phase: str) -> None:
    wait_for(lambda: (node_named(backend.get(name), display) or {}).get("phase") == phase)


def finished_again(backend: Backend, name: str) -> dict[str, Any]:
    """The run after a retry: wait for it to leave its old end, then for its new one."""
    wait_for(lambda: backend.get(name)["status"].get("finishedAt") is None, every=0.1)
    return backend.wait(name, timeout=180)


UUIDS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: four-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: uuid}
      - {name: b, template: uuid}
      - {name: c, template: uuid}
      - {name: d, template: uuid, dependencies: [b]}
  - name: uuid
    container:
      image: busybox
      command: [sh, -c, cat /proc/sys/kernel/random/uuid > /tmp/id]
    outputs: {parameters: [{name: id, valueFrom: {path: /tmp/id}}]}
"""


def test_restart_successful_reruns_the_nodes_argo_reruns(both: dict[str, Backend]) -> None:
    def act(backend: Backend) -> tuple[dict[str, Any], dict[str, Any]]:
        name = backend.submit(workflow(UUIDS))["metadata"]["name"]
        before = backend.wait(name, timeout=180)
        assert before["status"]["phase"] == "Succeeded"
        backend.retry(name, restart_successful=True, node_field_selector="displayName=b")
        return before, finished_again(backend, name)

    seen = on_both(both, act)
    for before, after in seen.values():
        assert after["status"]["phase"] == "Succeeded"
        old, new = results(before), results(after)
        assert {task for task in old if old[task] != new[task]} == {"b", "d"}
    assert relative(seen["argo"][1]) == relative(seen["local"][1])


GROUPED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: grouped-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: go, value: "no"}]}
  templates:
  - name: main
    steps:
    - - {name: setup, template: uuid}
    - - {name: work, template: work}
      - {name: extra, template: uuid, when: "{{workflow.parameters.go}} == yes"}
  - name: uuid
    container:
      image: busybox
      command: [sh, -c, cat /proc/sys/kernel/random/uuid > /tmp/id]
    outputs: {parameters: [{name: id, valueFrom: {path: /tmp/id}}]}
  - name: work
    container:
      image: busybox
      command: [sh, -c, 'test "{{workflow.parameters.go}}" = yes']
"""


def test_retry_with_a_parameter_expands_the_restarted_group_as_argo_does(
    both: dict[str, Backend],
) -> None:
    def act(backend: Backend) -> tuple[dict[str, Any], dict[str, Any]]:
        name = backend.submit(workflow(GROUPED))["metadata"]["name"]
        before = backend.wait(name, timeout=180)
        assert before["status"]["phase"] == "Failed"
        backend.retry(name, parameters={"go": "yes"})
        return before, finished_again(backend, name)

    seen = on_both(both, act)
    assert relative(seen["argo"][0]) == relative(seen["local"][0])
    assert relative(seen["argo"][1]) == relative(seen["local"][1])
    for before, after in seen.values():
        assert after["status"]["phase"] == "Succeeded"
        assert (node_named(after, "extra") or {}).get("phase") == "Succeeded"
        assert results(after)["setup"] == results(before)["setup"]


def test_resume_without_a_value_gives_the_input_default(both: dict[str, Backend]) -> None:
    example = (argo_examples() / "intermediate-parameters.yaml").read_text()

    def act(backend: Backend) -> tuple[dict[str, Any], dict[str, Any]]:
        name = backend.submit(workflow(example))["metadata"]["name"]
        wait_node(backend, name, "approval", "Running")
        waiting = node_named(backend.get(name), "approval") or {}
        backend.resume(name)
        return waiting, backend.wait(name, timeout=180)

    seen = on_both(both, act)
    assert seen["argo"][0]["outputs"] == seen["local"][0]["outputs"]
    assert seen["local"][0]["outputs"]["parameters"] == [
        {"name": "approve", "valueFrom": {"supplied": {}, "default": "NO"}}
    ]
    assert relative(seen["argo"][1]) == relative(seen["local"][1])
    for _, final in seen.values():
        assert final["status"]["phase"] == "Succeeded"
        assert (node_named(final, "approval") or {})["outputs"] == {
            "parameters": [{"name": "approve", "value": "NO"}]
        }
        prod = node_named(final, "deploy-prod") or {}
        assert (prod["phase"], prod["message"]) == ("Skipped", "when 'NO == YES' evaluated false")


APPROVAL = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: approval-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: approve, template: approve}
    - - name: release
        template: say
        arguments: {parameters: [{name: m, value: "{{steps.approve.outputs.parameters.m}}"}]}
  - name: approve
    suspend: {}
    outputs:
      parameters:
      - {name: m, globalName: approval, valueFrom: {supplied: {}}}
  - name: say
    inputs: {parameters: [{name: m}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.m}}"]}
"""


def test_resume_is_refused_without_a_value_then_node_set_supplies_it(
    both: dict[str, Backend],
) -> None:
    def act(backend: Backend) -> tuple[str, dict[str, Any], dict[str, Any]]:
        name = backend.submit(workflow(APPROVAL))["metadata"]["name"]
        wait_node(backend, name, "approve", "Running")
        with pytest.raises(ArgoError) as refused:
            backend.resume(name)
        backend.set_node(
            name, node_field_selector="displayName=approve", output_parameters={"m": "ship"}
        )
        waiting = node_named(backend.get(name), "approve") or {}
        backend.resume(name)
        return str(refused.value), waiting, backend.wait(name, timeout=180)

    seen = on_both(both, act)
    for message, waiting, final in seen.values():
        assert "raw output parameter 'm' has not been set and does not have a default value" in (
            message
        )
        assert waiting["phase"] == "Running"
        assert waiting["outputs"]["parameters"] == [
            {"name": "m", "globalName": "approval", "value": "ship"}
        ]
        assert final["status"]["phase"] == "Succeeded"
        assert final["status"]["outputs"]["parameters"] == [{"name": "approval", "value": "ship"}]
    assert relative(seen["argo"][2]) == relative(seen["local"][2])


TWO_APPROVALS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: two-approvals-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: legal, template: wait}
      - {name: ops, template: wait}
    - - {name: release, template: wait}
  - name: wait
    suspend: {}
"""


def test_stop_by_node_field_selector_stops_only_the_matching_node(
    both: dict[str, Backend],
) -> None:
    def act(backend: Backend) -> tuple[dict[str, Any], dict[str, Any]]:
        name = backend.submit(workflow(TWO_APPROVALS))["metadata"]["name"]
        wait_node(backend, name, "legal", "Running")
        wait_node(backend, name, "ops", "Running")
        backend.stop(name, node_field_selector="displayName=legal", message="not yet")
        wait_node(backend, name, "legal", "Failed")
        waiting = backend.get(name)
        backend.resume(name, node="displayName=ops")
        return waiting, backend.wait(name, timeout=180)

    seen = on_both(both, act)
    for waiting, final in seen.values():
        assert waiting["status"]["phase"] == "Running"
        assert not waiting["spec"].get("shutdown")
        assert (node_named(waiting, "legal") or {}).get("message") == "not yet"
        assert (node_named(waiting, "ops") or {}).get("phase") == "Running"
        assert final["status"]["phase"] == "Failed"
    assert relative(seen["argo"][1]) == relative(seen["local"][1])


def test_resume_of_one_node_gives_its_outputs_no_default(both: dict[str, Backend]) -> None:
    """`resume --node-field-selector` is updateSuspendedNode with phase Succeeded: unlike
    the workflow's resume, no output takes its default. (What follows differs: a step
    that refers to the missing value fails to resolve it; Argo's run then stays Running
    with that step group, the local one ends Failed with Argo's message.)"""
    text = APPROVAL.replace("valueFrom: {supplied: {}}", "valueFrom: {supplied: {}, default: d}")

    def act(backend: Backend) -> dict[str, Any]:
        name = backend.submit(workflow(text))["metadata"]["name"]
        wait_node(backend, name, "approve", "Running")
        backend.resume(name, node="displayName=approve")
        wait_node(backend, name, "approve", "Succeeded")
        approve = node_named(backend.get(name), "approve") or {}
        backend.terminate(name)
        return approve

    seen = on_both(both, act)
    assert (
        seen["argo"]["outputs"]
        == seen["local"]["outputs"]
        == {
            "parameters": [
                {
                    "name": "m",
                    "globalName": "approval",
                    "valueFrom": {"supplied": {}, "default": "d"},
                }
            ]
        }
    )
