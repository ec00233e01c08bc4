"""Watching one Workflow: pushed by the API server, resumed, never missing the end.

The object is listed once (by name, with a field selector) and then watched from the
list's resourceVersion. A dropped connection resumes from the last resourceVersion seen
(an event's or a bookmark's); `410 Gone` (history compacted, e.g. after an API server
restart) lists again, which returns the current object, so a final status reached while
the connection was down still arrives. Each change is delivered as the whole Workflow.

A Workflow Argo's controller never picked up (the controller is down, or runs for another
instance ID) has no status at all. With `on_pending`, a watch still seeing no phase
`pending_after` seconds after it began calls it once, with the snapshot, and goes on
watching: while the phase is missing each watch request ends when that time comes (its
`timeoutSeconds`), so the notice is not held up by a quiet stream.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

from jupyter_argo.backends._k8s.cluster import (
    WORKFLOWS,
    Cluster,
    NotServed,
    ServerError,
    Unreachable,
)
from jupyter_argo.backends._k8s.nodes import hydrated
from jupyter_argo.errors import BackendError, NotFoundError

__all__ = ["FINAL_PHASES", "close", "is_final", "lines", "watch_workflow"]

FINAL_PHASES = ("Succeeded", "Failed", "Error")
WATCH_SECONDS = 240  # the server ends each watch request after this; it is then renewed
_FIRST_DELAY = 0.05
_MAX_DELAY = 2.0


def is_final(workflow: dict[str, Any]) -> bool:
    return (workflow.get("status") or {}).get("phase") in FINAL_PHASES


def watch_workflow(
    cluster: Cluster,
    name: str,
    namespace: str,
    *,
    deadline: float | None = None,
    resource_version: str | None = None,
    reconnect_for: float = 300.0,
    pending_after: float = 5.0,
    on_pending: Callable[[dict[str, Any]], object] | None = None,
) -> Iterator[dict[str, Any]]:
    """The Workflow now, then after each change, until its phase is final or `deadline`
    (a `time.monotonic()` value) passes. Starting from `resource_version` skips the first
    list. The API server may be away for up to `reconnect_for` seconds at a time.
    `on_pending(workflow)` is called once if it still has no phase `pending_after` s in."""
    selector = f"metadata.name={name}"
    resume_from = resource_version  # None: list first
    delivered = None  # resourceVersion of the last object yielded
    delay = _FIRST_DELAY
    outage_since: float | None = None
    notice_at = None if on_pending is None else time.monotonic() + pending_after
    latest: dict[str, Any] | None = None  # the last object yielded

    def pending_notice() -> None:
        nonlocal notice_at
        if notice_at is None or latest is None or time.monotonic() < notice_at:
            return
        notice_at = None  # once
        if on_pending is not None and not _phase(latest):
            on_pending(latest)

    while deadline is None or time.monotonic() < deadline:
        pending_notice()
        try:
            if resume_from is None:
                listing = cluster.request(
                    "list", WORKFLOWS, namespace, query={"fieldSelector": selector}
                )
                items = listing.get("items") or []
                if not items:
                    raise NotFoundError(
                        f'workflows.argoproj.io "{name}" not found in namespace "{namespace}"'
                    )
                workflow = _complete(items[0])
                resume_from = str((listing.get("metadata") or {}).get("resourceVersion") or "")
                version = workflow["metadata"].get("resourceVersion")
                if version != delivered:
                    delivered, latest = version, workflow
                    yield hydrated(workflow)
                    if is_final(workflow):
                        return
                    pending_notice()
            seconds = WATCH_SECONDS
            if deadline is not None:
                seconds = max(1, min(seconds, math.ceil(deadline - time.monotonic())))
            if notice_at is not None and not _phase(latest):
                seconds = max(1, min(seconds, math.ceil(notice_at - time.monotonic())))
            response = cluster.request(
                "watch",
                WORKFLOWS,
                namespace,
                query={
                    "watch": "true",
                    "fieldSelector": selector,
                    "resourceVersion": resume_from,
                    "allowWatchBookmarks": "true",
                    "timeoutSeconds": seconds,
                },
                timeout=(5.0, seconds + 15.0),
                stream=True,
            )
            try:
                for line in lines(response, cluster):
                    event = json.loads(line)
                    kind = event.get("type")
                    obj = event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            resume_from = None  # too old: list again
                            break
                        raise ServerError(str(obj.get("message") or obj), int(obj.get("code") or 0))
                    version = (obj.get("metadata") or {}).get("resourceVersion")
                    if version:
                        resume_from = str(version)
                    outage_since, delay = None, _FIRST_DELAY
                    if kind == "DELETED":
                        raise NotFoundError(
                            f'workflow "{name}" in namespace "{namespace}" was deleted'
                        )
                    if kind in ("ADDED", "MODIFIED") and version != delivered:
                        delivered = version
                        workflow = latest = _complete(obj)
                        yield hydrated(workflow)
                        if is_final(workflow):
                            return
                        pending_notice()
            finally:
                close(response)
        except (Unreachable, ServerError, NotServed) as err:
            if isinstance(err, NotServed) and delivered is None:
                raise  # never seen: Argo is not installed
            # Once watched, a Workflow API gone missing is an API server still starting.
            if isinstance(err, ServerError) and err.status == 410:
                resume_from = None
            now = time.monotonic()
            outage_since = outage_since if outage_since is not None else now
            if now - outage_since > reconnect_for:
                raise BackendError(
                    f'lost the watch on workflow "{name}" for over {reconnect_for:.0f} s: {err}'
                ) from None
            pause = delay if deadline is None else max(0.0, min(delay, deadline - now))
            time.sleep(pause)
            delay = min(delay * 2, _MAX_DELAY)


def _phase(workflow: dict[str, Any] | None) -> str:
    return str(((workflow or {}).get("status") or {}).get("phase") or "")


def lines(response: Any, cluster: Cluster, *, keep_empty: bool = False) -> Iterator[bytes]:
    """The lines of a streamed response (without blank ones unless `keep_empty`), each as
    soon as it arrives."""
    import urllib3

    buffer = b""
    try:
        for chunk in response.stream(amt=None, decode_content=False):
            buffer += chunk
            while True:
                end = buffer.find(b"\n")
                if end < 0:
                    break
                line, buffer = buffer[:end], buffer[end + 1 :]
                if keep_empty or line.strip():
                    yield line
    except (urllib3.exceptions.HTTPError, OSError) as err:
        raise cluster.unreachable(err) from None
    if buffer and (keep_empty or buffer.strip()):
        yield buffer


def close(response: Any) -> None:
    """Close a streamed response and its connection: one left open mid-stream must never
    go back to the pool for another request to read from."""
    response.close()
    response.release_conn()


def _complete(obj: dict[str, Any]) -> dict[str, Any]:
    # List items and watch objects of custom resources carry apiVersion and kind, but a
    # Workflow handed on must have them whatever the server did.
    obj.setdefault("apiVersion", "argoproj.io/v1alpha1")
    obj.setdefault("kind", "Workflow")
    obj.setdefault("metadata", {})
    return obj
