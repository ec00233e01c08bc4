"""Saving output artifacts and loading input artifacts, as Argo's executor does.

Saving (`executor.go` `saveArtifact`, `stageArchiveFile`): the path is packed per its
`archive` strategy (tgz named `<name>.tgz` by default, `<name>.zip`, or the file or
directory as is under its base name), then stored at the artifact's own location, at
its key in the repository (key-only), or at `<key prefix>/<file name>` in the
repository; the status artifact is the spec plus where it went.

Loading (`loadArtifact`, `unarchiveArtifact`): the object is fetched beside the target,
unpacked when the `archive` field says so (or, with none, when it is a gzipped tar), the
single top-level entry of an archive becomes the target, and `mode` is applied.
"""

from __future__ import annotations

import contextlib
import copy
import os
import posixpath
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_argo.artifacts._archive import (
    input_strategy,
    is_gzipped_tar,
    pack_tgz,
    pack_zip,
    strategy_of,
    unpack_tar,
    unpack_zip,
)
from jupyter_argo.artifacts._keys import check_key, join_key
from jupyter_argo.artifacts._repository import (
    RepositoryConfig,
    _has_location,
    _open_repository,
    location_key,
    location_type,
)
from jupyter_argo.artifacts._secrets import SecretLookup, Secrets
from jupyter_argo.errors import (
    ArtifactError,
    ConfigError,
    NotFoundError,
    UnsupportedError,
)

__all__ = [
    "PlannedOutput",
    "load_input",
    "place_file",
    "plan_output",
    "save_output",
    "store_output",
]

_RELABELLED = (ArtifactError, ConfigError, NotFoundError, UnsupportedError)


@contextlib.contextmanager
def _about(name: str) -> Iterator[None]:
    """Prefix errors with the artifact they concern, keeping their class."""
    try:
        yield
    except _RELABELLED as error:
        prefix = f"artifact {name}: "
        if error.message.startswith(prefix):
            raise
        raise type(error)(prefix + error.message, error.location) from None
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        raise ArtifactError(f"artifact {name}: {error.strerror or error}{where}") from None


def _check_key(kind: str, key: str) -> str:
    if kind in ("http", "artifactory"):
        if ".." in key.split("/"):
            raise ArtifactError(f"URL path {key!r} contains '..'")
        return key
    return check_key(key)


def save_output(
    artifact: Mapping[str, Any],
    src: Path,
    *,
    key_prefix: str,
    default: RepositoryConfig,
    secrets: SecretLookup,
) -> dict[str, Any] | None:
    """Pack and store the output artifact found at `src`; its status entry, or None when
    it is optional and `src` does not exist.

    `key_prefix` is the repository's key format already substituted (for the default,
    `<workflow name>/<pod name>`). `src` is where the artifact's `path` is on this machine.
    """
    planned = plan_output(artifact, src, key_prefix=key_prefix, default=default, secrets=secrets)
    if planned is None:
        return None
    store_output(planned, src)
    return planned.status


@dataclass(frozen=True)
class PlannedOutput:
    """Where an output artifact goes and how it is packed, known before any byte moves:
    the status entry can be given out while the bytes are still on their way."""

    artifact: Mapping[str, Any]
    status: dict[str, Any]
    kind: str  # the repository type: s3, gcs, ...
    key: str
    strategy: str  # tgz, zip or none
    level: int
    base: str  # the name inside an archive
    file_name: str
    repository: Any  # the opened repository (credentials resolved when planned)


def plan_output(
    artifact: Mapping[str, Any],
    src: Path,
    *,
    key_prefix: str,
    default: RepositoryConfig,
    secrets: SecretLookup,
) -> PlannedOutput | None:
    """`save_output`'s decisions (errors included) without the transfer; None when the
    artifact is optional and `src` does not exist."""
    name = str(artifact.get("name") or "")
    with _about(name):
        container_path = str(artifact.get("path") or src)
        if not src.exists():
            if artifact.get("optional"):
                return None
            raise ArtifactError(f"path {container_path} does not exist")
        if not (src.is_file() or src.is_dir()):
            raise ArtifactError(f"path {container_path} is not a regular file or directory")
        strategy = strategy_of(artifact.get("archive"))
        base = posixpath.basename(posixpath.normpath(container_path)) or name
        file_name = {"tgz": f"{name}.tgz", "zip": f"{name}.zip"}.get(strategy.kind, base)

        status = copy.deepcopy(dict(artifact))
        found = location_type(artifact)
        if found is not None and (_has_location(*found) or location_key(artifact)):
            kind, key = found[0], location_key(artifact)  # its own place, or its own key
        else:
            kind = "s3" if default.kind == "local" else default.kind
            if not kind:
                raise ConfigError("artifact storage is not configured")
            archive_key = join_key(key_prefix, file_name)
            where = default.location(archive_key)
            key = location_key(where)
            # Argo's executor records a key-only location (SetType + SetKey), in the
            # workflow's repository and in a template's own archiveLocation alike.
            status[kind] = {"key": key} if kind != "artifactory" else where[kind]
        repository = _open_repository(artifact, Secrets(secrets), default)
        _check_key(kind, key)
        return PlannedOutput(
            artifact, status, kind, key, strategy.kind, strategy.level, base, file_name, repository
        )


def store_output(planned: PlannedOutput, src: Path) -> None:
    """Pack `src` as planned and store it at the planned key."""
    with _about(str(planned.artifact.get("name") or "")):
        repository = planned.repository
        if planned.strategy == "none":
            repository.upload(src, planned.key)
            return
        with tempfile.TemporaryDirectory(prefix="jupyter-argo-pack-") as work:
            packed = Path(work, planned.file_name)
            with open(packed, "wb") as out:
                if planned.strategy == "zip":
                    pack_zip(src, out, arcname=planned.base)
                else:
                    pack_tgz(src, out, arcname=planned.base, level=planned.level)
            repository.upload(packed, planned.key)


def load_input(
    artifact: Mapping[str, Any],
    dest: Path,
    *,
    default: RepositoryConfig,
    secrets: SecretLookup,
) -> None:
    """Fetch the input artifact (from a status location or a source: s3, gcs, http,
    artifactory, git, raw) and place it at `dest`, unpacked, with `subPath` and `mode`
    applied. An optional artifact that is not supplied or not found leaves `dest` alone."""
    name = str(artifact.get("name") or "")
    optional = bool(artifact.get("optional"))
    with _about(name):
        mode = _mode(artifact)
        found = location_type(artifact)
        if found is None or not (_has_location(*found) or location_key(artifact)):
            if optional:
                return
            raise NotFoundError(f"required artifact '{name}' not supplied")
        kind, block = found
        sub_path = str(artifact.get("subPath") or "")
        if sub_path and kind in ("git", "raw"):
            if not optional:
                raise ArtifactError(f"subPath is not supported for {kind} artifacts")
            sub_path = ""  # as Argo: an optional artifact ignores a subPath it cannot use
        resolver = Secrets(secrets)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.") as work:
            fetched = Path(work, "fetched")
            try:
                if kind == "raw":
                    fetched.write_bytes(str(block.get("data") or "").encode())
                elif kind == "git":
                    from jupyter_argo.artifacts._git import clone

                    clone(block, fetched, resolver)
                else:
                    key = _check_key(kind, location_key(artifact))
                    if sub_path:
                        key = join_key(key, check_key(sub_path, what="subPath"))
                    _open_repository(artifact, resolver, default).download(key, fetched)
            except NotFoundError:
                if optional:
                    return
                raise
            _place(artifact, fetched, dest, Path(work))
        if mode is not None:
            _chmod(dest, mode, recurse=bool(artifact.get("recurseMode")))


def place_file(artifact: Mapping[str, Any], snapshot: Path, dest: Path) -> None:
    """An input artifact handed over on this machine: the producer's file, copied in the
    kernel (copy_file_range/sendfile: no bytes through Python, flat memory), where
    `load_input` would unpack the repository's archive of it, `mode` applied the same."""
    import shutil

    with _about(str(artifact.get("name") or "")):
        mode = _mode(artifact)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.") as work:
            fetched = Path(work, "fetched")
            shutil.copyfile(snapshot, fetched)
            _move(fetched, dest)
        if mode is not None:
            _chmod(dest, mode, recurse=False)


def _mode(artifact: Mapping[str, Any]) -> int | None:
    mode = artifact.get("mode")
    if mode is None:
        return None
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise ArtifactError(f"mode must be a number between 0 and 0777, not {mode!r}")
    return mode


def _place(artifact: Mapping[str, Any], fetched: Path, dest: Path, work: Path) -> None:
    """Unpack or move `fetched` to `dest` the way Argo's `unarchiveArtifact` decides."""
    strategy = input_strategy(artifact.get("archive"))
    kind = strategy.kind if strategy else ("tgz" if is_gzipped_tar(fetched) else "none")
    if kind == "none":
        _move(fetched, dest)
        return
    unpacked = work / "unpacked"
    unpacked.mkdir()
    if kind == "zip":
        unpack_zip(fetched, unpacked)
    else:
        unpack_tar(fetched, unpacked)
    entries = list(unpacked.iterdir())
    if len(entries) != 1:
        _move(unpacked, dest)  # several entries (or none): the directory is the artifact
        return
    if entries[0].is_symlink():
        raise ArtifactError("unsafe archive: its only entry is a link")
    _move(entries[0], dest)


def _move(src: Path, dest: Path) -> None:
    """Rename `src` to `dest`, replacing a file or empty directory there, never more."""
    with contextlib.suppress(FileNotFoundError):
        info = os.lstat(dest)
        if stat.S_ISDIR(info.st_mode):
            try:
                os.rmdir(dest)
            except OSError:
                raise ArtifactError(f"{dest} already exists and is not empty") from None
        else:
            os.unlink(dest)
    os.replace(src, dest)


def _chmod(dest: Path, mode: int, *, recurse: bool) -> None:
    if recurse and dest.is_dir():
        _chmod_below(dest, mode)
    os.chmod(dest, mode)


def _chmod_below(dest: Path, mode: int) -> None:
    # Bottom up, so a mode without search permission does not lock the walk out.
    for base, dirs, files in os.walk(dest, topdown=False):
        for entry in [*files, *dirs]:
            path = os.path.join(base, entry)
            if not os.path.islink(path):  # a link may lead anywhere: never chmod through it
                os.chmod(path, mode)
