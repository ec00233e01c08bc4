"""A Workflow's node status as the API holds it: inline, compressed, or offloaded.

Argo's controller keeps `status.nodes` inline until the object grows past its size limit;
then it stores them as `status.compressedNodes` (base64 of gzipped JSON, Argo's
`packer`), and past that it offloads them to its database, leaving only
`status.offloadNodeStatusVersion` behind: the Kubernetes API cannot give those back.
"""

from __future__ import annotations

import base64
import binascii
import copy
import gzip
import json
import zlib
from collections.abc import Mapping
from typing import Any

from jupyter_argo.errors import BackendError, UnsupportedError

__all__ = ["OFFLOADED_CONDITION", "hydrated", "is_offloaded", "offload_error", "repacked"]

OFFLOAD_DOCS = "https://argo-workflows.readthedocs.io/en/latest/offloading-large-workflows/"
OFFLOADED_CONDITION = "NodeStatusOffloaded"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def is_offloaded(workflow: Mapping[str, Any]) -> bool:
    status = workflow.get("status") or {}
    return bool(status.get("offloadNodeStatusVersion")) and not status.get("nodes")


def offload_error(workflow: Mapping[str, Any], what: str) -> UnsupportedError:
    """Why `what` cannot be done on an offloaded workflow, and what to do instead."""
    return UnsupportedError(f"{_offload_note(workflow)}, so {what}. {_offload_advice(workflow)}")


def _offload_note(workflow: Mapping[str, Any]) -> str:
    name = (workflow.get("metadata") or {}).get("name", "")
    return (
        f'workflow "{name}" has its node status offloaded to Argo\'s database '
        "(status.offloadNodeStatusVersion), which the Kubernetes API does not serve"
    )


def _offload_advice(workflow: Mapping[str, Any]) -> str:
    name = (workflow.get("metadata") or {}).get("name", "")
    return (
        f"Use the Argo Server for it (`argo get {name}`, the Argo UI), or let the "
        f"controller keep nodes in the object (MAX_WORKFLOW_SIZE; {OFFLOAD_DOCS})"
    )


def hydrated(workflow: dict[str, Any]) -> dict[str, Any]:
    """The workflow with its nodes in `status.nodes`: compressed nodes are unpacked, and an
    offloaded workflow carries a `NodeStatusOffloaded` condition saying so."""
    status = workflow.get("status") or {}
    packed = status.get("compressedNodes")
    if packed and not status.get("nodes"):
        out = dict(workflow)
        out["status"] = {k: v for k, v in status.items() if k != "compressedNodes"}
        out["status"]["nodes"] = _decompress(str(packed), workflow)
        return out
    if is_offloaded(workflow):
        out = dict(workflow)
        conditions = [
            c for c in status.get("conditions") or [] if c.get("type") != OFFLOADED_CONDITION
        ]
        note = f"{_offload_note(workflow)}. {_offload_advice(workflow)}"
        conditions.append({"type": OFFLOADED_CONDITION, "status": "True", "message": note})
        out["status"] = {**status, "conditions": conditions}
        return out
    return workflow


def repacked(original: Mapping[str, Any], workflow: dict[str, Any]) -> dict[str, Any]:
    """`workflow` ready to be written back: nodes compressed again when `original` had them
    compressed (Argo's Dehydrate), so an update never makes the object larger than it was."""
    status = original.get("status") or {}
    if not status.get("compressedNodes"):
        return workflow
    out = copy.copy(workflow)
    new_status = dict(out.get("status") or {})
    nodes = new_status.pop("nodes", None) or {}
    text = json.dumps(nodes, separators=(",", ":"))
    new_status["compressedNodes"] = base64.b64encode(gzip.compress(text.encode())).decode()
    out["status"] = new_status
    return out


def _decompress(packed: str, workflow: Mapping[str, Any]) -> dict[str, Any]:
    name = (workflow.get("metadata") or {}).get("name", "")
    try:
        raw = base64.b64decode(packed, validate=False)
    except (binascii.Error, ValueError):
        raise BackendError(f'workflow "{name}": status.compressedNodes is not base64') from None
    if raw.startswith(_ZSTD_MAGIC) or not raw.startswith(b"\x1f\x8b"):
        algorithm = "zstd" if raw.startswith(_ZSTD_MAGIC) else "an algorithm other than gzip"
        raise UnsupportedError(
            f'workflow "{name}" has its nodes compressed with {algorithm}; jupyter-argo reads '
            "gzip only (the controller's default: unset WORKFLOW_COMPRESSION_ALGORITHM)"
        )
    try:
        nodes = json.loads(gzip.decompress(raw))
    except (OSError, EOFError, zlib.error, ValueError):
        raise BackendError(f'workflow "{name}": status.compressedNodes is corrupt') from None
    if not isinstance(nodes, dict):
        raise BackendError(f'workflow "{name}": status.compressedNodes is not a node map')
    return nodes
