"""The protocol every backend implements, like an httpx transport: small and shared.

Everything is expressed in Argo's own objects: a Workflow is the dict Argo's API returns
(apiVersion, kind, metadata, spec, status), and `status` is Argo's `Workflow.status`
whichever backend ran it, so the Run, the live view and output binding never ask which.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["Backend", "Workflow", "last_snapshot"]

Workflow = dict[str, Any]


@runtime_checkable
class Backend(Protocol):
    name: str

    def apply(self, manifest: Mapping[str, Any], namespace: str | None = None) -> str:
        """Store a WorkflowTemplate, ClusterWorkflowTemplate, ConfigMap or Secret."""
        ...

    def submit(
        self,
        manifest: Mapping[str, Any],
        *,
        namespace: str | None = None,
        parameters: Mapping[str, str] | None = None,
        entrypoint: str | None = None,
        name: str | None = None,
        generate_name: str | None = None,
    ) -> Workflow:
        """Create a Workflow and start it; returns it as created."""
        ...

    def submit_from(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        parameters: Mapping[str, str] | None = None,
        entrypoint: str | None = None,
        name: str | None = None,
        generate_name: str | None = None,
    ) -> Workflow:
        """`argo submit --from kind/name`: a Workflow made from a WorkflowTemplate,
        ClusterWorkflowTemplate or CronWorkflow (`workflowtemplate/NAME`, `cronwf/NAME`...)."""
        ...

    def get(self, name: str, namespace: str | None = None) -> Workflow: ...

    def list(self, namespace: str | None = None) -> list[Workflow]: ...

    def watch(
        self, name: str, namespace: str | None = None, *, timeout: float | None = None
    ) -> Iterator[Workflow]:
        """Snapshots as the workflow changes, pushed by the backend; the last is final."""
        ...

    def wait(
        self, name: str, namespace: str | None = None, timeout: float | None = None
    ) -> Workflow: ...

    def logs(
        self,
        name: str,
        namespace: str | None = None,
        *,
        node: str | None = None,
        follow: bool = False,
        container: str = "main",
        timestamps: bool = False,
        since_seconds: float | None = None,
        tail: int | None = None,
        grep: str | None = None,
    ) -> Iterator[tuple[str, str]]:
        """(pod name, line) pairs, in the order `argo logs` prints them: merged by time
        across pods. `container` (main, init, wait or a sidecar), `timestamps` (each line
        starts with its RFC 3339 time), `since_seconds`, `tail` (lines per container) and
        `grep` (a regular expression lines must match) follow `argo logs`' flags."""
        ...

    def open_artifact(
        self,
        artifact: Mapping[str, Any],
        namespace: str | None = None,
        *,
        workflow: Mapping[str, Any] | str | None = None,
        node: str | None = None,
    ) -> Path:
        """A local copy of an artifact from a node's status, unpacked. `workflow` (the
        Workflow or its name) and `node` (the node's ID) say whose it is: a key-only
        location is resolved as Argo resolves it, from them (`artifacts._resolve`)."""
        ...

    def stop(
        self,
        name: str,
        namespace: str | None = None,
        *,
        node_field_selector: str | None = None,
        message: str | None = None,
    ) -> None:
        """Stop the run (exit handlers still run), or with `node_field_selector` fail only
        the matching active suspend nodes with `message`."""
        ...

    def terminate(
        self, name: str, namespace: str | None = None, *, message: str | None = None
    ) -> None:
        """End the run now, without exit handlers; `message` becomes its message."""
        ...

    def suspend(self, name: str, namespace: str | None = None) -> None: ...

    def resume(
        self, name: str, namespace: str | None = None, *, node: str | None = None
    ) -> None: ...

    def retry(
        self,
        name: str,
        namespace: str | None = None,
        *,
        restart_successful: bool = False,
        node_field_selector: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Workflow:
        """Run the failed part again, same name; `restart_successful` with a node field
        selector reruns matching succeeded nodes too; `parameters` override arguments."""
        ...

    def resubmit(
        self,
        name: str,
        namespace: str | None = None,
        *,
        memoized: bool = False,
        parameters: Mapping[str, str] | None = None,
    ) -> Workflow:
        """A new run of the same spec; `memoized` keeps what succeeded."""
        ...

    def set_node(
        self,
        name: str,
        namespace: str | None = None,
        *,
        node_field_selector: str,
        phase: str | None = None,
        message: str | None = None,
        output_parameters: Mapping[str, str] | None = None,
    ) -> None:
        """`argo node set`: phase, message and supplied outputs of active suspend nodes."""
        ...

    def delete(self, name: str, namespace: str | None = None, *, force: bool = False) -> None: ...


def last_snapshot(watch: Iterator[Workflow], get: Callable[[], Workflow]) -> Workflow:
    """What `wait` returns on every backend: the watch's last snapshot (the final one,
    unless its timeout came first), or the workflow as it is when the watch gave none."""
    last: Workflow | None = None
    for snapshot in watch:
        last = snapshot
    return last if last is not None else get()
