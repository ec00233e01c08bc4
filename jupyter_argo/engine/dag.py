"""DAG templates, as Argo's dag.go runs them.

executeDAG / executeDAGTask: a task starts once its `depends` (or legacy
`dependencies`) can be decided (evaluateDependsLogic); a task whose condition does not
hold is Omitted; a task's `tasks.*` references are resolved (resolveDependencyReferences)
and its loop expanded into a TaskGroup (expandTask, with steps.py's item expansion); its
node is linked under the outbound nodes of its dependencies (connectDependencies).
assessDAGPhase decides the DAG's phase from its target tasks, honouring `failFast`,
`continueOn` and a shutdown.
"""

from __future__ import annotations

import asyncio
import json
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from jupyter_argo import expr
from jupyter_argo.engine.hooks import HooksMixin
from jupyter_argo.engine.launch import launch_all
from jupyter_argo.engine.operator import (
    FAIL_FAST_MESSAGE,
    BoundaryContext,
    StartedHooks,
    TemplateCall,
    continues_on,
    env_if_needed,
    mark_absent,
    restore_hooks,
)
from jupyter_argo.engine.steps import expand_items, should_expand
from jupyter_argo.engine.templates import TemplateContext
from jupyter_argo.engine.variables import aggregate_outputs
from jupyter_argo.errors import ArgoError, UserError
from jupyter_argo.status import is_fulfilled, node_id

__all__ = ["DagMixin"]


class DagMixin(HooksMixin):
    """Argo's executeDAG; each DAG template's run is a `_DagRun`."""

    async def _execute_dag(self, call: TemplateCall) -> dict[str, Any]:
        node = self._node(call, "DAG", "Running")
        try:
            return await _DagRun(self, node, call.resolved.context, call.tmpl, call.on_exit).run()
        except ArgoError as err:
            return self.mark_error(node, err)
        finally:
            self._kill_daemons(node["id"])


class _DagRun:
    """One DAG template's run: schedules tasks as their dependencies finish."""

    def __init__(
        self,
        op: DagMixin,
        node: dict[str, Any],
        context: TemplateContext,
        tmpl: dict[str, Any],
        on_exit: bool,
    ) -> None:
        self.op = op
        self.node = node
        self.name = node["name"]
        self.context = context
        self.tmpl = tmpl
        dag = tmpl.get("dag") or {}
        self.tasks: dict[str, dict[str, Any]] = {t["name"]: t for t in dag.get("tasks") or []}
        self.fail_fast = dag.get("failFast", True) is not False
        self.ctx = BoundaryContext.of(node, tmpl, context, on_exit)
        self.logic: dict[str, str] = {}
        self.deps: dict[str, list[str]] = {}
        for task_name, task in self.tasks.items():
            if task.get("depends"):
                self.logic[task_name] = str(task["depends"])
                self.deps[task_name] = expr.depends_tasks(str(task["depends"]))
            elif task.get("dependencies"):
                names = [str(d) for d in task["dependencies"]]
                self.logic[task_name] = expr.legacy_dependencies_to_depends(names, self.tasks)
                self.deps[task_name] = names
            else:
                self.deps[task_name] = []
        for task_name, deps in self.deps.items():
            for dep in deps:
                if dep not in self.tasks:
                    raise UserError(f"task '{task_name}' depends on unknown task '{dep}'")
        target = str(dag.get("target") or "")
        if target:
            self.targets = target.split(" ")
        else:
            depended = {d for deps in self.deps.values() for d in deps}
            self.targets = [t for t in self.tasks if t not in depended]
        self.needed = self._ancestors(self.targets)
        self.started: set[str] = set()
        self.finished: set[str] = set()
        self.wake = asyncio.Event()
        self.hooks: dict[str, StartedHooks] = {}

    def _ancestors(self, names: list[str]) -> list[str]:
        seen: list[str] = []
        stack = list(reversed(names))
        while stack:
            task = stack.pop()
            if task in seen:
                continue
            if task not in self.tasks:
                raise UserError(f"target task '{task}' is not a task of this DAG")
            seen.append(task)
            stack.extend(reversed(self.deps[task]))
        return [t for t in self.tasks if t in seen]

    def task_node_name(self, task: str) -> str:
        return f"{self.name}.{task}"

    def task_node(self, task: str) -> dict[str, Any] | None:
        return self.op.node_by_name(self.task_node_name(task))

    async def run(self) -> dict[str, Any]:
        op = self.op
        self.op._add_workflow_outputs(self.ctx.scope)
        running: set[asyncio.Future[None]] = set()
        while True:
            progressed = True
            while progressed:
                progressed = False
                for task in self.needed:
                    if task in self.started or not self._deps_fulfilled(task):
                        continue
                    self.started.add(task)
                    progressed = True
                    future = asyncio.ensure_future(self._run_task(task))
                    running.add(future)
                    future.add_done_callback(running.discard)
            phase = self._assess()
            if phase != "Running":
                break
            await self.wake.wait()
            self.wake.clear()
        await asyncio.gather(*running, return_exceptions=True)
        self._update_outbound()
        if self.ctx.fail_fast and self.ctx.failed:
            return op.mark(self.node, "Failed", FAIL_FAST_MESSAGE)
        if phase in ("Failed", "Error"):
            return op.mark(self.node, phase)
        for task_name, task_spec in self.tasks.items():
            task_node = self.task_node(task_name)
            if task_node is None:
                continue
            if task_node["type"] == "TaskGroup":
                children = [op.nodes[c] for c in task_node.get("children") or []]
                aggregate_outputs(self.ctx.scope, "tasks", task_name, children)
            self.ctx.scope.add_node("tasks", task_name, op._retry_last(task_node))
            if task_node["phase"] in ("Skipped", "Omitted") and not task_node.get("outputs"):
                self.ctx.scope.add_skipped_outputs(
                    "tasks", task_name, op._try_resolve(self.context, task_spec), artifacts=False
                )
            if task_node.get("outputs"):
                op.add_node_outputs_to_globals(task_node["outputs"])
        outputs = op._template_outputs(self.tmpl, self.ctx.scope)
        if outputs is not None:
            self.node["outputs"] = outputs
        return op.mark(self.node, "Succeeded")

    def _deps_fulfilled(self, task: str) -> bool:
        return all(dep in self.finished for dep in self.deps[task])

    def _finished(self, task: str) -> None:
        self.finished.add(task)
        self.wake.set()

    async def _run_task(self, task_name: str) -> None:
        try:
            try:
                await self._execute_task(task_name)
            except ArgoError:
                raise
            except Exception as bug:  # a bug of ours must end the task, never hang the DAG
                raise UserError(
                    f"internal error in the local engine: {type(bug).__name__}: {bug}"
                ) from bug
        except ArgoError as err:
            node_name = self.task_node_name(task_name)
            existing = self.op.node_by_name(node_name)
            if existing is None:
                self.op.init_node(
                    node_name,
                    "Skipped",
                    self.context,
                    self.tasks[task_name],
                    self.node["id"],
                    "Error",
                    str(err),
                )
                self._connect(task_name, node_name, None)
            elif not is_fulfilled(existing["phase"]):
                self.op.mark_error(existing, err)
        finally:
            self._finished(task_name)

    async def _execute_task(self, task_name: str) -> None:
        op = self.op
        task = self.tasks[task_name]
        node_name = self.task_node_name(task_name)
        if self.op.shutdown:
            # A stopped workflow starts nothing new.
            return
        if task_name in self.logic:
            results = {}
            for dep in self.deps[task_name]:
                dep_node = self.task_node(dep)
                if dep_node is None:
                    return
                children = None
                if dep_node["type"] == "TaskGroup":
                    children = tuple(op.nodes[c]["phase"] for c in dep_node.get("children") or [])
                cont = self.tasks[dep].get("continueOn") or {}
                results[dep] = expr.DependResult(
                    phase=dep_node["phase"],
                    daemoned=bool(dep_node.get("daemoned")) and dep_node["phase"] != "Pending",
                    continue_on_failed=bool(cont.get("failed")),
                    continue_on_error=bool(cont.get("error")),
                    children_phases=children,
                )
            try:
                execute = expr.evaluate_depends(self.logic[task_name], results)
            except ArgoError as err:
                raise UserError(
                    f"unable to evaluate expression '{self.logic[task_name]}': {err}"
                ) from None
            if not execute:
                op.init_node(
                    node_name,
                    "Skipped",
                    self.context,
                    task,
                    self.node["id"],
                    "Omitted",
                    "omitted: depends condition not met",
                )
                self._connect(task_name, node_name, None)
                return
        resolved_task = self._resolve_task(task)
        group_node = None
        if should_expand(task):
            variables = ChainMap(self.ctx.scope.strings(), op.globals)
            where = f"templates.{self.ctx.template_name}.tasks.{task_name}"
            expanded = expand_items(resolved_task, variables, where)
            if not expanded:
                op.init_node(
                    node_name,
                    "Skipped",
                    self.context,
                    task,
                    self.node["id"],
                    "Skipped",
                    "Skipped, empty params",
                )
                self._connect(task_name, node_name, None)
                return
            self._connect(task_name, node_name, None)
            group_node = op.init_node(
                node_name, "TaskGroup", self.context, task, self.node["id"], "Running"
            )
        else:
            expanded = [resolved_task]
        await launch_all(lambda t: self._run_expanded(task, t, group_node), expanded)
        if group_node is not None:
            phase = "Succeeded"
            for child_id in group_node.get("children") or []:
                child = op.nodes[child_id]
                if child["phase"] in ("Failed", "Error"):
                    phase = child["phase"]
            op.mark(group_node, phase)

    async def _run_expanded(
        self, task: Mapping[str, Any], expanded: dict[str, Any], group_node: dict[str, Any] | None
    ) -> None:
        async with self.ctx.limit:
            if self.ctx.fail_fast and self.ctx.failed:
                return
            await self._run_expanded_now(task, expanded, group_node)
            node = self.op.node_by_name(self.task_node_name(expanded["name"]))
            if node is not None and node["phase"] in ("Failed", "Error"):
                self.ctx.failed = True

    async def _run_expanded_now(
        self, task: Mapping[str, Any], expanded: dict[str, Any], group_node: dict[str, Any] | None
    ) -> None:
        op = self.op
        child_name = self.task_node_name(expanded["name"])
        when = expanded.get("when")
        if when:
            try:
                proceed = expr.evaluate_when(str(when))
            except ArgoError as err:
                op.init_node(
                    child_name, "Skipped", self.context, task, self.node["id"], "Error", str(err)
                )
                self._connect(task["name"], child_name, group_node)
                return
            if not proceed:
                op.init_node(
                    child_name,
                    "Skipped",
                    self.context,
                    task,
                    self.node["id"],
                    "Skipped",
                    f"when '{when}' evaluated false",
                )
                self._connect(task["name"], child_name, group_node)
                return
        holder = dict(expanded)
        holder["isDAGTask"] = True
        future = asyncio.ensure_future(
            op.execute_template(
                child_name,
                holder,
                self.context,
                expanded.get("arguments") or {},
                self.node["id"],
                on_exit=self.ctx.on_exit,
            )
        )
        await asyncio.sleep(0)
        node = op.node_by_name(child_name)
        if node is not None:
            self._connect(task["name"], child_name, group_node)
        hooks = self.hooks.setdefault(child_name, StartedHooks())
        if node is not None:
            op._start_hooks(task, node, self.ctx, hooks, "tasks")
        node = await op._await_with_hooks(task, node, future, self.ctx, hooks, "tasks")
        self._connect(task["name"], child_name, group_node)
        self.ctx.scope.add_node("tasks", str(task["name"]), op._retry_last(node))
        await op._after_node(task, node, self.ctx, hooks, "tasks")

    def _connect(self, task_name: str, child_name: str, group_node: dict[str, Any] | None) -> None:
        """Argo's connectDependencies: link a task's node under its dependencies' outbound nodes."""
        op = self.op
        deps = self.deps[task_name]
        if group_node is not None:
            op.add_child(group_node["name"], child_name)
        elif not deps:
            op.add_child(self.name, child_name)
        else:
            for dep in deps:
                dep_node = self.task_node(dep)
                if dep_node is None:
                    continue
                for outbound in op.outbound_nodes(dep_node["id"]):
                    op.add_child(op.nodes[outbound]["name"], child_name)

    def _resolve_task(self, task: dict[str, Any]) -> dict[str, Any]:
        """Argo's resolveDependencyReferences: substitute `tasks.*` into one task."""
        op = self.op
        scope = self.ctx.scope.copy()
        for other in self.tasks:
            other_node = self.task_node(other)
            if other_node is None:
                continue
            if other_node["type"] == "TaskGroup":
                children = [op.nodes[c] for c in other_node.get("children") or []]
                aggregate_outputs(scope, "tasks", other, children)
            scope.add_node("tasks", other, op._retry_last(other_node))
            if other_node["phase"] in ("Skipped", "Omitted") and not other_node.get("outputs"):
                scope.add_skipped_outputs(
                    "tasks", other, op._try_resolve(self.context, self.tasks[other]), artifacts=True
                )
        task = dict(task)
        hooks = task.pop("hooks", None)
        on_exit = task.pop("onExit", None)
        task.pop("depends", None)
        task.pop("dependencies", None)
        variables = ChainMap(scope.strings(), op.globals)
        if task.get("when") and not should_expand(task):
            # Argo resolves and evaluates `when` first: a task that will not run keeps the
            # rest unresolved (its arguments may only make sense when it runs). An error
            # evaluating it is the task's error.
            when = expr.substitute(
                str(task["when"]),
                variables,
                strict=("steps.", "tasks."),
                json_escape=False,
                expression_env=env_if_needed(str(task["when"]), {**variables, **scope.values}),
            )
            if not expr.evaluate_when(when):
                task["when"] = when
                restore_hooks(task, hooks, on_exit)
                return task
        arguments = dict(task.get("arguments") or {})
        if arguments.get("artifacts"):
            arguments["artifacts"] = [
                op._resolve_artifact_argument(a, scope, variables) for a in arguments["artifacts"]
            ]
        if arguments.get("parameters"):
            arguments["parameters"] = [mark_absent(p, scope) for p in arguments["parameters"]]
        task["arguments"] = arguments
        resolved: dict[str, Any] = expr.substitute_object(
            task,
            variables,
            strict=("steps.", "tasks."),
            expression_env=env_if_needed(json.dumps(task), {**variables, **scope.values}),
        )
        restore_hooks(resolved, hooks, on_exit)
        return resolved

    def _assess(self) -> str:
        """Argo's assessDAGPhase."""
        op = self.op
        if op.shutdown and not self.ctx.on_exit:
            # Shut down: wait for what runs, then fail.
            if any(not is_fulfilled(op.nodes[c]["phase"]) for c in self._reachable()):
                return "Running"
            return "Failed"
        target_ids = {node_id(op.name, self.task_node_name(t)): t for t in self.targets}
        target_phase: dict[str, str] = dict.fromkeys(target_ids, "")
        queue: list[tuple[str, str]] = [(c, "Succeeded") for c in self.node.get("children") or []]
        seen: dict[str, str] = {}
        while queue:
            nid, branch = queue.pop(0)
            if seen.get(nid) == branch:
                continue
            seen[nid] = branch
            node = op.nodes.get(nid)
            if node is None:
                return "Running"
            fulfilled = is_fulfilled(node["phase"]) or (
                node.get("daemoned") and node["phase"] != "Pending"
            )
            if not fulfilled:
                return "Running"
            if node["phase"] in ("Succeeded", "Failed", "Error"):
                branch = node["phase"]
            if nid in target_phase and target_phase[nid] not in ("Failed", "Error"):
                target_phase[nid] = branch
            children = node.get("children") or []
            if node["type"] == "Retry":
                children = self._retry_children(node)
            queue.extend((c, branch) for c in children)
        result = "Succeeded"
        for nid, task_name in target_ids.items():
            phase = target_phase[nid]
            if phase == "":
                if task_name in self.started and task_name in self.finished:
                    # Its node was never created (a stop); nothing more will come.
                    continue
                result = "Running"
                if not self.fail_fast:
                    break
            elif phase in ("Failed", "Error"):
                if continues_on(self.tasks[task_name], phase):
                    continue
                result = phase
                if self.fail_fast:
                    break
        return result

    def _retry_children(self, node: Mapping[str, Any]) -> list[str]:
        """Argo's getRetryNodeChildrenIds: past a retry node the walk goes on from its hook
        nodes and from the children of its attempts (a task depending on a retried one
        hangs under its last attempt), never from the attempts themselves."""
        out: list[str] = []
        for child_id in reversed(node.get("children") or []):
            child = self.op.nodes.get(child_id)
            if child is None:
                continue
            if (child.get("nodeFlag") or {}).get("hooked"):
                out.append(child_id)
            else:
                out.extend(child.get("children") or [])
        return out

    def _reachable(self) -> list[str]:
        out: list[str] = []
        stack = list(self.node.get("children") or [])
        seen: set[str] = set()
        while stack:
            nid = stack.pop()
            if nid in seen or nid not in self.op.nodes:
                continue
            seen.add(nid)
            out.append(nid)
            stack.extend(self.op.nodes[nid].get("children") or [])
        return out

    def _update_outbound(self) -> None:
        outbound: list[str] = []
        for target in self.targets:
            node = self.task_node(target)
            if node is not None:
                outbound.extend(self.op.outbound_nodes(node["id"]))
        self.node["outboundNodes"] = outbound
