"""Argo's status model, shared by every backend: phases, node types, IDs and names.

The status itself stays Argo's `Workflow.status` as plain JSON-shaped dicts; this module
only names its vocabulary and computes what Argo computes (node IDs, pod names).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from jupyter_argo.errors import UserError

__all__ = [
    "NodePhase",
    "NodeType",
    "WorkflowPhase",
    "duration_seconds",
    "fnv32a",
    "format_time",
    "is_completed",
    "is_fulfilled",
    "node_id",
    "now",
    "pod_name",
]


class NodePhase(str, Enum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    SKIPPED = "Skipped"
    FAILED = "Failed"
    ERROR = "Error"
    OMITTED = "Omitted"

    def __str__(self) -> str:
        return self.value


class NodeType(str, Enum):
    POD = "Pod"
    CONTAINER = "Container"
    STEPS = "Steps"
    STEP_GROUP = "StepGroup"
    DAG = "DAG"
    TASK_GROUP = "TaskGroup"
    RETRY = "Retry"
    SKIPPED = "Skipped"
    SUSPEND = "Suspend"
    HTTP = "HTTP"
    PLUGIN = "Plugin"

    def __str__(self) -> str:
        return self.value


class WorkflowPhase(str, Enum):
    UNKNOWN = ""
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"

    def __str__(self) -> str:
        return self.value


_FULFILLED = {"Succeeded", "Failed", "Error", "Skipped", "Omitted"}
_COMPLETED = {"Succeeded", "Failed", "Error"}


def is_fulfilled(phase: str) -> bool:
    """Argo's NodePhase.Fulfilled: the node will not change phase again."""
    return phase in _FULFILLED


def is_completed(phase: str) -> bool:
    """Argo's NodeStatus.Completed: fulfilled by actually running."""
    return phase in _COMPLETED


# A node's ID and pod name are asked for many times, from its start to its end: room for
# every node of a loop of many thousand items started at once.
@functools.lru_cache(maxsize=1 << 15)
def fnv32a(text: str) -> int:
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def node_id(workflow_name: str, node_name: str) -> str:
    """Argo's Workflow.NodeID: the root node's ID is the workflow name."""
    if node_name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{fnv32a(node_name)}"


_MAX_POD_PREFIX = 253 - 10


def pod_name(workflow_name: str, node_name: str, template_name: str) -> str:
    """Argo's pod name v2: `<workflow>-<template>-<fnv32a(node name)>`."""
    if workflow_name == node_name:
        return workflow_name
    prefix = f"{workflow_name}-{template_name}" if template_name else workflow_name
    prefix = prefix[: _MAX_POD_PREFIX - 1]
    return f"{prefix}-{fnv32a(node_name)}"


def now() -> datetime:
    return datetime.now(timezone.utc)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with seconds, as Kubernetes' metav1.Time marshals."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_stamp: tuple[int, str] = (-1, "")


def format_now() -> str:
    """`format_time(now())`, formatted once per second (every node's start and end)."""
    global _stamp
    second = int(time.time())
    cached = _stamp
    if cached[0] != second:
        cached = _stamp = (second, format_time(datetime.fromtimestamp(second, timezone.utc)))
    return cached[1]


def node_duration(node: Mapping[str, Any]) -> float:
    """Seconds between a node's startedAt and finishedAt (or now while running)."""
    start = node.get("startedAt")
    if not start:
        return 0.0
    began = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    end_text = node.get("finishedAt")
    end = (
        datetime.strptime(end_text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        if end_text
        else now()
    )
    return max(0.0, (end - began).total_seconds())


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: Any) -> float:
    """A Go duration (`1m30s`) or a bare number of seconds."""
    raw = str(text).strip()
    if not raw:
        return 0.0
    try:
        return float(raw)
    except ValueError:
        pass
    total = 0.0
    pos = 0
    for match in _DURATION_PART.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(raw):
        raise UserError(f"invalid duration {raw!r} (use e.g. 30s, 1m, 1h30m)")
    return total
