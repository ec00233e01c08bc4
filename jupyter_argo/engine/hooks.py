"""Lifecycle hooks of steps, tasks and the workflow, as Argo's hooks.go runs them.

executeTmplLifeCycleHook: every hook but `exit` has an `expression`; while its parent
node runs and once it is done, a hook whose expression holds starts its node
`<parent>.hooks.<name>` (once), a child of the parent. Argo evaluates them on every pass
over the workflow; here on every phase change of the parent. The step or task is not done
until its hooks are (hookCompleted); its exit hook runs after them (exit_handler.py), as
steps.go and dag.go call the two in turn.

executeWfLifeCycleHook: the workflow's own `spec.hooks` (but `exit`), their expressions
seeing the global variables (`workflow.status` is the root node's phase while it runs);
the node `<workflow>.hooks.<name>` is a child of the root node, and the workflow waits for
these hooks before its exit handler and its end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from jupyter_argo import expr
from jupyter_argo.engine.exit_handler import ExitHandlerMixin
from jupyter_argo.engine.operator import BoundaryContext, StartedHooks
from jupyter_argo.errors import ArgoError

__all__ = ["HooksMixin"]


class HooksMixin(ExitHandlerMixin):
    """Argo's executeTmplLifeCycleHook, and what steps and DAGs run once a child is done."""

    def _start_hooks(
        self,
        holder: Mapping[str, Any],
        node: dict[str, Any],
        ctx: BoundaryContext,
        hooks: StartedHooks,
        prefix: str,
    ) -> None:
        """Expression hooks whose condition holds now (e.g. `steps.x.status == "Running"`);
        a hook whose node exists (a retried workflow) runs again, as Argo re-executes it."""
        if self.shutdown:
            return  # Argo's ShouldExecute: no new nodes but exit handlers once stopping
        for hook_name, hook in (holder.get("hooks") or {}).items():
            if hook_name == "exit" or hook_name in hooks.started or not isinstance(hook, dict):
                continue
            hook_node_name = f"{node['name']}.hooks.{hook_name}"
            run_it = self.node_by_name(hook_node_name) is not None
            if not run_it:
                env = self._hook_env(ctx, prefix, holder, node)
                try:
                    run_it = expr.evaluate(str(hook.get("expression", "false")), env) is True
                except ArgoError:
                    run_it = False
            if run_it:
                hooks.started.add(hook_name)
                hooks.runs.append(
                    asyncio.ensure_future(
                        self._run_hook(hook_node_name, hook, node, ctx, prefix, holder)
                    )
                )

    def _await_with_hooks(
        self,
        holder: Mapping[str, Any],
        node: dict[str, Any] | None,
        task: asyncio.Future[dict[str, Any]],
        ctx: BoundaryContext,
        hooks: StartedHooks,
        prefix: str,
    ) -> Awaitable[dict[str, Any]]:
        """The step's or task's node once done, its hooks evaluated at each phase change
        (without hooks to watch: the task itself, awaited by the caller)."""
        if node is None or not _has_expression_hooks(holder.get("hooks")):
            return task
        return self._watch_phases(
            node, task, lambda: self._start_hooks(holder, node, ctx, hooks, prefix)
        )

    async def _watch_phases(
        self,
        node: Mapping[str, Any],
        task: asyncio.Future[dict[str, Any]],
        on_change: Callable[[], None],
    ) -> dict[str, Any]:
        """Await `task`, calling `on_change` at each phase change of `node` meanwhile."""
        watcher = self._phase_watchers.setdefault(node["id"], asyncio.Event())
        try:
            while not task.done():
                changed = asyncio.ensure_future(watcher.wait())
                try:
                    await asyncio.wait((task, changed), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    changed.cancel()
                watcher.clear()
                if not task.done():
                    on_change()
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            if self._phase_watchers.get(node["id"]) is watcher:
                del self._phase_watchers[node["id"]]
        return task.result()

    async def _hooks_completed(self, hooks: StartedHooks) -> None:
        """Until every started hook node is done (Argo's hookCompleted); an error starting
        one is raised here, as Argo marks the node that runs the hooks in Error."""
        if not hooks.runs:
            return
        results = await asyncio.gather(*hooks.runs, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result

    # ---- the workflow's own hooks (executeWfLifeCycleHook) -------------------------------

    async def _await_root_with_hooks(
        self, task: asyncio.Future[dict[str, Any]], hooks: StartedHooks
    ) -> dict[str, Any]:
        """The root node once done, the workflow's hooks evaluated at each of its phase
        changes (Argo evaluates them on every pass, before looking at the root node)."""
        if not _has_expression_hooks(self.spec.get("hooks")):
            return await task
        root = self.node_by_name(self.name)
        while root is None and not task.done():
            await asyncio.sleep(0)
            root = self.node_by_name(self.name)
        if root is None:
            return await task
        self._start_workflow_hooks(root, hooks)
        return await self._watch_phases(root, task, lambda: self._start_workflow_hooks(root, hooks))

    def _start_workflow_hooks(self, root: Mapping[str, Any], hooks: StartedHooks) -> None:
        """Workflow-level expression hooks whose condition holds now."""
        if self.shutdown:
            return
        if root["phase"] in ("Pending", "Running"):
            self.globals["workflow.status"] = root["phase"]
        for hook_name, hook in (self.spec.get("hooks") or {}).items():
            if hook_name == "exit" or hook_name in hooks.started or not isinstance(hook, dict):
                continue
            hook_node_name = f"{self.name}.hooks.{hook_name}"
            run_it = self.node_by_name(hook_node_name) is not None
            if not run_it:
                env = expr.expand_variables(dict(self.globals))
                try:
                    run_it = expr.evaluate(str(hook.get("expression", "false")), env) is True
                except ArgoError:
                    run_it = False
            if run_it:
                hooks.started.add(hook_name)
                hooks.runs.append(
                    asyncio.ensure_future(self._run_workflow_hook(hook_node_name, hook))
                )

    async def _run_workflow_hook(
        self, hook_node_name: str, hook: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A workflow hook's node: no boundary, a child of the root node."""
        assert self._root_context is not None
        holder = {k: hook[k] for k in ("template", "templateRef") if k in hook}
        task = asyncio.ensure_future(
            self.execute_template(
                hook_node_name,
                holder,
                self._root_context,
                hook.get("arguments") or {},
                "",
                flag={"hooked": True},
            )
        )
        await asyncio.sleep(0)
        if self.node_by_name(hook_node_name) is not None:
            self.add_child(self.name, hook_node_name)
        result = await task
        self.add_child(self.name, hook_node_name)
        return result

    async def _after_node(
        self,
        holder: Mapping[str, Any],
        node: dict[str, Any],
        ctx: BoundaryContext,
        hooks: StartedHooks,
        prefix: str,
    ) -> None:
        """Once a step/task node is done: remaining expression hooks, all of them done,
        then its exit hook."""
        self._start_hooks(holder, node, ctx, hooks, prefix)
        if hooks.runs:
            await self._hooks_completed(hooks)
        if holder.get("hooks") is not None or holder.get("onExit"):  # else no exit hook
            await self._run_on_exit(holder, node, ctx, prefix)


def _has_expression_hooks(hooks: Any) -> bool:
    if hooks is None:  # (most steps: no isinstance against an ABC then)
        return False
    return isinstance(hooks, Mapping) and any(name != "exit" for name in hooks)
