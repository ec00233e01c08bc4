"""A workflow's logs on a cluster, found and ordered as `argo logs` does.

Follows `util/logs/workflow-logger.go`: the workflow's pods are those labelled
`workflows.argoproj.io/workflow=NAME` (never a computed pod name), each mapped to its
node by the `workflows.argoproj.io/node-id` (or `node-name`) annotation. Each pod's
container (`main` unless asked: `init`, `wait`, a sidecar) is read with the kubelet's
`timestamps=true`, so every line starts with its RFC 3339 time; lines of all pods are
merged by that time (stable: a pod's own lines keep their order), the time shown only with
`timestamps`. `since_seconds` and `tail` go to the kubelet, `grep` filters the content.
A pod that is gone is read from the `main-logs` artifact Argo archives when the
repository has `archiveLogs` (its lines carry no time: they sort at their node's start).
With `follow`, the workflow is watched; each pod is streamed from when its node runs,
lines from pods running at once interleave as they arrive, and the stream ends when the
workflow is final and every pod's log has been read.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_argo.backends._k8s.actions import pod_name
from jupyter_argo.backends._k8s.cluster import PODS, Cluster
from jupyter_argo.backends._k8s.nodes import is_offloaded, offload_error
from jupyter_argo.backends._k8s.watch import close, is_final, lines
from jupyter_argo.errors import ArgoError, ConfigError, NotFoundError, UserError
from jupyter_argo.status import is_fulfilled, node_id

__all__ = ["LogOptions", "LogReader", "merge_by_time", "parse_timestamp", "split_timestamp"]

CONTAINER = "main"
LABEL_WORKFLOW = "workflows.argoproj.io/workflow"
ANNOTATION_NODE_ID = "workflows.argoproj.io/node-id"
ANNOTATION_NODE_NAME = "workflows.argoproj.io/node-name"
_RETRY = 0.5  # seconds between attempts while a pod has no log yet
_ARCHIVE_DOCS = "https://argo-workflows.readthedocs.io/en/latest/configure-archive-logs/"

Lines = Iterator[tuple[str, str]]


# ---- the kubelet's timestamps ------------------------------------------------------------


def split_timestamp(line: str) -> tuple[int | None, str]:
    """(nanoseconds since the epoch, content) of a line the kubelet wrote with
    `timestamps=true`: `2024-05-01T10:00:00.123456789Z content`. A line without a
    readable time gives (None, the whole line), as Argo keeps it."""
    stamp, _, content = line.partition(" ")
    nanos = parse_timestamp(stamp)
    if nanos is None:
        return None, line
    return nanos, content


_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


def parse_timestamp(text: str) -> int | None:
    """RFC 3339 with up to nanoseconds (Go's RFC3339Nano, trailing zeros trimmed) as
    integer nanoseconds since the epoch; None if it is not one."""
    found = _RFC3339.match(text)
    if found is None:
        return None
    whole, fraction, zone = found.groups()
    try:
        moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    seconds = int(moment.astimezone(timezone.utc).timestamp())
    return seconds * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


def merge_by_time(
    streams: Iterable[tuple[str, Iterable[tuple[int | None, str]]]],
) -> list[tuple[str, int | None, str]]:
    """(pod, time, text) of every stream's lines, ordered by time as `argo logs` orders
    them; stable, so a stream's lines keep their order among equal (or missing) times,
    which sort as the last time seen before them in that stream."""
    keyed: list[tuple[int, int, str, int | None, str]] = []
    order = 0
    for pod, stream in streams:
        last = 0
        for nanos, text in stream:
            if nanos is not None:
                last = nanos
            keyed.append((last, order, pod, nanos, text))
            order += 1
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [(pod, nanos, text) for _, _, pod, nanos, text in keyed]


class LogOptions:
    """`argo logs` flags: container, timestamps, since, tail, grep."""

    def __init__(
        self,
        container: str = CONTAINER,
        *,
        timestamps: bool = False,
        since_seconds: float | None = None,
        tail: int | None = None,
        grep: str | None = None,
    ) -> None:
        self.container = container or CONTAINER
        self.timestamps = timestamps
        self.since_seconds = since_seconds
        self.tail = tail
        from jupyter_argo.expr._regex import RegexError, compile_re2

        try:
            self.grep = compile_re2(grep) if grep else None  # Go's regexp, as `argo logs`
        except RegexError as err:
            raise UserError(f"--grep {grep!r}: not a regular expression ({err})") from None

    def query(self, follow: bool) -> dict[str, Any]:
        since = self.since_seconds
        return {
            "container": self.container,
            "timestamps": "true",
            "follow": "true" if follow else None,
            "sinceSeconds": str(max(1, int(since))) if since is not None else None,
            "tailLines": str(self.tail) if self.tail is not None else None,
        }

    def shown(self, raw: str) -> tuple[int | None, str] | None:
        """(time, text to print) of a raw kubelet line, or None when grep drops it."""
        nanos, content = split_timestamp(raw)
        text = raw if self.timestamps else content
        if self.grep is not None and not self.grep.matches(text):
            return None
        return nanos, text

    def archived(self, line: str) -> str | None:
        if self.grep is not None and not self.grep.matches(line):
            return None
        return line


def _pods_by_node(workflow_name: str, pods: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """node ID -> pod name, from the annotations Argo's controller puts on each pod."""
    found: dict[str, str] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        nid = annotations.get(ANNOTATION_NODE_ID)
        if not nid and annotations.get(ANNOTATION_NODE_NAME):
            nid = node_id(workflow_name, str(annotations[ANNOTATION_NODE_NAME]))
        if nid:
            found[str(nid)] = str(meta.get("name"))
    return found


class LogReader:
    def __init__(
        self,
        cluster: Cluster,
        get: Callable[[str, str], dict[str, Any]],
        watch: Callable[[str, str], Iterator[dict[str, Any]]],
        open_artifact: Callable[[Mapping[str, Any], str, Mapping[str, Any]], Path],
    ) -> None:
        self._cluster = cluster
        self._get = get
        self._watch = watch
        self._open_artifact = open_artifact

    def logs(
        self,
        name: str,
        namespace: str,
        node: str | None,
        follow: bool,
        options: LogOptions | None = None,
    ) -> Lines:
        options = options or LogOptions()
        workflow = self._get(name, namespace)
        if is_offloaded(workflow):
            raise offload_error(workflow, "its pods and logs cannot be found")
        if node is not None and not _pod_nodes(workflow, node) and is_final(workflow):
            raise NotFoundError(f'workflow "{name}" has no pod node "{node}"')
        if follow and not is_final(workflow):
            return self._follow(name, namespace, node, options)
        return self._read_all(workflow, namespace, node, options)

    def _list_pods(self, name: str, namespace: str) -> dict[str, str]:
        """node ID -> pod name of the workflow's pods, found by label."""
        listing = self._cluster.request(
            "list", PODS, namespace, query={"labelSelector": f"{LABEL_WORKFLOW}={name}"}
        )
        return _pods_by_node(name, listing.get("items") or [])

    # ---- a finished (or not followed) workflow ---------------------------------------

    def _read_all(
        self, workflow: dict[str, Any], namespace: str, node: str | None, options: LogOptions
    ) -> Lines:
        name = workflow["metadata"]["name"]
        denied: ConfigError | None = None
        try:
            pods = self._list_pods(name, namespace)
        except ConfigError as err:
            if not _is_forbidden(err):
                raise
            pods, denied = {}, err
        streams: list[tuple[str, list[tuple[int | None, str]]]] = []
        missing: list[str] = []
        for entry in _pod_nodes(workflow, node):
            nid = str(entry.get("id"))
            pod = pods.get(nid)
            if pod is not None:
                try:
                    streams.append((pod, list(self._pod_lines(pod, namespace, options))))
                    continue
                except NotFoundError:
                    pass  # deleted since it was listed
                except ConfigError as err:
                    if not _is_forbidden(err):
                        raise
                    denied = err
                except UserError:  # e.g. 400: its container is waiting to start
                    if not is_fulfilled(str(entry.get("phase"))):
                        continue
            elif not is_fulfilled(str(entry.get("phase"))) and denied is None:
                continue  # not started yet: nothing to print
            shown = pod or pod_name(workflow, entry)
            archived = self._archived(workflow, entry, namespace, options)
            if archived is None:
                missing.append(shown)
                continue
            start = _node_start(entry)
            streams.append((shown, [(start, line) for line in archived]))
        printed = False
        for pod, _nanos, text in merge_by_time(streams):
            printed = True
            yield pod, text
        if denied is not None and not printed:
            raise ConfigError(
                f"{denied} (the pods' logs need it; the workflow's status, outputs and "
                "artifacts still work, and logs archived with archiveLogs: true)"
            )
        if missing and not printed:
            raise NotFoundError(
                f'no logs for workflow "{name}": its pods ({", ".join(missing)}) are gone '
                "and their logs were not archived; set archiveLogs: true on the artifact "
                f"repository to keep logs after pods are deleted ({_ARCHIVE_DOCS})"
            )

    def _pod_lines(
        self, pod: str, namespace: str, options: LogOptions
    ) -> Iterator[tuple[int | None, str]]:
        for raw in self._pod_log(pod, namespace, options, follow=False):
            shown = options.shown(raw)
            if shown is not None:
                yield shown

    def _pod_log(
        self, pod: str, namespace: str, options: LogOptions, *, follow: bool
    ) -> Iterator[str]:
        response = self._cluster.request(
            "get",
            PODS,
            namespace,
            pod,
            sub="log",
            query=options.query(follow),
            timeout=(5.0, None) if follow else (5.0, 60.0),
            stream=True,
        )
        try:
            for raw in lines(response, self._cluster, keep_empty=True):
                yield raw.decode("utf-8", "replace").rstrip("\r")
        finally:
            close(response)

    def _archived(
        self,
        workflow: dict[str, Any],
        entry: Mapping[str, Any],
        namespace: str,
        options: LogOptions,
    ) -> list[str] | None:
        if options.container != CONTAINER:
            return None  # Argo archives the main container's log only
        artifact = next(
            (
                a
                for a in (entry.get("outputs") or {}).get("artifacts") or []
                if a.get("name") == f"{CONTAINER}-logs"
            ),
            None,
        )
        if artifact is None:
            return None
        path = self._open_artifact(artifact, namespace, workflow)
        if path.is_dir():  # unpacked as a directory: the log is its one file
            files = sorted(p for p in path.rglob("*") if p.is_file())
            if not files:
                return []
            path = files[0]
        kept = (options.archived(line) for line in path.read_text("utf-8", "replace").splitlines())
        found = [line for line in kept if line is not None]
        return found[-options.tail :] if options.tail is not None and options.tail > 0 else found

    # ---- following a running workflow ---------------------------------------------------

    def _follow(self, name: str, namespace: str, node: str | None, options: LogOptions) -> Lines:
        out: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        latest: dict[str, Any] = {}

        def watch() -> None:
            started: set[str] = set()
            try:
                for workflow in self._watch(name, namespace):
                    latest["workflow"] = workflow
                    for entry in _pod_nodes(workflow, node):
                        nid = str(entry.get("id"))
                        if nid in started or entry.get("phase") == "Pending":
                            continue
                        started.add(nid)
                        out.put(("pod", None))
                        thread = threading.Thread(
                            target=pod_thread, args=(nid,), name=f"argo-log-{nid}", daemon=True
                        )
                        thread.start()
                    if stop.is_set():
                        return
            except ArgoError as err:
                out.put(("error", err))
            finally:
                out.put(("watch-done", None))

        def node_now(nid: str) -> Mapping[str, Any]:
            nodes = (latest["workflow"].get("status") or {}).get("nodes") or {}
            found: Mapping[str, Any] = nodes.get(nid) or {}
            return found

        def pod_thread(nid: str) -> None:
            try:
                self._follow_pod(latest, nid, namespace, node_now, out, stop, options)
            except ArgoError as err:
                out.put(("error", err))
            finally:
                out.put(("pod-done", None))

        threading.Thread(target=watch, name="argo-log-watch", daemon=True).start()
        pods = 0
        watching = True
        try:
            while watching or pods:
                kind, value = out.get()
                if kind == "line":
                    yield value
                elif kind == "pod":
                    pods += 1
                elif kind == "pod-done":
                    pods -= 1
                elif kind == "watch-done":
                    watching = False
                elif kind == "error":
                    raise value
        finally:
            stop.set()

    def _follow_pod(
        self,
        latest: dict[str, Any],
        nid: str,
        namespace: str,
        node_now: Callable[[str], Mapping[str, Any]],
        out: queue.Queue[tuple[str, Any]],
        stop: threading.Event,
        options: LogOptions,
    ) -> None:
        workflow = latest["workflow"]
        name = workflow["metadata"]["name"]
        pod: str | None = None
        while not stop.is_set():
            done = is_fulfilled(str(node_now(nid).get("phase")))
            printed = False
            try:
                if pod is None:
                    pod = self._list_pods(name, namespace).get(nid)
                if pod is None:
                    raise NotFoundError(f"no pod for node {nid} yet")
                for raw in self._pod_log(pod, namespace, options, follow=True):
                    printed = True
                    shown = options.shown(raw)
                    if shown is not None:
                        out.put(("line", (pod, shown[1])))
                    if stop.is_set():
                        return
                if printed or done:
                    return  # the container ended
                # Nothing, and the node still runs: a pod not scheduled yet answers with
                # an empty log (204); ask again.
            except ConfigError:
                raise
            except (NotFoundError, UserError):
                if done:  # gone for good: the archive is all there is
                    entry = node_now(nid)
                    shown_name = pod or pod_name(latest["workflow"], entry)
                    archived = self._archived(latest["workflow"], entry, namespace, options)
                    for line in archived or []:
                        out.put(("line", (shown_name, line)))
                    return
            time.sleep(_RETRY)


def _is_forbidden(err: ConfigError) -> bool:
    return str(err).startswith("forbidden:")


def _node_start(entry: Mapping[str, Any]) -> int | None:
    return parse_timestamp(str(entry.get("startedAt") or ""))


def _pod_nodes(workflow: Mapping[str, Any], node: str | None) -> list[dict[str, Any]]:
    from jupyter_argo.backends._k8s.actions import matches_node

    nodes = (workflow.get("status") or {}).get("nodes") or {}
    pods = [n for n in nodes.values() if n.get("type") == "Pod"]
    if node is not None:
        pods = [n for n in pods if matches_node(node, n)]
    return sorted(pods, key=lambda n: (n.get("startedAt") or "", str(n.get("name"))))
