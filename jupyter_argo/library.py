"""The notebook's template library: templates written once, used by later Workflow cells.

A cell of bare templates (or `%%argo script NAME`) adds to the library; a Workflow cell
may then name them (`template: name`) without repeating them. `complete` copies into the
workflow every library template it uses, directly or through other templates, so the
submitted manifest (and `export`) stands alone, exactly as `argo submit` needs it.
A template the workflow defines itself always wins over the library's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from jupyter_argo.errors import UserError

__all__ = ["TemplateLibrary", "template_type"]

_TYPES = ("container", "script", "steps", "dag", "resource", "suspend", "http", "data")


def template_type(template: Mapping[str, Any]) -> str:
    """`container`, `script`, `steps`, ... : what kind of template this is."""
    return next((kind for kind in _TYPES if kind in template), "containerSet")


class TemplateLibrary:
    """Named templates, in the order they were added (a later one replaces its namesake)."""

    def __init__(self) -> None:
        self._templates: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._templates)

    def __contains__(self, name: object) -> bool:
        return name in self._templates

    def __iter__(self) -> Iterator[str]:
        return iter(self._templates)

    def __repr__(self) -> str:
        return f"TemplateLibrary({', '.join(self._templates) or 'empty'})"

    def get(self, name: str) -> dict[str, Any] | None:
        found = self._templates.get(name)
        return copy.deepcopy(found) if found is not None else None

    def add(self, templates: Iterable[Mapping[str, Any]]) -> list[str]:
        """Add (or replace) `templates`; returns their names."""
        names = []
        for template in templates:
            name = template.get("name")
            if not isinstance(name, str) or not name:
                raise UserError("a library template needs a `name`")
            self._templates[name] = copy.deepcopy(dict(template))
            names.append(name)
        return names

    def copy(self) -> TemplateLibrary:
        other = TemplateLibrary()
        other._templates = dict(self._templates)  # templates are never mutated in place
        return other

    def remove(self, name: str) -> None:
        self._templates.pop(name, None)

    def complete(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `workflow` with the library templates it uses appended to its templates."""
        out = copy.deepcopy(dict(workflow))
        spec = out.get("spec")
        if not isinstance(spec, dict) or not self._templates:
            return out
        own = [t for t in spec.get("templates") or [] if isinstance(t, dict)]
        known = {t.get("name") for t in own}
        wanted = list(_spec_references(spec))
        for template in own:
            wanted.extend(_references(template))
        added: list[dict[str, Any]] = []
        while wanted:
            name = wanted.pop(0)
            if name in known or name not in self._templates:
                continue
            template = copy.deepcopy(self._templates[name])
            known.add(name)
            added.append(template)
            wanted.extend(_references(template))
        if added:
            spec["templates"] = [*(spec.get("templates") or []), *added]
        return out


def _spec_references(spec: Mapping[str, Any]) -> Iterator[str]:
    for key in ("entrypoint", "onExit"):
        if isinstance(spec.get(key), str):
            yield spec[key]
    yield from _hook_references(spec.get("hooks"))


def _hook_references(hooks: Any) -> Iterator[str]:
    if isinstance(hooks, Mapping):
        for hook in hooks.values():
            if isinstance(hook, Mapping) and isinstance(hook.get("template"), str):
                yield hook["template"]


def _references(template: Mapping[str, Any]) -> Iterator[str]:
    """The template names a template's steps, tasks and hooks call."""
    calls: list[Any] = []
    steps = template.get("steps")
    if isinstance(steps, list):
        for group in steps:
            calls.extend(group if isinstance(group, list) else [group])
    dag = template.get("dag")
    if isinstance(dag, Mapping) and isinstance(dag.get("tasks"), list):
        calls.extend(dag["tasks"])
    for call in calls:
        if not isinstance(call, Mapping):
            continue
        for key in ("template", "onExit"):
            if isinstance(call.get(key), str):
                yield call[key]
        yield from _hook_references(call.get("hooks"))
        if isinstance(call.get("inline"), Mapping):
            yield from _references(call["inline"])
