"""What the view's panel shows of an artifact: its kind and a bounded preview.

The Argo UI previews an artifact by its content: text, JSON, CSV/TSV as a table, images,
and HTML in a sandboxed iframe (its `ArtifactPanel`). `describe` does the same for a
local copy (as `Backend.open_artifact` makes it), reading at most `PREVIEW_BYTES` of it,
so a 50 MB artifact costs one bounded read; the kind is decided here, from the file's
first bytes and then its name, never by the browser. `media_type` says how the raw
bytes may be served: images as themselves, HTML and SVG only under a sandbox, anything
else as a download.

Served by the Jupyter server extension (`jupyter_argo.server`), so the panel works while
the kernel is busy running a cell.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "IMAGE_BYTES",
    "PREVIEW_BYTES",
    "TABLE_ROWS",
    "describe",
    "media_type",
    "single_file",
]

PREVIEW_BYTES = 64 * 1024  # text, JSON and tables: at most this much is read
TABLE_ROWS = 50
IMAGE_BYTES = 10 * 1024 * 1024  # larger images are offered for download only

_ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar", ".zip", ".gz")
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_SUFFIX_KINDS = {
    ".svg": "svg",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
}


def single_file(path: Path) -> Path:
    """The file itself, or the one file of a directory (an unpacked one-file archive)."""
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file()]
        if len(files) == 1:
            return files[0]
    return path


def _suffix(names: tuple[str, ...]) -> str:
    for name in names:
        stem = name
        for suffix in _ARCHIVE_SUFFIXES:
            stem = stem.removesuffix(suffix)
        suffix = PurePosixPath(stem).suffix.lower()
        if suffix:
            return suffix
    return ""


def _kind(head: bytes, names: tuple[str, ...]) -> str:
    for magic, _ in _MAGIC:
        if head.startswith(magic):
            return "image"
    kind = _SUFFIX_KINDS.get(_suffix(names), "")
    if kind:
        return kind
    stripped = head.lstrip()
    if stripped.startswith(b"<svg") or (stripped.startswith(b"<?xml") and b"<svg" in head):
        return "svg"
    if stripped[:15].lower().startswith((b"<!doctype html", b"<html")):
        return "html"
    return "text"


def media_type(path: Path, *names: str) -> tuple[str, bool]:
    """The Content-Type to serve `path` with, and whether it must be sandboxed (HTML,
    SVG). Anything not an image, HTML or SVG is `application/octet-stream`."""
    with path.open("rb") as f:
        head = f.read(512)
    for magic, media in _MAGIC:
        if head.startswith(magic):
            return media, False
    kind = _kind(head, (*names, path.name))
    if kind == "svg":
        return "image/svg+xml", True
    if kind == "html":
        return "text/html; charset=utf-8", True
    return "application/octet-stream", False


def _decode(data: bytes, complete: bool) -> str | None:
    """The text of `data`, or None if it is not UTF-8 text (a NUL, or bytes that do not
    decode; a character cut at the end of a partial read is dropped)."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        if not complete and err.start >= len(data) - 3:
            try:
                return data[: err.start].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None


def _size_words(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover - the loop always returns


def describe(path: Path, *names: str) -> dict[str, Any]:
    """The preview of a local copy of an artifact: `kind` (text, json, table, image, svg,
    html, binary, directory, empty), `size` in bytes, and by kind `text`, `rows`, `files`;
    `note` says what was left out or why there is no preview. `names` (the artifact's
    path and key) help tell the format when the content does not."""
    if path.is_dir() and single_file(path) == path:
        files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
        size = sum((path / f).stat().st_size for f in files)
        shown = files[:TABLE_ROWS]
        note = f"a directory of {len(files)} files"
        if len(files) > len(shown):
            note += f"; the first {len(shown)} shown"
        return {"kind": "directory", "size": size, "files": shown, "note": note}
    file = single_file(path)
    size = file.stat().st_size
    with file.open("rb") as f:
        data = f.read(PREVIEW_BYTES)
    complete = len(data) >= size
    cut = "" if complete else f"the first {_size_words(len(data))} of {_size_words(size)}"
    out: dict[str, Any] = {"size": size}
    if size == 0:
        return {**out, "kind": "empty", "note": "empty (0 bytes)"}
    kind = _kind(data[:512], (*names, file.name))
    if kind == "image":
        if size > IMAGE_BYTES:
            note = f"an image of {_size_words(size)}: too large to preview; download it"
            return {**out, "kind": "binary", "note": note}
        return {**out, "kind": "image"}
    if kind in ("svg", "html"):
        if size > IMAGE_BYTES:
            note = f"{kind.upper()} of {_size_words(size)}: too large to preview; download it"
            return {**out, "kind": "binary", "note": note}
        return {**out, "kind": kind}
    text = _decode(data, complete)
    if text is None:
        note = f"binary content ({_size_words(size)}): no preview; download it"
        return {**out, "kind": "binary", "note": note}
    if kind in ("csv", "tsv"):
        return {**out, **_table(text, "\t" if kind == "tsv" else ",", complete, cut)}
    if kind == "json" and complete:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            note = f"not valid JSON (line {err.lineno}: {err.msg}); shown as text"
            return {**out, "kind": "text", "text": text, "note": note}
        return {**out, "kind": "json", "text": json.dumps(value, indent=2, ensure_ascii=False)}
    note = f"{cut}; download it for the rest" if cut else ""
    return {**out, "kind": "json" if kind == "json" else "text", "text": text, "note": note}


def _table(text: str, delimiter: str, complete: bool, cut: str) -> dict[str, Any]:
    lines = text.splitlines(keepends=True)
    if not complete and lines and not lines[-1].endswith(("\n", "\r")):
        lines = lines[:-1]  # a row cut by the read
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO("".join(lines)), delimiter=delimiter)
    more = False
    try:
        for row in reader:
            if len(rows) == TABLE_ROWS + 1:  # a header and TABLE_ROWS rows
                more = True
                break
            rows.append(row)
    except csv.Error as err:
        note = f"not a table ({err}); shown as text"
        return {"kind": "text", "text": text, "note": note}
    notes = []
    if more or not complete:
        notes.append(f"the first {max(len(rows) - 1, 0)} rows")
    if cut:
        notes.append(f"read from {cut}")
    return {"kind": "table", "rows": rows, "note": "; ".join(notes)}
