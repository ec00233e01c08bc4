"""The embedded engine: submits, runs and controls workflows on this machine.

Workflows run on one asyncio loop in a background thread, so a notebook kernel stays
free while they run and several run at once. Every change to a run's status is
coalesced into immutable snapshots (at most one per `PUBLISH_INTERVAL`) that watchers
receive, and into the SQLite store (at most one write per `PERSIST_INTERVAL`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_argo.backends.base import last_snapshot
from jupyter_argo.engine.cache import CacheFactory
from jupyter_argo.engine.estimation import estimator_for
from jupyter_argo.engine.operator import OperatorHost
from jupyter_argo.engine.pods import PodHost
from jupyter_argo.engine.progress import ProgressTracker
from jupyter_argo.engine.repositories import StoreRepositories
from jupyter_argo.engine.store import Store
from jupyter_argo.engine.sync import SyncManager
from jupyter_argo.engine.templates import deep_merge, execution_spec
from jupyter_argo.engine.woc import WorkflowOperator
from jupyter_argo.errors import (
    ArgoError,
    NotFoundError,
    StoreError,
    UnsupportedError,
    UserError,
)
from jupyter_argo.expr._interrupt import Interrupt, evaluate_under
from jupyter_argo.status import format_time, now

__all__ = ["Engine"]

PUBLISH_INTERVAL = 0.05
PERSIST_INTERVAL = 1.0
FIRST_PERSIST_DELAY = 0.1  # a run shorter than this is saved once, when it ends
CONTROL_INTERVAL = 0.25
# An interrupt (Ctrl-C, a kernel interrupt) ends a run within about a second: its steps
# get SIGTERM and, this much later, SIGKILL; `interrupt` waits at most INTERRUPT_WAIT
# for the loop to end the run before ending it from the interrupted thread itself.
INTERRUPT_GRACE = 0.5
INTERRUPT_WAIT = 0.8
_WAIT_SLICE = 0.1  # blocking waits on a caller's thread: short, so a signal gets through
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet
_STORE_KINDS = (
    "WorkflowTemplate",
    "ClusterWorkflowTemplate",
    "ConfigMap",
    "Secret",
    "CronWorkflow",
)


@dataclass
class _Run:
    """A workflow running in this process."""

    workflow: dict[str, Any]  # live: mutated only on the loop thread
    operator: WorkflowOperator | None = None
    snapshot: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    done: bool = False
    dirty_nodes: set[str] = field(default_factory=set)
    node_copies: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress: ProgressTracker = field(default_factory=ProgressTracker)
    publish_scheduled: bool = False
    started: float = field(default_factory=time.monotonic)
    last_persist: float = 0.0
    last_persist_cost: float = 0.0
    last_publish_cost: float = 0.0
    persist_scheduled: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)
    # Set from any thread to end the expression this run is evaluating (see `interrupt`).
    interrupt: Interrupt = field(default_factory=Interrupt)
    # Requests of other processes applied but not yet saved (see `_take_requests`).
    requests: list[int] = field(default_factory=list)
    # The store's version of its final save: another one means another process has
    # changed it since (a retry from the command line).
    final_version: int | None = None
    # Saves of this run, one at a time: a periodic save of an older snapshot must never
    # land after the final one (`ending` is set, under the lock, before that is written).
    save_lock: threading.Lock = field(default_factory=threading.Lock)
    ending: bool = False


class Engine:
    def __init__(
        self,
        home: Path | None = None,
        *,
        max_pods: int = 64,
        images: Any = None,
        isolation: str = "auto",
        executor: str = "process",
        namespace: str = "default",
    ) -> None:
        self.store = Store(home)
        self._sync = SyncManager(self.store)
        self.namespace = namespace
        self.max_pods = max_pods
        self._images = images
        if isolation == "auto":  # the CLI's and the API's way to choose: the environment
            isolation = os.environ.get("JUPYTER_ARGO_ISOLATION") or "auto"
        self._isolation = isolation
        if executor not in ("process", "docker", "podman"):
            raise UserError(f"executor {executor!r}: use process, docker or podman")
        self._executor_kind = executor
        self._executor: Any = None
        self._runs: dict[tuple[str, str], _Run] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._io = ThreadPoolExecutor(max_workers=2, thread_name_prefix="jupyter-argo-store")
        self._control_task: asyncio.Task[None] | None = None

    # ---- the loop thread -------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                started = threading.Event()

                def main() -> None:
                    if self._executor_kind == "process":
                        from jupyter_argo.executors import dedicate_thread

                        dedicate_thread()  # sandboxes are built and entered right here
                    asyncio.set_event_loop(loop)
                    self._slots = asyncio.Semaphore(self.max_pods)
                    self._control_task = loop.create_task(self._take_requests())
                    started.set()
                    loop.run_forever()

                threading.Thread(target=main, name="jupyter-argo-engine", daemon=True).start()
                while not started.wait(_WAIT_SLICE):
                    pass
                self._loop = loop
            return self._loop

    def _call(self, func: Any, *args: Any) -> Any:
        """Run `func(*args)` on the loop thread and return its result."""
        loop = self._ensure_loop()

        async def call() -> Any:
            return func(*args)

        future = asyncio.run_coroutine_threadsafe(call(), loop)
        while True:  # in short waits: a KeyboardInterrupt must reach a waiting main thread
            with contextlib.suppress(FutureTimeout):
                return future.result(_WAIT_SLICE)

    @property
    def executor(self) -> Any:
        if self._executor is None:
            if self._executor_kind == "process":
                from jupyter_argo.executors import ProcessExecutor

                self._executor = ProcessExecutor(
                    self._images, isolation=self._isolation, hide=[self.store.home]
                )
            else:
                from jupyter_argo.executors import ContainerExecutor

                self._executor = ContainerExecutor(self._executor_kind)
        return self._executor

    # ---- objects ---------------------------------------------------------------------

    def apply(self, manifest: Mapping[str, Any], namespace: str | None = None) -> str:
        if not isinstance(manifest, Mapping):
            raise UserError(f"a manifest is a mapping (a dict), not {type(manifest).__name__}")
        kind = str(manifest.get("kind", ""))
        if kind not in _STORE_KINDS:
            raise UserError(
                f"{kind or 'this document'} cannot be applied (only {', '.join(_STORE_KINDS)})"
            )
        if kind != "Secret":  # a Secret's values never go into an error message
            self._validate(manifest, kind)
        if kind == "CronWorkflow":  # its schedules checked, its uid and status kept
            from jupyter_argo.engine.cron import apply_cron

            return apply_cron(self.store, manifest, namespace or self.namespace)
        return self.store.apply(dict(manifest), namespace or self.namespace)

    def lookup(self, namespace: str) -> Any:
        def find(kind: str, name: str) -> dict[str, Any] | None:
            return self.store.get_object(kind, name, namespace)

        return find

    # ---- submit ----------------------------------------------------------------------

    def submit(
        self,
        manifest: Mapping[str, Any],
        *,
        namespace: str | None = None,
        parameters: Mapping[str, str] | None = None,
        entrypoint: str | None = None,
        name: str | None = None,
        generate_name: str | None = None,
        detach: bool = False,
        carried: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start a Workflow; returns the Workflow object as created (status Pending).

        With `detach`, a background process of its own runs it, so it outlives this one
        (`jupyter-argo submit` without `--wait`). `carried`: the finished nodes it starts
        with (resubmit --memoized)."""
        if not isinstance(manifest, Mapping):
            raise UserError(
                f"a Workflow is a mapping (a dict), not {type(manifest).__name__}: "
                "give the parsed manifest"
            )
        if manifest.get("kind") not in ("Workflow", None):
            raise UserError(f"only a Workflow can be submitted, not a {manifest.get('kind')}")
        self._validate(manifest, "Workflow")
        workflow = _plain(manifest)
        workflow["apiVersion"] = "argoproj.io/v1alpha1"
        workflow["kind"] = "Workflow"
        # A null object is Go's zero value, as Argo decodes it: an empty one.
        for key in ("metadata", "spec"):
            if workflow.get(key) is None:
                workflow[key] = {}
        meta = workflow["metadata"]
        for key in ("labels", "annotations"):
            if key in meta and meta[key] is None:
                del meta[key]
        ns = namespace or meta.get("namespace") or self.namespace
        meta["namespace"] = ns
        if name:
            meta["name"] = name
            meta.pop("generateName", None)
        elif generate_name:
            meta["generateName"] = generate_name
            meta.pop("name", None)
        if workflow["spec"].get("workflowTemplateRef"):
            # ApplySubmitOpts: on the Workflow's own spec, merged with the template's next.
            if entrypoint:
                workflow["spec"]["entrypoint"] = entrypoint
            if parameters:
                from jupyter_argo.backends._k8s.actions import override_parameters

                override_parameters(workflow, parameters)
        stored = self._apply_workflow_template(workflow, ns)
        spec = workflow["spec"] if stored is None else stored
        if entrypoint:
            spec["entrypoint"] = entrypoint
        if parameters:
            _override_parameters(spec, parameters)
        if not spec.get("entrypoint"):
            raise UserError("spec.entrypoint is required (or pass --entrypoint)")
        notes = "; ".join(
            note
            for note in (
                getattr(self.executor, "warning", ""),
                _python_note(self.executor, spec),
                self._check_supported(spec, ns),
            )
            if note
        )
        meta["uid"] = _new_uid()
        meta["creationTimestamp"] = format_time(now())
        labels = meta.setdefault("labels", {})
        labels["workflows.argoproj.io/completed"] = "false"
        labels["workflows.argoproj.io/phase"] = "Pending"
        workflow["status"] = {"phase": "Pending", "startedAt": meta["creationTimestamp"]}
        if stored is not None:
            workflow["status"]["storedWorkflowTemplateSpec"] = stored
        if carried:
            workflow["status"]["nodes"] = _copy_json(dict(carried))
        if notes:
            workflow["status"]["conditions"] = [
                {"type": "SpecWarning", "status": "True", "message": notes}
            ]
        self._create(workflow, owned=not detach)
        if detach:
            self._spawn_runner(workflow)
        else:
            self._start(workflow)
        return copy.deepcopy(workflow)

    def _validate(self, manifest: Mapping[str, Any], kind: str) -> None:
        """The shape of the manifest, checked before anything runs, as Argo's API server
        decodes it: every value of the JSON type its field has, and no null where a step,
        task or template must be (unknown fields are dropped, as Argo's API does). Each
        finding is one line naming its path. What Argo's controller checks as it runs
        (references, parameters, loop sizes) ends the run with Argo's message instead."""
        from jupyter_argo.errors import LintError, Location
        from jupyter_argo.spec.lint import Diagnostic
        from jupyter_argo.spec.parse import format_path
        from jupyter_argo.spec.schema import check_fields, field_table

        body = _plain(manifest)
        meta = body.get("metadata")
        label = kind
        if isinstance(meta, dict):
            named = meta.get("name") or meta.get("generateName")
            if isinstance(named, str) and named:
                label = f"{kind} {named}"
        table = field_table()
        root = table.root(kind)
        if root is None:
            return
        errors = [
            Diagnostic("error", Location(label, path=format_path(p.path)), p.message, p.hint)
            for p in check_fields(body, root, table, require_names=True)
            if not p.message.startswith("unknown field")
        ]
        if errors:
            raise LintError(list(errors))

    def submit_from(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        parameters: Mapping[str, str] | None = None,
        entrypoint: str | None = None,
        name: str | None = None,
        generate_name: str | None = None,
        detach: bool = False,
    ) -> dict[str, Any]:
        """`argo submit --from kind/name`: a Workflow made from an applied
        WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow as the Argo server
        makes it (a `workflowTemplateRef`, or the CronWorkflow's workflowSpec)."""
        from jupyter_argo.backends._k8s.actions import parse_from, workflow_from

        kind, source_name = parse_from(resource)
        ns = namespace or self.namespace
        source = self.store.get_object(kind, source_name, ns)
        if source is None:
            raise NotFoundError(
                f"{kind} '{source_name}' not found in namespace {ns} (apply it first with "
                "`jupyter-argo apply FILE` or a %%argo cell)"
            )
        manifest = workflow_from(kind, source_name, source)
        if generate_name:
            manifest["metadata"]["generateName"] = generate_name
        return self.submit(
            manifest,
            namespace=ns,
            parameters=parameters,
            entrypoint=entrypoint,
            name=name,
            detach=detach,
        )

    def _spawn_runner(self, workflow: dict[str, Any]) -> None:
        import subprocess
        import sys

        meta = workflow["metadata"]
        log = self.store.run_dir(meta["uid"]) / "engine.log"
        with log.open("ab") as out:
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyter_argo.engine.runner",
                    str(self.store.home),
                    meta["namespace"],
                    meta["name"],
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def adopt(self, name: str, namespace: str | None = None) -> None:
        """Run a stored workflow that no live process owns (submitted detached)."""
        workflow = self.store.get_workflow(name, namespace or self.namespace)
        self.store.save_workflow(workflow)
        self._start(workflow)

    def _create(self, workflow: dict[str, Any], *, owned: bool = True) -> None:
        meta = workflow["metadata"]
        fixed = meta.get("name")
        for _ in range(20):
            if not fixed:
                prefix = str(meta.get("generateName") or "workflow-")
                meta["name"] = prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
            if self.store.create_workflow(workflow, owned=owned):
                return
            if fixed:
                raise UserError(f'workflows.argoproj.io "{fixed}" already exists')
        raise UserError("could not generate a unique workflow name")

    def _apply_workflow_template(
        self, workflow: dict[str, Any], namespace: str
    ) -> dict[str, Any] | None:
        """The spec a `workflowTemplateRef` makes (JoinWorkflowSpec): the Workflow's own
        spec, which it keeps, merged over the template's. None without a reference."""
        spec = workflow["spec"]
        ref = spec.get("workflowTemplateRef")
        if not ref:
            return None
        kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
        found = self.store.get_object(kind, str(ref.get("name")), namespace)
        if found is None:
            raise NotFoundError(
                f"{kind} '{ref.get('name')}' not found (apply it first with "
                "`jupyter-argo apply FILE` or a %%argo cell)"
            )
        base = copy.deepcopy(found.get("spec") or {})
        own = copy.deepcopy(spec)
        params = {p["name"]: p for p in (base.get("arguments") or {}).get("parameters") or []}
        for p in (own.get("arguments") or {}).get("parameters") or []:
            params[p["name"]] = {**params.get(p["name"], {}), **p}
        merged: dict[str, Any] = deep_merge(base, own)
        if params:
            merged.setdefault("arguments", {})["parameters"] = list(params.values())
        merged["templates"] = (base.get("templates") or []) + (own.get("templates") or [])
        merged.pop("suspend", None)  # the Workflow's own `suspend` only (JoinWorkflowSpec)
        if "suspend" in own:
            merged["suspend"] = own["suspend"]
        return merged

    def _check_supported(self, spec: Mapping[str, Any], namespace: str) -> str:
        """Refuse what cannot run locally; name, by path, every field set that the local
        engine does not honour (engine/fields.py), in this workflow and in the stored
        templates it references, for the run's SpecWarning condition."""
        from jupyter_argo.engine import fields

        def stored(kind: str, name: str) -> Mapping[str, Any] | None:
            return self.store.get_object(kind, name, namespace)

        findings = fields.unhonoured(spec, stored)
        refused = fields.refused(findings)
        if refused:
            raise UnsupportedError(
                "; ".join(f"{f.path}: it {fields.REASONS[f.verdict]}" for f in refused)
                + " (run it with the kubernetes backend: --backend kubernetes)"
            )
        return fields.warning_message(findings)

    def _start(self, workflow: dict[str, Any]) -> None:
        meta = workflow["metadata"]
        key = (meta["namespace"], meta["name"])
        # Nodes it starts with (a retry's, resubmit --memoized's) are in every snapshot,
        # touched or not.
        carried = set((workflow.get("status") or {}).get("nodes") or ())
        run = _Run(workflow=workflow, snapshot=copy.deepcopy(workflow), dirty_nodes=carried)
        with self._lock:
            self._runs[key] = run
        loop = self._ensure_loop()
        loop.call_soon_threadsafe(self._launch, run)

    def _launch(self, run: _Run) -> None:
        from jupyter_argo import artifacts

        workflow = run.workflow
        meta = workflow["metadata"]
        lookup = self.lookup(meta["namespace"])
        assert self._slots is not None
        # As Argo's controller (`operate`): resolve the repository once, record it in the
        # status, and read it back from there (a retried run keeps its repository).
        source = StoreRepositories(self.store)
        status = workflow.setdefault("status", {})
        try:
            ref = status.get("artifactRepositoryRef")
            if not ref:
                spec_ref = execution_spec(workflow).get("artifactRepositoryRef")
                ref = artifacts.resolve_ref(source, spec_ref, meta["namespace"])
                status["artifactRepositoryRef"] = ref
            repo = artifacts.repository_of_ref(source, ref, meta["namespace"])
        except ArgoError as err:
            # As Argo's `operate`: the workflow errors before any node starts.
            self._error_before_start(run, f"failed to resolve artifact repository: {err}")
            return
        run_dir = self.store.home / "runs" / meta["uid"]  # made when first written to
        try:
            scratch_dir = _scratch_dir(meta["uid"], run_dir)
        except OSError as err:
            self._error_before_start(run, f"cannot make the run's scratch directory: {err}")
            return
        pods = PodHost(
            executor=self.executor,
            slots=self._slots,
            run_dir=run_dir,
            scratch_dir=scratch_dir,
            lookup=lookup,
            artifacts=repo,
        )
        host = OperatorHost(
            lookup=lookup,
            pods=pods,
            changed=functools.partial(self._changed, run),
            caches=CacheFactory(self.store, meta["namespace"]),
            estimator=estimator_for(workflow, self.store),
            sync=self._sync,
        )
        run.operator = WorkflowOperator(workflow, host)
        task = asyncio.ensure_future(self._drive(run))
        task.add_done_callback(lambda _: None)

    def _error_before_start(self, run: _Run, message: str) -> None:
        status = run.workflow["status"]
        status["phase"] = "Error"
        status["message"] = message
        status["finishedAt"] = format_time(now())
        asyncio.ensure_future(self._end(run)).add_done_callback(lambda _: None)

    async def _drive(self, run: _Run) -> None:
        assert run.operator is not None
        # Everything this task (and the tasks it starts) evaluates stops when the run is
        # interrupted, whatever expression it is in.
        evaluate_under(run.interrupt)
        try:
            await self._operate(run)
        finally:
            await self._end(run)

    async def _operate(self, run: _Run) -> None:
        assert run.operator is not None
        try:
            await run.operator.run()
        except Exception as err:  # a bug of ours must still end the run visibly
            status = run.workflow["status"]
            status["phase"] = "Error"
            status["message"] = f"internal error in the local engine: {type(err).__name__}: {err}"
            status["finishedAt"] = format_time(now())
            import traceback

            with contextlib.suppress(OSError):
                directory = self.store.run_dir(run.workflow["metadata"]["uid"])
                (directory / "engine-error.txt").write_text(traceback.format_exc())
        await self._collect_garbage(run)

    async def _end(self, run: _Run) -> None:
        """Publish and save the final status, and tell watchers: whatever happens, a
        run ends here (on a full disk, Error with the one message saying so)."""
        labels = run.workflow["metadata"].setdefault("labels", {})
        labels["workflows.argoproj.io/completed"] = "true"
        labels["workflows.argoproj.io/phase"] = run.workflow["status"].get("phase", "")
        # Argo's ReleaseAll, once the run is over.
        run.dirty_nodes.update(self._sync.release_all(run.workflow))
        self._publish(run)
        if run.operator is not None:
            from jupyter_argo.executors import remove_later

            pods = run.operator.host.pods
            pods.clean_retired(here=False)  # no next pod to hide behind: in the background
            # After its pods' own clean-ups (in order, on the same thread; done by exit).
            remove_later(pods.scratch_dir)
        snapshot = run.snapshot

        def save_and_end() -> None:
            # Watchers are told right here, without a trip back through the loop, and
            # even when the save fails.
            try:
                try:
                    with run.save_lock:
                        run.ending = True
                        self.store.save_workflow(snapshot, shared_nodes=True)
                    run.final_version = self.store.workflow_version(
                        snapshot["metadata"]["name"], snapshot["metadata"]["namespace"]
                    )
                except StoreError as err:
                    # The status could not be stored: what this process shows and what
                    # the store will show (once this process is gone) both say Error.
                    ended = dict(snapshot)
                    ended["status"] = {
                        **snapshot["status"],
                        "phase": "Error",
                        "message": str(err),
                        "finishedAt": snapshot["status"].get("finishedAt") or format_time(now()),
                    }
                    ended["metadata"] = copy.deepcopy(snapshot["metadata"])
                    ended["metadata"].setdefault("labels", {})["workflows.argoproj.io/phase"] = (
                        "Error"
                    )
                    with run.changed:
                        run.snapshot = ended
                        run.version += 1
                    with contextlib.suppress(StoreError):
                        self.store.save_workflow(ended)
            finally:
                with contextlib.suppress(StoreError):
                    self.store.finish_requests(run.requests)
                with run.changed:
                    run.done = True
                    run.changed.notify_all()

        await asyncio.get_running_loop().run_in_executor(self._io, save_and_end)

    async def _take_requests(self) -> None:
        """Stop/terminate/suspend/resume/node set asked by other processes (`jupyter-argo
        stop`). Each request is finished once the status that has it is saved, so the
        command that asked returns when what it did can be read back."""
        taken: set[int] = set()
        while True:
            await asyncio.sleep(CONTROL_INTERVAL)
            live = {key for key, run in self._runs.items() if not run.done and run.operator}
            if not live:
                continue
            try:
                requests = await asyncio.get_running_loop().run_in_executor(
                    self._io, self.store.take_requests, live, set(taken)
                )
            except StoreError:
                continue  # the runs' own saves report a store that fails; ask again later
            touched = []
            for request, ns, name, action, node in requests:
                taken.add(request)
                run = self._runs[(ns, name)]
                self._apply_request(run, action, node)
                run.requests.append(request)
                touched.append(run)
            for run in touched:
                self._publish(run)  # and saved at once (`_schedule_persist`)
            finished = await asyncio.get_running_loop().run_in_executor(
                self._io, self.store.finished_requests, set(taken)
            )
            taken -= finished

    @staticmethod
    def _apply_request(run: _Run, action: str, node: str | None) -> None:
        operator = run.operator
        if operator is None:
            return
        if action in ("Stop", "Terminate"):
            operator.stop(action)
        elif action == "suspend":
            operator.suspend()
        elif action == "resume":
            with contextlib.suppress(UserError):  # checked when it was asked
                operator.resume(node)
        elif action == "set" and node:
            with contextlib.suppress(UserError):  # checked when it was asked
                values = json.loads(node)
                operator.set_nodes(
                    values["selector"],
                    values.get("phase"),
                    values.get("message"),
                    values.get("outputs"),
                )

    async def _collect_garbage(self, run: _Run) -> None:
        """Artifact GC `OnWorkflowCompletion`, as Argo's controller runs it at the end."""
        if run.operator is None or not _output_artifacts(run.workflow):
            return  # nothing to collect: the GC module is not even loaded
        from jupyter_argo.artifacts import gc

        if not gc.artifacts_to_collect(run.workflow, "completion"):
            return
        pods = run.operator.host.pods
        result = await asyncio.get_running_loop().run_in_executor(
            self._io,
            functools.partial(
                gc.collect,
                copy.deepcopy(run.workflow),
                "completion",
                default=pods.artifacts,
                secrets=pods.secret_value,
            ),
        )
        gc.mark_deleted(run.workflow, result)
        _set_condition(run.workflow["status"], gc.gc_condition(result), gc.CONDITION_TYPE)
        run.dirty_nodes.update(run.workflow["status"].get("nodes", {}))

    # ---- publishing --------------------------------------------------------------------

    def _changed(self, run: _Run, nid: str) -> None:
        if nid:
            run.dirty_nodes.add(nid)
        if not run.publish_scheduled:
            run.publish_scheduled = True
            assert self._loop is not None
            delay = max(PUBLISH_INTERVAL, 20 * run.last_publish_cost)
            self._loop.call_later(delay, self._publish, run)

    def _publish(self, run: _Run) -> None:
        """A new immutable snapshot: unchanged nodes are shared with the previous one.
        Publishing is spaced by its own cost, so a huge run spends little time on it."""
        run.publish_scheduled = False
        if run.done:
            return  # a call scheduled before the end: the final snapshot is out
        began = time.monotonic()
        workflow = run.workflow
        status = workflow["status"]
        nodes = status.get("nodes", {})
        if "phase" in status:  # as Argo's persistUpdates: progress, then save
            if run.done or run.ending or status.get("finishedAt"):  # the last: every node
                run.progress = ProgressTracker()
            status["progress"], changed = run.progress.update(nodes, run.dirty_nodes)
            run.dirty_nodes.update(changed)
        else:
            run.progress = ProgressTracker()  # the changes below go unseen by it
        for nid in run.dirty_nodes:
            if nid in nodes:
                run.node_copies[nid] = _copy_json(nodes[nid])
        run.dirty_nodes.clear()
        snapshot = {k: v for k, v in workflow.items() if k != "status"}
        snapshot["metadata"] = copy.deepcopy(workflow["metadata"])
        snapshot_status = {k: copy.deepcopy(v) for k, v in status.items() if k != "nodes"}
        snapshot_status["nodes"] = dict(run.node_copies)
        snapshot["status"] = snapshot_status
        with run.changed:
            run.snapshot = snapshot
            run.version += 1
            run.changed.notify_all()
        self._schedule_persist(run)
        run.last_publish_cost = time.monotonic() - began

    def _schedule_persist(self, run: _Run) -> None:
        """At most one save in flight, and spaced so that saving a large run (a JSON
        document per save) takes a small share of the time: the final save is exact."""
        if run.persist_scheduled:
            return
        run.persist_scheduled = True
        if run.requests:
            due = time.monotonic()  # a command waits for it
        elif run.last_persist:
            due = run.last_persist + max(PERSIST_INTERVAL, 20 * run.last_persist_cost)
        else:
            due = run.started + FIRST_PERSIST_DELAY
        delay = max(0.0, due - time.monotonic())
        assert self._loop is not None
        loop = self._loop

        def saved(cost: float, version: int) -> None:
            run.persist_scheduled = False
            run.last_persist_cost = cost
            # A snapshot published while this save was in flight is saved next, not
            # only once something else changes.
            if (run.requests or run.version != version) and not run.done:
                self._schedule_persist(run)

        def save(snapshot: dict[str, Any], version: int, requests: list[int]) -> None:
            began = time.monotonic()
            try:
                with run.save_lock:
                    if run.done or run.ending:
                        # Ended meanwhile (perhaps from outside, by `interrupt`): not
                        # older; its final save has what the requests did.
                        with contextlib.suppress(StoreError):
                            self.store.finish_requests(requests)
                        return
                    # Snapshots share unchanged node objects: only new ones are written.
                    self.store.save_workflow(snapshot, shared_nodes=True)
                    self.store.finish_requests(requests)
            except StoreError as err:
                # A full (or failing) store: the run cannot be recorded, so it ends now.
                if run.operator is not None:
                    loop.call_soon_threadsafe(run.operator.storage_failed, str(err))
            loop.call_soon_threadsafe(saved, time.monotonic() - began, version)

        def persist() -> None:
            run.last_persist = time.monotonic()
            if run.done:
                run.persist_scheduled = False
                return
            requests, run.requests = run.requests, []
            self._io.submit(save, run.snapshot, run.version, requests)

        loop.call_later(delay, persist)

    # ---- reading -------------------------------------------------------------------------

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        ns = namespace or self.namespace
        run = self._runs.get((ns, name))
        if run is not None and not self._changed_elsewhere(run, name, ns):
            with run.changed:
                return run.snapshot
        return self.store.get_workflow(name, ns)

    def _changed_elsewhere(self, run: _Run, name: str, namespace: str) -> bool:
        """Whether a run that ended here has been changed by another process since (a
        retry from the command line): then the store has it."""
        if not run.done or run.final_version is None:
            return False
        with contextlib.suppress(StoreError):
            return self.store.workflow_version(name, namespace) != run.final_version
        return False

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        listed = self.store.list_workflows(namespace)
        out = []
        for workflow in listed:
            meta = workflow["metadata"]
            run = self._runs.get((meta["namespace"], meta["name"]))
            out.append(run.snapshot if run is not None else workflow)
        return out

    def watch(
        self, name: str, namespace: str | None = None, *, timeout: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Snapshots as the run changes, ending with the final one."""
        ns = namespace or self.namespace
        deadline = None if timeout is None else time.monotonic() + timeout
        run = self._runs.get((ns, name))
        if run is None or self._changed_elsewhere(run, name, ns):
            yield from self._watch_store(name, ns, deadline)
            return
        seen = -1
        while True:
            with run.changed:
                while run.version == seen and not run.done:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return
                    # Short waits: a KeyboardInterrupt must reach a waiting main thread.
                    run.changed.wait(0.1 if remaining is None else min(remaining, 0.1))
                snapshot, seen, done = run.snapshot, run.version, run.done
            yield snapshot
            if done:
                return

    def _watch_store(self, name: str, ns: str, deadline: float | None) -> Iterator[dict[str, Any]]:
        # Another process runs it: the store's version column tells when it changed.
        seen = None
        while True:
            version = self.store.workflow_version(name, ns)
            if version is None:
                raise NotFoundError(f'workflows.argoproj.io "{name}" not found')
            if version != seen:
                seen = version
                workflow = self.store.get_workflow(name, ns)
                yield workflow
                if is_fulfilled_workflow(workflow):
                    return
            if deadline is not None and time.monotonic() > deadline:
                return
            time.sleep(0.1)

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
        """(pod name, line) for every pod's `container` log of the run, pods in the order
        they started, like `argo logs`. `grep` and `tail` filter as there; the local
        engine keeps no per-line times, so `timestamps` and `since_seconds` are
        refused."""
        from jupyter_argo.expr._regex import RegexError, compile_re2

        if timestamps or since_seconds is not None:
            raise UnsupportedError(
                "logs --timestamps/--since: the local engine keeps no per-line times "
                "(use the kubernetes backend)"
            )
        try:
            pattern = compile_re2(grep) if grep else None  # Go's regexp, as `argo logs`
        except RegexError as err:
            raise UserError(f"--grep {grep!r}: not a regular expression ({err})") from None
        if tail is not None and not follow and pattern is None:
            # Read from each log's end: a tail of a 50 MB log costs what the tail does.
            yield from self._log_tails(name, namespace, node, container, max(tail, 0))
            return
        if tail is not None and not follow:
            kept: dict[str, list[str]] = {}
            order: list[str] = []
            for pod, line in self.logs(name, namespace, node=node, container=container, grep=grep):
                if pod not in kept:
                    kept[pod] = []
                    order.append(pod)
                kept[pod].append(line)
            for pod in order:
                for line in kept[pod][-tail:] if tail > 0 else []:
                    yield pod, line
            return

        ns = namespace or self.namespace
        offsets: dict[Path, int] = {}
        while True:
            workflow = self.get(name, ns)
            done = is_fulfilled_workflow(workflow)
            for pod, log in self._pod_logs(workflow, node, container):
                with log.open("rb") as handle:
                    handle.seek(offsets.get(log, 0))
                    data = handle.read()
                complete = data[: data.rfind(b"\n") + 1] if not done else data
                offsets[log] = offsets.get(log, 0) + len(complete)
                for line in complete.decode("utf-8", "replace").splitlines():
                    if pattern is None or pattern.matches(line):
                        yield pod, line
            if not follow or done:
                return
            time.sleep(0.1)

    def _log_tails(
        self, name: str, namespace: str | None, node: str | None, container: str, tail: int
    ) -> Iterator[tuple[str, str]]:
        """The last `tail` lines of each matching pod's log, read backwards from its end."""
        workflow = self.get(name, namespace or self.namespace)
        for pod, log in self._pod_logs(workflow, node, container):
            for line in _last_lines(log, tail) if tail > 0 else ():
                yield pod, line

    def _pod_logs(
        self, workflow: Mapping[str, Any], node: str | None, container: str
    ) -> Iterator[tuple[str, Path]]:
        """(pod name, its `container` log file) of each pod of `workflow` that has one,
        in the order they started; with `node`, only that node's (ID, name or display
        name)."""
        from jupyter_argo.status import pod_name as make_pod_name

        run_dir = self.store.home / "runs" / workflow["metadata"]["uid"] / "logs"
        for entry in _pods_in_order(workflow):
            if node is not None and node not in (
                entry["id"],
                entry["name"],
                entry.get("displayName"),
            ):
                continue
            template = entry.get("templateName") or (entry.get("templateRef") or {}).get(
                "template", ""
            )
            pod = make_pod_name(workflow["metadata"]["name"], entry["name"], template)
            log = run_dir / pod / f"{container or 'main'}.log"
            if log.exists():
                yield pod, log

    # ---- actions ---------------------------------------------------------------------------

    def _control(
        self,
        name: str,
        namespace: str | None,
        action: str,
        node: str | None = None,
        message: str | None = None,
    ) -> None:
        ns = namespace or self.namespace
        run = self._runs.get((ns, name))
        if run is None or run.done or run.operator is None:
            # Another process runs it: leave a request it picks up, and wait for it.
            self.store.wait_request(self.store.request(name, ns, action, node))
            return
        operator = run.operator
        if action == "Terminate":
            self._cut_short(run, message)
        if action in ("Stop", "Terminate"):
            self._call(operator.stop, action, message)
        elif action == "suspend":
            self._call(operator.suspend)
        else:
            self._call(operator.resume, node)
        self._call(self._publish, run)  # what `get` shows next has it

    def stop(
        self,
        name: str,
        namespace: str | None = None,
        *,
        node_field_selector: str | None = None,
        message: str | None = None,
    ) -> None:
        """Stop the run (exit handlers still run); with `node_field_selector`, fail only
        the matching active suspend nodes, with `message`."""
        if node_field_selector:
            self.set_node(
                name,
                namespace,
                node_field_selector=node_field_selector,
                phase="Failed",
                message=message,
            )
            return
        self._control(name, namespace, "Stop")

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
        """`argo node set`: the active suspend nodes matching the selector get `phase`
        (ending their wait), `message` and supplied outputs. A run of another process
        is checked against its last saved status here, then asked to do it."""
        from jupyter_argo.backends._k8s.actions import set_nodes

        ns = namespace or self.namespace
        run = self._runs.get((ns, name))
        if run is None or run.done or run.operator is None:
            saved = copy.deepcopy(self.get(name, ns))
            set_nodes(  # fails here, with Argo's message, if it would fail there
                saved,
                node_field_selector,
                phase=phase,
                message=message,
                output_parameters=output_parameters,
            )
            payload = {
                "selector": node_field_selector,
                "phase": phase,
                "message": message,
                "outputs": dict(output_parameters or {}),
            }
            self.store.wait_request(self.store.request(name, ns, "set", json.dumps(payload)))
            return
        self._call(run.operator.set_nodes, node_field_selector, phase, message, output_parameters)
        self._call(self._publish, run)  # what `get` shows next has it

    def terminate(
        self, name: str, namespace: str | None = None, *, message: str | None = None
    ) -> None:
        """End the run now (no exit handlers); `message` becomes the workflow's message."""
        self._control(name, namespace, "Terminate", message=message)

    def interrupt(
        self,
        name: str,
        namespace: str | None = None,
        *,
        message: str,
        timeout: float = INTERRUPT_WAIT,
    ) -> dict[str, Any]:
        """End the run now, for a Ctrl-C or a kernel interrupt, whatever it is doing, and
        return its final status within about `timeout` seconds.

        As `terminate` (no exit handlers; `message` becomes the workflow's message), and
        more: the expression the run is evaluating stops at its next step, the steps get
        SIGKILL INTERRUPT_GRACE seconds after SIGTERM, and nothing here waits for the
        engine's loop. Should the loop not end the run in time (busy in work no interrupt
        reaches), the run is ended from this thread: its steps killed, its status saved
        as Failed with `message`. A run of another process is asked to terminate."""
        ns = namespace or self.namespace
        run = self._runs.get((ns, name))
        if run is None or run.done:
            self._control(name, ns, "Terminate", message=message)
            return self.get(name, ns)
        self._cut_short(run, message)

        def stop_now() -> None:
            if run.operator is not None and not run.done:
                run.operator.stop("Terminate", message, grace=INTERRUPT_GRACE)

        self._ensure_loop().call_soon_threadsafe(stop_now)
        final = self.wait(name, ns, timeout=timeout)
        if is_fulfilled_workflow(final):
            return final
        return self._abandon(run, message)

    @staticmethod
    def _cut_short(run: _Run, message: str | None) -> None:
        """The start of a terminate, from any thread, before the loop gets to it: the
        expression being evaluated ends (so the loop is free at once), nothing of the run
        evaluates any more (no exit handler runs), and no step starts."""
        operator = run.operator
        if operator is not None:
            # Plain attributes, read by the loop as it goes; the run ends with `message`
            # (or Argo's "Stopped with strategy") even if the cut evaluation ends it.
            operator.shutdown, operator.shutdown_reason = "Terminate", message
        run.interrupt.set(message or "the workflow was terminated")

    def _abandon(self, run: _Run, message: str) -> dict[str, Any]:
        """The last resort of `interrupt`, on the caller's thread: kill the run's steps,
        publish and save it as Failed. The loop, once free, carries out the queued
        terminate; this status is the one that stays."""
        if run.operator is not None:
            run.operator.host.pods.kill_all()
        with run.changed:
            snapshot = copy.deepcopy(run.snapshot)
            status = snapshot.setdefault("status", {})
            stamp = format_time(now())
            for node in (status.get("nodes") or {}).values():
                if node.get("phase") in ("Pending", "Running", None):
                    node.update(phase="Failed", message=message, finishedAt=stamp)
            status.update(phase="Failed", message=message, finishedAt=stamp)
            labels = snapshot.setdefault("metadata", {}).setdefault("labels", {})
            labels["workflows.argoproj.io/completed"] = "true"
            labels["workflows.argoproj.io/phase"] = "Failed"
            self._sync.release_all(snapshot)
            run.snapshot = snapshot
            run.version += 1
            run.done = True
            run.changed.notify_all()
        self.store.save_workflow(snapshot)
        return snapshot

    def suspend(self, name: str, namespace: str | None = None) -> None:
        self._control(name, namespace, "suspend")

    def resume(self, name: str, namespace: str | None = None, *, node: str | None = None) -> None:
        """Argo's resume: the workflow and its suspend nodes, or with `node` (a node
        field selector, or a node's name) only the matching suspend nodes. Refused with
        Argo's message, changing nothing, as Argo refuses it; a run of another process
        is checked against its last saved status here, then asked to do it."""
        from jupyter_argo.backends._k8s.actions import resume_nodes

        ns = namespace or self.namespace
        run = self._runs.get((ns, name))
        if run is None or run.done or run.operator is None:
            resume_nodes(copy.deepcopy(self.get(name, ns)), node)
            self.store.wait_request(self.store.request(name, ns, "resume", node))
            return
        self._call(run.operator.resume, node)
        self._call(self._publish, run)  # what `get` shows next has it

    def retry(
        self,
        name: str,
        namespace: str | None = None,
        *,
        restart_successful: bool = False,
        node_field_selector: str | None = None,
        parameters: Mapping[str, str] | None = None,
        detach: bool = False,
    ) -> dict[str, Any]:
        """`argo retry`, same name: Argo's FormulateRetryWorkflow decides which nodes
        stay, which restart (Running) and which go (`backends._k8s.actions`); the run
        then goes on from there. `restart_successful` with `node_field_selector` also
        reruns the succeeded nodes matching it (and what follows them); `parameters`
        override the arguments as `-p` does; `detach` as for `submit` (the retried run
        outlives the command that asked for it). Refused, changing nothing, as Argo
        refuses it."""
        from jupyter_argo.backends._k8s.actions import formulate_retry

        ns = namespace or self.namespace
        existing = self._runs.get((ns, name))
        if existing is not None and not existing.done:
            raise UserError("Cannot retry a workflow in phase Running")
        workflow, pods = formulate_retry(
            self.store.get_workflow(name, ns),
            restart_successful=restart_successful,
            node=node_field_selector or None,
            parameters=parameters,
        )
        status = workflow["status"]
        status["phase"] = "Running"
        workflow["metadata"].setdefault("labels", {})["workflows.argoproj.io/completed"] = "false"
        self.store.save_workflow(workflow, owned=not detach)
        # As Argo deletes their pods: the rerun ones start with no log of the last run.
        logs = self.store.home / "runs" / workflow["metadata"]["uid"] / "logs"
        for pod in pods:
            shutil.rmtree(logs / pod, ignore_errors=True)
        if detach:
            self._spawn_runner(workflow)
        else:
            self._start(workflow)
        return copy.deepcopy(workflow)

    def resubmit(
        self,
        name: str,
        namespace: str | None = None,
        *,
        memoized: bool = False,
        parameters: Mapping[str, str] | None = None,
        detach: bool = False,
    ) -> dict[str, Any]:
        """A new run of the same manifest, as `argo resubmit` does; `parameters`
        override its arguments as `-p` does; `detach` as for `submit`. With `memoized` (a
        Failed or Error run) the new run keeps the old one's succeeded pods, renamed and
        Skipped with "original pod: ID" as Argo's FormulateResubmitWorkflow makes them, and
        runs the rest again."""
        ns = namespace or self.namespace
        workflow = self.store.get_workflow(name, ns)
        if memoized:
            return self._resubmit_memoized(workflow, ns, parameters, detach)
        meta = workflow["metadata"]
        fresh = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {
                "generateName": meta.get("generateName") or f"{meta['name']}-",
                "namespace": ns,
                "labels": {
                    k: v
                    for k, v in (meta.get("labels") or {}).items()
                    if not k.startswith("workflows.argoproj.io/")
                },
                "annotations": meta.get("annotations") or {},
            },
            "spec": workflow["spec"],
        }
        if parameters:
            from jupyter_argo.backends._k8s.actions import override_parameters

            override_parameters(fresh, parameters)
        return self.submit(fresh, namespace=ns, detach=detach)

    def _resubmit_memoized(
        self,
        workflow: dict[str, Any],
        namespace: str,
        parameters: Mapping[str, str] | None,
        detach: bool,
    ) -> dict[str, Any]:
        from jupyter_argo.backends._k8s.actions import formulate_resubmit

        fresh = formulate_resubmit(workflow, memoized=True, parameters=parameters)
        nodes = fresh.pop("status")["nodes"]
        # Argo carries every old node (the rest as Pending) and its controller walks them
        # again; this engine makes a node when it reaches it, so it keeps only what is
        # finished (the Skipped ones), whose names and IDs are those Argo gives.
        keep = {nid: n for nid, n in nodes.items() if n.get("phase") == "Skipped"}
        for node in keep.values():
            for key in ("children", "outboundNodes"):
                kept = [c for c in node.get(key) or [] if c in keep]
                if kept:
                    node[key] = kept
                else:
                    node.pop(key, None)
        name = str(fresh["metadata"].pop("name"))
        return self.submit(fresh, namespace=namespace, name=name, detach=detach, carried=keep)

    def delete(self, name: str, namespace: str | None = None, *, force: bool = False) -> None:
        """Delete a run, its logs and its `OnWorkflowDeletion` artifacts. A failed artifact
        deletion keeps the run (with an ArtifactGCError condition) unless `force` or
        `spec.artifactGC.forceFinalizerRemoval` says otherwise, as Argo's finalizer does."""
        ns = namespace or self.namespace
        run = self._runs.get((ns, name))
        if run is not None and not run.done and run.operator is not None:
            self._call(run.operator.stop, "Terminate", None)
            self.wait(name, ns, timeout=30)
        workflow = self.store.get_workflow(name, ns)
        failed = self._collect_on_deletion(workflow, ns)
        forced = force or bool(
            (execution_spec(workflow).get("artifactGC") or {}).get("forceFinalizerRemoval")
        )
        if failed and not forced:
            raise UserError(
                f"workflow {name} is kept: artifact GC failed for {failed} "
                "(fix the repository and delete again, or delete --force)"
            )
        self.store.delete_workflow(name, ns)
        with self._lock:
            self._runs.pop((ns, name), None)
        shutil.rmtree(self.store.home / "runs" / workflow["metadata"]["uid"], ignore_errors=True)

    def _collect_on_deletion(self, workflow: dict[str, Any], namespace: str) -> str:
        from jupyter_argo import artifacts
        from jupyter_argo.artifacts import gc

        if not gc.artifacts_to_collect(workflow, "deletion"):
            return ""
        lookup = self.lookup(namespace)
        repo = artifacts.workflow_repository(StoreRepositories(self.store), workflow)
        result = gc.collect(workflow, "deletion", default=repo, secrets=_secret_reader(lookup))
        gc.mark_deleted(workflow, result)
        condition = gc.gc_condition(result)
        _set_condition(workflow.setdefault("status", {}), condition, gc.CONDITION_TYPE)
        self.store.save_workflow(workflow, owned=False)
        return ", ".join(label.split("/", 1)[-1] for label, _ in result.failed)


def _plain(value: Any) -> Any:
    """`value` as JSON data: mappings become dicts, tuples lists, for lint to read."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars), several times faster than
    copy.deepcopy, which must handle any object (scalars, most of it, are not even
    called for)."""
    if isinstance(value, dict):
        return {k: v if v.__class__ in _SCALARS else _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if v.__class__ in _SCALARS else _copy_json(v) for v in value]
    return value


_TMPFS = Path("/dev/shm")
_TMPFS_FREE = 4 << 30


_TAIL_BLOCK = 64 * 1024
_TAIL_MOST = 8 << 20  # bytes read for a tail: a line longer than that shows its end


def _last_lines(log: Path, count: int) -> list[str]:
    """The last `count` lines of `log` (a final line without its newline included),
    reading blocks backwards from the end until they hold enough."""
    with log.open("rb") as handle:
        end = handle.seek(0, 2)
        start, data = end, b""
        while start > 0 and data.count(b"\n") <= count and len(data) < _TAIL_MOST:
            step = min(start, max(_TAIL_BLOCK, len(data)))
            start -= step
            handle.seek(start)
            data = handle.read(step) + data
    lines = data.decode("utf-8", "replace").splitlines()
    if start > 0 and len(lines) > 1:
        lines = lines[1:]  # the end of a line that began before what was read
    return lines[-count:]


def _scratch_dir(uid: str, run_dir: Path) -> Path:
    """Where pods keep their private files while they run: tmpfs when there is room
    (creating a pod's directories on disk costs milliseconds per step), else the run's
    directory. `JUPYTER_ARGO_SCRATCH` chooses another place."""
    import os
    import tempfile

    chosen = os.environ.get("JUPYTER_ARGO_SCRATCH")
    if chosen:
        root = Path(chosen)
    else:
        root = run_dir
        with contextlib.suppress(OSError):
            stats = os.statvfs(_TMPFS)
            if os.access(_TMPFS, os.W_OK) and stats.f_bavail * stats.f_frsize > _TMPFS_FREE:
                root = _own_directory(_TMPFS / f"jupyter-argo-scratch-{os.getuid()}") or run_dir
    # A new directory each time the run starts: a retry (same uid) must not share the one
    # the run's last start still removes in the background.
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Path(tempfile.mkdtemp(prefix=f"pods-{uid}-", dir=root))


def _own_directory(path: Path) -> Path | None:
    """`path` as a 0700 directory of this user's, or None when someone else holds the name
    (/dev/shm is shared by every user: a name made there by another is not trusted)."""
    import os
    import stat

    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return None
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path


def _set_condition(status: dict[str, Any], condition: dict[str, Any] | None, kind: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    if condition is not None:
        conditions.append(condition)
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def _secret_reader(lookup: Any) -> Any:
    def read(name: str, key: str) -> str | None:
        from jupyter_argo.engine.objects import secret_value

        return secret_value(lookup("Secret", name), key)

    return read


def _output_artifacts(workflow: Mapping[str, Any]) -> bool:
    """Whether a node of `workflow` has output artifacts (what artifact GC looks at)."""
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    return any(
        isinstance(node, Mapping) and (node.get("outputs") or {}).get("artifacts")
        for node in nodes.values()
    )


def is_fulfilled_workflow(workflow: Mapping[str, Any]) -> bool:
    return (workflow.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Error")


def _pods_in_order(workflow: Mapping[str, Any]) -> list[dict[str, Any]]:
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    pods = [n for n in nodes.values() if n.get("type") == "Pod"]
    return sorted(pods, key=lambda n: (n.get("startedAt") or "", n["name"]))


def _override_parameters(spec: dict[str, Any], parameters: Mapping[str, str]) -> None:
    """`-p NAME=VALUE`: an unknown name is an error, as with `argo submit`."""
    arguments = spec["arguments"] = spec.get("arguments") or {}
    params = arguments["parameters"] = arguments.get("parameters") or []
    known = {p.get("name"): p for p in params}
    for name, value in parameters.items():
        if name not in known:
            choices = ", ".join(str(n) for n in known) or "none declared"
            raise UserError(f"parameter '{name}' is not a workflow argument (known: {choices})")
        known[name]["value"] = value
        known[name].pop("valueFrom", None)


def _python_note(executor: Any, spec: Mapping[str, Any]) -> str:
    """The process executor's note on python images running this kernel's Python."""
    note = getattr(executor, "python_note", None)
    return str(note(spec)) if note is not None else ""


def _new_uid() -> str:
    """A random (version 4) UUID, as the API server gives every object; `uuid.uuid4()`
    without importing uuid, which imports platform (2 ms of every start)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
