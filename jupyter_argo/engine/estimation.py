"""Estimated durations, as Argo's workflow/controller/estimation/ gives them.

A workflow labelled with the WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow it
came from takes as baseline the newest Succeeded workflow with the same label in its
namespace (estimator_factory.go). Its `status.estimatedDuration` is the baseline's
duration, and each node's `estimatedDuration` that of the baseline's node of the same
name (the workflow name swapped); with no baseline, or no such node, there is none.
Durations are whole seconds; zero is not written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Protocol

from jupyter_argo.status import node_id

__all__ = ["Estimator", "estimator_for"]

_LABELS = (
    "workflows.argoproj.io/workflow-template",
    "workflows.argoproj.io/cluster-workflow-template",
    "workflows.argoproj.io/cron-workflow",
)


class _Workflows(Protocol):
    def newest_succeeded(self, namespace: str, label: str, value: str) -> dict[str, Any] | None: ...


def _duration(item: Mapping[str, Any]) -> int:
    """GetDuration in whole seconds: finishedAt - startedAt, 0 while unfinished."""
    started, finished = item.get("startedAt"), item.get("finishedAt")
    if not started or not finished:
        return 0

    def parse(stamp: str) -> datetime:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)

    return int((parse(str(finished)) - parse(str(started))).total_seconds())


class Estimator:
    """Estimates for one workflow from its baseline (None: every estimate is 0)."""

    def __init__(self, name: str, baseline: Mapping[str, Any] | None) -> None:
        self.name = name
        self.baseline = baseline

    def workflow(self) -> int:
        if self.baseline is None:
            return 0
        return _duration(self.baseline.get("status") or {})

    def node(self, node_name: str) -> int:
        if self.baseline is None:
            return 0
        old_name = str(self.baseline["metadata"]["name"])
        old_id = node_id(old_name, node_name.replace(self.name, old_name, 1))
        old = ((self.baseline.get("status") or {}).get("nodes") or {}).get(old_id)
        return 0 if old is None else _duration(old)


def estimator_for(workflow: Mapping[str, Any], store: _Workflows) -> Estimator:
    meta = workflow.get("metadata") or {}
    labels = meta.get("labels") or {}
    for label in _LABELS:
        if label in labels:
            baseline = store.newest_succeeded(
                str(meta.get("namespace", "")), label, str(labels[label])
            )
            return Estimator(str(meta.get("name", "")), baseline)
    return Estimator(str(meta.get("name", "")), None)
