"""Artifacts: Argo's archive strategies, repositories and sources, for every backend.

    save_output(artifact, src, key_prefix=..., default=..., secrets=...) -> status artifact
    load_input(artifact, dest, default=..., secrets=...)                 -> placed at dest
    fetch_artifact(artifact, source=..., workflow=..., node=..., ...)    -> a local copy

Repositories are resolved as Argo resolves them (`_resolve.py`): a complete location as
it is, else the node's template `archiveLocation`, else the workflow's
`status.artifactRepositoryRef` (or what its controller would resolve: its
`spec.artifactRepositoryRef`, the namespace's `artifact-repositories` ConfigMap, the
controller default). A `RepositorySource` supplies ConfigMaps and the controller default;
locally that default is the embedded directory (`embedded_repository`), which records its
objects as key-only S3 locations exactly as a default S3 repository would.
`open_repository` gives the `Repository` (local directory, S3-compatible, GCS, HTTP)
holding a location; `list_objects` lists a location's objects as Argo's drivers do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jupyter_argo._lazy import lazy_names

if TYPE_CHECKING:
    from jupyter_argo.artifacts._listing import list_objects
    from jupyter_argo.artifacts._passing import load_input, save_output
    from jupyter_argo.artifacts._repository import (
        DEFAULT_KEY_FORMAT,
        Repository,
        RepositoryConfig,
        default_repository,
        embedded_repository,
        location_key,
        open_repository,
    )
    from jupyter_argo.artifacts._resolve import (
        RepositorySource,
        artifact_repository,
        fetch_artifact,
        repository_of_ref,
        resolve_ref,
        workflow_repository,
    )
    from jupyter_argo.artifacts._secrets import SecretLookup

__all__ = [
    "DEFAULT_KEY_FORMAT",
    "Repository",
    "RepositoryConfig",
    "RepositorySource",
    "SecretLookup",
    "artifact_repository",
    "default_repository",
    "embedded_repository",
    "fetch_artifact",
    "list_objects",
    "load_input",
    "location_key",
    "open_repository",
    "repository_of_ref",
    "resolve_ref",
    "save_output",
    "workflow_repository",
]

# Each name loads its module on first use (PEP 562): a run without artifacts resolves
# its repository but never loads the archive formats (tarfile, zipfile, gzip).
_HOMES = {
    "list_objects": "_listing",
    "load_input": "_passing",
    "save_output": "_passing",
    "DEFAULT_KEY_FORMAT": "_repository",
    "Repository": "_repository",
    "RepositoryConfig": "_repository",
    "default_repository": "_repository",
    "embedded_repository": "_repository",
    "location_key": "_repository",
    "open_repository": "_repository",
    "RepositorySource": "_resolve",
    "artifact_repository": "_resolve",
    "fetch_artifact": "_resolve",
    "repository_of_ref": "_resolve",
    "resolve_ref": "_resolve",
    "workflow_repository": "_resolve",
    "SecretLookup": "_secrets",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
