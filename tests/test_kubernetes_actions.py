"""Stop, terminate, suspend, resume, retry, resubmit and delete on a real kube-apiserver:
each changes exactly what Argo's CLI and server change, and nothing else."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s.controller import (
    Controller,
    manifest,
    steps_with_retry_and_exit,
    suspended,
    workflow_path,
)
from k8s.envtest import NAMESPACE, ApiServer, shared_api_server

from jupyter_argo.backends.kubernetes import KubernetesBackend
from jupyter_argo.errors import NotFoundError, UserError
from jupyter_argo.status import node_id, pod_name

# Fields the API server itself changes on every write.
_SERVER_FIELDS = ("resourceVersion", "generation", "managedFields")


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


def comparable(workflow: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(workflow)
    for key in _SERVER_FIELDS:
        out["metadata"].pop(key, None)
    return out


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{dotted path: (before, after)} for every leaf that differs."""
    out: dict[str, tuple[Any, Any]] = {}

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key, _MISSING), b.get(key, _MISSING), f"{path}.{key}".lstrip("."))
        elif a != b:
            out[path] = (a, b)

    walk(comparable(before), comparable(after), "")
    return out


_MISSING = "<missing>"


@pytest.mark.parametrize(("action", "strategy"), [("stop", "Stop"), ("terminate", "Terminate")])
def test_stop_and_terminate_set_the_shutdown_strategy_only(
    backend: KubernetesBackend, controller: Controller, action: str, strategy: str
) -> None:
    name = unique(action)
    before = controller.create(manifest(name), {"phase": "Running", "startedAt": "x"})
    getattr(backend, action)(name)
    after = controller.get(name)
    assert diff(before, after) == {"spec.shutdown": (_MISSING, strategy)}


def test_a_completed_workflow_cannot_be_shut_down(
    backend: KubernetesBackend, controller: Controller
) -> None:
    name = unique("done")
    controller.create(manifest(name), steps_with_retry_and_exit(name))
    with pytest.raises(
        UserError, match=f'cannot shutdown a completed workflow: workflow: "{name}"'
    ):
        backend.stop(name)
    with pytest.raises(UserError, match=r"cannot suspend completed workflows"):
        backend.suspend(name)


def test_suspend_sets_spec_suspend_only(backend: KubernetesBackend, controller: Controller) -> None:
    name = unique("suspend")
    before = controller.create(manifest(name), {"phase": "Running"})
    backend.suspend(name)
    after = controller.get(name)
    assert diff(before, after) == {"spec.suspend": (_MISSING, True)}
    backend.suspend(name)  # already suspended: nothing to write
    assert (
        controller.get(name)["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
    )


def test_resume_unsuspends_and_completes_suspend_nodes(
    backend: KubernetesBackend, controller: Controller
) -> None:
    name = unique("resume")
    body = manifest(name)
    body["spec"]["suspend"] = True
    before = controller.create(body, suspended(name))
    backend.resume(name)
    after = controller.get(name)
    approve = node_id(name, f"{name}[1].approve")
    changes = diff(before, after)
    finished = changes.pop(f"status.nodes.{approve}.finishedAt")
    assert finished[0] == _MISSING
    assert finished[1].endswith("Z")
    assert changes == {
        "spec.suspend": (True, _MISSING),
        f"status.nodes.{approve}.phase": ("Running", "Succeeded"),
        # The unsupplied output takes its default, as OverrideOutputParametersWithDefault.
        f"status.nodes.{approve}.outputs.parameters": (
            [{"name": "answer", "valueFrom": {"supplied": {}, "default": "yes"}}],
            [{"name": "answer", "value": "yes"}],
        ),
    }


def test_resume_one_node_by_field_selector(
    backend: KubernetesBackend, controller: Controller
) -> None:
    name = unique("resume-node")
    before = controller.create(manifest(name), suspended(name))
    with pytest.raises(
        UserError, match=r"no suspend nodes matching nodeFieldSelector: displayName=x"
    ):
        backend.resume(name, node="displayName=x")
    backend.resume(name, node="displayName=approve")
    approve = node_id(name, f"{name}[1].approve")
    changes = diff(before, controller.get(name))
    assert set(changes) == {f"status.nodes.{approve}.phase", f"status.nodes.{approve}.finishedAt"}
    assert changes[f"status.nodes.{approve}.phase"] == ("Running", "Succeeded")


def test_retry_resets_the_failed_path_and_deletes_its_pods(
    backend: KubernetesBackend, controller: Controller, server: ApiServer
) -> None:
    name = unique("retry")
    before = controller.create(manifest(name), steps_with_retry_and_exit(name))
    nodes = before["status"]["nodes"]
    ids = {n["name"].removeprefix(name): nid for nid, n in nodes.items()}
    # Pods the controller would have left behind: each node's pod.
    for node in nodes.values():
        if node["type"] == "Pod":
            create_pod(server, pod_name(name, node["name"], node["templateName"]))

    retried = backend.retry(name)

    after = controller.get(name)
    assert retried["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
    status = after["status"]
    kept = {n["name"].removeprefix(name): n for n in status["nodes"].values()}
    # Deleted: the failed attempts and the exit handler; the rest is kept or reset.
    assert set(kept) == {
        "",
        "[0]",
        "[0].prepare",
        "[1]",
        "[1].work(0:0)",
        "[1].work(0:0)(0)",
        "[1].work(0:1)",
    }
    for reset in ("", "[1]", "[1].work(0:1)"):
        assert kept[reset]["phase"] == "Running", reset
        assert kept[reset]["finishedAt"] is None
        assert "message" not in kept[reset]
    for same in ("[0]", "[0].prepare", "[1].work(0:0)", "[1].work(0:0)(0)"):
        assert kept[same] == nodes[ids[same]], same
    assert "children" not in kept["[1].work(0:1)"]  # both attempts went
    assert "phase" not in status
    assert "message" not in status
    assert status["finishedAt"] is None
    completed = [c for c in status["conditions"] if c["type"] == "Completed"]
    assert completed == [{"type": "Completed", "status": "False"}]
    assert "workflows.argoproj.io/completed" not in after["metadata"]["labels"]
    assert after["metadata"]["name"] == name

    pods = {
        p["metadata"]["name"]
        for p in server.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods")["items"]
    }
    gone = {
        pod_name(name, nodes[ids[k]]["name"], nodes[ids[k]]["templateName"])
        for k in ("[1].work(0:1)(0)", "[1].work(0:1)(1)", ".onExit")
    }
    survivors = {
        pod_name(name, nodes[ids[k]]["name"], nodes[ids[k]]["templateName"])
        for k in ("[0].prepare", "[1].work(0:0)(0)")
    }
    assert not gone & pods
    assert survivors <= pods


def test_retry_refuses_what_argo_refuses(
    backend: KubernetesBackend, controller: Controller
) -> None:
    name = unique("running")
    controller.create(manifest(name), {"phase": "Running"})
    with pytest.raises(UserError, match=r"Cannot retry a workflow in phase Running"):
        backend.retry(name)
    ok = unique("ok")
    controller.create(manifest(ok), {"phase": "Succeeded"})
    with pytest.raises(UserError, match=r"To retry a succeeded workflow"):
        backend.retry(ok)


def test_resubmit_creates_a_new_workflow_from_the_spec(
    backend: KubernetesBackend, controller: Controller
) -> None:
    name = unique("resubmit")
    body = manifest(name)
    body["metadata"]["labels"] = {"team": "a", "workflows.argoproj.io/creator": "bob"}
    body["metadata"]["annotations"] = {"note": "x"}
    body["spec"]["shutdown"] = "Terminate"
    body["spec"]["activeDeadlineSeconds"] = 0
    controller.create(body, steps_with_retry_and_exit(name))
    fresh = backend.resubmit(name)
    meta = fresh["metadata"]
    assert meta["name"].startswith(f"{name}-")
    assert meta["generateName"] == f"{name}-"
    assert meta["labels"] == {"team": "a", "workflows.argoproj.io/resubmitted-from-workflow": name}
    assert meta["annotations"] == {"note": "x"}
    expected = {
        k: v for k, v in body["spec"].items() if k not in ("shutdown", "activeDeadlineSeconds")
    }
    assert fresh["spec"] == expected
    assert not fresh.get("status")
    assert controller.get(meta["name"])["metadata"]["uid"] == meta["uid"]


def test_delete_respects_the_artifact_gc_finalizer_unless_forced(
    backend: KubernetesBackend, controller: Controller
) -> None:
    name = unique("gc")
    body = manifest(name)
    body["metadata"]["finalizers"] = ["workflows.argoproj.io/artifact-gc"]
    controller.create(body, {"phase": "Succeeded"})
    backend.delete(name)
    pending = controller.get(name)  # still there: the controller has artifacts to collect
    assert pending["metadata"]["deletionTimestamp"]
    backend.delete(name, force=True)
    with pytest.raises(NotFoundError):
        backend.get(name)
    plain = unique("plain")
    controller.create(manifest(plain))
    backend.delete(plain)
    with pytest.raises(NotFoundError):
        backend.get(plain)
    with pytest.raises(NotFoundError, match=f'"{plain}" not found'):
        backend.delete(plain)


def create_pod(server: ApiServer, name: str) -> None:
    server.ensure(
        f"/api/v1/namespaces/{NAMESPACE}/pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "alpine"}]},
        },
    )


def test_actions_on_a_missing_workflow(backend: KubernetesBackend) -> None:
    for action in ("stop", "terminate", "suspend", "resume", "retry", "resubmit"):
        with pytest.raises(NotFoundError, match=r'workflows.argoproj.io "nope" not found'):
            getattr(backend, action)("nope")
    assert workflow_path(NAMESPACE, "x").endswith("/workflows/x")
