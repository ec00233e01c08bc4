"""Artifacts: Argo's archive strategies, repositories and sources, for the local engine.

    save_output(artifact, src, key_prefix=..., default=..., secrets=...) -> status artifact
    load_input(artifact, dest, default=..., secrets=...)                 -> placed at dest

Repositories are resolved as Argo resolves them (`default_repository`): a workflow's
`artifactRepositoryRef`, the namespace's `artifact-repositories` ConfigMap, else the
embedded local directory (`embedded_repository`), which records its objects as key-only
S3 locations exactly as a default S3 repository would. `open_repository` gives the
`Repository` (local directory, S3-compatible, GCS, HTTP) holding a location.
"""

from __future__ import annotations

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
from jupyter_argo.artifacts._secrets import SecretLookup

__all__ = [
    "DEFAULT_KEY_FORMAT",
    "Repository",
    "RepositoryConfig",
    "SecretLookup",
    "default_repository",
    "embedded_repository",
    "load_input",
    "location_key",
    "open_repository",
    "save_output",
]
