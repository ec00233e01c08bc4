"""Where artifacts live: Argo's repository configuration, and opening it.

Which repository an artifact is in is decided in `_resolve.py` (Argo's
`artifactrepositories.go` and its artifact server); `default_repository` is that
resolution for a workflow of one namespace whose controller default is the embedded
local repository.

An artifact's location is complete (`HasLocation` in Argo: S3 needs endpoint, bucket and
key; GCS bucket and key; HTTP a URL) or key-only; a key-only location takes everything
but its key from the repository (`ArtifactLocation.Relocate`).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from jupyter_argo.artifacts._keys import join_key
from jupyter_argo.artifacts._secrets import SecretLookup, Secrets
from jupyter_argo.errors import ArtifactError, ConfigError, UnsupportedError

__all__ = [
    "DEFAULT_ANNOTATION",
    "DEFAULT_CONFIGMAP",
    "DEFAULT_KEY_FORMAT",
    "Repository",
    "RepositoryConfig",
    "default_repository",
    "embedded_repository",
    "has_location",
    "location_key",
    "location_type",
    "open_repository",
]

DEFAULT_KEY_FORMAT = "{{workflow.name}}/{{pod.name}}"
"""Argo's `DefaultArchivePattern`."""

DEFAULT_CONFIGMAP = "artifact-repositories"
DEFAULT_ANNOTATION = "workflows.argoproj.io/default-artifact-repository"

# Argo's ArtifactLocation.Get order, and ArtifactRepository.Get order.
_LOCATION_TYPES = (
    "artifactory",
    "azure",
    "git",
    "gcs",
    "hdfs",
    "http",
    "oss",
    "raw",
    "s3",
    "plugin",
)
_REPOSITORY_TYPES = ("artifactory", "azure", "gcs", "hdfs", "oss", "plugin", "s3")
_KEY_FIELDS = {"azure": "blob", "hdfs": "path"}
_CONFIGURE_DOCS = "https://argo-workflows.readthedocs.io/en/latest/configure-artifact-repository/"


class Repository(Protocol):
    """Objects by key. The embedded directory, an S3 bucket, a GCS bucket, an HTTP server."""

    def upload(self, src: Path, key: str) -> None:
        """Store the file `src` at `key`, or each file below directory `src` under it."""

    def download(self, key: str, dest: Path) -> None:
        """The object `key` as file `dest`, or every object under it as directory `dest`."""

    def delete(self, key: str) -> None:
        """Remove the object (or prefix) `key`; already gone is fine."""

    def exists(self, key: str) -> bool:
        """Whether an object, or objects under the prefix, exist at `key`."""

    def open(self, key: str) -> BinaryIO:
        """A streaming reader of the object `key`."""

    def list_objects(self, key: str) -> list[str] | None:
        """The keys of the objects under `key`, as Argo's driver `ListObjects` lists them
        (None where Go's list is nil); data templates' `artifactPaths`."""


@dataclass(frozen=True)
class RepositoryConfig:
    """A resolved Argo `ArtifactRepository`: where key-only artifacts go, and how keys look.

    `spec` is the repository as Argo writes it (`{"s3": {...}, "archiveLogs": true}`).
    `root` is set for the embedded local repository, which presents itself as S3 so that
    status artifacts are key-only `s3` locations either way. `ref` is what belongs in
    `workflow.status.artifactRepositoryRef`. Outputs saved in it are recorded key-only,
    as Argo's executor records them (`saveArtifactFromFile`: `SetType` then `SetKey`), even
    for a template's own complete `archiveLocation`.
    """

    spec: Mapping[str, Any]
    root: Path | None = None
    ref: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """`local`, or the repository type (`s3`, `gcs`, `artifactory`, ...); `""` if none."""
        if self.root is not None:
            return "local"
        return next((t for t in _REPOSITORY_TYPES if isinstance(self.spec.get(t), Mapping)), "")

    @property
    def key_format(self) -> str:
        """The key template for outputs (`{{workflow.name}}/{{pod.name}}` unless set)."""
        block = self._block()
        if self.kind in ("s3", "local"):
            return str(
                block.get("keyFormat")
                or join_key(str(block.get("keyPrefix") or ""), DEFAULT_KEY_FORMAT)
            )
        if self.kind == "azure":
            return str(block.get("blobNameFormat") or DEFAULT_KEY_FORMAT)
        if self.kind == "hdfs":
            return str(block.get("pathFormat") or DEFAULT_KEY_FORMAT)
        return str(block.get("keyFormat") or DEFAULT_KEY_FORMAT)

    @property
    def archive_logs(self) -> bool:
        return bool(self.spec.get("archiveLogs"))

    def _block(self) -> Mapping[str, Any]:
        kind = "s3" if self.kind == "local" else self.kind
        block = self.spec.get(kind) if kind else None
        return block if isinstance(block, Mapping) else {}

    def location(self, key: str) -> dict[str, Any]:
        """The full location of `key` in this repository (Argo's `ToArtifactLocation`)."""
        kind = "s3" if self.kind == "local" else self.kind
        if not kind:
            raise ConfigError(f"artifact storage is not configured; see {_CONFIGURE_DOCS}")
        fields = {
            k: v
            for k, v in self._block().items()
            if k not in ("keyFormat", "keyPrefix", "blobNameFormat", "pathFormat", "repoURL")
        }
        if kind == "artifactory":
            base = str(self._block().get("repoURL") or "")
            fields["url"] = _url_with_key(base, key)
        else:
            fields[_KEY_FIELDS.get(kind, "key")] = key
        return {kind: fields}

    @classmethod
    def from_archive_location(cls, location: Mapping[str, Any]) -> RepositoryConfig:
        """A template's own complete `archiveLocation` as a repository; its key is the
        key format."""
        found = location_type(location)
        if found is None or not _has_location(*found):
            raise ConfigError("archiveLocation does not name a complete location")
        kind, block = found
        spec: dict[str, Any] = {"archiveLogs": bool(location.get("archiveLogs"))}
        fields = dict(block)
        if kind == "artifactory":
            parts = urllib.parse.urlsplit(str(fields.pop("url")))
            fields["repoURL"] = urllib.parse.urlunsplit(parts._replace(path="/"))
            fields["keyFormat"] = parts.path.lstrip("/")
        else:
            fields["keyFormat"] = fields.pop("key", "")
        spec[kind] = fields
        return cls(spec=spec)


def _url_with_key(base: str, key: str) -> str:
    if not base.endswith("/"):
        base += "/"
    return base + key.lstrip("/")


def embedded_repository(root: Path) -> RepositoryConfig:
    """The local default: objects under `root`, laid out and reported as Argo's S3 keys."""
    return RepositoryConfig(
        spec={"s3": {"keyFormat": DEFAULT_KEY_FORMAT}},
        root=root,
        ref={"default": True},  # not an Argo repository: never inlined in a status
    )


def default_repository(
    configmaps: Callable[[str], Mapping[str, Any] | None],
    ref: Mapping[str, Any] | None,
    home: Path,
) -> RepositoryConfig:
    """The repository a workflow of one namespace starts with (`resolve_ref` then
    `repository_of_ref`), where `configmaps(name)` gives that namespace's ConfigMaps and
    the controller default is the embedded repository under `home / "artifacts"`."""
    from jupyter_argo.artifacts._resolve import repository_of_ref, resolve_ref

    source = _OneNamespace(configmaps, home / "artifacts")
    return repository_of_ref(source, resolve_ref(source, ref, ""), "")


class _OneNamespace:
    controller_namespace: str | None = None

    def __init__(self, configmaps: Callable[[str], Mapping[str, Any] | None], root: Path) -> None:
        self._configmaps = configmaps
        self._root = root

    def configmap(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._configmaps(name)

    def controller_default(self) -> RepositoryConfig | None:
        return embedded_repository(self._root)

    def no_default(self, namespace: str) -> str:  # pragma: no cover - there always is one
        return f"artifact storage is not configured; see {_CONFIGURE_DOCS}"


# --- locations -------------------------------------------------------------------------


def location_type(location: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """The (type, block) of an artifact location, in Argo's precedence order."""
    for kind in _LOCATION_TYPES:
        block = location.get(kind)
        if isinstance(block, Mapping):
            return kind, block
    return None


def _has_location(kind: str, block: Mapping[str, Any]) -> bool:
    """Argo's `HasLocation`: complete enough to be used without a repository."""
    need = {
        "s3": ("endpoint", "bucket", "key"),
        "gcs": ("bucket", "key"),
        "oss": ("endpoint", "bucket", "key"),
        "azure": ("endpoint", "container", "blob"),
        "hdfs": ("addresses", "path"),
        "http": ("url",),
        "artifactory": ("url",),
        "git": ("repo",),
        "plugin": ("name", "key"),
    }
    return kind == "raw" or all(block.get(f) for f in need.get(kind, ("key",)))


def location_key(location: Mapping[str, Any]) -> str:
    """The key of an artifact location: the object key, or an HTTP URL's path."""
    found = location_type(location)
    if found is None:
        return ""
    kind, block = found
    if kind in ("http", "artifactory"):
        return urllib.parse.urlsplit(str(block.get("url") or "")).path
    if kind == "azure":
        return str(block.get("blob") or "")
    if kind == "hdfs":
        return str(block.get("path") or "")
    return str(block.get("key") or "")


def has_location(location: Mapping[str, Any]) -> bool:
    found = location_type(location)
    return found is not None and _has_location(*found)


def open_repository(
    location: Mapping[str, Any], *, secrets: SecretLookup, default: RepositoryConfig
) -> Repository:
    """The repository holding `location` (an artifact or its location fields): its own
    when complete, else `default` (Argo's Relocate keeps only the key of a partial one)."""
    return _open_repository(location, Secrets(secrets), default)


def _open_repository(
    location: Mapping[str, Any], secrets: Secrets, default: RepositoryConfig
) -> Repository:
    found = location_type(location)
    if found is not None and _has_location(*found):
        kind, block = found
    elif default.root is not None:
        from jupyter_argo.artifacts._local import LocalRepository

        return LocalRepository(default.root)
    else:
        kind = default.kind
        if not kind:
            raise ConfigError(f"artifact storage is not configured; see {_CONFIGURE_DOCS}")
        block = default.location("")[kind]
    return _open(kind, block, secrets)


def _open(kind: str, block: Mapping[str, Any], secrets: Secrets) -> Repository:
    if kind == "s3":
        return _open_s3(block, secrets)
    if kind == "gcs":
        from jupyter_argo.artifacts._gcs import GcsRepository

        key_json = secrets.get(
            block.get("serviceAccountKeySecret"), field="gcs.serviceAccountKeySecret"
        )
        return GcsRepository(str(block.get("bucket") or ""), key_json, redact=secrets.redact)
    if kind in ("http", "artifactory"):
        return _open_http(kind, block, secrets)
    if kind in ("git", "raw"):
        raise ArtifactError(f"{kind} artifacts are inputs only; they cannot be stored")
    raise UnsupportedError(
        f"{kind} artifacts are not supported by the local engine; use s3, gcs, http, git or raw"
    )


def _open_s3(block: Mapping[str, Any], secrets: Secrets) -> Repository:
    from jupyter_argo.artifacts._s3 import S3Options, S3Repository

    for name in ("roleARN", "caSecret"):
        if block.get(name):
            raise UnsupportedError(f"s3.{name} is not supported by the local engine")
    encryption = block.get("encryptionOptions") or {}
    if encryption.get("enableEncryption") or encryption.get("serverSideCustomerKeySecret"):
        raise UnsupportedError("s3.encryptionOptions is not supported by the local engine")
    access = block.get("accessKeySecret")
    access_key = secret_key = session_token = None
    if isinstance(access, Mapping) and access.get("name"):
        # As Argo: the secret key and session token are read only with an access key.
        access_key = secrets.get(access, field="s3.accessKeySecret")
        secret_key = secrets.get(block.get("secretKeySecret"), field="s3.secretKeySecret")
        token = block.get("sessionTokenSecret")
        if isinstance(token, Mapping) and token.get("name"):
            session_token = secrets.get(token, field="s3.sessionTokenSecret")
    options = S3Options(
        endpoint=str(block.get("endpoint") or ""),
        bucket=str(block.get("bucket") or ""),
        region=str(block.get("region") or ""),
        insecure=bool(block.get("insecure")),
        access_key=access_key.strip() if access_key else access_key,
        secret_key=secret_key.strip() if secret_key else secret_key,
        session_token=session_token,
        addressing_style=str(block.get("addressingStyle") or ""),
        create_bucket=block.get("createBucketIfNotPresent") is not None,
    )
    return S3Repository(options, redact=secrets.redact)


def _open_http(kind: str, block: Mapping[str, Any], secrets: Secrets) -> Repository:
    from jupyter_argo.artifacts._http import HttpRepository

    url = str(block.get("url") or "")
    if kind == "artifactory":
        username = secrets.get(block.get("usernameSecret"), field="artifactory.usernameSecret")
        password = secrets.get(block.get("passwordSecret"), field="artifactory.passwordSecret")
        return HttpRepository(
            url, username=username, password=password, redact=secrets.redact, kind=kind
        )
    auth = block.get("auth") or {}
    for method in ("oauth2", "clientCert"):
        if any((auth.get(method) or {}).values()):
            raise UnsupportedError(f"http.auth.{method} is not supported by the local engine")
    basic = auth.get("basicAuth") or {}
    username = secrets.get(basic.get("usernameSecret"), field="http.auth.basicAuth.usernameSecret")
    password = secrets.get(basic.get("passwordSecret"), field="http.auth.basicAuth.passwordSecret")
    headers = [
        (str(h.get("name")), str(h.get("value") or ""))
        for h in block.get("headers") or []
        if isinstance(h, Mapping) and h.get("name")
    ]
    if not (username and password):
        username = password = None  # as Argo: basic auth only with both parts
    return HttpRepository(
        url, headers=headers, username=username, password=password, redact=secrets.redact
    )
