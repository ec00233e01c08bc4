"""A step's or task's exit handler (`onExit`, `hooks.exit`), as Argo's exit_handler.go runs it.

runOnExitNode: once the node has completed (and unless the workflow is terminated), the
exit hook's `expression`, if any, decides; its arguments are resolved with the parent's
outputs in scope (resolveExitTmplArgument, which lifecycle hooks share: hooks.py); its
node `<parent>.onExit` is a child of the parent. The workflow's own onExit runs from
operate, in operator.py, as in Argo's operator.go.
"""

from __future__ import annotations

import asyncio
import json
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from jupyter_argo import expr
from jupyter_argo.engine.operator import BoundaryContext, OperatorCore, env_if_needed
from jupyter_argo.errors import ArgoError

__all__ = ["ExitHandlerMixin"]


class ExitHandlerMixin(OperatorCore):
    """Argo's runOnExitNode and resolveExitTmplArgument."""

    async def _run_on_exit(
        self,
        holder: Mapping[str, Any],
        node: dict[str, Any],
        ctx: BoundaryContext,
        prefix: str,
    ) -> None:
        """Argo's runOnExitNode: the exit hook of a step or task whose node is done."""
        if node["phase"] not in ("Succeeded", "Failed", "Error") or self.shutdown == "Terminate":
            return
        exit_hook = (holder.get("hooks") or {}).get("exit")
        if exit_hook is None and holder.get("onExit"):
            exit_hook = {"template": holder["onExit"]}
        if not isinstance(exit_hook, dict):
            return
        if exit_hook.get("expression"):
            try:
                if (
                    expr.evaluate(
                        str(exit_hook["expression"]), self._hook_env(ctx, prefix, holder, node)
                    )
                    is not True
                ):
                    return
            except ArgoError:
                return
        await self._run_hook(
            f"{node['name']}.onExit", exit_hook, node, ctx, prefix, holder, on_exit=True
        )

    def _hook_env(
        self,
        ctx: BoundaryContext,
        prefix: str,
        holder: Mapping[str, Any],
        node: Mapping[str, Any],
    ) -> dict[str, Any]:
        """What a hook's `expression` sees: the scope, with the parent node in it."""
        scope = ctx.scope.copy()
        scope.add_node(prefix, str(holder.get("name", "")), self._retry_last(dict(node)))
        return expr.expand_variables({**self.globals, **scope.values})

    async def _run_hook(
        self,
        hook_node_name: str,
        hook: Mapping[str, Any],
        parent: dict[str, Any],
        ctx: BoundaryContext,
        prefix: str,
        holder: Mapping[str, Any],
        *,
        on_exit: bool = False,
    ) -> dict[str, Any]:
        """Run a hook's template as a child of `parent` (an exit hook or a lifecycle hook);
        its arguments resolved as Argo's resolveExitTmplArgument resolves them."""
        arguments = hook.get("arguments") or {}
        if arguments:
            scope = ctx.scope.copy()
            scope.add_node(prefix, str(holder.get("name", "")), self._retry_last(parent))
            variables = ChainMap(scope.strings(), self.globals)
            arguments = dict(arguments)
            if arguments.get("artifacts"):
                arguments["artifacts"] = [
                    self._resolve_artifact_argument(a, scope, variables)
                    for a in arguments["artifacts"]
                ]
            arguments = expr.substitute_object(
                arguments,
                variables,
                expression_env=env_if_needed(json.dumps(arguments), variables),
            )
        hook_holder = {k: hook[k] for k in ("template", "templateRef") if k in hook}
        task = asyncio.ensure_future(
            self.execute_template(
                hook_node_name,
                hook_holder,
                ctx.context,
                arguments,
                ctx.boundary_id,
                on_exit=on_exit,
                flag={"hooked": True},
            )
        )
        await asyncio.sleep(0)
        if self.node_by_name(hook_node_name) is not None:
            self.add_child(parent["name"], hook_node_name)
        result = await task
        self.add_child(parent["name"], hook_node_name)
        return result
