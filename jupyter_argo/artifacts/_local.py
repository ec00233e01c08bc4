"""The embedded repository: objects as files under one directory, private to the user.

A key maps to `root/<key>`; a directory uploaded with `archive: none` becomes a directory
of objects, as an S3 prefix would. Every object is written to a hidden temporary file
and renamed into place, so a reader never sees half an object, and everything created
is readable by the owner only (files 0600, directories 0700).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import BinaryIO

from jupyter_argo.artifacts._keys import check_key, go_clean
from jupyter_argo.errors import ArtifactError, NotFoundError

__all__ = ["LocalRepository", "copy_file"]

_PART = ".part"


def copy_file(src: Path, dst_fd: int) -> None:
    """Copy `src` into the open descriptor `dst_fd`, in the kernel when it can."""
    with open(src, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        offset = 0
        try:
            while offset < size:
                sent = os.sendfile(dst_fd, f.fileno(), offset, size - offset)
                if sent == 0:
                    break
                offset += sent
        except OSError:
            # Some file systems refuse sendfile between files; fall back to copying.
            f.seek(offset)
            os.lseek(dst_fd, offset, os.SEEK_SET)
            while chunk := f.read(1 << 20):
                os.write(dst_fd, chunk)
        else:
            # The file may have grown since fstat; take the rest the ordinary way.
            f.seek(offset)  # sendfile with an offset leaves the file position alone
            while chunk := f.read(1 << 20):
                os.write(dst_fd, chunk)


def _write_atomically(src: Path, dst: Path, mode: int | None) -> None:
    """`src`'s bytes at `dst`, appearing there complete or not at all. `mode` is exact;
    None means the usual 0666 less the umask."""
    tmp = dst.parent / f".{dst.name}.{secrets.token_hex(6)}{_PART}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        try:
            copy_file(src, fd)
        finally:
            os.close(fd)
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _files_below(directory: Path) -> list[tuple[Path, str]]:
    """(path, relative name) of every file below `directory`, skipping partial objects
    and not following links to directories."""
    found: list[tuple[Path, str]] = []
    for base, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if name.startswith(".") and name.endswith(_PART):
                continue
            path = Path(base, name)
            if path.is_file():
                found.append((path, path.relative_to(directory).as_posix()))
    return found


def _s3_order(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


class LocalRepository:
    """Objects stored as files below `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"LocalRepository({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).strip("/").split("/"))

    def _make_dirs(self, directory: Path) -> None:
        """Create `directory` and its missing parents up to and including root, 0700."""
        missing: list[Path] = []
        current = directory
        while not current.exists():
            missing.append(current)
            if current == self.root or current.parent == current:
                break
            current = current.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
                os.chmod(path, 0o700)  # whatever the umask
        if not directory.is_dir():
            raise ArtifactError(f"local repository: {directory} is not a directory")

    def upload(self, src: Path, key: str) -> None:
        """Store the file `src` at `key`, or every file below the directory `src` under it."""
        dst = self._path(key)
        try:
            if src.is_dir():
                for path, rel in _files_below(src):
                    target = dst.joinpath(*rel.split("/"))
                    self._make_dirs(target.parent)
                    _write_atomically(path, target, 0o600)
                self._make_dirs(dst)  # an empty directory is still an object to find
            else:
                self._make_dirs(dst.parent)
                _write_atomically(src, dst, 0o600)
        except OSError as error:
            raise ArtifactError(
                f"local repository {self.root}: cannot store {key}: {error}"
            ) from None

    def download(self, key: str, dest: Path) -> None:
        """The object at `key` as the file `dest`, or all objects under it as directory `dest`."""
        path = self._path(key)
        try:
            if path.is_file():
                dest.parent.mkdir(parents=True, exist_ok=True)
                _write_atomically(path, dest, None)
            elif path.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                for src, rel in _files_below(path):
                    target = dest.joinpath(*rel.split("/"))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _write_atomically(src, target, None)
            else:
                raise NotFoundError(f"local repository: no object {key}")
        except OSError as error:
            raise ArtifactError(
                f"local repository {self.root}: cannot read {key}: {error}"
            ) from None

    def delete(self, key: str) -> None:
        """Remove the object or prefix at `key`; already gone is fine."""
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            info = os.lstat(path)
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(path)
            else:
                os.unlink(path)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def list_objects(self, key: str) -> list[str] | None:
        """As the S3 repository this one stands in for (Argo's S3 `ListObjects`): every
        object key under `key/` (the whole repository for `""`) in S3's order, by bytes;
        None (Go's nil list) when there are none but `key` is itself an object."""
        prefix = check_key(go_clean(key)) if key.strip("/") else ""
        directory = self.root.joinpath(*prefix.split("/")) if prefix else self.root
        found = _files_below(directory) if directory.is_dir() else []
        keys = sorted((f"{prefix}/{rel}" if prefix else rel for _, rel in found), key=_s3_order)
        if keys:
            return keys
        if not prefix:
            raise ArtifactError(
                f"failed to check if key {key} exists from the local repository {self.root}: "
                "Object name cannot be empty"
            )
        if self._path(key).is_file():
            return None
        raise NotFoundError(f"no key found of name {key}")

    def open(self, key: str) -> BinaryIO:
        """A streaming reader of the object at `key` (a file, not a prefix)."""
        path = self._path(key)
        if path.is_dir():
            raise ArtifactError(f"local repository: {key} is a directory of objects, not one")
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise NotFoundError(f"local repository: no object {key}") from None
