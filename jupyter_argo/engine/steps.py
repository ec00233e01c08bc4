"""Steps templates, as Argo's steps.go runs them.

executeSteps: one StepGroup node per `steps[i]`, each linked under the outbound nodes of
the group before; executeStepGroup: its steps resolved (resolveReferences), expanded
(expandStepGroup, expandStep), their `when` evaluated, then run in parallel under the
template's `parallelism` and `failFast`; the template's outputs from its scope.
Loop expansion (withItems, withParam, withSequence) is here too: Argo's expandStep with
processItem and expandSequence (operator.go), which dag.py's expandTask shares.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from jupyter_argo.engine.variables import aggregate_outputs, parameter_value
from jupyter_argo.errors import ArgoError, UserError
from jupyter_argo.limits import ITEMS_VARIABLE, max_items
from jupyter_argo.status import node_id

__all__ = ["StepsMixin", "expand_items", "should_expand"]


class StepsMixin(HooksMixin):
    """Argo's executeSteps, executeStepGroup, resolveReferences and expandStepGroup."""

    async def _execute_steps(self, call: TemplateCall) -> dict[str, Any]:
        name, resolved, tmpl = call.name, call.resolved, call.tmpl
        node = self._node(call, "Steps", "Running")
        ctx = BoundaryContext.of(node, tmpl, resolved.context, call.on_exit)
        self._add_workflow_outputs(ctx.scope)
        try:
            for index, group in enumerate(tmpl.get("steps") or []):
                group_name = f"{name}[{index}]"
                group_node = self.init_node(
                    group_name, "StepGroup", resolved.context, {}, node["id"], "Running"
                )
                if index == 0:
                    self.add_child(name, group_name)
                else:
                    previous = self.nodes[node_id(self.name, f"{name}[{index - 1}]")]
                    if not previous.get("children"):
                        self.add_child(previous["name"], group_name)
                    for child_id in previous.get("children") or []:
                        for outbound in self.outbound_nodes(child_id):
                            self.add_child(self.nodes[outbound]["name"], group_name)
                steps = group if isinstance(group, list) else []
                await self._execute_step_group(steps, group_node, ctx)
                if group_node["phase"] in ("Failed", "Error"):
                    self._update_steps_outbound(node, tmpl)
                    return self.mark(node, "Failed", group_node.get("message", ""))
                self._add_group_outputs(steps, group_node, ctx)
            self._update_steps_outbound(node, tmpl)
            outputs = self._template_outputs(tmpl, ctx.scope)
            if outputs is not None:
                node["outputs"] = outputs
                self._add_outputs_to_globals(outputs)
            return self.mark(node, "Succeeded")
        except ArgoError as err:
            return self.mark_error(node, err)
        finally:
            self._kill_daemons(node["id"])

    def _update_steps_outbound(self, node: dict[str, Any], tmpl: Mapping[str, Any]) -> None:
        last_group = None
        for index in reversed(range(len(tmpl.get("steps") or []))):
            last_group = self.node_by_name(f"{node['name']}[{index}]")
            if last_group is not None:
                break
        if last_group is None:
            return
        outbound: list[str] = []
        for child_id in last_group.get("children") or []:
            outbound.extend(self.outbound_nodes(child_id))
        node["outboundNodes"] = outbound

    def _add_group_outputs(
        self, steps: list[dict[str, Any]], group_node: Mapping[str, Any], ctx: BoundaryContext
    ) -> None:
        for step in steps:
            child_name = f"{group_node['name']}.{step['name']}"
            child = self.node_by_name(child_name)
            if child is None:
                expanded = [
                    self.nodes[c]
                    for c in group_node.get("children") or []
                    if self.nodes[c]["name"].startswith(child_name + "(")
                    and self.nodes[c]["type"] != "Skipped"
                ]
                if expanded:
                    aggregate_outputs(ctx.scope, "steps", step["name"], expanded)
                ctx.scope.add_node("steps", step["name"], group_node)
            else:
                ctx.scope.add_node("steps", step["name"], self._retry_last(child))
                if child["phase"] in ("Skipped", "Omitted") and not child.get("outputs"):
                    ctx.scope.add_skipped_outputs(
                        "steps", step["name"], self._try_resolve(ctx.context, step), artifacts=True
                    )

    async def _execute_step_group(
        self, steps: list[dict[str, Any]], group_node: dict[str, Any], ctx: BoundaryContext
    ) -> None:
        group_name = group_node["name"]
        for position, step in enumerate(steps):
            if not isinstance(step, dict) or not isinstance(step.get("name"), str):
                # Only an applied template can hold one: a submitted Workflow is checked.
                group = group_name[group_name.rindex("[") :]
                where = f"templates.{ctx.template_name}.steps{group}[{position}]"
                self.mark_error(group_node, UserError(f"{where}: a step must be a map with a name"))
                return
        try:
            resolved_steps = [self._resolve_step(step, ctx) for step in steps]
            expanded = self._expand_steps(resolved_steps, group_name, ctx)
        except ArgoError as err:
            self.mark_error(group_node, err)
            return
        launches = []
        for step in expanded:
            child_name = f"{group_name}.{step['name']}"
            when = step.get("when")
            try:
                proceed = expr.evaluate_when(when) if when else True
            except ArgoError as err:
                self.init_node(
                    child_name, "Skipped", ctx.context, step, ctx.boundary_id, "Error", str(err)
                )
                self.add_child(group_name, child_name)
                self.mark_error(group_node, err)
                return
            if not proceed:
                if self.node_by_name(child_name) is None:
                    self.init_node(
                        child_name,
                        "Skipped",
                        ctx.context,
                        step,
                        ctx.boundary_id,
                        "Skipped",
                        f"when '{when}' evaluated false",
                    )
                    self.add_child(group_name, child_name)
                continue
            launches.append((child_name, step))
        await launch_all(lambda launch: self._run_step(*launch, group_name, ctx), launches)
        launched_by_name = dict(launches)
        if ctx.fail_fast and ctx.failed:
            self.mark(group_node, "Failed", FAIL_FAST_MESSAGE)
            return
        for child_id in group_node.get("children") or []:
            child = self.nodes[child_id]
            launched = launched_by_name.get(child["name"])
            if child["phase"] in ("Failed", "Error") and not continues_on(launched, child["phase"]):
                self.mark(group_node, "Failed", f"child '{child_id}' failed")
                return
        self.mark(group_node, "Succeeded")

    async def _run_step(
        self, child_name: str, step: dict[str, Any], group_name: str, ctx: BoundaryContext
    ) -> None:
        async with ctx.limit:
            if ctx.fail_fast and ctx.failed:
                return  # Argo starts no more children (checkParallelism's failFast)
            await self._run_step_now(child_name, step, group_name, ctx)

    async def _run_step_now(
        self, child_name: str, step: dict[str, Any], group_name: str, ctx: BoundaryContext
    ) -> None:
        holder = dict(step)
        holder["isStep"] = True
        arguments = step.get("arguments") or {}
        child = self.execute_template(
            child_name, holder, ctx.context, arguments, ctx.boundary_id, on_exit=ctx.on_exit
        )
        task = asyncio.ensure_future(child)
        node = None
        while node is None:
            # The child node exists as soon as it is initialised; link it to the group then.
            node = self.node_by_name(child_name)
            if node is None:
                if task.done():
                    node = task.result()
                    break
                await asyncio.sleep(0)
        self.add_child(group_name, child_name)
        hooks = StartedHooks()
        self._start_hooks(step, node, ctx, hooks, "steps")
        node = await self._await_with_hooks(step, node, task, ctx, hooks, "steps")
        if node["phase"] in ("Failed", "Error"):
            ctx.failed = True
        await self._after_node(step, node, ctx, hooks, "steps")

    def _resolve_step(self, step: dict[str, Any], ctx: BoundaryContext) -> dict[str, Any]:
        """Argo's resolveReferences: substitute scope references into one step."""
        step = dict(step)
        hooks = step.pop("hooks", None)
        on_exit = step.pop("onExit", None)
        variables = ChainMap(ctx.scope.strings(), self.globals)
        if step.get("when"):
            # Argo resolves and evaluates `when` first: a step that will not run keeps the
            # rest (its arguments, artifacts too) unresolved.
            when = expr.substitute(
                str(step["when"]),
                variables,
                strict=("steps.", "tasks."),
                json_escape=False,
                expression_env=env_if_needed(str(step["when"]), variables),
            )
            if not (step.get("withItems") or step.get("withParam") or step.get("withSequence")):
                with contextlib.suppress(ArgoError):
                    if not expr.evaluate_when(when):
                        step["when"] = when
                        restore_hooks(step, hooks, on_exit)
                        return step
        arguments = dict(step.get("arguments") or {})
        if arguments.get("artifacts"):
            arguments["artifacts"] = [
                self._resolve_artifact_argument(a, ctx.scope, variables)
                for a in arguments["artifacts"]
            ]
        if arguments.get("parameters"):
            arguments["parameters"] = [mark_absent(p, ctx.scope) for p in arguments["parameters"]]
        step["arguments"] = arguments
        resolved: dict[str, Any] = expr.substitute_object(
            step,
            variables,
            strict=("steps.", "tasks."),
            expression_env=env_if_needed(json.dumps(step), variables),
        )
        restore_hooks(resolved, hooks, on_exit)
        return resolved

    def _expand_steps(
        self, steps: list[dict[str, Any]], group_name: str, ctx: BoundaryContext
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for step in steps:
            if not should_expand(step):
                out.append(step)
                continue
            group = group_name[group_name.rindex("[") :]
            where = f"templates.{ctx.template_name}.steps{group}.{step.get('name', '')}"
            expanded = expand_items(step, ChainMap(ctx.scope.strings(), self.globals), where)
            if not expanded:
                child_name = f"{group_name}.{step['name']}"
                if self.node_by_name(child_name) is None:
                    self.init_node(
                        child_name,
                        "Skipped",
                        ctx.context,
                        step,
                        ctx.boundary_id,
                        "Skipped",
                        "Skipped, empty params",
                    )
                    self.add_child(group_name, child_name)
            out.extend(expanded)
        return out


def should_expand(holder: Mapping[str, Any]) -> bool:
    return bool(holder.get("withItems") or holder.get("withParam") or holder.get("withSequence"))


def _loop_items(holder: Mapping[str, Any], where: str = "") -> list[Any]:
    """The items a step or task loops over, at most `limits.max_items()` of them: more is
    an error naming the loop (`where`, e.g. `templates.main.steps[0].hello`)."""
    key = next((k for k in ("withItems", "withParam", "withSequence") if holder.get(k)), "")
    if key == "withItems":
        raw_items = holder["withItems"]
        if not isinstance(raw_items, list):
            from jupyter_argo.spec.schema import describe

            raise UserError(f"{_at(where, key)}: expected a list, not {describe(raw_items)}")
        items = raw_items
    elif key == "withParam":
        raw = holder["withParam"]
        if isinstance(raw, list):
            items = raw
        else:
            try:
                items = json.loads(str(raw))
            except (ValueError, RecursionError) as err:
                raise UserError(
                    f"withParam value could not be parsed as a JSON list: "
                    f"{_clip(str(raw).strip())}: {err}"
                ) from None
            if not isinstance(items, list):
                raise UserError(f"withParam value is not a JSON list: {_clip(str(raw).strip())}")
    else:
        seq = holder.get("withSequence")
        if not isinstance(seq, Mapping):
            raise UserError(f"{_at(where, 'withSequence')}: expected a map with count or end")
        start, end, fmt = _sequence_bounds(seq)
        count = abs(end - start) + 1 if end is not None else 0
        _check_count(count, where, "withSequence")
        if end is None:
            return []
        step = 1 if start <= end else -1
        return [_printf(fmt, i) for i in range(start, end + step, step)]
    _check_count(len(items), where, key)
    return list(items)


def _check_count(count: int, where: str, key: str) -> None:
    bound = max_items()
    if count > bound:
        raise UserError(
            f"{_at(where, key)}: expands to {count} items, more than the {bound} allowed "
            f"(set {ITEMS_VARIABLE} to raise the limit)"
        )


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _clip(text: str, size: int = 200) -> str:
    return text if len(text) <= size else text[:size] + "..."


def _sequence_bounds(seq: Mapping[str, Any]) -> tuple[int, int | None, str]:
    """Argo's expandSequence: (start, end, format); end None for `count: 0`."""
    try:
        start = int(parameter_value(seq.get("start", 0)) or 0)
        if seq.get("end") is not None:
            end: int | None = int(parameter_value(seq["end"]))
        elif seq.get("count") is not None:
            count = int(parameter_value(seq["count"]))
            end = None if count == 0 else start + count - 1
        else:
            raise UserError("neither end nor count was specified in withSequence")
    except (ValueError, TypeError) as err:
        raise UserError(f"withSequence: {err}") from None
    return start, end, str(seq.get("format") or "%d")


def _printf(fmt: str, value: int) -> str:
    try:
        return fmt % value
    except (TypeError, ValueError):
        return fmt.replace("%d", str(value))


def _go_format(value: Any) -> str:
    """fmt.Sprint of a decoded JSON value, as Argo names loop nodes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_go_format(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_format(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def expand_items(
    item_holder: dict[str, Any], variables: Mapping[str, Any], where: str = ""
) -> list[dict[str, Any]]:
    """Argo's expandStep/expandTask: one copy per item, named `name(i:item)`; `where`
    names the step or task in errors."""
    items = _loop_items(item_holder, where)
    base = {
        k: v for k, v in item_holder.items() if k not in ("withItems", "withParam", "withSequence")
    }
    expanded = []
    # Per loop, not per item: the variables read once, whether the step holds an expression.
    shared = dict(variables)
    expressions = bool(items) and "{{=" in json.dumps(base)
    # A step with no tag at all (`{{item}}` is often in its arguments, not always) is the
    # same for every item: copied from its JSON text, made once.
    plain = json.dumps(base, ensure_ascii=False, separators=(",", ":"))
    plain = "" if "{{" in plain else plain
    for index, item in enumerate(items):
        local = dict(shared) if not plain else {}
        if isinstance(item, dict):
            for key, value in item.items():
                local[f"item.{key}"] = parameter_value(value)
            local["item"] = json.dumps(item, separators=(",", ":"), sort_keys=True)
            desc = ",".join(sorted(f"{k}:{_go_format(v)}" for k, v in item.items()))
        elif isinstance(item, list):
            local["item"] = json.dumps(item, separators=(",", ":"))
            desc = _go_format(item)
        elif isinstance(item, (str, int, float, bool)):
            local["item"] = parameter_value(item)
            desc = local["item"]
        else:
            raise UserError(
                f"withItems[{index}] expected string, number, list, or map. received: {item}"
            )
        if plain:
            copy_ = json.loads(plain)  # what substitute_object gives for a text without tags
        else:
            copy_ = expr.substitute_object(
                base, local, expression_env=expr.expand_variables(local) if expressions else None
            )
        clean = desc.replace("(", "").replace(")", "")
        copy_["name"] = f"{base['name']}({index}:{clean})"
        expanded.append(copy_)
    return expanded
