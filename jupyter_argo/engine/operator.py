"""The local controller's core: runs one Workflow with Argo's semantics and writes Argo's status.

Follows workflow/controller/operator.go: the whole run (operate, with the workflow's own
onExit), executeTemplate, node bookkeeping (initializeNode, markNodePhase, addChildNode,
getOutboundNodes), retries (processNodeRetries), suspend templates (executeSuspend) and
outputs (getTemplateOutputsFromScope, addOutputsToGlobalScope). Argo spreads the methods
of one wfOperationCtx over several files; here each file holds one class of a chain, so a
behaviour is found in the file named like Argo's:

    operator.py      OperatorCore          operator.go
    hooks.py         HooksMixin            hooks.go
    exit_handler.py  ExitHandlerMixin      exit_handler.go (a step's or task's onExit)
    steps.py         StepsMixin            steps.go (and processItem, expandSequence)
    dag.py           DagMixin              dag.go
    woc.py           WorkflowOperator      the whole wfOperationCtx

Argo's controller re-walks the whole workflow on every event. Here every node is a
coroutine that awaits its children, so each event costs O(1) and a 20,000-node run
costs twice a 10,000-node one. The node graph it builds (names, IDs, children,
outbound nodes, boundaries, phases and messages) is the one Argo builds; comments name
the Argo function each part follows.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import contextvars
import copy
import json
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from jupyter_argo import expr
from jupyter_argo.engine.cache import CacheError, memoization_status, parse_max_age
from jupyter_argo.engine.pods import DEADLINE_MESSAGE
from jupyter_argo.engine.progress import update_progress
from jupyter_argo.engine.sync import Attempt, SyncItem, holder_key, sync_items
from jupyter_argo.engine.templates import (
    ResolvedTemplate,
    TemplateContext,
    execution_spec,
    template_type,
)
from jupyter_argo.engine.variables import (
    ABSENT,
    Scope,
    global_variables,
    parameter_value,
    process_inputs,
    substitute_template,
)
from jupyter_argo.errors import ArgoError, UserError
from jupyter_argo.limits import ITEMS_VARIABLE, max_items
from jupyter_argo.status import (
    duration_seconds,
    format_now,
    format_time,
    is_fulfilled,
    node_duration,
    node_id,
    now,
    pod_name,
)

if TYPE_CHECKING:
    from jupyter_argo.engine.cache import CacheFactory
    from jupyter_argo.engine.estimation import Estimator
    from jupyter_argo.engine.pods import PodHost
    from jupyter_argo.engine.sync import SyncManager

__all__ = ["BoundaryContext", "Limiter", "OperatorCore", "OperatorHost", "TemplateCall"]

_DISPLAY_SEPARATOR = re.compile(r"^(\[\d+\])?\.")
FAIL_FAST_MESSAGE = "template has failed or errored children and failFast enabled"
# How deeply templates nest along one path of the run; each task inherits its parent's.
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("jupyter_argo_depth", default=0)
_POD_TYPES = ("container", "script", "containerSet", "resource", "data")
# The nodes whose success Argo saves to their memoization cache (podReconciliation,
# executeSteps, executeDAG, the HTTP taskset); a Retry or Suspend node is not saved.
_SAVED_TYPES = ("Pod", "Steps", "DAG", "HTTP")
_NODE_TYPES = {
    "steps": "Steps",
    "dag": "DAG",
    "suspend": "Suspend",
    "http": "HTTP",
    "plugin": "Plugin",
}


@dataclass
class OperatorHost:
    """What a running workflow needs from its engine."""

    lookup: Callable[[str, str], dict[str, Any] | None]  # (kind, name) -> applied object
    pods: PodHost
    changed: Callable[[str], None]  # node ID that changed ("" for the workflow's own fields)
    max_depth: int = 100
    caches: CacheFactory | None = None  # memoization caches (cache.py) of the namespace
    estimator: Estimator | None = None  # estimated durations (estimation.py)
    sync: SyncManager | None = None  # mutexes and semaphores (sync.py) shared by every run


class GlobalParameterError(UserError):
    """A workflow argument that cannot be set (setGlobalParameters): the run fails."""


class _Shutdown(Exception):
    """Raised inside node coroutines when the workflow is stopped or terminated."""


class Limiter:
    """A parallelism limit that may be absent.

    As Argo's checkParallelism: a template's limit counts only when above 0
    (`HasParallelism`); the workflow's holds whatever it is, so 0 runs nothing."""

    def __init__(self, limit: Any, *, workflow: bool = False) -> None:
        self.semaphore = None
        if limit not in (None, "") and (workflow or int(limit) > 0):
            self.semaphore = asyncio.Semaphore(max(0, int(limit)))

    async def __aenter__(self) -> None:
        if self.semaphore is not None:
            await self.semaphore.acquire()

    async def acquire_unless(self, stopped: asyncio.Event) -> bool:
        """Take a slot, or give up (False) when `stopped` is set first: a workflow held
        at its parallelism (0 holds it for good) still ends when it is stopped."""
        if self.semaphore is None:
            return True
        if not self.semaphore.locked():
            await self.semaphore.acquire()
            return True
        acquiring = asyncio.ensure_future(self.semaphore.acquire())
        stopping = asyncio.ensure_future(stopped.wait())
        await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if acquiring.done() and not acquiring.cancelled():
            return True
        acquiring.cancel()
        return False

    async def __aexit__(self, *exc: object) -> None:
        if self.semaphore is not None:
            self.semaphore.release()


@dataclass
class BoundaryContext:
    """A steps or DAG node whose children run: Argo's stepsContext / dagContext (the
    boundary, its scope and template context), shared with the hooks of its children."""

    boundary_id: str
    scope: Scope
    context: TemplateContext
    on_exit: bool
    limit: Limiter = field(default_factory=lambda: Limiter(None))  # template `parallelism`
    fail_fast: bool = False  # template `failFast`: no new children once one failed
    failed: bool = False
    template_name: str = ""  # for messages: templates.NAME.steps[0].STEP

    @classmethod
    def of(
        cls,
        node: Mapping[str, Any],
        tmpl: Mapping[str, Any],
        context: TemplateContext,
        on_exit: bool,
    ) -> BoundaryContext:
        ctx = cls(node["id"], Scope(), context, on_exit, Limiter(tmpl.get("parallelism")))
        ctx.fail_fast = tmpl.get("failFast") is True
        ctx.template_name = str(tmpl.get("name") or "")
        # A template's own input artifacts can be passed on with `from: {{inputs.artifacts.x}}`.
        for art in (tmpl.get("inputs") or {}).get("artifacts") or []:
            ctx.scope.set(f"inputs.artifacts.{art['name']}", art)
        return ctx


@dataclass(frozen=True)
class TemplateCall:
    """One execution of a template: the node to make and where its template came from."""

    name: str
    holder: Mapping[str, Any]
    resolved: ResolvedTemplate
    tmpl: dict[str, Any]
    boundary_id: str
    on_exit: bool
    flag: dict[str, Any] | None


@dataclass
class StartedHooks:
    """Hook nodes started for one parent node, so each runs once, and their runs, which
    the parent's step or task waits for (Argo's hookCompleted)."""

    started: set[str] = field(default_factory=set)
    runs: list[asyncio.Future[Any]] = field(default_factory=list)


@dataclass
class _Retries:
    """Where a retry node's attempts are (processNodeRetries' inputs, kept between
    attempts)."""

    strategy: Mapping[str, Any]
    policy: str
    limit: int | None
    child_flag: dict[str, Any]
    first_started: float
    attempt: int = 0
    last: dict[str, Any] | None = None


class OperatorCore(abc.ABC):
    """Argo's wfOperationCtx, the part in operator.go; steps and DAGs come from the
    subclasses (steps.py, dag.py), put together in woc.py."""

    def __init__(self, workflow: dict[str, Any], host: OperatorHost) -> None:
        self.wf = workflow
        self.host = host
        meta = workflow["metadata"]
        self.name: str = meta["name"]
        self.spec: dict[str, Any] = execution_spec(workflow)
        status = workflow.setdefault("status", {})
        self.status: dict[str, Any] = status
        self.nodes: dict[str, dict[str, Any]] = status.setdefault("nodes", {})
        self.globals: dict[str, Any] = {}
        self.shutdown: str = ""  # "", "Stop" or "Terminate"
        self.shutdown_reason: str | None = None
        # Set when logs, outputs or the status cannot be stored (a full disk): the run
        # is terminated and ends Error with this one message.
        self.storage_failure: str = ""
        # The workflow's `parallelism`: every pod of the run holds it while it runs.
        self.parallelism = Limiter(self.spec.get("parallelism"), workflow=True)
        self._resume = asyncio.Event()
        self.stopped = asyncio.Event()  # set by stop(): waits for a slot end
        self._resume.set()
        self._resumed_nodes: set[str] = set()
        # Suspend nodes given a phase by `node set`: (phase, message).
        self._node_outcomes: dict[str, tuple[str, str | None]] = {}
        self._node_waiters: dict[str, asyncio.Event] = {}
        # Woken by every phase change of a node whose hooks are watched (hooks.py).
        self._phase_watchers: dict[str, asyncio.Event] = {}
        self._daemoned: set[str] = set()  # ids of the nodes marked daemoned now
        self._deadline: float | None = None
        # The workflow's activeDeadlineSeconds passed: not a shutdown (exit handlers run).
        self.deadline_exceeded = False
        self._exit_suspends: set[str] = set()  # suspend nodes of exit handlers
        self._root_context: TemplateContext | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._children: dict[str, set[str]] = {}

    # ---- steps and DAGs: steps.py (executeSteps) and dag.py (executeDAG) --------------

    @abc.abstractmethod
    async def _execute_steps(self, call: TemplateCall) -> dict[str, Any]:
        """Argo's executeSteps (steps.py)."""

    @abc.abstractmethod
    async def _execute_dag(self, call: TemplateCall) -> dict[str, Any]:
        """Argo's executeDAG (dag.py)."""

    # ---- the workflow's own hooks: hooks.py (executeWfLifeCycleHook) -----------------

    @abc.abstractmethod
    async def _await_root_with_hooks(
        self, task: asyncio.Future[dict[str, Any]], hooks: StartedHooks
    ) -> dict[str, Any]:
        """The root node once done, the workflow's expression hooks started meanwhile."""

    @abc.abstractmethod
    def _start_workflow_hooks(self, root: Mapping[str, Any], hooks: StartedHooks) -> None:
        """The workflow's expression hooks whose condition holds now."""

    @abc.abstractmethod
    async def _hooks_completed(self, hooks: StartedHooks) -> None:
        """Until every started hook node is done."""

    # ---- the whole run (Argo's operate) ------------------------------------------------

    async def run(self) -> None:
        status = self.status
        # Argo's operate: with the globals known, the workflow's own locks first, the
        # workflow Pending while it waits for them.
        sync = self.host.sync if self.spec.get("synchronization") is not None else None
        locked = sync is not None
        if sync is not None and not (self._prepare() and await self._acquire_workflow_locks(sync)):
            return
        status["phase"] = "Running"
        status["startedAt"] = format_time(now())
        status.pop("finishedAt", None)
        estimate = self.host.estimator.workflow() if self.host.estimator else 0
        if estimate:
            status["estimatedDuration"] = estimate
        deadline = self.spec.get("activeDeadlineSeconds")
        if deadline is not None:
            self._deadline = time.monotonic() + float(deadline)
        self._changed()
        if not locked and not self._prepare():
            return
        if self.spec.get("suspend"):
            self.suspend()
        watchdog = asyncio.ensure_future(self._watch_deadline())
        hooks = StartedHooks()
        try:
            try:
                root = await self._execute_root(hooks)
            finally:
                watchdog.cancel()
            await self._handed_off()
            await self._finish_with_exit_handler(root, hooks)
        finally:
            await self._daemons_gone()

    def _prepare(self) -> bool:
        """The globals and the root template context; False when the run ended Error."""
        try:
            self.globals = global_variables(self.wf)
            self._root_context = TemplateContext(
                self.spec.get("templates") or [],
                scope=f"local/{self.name}",
                lookup=self.host.lookup,
                defaults=self.spec.get("templateDefaults"),
            )
            self._resolve_workflow_parameters()
            self._update_workflow_metadata()
        except GlobalParameterError as err:
            self._finish("Failed", str(err))  # operate: markWorkflowFailed
            return False
        except ArgoError as err:
            self._finish("Error", str(err))
            return False
        return True

    async def _handed_off(self) -> None:
        """Outputs handed to later steps at copy speed are stored in the background; the
        run ends once they are in the repository (a failed store errors the run)."""
        failure = await self.host.pods.handed_off()
        if failure and not self.storage_failure:
            self.storage_failure = failure

    def _update_workflow_metadata(self) -> None:
        """Argo's updateWorkflowMetadata: `spec.workflowMetadata` labels and annotations,
        and labels from expressions over the global variables, onto the workflow and into
        `{{workflow.labels.NAME}}` / `{{workflow.annotations.NAME}}`."""
        wanted = self.spec.get("workflowMetadata")
        if not isinstance(wanted, Mapping):
            return
        meta = self.wf["metadata"]
        labels = meta.setdefault("labels", {})
        annotations = meta.setdefault("annotations", {})
        for name, value in (wanted.get("labels") or {}).items():
            _check_label_value(str(value), f'invalid label value "{value}" for label "{name}"')
            labels[name] = self.globals[f"workflow.labels.{name}"] = str(value)
        for name, value in (wanted.get("annotations") or {}).items():
            annotations[name] = self.globals[f"workflow.annotations.{name}"] = str(value)
        from jupyter_argo.expr._values import go_type

        env = expr.expand_variables(self.globals)
        for name, source in (wanted.get("labelsFrom") or {}).items():
            expression = str((source or {}).get("expression", ""))
            try:
                value = expr.evaluate(expression, env)
            except ArgoError as err:
                raise UserError(
                    f'failed to evaluate label "{name}" expression "{expression}": {err}'
                ) from None
            if not isinstance(value, str):
                raise UserError(
                    f'failed to evaluate label "{name}" expression "{expression}" evaluted to'
                    f" {go_type(value)} but must be a string"
                )
            _check_label_value(
                value,
                f'invalid label value "{value}" for label "{name}" and expression "{expression}"',
            )
            labels[name] = self.globals[f"workflow.labels.{name}"] = value
        for field_name, values in (("labels", labels), ("annotations", annotations)):
            self.globals[f"workflow.{field_name}"] = json.dumps(values, separators=(",", ":"))
            self.globals[f"workflow.{field_name}.json"] = self.globals[f"workflow.{field_name}"]

    async def _execute_root(self, hooks: StartedHooks) -> dict[str, Any] | None:
        assert self._root_context is not None
        entry = {"template": self.spec.get("entrypoint", "")}
        arguments = self.spec.get("arguments") or {}
        try:
            return await self._await_root_with_hooks(
                asyncio.ensure_future(
                    self.execute_template(self.name, entry, self._root_context, arguments, "")
                ),
                hooks,
            )
        except ArgoError as err:
            node = self.nodes.get(self.name)
            if node is None:
                self._finish("Error", f"error in entry template execution: {err}")
                return None
            return node

    async def _finish_with_exit_handler(
        self, root: dict[str, Any] | None, hooks: StartedHooks
    ) -> None:
        if root is None:
            return
        phase = {
            "Succeeded": "Succeeded",
            "Skipped": "Succeeded",
            "Omitted": "Succeeded",
            "Failed": "Failed",
            "Error": "Error",
        }.get(root["phase"], "Error")
        self.globals["workflow.status"] = phase
        self.globals["workflow.failures"] = self._failures()
        # Argo's operate: the workflow's hooks, once more with its final status, all done
        # before its exit handler runs.
        self._start_workflow_hooks(root, hooks)
        try:
            await self._hooks_completed(hooks)
        except ArgoError as err:
            self._finish("Error", str(err))
            return
        exit_node = None
        exit_hook = self._workflow_exit_hook()
        if exit_hook is not None and self.shutdown != "Terminate":
            assert self._root_context is not None
            self.globals["workflow.duration"] = str(self._duration())
            holder: dict[str, Any] = {
                k: exit_hook[k] for k in ("template", "templateRef") if k in exit_hook
            }
            try:
                exit_node = await self.execute_template(
                    f"{self.name}.onExit",
                    holder,
                    self._root_context,
                    exit_hook.get("arguments") or {},
                    "",
                    on_exit=True,
                    flag={"hooked": True},
                )
            except ArgoError as err:
                await self._handed_off()
                self._finish("Error", f"error in exit template execution : {err}")
                return
        await self._handed_off()
        message = root.get("message", "")
        if root["phase"] in ("Failed", "Error") and self.shutdown:
            message = self.shutdown_reason or f"Stopped with strategy '{self.shutdown}'"
        if (
            phase == "Succeeded"
            and exit_node is not None
            and exit_node["phase"] in ("Failed", "Error")
        ):
            self._finish(exit_node["phase"], exit_node.get("message", ""))
        else:
            self._finish(phase, message)

    def _workflow_exit_hook(self) -> dict[str, Any] | None:
        hooks = self.spec.get("hooks") or {}
        if isinstance(hooks.get("exit"), dict):
            return dict(hooks["exit"])
        if self.spec.get("onExit"):
            return {"template": self.spec["onExit"]}
        return None

    def _finish(self, phase: str, message: str = "") -> None:
        if self.storage_failure:
            phase, message = "Error", self.storage_failure
        self.status["phase"] = phase
        if message:
            self.status["message"] = message
        self._kill_all_daemons()
        self.status["finishedAt"] = format_time(now())
        self.status["progress"] = self._progress()
        for condition in self.status.get("conditions") or []:
            if condition.get("type") == "Completed":  # a retry's (or resubmit's) "False"
                condition["status"] = "True"
        self._changed()

    def _failures(self) -> str:
        """Argo's `workflow.failures` (operate): the Failed and Errored nodes as Go's
        json.Marshal writes its failedNodeStatus list (fields in that order, `null` when
        there is none), then strconv.Quote'd, quotes included, as Argo stores it so that
        substitution keeps the inner quotes escaped."""
        if not any(node["phase"] in ("Failed", "Error") for node in self.nodes.values()):
            return '"null"'  # as below, without loading Go's value formatting
        from jupyter_argo.expr._values import go_quote, json_string

        entries = []
        for node in self.nodes.values():
            if node["phase"] in ("Failed", "Error"):
                template = node.get("templateName") or (node.get("templateRef") or {}).get(
                    "template", ""
                )
                finished = node.get("finishedAt")
                fields = (
                    ("displayName", json_string(str(node.get("displayName", "")))),
                    ("message", json_string(str(node.get("message", "")))),
                    ("templateName", json_string(str(template))),
                    ("phase", json_string(str(node["phase"]))),
                    ("podName", json_string(pod_name(self.name, node["name"], template))),
                    ("finishedAt", json_string(str(finished)) if finished else "null"),
                )
                entries.append("{" + ",".join(f'"{k}":{v}' for k, v in fields) + "}")
        listed = "[" + ",".join(entries) + "]" if entries else "null"
        return '"' + go_quote(listed) + '"'

    def _duration(self) -> float:
        started = self.status.get("startedAt")
        if not started:
            return 0.0
        return node_duration({"startedAt": started})

    def _progress(self) -> str:
        """Argo's `progress` (progress.py): the nodes' own progress is brought up to date
        too, and the nodes it changed are published."""
        total, changed = update_progress(self.nodes)
        for nid in changed:
            self._changed(nid)
        return total

    def _resolve_workflow_parameters(self) -> None:
        """Workflow arguments with `valueFrom.configMapKeyRef` and `enum`
        (Argo's setGlobalParameters)."""
        params = (self.spec.get("arguments") or {}).get("parameters") or []
        for param in params:
            if "value" in param:
                enum = param.get("enum")
                value = parameter_value(param["value"])
                if enum and value not in [parameter_value(e) for e in enum]:
                    raise UserError(
                        f"spec.arguments.{param['name']}.value: '{value}' is not one of "
                        f"{[parameter_value(e) for e in enum]}"
                    )
                continue
            ref = (param.get("valueFrom") or {}).get("configMapKeyRef")
            if ref:
                # setGlobalParameters: `valueFrom.default` stands in for any failure.
                try:
                    value_found = self.host.pods.configmap_parameter(
                        str(ref.get("name", "")), str(ref.get("key", ""))
                    )
                except UserError as err:
                    if param["valueFrom"].get("default") is None:
                        raise GlobalParameterError(
                            f"failed to set global parameters: failed to set global parameter "
                            f"{param['name']} from configmap with name {ref.get('name', '')} "
                            f"and key {ref.get('key', '')}: {err}"
                        ) from None
                    value_found = parameter_value(param["valueFrom"]["default"])
                self.globals[f"workflow.parameters.{param['name']}"] = value_found
            elif "default" in param:
                self.globals[f"workflow.parameters.{param['name']}"] = parameter_value(
                    param["default"]
                )

    # ---- control from outside --------------------------------------------------------

    def stop(self, strategy: str, message: str | None = None, *, grace: float = 2.0) -> None:
        """`Stop` lets exit handlers run; `Terminate` does not. Running pods end either way
        (SIGTERM, then SIGKILL after `grace` seconds). `message` replaces Argo's "Stopped
        with strategy ..." (e.g. "interrupted by the user")."""
        self.shutdown = strategy
        self.shutdown_reason = message
        self.host.pods.shutdown_all(self, grace=grace)
        self.stopped.set()
        self._resume.set()
        for event in self._node_waiters.values():
            event.set()

    def storage_failed(self, message: str) -> None:
        """What the run writes can no longer be stored: end it now, Error, with `message`
        (the first such message; the rest say the same)."""
        if self.storage_failure:
            return
        self.storage_failure = message
        self.stop("Terminate", message)

    def suspend(self) -> None:
        # Argo's suspend sets the Workflow's own spec; its stored spec follows.
        self.spec["suspend"] = self.wf["spec"]["suspend"] = True
        self._resume.clear()
        self._changed()

    def resume(self, node_name: str | None = None) -> None:
        """Argo's ResumeWorkflow: unset `spec.suspend` and resume every active suspend
        node, its outputs without a value taking their defaults; refused, nothing
        changed, when one has neither. With `node_name` (a node field selector, or a
        node's name or display name): only the matching active suspend nodes, at least
        one (Argo's updateSuspendedNode, as `resume --node-field-selector`)."""
        from jupyter_argo.backends._k8s.actions import matches_node, supply_defaults

        active = [
            n for n in self.nodes.values() if n["type"] == "Suspend" and n["phase"] == "Running"
        ]
        if node_name is None:
            chosen = active
            for node in chosen:
                supply_defaults(copy.deepcopy(node))  # raises Argo's message, changing nothing
            self.spec.pop("suspend", None)
            self.wf["spec"].pop("suspend", None)
            self._resume.set()
        else:
            chosen = [n for n in active if matches_node(node_name, n)]
            if not chosen:
                raise UserError(
                    "currently, set only targets suspend nodes: no suspend nodes matching "
                    f"nodeFieldSelector: {node_name}"
                )
        for node in chosen:
            if node_name is not None:
                # As `node set --phase Succeeded`: no output takes its default here.
                self._node_outcomes.setdefault(node["id"], ("Succeeded", node.get("message")))
            elif node.get("message"):
                node["message"] = f"{node['message']}; "  # Argo appends its (empty) actor note
                self._changed(node["id"])
            self._resumed_nodes.add(node["id"])
            waiter = self._node_waiters.get(node["id"])
            if waiter is not None:
                waiter.set()
        self._changed()

    def set_nodes(
        self,
        selector: str,
        phase: str | None,
        message: str | None,
        output_parameters: Mapping[str, str] | None,
    ) -> None:
        """`argo node set` (Argo's `updateSuspendedNode`) on the running suspend nodes
        matching `selector`; with a phase, their wait ends with it."""
        from jupyter_argo.backends._k8s.actions import set_nodes

        view = {"status": {"nodes": self.nodes, "outputs": {}}}
        before = {nid: copy.deepcopy(n) for nid, n in self.nodes.items() if n["type"] == "Suspend"}
        supplied = set_nodes(
            view, selector, phase=phase, message=message, output_parameters=output_parameters
        )
        for nid, node in before.items():
            if self.nodes[nid] != node:
                self._changed(nid)
        for name, value in supplied:
            self._add_outputs_to_globals({"parameters": [{"globalName": name, "value": value}]})
        if phase:
            for node in self.nodes.values():
                if node["type"] == "Suspend" and node["phase"] == phase:
                    self._node_outcomes.setdefault(node["id"], (phase, node.get("message")))
                    waiter = self._node_waiters.get(node["id"])
                    if waiter is not None:
                        waiter.set()
        self._changed()

    async def _watch_deadline(self) -> None:
        """Argo's workflow deadline: running pods and waiting suspend nodes, except those
        of exit handlers, fail with "Step exceeded its deadline"; so does every step that
        starts after it. The workflow's exit handler still runs."""
        if self._deadline is None:
            return
        await asyncio.sleep(max(0.0, self._deadline - time.monotonic()))
        self.deadline_exceeded = True
        self.host.pods.end_at_deadline()
        self._resume.set()
        for nid, event in self._node_waiters.items():
            if nid not in self._exit_suspends:
                event.set()

    def _deadline_text(self) -> str:
        """The deadline as Argo's message prints it (Go's time.Time String, in UTC):
        startedAt truncated to the second plus activeDeadlineSeconds."""
        import datetime

        started = datetime.datetime.strptime(
            str(self.status.get("startedAt")), "%Y-%m-%dT%H:%M:%SZ"
        ).replace(tzinfo=datetime.timezone.utc)
        seconds = int(float(self.spec.get("activeDeadlineSeconds") or 0))
        moment = started + datetime.timedelta(seconds=seconds)
        return moment.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")

    # ---- nodes (Argo's initializeNode, markNodePhase, addChildNode) -----------------

    def _changed(self, nid: str = "") -> None:
        self.host.changed(nid)

    def node_by_name(self, name: str) -> dict[str, Any] | None:
        return self.nodes.get(node_id(self.name, name))

    def init_node(
        self,
        name: str,
        node_type: str,
        context: TemplateContext,
        holder: Mapping[str, Any],
        boundary_id: str,
        phase: str,
        message: str = "",
        *,
        resolved: ResolvedTemplate | None = None,
        flag: dict[str, Any] | None = None,
        template: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        nid = node_id(self.name, name)
        node: dict[str, Any] = {"id": nid, "name": name}
        boundary = self.nodes.get(boundary_id) if boundary_id else None
        if boundary is not None:
            display = name[len(boundary["name"]) :] if name.startswith(boundary["name"]) else name
            if display[:1] in ("[", "."):  # what the separator can start with
                display = _DISPLAY_SEPARATOR.sub("", display)
            node["displayName"] = display
        else:
            node["displayName"] = name
        node["type"] = node_type
        if resolved is not None:
            if resolved.template_name:
                node["templateName"] = resolved.template_name
            if resolved.template_ref:
                node["templateRef"] = resolved.template_ref
        else:
            if holder.get("template"):
                node["templateName"] = holder["template"]
            if holder.get("templateRef"):
                node["templateRef"] = holder["templateRef"]
        node["templateScope"] = (resolved.context if resolved else context).scope
        node["phase"] = phase
        if boundary_id:
            node["boundaryID"] = boundary_id
        if message:
            node["message"] = message
        stamp = format_now()
        node["startedAt"] = stamp
        if is_fulfilled(phase):
            node["finishedAt"] = stamp
        estimate = self.host.estimator.node(name) if self.host.estimator else 0
        if estimate:
            node["estimatedDuration"] = estimate
        if flag:
            node["nodeFlag"] = dict(flag)
        if template is not None:
            display = _display_name(template)
            if display and not (flag or {}).get("retried"):  # the retry node, not its tries
                node["displayName"] = display
            inputs = template.get("inputs")
            if inputs and (inputs.get("parameters") or inputs.get("artifacts")):
                node["inputs"] = _status_inputs(inputs)
            memoize = template.get("memoize")
            # initializeExecutableNode: a miss until a hit
            if memoize is not None and isinstance(memoize, Mapping):
                node["memoizationStatus"] = memoization_status(memoize, hit=False)
        self.nodes[nid] = node
        self._changed(nid)
        return node

    def _node(self, call: TemplateCall, node_type: str, phase: str) -> dict[str, Any]:
        """The call's node: the existing one (a retried workflow), else a new one."""
        return self.node_by_name(call.name) or self.init_node(
            call.name,
            node_type,
            call.resolved.context,
            call.holder,
            call.boundary_id,
            phase,
            resolved=call.resolved,
            flag=call.flag,
            template=call.tmpl,
        )

    def mark(self, node: dict[str, Any], phase: str, message: str | None = None) -> dict[str, Any]:
        node["phase"] = phase
        if message is not None:
            if message:
                node["message"] = message
            else:
                node.pop("message", None)
        fulfilled = is_fulfilled(phase)
        if fulfilled and not node.get("finishedAt"):
            node["finishedAt"] = format_now()
        nid = node["id"]
        daemoned = node.get("daemoned")
        if daemoned:
            self._daemoned.add(nid)
        else:
            self._daemoned.discard(nid)
        if (fulfilled or daemoned) and self._node_waiters:
            waiter = self._node_waiters.get(nid)
            if waiter is not None:
                waiter.set()
        if self._phase_watchers:
            watcher = self._phase_watchers.get(nid)
            if watcher is not None:
                watcher.set()
        self.host.changed(nid)
        return node

    def mark_error(self, node: dict[str, Any], err: BaseException) -> dict[str, Any]:
        return self.mark(node, "Error", str(err))

    def add_child(self, parent_name: str, child_name: str) -> None:
        parent = self.nodes[node_id(self.name, parent_name)]
        child = node_id(self.name, child_name)
        children = parent.setdefault("children", [])
        # A set beside the list: a 10,000-item loop must not scan its group per child.
        known = self._children.get(parent["id"])
        if known is None or len(known) != len(children):
            known = self._children[parent["id"]] = set(children)
        if child not in known:
            children.append(child)
            known.add(child)
            self._changed(parent["id"])

    def outbound_nodes(self, nid: str) -> list[str]:
        """Argo's getOutboundNodes."""
        node = self.nodes[nid]
        kind = node["type"]
        if kind in ("Skipped", "Suspend", "HTTP", "Plugin"):
            return [nid]
        if kind == "Pod":
            # Only a containerSet pod (with Container children inside it) looks further.
            containers = [
                c
                for c in node.get("children") or []
                if self.nodes[c]["type"] == "Container" and self.nodes[c].get("boundaryID") == nid
            ]
            if not containers:
                return [nid]
            kind = "Container"
        if kind in ("Container", "TaskGroup"):
            if not node.get("children"):
                return [nid]
            out: list[str] = []
            for child_id in node["children"]:
                child = self.nodes[child_id]
                if kind == "Container" and node.get("boundaryID") != child.get("boundaryID"):
                    out.append(nid)
                else:
                    out.extend(self.outbound_nodes(child_id))
            return out
        if kind == "Retry":
            children = node.get("children") or []
            return [children[-1]] if children else []
        if kind in ("Steps", "DAG") and (node.get("memoizationStatus") or {}).get("hit"):
            return [nid]  # a cache hit has no children of its own
        out = []
        for outbound in node.get("outboundNodes") or []:
            out.extend(self.outbound_nodes(outbound))
        return out

    async def wait_fulfilled(self, node: dict[str, Any]) -> None:
        """Until the node is fulfilled (or daemoned), woken by `mark`."""
        while not (is_fulfilled(node["phase"]) or node.get("daemoned")):
            event = self._node_waiters.setdefault(node["id"], asyncio.Event())
            await event.wait()
            event.clear()

    # ---- templates (Argo's executeTemplate) -------------------------------------------

    async def execute_template(
        self,
        name: str,
        holder: Mapping[str, Any],
        context: TemplateContext,
        arguments: Mapping[str, Any],
        boundary_id: str,
        *,
        on_exit: bool = False,
        flag: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        existing = self.node_by_name(name)
        if existing is not None and is_fulfilled(existing["phase"]):
            return existing
        depth = _DEPTH.get() + 1
        token = _DEPTH.set(depth)
        try:
            if depth > self.host.max_depth:
                raise UserError(
                    f"Maximum recursion depth exceeded ({self.host.max_depth} nested templates)"
                )
            # Not copied: it is only read here, and substitute_template makes the copy the
            # call runs with (`processed`, a new object whatever it holds).
            resolved = context.resolve(holder, fresh=False)
            local = {"node.name": name}
            tmpl = resolved.template
            if tmpl.get("retryStrategy") is None and self.spec.get("retryStrategy") is not None:
                # Argo's woc.retryStrategy: the workflow's strategy for every template
                # without its own, steps and DAGs included.
                tmpl = {**tmpl, "retryStrategy": self.spec["retryStrategy"]}
            kind = template_type(tmpl)
            is_pod = kind in _POD_TYPES
            retry = tmpl.get("retryStrategy")
            if is_pod and retry is None:
                local["pod.name"] = pod_name(self.name, name, tmpl.get("name", ""))
            if "isDAGTask" in holder:
                local["tasks.name"] = str(holder.get("name", ""))
            elif "isStep" in holder:
                local["steps.name"] = str(holder.get("name", ""))
            processed = process_inputs(tmpl, arguments, self.host.pods.configmap_parameter)
            processed = substitute_template(processed, self.globals, local)
            _display_name(processed)
        except ArgoError as err:
            _DEPTH.reset(token)
            return self._error_node(name, context, holder, boundary_id, err, flag)
        try:
            call = TemplateCall(name, holder, resolved, processed, boundary_id, on_exit, flag)
            fresh, retried = existing is None, retry is not None
            sync = self.host.sync
            if sync is not None and processed.get("synchronization") is not None:
                # The template's locks before its cache is read, as Argo's executeTemplate.
                return await self._execute_locked(sync, call, fresh, retried)
            return await self._execute_call(call, fresh, retried)
        finally:
            _DEPTH.reset(token)

    async def _execute_call(self, call: TemplateCall, fresh: bool, retried: bool) -> dict[str, Any]:
        memoize = call.tmpl.get("memoize")
        if fresh and memoize is not None and isinstance(memoize, Mapping):
            try:
                hit = self._check_cache(call)
            except ArgoError as err:
                return self._error_node(
                    call.name, call.resolved.context, call.holder, call.boundary_id, err, call.flag
                )
            if hit is not None:
                return hit
        if retried:
            return await self._execute_with_retries(call)
        return await self._execute_kind(call)

    # ---- synchronization (operate's and executeTemplate's TryAcquire and Release) -------

    async def _acquire_workflow_locks(self, sync: SyncManager) -> bool:
        """The workflow's own locks, before it runs, Pending with the lock's message while
        it waits; False when the run ended instead (the locks refused, or terminated)."""
        status = self.status
        namespace = str(self.wf["metadata"].get("namespace") or "default")

        def waiting(attempt: Attempt) -> None:
            status["phase"] = "Pending"
            status["message"] = attempt.message
            self._changed()

        try:
            # setExecWorkflow: the spec's global variables are substituted first.
            strings = {k: v for k, v in self.globals.items() if v is None or isinstance(v, str)}
            spec_sync = expr.substitute_object(self.spec["synchronization"], strings)
            items = sync_items(spec_sync, namespace, "spec.synchronization")
            taken = await sync.acquire(
                self.wf,
                holder_key(self.wf),
                items,
                waiting=waiting,
                given_up=lambda: self.shutdown == "Terminate",
            )
        except UserError as err:
            self._finish("Failed", f"Failed to acquire the synchronization lock. {err}")
            return False
        status.pop("message", None)
        if taken:
            self._changed()
        elif self.shutdown_reason:  # ended from here for a reason (an interrupted cell)
            self._finish("Failed", self.shutdown_reason)
        else:  # releaseLocksForPendingShuttingdownWfs: a terminated waiting run succeeds
            self._finish("Succeeded")
        return taken

    async def _execute_locked(
        self, sync: SyncManager, call: TemplateCall, fresh: bool, retried: bool
    ) -> dict[str, Any]:
        """A template with `synchronization`: its node waits Pending for the locks
        (markNodeWaitingForLock), runs, and gives them back once fulfilled."""
        nid = node_id(self.name, call.name)
        holder = holder_key(self.wf, nid)
        namespace = str(self.wf["metadata"].get("namespace") or "default")
        path = f"templates.{call.tmpl.get('name', '')}.synchronization"

        def waiting(attempt: Attempt) -> None:
            node = self.node_by_name(call.name) or self.init_node(
                call.name,
                _node_type(call.tmpl),
                call.resolved.context,
                call.holder,
                call.boundary_id,
                "Pending",
                resolved=call.resolved,
                flag=call.flag,
                template=call.tmpl,
            )
            node["synchronizationStatus"] = {"waiting": attempt.failed}
            node["message"] = attempt.message
            self._changed(nid)

        def given_up() -> bool:
            return bool(self.shutdown) and not (call.on_exit and self.shutdown == "Stop")

        try:
            items = sync_items(call.tmpl["synchronization"], namespace, path)
            taken = await sync.acquire(self.wf, holder, items, waiting=waiting, given_up=given_up)
        except UserError as err:
            return self._error_node(
                call.name, call.resolved.context, call.holder, call.boundary_id, err, call.flag
            )
        node = self.node_by_name(call.name)
        if node is not None and node.pop("synchronizationStatus", None) is not None:
            if not taken:
                return self.mark(node, "Failed", f"Stopped with strategy '{self.shutdown}'")
            node.pop("message", None)
            if node["type"] not in ("Pod", "HTTP"):
                node["phase"] = "Running"
            self._changed(nid)
        try:
            done = await self._execute_call(call, fresh, retried)
        except BaseException:
            sync.release(self.wf, holder, items)
            raise
        if done.get("daemoned") and not is_fulfilled(done["phase"]):
            self.background(self._release_when_fulfilled(sync, done, holder, items))
        else:
            sync.release(self.wf, holder, items)
        return done

    async def _release_when_fulfilled(
        self, sync: SyncManager, node: dict[str, Any], holder: str, items: list[SyncItem]
    ) -> None:
        """A daemon keeps its template's locks until it is killed."""
        try:
            while not is_fulfilled(node["phase"]):  # woken by `mark`
                event = self._node_waiters.setdefault(node["id"], asyncio.Event())
                await event.wait()
                event.clear()
        finally:
            sync.release(self.wf, holder, items)

    # ---- memoization (executeTemplate's cache check; the saves of podReconciliation,
    # executeSteps and executeDAG) ---------------------------------------------------------

    def _check_cache(self, call: TemplateCall) -> dict[str, Any] | None:
        """The node of a cache hit, finished with the cached outputs; None on a miss (the
        node then runs, its memoizationStatus saying hit: false)."""
        memoize = call.tmpl["memoize"]
        status = memoization_status(memoize, hit=False)
        if self.host.caches is None or not status["cacheName"]:
            raise CacheError("cache could not be found or created")
        cache = self.host.caches.get(status["cacheName"])
        # One short store transaction (about 0.1 ms), done right here as Argo's operator
        # reads the ConfigMap in the middle of executeTemplate.
        entry = cache.load(status["key"])
        hit = entry is not None and entry.hit
        outputs = entry.outputs if entry is not None else None
        max_age = memoize.get("maxAge")
        if max_age:
            age = parse_max_age(str(max_age))
            outputs, fresh = entry.outputs_within(age) if entry is not None else (None, False)
            hit = hit and fresh
        if not hit:
            return None
        node = self.init_node(
            call.name,
            _node_type(call.tmpl),
            call.resolved.context,
            call.holder,
            call.boundary_id,
            "Succeeded",
            resolved=call.resolved,
            flag=call.flag,
            template=call.tmpl,
        )
        node["memoizationStatus"] = memoization_status(memoize, hit=True)
        if outputs is not None:
            node["outputs"] = copy.deepcopy(outputs)
        self._changed(node["id"])
        return node

    def _save_to_cache(self, node: dict[str, Any]) -> None:
        """A memoized node that succeeded: its outputs into its cache. A pod whose entry
        cannot be saved ends Error with the reason; a steps, DAG or HTTP node stays
        Succeeded, as in Argo (whose executeSteps, executeDAG and taskset only log it)."""
        status = node["memoizationStatus"]
        if status.get("hit") or self.host.caches is None:
            return
        cache = self.host.caches.get(str(status.get("cacheName") or ""))
        # Argo's executeSteps saves the node as it was when the pass that completes it
        # began, before its outputs were set (steps.go reads them from a copy taken at
        # the top; executeDAG re-reads the node): a steps template's entry has no outputs.
        outputs = None if node["type"] == "Steps" else node.get("outputs")
        try:
            cache.save(str(status.get("key") or ""), node["id"], outputs)
        except ArgoError as err:
            if node["type"] == "Pod":
                self.mark(node, "Error", str(err))

    def _error_node(
        self,
        name: str,
        context: TemplateContext,
        holder: Mapping[str, Any],
        boundary_id: str,
        err: BaseException,
        flag: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        existing = self.node_by_name(name)
        if existing is not None:
            return self.mark_error(existing, err)
        return self.init_node(
            name, "Skipped", context, holder, boundary_id, "Error", str(err), flag=flag
        )

    async def _execute_kind(self, call: TemplateCall) -> dict[str, Any]:
        existing = self.node_by_name(call.name)
        if existing is not None and is_fulfilled(existing["phase"]):
            return existing  # an attempt carried over (resubmit --memoized keeps its pods)
        node = await self._execute_kind_once(call)
        if (
            node["phase"] == "Succeeded"
            and node.get("memoizationStatus")
            and node["type"] in _SAVED_TYPES
        ):
            self._save_to_cache(node)
        return node

    async def _execute_kind_once(self, call: TemplateCall) -> dict[str, Any]:
        kind = template_type(call.tmpl)
        if kind == "steps":
            return await self._execute_steps(call)
        if kind == "dag":
            return await self._execute_dag(call)
        if kind == "suspend":
            return await self._execute_suspend(call)
        if kind in _POD_TYPES or kind == "http":
            node = self._node(call, "HTTP" if kind == "http" else "Pod", "Pending")
            await self.host.pods.run(self, node, call.tmpl, on_exit=call.on_exit)
            return node
        err = UserError(f"Template '{call.tmpl.get('name', '')}' missing specification")
        return self._error_node(
            call.name, call.resolved.context, call.holder, call.boundary_id, err, call.flag
        )

    async def _execute_with_retries(self, call: TemplateCall) -> dict[str, Any]:
        """Argo's retry node: children `name(0)`, `name(1)`, ... (processNodeRetries)."""
        tmpl, flag = call.tmpl, call.flag
        strategy = tmpl.get("retryStrategy") or {}
        retry_node = self._node(call, "Retry", "Running")
        child_flag = dict(flag or {})
        child_flag["retried"] = True
        try:
            limit = _retry_limit(strategy.get("limit"))
        except ArgoError as err:
            return self.mark_error(retry_node, err)
        if limit is not None and limit > max_items():
            return self.mark_error(
                retry_node,
                UserError(
                    f"templates.{tmpl.get('name', '')}.retryStrategy.limit: {limit} retries, "
                    f"more than the {max_items()} allowed (set {ITEMS_VARIABLE} to raise "
                    "the limit)"
                ),
            )
        policy = strategy.get("retryPolicy") or (
            "Always" if strategy.get("expression") else "OnFailure"
        )
        state = _Retries(strategy, policy, limit, child_flag, first_started=time.monotonic())
        return await self._retry_attempts(call, retry_node, state)

    async def _retry_attempts(
        self, call: TemplateCall, retry_node: dict[str, Any], state: _Retries
    ) -> dict[str, Any]:
        """Attempt after attempt from `state.attempt` on, until one ends the retry node or
        is daemoned."""
        name, tmpl = call.name, call.tmpl
        while True:
            attempt, last = state.attempt, state.last
            child_name = f"{name}({attempt})"
            self.add_child(name, child_name)
            local = {
                "retries": str(attempt),
                "node.name": child_name,
                "lastRetry.exitCode": "0",
                "lastRetry.duration": "0",
                "lastRetry.status": "",
                "lastRetry.message": "",
            }
            if last is not None:
                local["lastRetry.exitCode"] = str((last.get("outputs") or {}).get("exitCode", "0"))
                local["lastRetry.status"] = last["phase"]
                local["lastRetry.duration"] = str(node_duration(last))
                local["lastRetry.message"] = last.get("message", "")
            if template_type(tmpl) in _POD_TYPES:
                local["pod.name"] = pod_name(self.name, child_name, tmpl.get("name", ""))
            try:
                attempt_tmpl = substitute_template(
                    {k: v for k, v in tmpl.items() if k != "retryStrategy"}, self.globals, local
                )
            except ArgoError as err:
                return self.mark_error(retry_node, err)
            last = state.last = await self._execute_kind(
                replace(call, name=child_name, tmpl=attempt_tmpl, flag=state.child_flag)
            )
            if last.get("daemoned") and not is_fulfilled(last["phase"]):
                retry_node["daemoned"] = True
                self.mark(retry_node, last["phase"])
                boundary = self.nodes.get(call.boundary_id)
                if boundary is not None and boundary["type"] == "DAG":
                    self.background(self._keep_daemon_up(call, retry_node, state))
                return retry_node
            if last["phase"] not in ("Failed", "Error"):
                if last.get("outputs"):
                    retry_node["outputs"] = copy.deepcopy(last["outputs"])
                return self.mark(retry_node, "Succeeded")
            decision = await self._retry_decision(
                state.strategy,
                state.policy,
                state.limit,
                attempt,
                last,
                retry_node,
                state.first_started,
            )
            if decision is not None:
                if last.get("outputs"):
                    retry_node["outputs"] = copy.deepcopy(last["outputs"])
                return self.mark(retry_node, last["phase"], decision)
            state.attempt += 1

    async def _keep_daemon_up(
        self, call: TemplateCall, retry_node: dict[str, Any], state: _Retries
    ) -> None:
        """A daemon task's retry node in a DAG: when its daemoned attempt ends by itself
        while the DAG runs, the next attempt starts, as the DAG re-executes its daemoned
        tasks (dag.go, "pre-execute daemoned tasks"; daemon_pod_test.go,
        TestDaemonPodRetry). The retry node stays daemoned meanwhile, and when no retry
        is left it is marked as its attempt ended, still daemoned, as processNodeRetries
        leaves it. A steps template does not look at its finished step groups again."""
        last = state.last
        if last is None:
            return
        while not is_fulfilled(last["phase"]) and not self.shutdown:
            event = self._node_waiters.setdefault(last["id"], asyncio.Event())
            await event.wait()
            event.clear()
        if self.shutdown or not retry_node.get("daemoned") or last["phase"] == "Succeeded":
            return  # killed with its DAG (or the workflow)
        decision = await self._retry_decision(
            state.strategy,
            state.policy,
            state.limit,
            state.attempt,
            last,
            retry_node,
            state.first_started,
        )
        if not retry_node.get("daemoned"):
            return
        if decision is not None:
            self.mark(retry_node, last["phase"], decision)
            return
        state.attempt += 1
        await self._retry_attempts(call, retry_node, state)

    async def _retry_decision(
        self,
        strategy: Mapping[str, Any],
        policy: str,
        limit: int | None,
        attempt: int,
        last: dict[str, Any],
        retry_node: dict[str, Any],
        first_started: float,
    ) -> str | None:
        """None to try again, else the message the retry node ends with."""
        if self.shutdown:
            return f"Stopped with strategy '{self.shutdown}'"
        if self.deadline_exceeded:
            return f"retry exceeded workflow deadline {self._deadline_text()}"
        failed = last["phase"] == "Failed"
        retry_on_failed = policy in ("Always", "OnFailure")
        retry_on_error = policy in ("Always", "OnError")
        if policy == "OnTransientError":
            retry_on_failed = retry_on_error = _is_transient(last.get("message", ""))
        if policy not in ("Always", "OnFailure", "OnError", "OnTransientError"):
            return f"{policy} is not a valid RetryPolicy"
        if (failed and not retry_on_failed) or (not failed and not retry_on_error):
            return str(last.get("message", ""))
        if limit is not None and attempt + 1 > limit:
            return "No more retries left"
        if limit is None and attempt + 1 > max_items():
            return (
                f"No more retries left: the local engine stops an unlimited retryStrategy "
                f"after {max_items()} retries (set {ITEMS_VARIABLE} to raise the limit)"
            )
        if strategy.get("expression"):
            env = self._retry_env(last)
            try:
                keep_going = expr.evaluate(str(strategy["expression"]), env)
            except ArgoError as err:
                return str(err)
            if keep_going is not True:
                return "retryStrategy.expression evaluated to false"
        backoff = strategy.get("backoff")
        if backoff:
            wait = duration_seconds(backoff.get("duration", "0"))
            factor = backoff.get("factor")
            if factor is not None and float(parameter_value(factor)) > 0:
                wait *= float(parameter_value(factor)) ** attempt
            if backoff.get("cap"):
                wait = min(wait, duration_seconds(backoff["cap"]))
            if backoff.get("maxDuration"):
                max_duration = duration_seconds(backoff["maxDuration"])
                elapsed = time.monotonic() - first_started
                if elapsed > max_duration:
                    return "Max duration limit exceeded"
                if elapsed + wait > max_duration:
                    return "Backoff would exceed max duration limit"
            if wait > 0:
                self.mark(retry_node, retry_node["phase"], f"Backoff for {_humanize(wait)}")
                await self._sleep_or_shutdown(wait)
                self.mark(retry_node, retry_node["phase"], "")
                if self.shutdown:
                    return f"Stopped with strategy '{self.shutdown}'"
        return None

    def _retry_env(self, last: Mapping[str, Any]) -> dict[str, Any]:
        flat = {
            "lastRetry.exitCode": str((last.get("outputs") or {}).get("exitCode", "0")),
            "lastRetry.status": last["phase"],
            "lastRetry.duration": str(node_duration(last)),
            "lastRetry.message": last.get("message", ""),
        }
        return expr.expand_variables(flat)

    async def _sleep_or_shutdown(self, seconds: float) -> None:
        waiter = asyncio.Event()
        self._node_waiters[f"sleep-{id(waiter)}"] = waiter
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(waiter.wait(), seconds)
        finally:
            self._node_waiters.pop(f"sleep-{id(waiter)}", None)

    def background(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine alongside the workflow, kept referenced until it ends."""
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_resumed(self) -> None:
        """Blocks new pods while the workflow is suspended."""
        if not self._resume.is_set():
            await self._resume.wait()

    # ---- suspend templates (Argo's executeSuspend) ------------------------------------

    async def _execute_suspend(self, call: TemplateCall) -> dict[str, Any]:
        tmpl = call.tmpl
        new = self.node_by_name(call.name) is None
        node = self._node(call, "Suspend", "Running")
        if new:
            supplied = raw_output_fields(tmpl)
            if supplied:
                node["outputs"] = {"parameters": supplied}
        duration = (tmpl.get("suspend") or {}).get("duration")
        seconds = duration_seconds(str(duration)) if duration not in (None, "") else None
        waiter = self._node_waiters.setdefault(node["id"], asyncio.Event())
        if call.on_exit:
            self._exit_suspends.add(node["id"])
        elif self.deadline_exceeded:
            waiter.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(waiter.wait(), seconds)
        outcome = self._node_outcomes.get(node["id"])
        if outcome is not None:
            # `node set` wrote the phase ahead: record it now. Its outputs stay as they
            # are (Argo's updateSuspendedNode gives none its default).
            node["phase"] = "Running"
            return self.mark(node, outcome[0], outcome[1] or "")
        if self.shutdown and node["id"] not in self._resumed_nodes:
            return self.mark(node, "Failed", f"Stopped with strategy '{self.shutdown}'")
        if self.deadline_exceeded and not call.on_exit and node["id"] not in self._resumed_nodes:
            return self.mark(node, "Failed", DEADLINE_MESSAGE)
        # Resumed (`resume` checked every output has a value or a default) or the
        # duration passed: Argo's OverrideOutputParametersWithDefault, which fails the node
        # (Error) when an output has neither.
        from jupyter_argo.backends._k8s.actions import supply_defaults

        try:
            supply_defaults(node)
        except UserError as err:
            return self.mark_error(node, err)
        return self.mark(node, "Succeeded")

    # ---- scope helpers (possiblyGetRetryChildNode; resolveReferences' artifacts) -------

    def _try_resolve(
        self, context: TemplateContext, holder: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        try:
            return context.resolve(holder).template
        except ArgoError:
            return None

    def _retry_last(self, node: dict[str, Any]) -> dict[str, Any]:
        """Argo's possiblyGetRetryChildNode: a retry node's scope comes from its last attempt
        (its last child that is not a hook: an exit handler is a child of the retry node)."""
        if node["type"] != "Retry":
            return node
        for child_id in reversed(node.get("children") or []):
            last = self.nodes.get(child_id)
            if last is None or (last.get("nodeFlag") or {}).get("hooked"):
                continue
            merged = dict(node)
            if last.get("outputs"):
                merged["outputs"] = last["outputs"]
            if last.get("podIP"):  # a daemon's: `{{steps.X.ip}}` of its retry node
                merged["podIP"] = last["podIP"]
            return merged
        return node

    def _resolve_artifact_argument(
        self, art: Mapping[str, Any], scope: Scope, variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        if not (art.get("from") or art.get("fromExpression")):
            return dict(art)
        found = scope.resolve_artifact(
            art, lambda: expr.expand_variables({**variables, **scope.values})
        )
        resolved = {k: v for k, v in found.items() if k not in ("name", "path", "globalName")}
        resolved["name"] = art["name"]
        if art.get("subPath"):
            resolved["subPath"] = art["subPath"]
        return resolved

    # ---- outputs (Argo's getTemplateOutputsFromScope, addOutputsToGlobalScope) ---------

    def _template_outputs(self, tmpl: Mapping[str, Any], scope: Scope) -> dict[str, Any] | None:
        declared = tmpl.get("outputs") or {}
        if not (declared.get("parameters") or declared.get("artifacts") or declared.get("result")):
            return None
        outputs: dict[str, Any] = {}
        variables = {**self.globals, **scope.values}
        if declared.get("parameters"):
            params = []
            for param in declared["parameters"]:
                value_from = param.get("valueFrom")
                if not value_from:
                    raise UserError(f"output parameter {param['name']}: valueFrom is required")
                try:
                    value = self._resolve_value_from(value_from, variables)
                except ArgoError:
                    if "default" not in value_from:
                        raise
                    value = parameter_value(value_from["default"])
                if value is None:
                    if "default" in value_from:
                        value = parameter_value(value_from["default"])
                    else:
                        raise UserError(
                            f'output parameter "{param["name"]}": "{value_from.get("parameter")}" '
                            "is an absent optional (skipped/omitted node output with no default)"
                        )
                out = {k: v for k, v in param.items() if k != "valueFrom"}
                out["value"] = value
                params.append(out)
            outputs["parameters"] = params
        if declared.get("artifacts"):
            arts = []
            for art in declared["artifacts"]:
                try:
                    found = scope.resolve_artifact(art, lambda: expr.expand_variables(variables))
                except ArgoError:
                    if art.get("optional"):
                        continue
                    raise
                resolved = dict(found)
                resolved["name"] = art["name"]
                if art.get("globalName"):
                    resolved["globalName"] = art["globalName"]
                arts.append(resolved)
            outputs["artifacts"] = arts
        return outputs

    def _resolve_value_from(
        self, value_from: Mapping[str, Any], variables: Mapping[str, Any]
    ) -> Any:
        if value_from.get("expression"):
            value = expr.evaluate(str(value_from["expression"]), expr.expand_variables(variables))
            if value is None:
                raise UserError(f"failed to evaluate expression {value_from['expression']!r}")
            return parameter_value(value)
        key = str(value_from.get("parameter", "")).strip()
        if key.startswith("{{") and key.endswith("}}"):
            key = key[2:-2].strip()
            if key not in variables:
                raise UserError(f"Unable to resolve: {{{{{key}}}}}")
            value = variables[key]
            return value if value is None else parameter_value(value)
        return parameter_value(value_from.get("parameter", ""))

    def _add_outputs_to_globals(self, outputs: Mapping[str, Any]) -> None:
        for param in outputs.get("parameters") or []:
            if param.get("globalName") and "value" in param:
                self.globals[f"workflow.outputs.parameters.{param['globalName']}"] = param["value"]
                self._set_workflow_output(
                    "parameters", {"name": param["globalName"], "value": param["value"]}
                )
        for art in outputs.get("artifacts") or []:
            if art.get("globalName"):
                entry = {k: v for k, v in art.items() if k not in ("globalName", "path")}
                entry["name"] = art["globalName"]
                self.globals[f"workflow.outputs.artifacts.{art['globalName']}"] = entry
                self._set_workflow_output("artifacts", entry)

    def add_node_outputs_to_globals(self, outputs: Mapping[str, Any]) -> None:
        self._add_outputs_to_globals(outputs)

    def _set_workflow_output(self, kind: str, entry: dict[str, Any]) -> None:
        listed = self.status.setdefault("outputs", {}).setdefault(kind, [])
        for i, existing in enumerate(listed):
            if existing["name"] == entry["name"]:
                listed[i] = entry
                break
        else:
            listed.append(entry)
        self._changed()

    def _add_workflow_outputs(self, scope: Scope) -> None:
        for key, value in self.globals.items():
            if key.startswith("workflow.outputs."):
                scope.set(key, value)

    # ---- daemons ----------------------------------------------------------------------

    def _kill_daemons(self, boundary_id: str | None) -> None:
        """Argo's killDaemonedChildren: every daemoned node of the boundary (all of them
        for None) ends Succeeded, no longer daemoned, its message kept; a pod's processes
        are then terminated."""
        for nid in sorted(self._daemoned):
            node = self.nodes[nid]
            if boundary_id is not None and node.get("boundaryID", "") != boundary_id:
                continue
            node.pop("daemoned", None)
            self.mark(node, "Succeeded")
            if node["type"] == "Pod":
                self.host.pods.stop_daemon(node)

    def _kill_all_daemons(self) -> None:
        self._kill_daemons(None)

    async def _daemons_gone(self) -> None:
        """Until the processes of every daemon (and of anything else run alongside the
        workflow) have ended: nothing of a run outlives it."""
        self._kill_all_daemons()
        if not self._background:
            return
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self.status.get("finishedAt"):
            self.status["progress"] = self._progress()  # a killed script daemon failed
            self._changed()


# Kubernetes' IsValidLabelValue.
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def _check_label_value(value: str, what: str) -> None:
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _LABEL_VALUE.fullmatch(value):
        errors.append(
            "a valid label must be an empty string or consist of alphanumeric characters,"
            " '-', '_' or '.', and must start and end with an alphanumeric character (e.g."
            " 'MyValue',  or 'my_value',  or '12345', regex used for validation is"
            " '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )
    if errors:
        raise UserError(f"{what}: {';'.join(errors)}")


DISPLAY_NAME_ANNOTATION = "workflows.argoproj.io/display-name"
# Argo's displayNameRegex; bounded, so linear on any input.
_DISPLAY_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-.]{0,61}[a-zA-Z0-9]$")


def _display_name(tmpl: Mapping[str, Any]) -> str:
    """The `workflows.argoproj.io/display-name` annotation, which Argo makes the node's
    display name once it matches Argo's rule for it."""
    annotations = tmpl.get("annotations")
    if not annotations:  # (most templates; no isinstance against an ABC then)
        return ""
    name = annotations.get(DISPLAY_NAME_ANNOTATION) if isinstance(annotations, Mapping) else None
    if not name:
        return ""
    if not _DISPLAY_NAME.fullmatch(str(name)):
        raise UserError(f"displayName must match the regex {_DISPLAY_NAME.pattern}")
    return str(name)


def raw_output_fields(tmpl: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Argo's addRawOutputFields: a new suspend node's outputs are its template's
    `valueFrom.supplied` parameters; one without a default takes the default of the
    template's input parameter of the same name (so resuming without a value, or the
    duration running out, gives that)."""
    inputs = {
        p.get("name"): p
        for p in (tmpl.get("inputs") or {}).get("parameters") or []
        if isinstance(p, Mapping)
    }
    supplied = []
    for param in (tmpl.get("outputs") or {}).get("parameters") or []:
        value_from = param.get("valueFrom") if isinstance(param, Mapping) else None
        if not isinstance(value_from, Mapping) or value_from.get("supplied") is None:
            continue
        copied = copy.deepcopy(dict(param))
        source = copied["valueFrom"]
        if source.get("default") is None:
            given = inputs.get(param.get("name")) or {}
            if given.get("default") is not None:
                source["default"] = given["default"]
        if source.get("default") is not None:
            source["default"] = parameter_value(source["default"])
        supplied.append(copied)
    return supplied


def _node_type(tmpl: dict[str, Any]) -> str:
    """Argo's Template.GetNodeType."""
    if tmpl.get("retryStrategy") is not None:
        return "Retry"
    kind = template_type(tmpl)
    return "Pod" if kind in _POD_TYPES else _NODE_TYPES.get(kind, "")


def _status_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if inputs.get("parameters"):
        out["parameters"] = [
            {k: (parameter_value(v) if k == "value" else v) for k, v in p.items()}
            for p in inputs["parameters"]
        ]
    if inputs.get("artifacts"):
        out["artifacts"] = [dict(a) for a in inputs["artifacts"]]
    return out


def restore_hooks(step: dict[str, Any], hooks: Any, on_exit: Any) -> None:
    if hooks is not None:
        step["hooks"] = hooks
    if on_exit is not None:
        step["onExit"] = on_exit


def mark_absent(param: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """Argo's markAbsentOptionalArgs: `{{x}}` naming an absent optional becomes a marker."""
    value = param.get("value")
    if isinstance(value, str) and value.startswith("{{") and value.endswith("}}"):
        key = value[2:-2].strip()
        if "{{" not in key and key in scope.values and scope.values[key] is None:
            out = dict(param)
            out["value"] = ABSENT
            return out
    return dict(param)


def env_if_needed(text: str, variables: Mapping[str, Any]) -> dict[str, Any] | None:
    return expr.expand_variables(variables) if "{{=" in text else None


def continues_on(holder: Mapping[str, Any] | None, phase: str) -> bool:
    if not holder:
        return False
    cont = holder.get("continueOn") or {}
    return bool(
        (phase == "Failed" and cont.get("failed")) or (phase == "Error" and cont.get("error"))
    )


def _retry_limit(limit: Any) -> int | None:
    if limit is None or limit == "":
        return None
    try:
        return int(parameter_value(limit))
    except (ValueError, TypeError):
        raise UserError(f"retryStrategy.limit: '{limit}' is not a number") from None


_TRANSIENT = re.compile(
    r"(?i)(connection reset|connection refused|timeout|timed out|exceeded quota|"
    r"transient|temporar|try again|too many requests|broken pipe|EOF)"
)


def _is_transient(message: str) -> bool:
    return bool(_TRANSIENT.search(message or ""))


def _humanize(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} seconds"
    return f"{seconds / 60:g} minutes"
