"""Large Argo Workflow objects made to order, shaped as Argo's controller writes them.

For tests and benchmarks of big runs, where a JSON fixture would be megabytes: node
IDs are Argo's (`<workflow>-<fnv32a(node name)>`), names follow Argo's patterns
(`wf[0].step(3:item-3)`, `wf.task`), and children/outboundNodes link as the controller
links them.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["dag_workflow", "fan_out_workflow"]

_START = "2024-05-25T09:00:00Z"
_END = "2024-05-25T09:30:00Z"


def _fnv32a(text: str) -> int:
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


class _Status:
    def __init__(self, name: str, phase: str) -> None:
        self.name = name
        self.nodes: dict[str, dict[str, Any]] = {}
        self.phase = phase

    def id(self, node_name: str) -> str:
        return self.name if node_name == self.name else f"{self.name}-{_fnv32a(node_name)}"

    def add(self, node_name: str, display: str, kind: str, phase: str, **fields: Any) -> str:
        nid = self.id(node_name)
        done = phase in ("Succeeded", "Failed", "Error", "Skipped", "Omitted")
        node: dict[str, Any] = {
            "id": nid,
            "name": node_name,
            "displayName": display,
            "type": kind,
            "phase": phase,
            "templateName": fields.pop("template", "work"),
            "templateScope": f"local/{self.name}",
            "startedAt": _START,
            "finishedAt": _END if done else None,
        }
        if node_name != self.name:
            node["boundaryID"] = self.name
        node.update(fields)
        if kind == "Pod":
            node.setdefault("inputs", {"parameters": [{"name": "message", "value": display}]})
            if done:
                node.setdefault("outputs", {"exitCode": "1" if phase == "Failed" else "0"})
        self.nodes[nid] = node
        return nid

    def workflow(self, spec: dict[str, Any]) -> dict[str, Any]:
        done = self.phase in ("Succeeded", "Failed", "Error")
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": self.name, "namespace": "argo", "creationTimestamp": _START},
            "spec": spec,
            "status": {
                "phase": self.phase,
                "startedAt": _START,
                "finishedAt": _END if done else None,
                "nodes": self.nodes,
            },
        }


def _pod_phase(index: int, running: int, failed: int) -> str:
    if index < failed:
        return "Failed"
    if index < failed + running:
        return "Running"
    return "Succeeded"


def fan_out_workflow(
    width: int,
    *,
    name: str = "fan-out-x2k9q",
    running: int = 0,
    failed: int = 0,
    phase: str | None = None,
) -> dict[str, Any]:
    """Steps: one `withItems` step over `width` items, then one `summarise` step.

    The first `failed` items failed, the next `running` are running, the rest succeeded;
    the `summarise` step exists once no item is running.
    """
    status = _Status(name, phase or ("Running" if running else "Failed" if failed else "Succeeded"))
    group0, group1 = f"{name}[0]", f"{name}[1]"
    items = [f"{group0}.work({i}:item-{i})" for i in range(width)]
    last = f"{group1}.summarise"
    finished = running == 0
    status.add(name, name, "Steps", status.phase, template="main", children=[status.id(group0)])
    status.add(
        group0,
        "[0]",
        "StepGroup",
        "Running" if running else "Failed" if failed else "Succeeded",
        template="main",
        children=[status.id(i) for i in items],
    )
    for index, item in enumerate(items):
        status.add(
            item,
            f"work({index}:item-{index})",
            "Pod",
            _pod_phase(index, running, failed),
            children=[status.id(group1)] if finished else [],
        )
    if finished:
        status.add(
            group1, "[1]", "StepGroup", "Succeeded", template="main", children=[status.id(last)]
        )
        status.add(last, "summarise", "Pod", "Succeeded", template="summarise")
        status.nodes[name]["outboundNodes"] = [status.id(last)]
    spec = {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "steps": [
                    [{"name": "work", "template": "work", "withSequence": {"count": str(width)}}],
                    [{"name": "summarise", "template": "summarise"}],
                ],
            },
            {"name": "work", "container": {"image": "alpine:3.23", "command": ["true"]}},
            {"name": "summarise", "container": {"image": "alpine:3.23", "command": ["true"]}},
        ],
    }
    return status.workflow(spec)


def dag_workflow(
    tasks: int,
    *,
    width: int = 25,
    name: str = "big-dag-7hw3c",
    running: int = 0,
    seed: int = 7,
) -> dict[str, Any]:
    """A DAG of `tasks` pods in layers of `width`; each depends on one or two of the layer above.

    The last `running` tasks are running, the others succeeded.
    """
    rng = random.Random(seed)
    status = _Status(name, "Running" if running else "Succeeded")
    names = [f"{name}.t{index}" for index in range(tasks)]
    children: dict[str, list[str]] = {n: [] for n in names}
    roots: list[str] = []
    for index, task in enumerate(names):
        layer = index // width
        if layer == 0:
            roots.append(task)
            continue
        above = names[(layer - 1) * width : layer * width]
        for parent in rng.sample(above, min(len(above), rng.choice((1, 2)))):
            children[parent].append(task)
    leaves = [n for n in names if not children[n]]
    status.add(
        name,
        name,
        "DAG",
        status.phase,
        template="main",
        children=[status.id(r) for r in roots],
        outboundNodes=[status.id(n) for n in leaves],
    )
    for index, task in enumerate(names):
        task_phase = "Running" if index >= tasks - running else "Succeeded"
        status.add(
            task,
            f"t{index}",
            "Pod",
            task_phase,
            children=[status.id(c) for c in children[task]],
        )
    spec = {
        "entrypoint": "main",
        "templates": [
            {"name": "main", "dag": {"tasks": [{"name": "t0", "template": "work"}]}},
            {"name": "work", "container": {"image": "alpine:3.23", "command": ["true"]}},
        ],
    }
    return status.workflow(spec)
