"""What the local engine does with every field of a Workflow, so that nothing is ignored
silently.

Argo's schema (WorkflowSpec and every type below it) is classified here field by field:
honoured, refused, or ignored for a stated reason. `tests/test_engine_fields.py` checks
the table against Argo's own schema, so a field Argo adds cannot slip through unlisted.
At submit, `unhonoured` walks the workflow and returns the fields it sets that the engine
does not honour, by path, in the style of Argo's validation messages
(`templates.main.container.resources`); the engine puts them in the run's `SpecWarning`
condition, which `jupyter-argo run`/`get` and the view's header show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

__all__ = ["REASONS", "TYPES", "Finding", "refused", "unhonoured", "warning_message"]

RUN: Final = ""  # honoured (or refused with a message where it is used: never silent)
CLUSTER: Final = "~cluster"
RESOURCES: Final = "~resources"
PROBES: Final = "~probes"
PROBE_TIMING: Final = "~probe-timing"
LIFECYCLE: Final = "~lifecycle"
METRICS: Final = "~metrics"
TTL: Final = "~ttl"
VOLUME: Final = "~volume"
MOUNT: Final = "~mount"
EVENTS: Final = "~events"
REFUSE_RESOURCE: Final = "!resource"
REFUSE_PLUGIN: Final = "!plugin"

_MAX_REFERENCED: Final = 1000  # stored templates walked per workflow

# Why each kind of field is not honoured, as the user reads it.
REASONS: Final[dict[str, str]] = {
    CLUSTER: "scheduling and pod settings that mean something on a cluster only",
    RESOURCES: "resource requests and limits are not enforced locally",
    PROBES: "liveness and startup probes, and exec or gRPC checks, are not run locally",
    PROBE_TIMING: "a readiness probe is tried every 0.1 s, for up to 60 s, locally",
    LIFECYCLE: "container lifecycle handlers are not run locally",
    METRICS: "Prometheus metrics are not exported locally",
    TTL: "local runs are kept until deleted (jupyter-argo delete)",
    VOLUME: "mounted as an empty directory: locally only emptyDir, persistentVolumeClaim,"
    " configMap and secret volumes have contents",
    MOUNT: "mount options are not applied locally",
    EVENTS: "Argo Events bindings do not reach the local engine",
    REFUSE_RESOURCE: "creates Kubernetes objects",
    REFUSE_PLUGIN: "needs an executor plugin",
}

# Volume sources a local run cannot reach: the mount is an empty directory.
_VOLUMES_WITHOUT_CONTENTS: Final = (
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "csi",
    "downwardAPI",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
)

# Type name -> field -> verdict: RUN, a reason above, or the field's type, to walk into:
# "Template", a list "[Template]", a list of lists "[[WorkflowStep]]", a map "{LifecycleHook}".
# Names are Argo's (io.argoproj.workflow.v1alpha1.*) or Kubernetes' (io.k8s.api.core.v1.*).
TYPES: Final[dict[str, dict[str, str]]] = {
    "WorkflowSpec": {
        "activeDeadlineSeconds": RUN,
        "affinity": CLUSTER,
        "archiveLogs": RUN,
        "arguments": RUN,
        "artifactGC": "WorkflowLevelArtifactGC",
        "artifactRepositoryRef": RUN,
        "automountServiceAccountToken": CLUSTER,
        "dnsConfig": CLUSTER,
        "dnsPolicy": CLUSTER,
        "entrypoint": RUN,
        "executor": CLUSTER,
        "executorPlugins": CLUSTER,
        "hooks": "{LifecycleHook}",
        "hostAliases": CLUSTER,
        "hostNetwork": CLUSTER,
        "imagePullSecrets": CLUSTER,
        "metrics": METRICS,
        "nodeSelector": CLUSTER,
        "onExit": RUN,
        "parallelism": RUN,
        "podDisruptionBudget": CLUSTER,
        "podGC": CLUSTER,
        "podMetadata": CLUSTER,
        "podPriorityClassName": CLUSTER,
        "podResources": RESOURCES,
        "podSpecPatch": CLUSTER,
        "priority": RUN,  # orders the runs waiting for a lock (engine/sync.py)
        "resourceClaims": CLUSTER,
        "retryStrategy": "RetryStrategy",
        "schedulerName": CLUSTER,
        "securityContext": CLUSTER,
        "serviceAccountName": CLUSTER,
        "shutdown": RUN,
        "suspend": RUN,
        "synchronization": RUN,  # engine/sync.py; database locks refused when taken
        "templateDefaults": "Template",
        "templates": "[Template]",
        "tolerations": CLUSTER,
        "ttlStrategy": TTL,
        "volumeClaimGC": CLUSTER,
        "volumeClaimTemplates": "[PersistentVolumeClaim]",
        "volumes": "[Volume]",
        "workflowMetadata": RUN,
        "workflowTemplateRef": RUN,
    },
    "Template": {
        "activeDeadlineSeconds": RUN,
        "affinity": CLUSTER,
        "annotations": RUN,  # workflows.argoproj.io/display-name names the node
        "archiveLocation": RUN,
        "automountServiceAccountToken": CLUSTER,
        "container": "Container",
        "containerSet": "ContainerSetTemplate",
        "daemon": RUN,
        "dag": "DAGTemplate",
        "data": RUN,  # engine/data.py
        "executor": CLUSTER,
        "failFast": RUN,
        "hostAliases": CLUSTER,
        "http": RUN,
        "initContainers": "[UserContainer]",
        "inputs": "Inputs",
        "memoize": RUN,
        "metadata": CLUSTER,
        "metrics": METRICS,
        "name": RUN,
        "nodeSelector": CLUSTER,
        "outputs": "Outputs",
        "parallelism": RUN,
        "pendingTimeout": CLUSTER,  # local pods never wait to be scheduled
        "plugin": REFUSE_PLUGIN,
        "podResources": RESOURCES,
        "podSpecPatch": CLUSTER,
        "priorityClassName": CLUSTER,
        "resource": REFUSE_RESOURCE,
        "resourceClaims": CLUSTER,
        "retryStrategy": "RetryStrategy",
        "schedulerName": CLUSTER,
        "script": "ScriptTemplate",
        "securityContext": CLUSTER,
        "serviceAccountName": CLUSTER,
        "sidecars": "[UserContainer]",
        "steps": "[[WorkflowStep]]",
        "suspend": RUN,
        "synchronization": RUN,
        "timeout": RUN,
        "tolerations": CLUSTER,
        "volumes": "[Volume]",
    },
    "WorkflowStep": {
        "arguments": "Arguments",
        "continueOn": RUN,
        "hooks": "{LifecycleHook}",
        "inline": "Template",
        "name": RUN,
        "onExit": RUN,
        "template": RUN,
        "templateRef": RUN,
        "when": RUN,
        "withItems": RUN,
        "withParam": RUN,
        "withSequence": RUN,
    },
    "DAGTemplate": {"failFast": RUN, "target": RUN, "tasks": "[DAGTask]"},
    "LifecycleHook": {
        "arguments": "Arguments",
        "expression": RUN,
        "template": RUN,
        "templateRef": RUN,
    },
    "Inputs": {"artifacts": "[Artifact]", "parameters": "[Parameter]"},
    "Arguments": {"artifacts": "[Artifact]", "parameters": "[Parameter]"},
    "Outputs": {
        "artifacts": "[Artifact]",
        "exitCode": RUN,
        "parameters": "[Parameter]",
        "result": RUN,
    },
    "Parameter": {
        "default": RUN,
        "description": RUN,  # documentation: nothing to do
        "enum": RUN,
        "globalName": RUN,
        "name": RUN,
        "value": RUN,
        "valueFrom": "ValueFrom",
    },
    "ValueFrom": {
        "configMapKeyRef": RUN,
        "default": RUN,
        "event": EVENTS,
        "expression": RUN,
        # Outputs of resource templates, which are refused.
        "jqFilter": RUN,
        "jsonPath": RUN,
        "parameter": RUN,
        "path": RUN,
        "supplied": RUN,
    },
    "Artifact": {
        "archive": RUN,
        "archiveLogs": RUN,
        "artifactGC": "ArtifactGC",
        # Storage the local engine cannot reach is refused where it is read or written.
        "artifactory": RUN,
        "azure": RUN,
        "deleted": RUN,
        "from": RUN,
        "fromExpression": RUN,
        "gcs": RUN,
        "git": RUN,
        "globalName": RUN,
        "hdfs": RUN,
        "http": RUN,
        "mode": RUN,
        "name": RUN,
        "optional": RUN,
        "oss": RUN,
        "path": RUN,
        "plugin": RUN,
        "raw": RUN,
        "recurseMode": RUN,
        "s3": RUN,
        "subPath": RUN,
    },
    "ArtifactGC": {"podMetadata": CLUSTER, "serviceAccountName": CLUSTER, "strategy": RUN},
    "WorkflowLevelArtifactGC": {
        "forceFinalizerRemoval": RUN,
        "podMetadata": CLUSTER,
        "podSpecPatch": CLUSTER,
        "serviceAccountName": CLUSTER,
        "strategy": RUN,
    },
    "RetryStrategy": {
        "affinity": CLUSTER,  # keeps retries off a node that failed
        "backoff": RUN,
        "expression": RUN,
        "limit": RUN,
        "retryPolicy": RUN,
    },
    "ContainerSetTemplate": {
        "containers": "[ContainerNode]",
        "retryStrategy": RUN,
        "volumeMounts": "[VolumeMount]",
    },
    "Container": {
        "args": RUN,
        "command": RUN,
        "env": "[EnvVar]",
        "envFrom": RUN,
        "image": RUN,
        "imagePullPolicy": CLUSTER,
        "lifecycle": LIFECYCLE,
        "livenessProbe": PROBES,
        "name": RUN,
        "ports": RUN,  # informational in Kubernetes too
        "readinessProbe": "Probe",  # a daemon is ready when it answers
        "resizePolicy": CLUSTER,
        "resources": RESOURCES,
        "restartPolicy": CLUSTER,
        "restartPolicyRules": CLUSTER,
        "securityContext": CLUSTER,
        "startupProbe": PROBES,
        "stdin": RUN,
        "stdinOnce": RUN,
        "terminationMessagePath": CLUSTER,
        "terminationMessagePolicy": CLUSTER,
        "tty": RUN,
        "volumeDevices": CLUSTER,
        "volumeMounts": "[VolumeMount]",
        "workingDir": RUN,
    },
    "Probe": {
        "exec": PROBES,
        "failureThreshold": PROBE_TIMING,
        "grpc": PROBES,
        "httpGet": RUN,  # a status of 200-399 is ready
        "initialDelaySeconds": RUN,
        "periodSeconds": PROBE_TIMING,
        "successThreshold": PROBE_TIMING,
        "tcpSocket": RUN,
        "terminationGracePeriodSeconds": PROBE_TIMING,
        "timeoutSeconds": PROBE_TIMING,
    },
    "EnvVar": {"name": RUN, "value": RUN, "valueFrom": "EnvVarSource"},
    "EnvVarSource": {
        "configMapKeyRef": RUN,
        "fieldRef": RUN,
        "fileKeyRef": CLUSTER,
        "resourceFieldRef": RESOURCES,
        "secretKeyRef": RUN,
    },
    "VolumeMount": {
        "mountPath": RUN,
        "mountPropagation": MOUNT,
        "name": RUN,
        "readOnly": MOUNT,
        "recursiveReadOnly": MOUNT,
        "subPath": RUN,
        "subPathExpr": MOUNT,
    },
    "Volume": {
        "name": RUN,
        "emptyDir": RUN,
        "persistentVolumeClaim": RUN,
        "configMap": "ConfigMapVolumeSource",
        "secret": "SecretVolumeSource",
        **dict.fromkeys(_VOLUMES_WITHOUT_CONTENTS, VOLUME),
    },
    "PersistentVolumeClaim": {
        "apiVersion": RUN,
        "kind": RUN,
        "metadata": RUN,
        "spec": "PersistentVolumeClaimSpec",
        "status": RUN,
    },
    # A claim is a directory of the run, on this machine.
    "PersistentVolumeClaimSpec": {
        "accessModes": RUN,  # one machine: every access mode holds
        "dataSource": CLUSTER,
        "dataSourceRef": CLUSTER,
        "resources": RESOURCES,
        "selector": CLUSTER,
        "storageClassName": CLUSTER,
        "volumeAttributesClassName": CLUSTER,
        "volumeMode": CLUSTER,
        "volumeName": CLUSTER,
    },
    "ConfigMapVolumeSource": {"defaultMode": RUN, "items": RUN, "name": RUN, "optional": RUN},
    "SecretVolumeSource": {"defaultMode": RUN, "items": RUN, "optional": RUN, "secretName": RUN},
}
# Argo's container types are Kubernetes' Container plus a field or two.
TYPES["UserContainer"] = {**TYPES["Container"], "mirrorVolumeMounts": RUN}
TYPES["ScriptTemplate"] = {**TYPES["Container"], "source": RUN}
TYPES["ContainerNode"] = {**TYPES["Container"], "dependencies": RUN}
# A DAG task is a step that also says what it depends on.
TYPES["DAGTask"] = {**TYPES["WorkflowStep"], "dependencies": RUN, "depends": RUN}


class Finding(tuple[str, str]):
    """(path, verdict) of a field the engine does not honour."""

    __slots__ = ()

    @property
    def path(self) -> str:
        return self[0]

    @property
    def verdict(self) -> str:
        return self[1]


def unhonoured(
    spec: Mapping[str, Any], stored: Callable[[str, str], Mapping[str, Any] | None] | None = None
) -> list[Finding]:
    """The fields `spec` sets that the local engine ignores or refuses, in document order;
    then those of the stored templates its `templateRef`s name (`stored(kind, name)` reads
    a WorkflowTemplate or ClusterWorkflowTemplate), as `workflowtemplate/NAME:templates...`.
    """
    findings = list(_walk(spec, "WorkflowSpec", "spec"))
    if stored is None:
        return findings
    pending = list(_template_refs(spec))
    seen: set[tuple[bool, str, str]] = set()
    while pending:
        ref = pending.pop(0)
        if ref in seen or len(seen) >= _MAX_REFERENCED:
            continue
        seen.add(ref)
        cluster, name, template_name = ref
        kind = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
        found = stored(kind, name) or {}
        for template in (found.get("spec") or {}).get("templates") or []:
            if isinstance(template, Mapping) and template.get("name") == template_name:
                where = f"{kind.lower()}/{name}:templates.{template_name}"
                findings.extend(_walk(template, "Template", where))
                pending.extend(_template_refs(template))
    return findings


def refused(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.verdict.startswith("!")]


def warning_message(findings: list[Finding], *, limit: int = 12) -> str:
    """One line for the SpecWarning condition: the ignored paths, grouped by reason."""
    groups: dict[str, list[str]] = {}
    for finding in findings:
        if finding.verdict.startswith("~"):
            groups.setdefault(finding.verdict, []).append(finding.path)
    parts = []
    for verdict, paths in groups.items():
        shown = ", ".join(paths[:limit])
        if len(paths) > limit:
            shown += f" and {len(paths) - limit} more"
        parts.append(f"{shown} ({REASONS[verdict]})")
    return "ignored by the local engine: " + "; ".join(parts) if parts else ""


def _template_refs(value: Any) -> Iterator[tuple[bool, str, str]]:
    """(clusterScope, name, template) of every templateRef under `value`."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "templateRef" and isinstance(item, Mapping):
                yield (
                    bool(item.get("clusterScope")),
                    str(item.get("name")),
                    str(item.get("template")),
                )
            else:
                yield from _template_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _template_refs(item)


def _walk(value: Any, kind: str, path: str) -> Iterator[Finding]:
    if not isinstance(value, Mapping):
        return
    fields = TYPES[kind]
    for key, item in value.items():
        verdict = fields.get(key)
        if verdict is None or item is None or item == {} or item == []:
            continue  # unknown fields are lint's (Argo's API drops them); empty ones mean nothing
        here = f"{path}.{key}"
        if verdict == RUN:
            continue
        if verdict[0] in "~!":
            yield Finding((here, verdict))
        elif verdict.startswith("[["):
            for i, row in enumerate(item if isinstance(item, list) else []):
                for j, cell in enumerate(row if isinstance(row, list) else []):
                    yield from _walk(cell, verdict[2:-2], f"{here}[{i}][{j}]")
        elif verdict.startswith("["):
            for i, element in enumerate(item if isinstance(item, list) else []):
                yield from _walk(element, verdict[1:-1], _element(here, i, element))
        elif verdict.startswith("{"):
            for name, element in item.items() if isinstance(item, Mapping) else ():
                yield from _walk(element, verdict[1:-1], f"{here}.{name}")
        else:
            yield from _walk(item, verdict, here)


def _element(path: str, index: int, element: Any) -> str:
    """Named elements by name, as Argo's validation messages write paths:
    `templates.main.outputs.artifacts.result-file`, not `spec.templates[3]...`."""
    name = element.get("name") if isinstance(element, Mapping) else None
    if name is None and isinstance(element, Mapping):  # a claim template: its metadata's
        meta = element.get("metadata")
        name = meta.get("name") if isinstance(meta, Mapping) else None
    if not isinstance(name, str) or not name:
        return f"{path}[{index}]"
    if path == "spec.templates":
        return f"templates.{name}"
    return f"{path}.{name}"
