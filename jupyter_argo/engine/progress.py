"""`progress` of the workflow and of its nodes, as Argo's workflow/progress/updater.go
(UpdateProgress, run on every save) computes it.

Executable nodes (Pod, Container, HTTP, Plugin, Suspend) carry their own `N/M`: `0/1`
until done, `M/M` once Succeeded, Skipped or Omitted. Every other node sums the
executable nodes reachable through its children (each counted once), and the workflow
sums every executable node. A `N/M` with M = 0 is not a progress, so a node with nothing
executable below it has none.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

__all__ = ["ProgressTracker", "update_progress"]

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
    nodes whose progress changed. (Run on every snapshot of a run: one pass over every
    node, kept to a few dictionary lookups per node; the sums below it are set
    operations, level by level, so a loop of 10,000 children costs no Python per child.)"""
    changed: set[str] = set()
    done = total = 0
    own_n: dict[str, int] = {}  # executable nodes' own N and M
    own_m: dict[str, int] = {}
    below: dict[str, list[str]] = {}  # the children of every node that has some
    others: list[tuple[str, dict[str, Any]]] = []
    for nid, node in nodes.items():
        children = node.get("children")
        if children:
            below[nid] = children
        if node.get("type") not in _EXECUTABLE:
            others.append((nid, node))
            continue
        parsed = _own_progress(nid, node, changed)
        if parsed is None:
            continue
        n, m = parsed
        own_n[nid] = n
        own_m[nid] = m
        done += n
        total += m
    zeros = itertools.repeat(0)
    for nid, node in others:
        # Every node reachable through children, once (sums: any order); a child that is
        # not a node counts nothing and leads nowhere.
        level = set(node.get("children") or ())
        seen = set(level)
        n = m = 0
        while level:
            n += sum(map(own_n.get, level, zeros))
            m += sum(map(own_m.get, level, zeros))
            parents = level & below.keys()
            level = set()
            for parent in parents:
                level.update(below[parent])
            level -= seen
            seen |= level
        if m > 0:
            value = f"{n}/{m}"
            if node.get("progress") != value:
                node["progress"] = value
                changed.add(nid)
    return f"{done}/{total}", changed


_UNSEEN: Any = object()
_PARSED: dict[str, tuple[int, int] | None] = {}  # `_parse` of the values met so far
_PARSED_MOST = 4096


def _own_progress(nid: str, node: dict[str, Any], changed: set[str]) -> tuple[int, int] | None:
    """A pod's own progress N/M (M/M once complete), written back (and `nid` added to
    `changed`) when that differs from what it reported; None when it reported nonsense."""
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
        return None
    n, m = parsed
    if node.get("phase") in _COMPLETE:
        n = m
    value = f"{n}/{m}"
    if progress != value:
        node["progress"] = value
        changed.add(nid)
    return n, m


class ProgressTracker:
    """`update_progress` for one run's successive snapshots, at a cost that follows what
    changed rather than the size of the run: an executable node's own `N/M` is worked out
    again only when the node is among those reported changed (every change to a node
    reports it: its snapshot copy is made from that report too); the sums of the other
    nodes are sums over the set of what is below each, a set kept until a node's children
    change. Anything it cannot account for (a node that appeared or went without a
    report) makes it look at every node again."""

    def __init__(self) -> None:
        self._fresh = True
        self._reset()

    def _reset(self) -> None:
        self._own_n: dict[str, int] = {}  # executable nodes' own N and M
        self._own_m: dict[str, int] = {}
        self._below: dict[str, list[str]] = {}  # the children of nodes that have some
        self._others: dict[str, dict[str, Any]] = {}  # the nodes that are not executable
        self._seen: set[str] = set()
        self._done = self._total = 0
        # What each non-executable node reaches through children, while the children of
        # every node stay as they were (`_shape`: a list replaced, how many lists, their
        # lengths: children are only ever added).
        self._reach: dict[str, set[str]] = {}
        self._reached = 0  # the sizes of those sets, kept to a bound
        self._version = 0
        self._shape: tuple[int, int, int] = (-1, -1, -1)

    def update(
        self, nodes: Mapping[str, dict[str, Any]], changed_nodes: set[str]
    ) -> tuple[str, set[str]]:
        """What `update_progress(nodes)` returns, `changed_nodes` being the IDs of every
        node changed (or added) since the last call."""
        if self._fresh:
            return self._rescan(nodes)
        changed: set[str] = set()
        for nid in changed_nodes:
            node = nodes.get(nid)
            if node is None:
                return self._rescan(nodes)
            self._seen.add(nid)
            self._take(nid, node, changed)
        if len(self._seen) != len(nodes):
            return self._rescan(nodes)  # a node came or went unreported
        self._sum_others(changed)
        return f"{self._done}/{self._total}", changed

    def _rescan(self, nodes: Mapping[str, dict[str, Any]]) -> tuple[str, set[str]]:
        self._reset()
        self._fresh = False
        changed: set[str] = set()
        for nid, node in nodes.items():
            self._take(nid, node, changed)
        self._seen = set(nodes)
        self._sum_others(changed)
        return f"{self._done}/{self._total}", changed

    def _take(self, nid: str, node: dict[str, Any], changed: set[str]) -> None:
        """Account for one node as it is now (its own progress set when executable)."""
        children = node.get("children")
        if self._below.get(nid) is not children:
            self._version += 1
            if children:
                self._below[nid] = children
            else:
                self._below.pop(nid, None)
        n = self._own_n.pop(nid, 0)
        m = self._own_m.pop(nid, 0)
        self._done -= n
        self._total -= m
        if node.get("type") not in _EXECUTABLE:
            self._others[nid] = node
            return
        self._others.pop(nid, None)
        parsed = _own_progress(nid, node, changed)
        if parsed is None:
            return
        n, m = parsed
        self._own_n[nid] = n
        self._own_m[nid] = m
        self._done += n
        self._total += m

    def _sum_others(self, changed: set[str]) -> None:
        own_n, own_m, below = self._own_n, self._own_m, self._below
        shape = (self._version, len(below), sum(map(len, below.values())))
        if shape != self._shape:
            self._shape, self._reach, self._reached = shape, {}, 0
        zeros = itertools.repeat(0)
        for nid, node in self._others.items():
            reach = self._reach.get(nid)
            if reach is None:
                reach = self._reachable(node)
                if self._reached + len(reach) <= _REACH_MOST + 4 * len(self._seen):
                    self._reach[nid] = reach
                    self._reached += len(reach)
            n = sum(map(own_n.get, reach, zeros))
            m = sum(map(own_m.get, reach, zeros))
            if m > 0:
                value = f"{n}/{m}"
                if node.get("progress") != value:
                    node["progress"] = value
                    changed.add(nid)

    def _reachable(self, node: Mapping[str, Any]) -> set[str]:
        """Every node reachable from `node` through children, level by level; a child that
        is not a node counts nothing and leads nowhere."""
        below = self._below
        level = set(node.get("children") or ())
        seen = set(level)
        while level:
            parents = level & below.keys()
            level = set()
            for parent in parents:
                level.update(below[parent])
            level -= seen
            seen |= level
        return seen


_REACH_MOST = 1_000_000  # node IDs kept in reach sets, beyond four per node of the run
