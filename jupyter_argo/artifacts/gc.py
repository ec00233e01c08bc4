"""Artifact garbage collection: which output artifacts go, when, and deleting them.

As Argo's controller does it (`workflow/controller/artifact_gc.go`,
`Workflow.GetArtifactGCStrategy`):

- Only output artifacts of Pod nodes are collected, and only those not yet marked
  `deleted: true` in the status.
- An artifact's strategy is its own `artifactGC.strategy`, else the workflow's
  `spec.artifactGC.strategy`, else `Never`. There is no template-level strategy.
- On completion, `OnWorkflowCompletion` artifacts go. On deletion, `OnWorkflowDeletion`
  artifacts go, and so do `OnWorkflowCompletion` artifacts that are still there: Argo
  processes the completion strategy on deletion when it has not run yet, and here a
  deletion retries what an earlier collection failed to delete.
- An artifact that is already gone counts as deleted. Any other failure is reported
  per artifact, and `gc_condition` turns the failures into Argo's `ArtifactGCError`
  condition. Messages never hold secret values.
- `serviceAccountName`, `podMetadata` and `podSpecPatch` choose the pod Argo deletes
  with; the local engine deletes in-process, so the run's SpecWarning lists them
  (engine/fields.py).

Artifacts are named `<node id>/<artifact name>`, as Argo's artifact server addresses them.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

from jupyter_argo.artifacts._repository import RepositoryConfig, _open_repository, location_key
from jupyter_argo.artifacts._repository import location_type as _location_type
from jupyter_argo.artifacts._resolve import template_archive
from jupyter_argo.artifacts._secrets import SecretLookup, Secrets
from jupyter_argo.errors import ArgoError, NotFoundError

__all__ = [
    "GCResult",
    "artifacts_to_collect",
    "collect",
    "effective_strategy",
    "gc_condition",
    "mark_deleted",
]

Event = Literal["completion", "deletion"]

ON_COMPLETION = "OnWorkflowCompletion"
ON_DELETION = "OnWorkflowDeletion"
NEVER = "Never"
CONDITION_TYPE = "ArtifactGCError"  # Argo's ConditionTypeArtifactGCError

_STRATEGIES: dict[str, frozenset[str]] = {
    "completion": frozenset({ON_COMPLETION}),
    "deletion": frozenset({ON_COMPLETION, ON_DELETION}),
}


@dataclass
class GCResult:
    """What one collection did. Artifacts are named `<node id>/<artifact name>`."""

    deleted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (artifact, message)

    @property
    def ok(self) -> bool:
        return not self.failed


def _workflow_gc(workflow: Mapping[str, Any]) -> Mapping[str, Any]:
    """`spec.artifactGC`, or that of the stored WorkflowTemplate spec it runs from."""
    spec = workflow.get("spec") or {}
    found = spec.get("artifactGC")
    if not isinstance(found, Mapping):
        stored = (workflow.get("status") or {}).get("storedWorkflowTemplateSpec") or {}
        found = stored.get("artifactGC")
    return found if isinstance(found, Mapping) else {}


def effective_strategy(workflow: Mapping[str, Any], artifact: Mapping[str, Any]) -> str:
    """The artifact's own strategy, else the workflow's, else `Never`."""
    own = artifact.get("artifactGC")
    strategy = own.get("strategy") if isinstance(own, Mapping) else None
    if not strategy:
        strategy = _workflow_gc(workflow).get("strategy")
    return str(strategy) if strategy else NEVER


def artifacts_to_collect(workflow: Mapping[str, Any], event: Event) -> list[dict[str, Any]]:
    """The status's output artifacts that `event` deletes, each with its `nodeID` added
    (the shape of Argo's `ArtifactSearchResult`)."""
    if event not in _STRATEGIES:
        raise ValueError(f"event must be 'completion' or 'deletion', not {event!r}")
    wanted = _STRATEGIES[event]
    found: list[dict[str, Any]] = []
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    for node_id, node in nodes.items():
        if not isinstance(node, Mapping) or node.get("type") != "Pod":
            continue
        for artifact in (node.get("outputs") or {}).get("artifacts") or []:
            if not isinstance(artifact, Mapping) or artifact.get("deleted"):
                continue
            if effective_strategy(workflow, artifact) in wanted:
                found.append({**artifact, "nodeID": str(node.get("id") or node_id)})
    return found


def collect(
    workflow: Mapping[str, Any],
    event: Event,
    *,
    default: RepositoryConfig,
    secrets: SecretLookup,
) -> GCResult:
    """Delete what `event` collects. `default` is the workflow's repository: key-only
    artifacts are found there, or in their template's complete `archiveLocation`;
    `secrets(name, key)` resolves credentials."""
    resolver = Secrets(secrets)
    result = GCResult()
    for artifact in artifacts_to_collect(workflow, event):
        label = f"{artifact['nodeID']}/{artifact.get('name', '')}"
        own = template_archive(workflow, artifact, artifact["nodeID"])
        try:
            _delete(artifact, own or default, resolver)
        except NotFoundError:
            pass  # already gone: that is what we wanted
        except ArgoError as error:
            result.failed.append((label, resolver.redact(error.message)))
            continue
        except Exception as error:  # a driver's own error must not stop the others
            reason = str(error) or type(error).__name__
            result.failed.append((label, resolver.redact(f"{type(error).__name__}: {reason}")))
            continue
        result.deleted.append(label)
    return result


def _delete(artifact: Mapping[str, Any], default: RepositoryConfig, secrets: Secrets) -> None:
    found = _location_type(artifact)
    if found is None:
        return  # nothing was stored
    from jupyter_argo.artifacts._passing import _check_key  # archives load with a deletion

    key = _check_key(found[0], location_key(artifact))
    _open_repository(artifact, secrets, default).delete(key)


def gc_condition(result: GCResult) -> dict[str, Any] | None:
    """Argo's `ArtifactGCError` workflow condition for the failures, or None."""
    if not result.failed:
        return None
    details = "; ".join(f"{name}: {message}" for name, message in result.failed)
    count = len(result.failed)
    noun = "artifact" if count == 1 else "artifacts"
    return {
        "type": CONDITION_TYPE,
        "status": "True",
        "message": f"Artifact Garbage Collection failed for {count} {noun}: {details}",
    }


def mark_deleted(workflow: MutableMapping[str, Any], result: GCResult) -> None:
    """Set `deleted: true` on the status artifacts `result` deleted, as Argo records it."""
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    for label in result.deleted:
        node_id, _, name = label.partition("/")
        node = nodes.get(node_id)
        if not isinstance(node, MutableMapping):
            continue
        for artifact in (node.get("outputs") or {}).get("artifacts") or []:
            if isinstance(artifact, MutableMapping) and artifact.get("name") == name:
                artifact["deleted"] = True
