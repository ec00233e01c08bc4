"""Node status offloading for the local store: Argo's `workflow/hydrator/hydrator.go`,
`workflow/packer/packer.go` and `persist/sqldb/offload_node_status_repo.go`.

Argo keeps a Workflow's nodes in the object while its JSON is at most
`MAX_WORKFLOW_SIZE` bytes (1 MiB by default); past that (or always, with
`ALWAYS_OFFLOAD_NODE_STATUS=true`) its controller writes the nodes to its database,
keyed by the workflow's uid and a version, and leaves `status.offloadNodeStatusVersion`
in the object instead of `status.nodes`. Readers hydrate: they load the nodes of that
version back and clear the version (`HydrateWithNodes`), so whoever reads sees the
nodes as if they had never left.

The local store does the same with the same two variables, with one difference that
is the point of doing it here: the nodes sit one row each, and a save writes only the
nodes that changed since the last one, so a run's saves no longer grow with its size
(Argo writes all the nodes as one document per version). Argo compresses nodes
(`status.compressedNodes`) before it offloads; that needs the whole status encoded on
every save, so the local store offloads at the uncompressed size instead.

The version is Argo's form, `fnv:<32-bit number>`, and means what Argo's means: the
same nodes give the same version, any change to any node gives another. Argo hashes
its one encoding of all the nodes (FNV-32); here each node's encoding is hashed on its
own (CRC-32, in C) and the sum of those, with the count, is hashed with FNV-32, so that
a save hashes only what it writes. The numbers therefore differ from those Argo would
compute for the same nodes. Argo keeps older versions for a while (its
OFFLOAD_NODE_STATUS_TTL, 5 minutes), since a reader may hold an older object; here a
save writes the object and its node rows in one SQLite transaction and a read takes
both in one, so only the current version is kept.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ALWAYS_VARIABLE",
    "SIZE_VARIABLE",
    "NodeLedger",
    "always_offload",
    "encode_node",
    "max_workflow_size",
    "version_of",
]

SIZE_VARIABLE = "MAX_WORKFLOW_SIZE"
ALWAYS_VARIABLE = "ALWAYS_OFFLOAD_NODE_STATUS"
DEFAULT_SIZE = 1024 * 1024
VERSION_FIELD = "offloadNodeStatusVersion"
_MASK = 0xFFFFFFFF


def max_workflow_size() -> int:
    """Argo's packer.getMaxWorkflowSize: the variable as a number, 0 or unset for 1 MiB."""
    try:
        size = int(os.environ.get(SIZE_VARIABLE, "").strip() or 0)
    except ValueError:
        size = 0  # Go's strconv.Atoi error, ignored as Argo ignores it
    return size or DEFAULT_SIZE


def always_offload() -> bool:
    """Argo's hydrator: `ALWAYS_OFFLOAD_NODE_STATUS` exactly "true"."""
    return os.environ.get(ALWAYS_VARIABLE) == "true"


def encode_node(node: Mapping[str, Any]) -> str:
    return json.dumps(node)


def _fnv32(data: bytes) -> int:
    """FNV-1, 32 bits (Go's hash/fnv New32, which Argo's version uses)."""
    value = 0x811C9DC5
    for byte in data:
        value = ((value * 0x01000193) & _MASK) ^ byte
    return value


def _node_hash(nid: str, text: str) -> int:
    return zlib.crc32(text.encode(), zlib.crc32(nid.encode()))


def _version(total: int, count: int) -> str:
    return f"fnv:{_fnv32(struct.pack('<IQ', total & _MASK, count))}"


def version_of(nodes: Mapping[str, Mapping[str, Any]]) -> str:
    """The offload version of these nodes (as a save computes it, all at once)."""
    total = sum(_node_hash(nid, encode_node(node)) for nid, node in nodes.items())
    return _version(total, len(nodes))


def _entry(nid: str, text: str) -> int:
    """A node's size in the Workflow's JSON (`"id": {...}, `) and its hash, in one int."""
    return ((len(json.dumps(nid)) + len(text) + 2) << 32) | _node_hash(nid, text)


@dataclass
class NodeLedger:
    """What the store last wrote of one run's nodes: per node its size and hash, and,
    for an engine that shares unchanged node objects between its snapshots, the objects
    themselves, so that the next save encodes only the nodes that are new objects."""

    entries: dict[str, int] = field(default_factory=dict)
    objects: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    size: int = 0
    total: int = 0
    offloaded: bool = False  # as last written
    synced: bool = False  # the store holds what this ledger says

    def update(
        self, nodes: Mapping[str, Mapping[str, Any]], *, shared: bool
    ) -> tuple[dict[str, str], list[str]]:
        """Take in the run's current nodes; returns the changed nodes' encodings and the
        IDs of nodes gone since the last update. With `shared`, a node that is the same
        object as last time is taken as unchanged (the caller never mutates one)."""
        changed: dict[str, str] = {}
        seen = self.objects if shared else {}
        for nid, node in nodes.items():
            if seen.get(nid) is node:
                continue
            text = encode_node(node)
            entry = _entry(nid, text)
            old = self.entries.get(nid)
            if old == entry:
                continue
            if old is not None:
                self.size -= old >> 32
                self.total -= old & _MASK
            self.entries[nid] = entry
            self.size += entry >> 32
            self.total += entry & _MASK
            changed[nid] = text
        # Every current node has an entry now: any more entries are nodes gone.
        gone = [n for n in self.entries if n not in nodes] if len(self.entries) > len(nodes) else []
        for nid in gone:
            old = self.entries.pop(nid)
            self.size -= old >> 32
            self.total -= old & _MASK
        self.objects = dict(nodes) if shared else {}
        return changed, gone

    @property
    def version(self) -> str:
        return _version(self.total, len(self.entries))

    def all_texts(self, nodes: Mapping[str, Mapping[str, Any]]) -> Iterable[tuple[str, str]]:
        """Every node's encoding, one at a time (a first offload writes them all)."""
        for nid, node in nodes.items():
            yield nid, encode_node(node)
