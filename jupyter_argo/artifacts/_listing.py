"""Listing the objects of an artifact location, for data templates' `artifactPaths`.

As Argo's executor does it (`workflow/executor/executor_data_source_processor.go`): the
driver is made from the artifact relocated into the template's archive location
(`newDriverArt`, `ArtifactLocation.Relocate`: a location that is not complete takes
everything from the repository, endpoint and credentials included), but `ListObjects` is
then given the artifact as written, so the bucket and key listed are the artifact's own:
`s3: {bucket: my-bucket}` lists all of `my-bucket` through the repository's endpoint,
and an S3 artifact without a bucket fails as minio-go fails it. S3 lists everything under
`<key>/`, GCS every name starting with the key; the other drivers cannot list. The
embedded repository, which stands in for an S3 repository, answers for any bucket name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_argo.artifacts._http import LIST_UNSUPPORTED
from jupyter_argo.artifacts._repository import (
    RepositoryConfig,
    _has_location,
    _open,
    location_key,
    location_type,
)
from jupyter_argo.artifacts._secrets import SecretLookup, Secrets
from jupyter_argo.errors import ArtifactError, ConfigError

__all__ = ["list_objects"]

# ArtifactLocation.Get's error when no location type is set, and GetKey's for types
# without keys, in Argo's words.
_NO_STORAGE = (
    "artifact storage is not configured; see the docs for setup instructions: "
    "https://argo-workflows.readthedocs.io/en/latest/configure-artifact-repository/"
)
_NO_KEY = {
    "git": "key unsupported: git artifact does not have a key",
    "raw": "key unsupported: raw artifat does not have key",
}
_CANNOT_LIST = ("git", "raw", "http", "artifactory")
_NO_BUCKET = "Bucket name cannot be empty"  # minio-go's check, before any request


def list_objects(
    artifact: Mapping[str, Any], *, default: RepositoryConfig, secrets: SecretLookup
) -> list[str] | None:
    """The object keys of `artifact`'s location (None where Argo's list is nil), or an
    ArtifactError worded as Argo's driver words it."""
    found = location_type(artifact)
    if found is None:
        raise ArtifactError(_NO_STORAGE)
    kind, block = found
    key = location_key(artifact)
    driver, driver_block = kind, block
    if not _has_location(kind, block):
        if kind in _NO_KEY:
            raise ArtifactError(_NO_KEY[kind])
        driver = "local" if default.root is not None else default.kind
        if not driver:
            raise ConfigError(_NO_STORAGE)
        if default.root is None:
            driver_block = default.location(key)[driver]
    if driver in _CANNOT_LIST:
        raise ArtifactError(LIST_UNSUPPORTED)
    if driver in ("local", "s3"):
        if kind != "s3":
            # Argo's S3 driver reads `artifact.S3` of a non-S3 artifact: a nil pointer.
            raise ArtifactError("runtime error: invalid memory address or nil pointer dereference")
        if not block.get("bucket"):
            raise ArtifactError(f"failed to list directory: {_NO_BUCKET}")
    if driver == "local" and default.root is not None:
        from jupyter_argo.artifacts._local import LocalRepository

        return LocalRepository(default.root).list_objects(key)
    if driver == "gcs" and kind != "gcs":
        raise ArtifactError("runtime error: invalid memory address or nil pointer dereference")
    own = {**driver_block, "bucket": str(block.get("bucket") or "")}
    return _open(driver, own, Secrets(secrets)).list_objects(key)
