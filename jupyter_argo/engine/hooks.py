"""Lifecycle hooks of steps and tasks, as Argo's hooks.go runs them.

executeTmplLifeCycleHook: every hook but `exit` has an `expression`; while its parent
node runs and once it is done, a hook whose expression holds starts its node
`<parent>.hooks.<name>` (once), a child of the parent. The exit hook runs after them
(exit_handler.py), as steps.go and dag.go call the two in turn.
"""

from __future__ import annotations

from collections.abc import Mapping
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
        """Expression hooks whose condition holds now (e.g. `steps.x.status == "Running"`)."""
        for hook_name, hook in (holder.get("hooks") or {}).items():
            if hook_name == "exit" or hook_name in hooks.started or not isinstance(hook, dict):
                continue
            env = self._hook_env(ctx, prefix, holder, node)
            try:
                run_it = expr.evaluate(str(hook.get("expression", "false")), env) is True
            except ArgoError:
                run_it = False
            if run_it:
                hooks.started.add(hook_name)
                self.background(
                    self._run_hook(
                        f"{node['name']}.hooks.{hook_name}", hook, node, ctx, prefix, holder
                    )
                )

    async def _after_node(
        self,
        holder: Mapping[str, Any],
        node: dict[str, Any],
        ctx: BoundaryContext,
        hooks: StartedHooks,
        prefix: str,
    ) -> None:
        """Once a step/task node is done: remaining expression hooks, then its exit hook."""
        self._start_hooks(holder, node, ctx, hooks, prefix)
        await self._run_on_exit(holder, node, ctx, prefix)
