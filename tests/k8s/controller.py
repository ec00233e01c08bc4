"""Playing Argo's controller against the real API server: realistic `Workflow.status`
built with Argo's node IDs and pod names, written the way the controller writes it (an
update of the whole object, labels included)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from jupyter_argo.status import node_id, pod_name
from k8s.envtest import ApiServer

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:00:05Z"
T2 = "2024-05-01T10:00:09Z"
WORKFLOWS = "/apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows"


def workflow_path(namespace: str, name: str = "") -> str:
    path = WORKFLOWS.format(ns=namespace)
    return f"{path}/{name}" if name else path


@dataclass
class Nodes:
    """Builds `status.nodes` for workflow `name`, as Argo's controller names them."""

    name: str
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(
        self,
        node_name: str,
        kind: str,
        phase: str,
        *,
        template: str = "",
        display: str | None = None,
        parent: str | None = None,
        boundary: str | None = None,
        **extra: Any,
    ) -> str:
        nid = node_id(self.name, node_name)
        node: dict[str, Any] = {
            "id": nid,
            "name": node_name,
            "displayName": display if display is not None else node_name.rsplit(".", 1)[-1],
            "type": kind,
            "phase": phase,
            "startedAt": T0,
        }
        if template:
            node["templateName"] = template
        if boundary:
            node["boundaryID"] = node_id(self.name, boundary)
        if phase in ("Succeeded", "Failed", "Error", "Skipped", "Omitted"):
            node["finishedAt"] = T1
        node.update(extra)
        self.nodes[nid] = node
        if parent is not None:
            parent_node = self.nodes[node_id(self.name, parent)]
            parent_node.setdefault("children", []).append(nid)
        return nid

    def pod(self, node_name: str, template: str) -> str:
        return pod_name(self.name, node_name, template)


def steps_with_retry_and_exit(name: str) -> dict[str, Any]:
    """A Failed steps workflow: `prepare` succeeded, a loop of `work` whose item 1 failed
    twice under its retry strategy while item 0 succeeded, and an exit handler that ran."""
    n = Nodes(name)
    n.add(name, "Steps", "Failed", template="main", display=name, message="child failed")
    n.add(f"{name}[0]", "StepGroup", "Succeeded", template="main", parent=name, boundary=name)
    n.add(
        f"{name}[0].prepare",
        "Pod",
        "Succeeded",
        template="prepare",
        parent=f"{name}[0]",
        boundary=name,
    )
    n.nodes[node_id(name, f"{name}[0].prepare")].setdefault("children", []).append(
        node_id(name, f"{name}[1]")
    )
    n.add(f"{name}[1]", "StepGroup", "Failed", template="main", boundary=name)
    for item, outcome in ((0, "Succeeded"), (1, "Failed")):
        retry = f"{name}[1].work(0:{item})"
        n.add(retry, "Retry", outcome, template="work", parent=f"{name}[1]", boundary=name)
        attempts = ["Succeeded"] if outcome == "Succeeded" else ["Failed", "Failed"]
        for attempt, phase in enumerate(attempts):
            n.add(
                f"{retry}({attempt})",
                "Pod",
                phase,
                template="work",
                parent=retry,
                boundary=name,
                display=f"work(0:{item})({attempt})",
                nodeFlag={"retried": True},
                **({"message": "Error (exit code 1)"} if phase == "Failed" else {}),
            )
    n.add(f"{name}.onExit", "Pod", "Succeeded", template="exit-handler", display=f"{name}.onExit")
    return {
        "phase": "Failed",
        "startedAt": T0,
        "finishedAt": T2,
        "message": "child failed",
        "progress": "3/5",
        "nodes": n.nodes,
        "conditions": [
            {"type": "PodRunning", "status": "False"},
            {"type": "Completed", "status": "True"},
        ],
    }


def suspended(name: str) -> dict[str, Any]:
    """A Running steps workflow waiting at an `approve` suspend node whose output has a
    default, after a `build` pod."""
    n = Nodes(name)
    n.add(name, "Steps", "Running", template="main", display=name)
    n.add(f"{name}[0]", "StepGroup", "Succeeded", template="main", parent=name, boundary=name)
    n.add(
        f"{name}[0].build", "Pod", "Succeeded", template="build", parent=f"{name}[0]", boundary=name
    )
    n.nodes[node_id(name, f"{name}[0].build")]["children"] = [node_id(name, f"{name}[1]")]
    n.add(f"{name}[1]", "StepGroup", "Running", template="main", boundary=name)
    n.add(
        f"{name}[1].approve",
        "Suspend",
        "Running",
        template="approve",
        parent=f"{name}[1]",
        boundary=name,
        outputs={
            "parameters": [
                {"name": "answer", "valueFrom": {"supplied": {}, "default": "yes"}},
            ]
        },
    )
    return {"phase": "Running", "startedAt": T0, "progress": "1/2", "nodes": n.nodes}


class Controller:
    """Writes status into Workflows as Argo's controller does."""

    def __init__(self, server: ApiServer, namespace: str) -> None:
        self.server = server
        self.namespace = namespace

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.server.call("GET", workflow_path(self.namespace, name))
        return found

    def write(self, name: str, status: dict[str, Any], **labels: str) -> dict[str, Any]:
        """Replace the status (and the phase/completed labels) with one update."""
        workflow = self.get(name)
        workflow["status"] = copy.deepcopy(status)
        meta_labels = workflow["metadata"].setdefault("labels", {})
        phase = str(status.get("phase") or "")
        meta_labels["workflows.argoproj.io/phase"] = phase
        if phase in ("Succeeded", "Failed", "Error"):
            meta_labels["workflows.argoproj.io/completed"] = "true"
        else:
            meta_labels["workflows.argoproj.io/completed"] = "false"
        meta_labels.update(labels)
        updated: dict[str, Any] = self.server.call(
            "PUT", workflow_path(self.namespace, name), workflow
        )
        return updated

    def create(
        self, manifest: dict[str, Any], status: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = copy.deepcopy(manifest)
        body.setdefault("apiVersion", "argoproj.io/v1alpha1")
        body.setdefault("kind", "Workflow")
        body.setdefault("metadata", {})["namespace"] = self.namespace
        created: dict[str, Any] = self.server.call("POST", workflow_path(self.namespace), body)
        if status is not None:
            created = self.write(created["metadata"]["name"], status)
        return created


def manifest(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "entrypoint": "main",
        "templates": [{"name": "main", "container": {"image": "alpine", "command": ["true"]}}],
    }
    body.update(spec)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": body,
    }
