"""Argo's workflow actions, formulated as the Argo server does them, on plain dicts.

Follows `workflow/util/util.go`: `FormulateRetryWorkflow` (reset the path from each
failed node up to the root, delete the failed nodes and their pods), `FormulateResubmit
Workflow` (a new Workflow with the same spec, or with `memoized` its succeeded pods kept
as Skipped nodes), `ResumeWorkflow` (unset `spec.suspend`, mark active suspend nodes
Succeeded), `updateSuspendedNode` (`argo node set`, `argo stop --node-field-selector`),
`overrideParameters` (`-p`), node field selectors, and `workflow/common/convert.go`
(`submit --from`). Nothing here talks to the API server: callers get the object to write
and the pods to delete.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from jupyter_argo.errors import UserError
from jupyter_argo.status import fnv32a, node_id

__all__ = [
    "formulate_resubmit",
    "formulate_retry",
    "matches_node",
    "node_selector_text",
    "override_parameters",
    "parse_node_selector",
    "pod_name",
    "resume_nodes",
    "set_nodes",
    "supply_defaults",
    "workflow_from",
]

LABEL_COMPLETED = "workflows.argoproj.io/completed"
LABEL_PHASE = "workflows.argoproj.io/phase"
LABEL_ARCHIVING = "workflows.argoproj.io/workflow-archiving-status"
LABEL_RESUBMITTED_FROM = "workflows.argoproj.io/resubmitted-from-workflow"
LABEL_INSTANCE_ID = "workflows.argoproj.io/controller-instanceid"
LABEL_WORKFLOW_TEMPLATE = "workflows.argoproj.io/workflow-template"
LABEL_CLUSTER_WORKFLOW_TEMPLATE = "workflows.argoproj.io/cluster-workflow-template"
LABEL_CRON_WORKFLOW = "workflows.argoproj.io/cron-workflow"
ANNOTATION_SCHEDULED_TIME = "workflows.argoproj.io/scheduled-time"
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


_OPERATORS = ("!=", "==", "=")  # in the order apimachinery's fields.splitTerm tries them


def parse_node_selector(selector: str) -> list[tuple[str, bool, str]]:
    """A node field selector as Kubernetes' `fields.ParseSelector` reads it: terms split at
    unescaped commas (sorted, empty ones dropped), each `field OP value` at its first
    operator, no space trimmed, the value unescaped (a backslash before a backslash, a
    comma or `=`). (field, equal?, value) per term; Kubernetes' message, as Argo returns
    it, when it cannot be read."""
    terms: list[str] = []
    start, escaped = 0, False
    for i, char in enumerate(selector):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    parsed = []
    for term in sorted(t for t in terms if t):
        split = next(
            (
                (term[:i], op, term[i + len(op) :])
                for i in range(len(term))
                for op in _OPERATORS
                if term.startswith(op, i)
            ),
            None,
        )
        if split is None:
            raise UserError(f"invalid selector: '{selector}'; can't understand '{term}'")
        field, op, value = split
        parsed.append((field, op != "!=", _unescape_selector_value(value)))
    return parsed


def node_selector_text(selector: str) -> str:
    """The selector as `argo` sends it to the server (`fields.Selector.String()`): terms
    sorted, `==` written `=`, values escaped again. A bad selector fails here with
    `argo`'s message."""
    try:
        parsed = parse_node_selector(selector)
    except UserError as err:
        raise UserError(f"unable to parse node field selector '{selector}': {err}") from None

    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")

    return ",".join(f"{k}{'=' if equal else '!='}{escape(v)}" for k, equal, v in parsed)


def _unescape_selector_value(value: str) -> str:
    out, escaped = [], False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise UserError(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            # Go prints the rune with %v: its code point.
            raise UserError(f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            out.append(char)
    if escaped:
        raise UserError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def matches_node(selector: str, node: Mapping[str, Any]) -> bool:
    """Whether `node` matches: a field selector (`displayName=approve,phase!=Failed`, as
    Argo's SelectorMatchesNode reads it), or a bare node ID, name or display name (the
    notebook's `%argo resume NAME NODE`)."""
    fields = _node_fields(node)
    if "=" not in selector:
        return selector in (fields["id"], fields["name"], fields["displayName"])
    return all(
        (fields.get(key, "") == value) == equal
        for key, equal, value in parse_node_selector(selector)
    )


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
        supply_defaults(entry)
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


def supply_defaults(node: dict[str, Any]) -> None:
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


def formulate_resubmit(
    workflow: Mapping[str, Any],
    *,
    memoized: bool = False,
    parameters: Sequence[str] | Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Workflow `argo resubmit` creates: same spec, generated name, user labels and
    annotations, labelled with the workflow it came from; `-p` overrides its arguments.
    With `memoized` (a Failed or Error workflow only) its name is chosen here and it
    carries the old nodes renamed: succeeded pods as Skipped ("original pod: ID"), failed
    pods and every other node Pending, exit handler nodes dropped."""
    meta = workflow.get("metadata") or {}
    status = workflow.get("status") or {}
    spec = copy.deepcopy(dict(workflow.get("spec") or {}))
    if spec.get("activeDeadlineSeconds") == 0:
        spec.pop("activeDeadlineSeconds")  # it was terminated: unset the deadline
    spec.pop("shutdown", None)
    skip = (*_CREATOR_LABELS, LABEL_PHASE, LABEL_COMPLETED, LABEL_ARCHIVING)
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in skip}
    labels[LABEL_RESUBMITTED_FROM] = str(meta.get("name"))
    generate_name = meta.get("generateName") or f"{meta.get('name')}-"
    new_meta: dict[str, Any] = {
        "generateName": generate_name,
        "namespace": meta.get("namespace"),
        "labels": labels,
        "annotations": dict(meta.get("annotations") or {}),
    }
    if memoized:
        if status.get("phase") not in ("Failed", "Error"):
            raise UserError("workflow must be Failed/Error to resubmit in memoized mode")
        new_meta["name"] = f"{generate_name}{random_suffix()}"
    if meta.get("ownerReferences"):
        new_meta["ownerReferences"] = copy.deepcopy(meta["ownerReferences"])
    fresh: dict[str, Any] = {
        "apiVersion": workflow.get("apiVersion") or "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": new_meta,
        "spec": spec,
    }
    if parameters:
        override_parameters(fresh, parameters)
    if memoized:
        fresh["status"] = _memoized_status(workflow, str(new_meta["name"]))
    return fresh


def random_suffix() -> str:
    """Argo's `RandSuffix`: five characters from [a-z0-9]."""
    import secrets

    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(5))


def _memoized_status(workflow: Mapping[str, Any], new_name: str) -> dict[str, Any]:
    old_name = str((workflow.get("metadata") or {}).get("name"))
    status = workflow.get("status") or {}
    old_nodes: dict[str, dict[str, Any]] = status.get("nodes") or {}

    def renamed(name: str) -> str:
        return new_name + name[len(old_name) :] if name.startswith(old_name) else name

    def new_id(old_id: str) -> str:
        return node_id(new_name, renamed(str((old_nodes.get(old_id) or {}).get("name") or "")))

    now = _now()
    nodes: dict[str, dict[str, Any]] = {}
    for old_id, node in old_nodes.items():
        if str(node.get("name") or "").startswith(f"{old_name}.onExit"):
            continue
        new = copy.deepcopy(node)
        new["name"] = renamed(str(node.get("name") or ""))
        new["id"] = node_id(new_name, new["name"])
        if node.get("boundaryID"):
            new["boundaryID"] = new_id(str(node["boundaryID"]))
        failed_pod = _failed_or_error(node) and node.get("type") == "Pod"
        if failed_pod:
            new["startedAt"] = None
            new["finishedAt"] = None
        else:
            new["startedAt"] = now
            new["finishedAt"] = now
        for key in ("children", "outboundNodes"):
            converted = [new_id(str(c)) for c in node.get(key) or []]
            if converted:
                new[key] = converted
            else:
                new.pop(key, None)
        if not _failed_or_error(node) and node.get("type") == "Pod":
            new["phase"] = "Skipped"
            new["type"] = "Skipped"
            new["message"] = f"original pod: {old_id}"
        elif node.get("type") == "Skipped" and not _descendant_succeeded(old_nodes, node, set()):
            continue
        else:
            new["phase"] = "Pending"
            new.pop("message", None)
        nodes[new["id"]] = new
    return {
        "nodes": nodes,
        "storedTemplates": copy.deepcopy(dict(status.get("storedTemplates") or {})),
        "conditions": [{"status": "False", "type": "Completed"}],
    }


# --- parameters, `submit --from`, the instance ID ------------------------------------------


def parse_parameters(pairs: Sequence[str]) -> list[tuple[str, str]]:
    """`-p NAME=VALUE` arguments, in order, as `argo` reads them."""
    out = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"expected parameter of the form: NAME=VALUE. Received: {pair}")
        out.append((name, value))
    return out


def override_parameters(
    workflow: dict[str, Any], parameters: Sequence[str] | Mapping[str, str]
) -> None:
    """Argo's `overrideParameters`, in place: the given parameters first (in order), then
    the workflow's own arguments not given; the stored WorkflowTemplate spec, if any,
    gets the same list."""
    pairs = (
        list(parameters.items())
        if isinstance(parameters, Mapping)
        else parse_parameters(parameters)
    )
    if not pairs:
        return
    spec = workflow.setdefault("spec", {})
    given = [{"name": name, "value": value} for name, value in pairs]
    names = {name for name, _ in pairs}
    own = (spec.get("arguments") or {}).get("parameters") or []
    merged = given + [copy.deepcopy(p) for p in own if p.get("name") not in names]
    spec.setdefault("arguments", {})["parameters"] = merged
    stored = (workflow.get("status") or {}).get("storedWorkflowTemplateSpec")
    if isinstance(stored, dict):
        stored.setdefault("arguments", {})["parameters"] = copy.deepcopy(merged)


def label_instance(workflow: dict[str, Any], instance_id: str | None) -> None:
    """The instance ID service's `Label`: set the controller-instanceid label, or remove
    it when no instance ID is configured."""
    meta = workflow.setdefault("metadata", {})
    labels = meta.get("labels") or {}
    if instance_id:
        labels[LABEL_INSTANCE_ID] = instance_id
    else:
        labels.pop(LABEL_INSTANCE_ID, None)
    meta["labels"] = labels


def check_instance(workflow: Mapping[str, Any], instance_id: str | None) -> None:
    """The instance ID service's `Validate`: only our controller's workflows are acted on."""
    meta = workflow.get("metadata") or {}
    label = (meta.get("labels") or {}).get(LABEL_INSTANCE_ID)
    if (not instance_id and label is None) or (instance_id and label == instance_id):
        return
    raise UserError(
        f"'{meta.get('name')}' is not managed by the current Argo Server (its "
        f"{LABEL_INSTANCE_ID} label is {label!r}, ours {instance_id or None!r}; "
        "pass the matching --instanceid)"
    )


FROM_KINDS = {
    "cronworkflow": "CronWorkflow",
    "cronworkflows": "CronWorkflow",
    "cronwf": "CronWorkflow",
    "workflowtemplate": "WorkflowTemplate",
    "workflowtemplates": "WorkflowTemplate",
    "wftmpl": "WorkflowTemplate",
    "clusterworkflowtemplate": "ClusterWorkflowTemplate",
    "clusterworkflowtemplates": "ClusterWorkflowTemplate",
    "cwftmpl": "ClusterWorkflowTemplate",
}


def parse_from(resource: str) -> tuple[str, str]:
    """`--from kind/name` -> (Kind, name), with the kind names the Argo server accepts."""
    kind, sep, name = resource.partition("/")
    if not sep:
        raise UserError(
            f"resource identifier '{resource}' is malformed. Should be `kind/name`, "
            "e.g. cronwf/hello-world-cwf"
        )
    found = FROM_KINDS.get(kind) or (kind if kind in FROM_KINDS.values() else None)
    if found is None:
        raise UserError(f"Resource kind '{kind}' is not supported for submitting")
    return found, name


def workflow_from(kind: str, name: str, source: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Workflow the Argo server's `SubmitWorkflow` makes from a resource: for a
    (Cluster)WorkflowTemplate, a `workflowTemplateRef` to it and its label; for a
    CronWorkflow (`source`, the object), its workflowSpec, labels and owner reference, as
    `ConvertCronWorkflowToWorkflow` does."""
    if kind in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
        cluster = kind == "ClusterWorkflowTemplate"
        label = LABEL_CLUSTER_WORKFLOW_TEMPLATE if cluster else LABEL_WORKFLOW_TEMPLATE
        ref: dict[str, Any] = {"name": name}
        if cluster:
            ref["clusterScope"] = True
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"generateName": f"{name}-", "labels": {label: name}},
            "spec": {"workflowTemplateRef": ref},
        }
    if kind != "CronWorkflow" or source is None:
        raise UserError(f"Resource kind '{kind}' is not supported for submitting")
    cron_meta = source.get("metadata") or {}
    cron_spec = source.get("spec") or {}
    labels: dict[str, str] = {}
    instance = (cron_meta.get("labels") or {}).get(LABEL_INSTANCE_ID)
    if instance is not None:
        labels[LABEL_INSTANCE_ID] = instance
    labels[LABEL_CRON_WORKFLOW] = str(cron_meta.get("name"))
    meta: dict[str, Any] = {
        "generateName": f"{cron_meta.get('name')}-",
        "labels": labels,
        "annotations": {ANNOTATION_SCHEDULED_TIME: _now_local()},
    }
    extra = cron_spec.get("workflowMetadata") or {}
    labels.update(extra.get("labels") or {})
    meta["annotations"].update(extra.get("annotations") or {})
    if extra.get("finalizers"):
        meta["finalizers"] = list(extra["finalizers"])
    meta["ownerReferences"] = [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "CronWorkflow",
            "name": cron_meta.get("name"),
            "uid": str(cron_meta.get("uid") or ""),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return {
        "apiVersion": source.get("apiVersion") or "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": meta,
        "spec": copy.deepcopy(dict(cron_spec.get("workflowSpec") or {})),
    }


def _now_local() -> str:
    """Go's `time.Now().Format(time.RFC3339)`: local time with its offset."""
    moment = datetime.now().astimezone().replace(microsecond=0)
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# --- node set / stop by node (`updateSuspendedNode`) ------------------------------------------

SETTABLE_PHASES = ("Succeeded", "Failed", "Error")


def set_nodes(
    workflow: dict[str, Any],
    selector: str,
    *,
    phase: str | None = None,
    message: str | None = None,
    output_parameters: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Argo's `updateSuspendedNode`, in place: the active suspend nodes matching the node
    field `selector` get `phase` (with finishedAt), `message` and the values of their
    `supplied` output parameters (copied to the workflow's outputs under their globalName).
    Fails, changing nothing, when no suspend node matches or a parameter is unexpected.
    Returns the (globalName, value) pairs set."""
    if not selector:
        raise UserError(
            "'set' currently only targets suspend nodes, use a node field selector to target them"
        )
    parse_node_selector(selector)
    if phase and phase not in SETTABLE_PHASES:
        raise UserError(f"{phase} is an invalid phase to set to")
    status = workflow.setdefault("status", {})
    nodes: dict[str, dict[str, Any]] = status.get("nodes") or {}
    updates: dict[str, dict[str, Any]] = {}
    globals_: list[tuple[str, str]] = []
    for nid, original in nodes.items():
        if not (_is_active_suspend(original) and matches_node(selector, original)):
            continue
        node = copy.deepcopy(original)
        changed = False
        if phase:
            node["phase"] = phase
            node["finishedAt"] = _now()
            changed = True
        if message:
            node["message"] = message
            changed = True
        if output_parameters:
            outputs = node.get("outputs")
            if not outputs:
                raise UserError(
                    "cannot set output parameters because node is not expecting any raw parameters"
                )
            params = outputs.get("parameters") or []
            for name, value in output_parameters.items():
                param = next((p for p in params if p.get("name") == name), None)
                if param is None:
                    raise UserError(f"node is not expecting output parameter '{name}'")
                source = param.get("valueFrom")
                if not isinstance(source, Mapping) or source.get("supplied") is None:
                    raise UserError(
                        f"cannot set output parameter '{name}' because it does not use "
                        "valueFrom.raw or it was already set"
                    )
                param["value"] = value
                param.pop("valueFrom")
                changed = True
                if param.get("globalName"):
                    globals_.append((str(param["globalName"]), value))
        if changed:
            updates[nid] = node
    if not updates:
        raise UserError(
            "currently, set only targets suspend nodes: no suspend nodes matching "
            f"nodeFieldSelector: {selector}"
        )
    for nid, node in updates.items():  # in place: a running engine holds these dicts
        nodes[nid].clear()
        nodes[nid].update(node)
    for name, value in globals_:
        outputs = status.setdefault("outputs", {})
        found = next((p for p in outputs.get("parameters") or [] if p.get("name") == name), None)
        if found is None:
            outputs.setdefault("parameters", []).append({"name": name, "value": value})
        else:
            found["value"] = value
    return globals_


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
    workflow: Mapping[str, Any],
    *,
    restart_successful: bool = False,
    node: str | None = None,
    parameters: Sequence[str] | Mapping[str, str] | None = None,
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
    if parameters:
        override_parameters(new, parameters)

    selected: set[str] = set()
    if restart_successful and node:
        parse_node_selector(node)  # a bad selector fails here, as Argo's getNodeIDsToReset
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

    if parameters:
        # New parameters: the step and task groups that restart lose their children, so
        # they are expanded again with the new values (Argo's fix for #15802).
        for nid in reset - delete:
            if old_nodes[nid].get("type") in ("TaskGroup", "StepGroup"):
                delete |= dag.descendants(nid)
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
