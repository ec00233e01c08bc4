"""Finding the template a step, task or entrypoint refers to, as Argo's TemplateContext does.

A context is the set of templates a name resolves in: the workflow's own, or those of the
WorkflowTemplate / ClusterWorkflowTemplate a `templateRef` led into. Nodes record where
their template came from (`templateName` or `templateRef`, and `templateScope`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jupyter_argo.errors import NotFoundError, UserError

__all__ = [
    "ObjectLookup",
    "ResolvedTemplate",
    "TemplateContext",
    "deep_merge",
    "execution_spec",
    "template_type",
]

# (kind, name) -> manifest, or None when not applied.
ObjectLookup = Callable[[str, str], "dict[str, Any] | None"]

TEMPLATE_TYPES = (
    "container",
    "containerSet",
    "script",
    "steps",
    "dag",
    "suspend",
    "resource",
    "data",
    "http",
    "plugin",
)


def template_type(template: dict[str, Any]) -> str:
    for kind in TEMPLATE_TYPES:
        if template.get(kind) is not None:
            return kind
    return ""


def deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; anything else is replaced (as Argo merges defaults)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


@dataclass
class ResolvedTemplate:
    """A template found for a call, and the context its references resolve in."""

    template: dict[str, Any]
    context: TemplateContext
    template_name: str | None  # set when resolved by name
    template_ref: dict[str, Any] | None  # set when resolved through templateRef


class TemplateContext:
    def __init__(
        self,
        templates: list[dict[str, Any]],
        *,
        scope: str,
        lookup: ObjectLookup,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        self.by_name = {t.get("name", ""): t for t in templates if isinstance(t, dict)}
        self.scope = scope  # e.g. "local/my-wf", "namespaced/my-template", "cluster/x"
        self.lookup = lookup
        self.defaults = defaults or {}

    def resolve(self, holder: Mapping[str, Any], *, fresh: bool = True) -> ResolvedTemplate:
        """The template a step, task or entrypoint names (`template`, `templateRef`, `inline`).
        With `fresh` false, a template without defaults to merge is the spec's own object,
        for a caller that only reads it."""
        inline = holder.get("inline")
        if isinstance(inline, dict):
            return ResolvedTemplate(self._with_defaults(inline, fresh), self, None, None)
        ref = holder.get("templateRef")
        if isinstance(ref, dict):
            return self._resolve_ref(ref, fresh)
        name = holder.get("template")
        if isinstance(name, str) and name:
            template = self.by_name.get(name)
            if template is None:
                raise NotFoundError(f"template name '{name}' undefined")
            return ResolvedTemplate(self._with_defaults(template, fresh), self, name, None)
        raise UserError(
            "a step or task names no template (set `template`, `templateRef` or `inline`)"
        )

    def _resolve_ref(self, ref: dict[str, Any], fresh: bool) -> ResolvedTemplate:
        cluster = bool(ref.get("clusterScope"))
        kind = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
        holder_name = str(ref.get("name", ""))
        wanted = str(ref.get("template", ""))
        manifest = self.lookup(kind, holder_name)
        if manifest is None:
            raise NotFoundError(
                f"{kind} '{holder_name}' not found (apply it first: "
                f"`jupyter-argo apply FILE` or a %%argo cell)"
            )
        spec = manifest.get("spec") or {}
        context = TemplateContext(
            spec.get("templates") or [],
            scope=("cluster/" if cluster else "namespaced/") + holder_name,
            lookup=self.lookup,
            defaults=spec.get("templateDefaults") or self.defaults,
        )
        template = context.by_name.get(wanted)
        if template is None:
            raise NotFoundError(f"template {wanted} not found in {kind} {holder_name}")
        out_ref: dict[str, Any] = {"name": holder_name, "template": wanted}
        if cluster:
            out_ref["clusterScope"] = True
        return ResolvedTemplate(context._with_defaults(template, fresh), context, None, out_ref)

    def _with_defaults(self, template: dict[str, Any], fresh: bool = True) -> dict[str, Any]:
        if not self.defaults:
            if not fresh:
                return template
            copied: dict[str, Any] = _copy(template)
            return copied
        merged: dict[str, Any] = deep_merge(self.defaults, template)
        # Defaults apply to fields of the template's own type only (Argo merges the
        # whole struct, but an unset type stays unset).
        own = template_type(template)
        for kind in TEMPLATE_TYPES:
            if kind != own and kind not in template:
                merged.pop(kind, None)
        return merged


def _copy(value: Any) -> Any:
    """`copy.deepcopy` of a template, made several times faster for its JSON data (dicts,
    lists, strings, numbers): once per step or task run."""
    if isinstance(value, dict):
        return {k: v if v.__class__ in _SCALARS else _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if v.__class__ in _SCALARS else _copy(v) for v in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    return copy.deepcopy(value)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def execution_spec(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """The spec a workflow runs (Argo's execWf): for one made from a `workflowTemplateRef`,
    the merged spec kept in `status.storedWorkflowTemplateSpec`, its own `spec` being left
    as submitted; else its `spec`."""
    spec: dict[str, Any] = workflow["spec"]
    stored = (workflow.get("status") or {}).get("storedWorkflowTemplateSpec")
    if spec.get("workflowTemplateRef") and isinstance(stored, dict):
        return stored
    return spec
