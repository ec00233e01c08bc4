"""Running a pod node locally: inputs in, containers run, outputs out.

This is what Argo's executor (the `init` and `wait` containers) and the kubelet do for a
pod: place input artifacts, run init containers, sidecars and the main container, then
collect `outputs.result`, `exitCode`, output parameters and artifacts, and set the
node's phase and message as Argo would.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import json
import os
import re
import socket
import time
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from jupyter_argo import expr
from jupyter_argo.engine.objects import (
    configmap_parameter,
    configmap_value,
    secret_keys,
    secret_value,
)
from jupyter_argo.engine.variables import parameter_value
from jupyter_argo.errors import ArgoError, BackendError, UnsupportedError, UserError
from jupyter_argo.executors._inbox import Inbox, inbox
from jupyter_argo.status import pod_name

if TYPE_CHECKING:
    from jupyter_argo.engine.templates import TemplateContext
    from jupyter_argo.executors import (
        ContainerSpec,
        Process,
        ProcessExecutor,
        Sandbox,
        SandboxSpec,
    )
    from jupyter_argo.executors._starting import Starting

__all__ = ["RESULT_LIMIT", "PodHost", "PodOperator"]


class _Lookup(Protocol):
    @property
    def lookup(self) -> Callable[[str, str], dict[str, Any] | None]: ...


class _Slots(Protocol):
    """The workflow's parallelism (operator.py's Limiter)."""

    async def __aenter__(self) -> None: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def acquire_unless(self, stopped: asyncio.Event) -> bool: ...


class PodOperator(Protocol):
    """What a pod needs from the workflow operator running it (operator.py's OperatorCore):
    the run's state, its node bookkeeping and its parallelism. Pods never import the
    operator, which imports them."""

    @property
    def name(self) -> str: ...
    @property
    def wf(self) -> dict[str, Any]: ...
    @property
    def spec(self) -> dict[str, Any]: ...
    @property
    def status(self) -> dict[str, Any]: ...
    @property
    def nodes(self) -> dict[str, dict[str, Any]]: ...
    @property
    def globals(self) -> dict[str, Any]: ...
    @property
    def shutdown(self) -> str: ...
    @property
    def deadline_exceeded(self) -> bool: ...
    @property
    def host(self) -> _Lookup: ...
    @property
    def parallelism(self) -> _Slots: ...
    @property
    def stopped(self) -> asyncio.Event: ...

    def node_by_name(self, name: str) -> dict[str, Any] | None: ...
    def init_node(
        self,
        name: str,
        node_type: str,
        context: TemplateContext,
        holder: Mapping[str, Any],
        boundary_id: str,
        phase: str,
        message: str = "",
    ) -> dict[str, Any]: ...
    def mark(
        self, node: dict[str, Any], phase: str, message: str | None = None
    ) -> dict[str, Any]: ...
    def add_child(self, parent_name: str, child_name: str) -> None: ...
    def add_node_outputs_to_globals(self, outputs: Mapping[str, Any]) -> None: ...
    def background(self, coroutine: Coroutine[Any, Any, Any]) -> None: ...
    async def wait_resumed(self) -> None: ...
    def storage_failed(self, message: str) -> None: ...


# What a step not yet running when the workflow's activeDeadlineSeconds passes says
# (failNodesWithoutCreatedPodsAfterDeadlineOrShutdown); a running pod, whose own deadline
# Argo sets to what is left of the workflow's (workflowpod.go), ends as the kubelet ends it.
DEADLINE_MESSAGE = "Step exceeded its deadline"
POD_DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
# Every local pod shares this machine's network: its IP is the loopback address.
_POD_IP = "127.0.0.1"
# Argo keeps the last 256 KiB of stdout as `outputs.result`.
RESULT_LIMIT = 256 * 1024
RETIRE_WAIT = 0.02  # seconds a finished pod's sandbox waits for the next start

# Artifact transfers and file reads run off the event loop.
_IO = ThreadPoolExecutor(max_workers=8, thread_name_prefix="jupyter-argo-io")


@dataclass
class PodHost:
    """Everything a workflow's pods need from the engine, one per run."""

    executor: ProcessExecutor
    slots: asyncio.Semaphore  # how many pods run at once on this machine
    run_dir: Path  # logs, volumes: kept with the run
    scratch_dir: Path  # each pod's private files while it runs (tmpfs where there is one)
    lookup: Callable[[str, str], dict[str, Any] | None]  # (kind, name) -> object
    artifacts: Any  # jupyter_argo.artifacts.RepositoryConfig for this run
    running: dict[str, list[Process | Starting]] = field(default_factory=dict)
    shutdown_message: dict[str, str] = field(default_factory=dict)
    exit_pods: set[str] = field(default_factory=set)  # nodes of exit handlers
    retired: list[Sandbox] = field(default_factory=list)  # finished, not yet cleaned up
    handoffs: Any = None  # jupyter_argo.artifacts._handoff.Handoffs, with the first output
    # How the last shutdown ended pods (its grace), and whether `kill_all` was called: a
    # process that was starting on a spawning thread then is ended the same way once in.
    shutdown_grace: float = 2.0
    killed: bool = False
    # Worked out once per run rather than once per pod: ARGO_INCLUDE_SCRIPT_OUTPUT by
    # (calling template, step or task name), ARGO_DEADLINE by (seconds, startedAt).
    _script_output: dict[tuple[str, str], bool] = field(default_factory=dict, init=False)
    _deadlines: dict[tuple[Any, Any], str] = field(default_factory=dict, init=False)
    # The containers each running pod has started, by node ID: (name, process).
    _started: dict[str, list[tuple[str, Process | Starting]]] = field(
        default_factory=dict, init=False
    )
    _logs_dir: str = field(init=False)  # (a string: paths below it are joined per pod)
    _retire_timer: bool = field(default=False, init=False)  # `_retire_due` is scheduled

    def __post_init__(self) -> None:
        self._logs_dir = str(self.run_dir / "logs")

    # ---- the store, as a cluster's ConfigMaps and Secrets --------------------------------

    def configmap_value(self, name: str, key: str) -> str | None:
        return configmap_value(self.lookup("ConfigMap", name), key)

    def configmap_parameter(self, name: str, key: str) -> str:
        return configmap_parameter(self.lookup("ConfigMap", name), name, key)

    def secret_value(self, name: str, key: str) -> str | None:
        return secret_value(self.lookup("Secret", name), key)

    # ---- control ---------------------------------------------------------------------

    def shutdown_all(
        self, op: PodOperator, message: str | None = None, *, grace: float = 2.0
    ) -> None:
        self.shutdown_grace = grace
        for nid, processes in list(self.running.items()):
            # A pod ended by the shutdown fails, whatever its process then exits with
            # (a shell that waits returns 0 once its children are killed).
            self.shutdown_message[nid] = message or f"Stopped with strategy '{op.shutdown}'"
            for process in processes:
                process.terminate(grace=grace)

    def _catch_up(self, op: PodOperator, nid: str, process: Process | Starting) -> None:
        """End `process` as a stop, a deadline or a kill that came while it was starting
        (on a spawning thread, not yet in `running`) ended the others."""
        if self.killed:
            process.kill()
        elif op.shutdown and not (nid in self.exit_pods and op.shutdown == "Stop"):
            self.shutdown_message[nid] = f"Stopped with strategy '{op.shutdown}'"
            process.terminate(grace=self.shutdown_grace)
        elif op.deadline_exceeded and nid not in self.exit_pods:
            self.shutdown_message[nid] = POD_DEADLINE_MESSAGE
            process.terminate(grace=2.0)

    def end_at_deadline(self) -> None:
        """The workflow's deadline passed: every running pod but those of exit handlers
        ends Failed, as the kubelet ends a pod past its activeDeadlineSeconds."""
        for nid, processes in list(self.running.items()):
            if nid in self.exit_pods:
                continue
            self.shutdown_message[nid] = POD_DEADLINE_MESSAGE
            for process in processes:
                process.terminate(grace=2.0)

    def kill_all(self) -> None:
        """SIGKILL every running step now; safe from any thread (a last resort)."""
        self.killed = True
        for processes in list(self.running.values()):
            for process in list(processes):
                process.kill()

    # ---- one pod ---------------------------------------------------------------------

    async def run(
        self, op: PodOperator, node: dict[str, Any], tmpl: dict[str, Any], *, on_exit: bool
    ) -> None:
        if not on_exit:
            await op.wait_resumed()
        else:
            self.exit_pods.add(node["id"])
        if op.shutdown and not (on_exit and op.shutdown == "Stop"):
            op.mark(node, "Failed", f"Stopped with strategy '{op.shutdown}'")
            return
        if op.deadline_exceeded and not on_exit:
            op.mark(node, "Failed", DEADLINE_MESSAGE)
            return
        if not await op.parallelism.acquire_unless(op.stopped):
            if not (on_exit and op.shutdown == "Stop"):
                op.mark(node, "Failed", f"Stopped with strategy '{op.shutdown}'")
                return
            await op.parallelism.__aenter__()  # Stop lets exit handlers run: wait on
        try:
            await self.slots.acquire()
            try:
                if op.shutdown and not (on_exit and op.shutdown == "Stop"):
                    op.mark(node, "Failed", f"Stopped with strategy '{op.shutdown}'")
                    return
                if op.deadline_exceeded and not on_exit:
                    op.mark(node, "Failed", DEADLINE_MESSAGE)
                    return
                try:
                    await self._run(op, node, tmpl)
                except ArgoError as err:
                    op.mark(node, "Error", str(err))
                except OSError as err:
                    if _disk_full(err):
                        message = _storage_message(f"the files of node {node['name']}", err)
                        op.storage_failed(message)
                        op.mark(node, "Error", message)
                    else:
                        op.mark(node, "Error", f"{type(err).__name__}: {err}")
            finally:
                self.slots.release()
        finally:
            await op.parallelism.__aexit__()

    async def _run(self, op: PodOperator, node: dict[str, Any], tmpl: dict[str, Any]) -> None:
        if tmpl.get("http") is not None:
            await self._run_http(op, node, tmpl)
            return
        if tmpl.get("resource") is not None:
            raise UnsupportedError(
                f"template '{tmpl.get('name')}': resource templates create Kubernetes objects "
                "and need the kubernetes backend"
            )
        if tmpl.get("data") is not None:
            from jupyter_argo.engine.data import run_data

            node["hostNodeName"] = _host_name()
            if self.handoffs is not None:  # it lists the repository: all of it stored
                await asyncio.get_running_loop().run_in_executor(_IO, self.handoffs.settle)
            await run_data(
                op,
                node,
                tmpl,
                default=self._archive_repository(tmpl),
                secrets=self.secret_value,
                io=_IO,
            )
            return
        SandboxSpec = _specs()[0]
        pod = pod_name(op.name, node["name"], _template_name(node, tmpl))
        node_dir = self.scratch_dir / pod
        logs_dir = f"{self._logs_dir}/{pod}"  # made when a container first prints
        mains = self._main_containers(tmpl)
        reads, writes = _declared_paths(tmpl, mains)
        spec = SandboxSpec(
            node_dir=node_dir,
            declared_paths=reads,
            output_paths=writes,
            shared_mounts=self._volume_mounts(op, tmpl, mains, node_dir),
        )
        sandbox = self.executor.prepare(spec)
        node["hostNodeName"] = _host_name()
        nid = node["id"]
        try:
            await self._load_inputs(op, node, tmpl, sandbox)
            op.mark(node, "Running")
            code, reason = await self._run_containers(op, node, tmpl, mains, sandbox, logs_dir)
            if code is None:
                return  # a daemon: left running, marked daemoned
            await self._collect(op, node, tmpl, sandbox, logs_dir, code, reason)
            if tmpl.get("daemon") and node["phase"] == "Succeeded":
                # A daemon should run until its scope ends: one whose pod succeeded
                # failed (operator.go, assessNodeStatus).
                op.mark(node, "Failed")
        finally:
            started = self._started.pop(nid, [])
            if not node.get("daemoned"):
                self._retire(sandbox)
                # The stdout files served the result only; the logs hold the same bytes:
                # each byte of output is kept once.
                _remove_stdouts(logs_dir, started)

    # Clean-up: a finished pod's sandbox is taken apart on this thread right after the
    # next pod has started (while that one runs), or after RETIRE_WAIT when none starts.

    def _retire(self, sandbox: Sandbox) -> None:
        self.retired.append(sandbox)
        if not self._retire_timer:  # one timer at a time, not one per finished pod
            self._retire_timer = True
            asyncio.get_running_loop().call_later(RETIRE_WAIT, self._retire_due)

    def _retire_due(self) -> None:
        self._retire_timer = False
        if self.retired:
            self.clean_retired()

    def clean_retired(self, *, here: bool = True) -> None:
        retired, self.retired = self.retired, []
        cleanup_all = getattr(self.executor, "cleanup_all", None)
        if cleanup_all is not None:  # (the process executor's: one job for them all)
            cleanup_all(retired, here=here)
            return
        for sandbox in retired:
            sandbox.cleanup(here=here)

    def _main_containers(self, tmpl: Mapping[str, Any]) -> list[dict[str, Any]]:
        if tmpl.get("containerSet") is not None:
            return [dict(c) for c in (tmpl["containerSet"].get("containers") or [])]
        body = tmpl.get("container") if tmpl.get("container") is not None else tmpl.get("script")
        main = dict(body or {})
        main["name"] = "main"  # Argo names a template's container `main`, whatever it says
        return [main]

    async def _run_containers(
        self,
        op: PodOperator,
        node: dict[str, Any],
        tmpl: dict[str, Any],
        mains: list[dict[str, Any]],
        sandbox: Sandbox,
        logs_dir: str,
    ) -> tuple[int | None, str]:
        """Runs init containers, sidecars and the main container(s); the main exit code."""
        nid = node["id"]
        env_base = self._argo_env(op, node, tmpl)
        for init in tmpl.get("initContainers") or []:
            code, _ = await self._run_one(op, nid, init, sandbox, logs_dir, env_base, wait=True)
            if code:
                return code, f"init container {init.get('name')} failed"
        sidecars = []
        for side in tmpl.get("sidecars") or ():
            sidecars.append(
                await self._run_one(op, nid, side, sandbox, logs_dir, env_base, wait=False)
            )
        daemoned = False
        try:
            if tmpl.get("daemon"):
                code = await self._start_daemon(
                    op, node, tmpl, mains[0], sandbox, logs_dir, env_base
                )
                daemoned = code is None  # its sidecars run as long as it does
                return code, ""
            if tmpl.get("containerSet") is not None:
                return await self._run_container_set(op, node, mains, sandbox, logs_dir, env_base)
            script = tmpl.get("script")
            code, _ = await self._run_one(
                op,
                nid,
                mains[0],
                sandbox,
                logs_dir,
                env_base,
                wait=True,
                script=script.get("source") if isinstance(script, dict) else None,
                timeout=_deadline(tmpl),
                stdout=True,
            )
            return code, ""
        finally:
            for _, process in sidecars if not daemoned else ():
                if process is not None:
                    process.terminate(grace=1.0)

    async def _run_container_set(
        self,
        op: PodOperator,
        node: dict[str, Any],
        containers: list[dict[str, Any]],
        sandbox: Sandbox,
        logs_dir: str,
        env_base: dict[str, str],
    ) -> tuple[int | None, str]:
        """Each container is a `Container` child node; `dependencies` order them
        (Argo's containerSet)."""
        children: dict[str, dict[str, Any]] = {}
        for container in containers:
            child_name = f"{node['name']}.{container['name']}"
            children[container["name"]] = _container_node(op, child_name, node)
        finished: dict[str, asyncio.Event] = {c["name"]: asyncio.Event() for c in containers}
        codes: dict[str, int] = {}

        async def run(container: dict[str, Any]) -> None:
            name = container["name"]
            for dep in container.get("dependencies") or []:
                if dep in finished:
                    await finished[dep].wait()
            child = children[name]
            if any(codes.get(d, 0) != 0 for d in container.get("dependencies") or []):
                op.mark(child, "Omitted", "omitted: depends condition not met")
                codes[name] = 0
                finished[name].set()
                return
            op.mark(child, "Running")
            code, _ = await self._run_one(
                op,
                node["id"],
                container,
                sandbox,
                logs_dir,
                env_base,
                wait=True,
                stdout=name == "main",
            )
            codes[name] = code or 0
            op.mark(
                child,
                "Succeeded" if not code else "Failed",
                "" if not code else f"Error (exit code {code})",
            )
            finished[name].set()

        await asyncio.gather(*(run(c) for c in containers))
        # Link containers that depend on others under them, roots under the pod.
        for container in containers:
            deps = container.get("dependencies") or []
            if not deps:
                op.add_child(node["name"], children[container["name"]]["name"])
            for dep in deps:
                if dep in children:
                    op.add_child(children[dep]["name"], children[container["name"]]["name"])
        failed = [c for c in codes.values() if c]
        main_code = codes.get("main", failed[0] if failed else 0)
        return (main_code if main_code else (failed[0] if failed else 0)), ""

    async def _run_one(
        self,
        op: PodOperator,
        nid: str,
        container: Mapping[str, Any],
        sandbox: Sandbox,
        logs_dir: str,
        env_base: Mapping[str, str],
        *,
        wait: bool,
        script: str | None = None,
        timeout: float | None = None,
        stdout: bool = False,
    ) -> tuple[int | None, Process | None]:
        ContainerSpec = _specs()[1]
        name = str(container.get("name") or "main")
        spec = ContainerSpec(
            name=name,
            image=str(container.get("image") or ""),
            command=[str(c) for c in container.get("command") or []],
            args=[str(a) for a in container.get("args") or []],
            # Argo appends its variables after the container's own: on a clash they win.
            env={**self._container_env(container), "ARGO_CONTAINER_NAME": name, **env_base},
            working_dir=container.get("workingDir"),
            script_source=script,
        )
        stdout_path, log_path = f"{logs_dir}/{name}.stdout", f"{logs_dir}/{name}.log"
        start_soon = getattr(self.executor, "start_soon", None)
        process: Process | Starting
        started: Process | None = None
        if wait and timeout is None and start_soon is not None:
            # Waited for to its end only: the loop is not told when it has started.
            process = start_soon(spec, sandbox, stdout_path=stdout_path, log_path=log_path)
        else:  # (its deadline counts from its start)
            process = started = await self.executor.start_async(
                spec, sandbox, stdout_path=stdout_path, log_path=log_path
            )
        if self.retired:
            self.clean_retired()  # in the shadow of the process just started
        self.running.setdefault(nid, []).append(process)
        self._started.setdefault(nid, []).append((name, process))
        self._catch_up(op, nid, process)
        if not wait:
            return None, started
        try:
            code = await _wait(process, timeout)
            failed = getattr(process, "start_error", None)
            if failed is not None:
                raise failed  # as start_async raises it
            if code is None:
                process.terminate(grace=2.0)
                self.shutdown_message[nid] = POD_DEADLINE_MESSAGE
                code = await _wait(process, None)
        finally:
            running = self.running.get(nid, [])
            if process in running:
                running.remove(process)
        lost = getattr(process, "output_error", None)
        if lost is not None:
            # Its log is incomplete: the node cannot claim to have succeeded, and a disk
            # that is full ends the whole run (Argo's pod would be evicted).
            message = _storage_message(f"the output of container {name}", lost)
            op.storage_failed(message)
            raise BackendError(message)
        return code, None

    async def _start_daemon(
        self,
        op: PodOperator,
        node: dict[str, Any],
        tmpl: Mapping[str, Any],
        main: Mapping[str, Any],
        sandbox: Sandbox,
        logs_dir: str,
        env_base: Mapping[str, str],
    ) -> int | None:
        """Starts a daemon's main container (a script's source written as for any script)
        and, once it is ready, marks the node daemoned with its pod IP (operator.go,
        assessNodeStatus: Running, daemoned, `podIP` set for daemoned nodes only). None
        then; the exit code when it ended before it was ready: an ordinary pod's end."""
        nid = node["id"]
        script = tmpl.get("script")
        _, process = await self._run_one(
            op,
            nid,
            main,
            sandbox,
            logs_dir,
            env_base,
            wait=False,
            script=script.get("source") if isinstance(script, dict) else None,
            stdout=True,
        )
        if process is None:
            raise BackendError(f"node {node['name']}: its daemon did not start")
        await _wait_ready(main.get("readinessProbe"), process, op.stopped)
        if process.poll() is not None or op.shutdown:
            code = await _wait(process, None) if not op.shutdown else None
            if code is None:
                process.terminate(grace=2.0)
                code = await _wait(process, None)
            self.running.pop(nid, None)
            return code if code is not None else 1
        node["daemoned"] = True
        node["podIP"] = _POD_IP
        op.mark(node, "Running")
        watched_to_the_end = isinstance(script, dict)

        async def reap() -> None:
            code = await _wait(process, None)
            for other in self.running.pop(nid, []):  # its sidecars end with it
                other.terminate(grace=1.0)
            stopped = self.shutdown_message.pop(nid, None) or op.shutdown
            failed = "" if code == 0 else f"main: Error (exit code {code})"
            if node.get("daemoned") and not stopped:
                # It ended by itself: a daemon pod that ended has failed, even with exit
                # code 0 (operator.go, assessNodeStatus).
                node.pop("daemoned", None)
                op.mark(node, "Failed", failed)
            elif node.get("daemoned") or watched_to_the_end:
                # Killed with its scope or the workflow (marked Succeeded by
                # killDaemonedChildren, or now when the workflow was stopped). Argo's
                # controller goes on watching a script's pod (its result is still to come)
                # and sees it end, failed by the signal: on the real Argo v4.0.5 a script
                # daemon ends Failed "main: Error (exit code 143)" and a container daemon
                # stays Succeeded (tests/test_argo_real_daemons.py; daemon_pod_test.go and
                # signals_test.go expect Succeeded for their container daemons).
                node.pop("daemoned", None)
                if watched_to_the_end:
                    op.mark(node, "Failed", failed)
                else:
                    op.mark(node, "Succeeded")
            self._retire(sandbox)

        op.background(reap())
        return None

    def stop_daemon(self, node: Mapping[str, Any]) -> None:
        """Ends a daemon's processes (Argo's TerminateContainers: SIGTERM, then SIGKILL
        after the grace period); its node has been marked by the operator."""
        for process in self.running.get(node["id"], []):
            process.terminate(grace=2.0)

    # ---- environment and volumes -----------------------------------------------------

    def _argo_env(
        self, op: PodOperator, node: Mapping[str, Any], tmpl: Mapping[str, Any]
    ) -> dict[str, str]:
        """What Argo's controller adds to every container of a pod (workflowpod.go,
        createWorkflowPod's envVars); ARGO_CONTAINER_NAME is added per container. The
        progress variables are there because the controller's default tick durations
        (1m and 3s) are not zero."""
        include_result = self._include_script_output(op, node)
        return {
            "ARGO_NODE_ID": str(node["id"]),
            "ARGO_INCLUDE_SCRIPT_OUTPUT": "true" if include_result else "false",
            "ARGO_DEADLINE": self._argo_deadline(op),
            "ARGO_PROGRESS_FILE": "/var/run/argo/progress",
            "ARGO_PROGRESS_PATCH_TICK_DURATION": "1m0s",
            "ARGO_PROGRESS_FILE_TICK_DURATION": "3s",
        }

    def _include_script_output(self, op: PodOperator, node: Mapping[str, Any]) -> bool:
        """`_include_script_output`, once per calling template and step or task name."""
        boundary = op.nodes.get(str(node.get("boundaryID") or ""))
        if boundary is None or not boundary.get("templateName"):
            return False
        key = (str(boundary["templateName"]), _step_or_task_name(str(node["name"])))
        found = self._script_output.get(key)
        if found is None:
            found = self._script_output[key] = _include_script_output(op, *key)
        return found

    def _argo_deadline(self, op: PodOperator) -> str:
        """`_argo_deadline`, once per deadline."""
        key = (op.spec.get("activeDeadlineSeconds"), op.status.get("startedAt"))
        found = self._deadlines.get(key)
        if found is None:
            found = self._deadlines[key] = _argo_deadline(op)
        return found

    def _container_env(self, container: Mapping[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            if source.get("configMapRef"):
                found = self.lookup("ConfigMap", str(source["configMapRef"].get("name")))
                for k, v in ((found or {}).get("data") or {}).items():
                    env[f"{source.get('prefix', '')}{k}"] = str(v)
            if source.get("secretRef"):
                name = str(source["secretRef"].get("name"))
                for k in secret_keys(self.lookup("Secret", name)):
                    value = self.secret_value(name, k)
                    if value is not None:
                        env[f"{source.get('prefix', '')}{k}"] = value
        for var in container.get("env") or []:
            name = str(var.get("name"))
            if "value" in var:
                env[name] = parameter_value(var["value"])
                continue
            ref = var.get("valueFrom") or {}
            if ref.get("secretKeyRef"):
                r = ref["secretKeyRef"]
                value = self.secret_value(str(r.get("name")), str(r.get("key")))
                if value is None and not r.get("optional"):
                    raise UserError(
                        f"env {name}: Secret {r.get('name')} has no key {r.get('key')} "
                        "(apply it first)"
                    )
            elif ref.get("configMapKeyRef"):
                r = ref["configMapKeyRef"]
                value = self.configmap_value(str(r.get("name")), str(r.get("key")))
                if value is None and not r.get("optional"):
                    raise UserError(
                        f"env {name}: ConfigMap {r.get('name')} has no key {r.get('key')} "
                        "(apply it first)"
                    )
            elif ref.get("fieldRef"):
                value = {"metadata.name": "", "status.podIP": _POD_IP}.get(
                    str(ref["fieldRef"].get("fieldPath")), ""
                )
            else:
                value = ""
            if value is not None:
                env[name] = value
        return env

    def _volume_mounts(
        self,
        op: PodOperator,
        tmpl: Mapping[str, Any],
        mains: list[dict[str, Any]],
        node_dir: Path,
    ) -> dict[str, Path]:
        """Volumes as directories: emptyDir per pod, claims shared by the run,
        ConfigMaps and Secrets as files."""
        if not _mounts_volumes(tmpl, mains):
            return {}
        volumes = {
            v["name"]: v for v in (op.spec.get("volumes") or []) + (tmpl.get("volumes") or [])
        }
        claims = {
            c["metadata"]["name"]
            for c in op.spec.get("volumeClaimTemplates") or []
            if c.get("metadata")
        }
        mounts: dict[str, Path] = {}
        containers = [*mains, *(tmpl.get("sidecars") or []), *(tmpl.get("initContainers") or [])]
        volume_mounts = [m for c in containers for m in c.get("volumeMounts") or []]
        volume_mounts += list((tmpl.get("containerSet") or {}).get("volumeMounts") or [])
        for mount in volume_mounts:
            name = str(mount.get("name"))
            path = str(mount.get("mountPath"))
            volume = volumes.get(name, {})
            _check_name("volume", name, _DNS_LABEL)
            if name in claims or volume.get("persistentVolumeClaim"):
                claim = str((volume.get("persistentVolumeClaim") or {}).get("claimName", name))
                _check_name("persistentVolumeClaim", claim, _DNS_SUBDOMAIN)
                host = self.run_dir / "volumes" / claim
            elif volume.get("configMap") or volume.get("secret"):
                host = node_dir / "volumes" / name
                self._materialize(volume, host)
            else:
                host = node_dir / "volumes" / name
            host.mkdir(parents=True, exist_ok=True)
            sub = str(mount.get("subPath") or "")
            mounts[path] = _sub_path(host, sub, name) if sub else host
        return mounts

    def _materialize(self, volume: Mapping[str, Any], host: Path) -> None:
        """A ConfigMap or Secret volume as the kubelet writes it: every key as a file, or
        only the `items` asked for at their paths, with `mode`/`defaultMode` (a Secret's
        files never readable by group or others: secrets at rest are 0600 or tighter)."""
        host.mkdir(parents=True, exist_ok=True)
        source = volume.get("configMap") or volume.get("secret") or {}
        secret = not volume.get("configMap")
        kind = "Secret" if secret else "ConfigMap"
        name = str(source.get("secretName" if secret else "name"))
        data = {} if secret else (self.lookup("ConfigMap", name) or {}).get("data") or {}
        keys = secret_keys(self.lookup("Secret", name)) if secret else set(data)

        def value_of(key: str) -> str | None:
            if secret:
                return self.secret_value(name, key)
            return str(data[key]) if key in data else None

        default_mode = source.get("defaultMode")
        items = source.get("items")
        wanted = (
            [(str(i.get("key")), str(i.get("path")), i.get("mode")) for i in items]
            if isinstance(items, list) and items
            else [(key, key, None) for key in sorted(keys)]
        )
        for key, path, mode in wanted:
            _check_name(f"{kind} {name}: key", key, _CONFIG_KEY)
            value = value_of(key)
            if value is None:
                if source.get("optional"):
                    continue
                raise UserError(
                    f"volume {volume.get('name')}: {kind} {name} has no key {key} (apply it first)"
                )
            target = _item_path(host, path, str(volume.get("name")))
            target.write_text(value)
            requested = mode if mode is not None else default_mode
            if secret:
                target.chmod((int(requested) & 0o700) if requested is not None else 0o600)
            elif requested is not None:
                target.chmod(int(requested) & 0o777)

    # ---- inputs and outputs ------------------------------------------------------------

    async def _load_inputs(
        self, op: PodOperator, node: dict[str, Any], tmpl: Mapping[str, Any], sandbox: Sandbox
    ) -> None:

        for art in (tmpl.get("inputs") or {}).get("artifacts") or []:
            if not art.get("path"):
                continue
            dest = sandbox.host_path(str(art["path"]))
            if not _has_source(art):
                if art.get("optional"):
                    continue
                raise UserError(
                    f"inputs.artifacts.{art['name']} has no source (from, s3, http, git, raw, ...)"
                )
            self._check_git_source(art)
            await asyncio.get_running_loop().run_in_executor(
                _IO,
                functools.partial(
                    self._handoffs().load,
                    art,
                    dest,
                    # As Argo's executor: a key-only input is relocated into this
                    # template's archive location (`newDriverArt`).
                    default=self._archive_repository(tmpl),
                    secrets=self.secret_value,
                ),
            )

    def _check_git_source(self, art: Mapping[str, Any]) -> None:
        """A git repository on this machine is cloned by the engine, outside the sandbox:
        one in a place steps cannot see (the user's home, the checkout, the data
        directory) is refused, as a pod could not clone it either."""
        git = art.get("git")
        repo = str(git.get("repo") or "") if isinstance(git, Mapping) else ""
        if not repo.startswith(("file://", "/", ".")) or getattr(self.executor, "mode", "") not in (
            "namespace",
            "bwrap",
        ):
            return
        import urllib.parse

        path = urllib.parse.urlsplit(repo).path if repo.startswith("file://") else repo
        confinement = self.executor.confinement  # type: ignore[union-attr]
        real = os.path.realpath(urllib.parse.unquote(path))
        home = os.path.realpath(os.path.expanduser("~"))  # hidden even where /tmp holds it
        if confinement.is_hidden(real) or real == home or real.startswith(home + "/"):
            raise UserError(
                f"inputs.artifacts.{art.get('name')}: git repository {repo} is in a place steps"
                " cannot see (your home, the checkout, the data directory): serve it by URL"
            )

    async def _collect(
        self,
        op: PodOperator,
        node: dict[str, Any],
        tmpl: Mapping[str, Any],
        sandbox: Sandbox,
        logs_dir: str,
        code: int,
        reason: str,
    ) -> None:
        outputs: dict[str, Any] = {}
        outputs["result"] = self._result(node["id"], logs_dir)
        outputs["exitCode"] = str(code)
        message = ""
        phase = "Succeeded" if code == 0 else "Failed"
        if code != 0:
            # Argo v4's podReconciliation names the container: `main: Error (exit code 3)`.
            message = reason or f"main: Error (exit code {code})"
        stopped = self.shutdown_message.pop(node["id"], None)
        if op.shutdown and code != 0:
            message = f"Stopped with strategy '{op.shutdown}'"
        elif stopped:
            phase, message = "Failed", stopped
        declared = tmpl.get("outputs") or {}
        try:
            params = self._output_parameters(declared, sandbox, code) if declared else []
            if params:
                outputs["parameters"] = params
            if declared.get("artifacts") or self._archive_logs(op, tmpl):
                arts = await self._output_artifacts(
                    op, node, tmpl, declared, sandbox, logs_dir, phase
                )
                if arts:
                    outputs["artifacts"] = arts
        except ArgoError as err:
            node["outputs"] = outputs
            op.mark(node, "Error" if phase == "Succeeded" else phase, message or str(err))
            if phase == "Succeeded":
                node["message"] = str(err)
            return
        node["outputs"] = outputs
        op.add_node_outputs_to_globals(outputs)
        op.mark(node, phase, message)

    def _result(self, nid: str, logs_dir: str) -> str:
        """The main container's `outputs.result`: nothing to read when it has ended
        without printing (its stdout file was never made)."""
        mains = [process for name, process in self._started.get(nid, ()) if name == "main"]
        if mains and all(_printed(process) is False for process in mains):
            return ""
        return _read_result(f"{logs_dir}/main.stdout")

    def _output_parameters(
        self, declared: Mapping[str, Any], sandbox: Sandbox, code: int
    ) -> list[dict[str, Any]]:
        params = []
        for param in declared.get("parameters") or []:
            value_from = param.get("valueFrom") or {}
            out = dict(param)
            if "path" in value_from:
                path = sandbox.in_view(str(value_from["path"]))
                try:
                    value: str | None = None if path is None else _read_parameter(path)
                except OSError:
                    value = None
                if value is None:
                    if "default" in value_from:
                        value = parameter_value(value_from["default"])
                    elif code == 0:
                        raise UserError(
                            f"output parameter {param['name']}: open {value_from['path']}: "
                            "no such file or directory"
                        )
                    else:
                        continue
                out["value"] = value
            elif "default" in value_from:
                out["value"] = parameter_value(value_from["default"])
            elif "value" in param:
                out["value"] = parameter_value(param["value"])
            elif value_from.get("configMapKeyRef"):
                ref = value_from["configMapKeyRef"]
                found = self.configmap_value(str(ref.get("name")), str(ref.get("key")))
                if found is None:
                    continue
                out["value"] = found
            else:
                continue
            params.append(out)
        return params

    async def _output_artifacts(
        self,
        op: PodOperator,
        node: Mapping[str, Any],
        tmpl: Mapping[str, Any],
        declared: Mapping[str, Any],
        sandbox: Sandbox,
        logs_dir: str,
        phase: str,
    ) -> list[dict[str, Any]]:
        from jupyter_argo import artifacts

        saved: list[dict[str, Any]] = []
        if not declared.get("artifacts") and not self._archive_logs(op, tmpl):
            return saved
        prefix = self.key_prefix(op, node, tmpl)
        repository = self._archive_repository(tmpl)
        loop = asyncio.get_running_loop()
        for art in declared.get("artifacts") or []:
            if not art.get("path"):
                continue
            src = _output_in_view(sandbox, str(art["path"]), art.get("archive"))
            if not src.exists() and phase != "Succeeded":
                continue
            result = await loop.run_in_executor(
                _IO,
                functools.partial(
                    self._handoffs().save,
                    art,
                    src,
                    key_prefix=prefix,
                    default=repository,
                    secrets=self.secret_value,
                ),
            )
            if result is not None:
                saved.append(result)
        if self._archive_logs(op, tmpl):
            log = Path(logs_dir) / "main.log"
            if not log.exists():  # it printed nothing: Argo archives an empty log
                log.parent.mkdir(parents=True, exist_ok=True)
                log.touch()
            entry = {"name": "main-logs", "path": str(log), "archive": {"none": {}}}
            result = await loop.run_in_executor(
                _IO,
                lambda: artifacts.save_output(
                    entry,
                    log,
                    key_prefix=prefix,
                    default=repository,
                    secrets=self.secret_value,
                ),
            )
            if result is not None:
                result.pop("path", None)
                result.pop("archive", None)
                saved.append(result)
        return saved

    def _handoffs(self) -> Any:
        if self.handoffs is None:
            from jupyter_argo.artifacts._handoff import Handoffs

            self.handoffs = Handoffs(self.run_dir / "handoff")
        return self.handoffs

    async def handed_off(self) -> str:
        """Once every output file handed over at copy speed is also in the repository:
        the first store that failed, or ""."""
        if self.handoffs is None:
            return ""
        failure: str = await asyncio.get_running_loop().run_in_executor(_IO, self.handoffs.drain)
        return failure

    def _archive_repository(self, tmpl: Mapping[str, Any]) -> Any:
        """A template's complete `archiveLocation` is a repository of its own."""
        from jupyter_argo import artifacts
        from jupyter_argo.artifacts._repository import has_location

        archive = tmpl.get("archiveLocation") or {}
        if archive and has_location(archive):
            return artifacts.RepositoryConfig.from_archive_location(archive)
        return self.artifacts

    def key_prefix(self, op: PodOperator, node: Mapping[str, Any], tmpl: Mapping[str, Any]) -> str:
        """The repository's keyFormat with Argo's variables
        (default `{{workflow.name}}/{{pod.name}}`)."""
        key_format = str(
            getattr(self.artifacts, "key_format", "") or "{{workflow.name}}/{{pod.name}}"
        )
        archive = tmpl.get("archiveLocation") or {}
        for kind in ("s3", "gcs", "oss", "azure", "artifactory", "hdfs"):
            if isinstance(archive.get(kind), dict) and archive[kind].get("key"):
                key_format = str(archive[kind]["key"])
        variables = dict(op.globals)
        variables["pod.name"] = pod_name(op.name, node["name"], _template_name(node, tmpl))
        variables["node.name"] = node["name"]
        created = str(op.wf["metadata"].get("creationTimestamp", ""))
        if created:
            variables["workflow.creationTimestamp.Y"] = created[0:4]
            variables["workflow.creationTimestamp.m"] = created[5:7]
            variables["workflow.creationTimestamp.d"] = created[8:10]
            variables["workflow.creationTimestamp.H"] = created[11:13]
            variables["workflow.creationTimestamp.M"] = created[14:16]
            variables["workflow.creationTimestamp.S"] = created[17:19]
        return expr.substitute(key_format, variables, json_escape=False)

    def _archive_logs(self, op: PodOperator, tmpl: Mapping[str, Any]) -> bool:
        archive = tmpl.get("archiveLocation") or {}
        if "archiveLogs" in archive:
            return bool(archive["archiveLogs"])
        if op.spec.get("archiveLogs") is not None:
            return bool(op.spec["archiveLogs"])
        return bool(getattr(self.artifacts, "archive_logs", False))

    # ---- http templates ----------------------------------------------------------------

    async def _run_http(
        self, op: PodOperator, node: dict[str, Any], tmpl: Mapping[str, Any]
    ) -> None:
        http = tmpl["http"]
        op.mark(node, "Running")
        loop = asyncio.get_running_loop()
        status, body, headers = await loop.run_in_executor(_IO, lambda: self._http_request(http))
        response = {"statusCode": status, "body": body, "headers": headers}
        condition = http.get("successCondition")
        if condition:
            try:
                ok = (
                    expr.evaluate(
                        str(condition), expr.expand_variables({}) | {"response": response}
                    )
                    is True
                )
            except ArgoError as err:
                node["outputs"] = {"result": body}
                op.mark(node, "Failed", str(err))
                return
        else:
            ok = 200 <= status < 300
        node["outputs"] = {"result": body}
        if ok:
            op.mark(node, "Succeeded")
        else:
            op.mark(
                node,
                "Failed",
                f"received non-2xx response code: {status}"
                if not condition
                else f"successCondition '{condition}' evaluated false",
            )

    def _http_request(self, http: Mapping[str, Any]) -> tuple[int, str, dict[str, list[str]]]:
        import urllib.error  # with the first http template: not on every start
        import urllib.parse
        import urllib.request

        headers: dict[str, str] = {}
        for header in http.get("headers") or []:
            if "value" in header:
                headers[str(header["name"])] = str(header["value"])
            elif (header.get("valueFrom") or {}).get("secretKeyRef"):
                ref = header["valueFrom"]["secretKeyRef"]
                headers[str(header["name"])] = (
                    self.secret_value(str(ref.get("name")), str(ref.get("key"))) or ""
                )
        body = http.get("body")
        data = str(body).encode() if body is not None else None
        body_from = http.get("bodyFrom")
        if isinstance(body_from, Mapping):  # Go's []byte: base64 in JSON and YAML
            import base64
            import binascii

            try:
                data = base64.b64decode(str(body_from.get("bytes") or ""), validate=True)
            except (binascii.Error, ValueError):
                raise UserError("http template: bodyFrom.bytes is not base64") from None
        timeout = float(http.get("timeoutSeconds") or 30)
        url = str(http.get("url"))
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            # Go's http.Client speaks http(s) only (urllib would read file:// on this host).
            raise UserError(f'http template: {url}: unsupported protocol scheme "{scheme}"')
        try:
            # A URL urllib cannot even parse is the node's failure, as in Argo.
            request = urllib.request.Request(
                url, data=data, headers=headers, method=str(http.get("method") or "GET")
            )
            opener = _http_opener(bool(http.get("insecureSkipVerify")))
            with opener.open(request, timeout=timeout) as response:
                text = response.read(RESULT_LIMIT * 4).decode("utf-8", "replace")
                return response.status, text, {k: [v] for k, v in response.headers.items()}
        except urllib.error.HTTPError as err:
            return (
                err.code,
                err.read().decode("utf-8", "replace"),
                {k: [v] for k, v in err.headers.items()},
            )
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise UserError(
                f"http template: {http.get('url')}: {getattr(err, 'reason', err)}"
            ) from None


@functools.cache
def _http_opener(insecure_skip_verify: bool) -> Any:
    """An opener following redirects to http(s) only, and refusing the rest as Go's
    client refuses them (an error, not the 3xx response urllib would hand back for
    file://; never followed to ftp). Built with the first http template. With
    `insecureSkipVerify`, TLS certificates are not checked (Argo's httpClientSkip)."""
    import ssl
    import urllib.error
    import urllib.parse
    import urllib.request

    class RedirectsOnly(urllib.request.HTTPRedirectHandler):
        def http_error_302(
            self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any
        ) -> Any:
            location = headers.get("location") or headers.get("uri") or ""
            target = urllib.parse.urljoin(req.full_url, location)
            scheme = urllib.parse.urlsplit(target).scheme
            if scheme.lower() not in ("http", "https"):
                raise urllib.error.URLError(f'redirected: unsupported protocol scheme "{scheme}"')
            return super().http_error_302(req, fp, code, msg, headers)

        http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    handlers: list[Any] = [RedirectsOnly]
    if insecure_skip_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers)


def _container_node(op: PodOperator, name: str, pod: dict[str, Any]) -> dict[str, Any]:
    existing = op.node_by_name(name)
    if existing is not None:
        return existing
    from jupyter_argo.engine.templates import TemplateContext

    context = TemplateContext([], scope=pod.get("templateScope", ""), lookup=op.host.lookup)
    holder = {"template": pod.get("templateName")} if pod.get("templateName") else {}
    return op.init_node(name, "Container", context, holder, pod["id"], "Pending")


def _include_script_output(op: PodOperator, template_name: str, name: str) -> bool:
    """Whether the steps or DAG template `template_name` calling the step or task `name`
    reads its `outputs.result` (operator.go, includeScriptOutput and hasOutputResultRef:
    the same patterns, run over the parent template's JSON). A parent that is not one of
    the workflow's own templates (a templateRef) is not looked up: false, as Argo says
    when it finds no parent."""
    parent = next(
        (
            t
            for t in op.spec.get("templates") or []
            if isinstance(t, dict) and t.get("name") == template_name
        ),
        None,
    )
    if parent is None:
        return False
    from jupyter_argo.expr._regex import RegexError, compile_re2

    reference = rf"\.{name}\.outputs\.result"
    expression = rf"\[['\"]{name}['\"]\]\.outputs.result"
    kind = "tasks" if parent.get("dag") is not None else "steps" if parent.get("steps") else ""
    text = json.dumps(parent, separators=(",", ":"))
    for pattern in (kind + reference, kind + expression):
        try:
            if compile_re2(pattern).search(text) is not None:
                return True
        except RegexError:
            continue
    return False


def _step_or_task_name(node_name: str) -> str:
    """`wf.fanout1(0:1)(0)[0]` -> `fanout1`: retry and expansion suffixes off, then the
    part after the last dot (operator.go, getStepOrDAGTaskName). Each suffix is taken off
    from its closing bracket back to the nearest opening one; a suffix never opened
    leaves the name whole."""
    end = len(node_name)
    while end:
        closer = node_name[end - 1]
        if closer == ")":
            start = node_name.rfind("(", 0, end - 1)
        elif closer == "]":
            start = node_name.rfind("[", 0, end - 1)
        else:
            return node_name[:end].rsplit(".", 1)[-1]
        if start < 0:
            break
        end = start
    return node_name.rsplit(".", 1)[-1]


def _argo_deadline(op: PodOperator) -> str:
    """The workflow's deadline (startedAt + activeDeadlineSeconds) in RFC 3339, or Go's
    zero time when it has none (workflowpod.go, getDeadline)."""
    seconds = op.spec.get("activeDeadlineSeconds")
    started = op.status.get("startedAt")
    if seconds is None or not started:
        return "0001-01-01T00:00:00Z"
    try:
        start = datetime.datetime.fromisoformat(str(started).replace("Z", "+00:00"))
        deadline = start + datetime.timedelta(seconds=float(seconds))
    except (ValueError, TypeError, OverflowError):
        return "0001-01-01T00:00:00Z"
    return deadline.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _template_name(node: Mapping[str, Any], tmpl: Mapping[str, Any]) -> str:
    if node.get("templateName"):
        return str(node["templateName"])
    ref = node.get("templateRef")
    if isinstance(ref, dict) and ref.get("template"):
        return str(ref["template"])
    return str(tmpl.get("name", ""))


def _declared_paths(
    tmpl: Mapping[str, Any], mains: list[dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """The absolute paths a pod reads (inputs, working dirs) and writes (outputs)."""
    if not (tmpl.get("inputs") or tmpl.get("outputs")) and not any(
        container.get("workingDir") for container in mains
    ):
        return [], []  # (most pods)
    reads: list[str] = []
    for art in (tmpl.get("inputs") or {}).get("artifacts") or []:
        if art.get("path"):
            reads.append(str(art["path"]))
    for container in mains:
        if container.get("workingDir"):
            reads.append(str(container["workingDir"]))
    writes: list[str] = []
    outputs = tmpl.get("outputs") or {}
    for art in outputs.get("artifacts") or []:
        if art.get("path"):
            writes.append(str(art["path"]))
    for param in outputs.get("parameters") or []:
        path = (param.get("valueFrom") or {}).get("path")
        if path:
            writes.append(str(path))

    def absolute(paths: list[str]) -> list[str]:
        return list(dict.fromkeys(p for p in paths if p.startswith("/")))

    return absolute(reads), [p for p in absolute(writes) if p not in reads]


def _mounts_volumes(tmpl: Mapping[str, Any], mains: list[dict[str, Any]]) -> bool:
    """Whether a container of the pod mounts a volume (most mount none)."""
    if (tmpl.get("containerSet") or {}).get("volumeMounts"):
        return True
    for containers in (mains, tmpl.get("sidecars") or (), tmpl.get("initContainers") or ()):
        for container in containers:
            if container.get("volumeMounts"):
                return True
    return False


def _has_source(art: Mapping[str, Any]) -> bool:
    return any(
        art.get(k) is not None
        for k in ("s3", "gcs", "git", "http", "artifactory", "hdfs", "raw", "oss", "azure", "key")
    )


def _deadline(tmpl: Mapping[str, Any]) -> float | None:
    """Seconds the main container may run: `activeDeadlineSeconds`, or the template's
    `timeout`, which Argo enforces through the pod's active deadline too."""
    limits = []
    value = tmpl.get("activeDeadlineSeconds")
    if value not in (None, ""):
        try:
            limits.append(float(parameter_value(value)))
        except ValueError:
            raise UserError(f"activeDeadlineSeconds: '{value}' is not a number") from None
    if tmpl.get("timeout") not in (None, ""):
        from jupyter_argo.status import duration_seconds

        limits.append(duration_seconds(tmpl["timeout"]))
    return min(limits) if limits else None


def _disk_full(err: OSError) -> bool:
    import errno

    return err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _storage_message(what: str, err: OSError) -> str:
    """One line for output that could not be stored: what, why, where, what to do."""
    where = f" ({err.filename})" if err.filename else ""
    if _disk_full(err):
        return (
            f"cannot store {what}: {err.strerror}{where}: free space under "
            "JUPYTER_ARGO_HOME, then retry the workflow"
        )
    return f"cannot store {what}: {err.strerror or err}{where}"


def _printed(process: Process | Starting) -> bool | None:
    """Whether an ended process wrote to its stdout file; None when that is not known
    (still running, or an executor that does not say)."""
    if process.poll() is None:
        return None
    printed = getattr(process, "printed", None)
    return printed if isinstance(printed, bool) else None


def _remove_stdouts(logs_dir: str, started: list[tuple[str, Process | Starting]]) -> None:
    """Remove a finished pod's stdout files: only those its ended containers made, or,
    where that is not known for each, every one in its log directory."""
    printed = [_printed(process) for _, process in started]
    if None not in printed:
        for (name, _), made in zip(started, printed, strict=True):
            if made:
                with contextlib.suppress(OSError):
                    os.unlink(f"{logs_dir}/{name}.stdout")
        return
    with contextlib.suppress(OSError):
        for stdout in Path(logs_dir).glob("*.stdout"):
            stdout.unlink()


@functools.cache
def _specs() -> tuple[type[SandboxSpec], type[ContainerSpec]]:
    """The executor's spec classes, imported with the first pod (not with the engine)."""
    from jupyter_argo.executors import ContainerSpec, SandboxSpec

    return SandboxSpec, ContainerSpec


@functools.cache
def _host_name() -> str:
    """This machine's name, every pod's `hostNodeName` (asked once: a system call)."""
    return socket.gethostname()


def _read_result(path: str) -> str:
    """The last 256 KiB of a container's stdout; no file means it printed nothing."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        return ""
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size > RESULT_LIMIT:
            handle.seek(size - RESULT_LIMIT)
        data = handle.read()
    text = data.decode("utf-8", "replace")
    return text[:-1] if text.endswith("\n") else text


# Kubernetes' own rules for the names that become directories here (apimachinery's
# validation: IsDNS1123Label, IsDNS1123Subdomain, IsConfigMapKey): a name such as
# "../../root" must never reach the file system.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def _check_name(what: str, name: str, rule: re.Pattern[str]) -> None:
    limit = 63 if rule is _DNS_LABEL else 253
    if len(name) > limit or not rule.fullmatch(name) or name in (".", ".."):
        raise UserError(f"{what} {name!r}: invalid name (Kubernetes allows {rule.pattern})")


def _item_path(volume: Path, path: str, name: str) -> Path:
    """A ConfigMap or Secret item's `path`, as the API server validates it: relative,
    without `..`."""
    if not path or path.startswith("/"):
        raise UserError(f"volume {name}: items path {path!r}: must be a relative path")
    if ".." in path.split("/"):
        raise UserError(f"volume {name}: items path {path!r}: must not contain '..'")
    target = volume / path
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _sub_path(volume: Path, sub: str, name: str) -> Path:
    """`subPath` below the volume, as the kubelet allows it: relative, without `..`, and
    not leaving the volume through a link an earlier step left there."""
    if sub.startswith("/"):
        raise UserError(f"volume {name}: subPath {sub!r}: must be a relative path")
    if ".." in sub.split("/"):
        raise UserError(f"volume {name}: subPath {sub!r}: must not contain '..'")
    target = volume / sub
    real, inside = os.path.realpath(target), os.path.realpath(volume)
    if real != inside and not real.startswith(inside + os.sep):
        raise UserError(f"volume {name}: subPath {sub!r} leads outside the volume")
    target.mkdir(parents=True, exist_ok=True)
    return target


_LINKS_LOOKED_AT = 100_000  # entries of one output directory checked for links


def _output_in_view(sandbox: Sandbox, path: str, archive: Any) -> Path:
    """The output artifact at `path` as the container left it: links followed in its view
    (a link to the host's secrets is not followed there; it leads nowhere and goes)."""
    from jupyter_argo.artifacts._archive import strategy_of

    src = sandbox.in_view(path)
    if src is None:
        src = sandbox.host_path(path)
        if src.is_symlink():
            src.unlink()
        return src
    with contextlib.suppress(ArgoError):  # a bad `archive` is save_output's to report
        if src.is_dir() and strategy_of(archive).kind in ("none", "zip"):
            sandbox.contain_links(path, _LINKS_LOOKED_AT)
    return src


def _read_parameter(path: Path) -> str | None:
    if not path.is_file():
        return None
    text = path.read_text("utf-8", "replace")
    return text[:-1] if text.endswith("\n") else text


async def _wait(process: Process | Starting, timeout: float | None) -> int | None:
    """The exit code, or None after `timeout` seconds; no thread waits per process."""
    code = process.poll()
    if code is not None:
        return code
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()
    # (pump thread) tells the loop, which settles `exited`: with the other news for it, in
    # one wake-up of the loop
    process.add_done_callback(functools.partial(_tell, inbox(loop), exited))
    if timeout is None:
        await exited
    else:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(exited, timeout)
    return process.poll()


def _tell(inbox: Inbox, future: asyncio.Future[None], _: Any) -> None:
    """(pump or spawning thread) a process is done: `_settle` its future on the loop."""
    inbox.call(_settle, future)


def _settle(future: asyncio.Future[None]) -> None:
    """(loop) a waited-for process is done."""
    if not future.done():
        future.set_result(None)


async def _wait_ready(probe: Any, process: Process, stopped: asyncio.Event) -> None:
    """Until a daemon's readiness probe on its pod IP succeeds (the kubelet's: a
    tcpSocket probe connects; an httpGet probe gets a status from 200 to 399), after its
    `initialDelaySeconds`; or its process ends or the workflow stops. Other probes (exec,
    grpc, a named port) are not run: the daemon is ready once started, as without one."""
    if not isinstance(probe, dict):
        return
    target = probe.get("tcpSocket") or probe.get("httpGet") or {}
    port = target.get("port")
    if not isinstance(port, int):
        return
    delay = float(probe.get("initialDelaySeconds") or 0)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stopped.wait(), delay)
    http_path = str(target.get("path") or "/") if probe.get("httpGet") else None
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and not stopped.is_set():
        if await loop.run_in_executor(_IO, _probe, port, http_path):
            return
        await asyncio.sleep(0.1)


def _probe(port: int, http_path: str | None) -> bool:
    import http.client

    if http_path is None:
        try:
            with socket.create_connection((_POD_IP, port), timeout=0.5):
                return True
        except OSError:
            return False
    connection = http.client.HTTPConnection(_POD_IP, port, timeout=1)
    try:
        connection.request("GET", http_path if http_path.startswith("/") else "/" + http_path)
        return 200 <= connection.getresponse().status < 400
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
