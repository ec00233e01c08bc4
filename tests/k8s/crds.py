"""Argo's custom resource definitions, written here the way Argo's "minimal" CRDs are: each
kind keeps any fields (`x-kubernetes-preserve-unknown-fields`) and, like Argo's, has no
status subresource, so the controller (and `argo retry`/`resume`) write status with the
object itself."""

from __future__ import annotations

from typing import Any

GROUP = "argoproj.io"
VERSION = "v1alpha1"

# kind -> (plural, short names, namespaced)
ARGO_KINDS: dict[str, tuple[str, list[str], bool]] = {
    "Workflow": ("workflows", ["wf"], True),
    "WorkflowTemplate": ("workflowtemplates", ["wftmpl"], True),
    "ClusterWorkflowTemplate": ("clusterworkflowtemplates", ["clusterwftmpl", "cwft"], False),
    "CronWorkflow": ("cronworkflows", ["cwf", "cronwf"], True),
    "WorkflowTaskResult": ("workflowtaskresults", [], True),
    "WorkflowTaskSet": ("workflowtasksets", ["wfts"], True),
    "WorkflowArtifactGCTask": ("workflowartifactgctasks", ["wfat"], True),
    "WorkflowEventBinding": ("workfloweventbindings", ["wfeb"], True),
}


def _open_object() -> dict[str, Any]:
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def crd(kind: str) -> dict[str, Any]:
    plural, short, namespaced = ARGO_KINDS[kind]
    schema = {
        "type": "object",
        "required": ["metadata"] if kind == "WorkflowTaskResult" else ["metadata", "spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": _open_object(),
            "status": _open_object(),
        },
        "x-kubernetes-preserve-unknown-fields": True,
    }
    names: dict[str, Any] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
    }
    if short:
        names["shortNames"] = short
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": "Namespaced" if namespaced else "Cluster",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {},
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    return [crd(kind) for kind in ARGO_KINDS]
