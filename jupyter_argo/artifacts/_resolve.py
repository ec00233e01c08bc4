"""The repository holding an artifact of a workflow, resolved as Argo resolves it.

Follows three Argo files (v4.1):

- `workflow/artifactrepositories/artifactrepositories.go`: `Resolve` picks a workflow's
  repository when it starts (`resolve_ref`) and `Get` reads a resolved reference
  (`repository_of_ref`);
- `workflow/controller/operator.go` (`operate`): a workflow keeps the reference written in
  `status.artifactRepositoryRef`; one without it is resolved from its spec;
- `server/artifacts/artifact_server.go` (`getArtifactAndDriver`), which `argo cp`, the UI
  and archived logs go through: an artifact opened from a node of a workflow.

Opening an artifact, in order:

1. a complete location (`HasLocation`: S3 endpoint + bucket + key, GCS bucket + key, an
   HTTP URL, ...) is used as it is, nothing else is read;
2. else the node's template (`templateRef.template` or `templateName`, looked up in
   `spec.templates`, `status.storedWorkflowTemplateSpec`, then `status.storedTemplates`)
   when its `archiveLocation` is complete: the executor wrote the artifact there;
3. else the workflow's repository, `Get(status.artifactRepositoryRef)`: the inline
   `artifactRepository` when present; `{default: true}` without it is the controller's
   default (`artifactRepository` in `workflow-controller-configmap`); a reference written
   before Argo 3.1 (no inline repository) reads its ConfigMap (`configMap`, default
   `artifact-repositories`) in its `namespace`, with its `key` or else the key named by the
   `workflows.argoproj.io/default-artifact-repository` annotation;
4. a workflow without `status.artifactRepositoryRef` (not started yet, or older than Argo
   3.0) gets the reference its controller would resolve (`Resolve`): with
   `spec.artifactRepositoryRef`, that ConfigMap in the workflow's namespace, else in the
   controller's namespace; without, the namespace's `artifact-repositories` ConfigMap when
   it names a default key, else the controller's default.

The key-only location then takes every field of that location but its key (`Relocate`).
Where Argo's server fails on a node whose template it cannot find, we go on to step 3.
A `RepositorySource` gives ConfigMaps and the controller default: the local engine's
store, or a cluster; the rules above are the same code for both backends.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml

from jupyter_argo.artifacts._repository import (
    DEFAULT_ANNOTATION,
    DEFAULT_CONFIGMAP,
    RepositoryConfig,
    has_location,
    location_key,
    location_type,
)
from jupyter_argo.artifacts._secrets import SecretLookup
from jupyter_argo.errors import ConfigError, NotFoundError

__all__ = [
    "RepositorySource",
    "artifact_repository",
    "fetch_artifact",
    "repository_of_ref",
    "resolve_ref",
    "workflow_repository",
]


class RepositorySource(Protocol):
    """Where repositories are configured: ConfigMaps by namespace, and the controller's."""

    controller_namespace: str | None
    """The namespace of the controller's ConfigMaps; None where there is none."""

    def configmap(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The ConfigMap `name` in `namespace`, or None when it does not exist."""
        ...

    def controller_default(self) -> RepositoryConfig | None:
        """The controller's default repository, or None when none is configured."""
        ...

    def no_default(self, namespace: str) -> str:
        """Why there is no repository for key-only artifacts of `namespace`, and what to do."""
        ...


def resolve_ref(
    source: RepositorySource, spec_ref: Mapping[str, Any] | None, namespace: str
) -> dict[str, Any]:
    """Argo's `Resolve`: the `status.artifactRepositoryRef` a workflow starts with."""
    candidates: list[dict[str, Any]]
    if spec_ref is not None:
        picked = {k: str(spec_ref[k]) for k in ("configMap", "key") if spec_ref.get(k)}
        candidates = [{"namespace": namespace, **picked}]
        if source.controller_namespace and source.controller_namespace != namespace:
            candidates.append({"namespace": source.controller_namespace, **picked})
    else:
        candidates = [{"namespace": namespace}, {"default": True}]
    for candidate in candidates:
        found = _get(source, candidate, namespace)
        if found is None:
            continue
        if found.get("default"):
            # Argo writes the controller's default in: its configured repository, else
            # `{}` (as for the local store, which is not an Argo repository).
            default = source.controller_default()
            spec = default.spec if default is not None and default.root is None else {}
            found["artifactRepository"] = dict(spec)
        return found
    wanted = f"{(spec_ref or {}).get('configMap') or ''}#{(spec_ref or {}).get('key') or ''}"
    raise NotFoundError(
        f'failed to find any artifact repository for artifact repository ref "{wanted}"'
    )


def repository_of_ref(
    source: RepositorySource, ref: Mapping[str, Any], namespace: str
) -> RepositoryConfig:
    """Argo's `Get`: the repository of a resolved reference (a status ref)."""
    found = _get(source, ref, namespace)
    if found is None:
        name = str(ref.get("configMap") or DEFAULT_CONFIGMAP)
        where = str(ref.get("namespace") or namespace)
        raise NotFoundError(
            f'artifact repository ref "{where}/{name}#{ref.get("key") or ""}" of the workflow '
            "status: no such ConfigMap key"
        )
    return _config(source, found, namespace)


def workflow_repository(source: RepositorySource, workflow: Mapping[str, Any]) -> RepositoryConfig:
    """The repository of a workflow's key-only artifacts (steps 3 and 4 above)."""
    namespace = _namespace(workflow)
    ref = (workflow.get("status") or {}).get("artifactRepositoryRef")
    if not isinstance(ref, Mapping) or not ref:
        spec_ref = (workflow.get("spec") or {}).get("artifactRepositoryRef")
        ref = resolve_ref(source, spec_ref if isinstance(spec_ref, Mapping) else None, namespace)
    return repository_of_ref(source, ref, namespace)


def artifact_repository(
    source: RepositorySource,
    workflow: Mapping[str, Any],
    artifact: Mapping[str, Any],
    node: str | None = None,
) -> RepositoryConfig:
    """The repository a key-only `artifact` of `workflow` is in; `node` is the ID of the
    node it belongs to (found from the status when not given). A complete location needs
    none: an empty configuration is returned without reading anything."""
    if has_location(artifact):
        return RepositoryConfig(spec={})
    own = template_archive(workflow, artifact, node)
    return own if own is not None else workflow_repository(source, workflow)


def template_archive(
    workflow: Mapping[str, Any], artifact: Mapping[str, Any], node: str | None = None
) -> RepositoryConfig | None:
    """The complete `archiveLocation` of the template of the artifact's node (step 2), or
    None. Artifact GC uses it too (`artifact_gc.go`)."""
    template = _template(workflow, _node(workflow, artifact, node))
    archive = (template or {}).get("archiveLocation")
    if isinstance(archive, Mapping) and has_location(archive):
        return RepositoryConfig.from_archive_location(archive)
    return None


def fetch_artifact(
    artifact: Mapping[str, Any],
    *,
    source: RepositorySource,
    workflow: Mapping[str, Any] | None,
    node: str | None,
    namespace: str,
    secrets: SecretLookup,
) -> Path:
    """A local copy of an artifact of `workflow` (None: the namespace's workflows in
    general), unpacked, in a new temporary directory."""
    from jupyter_argo.artifacts._passing import load_input

    if workflow is None:
        workflow = {"metadata": {"namespace": namespace}}
    elif not (workflow.get("metadata") or {}).get("namespace"):
        workflow = {
            **workflow,
            "metadata": {**(workflow.get("metadata") or {}), "namespace": namespace},
        }
    repository = artifact_repository(source, workflow, artifact, node)
    target = Path(tempfile.mkdtemp(prefix="jupyter-argo-artifact-")) / str(
        artifact.get("name") or "artifact"
    )
    load_input(dict(artifact), target, default=repository, secrets=secrets)
    return target


# --- Get --------------------------------------------------------------------------------


def _get(source: RepositorySource, ref: Mapping[str, Any], namespace: str) -> dict[str, Any] | None:
    """Argo's `get`: the reference with its repository filled in; None when the ConfigMap
    or its key does not exist (`Resolve` then tries the next candidate)."""
    inline = ref.get("artifactRepository")
    if isinstance(inline, Mapping) and inline:
        return dict(ref)
    if ref.get("default"):
        return {**ref, "default": True}
    where = str(ref.get("namespace") or namespace)
    name = str(ref.get("configMap") or DEFAULT_CONFIGMAP)
    configmap = source.configmap(where, name)
    if configmap is None:
        return None
    annotations = (configmap.get("metadata") or {}).get("annotations") or {}
    key = str(ref.get("key") or annotations.get(DEFAULT_ANNOTATION) or "")
    data = configmap.get("data") or {}
    if key not in data:
        return None
    value = data[key]
    try:
        spec = yaml.safe_load(value) if isinstance(value, str) else value
    except yaml.YAMLError as error:
        raise ConfigError(
            f'failed to unmarshal config map "{where}/{name}" key "{key}" as an artifact '
            f"repository: {str(error).splitlines()[0]}"
        ) from None
    if not isinstance(spec, Mapping):
        raise ConfigError(f'config map "{where}/{name}" key "{key}" is not an artifact repository')
    found = {"namespace": where} if where else {}
    return {**found, "configMap": name, "key": key, "artifactRepository": dict(spec)}


def _config(source: RepositorySource, ref: Mapping[str, Any], namespace: str) -> RepositoryConfig:
    inline = ref.get("artifactRepository")
    if isinstance(inline, Mapping) and inline:
        public = {k: v for k, v in ref.items() if k != "artifactRepository"}
        return RepositoryConfig(spec=dict(inline), ref={**public, "artifactRepository": inline})
    default = source.controller_default()  # only a `{default: true}` ref gets here
    if default is None:
        raise ConfigError(source.no_default(namespace))
    return default


# --- the node and its template ----------------------------------------------------------


def _namespace(workflow: Mapping[str, Any]) -> str:
    return str((workflow.get("metadata") or {}).get("namespace") or "")


def _nodes(workflow: Mapping[str, Any]) -> Mapping[str, Any]:
    nodes = (workflow.get("status") or {}).get("nodes")
    return nodes if isinstance(nodes, Mapping) else {}


def _node(
    workflow: Mapping[str, Any], artifact: Mapping[str, Any], node: str | None
) -> Mapping[str, Any] | None:
    """The node `node` (an ID), else the node that output the artifact (a workflow output
    or an archived log is a copy of one), else one that took it as an input."""
    nodes = _nodes(workflow)
    if node:
        found = nodes.get(node)
        return found if isinstance(found, Mapping) else None
    place = _place(artifact)
    for section in ("outputs", "inputs"):
        for entry in nodes.values():
            if isinstance(entry, Mapping) and any(
                _place(a) == place for a in _artifacts(entry, section)
            ):
                return entry
    return None


def _artifacts(node: Mapping[str, Any], section: str) -> Iterator[Mapping[str, Any]]:
    for artifact in (node.get(section) or {}).get("artifacts") or []:
        if isinstance(artifact, Mapping):
            yield artifact


def _place(artifact: Mapping[str, Any]) -> tuple[str, str, str]:
    found = location_type(artifact)
    return (str(artifact.get("name") or ""), found[0] if found else "", location_key(artifact))


def _template(
    workflow: Mapping[str, Any], node: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """Argo's `GetTemplateFromNode` then `Workflow.GetTemplateByName`."""
    if node is None:
        return None
    ref = node.get("templateRef")
    name = str((ref or {}).get("template") or "") if isinstance(ref, Mapping) else ""
    name = name or str(node.get("templateName") or "")
    if not name:
        return None
    status = workflow.get("status") or {}
    stored_spec = status.get("storedWorkflowTemplateSpec") or {}
    stored = status.get("storedTemplates") or {}
    for template in [
        *((workflow.get("spec") or {}).get("templates") or []),
        *(stored_spec.get("templates") or []),
        *(stored.values() if isinstance(stored, Mapping) else []),
    ]:
        if isinstance(template, Mapping) and template.get("name") == name:
            return template
    return None
