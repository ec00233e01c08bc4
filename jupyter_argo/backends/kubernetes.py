"""The Kubernetes backend: Argo Workflows on a cluster, behind the shared Backend protocol.

Workflows are `argoproj.io/v1alpha1` custom resources that Argo's controller runs; this
backend creates them, watches them (pushed by the API server, resumed after dropped
connections and restarts), reads their logs and artifacts, and acts on them exactly as
the Argo server and CLI do. Credentials come from the kubeconfig's current context (or
`context`), else from the in-cluster service account; the namespace from that context
unless given. Nothing connects until the first call.
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from jupyter_argo.backends._k8s.actions import (
    LABEL_INSTANCE_ID,
    check_instance,
    label_instance,
    override_parameters,
    parse_from,
    workflow_from,
)
from jupyter_argo.backends._k8s.cluster import KINDS, PODS, WORKFLOWS, Cluster, Conflict, connect
from jupyter_argo.backends._k8s.nodes import hydrated, is_offloaded, offload_error, repacked
from jupyter_argo.backends._k8s.watch import FINAL_PHASES, watch_workflow
from jupyter_argo.backends.base import last_snapshot
from jupyter_argo.errors import ConfigError, NotFoundError, UserError

__all__ = ["KubernetesBackend"]

APPLY_KINDS = ("WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow", "ConfigMap", "Secret")
_CONFLICT_RETRIES = 5


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class KubernetesBackend:
    """Runs workflows on the cluster of a kubeconfig context, through Argo's controller.

    Settings: `kubeconfig` (a path; default `$KUBECONFIG` or `~/.kube/config`),
    `controller_namespace` and `controller_configmap` (where Argo's controller keeps its
    default artifact repository), `reconnect_for` (seconds a watch keeps retrying while
    the API server is unreachable), `instance_id` (the controller's `instanceID`, as
    `argo --instanceid`; default `$ARGO_INSTANCEID`: submitted workflows carry it in
    their `workflows.argoproj.io/controller-instanceid` label, and only workflows with
    that label are listed and acted on), `pending_notice` (seconds a watched workflow may
    stay without status before the watch says, once, that Argo's controller seems not to
    be running; None or 0: never). The notice goes to `notify` (a callable taking one line;
    default: the line on stderr) and the watch goes on: the run starts when the
    controller does."""

    name = "kubernetes"

    def __init__(
        self,
        namespace: str | None = None,
        context: str | None = None,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        controller_namespace: str = "argo",
        controller_configmap: str = "workflow-controller-configmap",
        reconnect_for: float = 300.0,
        instance_id: str | None = None,
        pending_notice: float | None = 5.0,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise ConfigError(
                f"unknown kubernetes backend setting(s): {', '.join(sorted(unknown))} (known: "
                "namespace, context, kubeconfig, controller_namespace, controller_configmap, "
                "reconnect_for, instance_id, pending_notice)"
            )
        if instance_id is None:
            instance_id = os.environ.get("ARGO_INSTANCEID") or None
        self.instance_id = instance_id or None
        self.pending_notice = pending_notice
        self.notify: Callable[[str], object] = _to_stderr
        self._namespace = namespace
        self._context = context
        self._kubeconfig = kubeconfig
        self.controller_namespace = controller_namespace
        self.controller_configmap = controller_configmap
        self.reconnect_for = reconnect_for
        self._cluster: Cluster | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = f"context={self._context!r}" if self._context else "current context"
        return f"<KubernetesBackend {where} namespace={self._namespace or '(from context)'}>"

    @property
    def cluster(self) -> Cluster:
        """The connection (made on first use)."""
        with self._lock:
            if self._cluster is None:
                self._cluster = connect(self._context, self._kubeconfig)
            return self._cluster

    def close(self) -> None:
        """Close the connections to the API server (a later call opens new ones)."""
        with self._lock:
            cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.api.rest_client.pool_manager.clear()
            cluster.api.close()

    @property
    def namespace(self) -> str:
        """The namespace used when a call names none: given, else the context's."""
        return self._namespace or self.cluster.namespace

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace

    # ---- objects ---------------------------------------------------------------------

    def apply(self, manifest: Mapping[str, Any], namespace: str | None = None) -> str:
        """Create or replace a WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow,
        ConfigMap or Secret; returns `created`, `configured` or `unchanged`."""
        kind_name = str(manifest.get("kind", ""))
        if kind_name not in APPLY_KINDS:
            raise UserError(
                f"{kind_name or 'this document'} cannot be applied (only {', '.join(APPLY_KINDS)})"
            )
        kind = KINDS[kind_name]
        body = copy.deepcopy(dict(manifest))
        body.setdefault("apiVersion", f"{kind.group}/{kind.version}" if kind.group else "v1")
        meta = body.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            raise UserError(f"{kind_name} has no metadata.name")
        ns = None
        if kind.namespaced:
            ns = str(meta.get("namespace") or self._ns(namespace))
            meta["namespace"] = ns
        try:
            self.cluster.request("create", kind, ns, body=body)
            return "created"
        except Conflict as err:
            if err.reason != "AlreadyExists":
                raise
        for _ in range(_CONFLICT_RETRIES):
            existing = self.cluster.request("get", kind, ns, name)
            version = existing["metadata"]["resourceVersion"]
            meta["resourceVersion"] = version
            try:
                replaced = self.cluster.request("update", kind, ns, name, body=body)
            except Conflict:
                continue
            changed = replaced["metadata"]["resourceVersion"] != version
            return "configured" if changed else "unchanged"
        raise UserError(f"{kind_name} {name} kept changing while it was being replaced")

    def template_store(self, namespace: str | None = None) -> _TemplateStore:
        """The cluster's WorkflowTemplates, for lint to resolve `templateRef`s against."""
        return _TemplateStore(self, self._ns(namespace))

    # ---- workflows ---------------------------------------------------------------------

    def submit(
        self,
        manifest: Mapping[str, Any],
        *,
        namespace: str | None = None,
        parameters: Mapping[str, str] | None = None,
        entrypoint: str | None = None,
        name: str | None = None,
        generate_name: str | None = None,
        server_dry_run: bool = False,
    ) -> dict[str, Any]:
        """Create the Workflow (Argo's controller then runs it); returns it as created.
        With `server_dry_run`, the API server checks and completes it but stores nothing."""
        if manifest.get("kind") not in ("Workflow", None):
            raise UserError(f"only a Workflow can be submitted, not a {manifest.get('kind')}")
        workflow = copy.deepcopy(dict(manifest))
        workflow["apiVersion"] = "argoproj.io/v1alpha1"
        workflow["kind"] = "Workflow"
        meta = workflow.setdefault("metadata", {})
        ns = str(namespace or meta.get("namespace") or self.namespace)
        meta["namespace"] = ns
        if name:
            meta["name"] = name
            meta.pop("generateName", None)
        elif generate_name:
            meta["generateName"] = generate_name
            meta.pop("name", None)
        spec = workflow.setdefault("spec", {})
        if entrypoint:
            spec["entrypoint"] = entrypoint
        workflow.pop("status", None)
        if parameters:
            override_parameters(workflow, parameters)
        label_instance(workflow, self.instance_id)
        query = {"dryRun": "All"} if server_dry_run else None
        created = self.cluster.request("create", WORKFLOWS, ns, body=workflow, query=query)
        return hydrated(created)

    def submit_from(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        parameters: Mapping[str, str] | None = None,
        entrypoint: str | None = None,
        name: str | None = None,
        generate_name: str | None = None,
        server_dry_run: bool = False,
    ) -> dict[str, Any]:
        """`argo submit --from kind/name`: a Workflow made from a WorkflowTemplate,
        ClusterWorkflowTemplate (a `workflowTemplateRef` to it) or CronWorkflow (its
        workflowSpec), as the Argo server's SubmitWorkflow makes it."""
        kind, source_name = parse_from(resource)
        ns = self._ns(namespace)
        found_kind = KINDS[kind]
        source = self.cluster.request(
            "get", found_kind, ns if found_kind.namespaced else None, source_name
        )
        if kind != "CronWorkflow":
            check_instance(source, self.instance_id)
        workflow = workflow_from(kind, source_name, source)
        label_instance(workflow, self.instance_id)
        meta = workflow["metadata"]
        meta["namespace"] = ns
        spec = workflow["spec"]
        if entrypoint:
            spec["entrypoint"] = entrypoint
        if parameters:
            override_parameters(workflow, parameters)
        if generate_name:
            meta["generateName"] = generate_name
        if name:
            meta["name"] = name
        query = {"dryRun": "All"} if server_dry_run else None
        created = self.cluster.request("create", WORKFLOWS, ns, body=workflow, query=query)
        return hydrated(created)

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        return hydrated(self.cluster.request("get", WORKFLOWS, self._ns(namespace), name))

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """The namespace's Workflows, newest first."""
        selector = (
            f"{LABEL_INSTANCE_ID}={self.instance_id}"
            if self.instance_id
            else f"!{LABEL_INSTANCE_ID}"
        )
        listing = self.cluster.request(
            "list", WORKFLOWS, self._ns(namespace), query={"labelSelector": selector}
        )
        items = [hydrated(item) for item in listing.get("items") or []]
        items.sort(key=lambda w: w["metadata"].get("name", ""))
        items.sort(key=lambda w: w["metadata"].get("creationTimestamp", ""), reverse=True)
        return items

    def watch(
        self, name: str, namespace: str | None = None, *, timeout: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """The Workflow now and after every change the API server pushes, until its phase
        is final (or `timeout` seconds pass)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ns = self._ns(namespace)
        after = self.pending_notice

        def pending(workflow: Mapping[str, Any]) -> None:
            self.notify(self.pending_message(name, ns, after or 0.0))

        return watch_workflow(
            self.cluster,
            name,
            ns,
            deadline=deadline,
            reconnect_for=self.reconnect_for,
            pending_after=after or 0.0,
            on_pending=pending if after else None,
        )

    def pending_message(self, name: str, namespace: str, seconds: float) -> str:
        """The one line said when workflow `name` has had no status for `seconds`."""
        where = self.controller_namespace
        instance = f" with instanceID {self.instance_id}" if self.instance_id else ""
        return (
            f"workflow {name} (namespace {namespace}) has no status after {seconds:g} s: is "
            f"Argo's workflow-controller{instance} running in namespace {where}? (kubectl -n "
            f"{where} get pods; the run is kept and will start when it does)"
        )

    def wait(
        self, name: str, namespace: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        return last_snapshot(
            self.watch(name, namespace, timeout=timeout), lambda: self.get(name, namespace)
        )

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
        """(pod name, line) of the workflow's pods (found by their workflow label), merged
        by time like `argo logs`; `container` is main unless asked (init, wait, a
        sidecar). A deleted pod's main log comes from its archived `main-logs` artifact.
        `node` is a node ID, name, display name or a node field selector
        (`displayName=step-a`)."""
        from jupyter_argo.backends._k8s.logs import LogOptions, LogReader

        def open_artifact(
            artifact: Mapping[str, Any], ns: str, workflow: Mapping[str, Any]
        ) -> Path:
            return self.open_artifact(artifact, ns, workflow=workflow)

        options = LogOptions(
            container,
            timestamps=timestamps,
            since_seconds=since_seconds,
            tail=tail,
            grep=grep,
        )
        reader = LogReader(self.cluster, self.get, self.watch, open_artifact)
        return reader.logs(name, self._ns(namespace), node, follow, options)

    def open_artifact(
        self,
        artifact: Mapping[str, Any],
        namespace: str | None = None,
        *,
        workflow: Mapping[str, Any] | str | None = None,
        node: str | None = None,
    ) -> Path:
        """A local copy of an artifact from a node's status, unpacked, found as Argo finds
        it (`jupyter_argo.artifacts._resolve`): pass the Workflow (or its name) and the
        node's ID; without a workflow, key-only artifacts are looked for in the namespace's
        default repository, else the controller's."""
        from jupyter_argo import artifacts
        from jupyter_argo.backends._k8s.repository import ClusterRepositories, secret_lookup

        ns = self._ns(namespace)
        if isinstance(workflow, str):
            workflow = self.get(workflow, ns)
        source = ClusterRepositories(
            self.cluster, self.controller_namespace, self.controller_configmap
        )
        return artifacts.fetch_artifact(
            artifact,
            source=source,
            workflow=workflow,
            node=node,
            namespace=ns,
            secrets=secret_lookup(self.cluster, ns),
        )

    # ---- actions ---------------------------------------------------------------------------

    def stop(
        self,
        name: str,
        namespace: str | None = None,
        *,
        node_field_selector: str | None = None,
        message: str | None = None,
    ) -> None:
        """`argo stop`: `spec.shutdown: Stop`; running steps end, exit handlers still run.
        With `node_field_selector`, only the matching active suspend nodes stop: they are
        marked Failed with `message`, as `argo stop --node-field-selector` does."""
        ns = self._ns(namespace)
        if node_field_selector:
            self.set_node(
                name, ns, node_field_selector=node_field_selector, phase="Failed", message=message
            )
            return
        self._shutdown(name, ns, "Stop")

    def terminate(
        self, name: str, namespace: str | None = None, *, message: str | None = None
    ) -> None:
        """`argo terminate`: `spec.shutdown: Terminate`; no exit handlers. The controller
        writes the message ("Stopped with strategy 'Terminate'"), so `message` is unused."""
        self._shutdown(name, self._ns(namespace), "Terminate")

    def _shutdown(self, name: str, ns: str, strategy: str) -> None:
        workflow = self.cluster.request("get", WORKFLOWS, ns, name)
        check_instance(workflow, self.instance_id)
        if (workflow.get("status") or {}).get("phase") in FINAL_PHASES:
            raise UserError(
                f'cannot shutdown a completed workflow: workflow: "{name}", namespace: "{ns}"'
            )
        patch = {"spec": {"shutdown": strategy}}
        self.cluster.request("patch", WORKFLOWS, ns, name, body=patch)

    def suspend(self, name: str, namespace: str | None = None) -> None:
        """`argo suspend`: `spec.suspend: true`."""
        ns = self._ns(namespace)
        for _ in range(_CONFLICT_RETRIES):
            workflow = self.cluster.request("get", WORKFLOWS, ns, name)
            check_instance(workflow, self.instance_id)
            labels = workflow["metadata"].get("labels") or {}
            if labels.get("workflows.argoproj.io/completed") == "true":
                raise UserError("cannot suspend completed workflows")
            if workflow.get("spec", {}).get("suspend"):
                return
            workflow.setdefault("spec", {})["suspend"] = True
            try:
                self.cluster.request("update", WORKFLOWS, ns, name, body=workflow)
                return
            except Conflict:
                continue
        raise UserError(f"workflow {name} kept changing; suspend it again")

    def resume(self, name: str, namespace: str | None = None, *, node: str | None = None) -> None:
        """`argo resume`: unset `spec.suspend` and complete the active suspend nodes, or
        with `node` (ID, name, display name or field selector) only the matching ones."""
        from jupyter_argo.backends._k8s.actions import resume_nodes

        self._update_nodes(name, namespace, "resume", lambda wf: resume_nodes(wf, node))

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
        """`argo node set`: on the active suspend nodes matching `node_field_selector`,
        set the phase (Succeeded, Failed or Error), the message and `supplied` output
        parameters; fails when no suspend node matches."""
        from jupyter_argo.backends._k8s.actions import set_nodes

        def change(workflow: dict[str, Any]) -> bool:
            set_nodes(
                workflow,
                node_field_selector,
                phase=phase,
                message=message,
                output_parameters=output_parameters,
            )
            return True

        self._update_nodes(name, namespace, "set", change)

    def _update_nodes(self, name: str, namespace: str | None, verb: str, change: Any) -> None:
        """Read, change (`change(workflow) -> changed?`) and write back the whole object,
        as Argo does, again on a conflict."""
        ns = self._ns(namespace)
        for _ in range(_CONFLICT_RETRIES):
            original = self.cluster.request("get", WORKFLOWS, ns, name)
            check_instance(original, self.instance_id)
            if is_offloaded(original):
                raise offload_error(original, f"its nodes cannot be {verb} here")
            workflow = hydrated(copy.deepcopy(original))
            if not change(workflow):
                return
            try:
                self.cluster.request(
                    "update", WORKFLOWS, ns, name, body=repacked(original, workflow)
                )
                return
            except Conflict:
                continue
        raise UserError(f"workflow {name} kept changing; {verb} it again")

    def retry(
        self,
        name: str,
        namespace: str | None = None,
        *,
        restart_successful: bool = False,
        node: str | None = None,
        node_field_selector: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """`argo retry`: the failed nodes (and their pods) go, their ancestors restart, the
        rest is kept; the controller then runs what is missing. Same name. With
        `restart_successful`, the nodes matching `node_field_selector` (or `node`: a
        selector, or an ID, name or display name) run again too, as `--restart-successful
        --node-field-selector` do; `parameters` override the arguments as `-p` does."""
        from jupyter_argo.backends._k8s.actions import formulate_retry

        ns = self._ns(namespace)
        original = self.cluster.request("get", WORKFLOWS, ns, name)
        check_instance(original, self.instance_id)
        if is_offloaded(original):
            raise offload_error(original, "it cannot be retried here")
        workflow, pods = formulate_retry(
            hydrated(copy.deepcopy(original)),
            restart_successful=restart_successful,
            node=node_field_selector or node,
            parameters=parameters,
        )
        for pod in pods:
            with contextlib.suppress(NotFoundError):  # already gone is fine
                self.cluster.request(
                    "delete", PODS, ns, pod, query={"propagationPolicy": "Background"}
                )
        updated = self.cluster.request(
            "update", WORKFLOWS, ns, name, body=repacked(original, workflow)
        )
        return hydrated(updated)

    def resubmit(
        self,
        name: str,
        namespace: str | None = None,
        *,
        memoized: bool = False,
        parameters: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """`argo resubmit`: a new Workflow with the same spec and a generated name; with
        `memoized` (a Failed or Error workflow), its succeeded steps are kept as Skipped
        nodes and not run again; `parameters` override the arguments as `-p` does."""
        from jupyter_argo.backends._k8s.actions import formulate_resubmit

        ns = self._ns(namespace)
        original = self.cluster.request("get", WORKFLOWS, ns, name)
        check_instance(original, self.instance_id)
        if memoized and is_offloaded(original):
            raise offload_error(original, "it cannot be resubmitted memoized here")
        fresh = formulate_resubmit(hydrated(original), memoized=memoized, parameters=parameters)
        fresh["metadata"]["namespace"] = ns
        return hydrated(self.cluster.request("create", WORKFLOWS, ns, body=fresh))

    def delete(self, name: str, namespace: str | None = None, *, force: bool = False) -> None:
        """`argo delete`. Finalizers (artifact garbage collection) keep the Workflow until
        the controller is done with it; `force` removes them first, as `--force` does."""
        ns = self._ns(namespace)
        query = {"propagationPolicy": "Background"}
        if not force:
            self.cluster.request("delete", WORKFLOWS, ns, name, query=query)
            return
        patch = {"metadata": {"finalizers": None}}
        self.cluster.request("patch", WORKFLOWS, ns, name, body=patch)
        # Without finalizers a Workflow already being deleted is gone at once.
        with contextlib.suppress(NotFoundError):
            self.cluster.request("delete", WORKFLOWS, ns, name, query=query)


class _TemplateStore:
    available = True

    def __init__(self, backend: KubernetesBackend, namespace: str) -> None:
        self._backend = backend
        self._namespace = namespace

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        if kind not in KINDS:
            return None
        try:
            found: dict[str, Any] = self._backend.cluster.request(
                "get", KINDS[kind], self._namespace, name
            )
        except NotFoundError:
            return None
        return found
