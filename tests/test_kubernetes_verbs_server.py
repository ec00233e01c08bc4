"""`node set`, `stop --node-field-selector`, `submit --from`, retry/resubmit `-p`,
`resubmit --memoized`, the controller-instanceid label and logs by label on a real
kube-apiserver: every write is read back from the server and compared with what Argo's
code writes (the expectations of Argo's own unit tests, on workflows Argo wrote, read from
../shared/argo/written-by-argo and never copied here)."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import written_by_argo
from k8s.controller import Controller, manifest, steps_with_retry_and_exit
from k8s.envtest import NAMESPACE, VIEWER, VIEWER_TOKEN, ApiServer, shared_api_server

from jupyter_argo.backends.kubernetes import KubernetesBackend
from jupyter_argo.errors import ConfigError, UserError
from jupyter_argo.status import node_id

SUS_WORKFLOW = "workflow_util_util_test.go__3.0__suspend-template.json"  # Argo's susWorkflow
APPROVE_SUS = "suspend-template-kgfn7-2667278707"
STEPS_SUSPENDED = "workflow_controller_operator_test.go__101.0__steps-9fvnv.json"
STEPS_APPROVE = "steps-9fvnv-3700512507"  # its one step, an active suspend node
NESTED_DONE = "workflow_util_util_test.go__8.0__fail-two-nested-dag-suspend.json"
INSTANCE = "workflows.argoproj.io/controller-instanceid"


@pytest.fixture(scope="module")
def server() -> ApiServer:
    return shared_api_server()


@pytest.fixture
def backend(server: ApiServer, tmp_path: Path) -> Iterator[KubernetesBackend]:
    backend = KubernetesBackend(kubeconfig=server.kubeconfig(tmp_path / "kubeconfig"))
    yield backend
    backend.close()


@pytest.fixture
def controller(server: ApiServer) -> Controller:
    return Controller(server, NAMESPACE)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def argo_fixture(file: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(manifest, status) of a workflow Argo wrote, renamed `name`."""
    loaded = written_by_argo(file)
    status = loaded.pop("status")
    meta = loaded["metadata"]
    loaded["metadata"] = {"name": name, "labels": meta.get("labels") or {}}
    return loaded, status


def node_by_display(workflow: dict[str, Any], display: str) -> dict[str, Any]:
    nodes = workflow["status"]["nodes"].values()
    found: dict[str, Any] = next(n for n in nodes if n["displayName"] == display)
    return found


# ---- node set: TestUpdateSuspendedNode on the API server ------------------------------------


def test_node_set_writes_what_update_suspended_node_writes(
    backend: KubernetesBackend, controller: Controller
) -> None:
    name = unique("suspend-template")
    body, status = argo_fixture(SUS_WORKFLOW, name)
    before = controller.create(body, status)
    with pytest.raises(UserError) as err:
        backend.set_node(
            name,
            node_field_selector="displayName=does-not-exists",
            output_parameters={"message": "Hello World"},
        )
    assert str(err.value) == (
        "currently, set only targets suspend nodes: no suspend nodes matching "
        "nodeFieldSelector: displayName=does-not-exists"
    )
    with pytest.raises(UserError) as err:
        backend.set_node(
            name,
            node_field_selector="displayName=approve",
            output_parameters={"does-not-exist": "Hello World"},
        )
    assert str(err.value) == "node is not expecting output parameter 'does-not-exist'"
    # Refused sets wrote nothing.
    unchanged = controller.get(name)
    assert unchanged["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

    backend.set_node(
        name,
        node_field_selector="displayName=approve",
        output_parameters={"message": "Hello World"},
    )
    backend.set_node(
        name,
        node_field_selector="name=suspend-template-kgfn7[0].approve",
        output_parameters={"message2": "Hello World 2"},
    )
    after = controller.get(name)
    expected = copy.deepcopy(status)
    expected["nodes"][APPROVE_SUS]["outputs"]["parameters"] = [
        {"name": "message", "value": "Hello World"},
        {"name": "message2", "globalName": "message-global-param", "value": "Hello World 2"},
    ]
    expected["outputs"] = {
        "parameters": [{"name": "message-global-param", "value": "Hello World 2"}]
    }
    assert after["status"] == expected
    assert after["spec"] == before["spec"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]


def test_node_set_phase_and_stop_by_node_field_selector(
    backend: KubernetesBackend, controller: Controller
) -> None:
    # TestStopWorkflowByNodeName's steps, on a Running workflow Argo wrote whose step
    # `approve` is an active suspend node. StopWorkflow with a selector is
    # updateSuspendedNode({Phase: Failed, Message}): that node only, finishedAt stamped
    # (Failed is fulfilled), the rest of the object as it was.
    name = unique("steps")
    body, status = argo_fixture(STEPS_SUSPENDED, name)
    before = controller.create(body, status)
    with pytest.raises(UserError, match="no suspend nodes matching"):
        backend.stop(name, node_field_selector="displayName=nonexistant", message="error occurred")
    unchanged = controller.get(name)
    assert unchanged["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert node_by_display(unchanged, "approve")["phase"] == "Running"
    backend.stop(name, node_field_selector="displayName=approve", message="error occurred")
    after = controller.get(name)
    approve = after["status"]["nodes"][STEPS_APPROVE]
    finished = approve.pop("finishedAt")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", finished)
    expected = copy.deepcopy(before["status"])
    expected["nodes"][STEPS_APPROVE].pop("finishedAt", None)
    expected["nodes"][STEPS_APPROVE].update(phase="Failed", message="error occurred")
    assert after["status"] == expected  # the workflow's phase is the controller's to change
    assert after["spec"] == before["spec"]  # only the node stopped: no spec.shutdown

    # `argo node set --phase Succeeded -m ...` on a fresh copy.
    other = unique("steps")
    body, status = argo_fixture(STEPS_SUSPENDED, other)
    controller.create(body, status)
    with pytest.raises(UserError, match="Running is an invalid phase to set to"):
        backend.set_node(other, node_field_selector="displayName=approve", phase="Running")
    backend.set_node(
        other, node_field_selector="templateName=approve", phase="Succeeded", message="We did it!"
    )
    approve = controller.get(other)["status"]["nodes"][STEPS_APPROVE]
    assert (approve["phase"], approve["message"]) == ("Succeeded", "We did it!")
    assert approve["finishedAt"]

    # A Failed workflow Argo wrote: its suspend nodes all succeeded, so none is active and
    # a stop by node matches nothing; a stop of the workflow is AlreadyShutdownError.
    failed = unique("fail-two-nested-dag-suspend")
    body, status = argo_fixture(NESTED_DONE, failed)
    stored = controller.create(body, status)
    with pytest.raises(UserError, match="no suspend nodes matching"):
        backend.stop(failed, node_field_selector="templateName=approve", message="too late")
    with pytest.raises(UserError) as err:
        backend.stop(failed)
    assert str(err.value) == (
        f'cannot shutdown a completed workflow: workflow: "{failed}", namespace: "{NAMESPACE}"'
    )
    assert (
        controller.get(failed)["metadata"]["resourceVersion"]
        == (stored["metadata"]["resourceVersion"])
    )

    # A completed workflow cannot be stopped (AlreadyShutdownError's message).
    done = unique("succeeded-wf")
    controller.create(manifest(done), {"phase": "Succeeded"})
    with pytest.raises(UserError) as err:
        backend.stop(done)
    assert str(err.value) == (
        f'cannot shutdown a completed workflow: workflow: "{done}", namespace: "{NAMESPACE}"'
    )


# ---- submit --from ---------------------------------------------------------------------------


def test_submit_from_templates_and_cron_workflows(
    backend: KubernetesBackend, server: ApiServer
) -> None:
    template = unique("whalesay-template")
    backend.apply(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "WorkflowTemplate",
            "metadata": {"name": template},
            "spec": {
                "entrypoint": "main",
                "arguments": {"parameters": [{"name": "message", "value": "hello world"}]},
                "templates": [{"name": "main", "container": {"image": "argoproj/argosay:v2"}}],
            },
        }
    )
    created = backend.submit_from(
        f"workflowtemplate/{template}", parameters={"message": "hi"}, entrypoint="main"
    )
    stored = server.call(
        "GET", f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/workflows/"
        f"{created['metadata']['name']}",
    )  # fmt: skip
    assert stored["metadata"]["generateName"] == f"{template}-"
    assert stored["metadata"]["labels"] == {"workflows.argoproj.io/workflow-template": template}
    assert stored["spec"] == {
        "workflowTemplateRef": {"name": template},
        "entrypoint": "main",
        "arguments": {"parameters": [{"name": "message", "value": "hi"}]},
    }
    assert "status" not in stored

    cluster_template = unique("cluster-template")
    backend.apply(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ClusterWorkflowTemplate",
            "metadata": {"name": cluster_template},
            "spec": {"templates": [{"name": "main", "container": {"image": "alpine"}}]},
        }
    )
    made = backend.submit_from(f"cwftmpl/{cluster_template}", generate_name="mine-")
    assert made["metadata"]["name"].startswith("mine-")
    assert made["metadata"]["labels"] == {
        "workflows.argoproj.io/cluster-workflow-template": cluster_template
    }
    assert made["spec"] == {"workflowTemplateRef": {"name": cluster_template, "clusterScope": True}}

    cron = unique("hello-world")
    backend.apply(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "CronWorkflow",
            "metadata": {"name": cron},
            "spec": {
                "schedules": ["* * * * *"],
                "workflowMetadata": {
                    "labels": {"label1": "value1"},
                    "annotations": {"annotation2": "value2"},
                },
                "workflowSpec": {
                    "entrypoint": "whalesay",
                    "templates": [{"name": "whalesay", "container": {"image": "docker/whalesay"}}],
                },
            },
        }
    )
    cron_object = server.call(
        "GET", f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/cronworkflows/{cron}"
    )
    from_cron = backend.submit_from(f"cronwf/{cron}")
    meta = from_cron["metadata"]
    assert meta["generateName"] == f"{cron}-"
    assert meta["labels"] == {"label1": "value1", "workflows.argoproj.io/cron-workflow": cron}
    assert set(meta["annotations"]) == {"annotation2", "workflows.argoproj.io/scheduled-time"}
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "CronWorkflow",
            "name": cron,
            "uid": cron_object["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert from_cron["spec"] == cron_object["spec"]["workflowSpec"]

    with pytest.raises(Exception, match="not found"):
        backend.submit_from("workflowtemplate/no-such-template")


# ---- the controller-instanceid label -----------------------------------------------------------


def test_instance_id_labels_submissions_filters_the_list_and_guards_actions(
    server: ApiServer, tmp_path: Path, controller: Controller
) -> None:
    config = server.kubeconfig(tmp_path / "kc")
    instance = unique("ci")
    ours = KubernetesBackend(kubeconfig=config, instance_id=instance)
    plain = KubernetesBackend(kubeconfig=config)
    try:
        mine = ours.submit(manifest(unique("mine")))
        stored = controller.get(mine["metadata"]["name"])
        assert stored["metadata"]["labels"] == {INSTANCE: instance}
        # A manifest's own label for another controller is replaced, as Argo's Label does.
        body = manifest(unique("relabel"))
        body["metadata"]["labels"] = {INSTANCE: "someone-else", "team": "a"}
        relabelled = ours.submit(body)
        assert relabelled["metadata"]["labels"] == {INSTANCE: instance, "team": "a"}
        unlabelled = plain.submit(body, name=unique("unlabelled"))
        assert unlabelled["metadata"]["labels"] == {"team": "a"}

        listed = {w["metadata"]["name"] for w in ours.list()}
        assert listed == {mine["metadata"]["name"], relabelled["metadata"]["name"]}
        assert mine["metadata"]["name"] not in {w["metadata"]["name"] for w in plain.list()}
        with pytest.raises(UserError, match="is not managed by the current Argo Server"):
            ours.suspend(unlabelled["metadata"]["name"])
        with pytest.raises(UserError, match="is not managed by the current Argo Server"):
            plain.stop(mine["metadata"]["name"])
        ours.suspend(mine["metadata"]["name"])
        assert controller.get(mine["metadata"]["name"])["spec"]["suspend"] is True
    finally:
        ours.close()
        plain.close()


# ---- retry and resubmit with -p, resubmit --memoized ---------------------------------------


def test_retry_and_resubmit_override_parameters(
    backend: KubernetesBackend, controller: Controller
) -> None:
    name = unique("params")
    body = manifest(
        name,
        arguments={"parameters": [{"name": "message", "value": "default"}, {"name": "other"}]},
    )
    controller.create(body, steps_with_retry_and_exit(name))
    backend.retry(name, parameters={"message": "modified"})
    retried = controller.get(name)
    assert retried["spec"]["arguments"]["parameters"] == [
        {"name": "message", "value": "modified"},
        {"name": "other"},
    ]
    assert "phase" not in retried["status"]

    failed = unique("resubmit")
    controller.create(
        manifest(failed, arguments={"parameters": [{"name": "message", "value": "default"}]}),
        steps_with_retry_and_exit(failed),
    )
    fresh = backend.resubmit(failed, parameters={"message": "again"})
    stored = controller.get(fresh["metadata"]["name"])
    assert stored["spec"]["arguments"]["parameters"] == [{"name": "message", "value": "again"}]
    assert stored["metadata"]["labels"]["workflows.argoproj.io/resubmitted-from-workflow"] == failed
    assert "status" not in stored


def test_memoized_resubmit_creates_the_renamed_nodes(
    backend: KubernetesBackend, controller: Controller
) -> None:
    old = unique("memo")
    status = steps_with_retry_and_exit(old)
    controller.create(manifest(old), status)
    fresh = backend.resubmit(old, memoized=True)
    new = fresh["metadata"]["name"]
    assert re.fullmatch(rf"{old}-[a-z0-9]{{5}}", new)  # no generateName: name + "-" + 5
    stored = controller.get(new)
    nodes = stored["status"]["nodes"]
    old_nodes = status["nodes"]
    assert stored["status"]["conditions"] == [{"status": "False", "type": "Completed"}]
    assert "phase" not in stored["status"]
    expected_ids = {
        node_id(new, new + n["name"][len(old) :])
        for n in old_nodes.values()
        if not n["name"].startswith(f"{old}.onExit")
    }
    assert set(nodes) == expected_ids
    for old_node in old_nodes.values():
        if old_node["name"].startswith(f"{old}.onExit"):
            continue
        new_node = nodes[node_id(new, new + old_node["name"][len(old) :])]
        if old_node["type"] == "Pod" and old_node["phase"] == "Succeeded":
            assert (new_node["type"], new_node["phase"]) == ("Skipped", "Skipped")
            assert new_node["message"] == f"original pod: {old_node['id']}"
        elif old_node["type"] == "Pod":
            assert (new_node["type"], new_node["phase"]) == ("Pod", "Pending")
        else:
            assert new_node["phase"] == "Pending"
        for child in new_node.get("children") or []:
            assert child in nodes


# ---- logs: pods found by label, bad permissions said once --------------------------------------


def test_logs_find_pods_by_label_and_say_which_permission_is_missing(
    server: ApiServer, tmp_path: Path, controller: Controller, backend: KubernetesBackend
) -> None:
    from jupyter_argo.backends._k8s.logs import LogReader

    name = unique("logs")
    status = steps_with_retry_and_exit(name)
    controller.create(manifest(name), status)
    pod_nodes = [n for n in status["nodes"].values() if n["type"] == "Pod"]
    for i, node in enumerate(pod_nodes):
        server.call(
            "POST",
            f"/api/v1/namespaces/{NAMESPACE}/pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{name}-any-name-{i}",  # not the name Argo's format computes
                    "labels": {"workflows.argoproj.io/workflow": name},
                    "annotations": {
                        "workflows.argoproj.io/node-id": node["id"],
                        "workflows.argoproj.io/node-name": node["name"],
                    },
                },
                "spec": {"containers": [{"name": "main", "image": "alpine"}]},
            },
        )
    reader = LogReader(backend.cluster, backend.get, backend.watch, lambda *a: Path())
    found = reader._list_pods(name, NAMESPACE)
    assert found == {n["id"]: f"{name}-any-name-{i}" for i, n in enumerate(pod_nodes)}

    viewer = KubernetesBackend(
        kubeconfig=server.kubeconfig(tmp_path / "viewer", token=VIEWER_TOKEN)
    )
    try:
        with pytest.raises(ConfigError) as err:
            list(viewer.logs(name))
        message = str(err.value)
        assert "\n" not in message
        assert message.startswith(
            f'forbidden: user "{VIEWER}" cannot list pods in namespace "{NAMESPACE}" (RBAC)'
        )
        assert "status, outputs and artifacts still work" in message
        assert viewer.get(name)["status"]["phase"] == "Failed"  # and they do
    finally:
        viewer.close()
