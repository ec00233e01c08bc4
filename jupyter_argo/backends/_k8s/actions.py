"""Argo's workflow actions, formulated as the Argo server does them, on plain dicts.

Follows `workflow/util/util.go`: `FormulateRetryWorkflow` (reset the path from each
failed node up to the root, delete the failed nodes and their pods), `FormulateResubmit
Workflow` (a new Workflow with the same spec), `ResumeWorkflow` (unset `spec.suspend`,
mark active suspend nodes Succeeded) and node field selectors. Nothing here talks to the
API server: callers get the object to write and the pods to delete.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from jupyter_argo.errors import UserError
from jupyter_argo.status import fnv32a

__all__ = [
    "formulate_resubmit",
    "formulate_retry",
    "matches_node",
    "pod_name",
    "resume_nodes",
]

LABEL_COMPLETED = "workflows.argoproj.io/completed"
LABEL_PHASE = "workflows.argoproj.io/phase"
LABEL_ARCHIVING = "workflows.argoproj.io/workflow-archiving-status"
LABEL_RESUBMITTED_FROM = "workflows.argoproj.io/resubmitted-from-workflow"
_CREATOR_LABELS = (
    "workflows.argoproj.io/creator",
    "workflows.argoproj.io/creator-email",
    "workflows.argoproj.io/creator-preferred-username",
)
_POD_NAME_FORMAT = "workflows.argoproj.io/pod-name-format"
_MAX_POD_PREFIX = 253 - 10
_GROUP_TYPES = ("DAG", "TaskGroup", "StepGroup", "Steps")
_EXECUTION_TYPES = ("Container", "Pod", "HTTP", "Plugin")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _failed_or_error(node: Mapping[str, Any]) -> bool:
    return node.get("phase") in ("Failed", "Error")


def _template_of(node: Mapping[str, Any]) -> str:
    ref = node.get("templateRef")
    if isinstance(ref, Mapping):
        return str(ref.get("template") or "")
    return str(node.get("templateName") or "")


def pod_name(workflow: Mapping[str, Any], node: Mapping[str, Any]) -> str:
    """Argo's `GeneratePodName`, honouring the workflow's pod-name-format annotation."""
    meta = workflow.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    if annotations.get(_POD_NAME_FORMAT) == "v1":
        return str(node.get("id"))
    name, node_name = str(meta.get("name")), str(node.get("name"))
    if name == node_name:
        return name
    template = _template_of(node)
    prefix = f"{name}-{template}" if template else name
    return f"{prefix[: _MAX_POD_PREFIX - 1]}-{fnv32a(node_name)}"


# --- node field selectors (`--node-field-selector`) -------------------------------------


def _node_fields(node: Mapping[str, Any]) -> dict[str, str]:
    fields = {
        "displayName": str(node.get("displayName") or ""),
        "templateName": _template_of(node),
        "phase": str(node.get("phase") or ""),
        "name": str(node.get("name") or ""),
        "id": str(node.get("id") or ""),
    }
    ref = node.get("templateRef")
    if isinstance(ref, Mapping):
        fields["templateRef.name"] = str(ref.get("name") or "")
        fields["templateRef.template"] = str(ref.get("template") or "")
    for param in (node.get("inputs") or {}).get("parameters") or []:
        fields[f"inputs.parameters.{param.get('name')}.value"] = str(param.get("value") or "")
    return fields


_REQUIREMENT = re.compile(r"^\s*([^!=\s]+)\s*(==|!=|=)\s*(.*?)\s*$")


def matches_node(selector: str, node: Mapping[str, Any]) -> bool:
    """Whether `node` matches: a field selector (`displayName=approve,phase!=Failed`), or
    a bare node ID, name or display name."""
    fields = _node_fields(node)
    if "=" not in selector:
        return selector in (fields["id"], fields["name"], fields["displayName"])
    for part in selector.split(","):
        found = _REQUIREMENT.match(part)
        if found is None:
            raise UserError(f"invalid node field selector {selector!r}")
        key, op, value = found.groups()
        equal = fields.get(key, "") == value
        if equal != (op != "!="):
            return False
    return True


# --- resume -------------------------------------------------------------------------------


def _is_active_suspend(node: Mapping[str, Any]) -> bool:
    return node.get("type") == "Suspend" and node.get("phase") == "Running"


def resume_nodes(workflow: dict[str, Any], node: str | None) -> bool:
    """Argo's resume, in place; True if anything changed. Without `node`
    (`ResumeWorkflow`): unset `spec.suspend` and mark every active suspend node Succeeded,
    its unsupplied outputs taking their defaults. With `node` (`updateSuspendedNode`): mark
    the matching active suspend nodes Succeeded, or fail when none matches."""
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    changed = False
    if node is None and (workflow.get("spec") or {}).get("suspend"):
        workflow["spec"].pop("suspend")
        changed = True
    for entry in nodes.values():
        if not _is_active_suspend(entry):
            continue
        if node is not None:
            if matches_node(node, entry):
                entry["phase"] = "Succeeded"
                entry["finishedAt"] = _now()
                changed = True
            continue
        _supply_defaults(entry)
        entry["phase"] = "Succeeded"
        if entry.get("message"):
            entry["message"] = f"{entry['message']}; "  # Argo appends its (empty) actor note
        entry["finishedAt"] = _now()
        changed = True
    if node is not None and not changed:
        raise UserError(
            "currently, set only targets suspend nodes: no suspend nodes matching "
            f"nodeFieldSelector: {node}"
        )
    return changed


def _supply_defaults(node: dict[str, Any]) -> None:
    """`OverrideOutputParametersWithDefault`: a suspend node's unsupplied outputs take
    their defaults, or the resume fails."""
    for param in (node.get("outputs") or {}).get("parameters") or []:
        source = param.get("valueFrom")
        if isinstance(source, Mapping) and source.get("supplied") is not None:
            if source.get("default") is None:
                raise UserError(
                    f"raw output parameter '{param.get('name')}' has not been set and "
                    "does not have a default value"
                )
            param["value"] = source["default"]
            param.pop("valueFrom")


# --- resubmit -----------------------------------------------------------------------------


def formulate_resubmit(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """The Workflow `argo resubmit` creates (not memoized): same spec, generated name,
    user labels and annotations, labelled with the workflow it came from."""
    meta = workflow.get("metadata") or {}
    spec = copy.deepcopy(dict(workflow.get("spec") or {}))
    if spec.get("activeDeadlineSeconds") == 0:
        spec.pop("activeDeadlineSeconds")  # it was terminated: unset the deadline
    spec.pop("shutdown", None)
    skip = (*_CREATOR_LABELS, LABEL_PHASE, LABEL_COMPLETED, LABEL_ARCHIVING)
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in skip}
    labels[LABEL_RESUBMITTED_FROM] = str(meta.get("name"))
    new_meta: dict[str, Any] = {
        "generateName": meta.get("generateName") or f"{meta.get('name')}-",
        "namespace": meta.get("namespace"),
        "labels": labels,
        "annotations": dict(meta.get("annotations") or {}),
    }
    if meta.get("ownerReferences"):
        new_meta["ownerReferences"] = copy.deepcopy(meta["ownerReferences"])
    return {
        "apiVersion": workflow.get("apiVersion") or "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": new_meta,
        "spec": spec,
    }


# --- retry --------------------------------------------------------------------------------


class _Dag:
    """Nodes with one parent each (the last in sorted ID order, as Argo records it)."""

    def __init__(self, workflow: Mapping[str, Any]) -> None:
        name = str((workflow.get("metadata") or {}).get("name"))
        self.nodes: dict[str, dict[str, Any]] = (workflow.get("status") or {}).get("nodes") or {}
        self.parent: dict[str, str] = {}
        for nid in sorted(self.nodes):
            for child in self.nodes[nid].get("children") or []:
                self.parent[child] = nid
        for nid, node in self.nodes.items():
            for child in node.get("children") or []:
                if child not in self.nodes:
                    raise UserError(f"cannot retry: node {nid} has an unknown child {child}")
            node_name = str(node.get("name"))
            orphan = nid not in self.parent and node_name != name
            if orphan and not node_name.startswith(f"{name}.onExit"):
                raise UserError(f"cannot retry: couldn't find parent node for {nid}")
        self.root = next((nid for nid, n in self.nodes.items() if n.get("name") == name), None)

    def sorted(self) -> list[str]:
        """Breadth first from the root (exit handlers are not reached)."""
        if self.root is None:
            raise UserError("cannot retry: the workflow has no root node")
        order, seen = [self.root], {self.root}
        for nid in order:
            for child in self.nodes[nid].get("children") or []:
                if child not in seen:
                    seen.add(child)
                    order.append(child)
        return order

    def descendants(self, nid: str) -> set[str]:
        found: set[str] = set()
        queue = list(self.nodes[nid].get("children") or [])
        while queue:
            child = queue.pop(0)
            found.add(child)
            queue.extend(self.nodes[child].get("children") or [])
        return found

    def reset_until(self, nid: str | None, match: Any, reset: set[str]) -> str:
        while nid is not None:
            if match(self.nodes[nid]):
                reset.add(nid)
                return nid
            nid = self.parent.get(nid)
        raise UserError("cannot retry: was seeking node but ran out of nodes to explore")

    def reset_boundaries(self, nid: str | None, reset: set[str]) -> str | None:
        while nid is not None:
            parent = self.parent.get(nid)
            if parent is not None and self.nodes[parent].get("type") == "Retry":
                reset.add(parent)
                nid = parent
                parent = self.parent.get(nid)
            if parent is not None and self.nodes[parent].get("type") in ("StepGroup", "TaskGroup"):
                reset.add(parent)
            boundary = self.nodes[nid].get("boundaryID") or ""
            if not boundary:
                return parent
            nid = self.reset_until(nid, lambda n, b=boundary: n.get("id") == b, reset)
        return None

    def reset_path(self, start: str) -> tuple[set[str], set[str]]:
        """Argo's `resetPath`: nodes to reset (ancestors) and to delete (`start` and below)."""
        path = [start]
        while path[-1] != self.root:
            up = self.parent.get(path[-1])
            if up is None:
                raise UserError("cannot retry: parent was nil but curr is not the root node")
            path.append(up)
        delete = self.descendants(start) | {start}
        reset: set[str] = set()
        if len(path) <= 1:
            return reset, delete
        current: str | None = start
        while current is not None:
            node = self.nodes[current]
            kind = node.get("type")
            if kind in _GROUP_TYPES:
                reset.add(current)
                current = self.reset_boundaries(current, reset)
                continue
            if kind == "Retry" and _failed_or_error(node):
                reset.add(current)
            elif kind == "Container":
                pod = self.reset_until(current, lambda n: n.get("type") == "Pod", reset)
                delete.add(pod)
                delete |= self.descendants(pod)
                current = pod
                continue
            current = self.parent.get(current)
        return reset, delete


def _descendant_succeeded(
    nodes: Mapping[str, Any], node: Mapping[str, Any], restarting: set[str]
) -> bool:
    for child in node.get("children") or []:
        entry = nodes[child]
        if child not in restarting and entry.get("phase") == "Succeeded":
            return True
        if _descendant_succeeded(nodes, entry, restarting):
            return True
    return False


def _reset_node(node: dict[str, Any]) -> dict[str, Any]:
    if node.get("type") == "Suspend":
        outputs = node.get("outputs") or {}
        if outputs.get("parameters"):
            outputs["parameters"] = [
                {"name": p.get("name"), "valueFrom": {"supplied": {}}}
                for p in outputs["parameters"]
            ]
    if node.get("phase") != "Skipped":
        node["phase"] = "Running"
    node.pop("message", None)
    node["startedAt"] = _now()
    node["finishedAt"] = None
    return node


def formulate_retry(
    workflow: Mapping[str, Any], *, restart_successful: bool = False, node: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """(the Workflow to write back, the pods to delete) for `argo retry` of a Failed or
    Error workflow: failed nodes and everything below them go, their ancestors restart.
    With `restart_successful`, the nodes matching the `node` selector restart too."""
    status = workflow.get("status") or {}
    phase = status.get("phase") or ""
    if phase == "Succeeded" and not (restart_successful and node):
        raise UserError(
            "To retry a succeeded workflow, set the options restartSuccessful and nodeFieldSelector"
        )
    if phase not in ("Failed", "Error", "Succeeded"):
        raise UserError(f"Cannot retry a workflow in phase {phase}")
    name = str((workflow.get("metadata") or {}).get("name"))
    on_exit = f"{name}.onExit"
    old_nodes: dict[str, dict[str, Any]] = status.get("nodes") or {}

    new = copy.deepcopy(dict(workflow))
    labels = new.setdefault("metadata", {}).get("labels") or {}
    labels.pop(LABEL_COMPLETED, None)
    labels.pop(LABEL_ARCHIVING, None)
    new_status = new.setdefault("status", {})
    completed = {"type": "Completed", "status": "False"}
    conditions = list(new_status.get("conditions") or [])
    at = next((i for i, c in enumerate(conditions) if c.get("type") == "Completed"), None)
    if at is None:
        conditions.append(completed)
    else:
        conditions[at] = completed
    new_status["conditions"] = conditions
    new_status.pop("phase", None)  # WorkflowUnknown, omitted
    new_status["nodes"] = {}
    new_status.pop("message", None)
    new_status["startedAt"] = _now()
    new_status["finishedAt"] = None
    stored = new_status.get("storedWorkflowTemplateSpec")
    if isinstance(stored, dict):
        stored.pop("shutdown", None)
    new.setdefault("spec", {}).pop("shutdown", None)
    new_status.pop("persistentVolumeClaims", None)
    if new["spec"].get("activeDeadlineSeconds") == 0:
        new["spec"].pop("activeDeadlineSeconds")

    selected: set[str] = set()
    if restart_successful and node:
        selected = {nid for nid, n in old_nodes.items() if matches_node(node, n)}
    to_restart = set(selected)
    for nid, entry in old_nodes.items():
        if not (_failed_or_error(entry) and entry.get("type") in _EXECUTION_TYPES):
            continue
        owner: Mapping[str, Any] = entry
        if (entry.get("nodeFlag") or {}).get("retried"):
            retry_parent = next(
                (
                    n
                    for n in old_nodes.values()
                    if n.get("type") == "Retry" and nid in (n.get("children") or [])
                ),
                None,
            )
            owner = retry_parent if retry_parent is not None else entry
        if not _descendant_succeeded(old_nodes, owner, selected):
            to_restart.add(nid)

    dag = _Dag(workflow)
    reset: set[str] = set()
    delete: set[str] = set()
    for nid in dag.sorted():
        if nid in to_restart and nid not in delete:
            path_reset, path_delete = dag.reset_path(nid)
            reset |= path_reset
            delete |= path_delete

    nodes: dict[str, dict[str, Any]] = new_status["nodes"]
    for nid in reset - delete:
        nodes[nid] = _reset_node(copy.deepcopy(old_nodes[nid]))
    pods: list[str] = []

    def delete_pod(entry: Mapping[str, Any]) -> None:
        pod = pod_name(workflow, entry)
        if pod not in pods:
            pods.append(pod)

    for nid in sorted(delete):
        if old_nodes[nid].get("type") == "Pod":
            delete_pod(old_nodes[nid])
    for nid, entry in old_nodes.items():
        gone = nid in delete or str(entry.get("name")).startswith(on_exit)
        if nid not in nodes and not gone:
            nodes[nid] = copy.deepcopy(entry)
        if entry.get("name") == on_exit:
            queue = [entry]
            while queue:
                current = queue.pop(0)
                delete_pod(current)
                queue.extend(old_nodes[c] for c in current.get("children") or [])
    for nid, entry in nodes.items():
        for key in ("children", "outboundNodes"):
            kept = [c for c in old_nodes[nid].get(key) or [] if c not in delete]
            if kept:
                entry[key] = kept
            else:
                entry.pop(key, None)
    return new, pods
