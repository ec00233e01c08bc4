"""A workflow's logs on a cluster: from its pods' `main` containers while they exist, else
from the `main-logs` artifacts Argo archives when the repository has `archiveLogs`.

Without `follow`, each pod's log is printed in turn, pods in the order their nodes
started. With `follow`, the workflow is watched; each pod is streamed from when its node
runs, lines from pods running at once interleave as they arrive, and the stream ends
when the workflow is final and every pod's log has been read.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from jupyter_argo.backends._k8s.actions import pod_name
from jupyter_argo.backends._k8s.cluster import PODS, Cluster
from jupyter_argo.backends._k8s.nodes import is_offloaded, offload_error
from jupyter_argo.backends._k8s.watch import close, is_final, lines
from jupyter_argo.errors import ArgoError, ConfigError, NotFoundError, UserError
from jupyter_argo.status import is_fulfilled

__all__ = ["LogReader"]

CONTAINER = "main"
_RETRY = 0.5  # seconds between attempts while a pod has no log yet
_ARCHIVE_DOCS = "https://argo-workflows.readthedocs.io/en/latest/configure-archive-logs/"

Lines = Iterator[tuple[str, str]]


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

    def logs(self, name: str, namespace: str, node: str | None, follow: bool) -> Lines:
        workflow = self._get(name, namespace)
        if is_offloaded(workflow):
            raise offload_error(workflow, "its pods and logs cannot be found")
        if node is not None and not _pod_nodes(workflow, node) and is_final(workflow):
            raise NotFoundError(f'workflow "{name}" has no pod node "{node}"')
        if follow and not is_final(workflow):
            return self._follow(name, namespace, node)
        return self._read_all(workflow, namespace, node)

    # ---- a finished (or not followed) workflow ---------------------------------------

    def _read_all(self, workflow: dict[str, Any], namespace: str, node: str | None) -> Lines:
        missing = []
        printed = False
        for entry in _pod_nodes(workflow, node):
            pod = pod_name(workflow, entry)
            try:
                for line in self._pod_log(pod, namespace, follow=False):
                    printed = True
                    yield pod, line
                continue
            except NotFoundError:
                pass  # the pod is gone
            except ConfigError:
                raise  # forbidden or unreachable: say so
            except UserError:  # e.g. 400, its container is waiting to start
                if not is_fulfilled(str(entry.get("phase"))):
                    continue  # not started yet: nothing to print
            archived = self._archived(workflow, entry, namespace)
            if archived is None:
                missing.append(pod)
                continue
            for line in archived:
                printed = True
                yield pod, line
        if missing and not printed:
            name = workflow["metadata"]["name"]
            raise NotFoundError(
                f'no logs for workflow "{name}": its pods ({", ".join(missing)}) are gone '
                "and their logs were not archived; set archiveLogs: true on the artifact "
                f"repository to keep logs after pods are deleted ({_ARCHIVE_DOCS})"
            )

    def _pod_log(self, pod: str, namespace: str, *, follow: bool) -> Iterator[str]:
        query = {"container": CONTAINER, "follow": "true" if follow else None}
        response = self._cluster.request(
            "get",
            PODS,
            namespace,
            pod,
            sub="log",
            query=query,
            timeout=(5.0, None) if follow else (5.0, 60.0),
            stream=True,
        )
        try:
            for raw in lines(response, self._cluster, keep_empty=True):
                yield raw.decode("utf-8", "replace").rstrip("\r")
        finally:
            close(response)

    def _archived(
        self, workflow: dict[str, Any], entry: Mapping[str, Any], namespace: str
    ) -> list[str] | None:
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
        return path.read_text("utf-8", "replace").splitlines()

    # ---- following a running workflow ---------------------------------------------------

    def _follow(self, name: str, namespace: str, node: str | None) -> Lines:
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
                self._follow_pod(latest, nid, namespace, node_now, out, stop)
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
    ) -> None:
        workflow = latest["workflow"]
        pod = pod_name(workflow, node_now(nid))
        while not stop.is_set():
            done = is_fulfilled(str(node_now(nid).get("phase")))
            printed = False
            try:
                for line in self._pod_log(pod, namespace, follow=True):
                    printed = True
                    out.put(("line", (pod, line)))
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
                    archived = self._archived(latest["workflow"], node_now(nid), namespace)
                    for line in archived or []:
                        out.put(("line", (pod, line)))
                    return
            time.sleep(_RETRY)


def _pod_nodes(workflow: Mapping[str, Any], node: str | None) -> list[dict[str, Any]]:
    from jupyter_argo.backends._k8s.actions import matches_node

    nodes = (workflow.get("status") or {}).get("nodes") or {}
    pods = [n for n in nodes.values() if n.get("type") == "Pod"]
    if node is not None:
        pods = [n for n in pods if matches_node(node, n)]
    return sorted(pods, key=lambda n: (n.get("startedAt") or "", str(n.get("name"))))
