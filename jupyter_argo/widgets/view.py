"""The live view of one workflow: header, graph, and the selected node's details.

Design. One anywidget (JupyterLab, Notebook 7, VS Code, Colab): a small ES module
(`static/view.js`) shows the SVG, and all state travels as synced trait values.

- `svg` changes only when the graph's structure does (`Graph.shape_key`); only then does
  Graphviz run. A phase-only change sends `phases` ({node ID: phase}) and `notes` (group
  counts), and the browser repaints those nodes in place from `palette`.
- Failures up front: when a step has failed, `header["failure"]` names the first one, with
  its message and the last lines of its log (fetched once), so the browser shows them
  without a click (and marks that node); the `text/plain` copy ends with the same.
- A click in the browser sets `selected`; Python answers with `detail` (inputs, outputs,
  message, log tail from `logs`); any node in the status can be selected, folded or not.
- Readable at any size: zoom, pan, fit, the minimap, search by name and the phase filter
  all run in the browser on the SVG (its viewBox), with no round-trip. Fan-outs fold into
  group nodes (`render/graph.py`); `groups` carries each group's counts by phase and its
  failed and running items, `index` the name of every folded node and `names` that of
  every drawn one (for search; both sent only with a new layout). `expanded` lists the
  nodes whose fan-out is unfolded, and either side may change it: clicking a group node
  unfolds it, the fold button of an unfolded fan-out (or `fold`) folds it again; the set
  outlives updates.
- Artifacts: `artifacts` carries each node's (name, location, the Python that reads it)
  with the updates, so a click lists them even while a cell keeps the kernel busy; the
  browser asks the Jupyter server extension (`jupyter_argo.server`) for their previews.
- Actions: with `actions` (a run's, `widgets/actions.py`) the header offers the Argo UI's
  buttons (`header["actions"]`) and a suspended node's panel its resume form (`detail`'s
  `resume`). A button sends an `action` message; the view's custom messages are handled
  on a kernel subshell (`subshell.py`), so it is answered (`{"type": "action", ok,
  message}`) while a cell blocks the kernel.
- Bad input (no status, nodes pointing at missing children, ...) shows what can be shown;
  `header["problems"]` says in words what could not be.
- `update(workflow)` applies one snapshot now; `follow(stream)` applies a watch stream
  from background threads, coalesced to about 10 updates a second (`coalesce.py`). Both
  only set trait values, never `with output:` from a thread.
- Kept in the saved notebook: the display data carries the graph as `image/svg+xml` and
  a short summary as `text/plain` next to the widget; a view shown with `display`
  re-publishes them when the workflow finishes, so the saved notebook has the final graph.
  A widget output outlives its kernel badly (JupyterLab says "model not found", nbconvert
  prefers a widget whose state nbclient saved but whose code it cannot load), so:
  - when the run ends, the display keeps the live view only for a frontend that draws it:
    the cell came from one a person uses (its request can answer `input()`; nbconvert,
    nbval and papermill execute with `allow_stdin` false), or the browser half has said
    `rendered` in this kernel. Otherwise the final display is the static graph alone; a
    `rendered` arriving later puts the live view back;
  - the output's metadata holds `jupyter-argo` (`STATIC_KEY`), and the Jupyter server
    extension (`jupyter_argo.server`) saves such outputs without the widget, so a
    notebook reopened with no kernel, GitHub and nbconvert show the graph.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import traitlets

from jupyter_argo.render.graph import FOLD, Collapse, Graph, build_graph, sanitise
from jupyter_argo.render.style import PALETTE, phase_style
from jupyter_argo.render.summary import (
    first_failure,
    format_duration,
    log_tail,
    parse_time,
    summarise,
    text_summary,
)
from jupyter_argo.render.svg import draw_parts, recolour, stack, with_title
from jupyter_argo.widgets.actions import ACTIONS, available, suspended_inputs
from jupyter_argo.widgets.coalesce import Follower
from jupyter_argo.widgets.subshell import route_custom_messages

__all__ = ["STATIC_KEY", "WIDGET_VIEW", "WorkflowView"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STATIC_KEY = "jupyter-argo"  # in an output's metadata: a view whose static copy suffices

_STATIC = Path(__file__).with_name("static")
_DONE = ("Succeeded", "Failed", "Error")
_LOG_CHARS = 16_000
_LOG_REFRESH = 1.0  # seconds between log fetches for a running node

Logs = Callable[[str], str]
# Does an action (`widgets.actions.RunActions`): (action, node ID or "", parameters);
# raises with the backend's message when refused.
Act = Callable[[str, str, Mapping[str, str] | None], object]
_DONE_WORDS = {
    "retry": "retrying",
    "suspend": "suspended",
    "resume": "resumed",
    "stop": "stopping",
    "terminate": "terminating",
}


class WorkflowView(anywidget.AnyWidget):  # type: ignore[misc]
    """A live picture of an Argo Workflow object; `update` it with newer snapshots."""

    _esm = _STATIC / "view.js"
    _css = _STATIC / "view.css"

    svg = traitlets.Unicode("").tag(sync=True)  # the graph, laid out
    legend = traitlets.Unicode("").tag(sync=True)
    phases = traitlets.Dict().tag(sync=True)
    notes = traitlets.Dict().tag(sync=True)
    groups = traitlets.Dict().tag(sync=True)
    index = traitlets.Dict().tag(sync=True)
    names = traitlets.Dict().tag(sync=True)
    expanded = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # Names this widget across the views the frontend makes of it (a re-published display
    # renders a new one): the browser keeps zoom, pan, search and filter under it.
    _memory_key = traitlets.Unicode("").tag(sync=True)
    palette = traitlets.Dict().tag(sync=True)
    header = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    detail = traitlets.Dict().tag(sync=True)
    # Which backend holds the run ("local", "kubernetes", "argo-server"): the panel asks
    # the Jupyter server extension for artifact previews with it (no kernel round trip).
    backend = traitlets.Unicode("").tag(sync=True)
    # {node ID: its artifacts} for every node that has some, sent with the updates (which
    # reach the browser while a cell runs), so a click shows them with the kernel busy.
    artifacts = traitlets.Dict().tag(sync=True)

    # Whether a widget frontend has drawn a view in this kernel (its `rendered` message).
    frontend_seen: ClassVar[bool] = False

    def __init__(
        self,
        workflow: Mapping[str, Any],
        *,
        logs: Logs | None = None,
        collapse: Collapse = FOLD,
        backend: str = "",
        actions: Act | None = None,
    ) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._logs = logs
        self._actions = actions
        self._collapse = collapse
        self._expanded: set[str] = set()
        self._workflow: Mapping[str, Any] = {}
        self._clean: Mapping[str, Any] = {}  # the same, as `sanitise` reads it
        self._graph: Graph | None = None
        self._drawing = ("", "")  # the laid-out graph and legend, in the colours of the layout
        self._log_mark: tuple[str, str, float] = ("", "", 0.0)  # node, phase, when fetched
        self._failure_log: tuple[str, str] = ("", "")  # the first failed node, its log tail
        # What the browser has of each node without asking (see `_push_details`).
        self._pushed: dict[str, tuple[object, ...]] = {}
        self._tailed: set[str] = set()  # finished nodes whose last tail went out
        self._streamer: threading.Thread | None = None
        self._handles: list[Any] = []  # IPython DisplayHandles showing this view
        self._published: tuple[object, ...] | None = None
        self._published_live = False  # whether the final display kept the widget
        self.layouts = 0  # Graphviz runs so far
        self.observe(self._on_selected, names="selected")
        self.observe(self._on_expanded, names="expanded")
        self.on_msg(self._on_message)
        if self._has_kernel():  # buttons answered while a cell blocks the kernel
            route_custom_messages(self.comm)
        with self.hold_sync():  # the first state in one message
            self._memory_key = str(self.model_id)
            self.backend = backend
            self.palette = {
                phase: {"fill": s.fill, "text": s.text, "glyph": s.glyph}
                for phase, s in PALETTE.items()
            }
            self.update(workflow)

    def __repr__(self) -> str:
        header = self.header
        return f"WorkflowView({header.get('name', '')!r}, phase={header.get('phase', '')!r})"

    @property
    def workflow(self) -> Mapping[str, Any]:
        """The snapshot shown now."""
        return self._workflow

    @property
    def graph(self) -> Graph | None:
        return self._graph

    def update(self, workflow: Mapping[str, Any]) -> None:
        """Show `workflow`, an Argo Workflow object; lays out only if the structure changed."""
        with self._lock:
            self._show(workflow)
        self._republish()

    def follow(
        self, stream: Iterable[Mapping[str, Any]], *, interval: float = 0.1
    ) -> Follower[Any]:
        """Apply a watch stream of snapshots in the background, at most every `interval` s.

        Returns the `Follower`: `join()` waits for the end of the stream, `stop()` abandons it.
        """
        return Follower(stream, self.update, interval=interval)

    def expand(self, node_ids: Collection[str]) -> None:
        """Unfold the fan-outs of these nodes (as clicking their group node does)."""
        with self._lock:
            self._expanded.update(node_ids)
            self._show(self._workflow)

    def fold(self, node_ids: Collection[str]) -> None:
        """Fold the fan-outs of these nodes again (as their fold button does)."""
        with self._lock:
            self._expanded.difference_update(node_ids)
            self._show(self._workflow)

    def _on_expanded(self, change: Mapping[str, Any]) -> None:
        wanted = {str(n) for n in change["new"]}
        with self._lock:
            if wanted != self._expanded:
                self._expanded = wanted
                self._show(self._workflow)

    def _show(self, workflow: Mapping[str, Any]) -> None:
        clean, problems = sanitise(workflow)
        graph = build_graph(
            clean, expand=self._expanded, collapse=self._collapse, sanitised=problems
        )
        fresh = self._graph is None or graph.shape_key != self._graph.shape_key
        drawing = draw_parts(graph) if fresh else self._drawing
        self._workflow, self._clean, self._graph, self._drawing = workflow, clean, graph, drawing
        with self.hold_sync():
            if fresh:
                self.layouts += 1
                self.svg = stack([drawing[0]])
                self.legend = stack([drawing[1]])
                self.index = graph.index()
                self.names = graph.drawn_names()
            if sorted(self._expanded) != self.expanded:
                self.expanded = sorted(self._expanded)
            self.phases = graph.phases()
            self.notes = graph.notes()
            nodes = _nodes(clean)
            shown = _display_counts(nodes)
            self.artifacts = {
                str(key): found
                for key, node in nodes.items()
                if isinstance(node, Mapping) and (found := _artifacts(node, shown))
            }
            self.groups = graph.groups()
            header = self._with_failure(_header(clean), clean)
            header["problems"] = list(problems)
            header["actionable"] = self._actions is not None
            header["actions"] = available(clean) if self._actions is not None else []
            header["foldable"] = {
                parent: {"items": items, "name": graph.fans.get(parent, "")}
                for parent, items in graph.expandable.items()
            }
            self.header = header
            if self.selected:
                self._refresh_detail()
        if self._has_kernel():  # without one, nobody could receive them
            self._push_details(clean)
            if header.get("phase") in ("Running", "Pending") and self._logs is not None:
                self._stream_tails()

    def _has_kernel(self) -> bool:
        return getattr(self.comm, "kernel", None) is not None

    # Pushed to the browser: a click is answered there, even while the kernel is busy ---

    def _push_details(self, workflow: Mapping[str, Any]) -> None:
        """Every node's details (not its log) as they change, in custom messages: the
        frontend shows a clicked node at once, without a round trip the kernel could
        only answer after a blocking cell (its messages go out from any thread)."""
        changed: dict[str, Any] = {}
        for node_id, node in _nodes(workflow).items():
            if not isinstance(node, Mapping):
                continue
            mark = tuple(node.get(k) for k in _DETAIL_MARKS)
            if self._pushed.get(node_id) != mark:
                self._pushed[node_id] = mark
                changed[node_id] = _detail(node, "")
        items = list(changed.items())
        for start in range(0, len(items), _PUSH_BATCH):
            self.send({"type": "details", "nodes": dict(items[start : start + _PUSH_BATCH])})

    def _stream_tails(self) -> None:
        """About once a second while the run goes on: the log tails of the running steps,
        and the last tail of each step that has finished since."""
        if self._streamer is not None and self._streamer.is_alive():
            return

        def stream() -> None:
            while self.comm is not None:
                with self._lock:
                    workflow = self._clean
                    phase = (workflow.get("status") or {}).get("phase")
                    live = phase in ("Running", "Pending")
                    running, finished = _tail_candidates(workflow, self._tailed)
                tails = {node_id: self._fetch_log_tail(node_id) for node_id in running + finished}
                self._tailed.update(finished)
                if tails:
                    self.send({"type": "tails", "tails": tails})
                if not live and not finished:
                    return
                time.sleep(_LOG_REFRESH if live else 0)

        self._streamer = threading.Thread(target=stream, name="argo-view-logs", daemon=True)
        self._streamer.start()

    def _fetch_log_tail(self, node_id: str) -> str:
        if self._logs is None:
            return ""
        try:
            return self._logs(node_id)[-_TAIL_CHARS:]
        except Exception as err:  # a log we cannot read is not worth failing the view for
            return f"(logs unavailable: {err})"

    def _with_failure(self, header: dict[str, Any], workflow: Mapping[str, Any]) -> dict[str, Any]:
        failure = first_failure(workflow)
        if failure is None:
            return header
        if self._failure_log[0] != failure.id:
            self._failure_log = (failure.id, self._fetch_tail(failure.id))
        header["failure"] = {
            "id": failure.id,
            "name": failure.name,
            "phase": failure.phase,
            "message": failure.message,
            "failed": failure.failed,
            "log": self._failure_log[1],
        }
        return header

    def _fetch_tail(self, node_id: str) -> str:
        if self._logs is None:
            return ""
        try:
            return "\n".join(log_tail(self._logs(node_id)))
        except Exception as err:  # a log we cannot read is not worth failing the view for
            return f"(logs unavailable: {err})"

    # Node selection -------------------------------------------------------------------

    def _on_selected(self, change: Mapping[str, Any]) -> None:
        node_id = str(change["new"])
        with self._lock:
            graph = self._graph
            box = graph.boxes.get(node_id) if graph else None
            if box is not None and box.kind == "Group":
                self._expanded.add(node_id.removesuffix("/more"))
                self.selected = ""
                self._show(self._workflow)
                return
            self._log_mark = ("", "", 0.0)
            self._refresh_detail()

    def _refresh_detail(self) -> None:
        node_id = self.selected
        node = _nodes(self._clean).get(node_id)
        if not node_id or not isinstance(node, Mapping):
            self.detail = {}
            return
        self.detail = _detail(node, self._log_tail(node_id, node))

    def _log_tail(self, node_id: str, node: Mapping[str, Any]) -> str:
        # Fetched on selection, when the node's phase changes, and each second while it runs.
        if self._logs is None or node.get("type") not in ("Pod", "Container"):
            return ""
        phase = str(node.get("phase") or "")
        mark_id, mark_phase, fetched = self._log_mark
        now = time.monotonic()
        stale = phase == "Running" and now - fetched >= _LOG_REFRESH
        if mark_id == node_id and mark_phase == phase and not stale:
            return str(self.detail.get("log", ""))
        self._log_mark = (node_id, phase, now)
        try:
            text = self._logs(node_id)
        except Exception as err:  # a log we cannot read is not worth failing the view for
            return f"(logs unavailable: {err})"
        return text[-_LOG_CHARS:]

    # Display without a widget frontend ------------------------------------------------

    def static_svg(self) -> str:
        """The graph as it looks now, titled: for nbconvert, GitHub and other static views."""
        with self._lock:
            graph, drawing, workflow = self._graph, self._drawing, self._clean
        if graph is None:
            return ""
        painted = recolour(drawing[0], graph.phases(), graph.notes())
        return with_title(stack([painted, drawing[1]]), workflow)

    def text(self) -> str:
        """The view as a few lines of text: the summary, then the first failed step's log."""
        text = text_summary(self._clean)
        for problem in self.header.get("problems") or ():
            text += f"\n  ⚠ {problem}"
        failure = self.header.get("failure") or {}
        if failure.get("log"):
            lines = str(failure["log"]).splitlines()
            text += f"\n  last lines of {failure['name']}'s log:"
            text += "".join(f"\n    {line}" for line in lines)
        return text

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = (dict(bundle[0]), dict(bundle[1])) if bundle else ({}, {})
        data["image/svg+xml"] = self.static_svg()
        data["text/plain"] = self.text()
        metadata[STATIC_KEY] = {"static": "image/svg+xml"}
        return data, metadata

    def _static_bundle(self) -> tuple[dict[str, Any], dict[str, Any]]:
        data, metadata = self._repr_mimebundle_()
        data.pop(WIDGET_VIEW, None)
        return data, metadata

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, Mapping) and content.get("event") == "action":
            self._act(content)
            return
        if not isinstance(content, Mapping) or content.get("event") != "rendered":
            return
        WorkflowView.frontend_seen = True
        with self._lock:
            if self._published is not None and not self._published_live:
                self._published = None  # the static copy went out first: show the view again
                self._republish_now()

    # Actions: a button's message, answered on a kernel subshell while a cell blocks ----

    def _act(self, request: Mapping[str, Any]) -> None:
        """Do the action `request` asks for; the browser gets ok and a one-line message."""
        try:
            done, ok = self._perform(request), True
        except Exception as err:  # one line to the panel, never a traceback
            done, ok = _one_line(err), False
        self.send({"type": "action", "id": request.get("id"), "ok": ok, "message": done})

    def _perform(self, request: Mapping[str, Any]) -> str:
        action, node = request.get("action"), request.get("node") or ""
        values = request.get("parameters") or {}
        if self._actions is None:
            raise ValueError("this view shows a workflow, not a run: it has no actions")
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        if not isinstance(node, str) or (node and node not in _nodes(self._workflow)):
            raise ValueError(f"no node {node!r} in this workflow")
        if not isinstance(values, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
            raise ValueError("parameters must map names to strings")
        if values and not (action == "resume" and node):
            raise ValueError("only a suspended node's resume takes parameters")
        self._actions(action, node, dict(values) or None)
        if node:
            shown = _nodes(self._workflow)[node]
            return f"resumed {shown.get('displayName') or shown.get('name') or node}"
        return _DONE_WORDS[action]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        data, metadata = self._repr_mimebundle_()
        handle = display(  # type: ignore[no-untyped-call]
            data, metadata=metadata, raw=True, display_id=True
        )
        if handle is not None:
            self._handles.append(handle)

    def _republish(self) -> None:
        # The static copies in the notebook were made when the view was displayed; once
        # the run is over, replace them with the final graph. (The watch's thread and the
        # kernel's, for a `rendered` message, may both get here.)
        with self._lock:
            self._republish_now()

    def _republish_now(self) -> None:
        header = self.header
        if not self._handles or header.get("phase") not in _DONE:
            return
        key = (self.svg, tuple(sorted(self.phases.items())), tuple(sorted(header.items())))
        if key == self._published:
            return
        self._published = key
        # With no widget frontend, the final output is the static graph alone.
        self._published_live = WorkflowView.frontend_seen or _interactive_request()
        data, metadata = self._repr_mimebundle_() if self._published_live else self._static_bundle()
        for handle in self._handles:
            handle.update(data, metadata=metadata, raw=True)


def _interactive_request() -> bool:
    """Whether the cell running now came from a frontend a person uses: ipykernel notes
    whether its request allows `input()`, which headless runners never do."""
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)  # type: ignore[no-untyped-call]
    return kernel is not None and bool(getattr(kernel, "_allow_stdin", True))


_DETAIL_MARKS = ("phase", "startedAt", "finishedAt", "message", "progress", "displayName")
_PUSH_BATCH = 500  # nodes per details message
_TAIL_CHARS = 4_000  # of each pushed log tail
_RUNNING_TAILED = 20  # running steps whose tails are pushed each second
_FINISHED_TAILED = 50  # finished steps given their last tail per second


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return _USERINFO.sub(_HIDDEN, text)[:500]


def _tail_candidates(
    workflow: Mapping[str, Any], tailed: Collection[str]
) -> tuple[list[str], list[str]]:
    """(running pods, most recently started first; finished pods not tailed yet)."""
    running: list[tuple[str, str]] = []
    finished: list[str] = []
    for node_id, node in _nodes(workflow).items():
        if not isinstance(node, Mapping) or node.get("type") not in ("Pod", "Container"):
            continue
        phase = node.get("phase")
        if phase == "Running":
            running.append((str(node.get("startedAt") or ""), node_id))
        elif phase in ("Succeeded", "Failed", "Error") and node_id not in tailed:
            finished.append(node_id)
    running.sort(reverse=True)
    return [n for _, n in running[:_RUNNING_TAILED]], finished[:_FINISHED_TAILED]


def _nodes(workflow: Mapping[str, Any]) -> Mapping[str, Any]:
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    return nodes if isinstance(nodes, Mapping) else {}


def _header(workflow: Mapping[str, Any]) -> dict[str, Any]:
    summary = summarise(workflow)
    style = phase_style(summary.phase)
    return {
        "name": summary.name,
        "namespace": summary.namespace,
        "phase": summary.phase,
        "glyph": style.glyph,
        "progress": summary.progress,
        "duration": "" if summary.duration is None else format_duration(summary.duration),
        "startedAt": summary.started,
        "finishedAt": summary.finished,
        "message": summary.message,
        "warnings": list(summary.warnings),
    }


_USERINFO = re.compile(r"(://)[^/@\s]+@")  # user:password in a URL, never shown
_HIDDEN = r"\1***@"


def _artifact_place(artifact: Mapping[str, Any]) -> str:
    for kind in ("s3", "gcs", "oss", "azure", "hdfs", "artifactory", "http", "git", "raw"):
        where = artifact.get(kind)
        if isinstance(where, Mapping):
            spot = where.get("key") or where.get("blob") or where.get("path") or where.get("url")
            spot = spot or where.get("repo") or ("inline" if kind == "raw" else "")
            return f"{kind}: {_USERINFO.sub(_HIDDEN, str(spot))}"
    return str(artifact.get("path") or "")


def _io(section: Any) -> dict[str, list[list[str]]]:
    section = section if isinstance(section, Mapping) else {}
    parameters = [
        [str(p.get("name", "")), str(p.get("value", ""))]
        for p in section.get("parameters") or ()
        if isinstance(p, Mapping)
    ]
    for key in ("result", "exitCode"):
        if section.get(key) is not None:
            parameters.append([key, str(section[key])])
    artifacts = [
        [str(a.get("name", "")), _artifact_place(a)]
        for a in section.get("artifacts") or ()
        if isinstance(a, Mapping)
    ]
    return {"parameters": parameters, "artifacts": artifacts}


def _display_counts(nodes: Mapping[str, Any]) -> Counter[str]:
    """How many nodes have each display name."""
    return Counter(str(n.get("displayName")) for n in nodes.values() if isinstance(n, Mapping))


def _artifacts(node: Mapping[str, Any], shown: Counter[str]) -> list[dict[str, str]]:
    """The node's artifacts for the panel: where each is stored and the Python that reads
    it (the node named as `Run.node` finds it: its display name if no other node has it;
    `shown` counts the nodes by display name)."""
    if not any(
        isinstance(node.get(io), Mapping) and node[io].get("artifacts")
        for io in ("inputs", "outputs")
    ):
        return []
    node_id = str(node.get("id", ""))
    display = str(node.get("displayName") or "")
    key = display if display and shown[display] <= 1 else node_id
    out = []
    for io in ("inputs", "outputs"):
        section = node.get(io)
        for a in (section.get("artifacts") or ()) if isinstance(section, Mapping) else ():
            if not isinstance(a, Mapping) or not a.get("name"):
                continue
            name = str(a["name"])
            reader = f"run.node({key!r}).{io}.artifacts[{name!r}]"
            out.append({"io": io, "name": name, "location": _artifact_place(a), "python": reader})
    return out


def _detail(node: Mapping[str, Any], log: str) -> dict[str, Any]:
    started, finished = str(node.get("startedAt") or ""), str(node.get("finishedAt") or "")
    begin = parse_time(started)
    end = parse_time(finished) or datetime.now(timezone.utc)
    return {
        "id": str(node.get("id", "")),
        "name": str(node.get("name", "")),
        "displayName": str(node.get("displayName") or node.get("name") or ""),
        "type": str(node.get("type", "")),
        "phase": str(node.get("phase", "")),
        "template": str(node.get("templateName") or ""),
        "message": str(node.get("message") or ""),
        "startedAt": started,
        "finishedAt": finished,
        "duration": "" if begin is None else format_duration((end - begin).total_seconds()),
        "inputs": _io(node.get("inputs")),
        "outputs": _io(node.get("outputs")),
        "log": log,
        # A suspended node's resume form (the Argo UI's): its input parameters.
        "resume": suspended_inputs(node),
    }
