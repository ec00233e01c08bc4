"""Argo's `Workflow.status.nodes` as the graph the view draws.

Argo links nodes through `children`: a Steps node points at its first StepGroup, a
StepGroup at its steps, each step's outbound nodes at the next StepGroup; a DAG node
points at its root tasks and each task's outbound nodes at the tasks that depend on it;
a Retry node at its attempts; a node at its `.onExit` and `.hooks.*` handlers. The
drawing follows the Argo UI (`ui/src/workflows/components/workflow-dag/workflow-dag.tsx`):
edges run from a node to its children, StepGroup and TaskGroup nodes are junction dots,
and the workflow's own exit handler, which is nobody's child, hangs off the outbound
nodes of the root.

Fan-outs fold like the Argo UI's collapsed nodes (`pushChildren`, which folds any node
with more than 3 children): here a fan-out is a node with more than `Collapse.fanout`
children that are parallel work of one kind (the children of a StepGroup, a TaskGroup or
a Retry node, or loop items `name(i:item)`), so a DAG's independent tasks are all drawn.
A fan-out keeps its first and last child and folds the rest, with everything only they
lead to, into one group node per parent ("120 more" / "37 running, 3 failed") that
carries its counts by phase and its failed and running work. `expand` unfolds a parent's
fan-out; leaving it out folds it again. Past a budget of drawn nodes (2,000), further
children fold into their parent's group too, so the drawing stays bounded however big
the run. Which nodes fold depends only on the structure, never on phases, so a
phase-only change never changes the layout.

`sanitise` reads what it can of a malformed Workflow object and says what it could not
(no status, unreadable nodes, children missing from `status.nodes`).
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jupyter_argo.render.style import SHAPES

__all__ = ["Box", "Collapse", "Edge", "Graph", "build_graph", "sanitise"]

_LINE_WIDTH = 28
_ATTEMPT = re.compile(r"^(.*)\((\d+)\)$")
_LOOP_ITEM = re.compile(r"^([^()]*)\((\d+):(.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class Box:
    """One drawn node: an Argo node, or a group standing in for folded ones."""

    id: str  # the Argo node ID, or `<parent ID>/more` for a group
    kind: str  # the Argo node type, or "Group"
    lines: tuple[str, ...]  # label lines, without the phase glyph
    phase: str  # Argo's phase; "Suspended" for a running Suspend node
    hooked: bool = False  # an exit handler or lifecycle hook
    cluster: str = ""  # the Retry node whose attempts this box belongs to
    note: str = ""  # a group's live counts, e.g. "37 running, 3 failed"
    members: tuple[str, ...] = ()  # a group's folded children
    counts: tuple[tuple[str, int], ...] = ()  # a group's work by phase
    failed: tuple[str, ...] = ()  # a group's failed or errored work, in order
    running: tuple[str, ...] = ()  # a group's running work, in order


@dataclass(frozen=True)
class Edge:
    tail: str
    head: str
    hooked: bool = False  # leads to an exit handler or hook: drawn dashed


@dataclass(frozen=True)
class Collapse:
    """When to fold. `above`: fold only runs with more nodes than this."""

    above: int = 0
    fanout: int = 10  # fold fan-outs wider than this to first, group, last
    budget: int = 2000  # draw at most about this many nodes; fold the rest
    expanded: int = 500  # an expanded fan-out still folds past this width


FOLD = Collapse()  # the default
NEVER = Collapse(above=2**62)


@dataclass
class Graph:
    """The drawing's content. `shape_key` changes exactly when a new layout is needed."""

    name: str
    boxes: dict[str, Box]
    edges: list[Edge]
    total: int  # nodes in the status, drawn or folded
    folded: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group: every node in it
    names: dict[str, str] = field(default_factory=dict)  # any node: its display name
    expandable: dict[str, int] = field(default_factory=dict)  # unfolded fan-out: its width
    fans: dict[str, str] = field(default_factory=dict)  # a folded or unfolded fan-out: a name
    problems: tuple[str, ...] = ()  # what could not be drawn, in words
    _key: tuple[object, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def shape_key(self) -> tuple[object, ...]:
        if self._key is None:
            boxes = tuple((b.id, b.kind, b.lines, b.hooked, b.cluster) for b in self.boxes.values())
            edges = tuple((e.tail, e.head, e.hooked) for e in self.edges)
            self._key = (self.name, boxes, edges)
        return self._key

    def phases(self) -> dict[str, str]:
        return {b.id: b.phase for b in self.boxes.values()}

    def notes(self) -> dict[str, str]:
        return {b.id: b.note for b in self.boxes.values() if b.kind == "Group"}

    def groups(self, *, listed: int = 100) -> dict[str, dict[str, Any]]:
        """Each group's live state: counts by phase, its first `listed` failed and running
        items as [ID, name], how many nodes it folds and whose fan-out it is."""
        out: dict[str, dict[str, Any]] = {}
        for box in self.boxes.values():
            if box.kind != "Group":
                continue
            parent = box.id.removesuffix(_GROUP_SUFFIX)
            out[box.id] = {
                "name": self.fans.get(parent, ""),
                "parent": parent,
                "members": len(box.members),
                "nodes": len(self.folded.get(box.id, ())),
                "counts": dict(box.counts),
                "failed": [[n, self.names.get(n, n)] for n in box.failed[:listed]],
                "running": [[n, self.names.get(n, n)] for n in box.running[:listed]],
            }
        return out

    def drawn_names(self) -> dict[str, str]:
        """The display name of each drawn node (not groups): what search matches."""
        return {b: self.names[b] for b in self.boxes if b in self.names}

    def index(self) -> dict[str, list[list[str]]]:
        """What each group folds, as [ID, name] pairs: to search folded nodes by name."""
        return {
            gid: [[n, self.names.get(n, n)] for n in members]
            for gid, members in self.folded.items()
        }

    def kinds(self) -> tuple[str, ...]:
        """The node types drawn, in a fixed order (for the legend)."""
        present = {b.kind for b in self.boxes.values()}
        return tuple(k for k in SHAPES if k in present)


def build_graph(
    workflow: Mapping[str, Any],
    *,
    expand: Collection[str] = (),
    collapse: Collapse = FOLD,
    sanitised: tuple[str, ...] | None = None,
) -> Graph:
    """The graph of one Workflow object. `expand`: IDs of nodes whose fan-out to unfold.

    `sanitised`: the problems `sanitise` found, when `workflow` is its output already.
    """
    if sanitised is None:
        workflow, problems = sanitise(workflow)
    else:
        problems = sanitised
    metadata = workflow["metadata"]
    status = workflow["status"]
    name = str(metadata.get("name") or "")
    nodes: dict[str, Mapping[str, Any]] = status["nodes"]
    if not nodes:
        return _placeholder(name or "workflow", str(status.get("phase") or ""), problems)
    graph = _Builder(name, nodes, set(expand), collapse).build()
    graph.problems = problems
    return graph


def _placeholder(name: str, phase: str, problems: tuple[str, ...]) -> Graph:
    box = Box(id=name, kind="Steps", lines=(_shorten(name),), phase=phase)
    return Graph(name=name, boxes={box.id: box}, edges=[], total=0, problems=problems)


def sanitise(workflow: object) -> tuple[dict[str, Any], tuple[str, ...]]:
    """`workflow` with a readable `metadata`, `status` and `status.nodes` (each node a mapping,
    its `children` a list of IDs in `status.nodes`), and what had to be left out, in words.

    A workflow the controller has not picked up yet has no status: that is said too.
    """
    problems: list[str] = []
    if not isinstance(workflow, Mapping):
        kind = type(workflow).__name__
        return _EMPTY | {"status": {"nodes": {}}}, (f"not a Workflow object (a {kind})",)
    metadata = workflow.get("metadata")
    if not isinstance(metadata, Mapping):
        if metadata is not None:
            problems.append("metadata is not a mapping: no name")
        metadata = {}
    status = workflow.get("status")
    if status is None:
        problems.append("no status yet (no controller has picked it up): nothing to draw")
        status = {}
    elif not isinstance(status, Mapping):
        problems.append(f"status is not a mapping (a {type(status).__name__}): nothing to draw")
        status = {}
    raw = status.get("nodes")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        problems.append(f"status.nodes is not a mapping (a {type(raw).__name__}): not drawn")
        raw = {}
    nodes: dict[str, Mapping[str, Any]] = {}
    unreadable: list[str] = []
    for nid, node in raw.items():
        if (type(node) is dict or isinstance(node, Mapping)) and isinstance(nid, str):
            nodes[nid] = node
            continue
        unreadable.append(str(nid))
    if unreadable:
        problems.append(
            f"{_count(len(unreadable), 'unreadable entry', 'unreadable entries')} in "
            f"status.nodes (e.g. {unreadable[0]!r}): not drawn"
        )
    missing: list[tuple[str, str]] = []
    for nid, node in nodes.items():
        children = node.get("children")
        if children is None:
            continue
        if type(children) is list and all(type(c) is str and c in nodes for c in children):
            continue  # the usual case: nothing to change
        listed = children if isinstance(children, list | tuple) else []
        kept = [c for c in listed if isinstance(c, str) and c in nodes]
        missing += [(nid, str(c)) for c in listed if not (isinstance(c, str) and c in nodes)]
        nodes[nid] = dict(node, children=kept)
    if missing:
        parent, child = missing[0]
        name = str(nodes[parent].get("displayName") or nodes[parent].get("name") or parent)
        problems.append(
            f"{_count(len(missing), 'child', 'children')} missing from status.nodes "
            f"(e.g. {name} -> {child}): not drawn"
        )
    clean = dict(workflow, metadata=dict(metadata), status=dict(status, nodes=nodes))
    return clean, tuple(problems)


_EMPTY: dict[str, Any] = {"metadata": {}}


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


class _Builder:
    def __init__(
        self,
        name: str,
        nodes: dict[str, Mapping[str, Any]],
        expand: set[str],
        collapse: Collapse,
    ) -> None:
        self.name = name
        self.nodes = nodes
        self.expand = expand
        self.collapse = collapse
        self.kids = {
            nid: [c for c in (node.get("children") or ()) if c in nodes]
            for nid, node in nodes.items()
        }
        self._hooks: dict[str, bool] = {}
        self.exit_id = next(
            (nid for nid, n in nodes.items() if n.get("name") == f"{name}.onExit"), None
        )

    def build(self) -> Graph:
        order, folded = self._select()
        owner, groups = self._fold(order, folded)
        order = _unfold_singles(order, owner, groups)
        edges = self._edges(order, owner)
        boxes = self._boxes(order, groups, owner)
        owned: dict[str, list[str]] = {}
        for nid, group in owner.items():
            owned.setdefault(group, []).append(nid)
        names = {nid: _name(self.nodes[nid], nid) for nid in (*owner, *order) if nid in self.nodes}
        expandable = {
            nid: len(self.kids[nid])
            for nid in self.expand
            if nid in boxes and self._fans_out(nid, self.kids[nid], self.collapse.fanout)
        }
        parents = [*expandable, *(g.removesuffix(_GROUP_SUFFIX) for g in groups)]
        fans = {p: self._fan_name(p) for p in parents if p in self.nodes}
        return Graph(
            name=self.name,
            boxes=boxes,
            edges=edges,
            total=len(self.nodes),
            folded={gid: tuple(owned[gid]) for gid in groups},
            names=names,
            expandable=expandable,
            fans=fans,
        )

    def _fan_name(self, parent: str) -> str:
        """What a fan-out is called: its loop's step or task name, else its parent's."""
        for child in self.kids[parent][:1]:
            name = _name(self.nodes[child], child)
            item = _LOOP_ITEM.match(name)
            return item.group(1) if item else name
        return _name(self.nodes[parent], parent)

    def _roots(self) -> list[str]:
        parented: set[str] = set()
        for children in self.kids.values():
            parented.update(children)
        roots = [self.name] if self.name in self.nodes else []
        roots += [
            nid
            for nid in self.nodes
            if nid not in parented and nid != self.name and nid != self.exit_id
        ]
        if self.exit_id is not None:
            roots.append(self.exit_id)  # drawn after everything else, as the Argo UI does
        return roots

    def _select(self) -> tuple[list[str], dict[str, list[str]]]:
        """Breadth first from the roots: which nodes to draw, and what each parent folds.

        `order` lists drawn node IDs, with a group's ID placed right after the first child
        its parent keeps, so Graphviz puts the group between the first and last child.
        """
        large = len(self.nodes) > self.collapse.above
        roots = self._roots()
        seen = set(roots)
        order: list[str] = list(roots)
        folded: dict[str, list[str]] = {}
        queue = deque(roots)
        while queue:
            nid = queue.popleft()
            children = self.kids[nid]
            keep: list[str]
            fold: list[str]
            if not large:
                keep, fold = children, []
            else:
                keep, fold = self._split(nid, children)
            unfolded = nid in self.expand
            for index, child in enumerate(keep):
                if child in seen:
                    continue
                if large and not unfolded and len(seen) >= self.collapse.budget:
                    fold.append(child)
                    continue
                seen.add(child)
                order.append(child)
                queue.append(child)
                if index == 0 and fold:
                    order.append(_group_id(nid))
            fold = [c for c in fold if c not in seen]
            if fold:
                folded[nid] = fold
                group = _group_id(nid)
                if group not in order:
                    order.append(group)
        return order, folded

    def _split(self, nid: str, children: list[str]) -> tuple[list[str], list[str]]:
        width = self.collapse.expanded if nid in self.expand else self.collapse.fanout
        if not self._fans_out(nid, children, width):
            return children, []
        head = width - 1 if nid in self.expand else 1
        return children[:head] + children[-1:], children[head:-1]

    def _fans_out(self, nid: str, children: list[str], width: int) -> bool:
        """More than `width` children doing parallel work of one kind: a group's (StepGroup,
        TaskGroup), a Retry node's attempts, or mostly loop items."""
        if len(children) <= width:
            return False
        if self.nodes[nid].get("type") in _FAN_TYPES:
            return True
        items = sum(1 for c in children if _LOOP_ITEM.match(_name(self.nodes[c], c)))
        return 2 * items >= len(children)

    def _fold(
        self, order: list[str], folded: dict[str, list[str]]
    ) -> tuple[dict[str, str], dict[str, list[str]]]:
        """Assign every folded node, and whatever only it leads to, to one group."""
        drawn = set(order)
        owner: dict[str, str] = {}
        groups: dict[str, list[str]] = {}
        for parent, children in folded.items():
            group = _group_id(parent)
            members = [c for c in children if c not in drawn and c not in owner]
            for child in members:
                owner[child] = group
            queue = deque(members)
            while queue:
                for grandchild in self.kids[queue.popleft()]:
                    if grandchild not in drawn and grandchild not in owner:
                        owner[grandchild] = group
                        queue.append(grandchild)
            if members:
                groups[group] = members
        return owner, groups

    def _edges(self, order: list[str], owner: dict[str, str]) -> list[Edge]:
        drawn = {nid for nid in order if nid in self.nodes}

        def drawn_as(nid: str) -> str | None:
            return nid if nid in drawn else owner.get(nid)

        edges: dict[tuple[str, str], bool] = {}
        for nid in [*(n for n in order if n in drawn), *owner]:
            tail = drawn_as(nid)
            for child in self.kids[nid]:
                head = drawn_as(child)
                if tail is None or head is None or head == tail:
                    continue
                if (tail, head) not in edges:
                    edges[tail, head] = self._hook(child)
        if self.exit_id is not None and self.exit_id in drawn:
            tails = [drawn_as(leaf) for leaf in self._outbound_leaves(self.name)]
            if not tails and self.name in drawn:
                tails = [self.name]
            for tail in tails:
                if tail is not None and tail != self.exit_id:
                    edges.setdefault((tail, self.exit_id), True)
        return [Edge(tail, head, hooked) for (tail, head), hooked in edges.items()]

    def _outbound_leaves(self, root: str) -> list[str]:
        """The Argo UI's getOutboundNodes: the pods a node finishes with."""
        leaves: list[str] = []
        stack, visited = [root], set()
        while stack:
            nid = stack.pop()
            node = self.nodes.get(nid)
            if node is None or nid in visited:
                continue
            visited.add(nid)
            if node.get("type") in ("Pod", "Skipped"):
                leaves.append(nid)
                continue
            stack.extend(reversed(node.get("outboundNodes") or ()))
        return leaves

    def _boxes(
        self, order: list[str], groups: dict[str, list[str]], owner: dict[str, str]
    ) -> dict[str, Box]:
        owned: dict[str, list[str]] = {}
        for nid, group in owner.items():
            owned.setdefault(group, []).append(nid)
        retry_of: dict[str, str] = {}
        for nid in order:
            if self.nodes.get(nid, {}).get("type") == "Retry":
                retry_of[nid] = nid
                for child in self.kids[nid]:
                    retry_of.setdefault(child, nid)
                retry_of.setdefault(_group_id(nid), nid)
        boxes: dict[str, Box] = {}
        for nid in order:
            if nid in self.nodes:
                boxes[nid] = self._box(nid, retry_of)
            elif nid in groups:
                boxes[nid] = self._group(nid, groups[nid], owned[nid], retry_of.get(nid, ""))
        return boxes

    def _box(self, nid: str, retry_of: dict[str, str]) -> Box:
        node = self.nodes[nid]
        kind = str(node.get("type") or "Pod")
        phase = str(node.get("phase") or "")
        if kind == "Suspend" and phase == "Running":
            phase = "Suspended"
        cluster = retry_of.get(nid, "")
        attempt = cluster != "" and cluster != nid
        shape = SHAPES.get(kind)
        lines = _label(node, nid, attempt) if shape is None or shape.labelled else ()
        return Box(
            id=nid, kind=kind, lines=lines, phase=phase, hooked=self._hook(nid), cluster=cluster
        )

    def _hook(self, nid: str) -> bool:
        hooked = self._hooks.get(nid)
        if hooked is None:
            hooked = self._hooks[nid] = _is_hook(self.nodes[nid])
        return hooked

    def _group(self, gid: str, members: list[str], owned: list[str], cluster: str) -> Box:
        # Counts are of the work folded away: pods and the like, however deep; the
        # folded children themselves while they have none yet.
        work = [n for n in owned if self.nodes[n].get("type") in _WORK_TYPES] or members
        phases = [str(self.nodes[n].get("phase") or "") for n in work]
        counts = Counter(phases)
        more = f"{len(members):,} more"
        if len(owned) > len(members):  # whole subtrees folded: say how big
            more += f" ({len(owned):,} nodes)"
        return Box(
            id=gid,
            kind="Group",
            lines=(more,),
            phase=group_phase(counts),
            cluster=cluster,
            note=group_note(counts),
            members=tuple(members),
            counts=tuple(sorted(counts.items())),
            failed=tuple(n for n, p in zip(work, phases, strict=True) if p in ("Failed", "Error")),
            running=tuple(n for n, p in zip(work, phases, strict=True) if p == "Running"),
        )


def _unfold_singles(
    order: list[str], owner: dict[str, str], groups: dict[str, list[str]]
) -> list[str]:
    """A group standing for one node costs as much as the node: draw the node instead."""
    sizes = Counter(owner.values())
    singles = {g: m[0] for g, m in groups.items() if len(m) == 1 and sizes[g] == 1}
    for group, member in singles.items():
        del owner[member], groups[group]
    return [singles.get(nid, nid) for nid in order]


_WORK_TYPES = ("Pod", "Container", "HTTP", "Plugin", "Suspend", "Skipped")
_FAN_TYPES = ("StepGroup", "TaskGroup", "Retry")
_GROUP_SUFFIX = "/more"


def _group_id(parent: str) -> str:
    return f"{parent}{_GROUP_SUFFIX}"


def _name(node: Mapping[str, Any], nid: str) -> str:
    return str(node.get("displayName") or node.get("name") or nid)


def _is_hook(node: Mapping[str, Any]) -> bool:
    name = str(node.get("name") or "")
    flag = node.get("nodeFlag") or {}
    return name.endswith(".onExit") or ".hooks." in name or bool(flag.get("hooked"))


def _label(node: Mapping[str, Any], nid: str, attempt: bool) -> tuple[str, ...]:
    return _label_of(_name(node, nid), attempt)


@lru_cache(maxsize=1 << 16)  # the same names come back with every update of a run
def _label_of(text: str, attempt: bool) -> tuple[str, ...]:
    extra: list[str] = []
    if attempt and (match := _ATTEMPT.match(text)):
        text = match.group(1)
        extra.append(f"attempt {int(match.group(2)) + 1}")
    if match := _LOOP_ITEM.match(text):
        text = match.group(1)
        extra.insert(0, f"{match.group(2)}: {match.group(3)}")
    return tuple(_shorten(line) for line in (text, *extra))


def _shorten(line: str, width: int = _LINE_WIDTH) -> str:
    line = " ".join(line.split())
    if len(line) <= width:
        return line
    half = (width - 1) // 2
    return f"{line[:half]}…{line[-(width - 1 - half) :]}"


_NOTE_ORDER = (
    ("Running", "running"),
    ("Pending", "pending"),
    ("Failed", "failed"),
    ("Error", "errored"),
    ("Succeeded", "succeeded"),
    ("Skipped", "skipped"),
    ("Omitted", "omitted"),
)


def group_note(counts: Mapping[str, int]) -> str:
    """The two most telling counts, e.g. "37 running, 3 failed"."""
    parts = [f"{counts[p]:,} {word}" for p, word in _NOTE_ORDER if counts.get(p)]
    return ", ".join(parts[:2])


def group_phase(counts: Mapping[str, int]) -> str:
    for phase in ("Running", "Pending", "Failed", "Error", "Succeeded"):
        if counts.get(phase):
            return phase
    if counts and all(p in ("Skipped", "Omitted") for p in counts):
        return "Skipped"
    return ""
