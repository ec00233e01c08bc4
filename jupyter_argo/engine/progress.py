"""`progress` of the workflow and of its nodes, as Argo's workflow/progress/updater.go
(UpdateProgress, run on every save) computes it.

Executable nodes (Pod, Container, HTTP, Plugin, Suspend) carry their own `N/M`: `0/1`
until done, `M/M` once Succeeded, Skipped or Omitted. Every other node sums the
executable nodes reachable through its children (each counted once), and the workflow
sums every executable node. A `N/M` with M = 0 is not a progress, so a node with nothing
executable below it has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["update_progress"]

_EXECUTABLE = frozenset({"Pod", "HTTP", "Plugin", "Container", "Suspend"})
_COMPLETE = frozenset({"Succeeded", "Skipped", "Omitted"})


def _parse(progress: Any) -> tuple[int, int] | None:
    """(N, M) of a valid `N/M` (0 <= N <= M, M > 0), else None (Progress.IsValid)."""
    if not isinstance(progress, str) or "/" not in progress:
        return None
    n_text, m_text = progress.split("/", 1)
    try:
        n, m = int(n_text), int(m_text)
    except ValueError:
        return None
    return (n, m) if 0 <= n <= m and m > 0 else None


def update_progress(nodes: Mapping[str, dict[str, Any]]) -> tuple[str, set[str]]:
    """Set each node's `progress` in place; return the workflow's and the IDs of the
    nodes whose progress changed. (Run on every snapshot of a run: a pass over every
    node, kept to a few dictionary lookups per node.)"""
    changed: set[str] = set()
    done = total = 0
    own: dict[str, tuple[int, int]] = {}
    others: list[tuple[str, dict[str, Any]]] = []
    for nid, node in nodes.items():
        if node.get("type") not in _EXECUTABLE:
            others.append((nid, node))
            continue
        progress = node.get("progress")
        text = progress or "0/1"
        if text.__class__ is str:
            parsed = _PARSED.get(text, _UNSEEN)
            if parsed is _UNSEEN:
                parsed = _parse(text)
                if len(_PARSED) < _PARSED_MOST:
                    _PARSED[text] = parsed
        else:
            parsed = _parse(text)
        if parsed is None:
            continue
        n, m = parsed
        if node.get("phase") in _COMPLETE:
            n = m
        value = f"{n}/{m}"
        if progress != value:
            node["progress"] = value
            changed.add(nid)
        own[nid] = (n, m)
        done += n
        total += m
    for nid, node in others:
        n = m = 0
        seen: set[str] = set()
        stack = list(node.get("children") or ())
        while stack:  # every node reachable through children, once (sums: any order)
            child_id = stack.pop()
            if child_id in seen:
                continue
            seen.add(child_id)
            child = nodes.get(child_id)
            if child is None:
                continue
            counted = own.get(child_id)
            if counted is not None:
                n += counted[0]
                m += counted[1]
            below = child.get("children")
            if below:
                stack.extend(below)
        if m > 0:
            value = f"{n}/{m}"
            if node.get("progress") != value:
                node["progress"] = value
                changed.add(nid)
    return f"{done}/{total}", changed


_UNSEEN: Any = object()
_PARSED: dict[str, tuple[int, int] | None] = {}  # `_parse` of the values met so far
_PARSED_MOST = 4096
