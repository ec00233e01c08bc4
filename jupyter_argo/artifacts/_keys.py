"""Object keys: joined the way Argo joins them (`path.Join`), refused when they could escape.

A key names an object in a repository. In the local repository it also names a file under
the repository's root, so a key with a `..` part or a leading `/` is refused everywhere,
whatever the backend: what is safe in S3 must stay safe when the same key lands on disk.
"""

from __future__ import annotations

import posixpath

from jupyter_argo.errors import ArtifactError

__all__ = ["check_key", "go_clean", "join_key", "relative_part"]


def check_key(key: str, *, what: str = "key") -> str:
    """`key` itself, or an ArtifactError when it is empty, absolute or climbs with `..`."""
    if not key or not key.strip("/"):
        raise ArtifactError(f"{what} is empty")
    if "\x00" in key:
        raise ArtifactError(f"{what} {key!r} holds a NUL character")
    if key.startswith(("/", "\\")):
        raise ArtifactError(f"{what} {key!r} is absolute; keys are relative to the repository")
    if ".." in key.replace("\\", "/").split("/"):
        raise ArtifactError(f"{what} {key!r} contains '..'; keys may not climb")
    return key


def join_key(*parts: str) -> str:
    """Go's `path.Join`: joined with `/`, cleaned, empty parts dropped; `""` when all are."""
    kept = [p for p in parts if p]
    if not kept:
        return ""
    joined = posixpath.normpath("/".join(kept))
    # POSIX keeps a leading `//`; Go's Clean does not.
    return "/" + joined.lstrip("/") if joined.startswith("//") else joined


def go_clean(key: str) -> str:
    """Go's `filepath.Clean` of a key: `.` and `..` parts resolved, slashes deduplicated,
    no trailing slash."""
    cleaned = posixpath.normpath(key)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def relative_part(key: str, prefix: str) -> str:
    """The part of `key` below `prefix/`, checked: objects listed by a server are not trusted."""
    rest = key[len(prefix) :].lstrip("/")
    return check_key(rest, what=f"object {key!r} under {prefix!r}")
