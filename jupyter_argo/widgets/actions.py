"""The view's buttons: a run's actions, as the Argo UI offers them, done by its backend.

Which actions a workflow offers follows the Argo UI (`ui/src/shared/workflow-operations-
map.ts`): retry a Failed or Error run; suspend a Running one that is not suspended;
resume a suspended one (`spec.suspend`, or a Suspend node running); stop and terminate a
Running one. A suspended node offers its own resume, with a field for each of its input
parameters (a choice when it has an `enum`, starting at its default); as in the UI, the
values become the node's output parameters (`argo node set`) before it is resumed.

Every action is the backend's own (`Backend.suspend`, `resume`, `stop`, `terminate`,
`retry`, `set_node`), so a button does on each backend what `%argo` and the CLI do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ACTIONS", "RunActions", "available", "suspended_inputs"]

ACTIONS = ("retry", "suspend", "resume", "stop", "terminate")


def _suspended_nodes(workflow: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    if not isinstance(nodes, Mapping):
        return []
    return [
        n
        for n in nodes.values()
        if isinstance(n, Mapping) and n.get("type") == "Suspend" and n.get("phase") == "Running"
    ]


def available(workflow: Mapping[str, Any]) -> list[str]:
    """The workflow actions the Argo UI enables for `workflow`, in `ACTIONS` order (it
    offers retry by phase alone, the others only with a spec)."""
    spec = workflow.get("spec")
    spec = spec if isinstance(spec, Mapping) else None
    status = workflow.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    running = spec is not None and phase == "Running"
    suspended = spec is not None and (bool(spec.get("suspend")) or bool(_suspended_nodes(workflow)))
    offered = {
        "retry": phase in ("Failed", "Error"),
        "suspend": running and not suspended,
        "resume": suspended,
        "stop": running,
        "terminate": running,
    }
    return [a for a in ACTIONS if offered[a]]


def suspended_inputs(node: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The fields of a suspended node's resume form (None: the node is not suspended):
    its input parameters, an enum's value starting at its default, as the Argo UI has."""
    if node.get("type") != "Suspend" or node.get("phase") != "Running":
        return None
    inputs = node.get("inputs") or {}
    fields = []
    for p in (inputs.get("parameters") or ()) if isinstance(inputs, Mapping) else ():
        if not isinstance(p, Mapping) or not p.get("name"):
            continue
        enum = [str(v) for v in p.get("enum") or ()]
        default = "" if p.get("default") is None else str(p["default"])
        value = default if enum else str(p.get("value") if p.get("value") is not None else default)
        fields.append(
            {
                "name": str(p["name"]),
                "value": value,
                "enum": enum,
                "description": str(p.get("description") or ""),
            }
        )
    return fields


class RunActions:
    """Does a view's actions on one run; `retried` is called after a retry (the caller
    follows the run again in the same view)."""

    def __init__(
        self,
        backend: Any,
        name: str,
        namespace: str | None,
        *,
        retried: Callable[[], object] | None = None,
    ) -> None:
        self._backend = backend
        self._name = name
        self._namespace = namespace
        self._retried = retried

    def __call__(
        self, action: str, node: str = "", parameters: Mapping[str, str] | None = None
    ) -> None:
        """Do `action` (on `node`, a node ID, for a node's resume, its output parameters
        set first to `parameters`). Raises the backend's error (Argo's message) when
        refused."""
        backend, name, namespace = self._backend, self._name, self._namespace
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        if action == "resume" and node:
            selector = f"id={node}"
            if parameters:
                backend.set_node(
                    name,
                    namespace,
                    node_field_selector=selector,
                    output_parameters=dict(parameters),
                )
            backend.resume(name, namespace, node=selector)
        elif action == "retry":
            backend.retry(name, namespace)
            if self._retried is not None:
                self._retried()
        else:
            getattr(backend, action)(name, namespace)
