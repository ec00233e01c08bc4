"""The Jupyter server extension: notebooks are saved with the workflow view's static graph.

A widget output outlives its kernel badly: reopened with no kernel, JupyterLab and
Notebook 7 show "Error displaying widget: model not found" where the view was, and
nbconvert prefers a widget whose state was saved but whose code it cannot load. The view's
display data also carries the graph as `image/svg+xml` and a summary as `text/plain`, and
marks itself in the output's metadata (`widgets.view.STATIC_KEY`); this extension's
pre-save hook drops the widget from such outputs in the file it writes. The open notebook
keeps its live view; the file shows the graph wherever it is opened.

It also serves the artifacts the view's panel shows (`ArtifactHandler`, at
`{base_url}jupyter-argo/artifact`): the server reads them, not the kernel, so the panel
works while a cell blocks the kernel. It opens an artifact through the backend, as
`run.node(x).outputs.artifacts[y].path()` does (`Backend.open_artifact`), and answers with
a bounded preview (`jupyter_argo.preview`), the raw bytes of an image, HTML or SVG (the
last two only under a `Content-Security-Policy: sandbox` of their own), or a download.
Errors are one line of JSON, 404 for an unknown run, node or artifact.

Enabled by `jupyter-config/jupyter_server_config.d/jupyter_argo.json` (installed with the
package), or `jupyter server extension enable jupyter_argo`.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

__all__ = ["ARTIFACT_ROUTE", "ArtifactHandler", "strip_live_views"]

ARTIFACT_ROUTE = "jupyter-argo/artifact"
_CHUNK = 256 * 1024
_SETTLE = 3.0  # seconds a running run's missing node or artifact is looked for again
_DONE = ("Succeeded", "Failed", "Error")

# As in widgets/view.py, without importing anywidget into the server.
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_STATIC_KEY = "jupyter-argo"


def strip_live_views(notebook: MutableMapping[str, Any]) -> int:
    """Drop the widget from every workflow-view output of `notebook` (nbformat 4 JSON)
    that also holds its static graph; returns how many outputs changed."""
    changed = 0
    for cell in notebook.get("cells") or ():
        if not isinstance(cell, MutableMapping):
            continue
        for output in cell.get("outputs") or ():
            if not isinstance(output, MutableMapping):
                continue
            data, metadata = output.get("data"), output.get("metadata")
            if not isinstance(data, MutableMapping) or not isinstance(metadata, MutableMapping):
                continue
            marker = metadata.get(_STATIC_KEY)
            static = marker.get("static") if isinstance(marker, MutableMapping) else None
            if _WIDGET_VIEW in data and static in data:
                del data[_WIDGET_VIEW]
                changed += 1
    return changed


def _pre_save(model: MutableMapping[str, Any], **_kwargs: Any) -> None:
    if model.get("type") == "notebook" and isinstance(model.get("content"), MutableMapping):
        strip_live_views(model["content"])


class _Missing(Exception):
    """An unknown run, node or artifact: a 404 (`running`: of a run not yet over)."""

    def __init__(self, message: str, *, running: bool = False) -> None:
        super().__init__(message)
        self.running = running


class _Backends:
    """One backend per (name, namespace), made on first use, as the CLI makes them (its
    settings from this server's environment, never from the request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[tuple[str, str], Any] = {}

    def get(self, name: str, namespace: str) -> Any:
        from jupyter_argo.backends import BACKENDS, get_backend
        from jupyter_argo.errors import UserError

        if name not in BACKENDS:
            raise UserError(f"unknown backend {name!r} (one of {', '.join(BACKENDS)})")
        with self._lock:
            key = (name, namespace)
            if key not in self._made:
                self._made[key] = get_backend(name, namespace=namespace)
            return self._made[key]


def _find(backend: Any, query: Mapping[str, str], namespace: str) -> tuple[Any, dict[str, Any]]:
    """The workflow and the status entry of the artifact the query names."""
    from jupyter_argo.errors import NotFoundError

    name, node_id, io, wanted = query["workflow"], query["node"], query["io"], query["artifact"]
    try:
        workflow = backend.get(name, namespace)
    except NotFoundError:
        raise _Missing(f"no workflow {name!r} in namespace {namespace!r}") from None
    status = workflow.get("status") or {}
    running = status.get("phase") not in _DONE
    nodes = status.get("nodes") or {}
    node = nodes.get(node_id) if isinstance(nodes, Mapping) else None
    if not isinstance(node, Mapping):
        raise _Missing(f"workflow {name!r} has no node {node_id!r}", running=running)
    section = node.get(io) or {}
    found = [
        a
        for a in (section.get("artifacts") or () if isinstance(section, Mapping) else ())
        if isinstance(a, Mapping) and a.get("name") == wanted
    ]
    if not found:
        raise _Missing(
            f"node {node.get('displayName') or node_id!r} has no {io[:-1]} artifact {wanted!r}",
            running=running,
        )
    return workflow, dict(found[0])


def _open(backends: _Backends, query: Mapping[str, str]) -> tuple[Path, dict[str, Any]]:
    """The local copy of the artifact the query names, and its status entry. The page
    learns of a node's outputs from the kernel's watch, which can be a moment ahead of
    what this server reads (a local run persists its status after): while the run goes
    on, a missing node or artifact is looked for again for up to `_SETTLE` seconds."""
    if query["io"] not in ("inputs", "outputs"):
        raise _Missing(f"io must be inputs or outputs, not {query['io']!r}")
    namespace = query["namespace"] or "default"
    backend = backends.get(query["backend"] or "local", namespace)
    deadline = time.monotonic() + _SETTLE
    while True:
        try:
            workflow, spec = _find(backend, query, namespace)
            break
        except _Missing as missing:
            if not missing.running or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
    node = query["node"]
    return backend.open_artifact(spec, namespace, workflow=workflow, node=node), spec


def _discard(path: Path) -> None:
    """Remove a copy `open_artifact` made (its own temporary directory), nothing else."""
    folder = path.parent
    if folder.name.startswith("jupyter-argo-artifact-") and folder.parent == Path(
        tempfile.gettempdir()
    ):
        shutil.rmtree(folder, ignore_errors=True)


def _names(spec: Mapping[str, Any]) -> tuple[str, ...]:
    names = [str(spec.get("path") or "")]
    for kind in ("s3", "gcs", "oss", "azure", "hdfs", "artifactory", "http"):
        where = spec.get(kind)
        if isinstance(where, Mapping):
            names.append(str(where.get("key") or where.get("blob") or where.get("url") or ""))
    return tuple(n for n in names if n)


class ArtifactHandler(JupyterHandler):  # type: ignore[misc]
    """`GET {base_url}jupyter-argo/artifact?backend=&namespace=&workflow=&node=&io=&artifact=`
    with `view` `preview` (JSON, the default), `raw` (an image, or HTML/SVG sandboxed) or
    `download` (an attachment)."""

    @web.authenticated  # type: ignore[misc]
    async def get(self) -> None:
        keys = ("backend", "namespace", "workflow", "node", "io", "artifact", "view")
        query = {k: str(self.get_query_argument(k, "")) for k in keys}
        query["io"] = query["io"] or "outputs"
        view = query["view"] or "preview"
        if view not in ("preview", "raw", "download"):
            self._fail(400, f"view must be preview, raw or download, not {view!r}")
            return
        backends: _Backends = self.settings.setdefault("jupyter_argo_backends", _Backends())
        try:
            path, spec = await asyncio.to_thread(_open, backends, query)
        except _Missing as err:
            self._fail(404, str(err))
            return
        except Exception as err:  # one line to the panel, never a traceback
            from jupyter_argo.errors import NotFoundError, UserError

            status = (
                404
                if isinstance(err, NotFoundError)
                else 400
                if isinstance(err, UserError)
                else 502
            )
            self._fail(status, _one_line(err))
            return
        try:
            if view == "preview":
                await self._preview(path, spec)
            else:
                await self._raw(path, spec, download=view == "download")
        finally:
            _discard(path)

    async def _preview(self, path: Path, spec: Mapping[str, Any]) -> None:
        from jupyter_argo.preview import describe

        try:
            found = await asyncio.to_thread(describe, path, *_names(spec))
        except OSError as err:
            self._fail(502, f"cannot read the artifact: {err.strerror or err}")
            return
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(found))

    async def _raw(self, path: Path, spec: Mapping[str, Any], *, download: bool) -> None:
        from jupyter_argo.preview import single_file

        file = single_file(path)
        if file.is_dir():
            self._fail(400, "a directory of files: read it with .path() in Python")
            return
        if download:
            media, sandboxed = "application/octet-stream", False
        else:
            from jupyter_argo.preview import media_type

            media, sandboxed = media_type(file, *_names(spec))
            if media == "application/octet-stream":
                download = True
        self.set_header("Content-Type", media)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")
        if sandboxed:  # opened on its own, it still runs no script and reaches nothing
            self.set_header(
                "Content-Security-Policy",
                "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
            )
        if download:
            filename = PurePosixPath(str(spec.get("path") or spec.get("name") or "artifact")).name
            self.set_header(
                "Content-Disposition", f"attachment; filename*=UTF-8''{quote(filename)}"
            )
        with file.open("rb") as f:
            while chunk := f.read(_CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish()

    def _fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": message}))


def _one_line(err: BaseException) -> str:
    """The error as one line, with any user:password in a URL blanked."""
    text = " ".join(str(err).split()) or type(err).__name__
    return re.sub(r"(://)[^/@\s]+@", r"\1***@", text)[:500]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.contents_manager.register_pre_save_hook(_pre_save)
    base = serverapp.web_app.settings.get("base_url", "/")
    route = base.rstrip("/") + "/" + ARTIFACT_ROUTE
    serverapp.web_app.add_handlers(".*$", [(route, ArtifactHandler)])
