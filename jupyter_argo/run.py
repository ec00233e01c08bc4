"""A submitted workflow as a Python object: its status, nodes, outputs, logs and controls.

`Run` reads everything from Argo's `Workflow.status` through the `Backend` protocol, so
it is the same object whichever backend ran the workflow:

    run.phase, run.status            the Argo status (a dict)
    run.node("generate-parameter")   a NodeView: phase, inputs, outputs, logs()
      .outputs.parameters            {name: value}
      .outputs.result                stdout of a script or container step
      .outputs.exit_code             int
      .outputs.artifacts["x"]        an Artifact, loaded on first use
    run.outputs                      workflow outputs (parameters with `globalName`)
    run.logs(), run.wait(), run.stop(), run.retry(), run.export(), ...
"""

from __future__ import annotations

import copy
import importlib
import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from jupyter_argo.backends.base import Backend
from jupyter_argo.errors import ArtifactError, NotFoundError, UserError

__all__ = ["IO", "Artifact", "NodeView", "Run", "Text", "watch"]

_DONE = ("Succeeded", "Failed", "Error")
_PANDAS_FORMATS = ("csv", "tsv", "json", "jsonl", "parquet")
_ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar", ".zip", ".gz")


class Text(str):
    """A string IPython shows as it is (logs, YAML), not as an escaped literal."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


# ---- artifacts ---------------------------------------------------------------------------


class Artifact:
    """An artifact from a node's status. Nothing is fetched until it is read."""

    def __init__(self, spec: Mapping[str, Any], opener: Callable[[Mapping[str, Any]], Path]):
        self.spec: dict[str, Any] = copy.deepcopy(dict(spec))
        self.name = str(self.spec.get("name", ""))
        self._opener = opener
        self._path: Path | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        place = self.location
        fetched = ""
        if self._path is not None:
            fetched = f", {_describe_file(self._path)} at {self._path}"
        return f"<Artifact {self.name!r} ({place}){fetched}>"

    @property
    def location(self) -> str:
        """Where the artifact is stored, e.g. `s3: my-wf/my-wf-x/hello-art.tgz`."""
        for kind in ("s3", "gcs", "oss", "azure", "hdfs", "artifactory", "http", "git", "raw"):
            where = self.spec.get(kind)
            if isinstance(where, Mapping):
                spot = where.get("key") or where.get("blob") or where.get("url")
                spot = spot or where.get("repo") or ("inline" if kind == "raw" else "")
                return f"{kind}: {spot}" if spot else kind
        return "no stored location"

    def path(self) -> Path:
        """A local copy, unpacked: a file, or a directory for a directory artifact."""
        with self._lock:
            if self._path is None or not self._path.exists():
                self._path = self._opener(self.spec)
            return self._path

    def bytes(self) -> bytes:
        return self._file().read_bytes()

    def text(self, encoding: str = "utf-8") -> str:
        return self._file().read_text(encoding)

    def json(self) -> Any:
        text = self.text()
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise ArtifactError(
                f"artifact {self.name!r} is not JSON (line {err.lineno}: {err.msg})"
            ) from None

    def to_pandas(self, format: str | None = None, **options: Any) -> Any:
        """A pandas DataFrame from CSV, TSV, JSON (or JSON lines) or Parquet. The format
        comes from the file's name unless given; `options` go to pandas' reader."""
        try:
            pd: Any = importlib.import_module("pandas")
        except ImportError:
            raise UserError("to_pandas() needs pandas: pip install pandas") from None
        file = self._file()
        kind = (format or self._format(file)).lower().lstrip(".")
        if kind == "csv":
            return pd.read_csv(file, **options)
        if kind == "tsv":
            return pd.read_csv(file, sep="\t", **options)
        if kind in ("json", "jsonl", "ndjson"):
            if kind != "json":
                options.setdefault("lines", True)
            return pd.read_json(file, **options)
        if kind == "parquet":
            return pd.read_parquet(file, **options)
        raise UserError(
            f"artifact {self.name!r}: cannot tell its format ({kind or 'no suffix'}); "
            f"pass format= one of {', '.join(_PANDAS_FORMATS)}"
        )

    def _format(self, file: Path) -> str:
        for name in (str(self.spec.get("path") or ""), _key(self.spec), file.name):
            stem = name
            for suffix in _ARCHIVE_SUFFIXES:
                stem = stem.removesuffix(suffix)
            suffix = PurePosixPath(stem).suffix
            if suffix:
                return suffix
        return ""

    def _file(self) -> Path:
        path = self.path()
        if path.is_dir():
            files = [p for p in path.rglob("*") if p.is_file()]
            if len(files) == 1:
                return files[0]
            raise ArtifactError(
                f"artifact {self.name!r} is a directory of {len(files)} files; "
                f"read them under .path() ({path})"
            )
        return path


def _key(spec: Mapping[str, Any]) -> str:
    for kind in ("s3", "gcs", "oss", "azure", "hdfs", "artifactory", "http"):
        where = spec.get(kind)
        if isinstance(where, Mapping):
            return str(where.get("key") or where.get("blob") or where.get("url") or "")
    return ""


def _describe_file(path: Path) -> str:
    try:
        if path.is_dir():
            return f"directory of {sum(1 for p in path.rglob('*') if p.is_file())} files"
        return f"{path.stat().st_size} bytes"
    except OSError:
        return "gone"


# ---- nodes -------------------------------------------------------------------------------


class IO:
    """Inputs or outputs of a node (or of the workflow): parameters, artifacts, result."""

    def __init__(
        self, section: Any, opener: Callable[[Mapping[str, Any]], Path] | None = None
    ) -> None:
        section = section if isinstance(section, Mapping) else {}
        self.parameters: dict[str, str | None] = {
            str(p.get("name")): (None if p.get("value") is None else str(p.get("value")))
            for p in section.get("parameters") or ()
            if isinstance(p, Mapping)
        }
        opened = opener or _no_opener
        self.artifacts: dict[str, Artifact] = {
            str(a.get("name")): Artifact(a, opened)
            for a in section.get("artifacts") or ()
            if isinstance(a, Mapping)
        }
        result = section.get("result")
        self.result: str | None = None if result is None else str(result)
        code = section.get("exitCode")
        self.exit_code: int | None = int(code) if str(code or "").lstrip("-").isdigit() else None

    def __repr__(self) -> str:
        parts = [f"parameters={self.parameters!r}"]
        if self.artifacts:
            parts.append(f"artifacts={sorted(self.artifacts)!r}")
        if self.result is not None:
            parts.append(f"result={self.result!r}")
        if self.exit_code is not None:
            parts.append(f"exit_code={self.exit_code}")
        return f"IO({', '.join(parts)})"


def _no_opener(spec: Mapping[str, Any]) -> Path:
    raise ArtifactError(f"artifact {spec.get('name')!r} cannot be opened here")


class NodeView:
    """One node of a run's status, as it was when the view was taken."""

    def __init__(self, run: Run, node: Mapping[str, Any]) -> None:
        self._run = run
        self.status: dict[str, Any] = dict(node)
        self.id = str(node.get("id", ""))
        self.name = str(node.get("name", ""))
        self.display_name = str(node.get("displayName") or self.name)
        self.type = str(node.get("type", ""))
        self.phase = str(node.get("phase", ""))
        self.message = str(node.get("message") or "")
        self.template = str(
            node.get("templateName") or (node.get("templateRef") or {}).get("template") or ""
        )
        self.started_at = str(node.get("startedAt") or "")
        self.finished_at = str(node.get("finishedAt") or "")

        def opener(spec: Mapping[str, Any]) -> Path:
            return run._open_artifact(spec, self.id)

        self.inputs = IO(node.get("inputs"), opener)
        self.outputs = IO(node.get("outputs"), opener)

    def __repr__(self) -> str:
        return f"<NodeView {self.display_name!r} {self.type} {self.phase or 'Pending'}>"

    def logs(self) -> Text:
        """This node's container log."""
        return self._run.logs(node=self.id)


# ---- the run -----------------------------------------------------------------------------


class Run:
    """A workflow submitted to a backend; its state is read from the backend when asked."""

    def __init__(
        self, backend: Backend, workflow: Mapping[str, Any], namespace: str | None = None
    ) -> None:
        meta = workflow.get("metadata") or {}
        self.backend = backend
        self.name = str(meta.get("name", ""))
        self.namespace: str | None = namespace or meta.get("namespace")
        self._last: Mapping[str, Any] = workflow
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Run {self.name!r} {self.phase or 'Pending'}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Terminals (and `text/plain`): the whole tree, as `argo get` prints it.
        printer.text(self.tree())

    def _repr_html_(self) -> str:
        """Notebooks: one line (the live view above the cell shows the rest); the tree of a
        finished run one click away. An unfinished run's line says so rather than show a
        phase that is out of date as soon as it is shown."""
        import html

        from jupyter_argo.render.summary import summarise

        workflow = self.workflow
        summary = summarise(workflow)
        name = f"<code>Run</code> <strong>{html.escape(self.name)}</strong>"
        if summary.phase not in _DONE:
            return (
                f"<div class='argo-run'>{name} · not finished when shown (live in its "
                "view; <code>run.wait()</code> waits for it)</div>"
            )
        from jupyter_argo.render.style import phase_style
        from jupyter_argo.render.summary import format_duration

        parts = [f"{phase_style(summary.phase).glyph} {summary.phase}", summary.progress]
        if summary.duration is not None:
            parts.append(format_duration(summary.duration))
        if summary.message:
            parts.append(summary.message)
        line = html.escape(" · ".join(part for part in parts if part))
        tree = html.escape(self.tree())
        return (
            f"<details class='argo-run'><summary>{name} · {line}</summary>"
            f"<pre>{tree}</pre></details>"
        )

    def tree(self) -> Text:
        """The run as `argo get` shows it: name, phase, times, then every step, nested as
        the graph is (steps that run side by side joined by a bracket)."""
        from jupyter_argo.cli_runs import summary

        return Text(summary(self.workflow))

    # Reading --------------------------------------------------------------------------

    @property
    def workflow(self) -> Mapping[str, Any]:
        """The Workflow object now (a finished run's is kept; a running one's is fetched)."""
        with self._lock:
            if _phase(self._last) in _DONE:
                return self._last
        latest = self.backend.get(self.name, self.namespace)
        self._remember(latest)
        return latest

    def _remember(self, workflow: Mapping[str, Any]) -> None:
        with self._lock:
            self._last = workflow

    @property
    def status(self) -> dict[str, Any]:
        """Argo's `Workflow.status`."""
        return dict(self.workflow.get("status") or {})

    @property
    def phase(self) -> str:
        return _phase(self.workflow)

    @property
    def message(self) -> str:
        return str(self.status.get("message") or "")

    @property
    def done(self) -> bool:
        return self.phase in _DONE

    @property
    def outputs(self) -> IO:
        """The workflow's outputs: parameters and artifacts exported with `globalName`."""
        return IO(self.status.get("outputs"), self._open_artifact)

    def nodes(self) -> list[NodeView]:
        """Every node, in the graph's order from the root (breadth first); nodes outside
        it (exit handlers) after, in the order they started."""
        nodes = _keyed_nodes(self.status)
        order: dict[str, int] = {}
        pending = [self.name] if self.name in nodes else []
        while pending:
            node_id = pending.pop(0)
            if node_id in order or node_id not in nodes:
                continue
            order[node_id] = len(order)
            pending.extend(str(c) for c in nodes[node_id].get("children") or ())
        rest = sorted(
            (n for k, n in nodes.items() if k not in order),
            key=lambda n: str(n.get("startedAt") or "~"),
        )
        return [NodeView(self, nodes[k]) for k in order] + [NodeView(self, n) for n in rest]

    def node(self, name: str) -> NodeView:
        """The node with this display name (as in the view), node name or ID; or the one
        node running template `name`."""
        nodes = list(_keyed_nodes(self.status).values())
        for key in ("displayName", "id", "name", "templateName"):
            matches = [n for n in nodes if n.get(key) == name]
            if len(matches) == 1:
                return NodeView(self, matches[0])
            if len(matches) > 1:
                ids = ", ".join(str(n.get("id")) for n in matches[:10])
                raise UserError(
                    f"{len(matches)} nodes of {self.name} match {name!r}; give a node ID: {ids}"
                )
        known = sorted({str(n.get("displayName") or n.get("name")) for n in nodes})
        shown = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
        raise NotFoundError(f"{self.name} has no node {name!r} (nodes: {shown or 'none yet'})")

    def wait(self, timeout: float | None = None) -> Run:
        """Wait until the run finishes (or `timeout` seconds); returns the run.
        An interrupt stops the waiting, not the run."""
        last = None
        for snapshot in watch(self, timeout=timeout):
            last = snapshot
        self._remember(last if last is not None else self.backend.get(self.name, self.namespace))
        return self

    def logs(self, node: str | None = None, *, follow: bool = False) -> Text:
        """The run's container logs (one node's with `node`); `follow` prints each line as
        it comes until the run ends. Lines of several steps start with the step's name."""
        prefixes = self._pod_names()
        lines = []
        for pod, line in self.backend.logs(self.name, self.namespace, node=node, follow=follow):
            text = line if node is not None else f"{prefixes.get(pod, pod)}: {line}"
            if follow:
                print(text, flush=True)
            lines.append(text)
        return Text("\n".join(lines))

    def _pod_names(self) -> dict[str, str]:
        from jupyter_argo.status import pod_name

        out = {}
        for node in (self.status.get("nodes") or {}).values():
            if node.get("type") == "Pod":
                template = node.get("templateName") or (node.get("templateRef") or {}).get(
                    "template", ""
                )
                pod = pod_name(self.name, str(node.get("name")), str(template))
                out[pod] = str(node.get("displayName") or node.get("name"))
        return out

    def _open_artifact(self, spec: Mapping[str, Any], node: str | None = None) -> Path:
        """Opens an artifact of `node` (its ID; a workflow output's node is found from the
        status), where Argo would look for it given this workflow."""
        return self.backend.open_artifact(spec, self.namespace, workflow=self.workflow, node=node)

    # Controlling ----------------------------------------------------------------------

    def stop(self) -> None:
        """End the run, running exit handlers (`argo stop`)."""
        self.backend.stop(self.name, self.namespace)

    def terminate(self, message: str | None = None) -> None:
        """End the run now, without exit handlers (`argo terminate`)."""
        terminate(self.backend, self.name, self.namespace, message)

    def suspend(self) -> None:
        self.backend.suspend(self.name, self.namespace)

    def resume(self, node: str | None = None) -> None:
        self.backend.resume(self.name, self.namespace, node=node)

    def retry(self) -> Run:
        """Run again what failed, keeping what succeeded (same name); returns this run."""
        self._remember(self.backend.retry(self.name, self.namespace))
        return self

    def resubmit(self) -> Run:
        """A new run of the same manifest."""
        return Run(self.backend, self.backend.resubmit(self.name, self.namespace), self.namespace)

    def delete(self, *, force: bool = False) -> None:
        self.backend.delete(self.name, self.namespace, force=force)

    def export(self) -> Text:
        """The manifest as YAML, ready for `argo submit` (templates it used included)."""
        return Text(to_yaml(exportable(self.workflow)))


_POLL = 0.1  # seconds: how soon a waiting thread notices an interrupt
_END = object()


def watch(run: Run, *, timeout: float | None = None) -> Iterator[Mapping[str, Any]]:
    """The backend's watch of `run`, read on a helper thread.

    A signal may be delivered to any thread of the process; a main thread blocked in a
    lock without a timeout never runs Python's SIGINT handler. Waiting here in short
    steps lets a kernel interrupt reach the caller within `_POLL` seconds.
    """
    items: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        try:
            for snapshot in run.backend.watch(run.name, run.namespace, timeout=timeout):
                items.put(snapshot)
        except Exception as err:  # raised again in the caller's thread
            items.put(err)
        finally:
            items.put(_END)

    threading.Thread(target=read, name=f"argo-watch-{run.name}", daemon=True).start()
    while True:
        try:
            item = items.get(timeout=_POLL)
        except queue.Empty:
            continue
        if item is _END:
            return
        if isinstance(item, Exception):
            raise item
        yield item


def _keyed_nodes(status: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`status.nodes`, each node with its `id` (the key: Argo's field-filtered objects,
    `argo get --fields`, leave `id` out)."""
    nodes = status.get("nodes") or {}
    return {
        str(k): {**n, "id": n.get("id") or k} for k, n in nodes.items() if isinstance(n, Mapping)
    }


def _phase(workflow: Mapping[str, Any]) -> str:
    return str((workflow.get("status") or {}).get("phase") or "")


def terminate(backend: Backend, name: str, namespace: str | None, message: str | None) -> None:
    """`backend.terminate` with the message the run should end with."""
    backend.terminate(name, namespace, message=message)


_SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "namespace",
)


def exportable(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """A Workflow object as a manifest to submit again: no status, no server fields, the
    templates of a `workflowTemplateRef` inlined."""
    out = {k: copy.deepcopy(v) for k, v in workflow.items() if k != "status"}
    # A run of a workflowTemplateRef: the merged spec Argo kept, so nothing is missing.
    stored = (workflow.get("status") or {}).get("storedWorkflowTemplateSpec")
    if isinstance(stored, Mapping) and (out.get("spec") or {}).get("workflowTemplateRef"):
        out["spec"] = {k: copy.deepcopy(v) for k, v in stored.items() if k != "workflowTemplateRef"}
    meta = out.setdefault("metadata", {})
    for key in _SERVER_FIELDS:
        meta.pop(key, None)
    if meta.get("generateName"):
        meta.pop("name", None)
    labels = {
        k: v for k, v in (meta.get("labels") or {}).items() if not k.startswith("workflows.argo")
    }
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    return out


def to_yaml(manifest: Any) -> str:
    """YAML as people write it: keys in order, multi-line strings as `|` blocks."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> Any:
        style = "|" if "\n" in value and not _has_trailing_spaces(value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    Dumper.add_representer(Text, text)
    return yaml.dump(manifest, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)


def _has_trailing_spaces(value: str) -> bool:
    # YAML block scalars cannot keep spaces at line ends faithfully in every emitter.
    return any(line != line.rstrip(" \t") for line in value.split("\n"))
