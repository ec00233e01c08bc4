"""Which `{{...}}` variables each part of a template may use, as Argo's validator decides.

Argo substitutes what it can (workflow globals, the template's inputs) with placeholders,
then checks every remaining simple tag against a scope map (`resolveAllVariables` in
`workflow/validate/validate.go`). `Scope` is that map; `add_outputs` is Argo's
`addOutputsToScope`. Also here: readers that never trust a manifest's types, shared by
the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jupyter_argo import expr
from jupyter_argo.spec.parse import ManifestPath


def as_map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def named(items: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, item in enumerate(as_list(items)):
        if isinstance(item, dict):
            yield i, item


def strings(value: Any, path: ManifestPath) -> Iterator[tuple[ManifestPath, str]]:
    """Every string in `value` with its path, keys excluded (iterative: values nest deep)."""
    stack: list[tuple[ManifestPath, Any]] = [(path, value)]
    while stack:
        here, item = stack.pop()
        if isinstance(item, str):
            yield here, item
        elif isinstance(item, dict):
            stack.extend(((*here, k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend(((*here, i), v) for i, v in reversed(list(enumerate(item))))


def did_you_mean(name: str, options: Iterable[str]) -> str:
    import difflib

    options = sorted(set(options))
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if not options:
        return ""
    shown = ", ".join(options[:8]) + (", ..." if len(options) > 8 else "")
    return f"known: {shown}"


# Template types in the order of Argo's Template.GetType, and its classes of them.
TYPE_ORDER = (
    "container",
    "containerSet",
    "steps",
    "dag",
    "script",
    "resource",
    "data",
    "suspend",
    "http",
    "plugin",
)
LEAF = frozenset({"container", "containerSet", "script", "resource", "data", "http", "plugin"})
POD = frozenset({"container", "containerSet", "script", "resource", "data"})
OUTPUT_TYPES = frozenset({"container", "script", "data", "http", "plugin"})  # Template.HasOutput

_PARAMETER = re.compile(r"\{\{[-a-zA-Z0-9]+(\.[-a-zA-Z0-9_]+)*\}\}")
# Argo checks only tags with these prefixes (common.GlobalVarValidWorkflowVariablePrefix).
_CHECKED_PREFIXES = ("item.", "steps.", "inputs.", "outputs.", "pod.", "workflow.", "tasks.")
# Known only at run time; Argo's validator lets every tag under them pass.
_RUNTIME_PREFIXES = (
    "outputs.",
    "workflow.creationTimestamp",
    "workflow.scheduledTime",
    "workflow.duration",
    "tasks.name",
    "steps.name",
    "node.name",
)


def template_type(template: dict[str, Any]) -> str:
    # Argo's Template.GetType order.
    for kind in TYPE_ORDER:
        if template.get(kind) is not None:
            return kind
    return ""


def is_parameter(text: str) -> bool:
    return bool(_PARAMETER.search(text))


def tags(text: str) -> list[tuple[str, str]]:
    """The `{{...}}` tags of `text` as (kind, trimmed body), kind "simple" or "expression".

    Raises ExpressionError for a `{{` without its `}}`, which Argo's fasttemplate refuses.
    """
    if "{{" not in text:
        return []
    return [(tag.kind, tag.body) for tag in expr.find_tags(text)]


def substitute(text: str, substitutions: dict[str, str]) -> str:
    """`text` with the tags Argo substitutes before validating replaced by placeholders.

    As Argo's simpleReplaceStrict does, a nested tag such as
    `{{steps.run-{{inputs.parameters.d}}.status}}` has its inner tag replaced, leaving
    `{{steps.run-<placeholder>.status}}`.
    """
    if "{{" not in text or not substitutions:
        return text
    out: list[str] = []
    i = 0
    while True:
        start = text.find("{{", i)
        end = text.find("}}", start + 2) if start != -1 else -1
        if end == -1:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:start])
        tag = text[start + 2 : end]
        nested = tag.rfind("{{")
        if not tag.startswith("=") and tag.strip() in substitutions:
            out.append(substitutions[tag.strip()])
        elif nested > 0 and tag[nested + 2 :] in substitutions:
            out.append("{{" + tag[:nested] + substitutions[tag[nested + 2 :]])
        else:
            out.append(text[start : end + 2])
        i = end + 2


def unsubstitute(text: str, substitutions: dict[str, str]) -> str:
    """Undo `substitute` for messages: placeholders back to the tags they stand for."""
    if "placeholder" not in text:
        return text
    for tag, placeholder in sorted(substitutions.items(), key=lambda kv: -len(kv[1])):
        text = text.replace(placeholder, "{{" + tag + "}}")
    return text


@dataclass
class Scope:
    """Which variables a piece of a template may use (Argo's validate.go scope maps)."""

    names: set[str] = field(default_factory=set)
    opaque: set[str] = field(default_factory=set)  # "steps.x.": a node whose template is unknown
    any_item: bool = False
    any_workflow_output_parameter: bool = False
    any_workflow_output_artifact: bool = False
    # What Argo's ProcessArgs substitutes before it checks: tag -> placeholder.
    substitutions: dict[str, str] = field(default_factory=dict)

    def copy(self) -> Scope:
        return Scope(
            set(self.names),
            set(self.opaque),
            self.any_item,
            self.any_workflow_output_parameter,
            self.any_workflow_output_artifact,
            dict(self.substitutions),
        )

    def resolves(self, tag: str, template_validation: bool) -> bool:
        if not tag.startswith(_CHECKED_PREFIXES) or tag in self.names:
            return True
        if any(tag.startswith(prefix) for prefix in self.opaque):
            return True
        if tag.startswith(_RUNTIME_PREFIXES):
            return True
        if (tag == "item" or tag.startswith("item.")) and self.any_item:
            return True
        if tag.startswith("workflow.outputs.parameters.") and self.any_workflow_output_parameter:
            return True
        if tag.startswith("workflow.outputs.artifacts.") and self.any_workflow_output_artifact:
            return True
        return template_validation and tag.startswith("workflow.parameters")


@dataclass
class Resolved:
    """What a step, task or hook runs."""

    template: dict[str, Any] | None  # None: not known here (a warning was given)
    name: str  # for messages


def add_outputs(
    resolved: Resolved | None,
    prefix: str,
    name: str,
    scope: Scope,
    *,
    aggregate: bool,
    ancestor: bool = False,
) -> None:
    """Argo's addOutputsToScope: what `{{steps.NAME...}}` / `{{tasks.NAME...}}` may read."""
    ref = f"{prefix}.{name}"
    scope.names.update(f"{ref}.{v}" for v in ("id", "startedAt", "finishedAt", "hostNodeName"))
    if ancestor:
        scope.names.add(f"{ref}.status")
    template = resolved.template if resolved is not None else None
    if template is None:
        scope.opaque.add(f"{ref}.")
        return
    kind = template_type(template)
    if template.get("daemon") is True:
        scope.names.add(f"{ref}.ip")
    container_set = as_map(template.get("containerSet"))
    has_main = any(
        as_str(c.get("name")) == "main" for _, c in named(container_set.get("containers"))
    )
    if kind in OUTPUT_TYPES or has_main:
        scope.names.update((f"{ref}.outputs.result", f"{ref}.exitCode"))
    outputs = as_map(template.get("outputs"))
    for _, parameter in named(outputs.get("parameters")):
        scope.names.add(f"{ref}.outputs.parameters.{as_str(parameter.get('name'))}")
    for _, artifact in named(outputs.get("artifacts")):
        scope.names.add(f"{ref}.outputs.artifacts.{as_str(artifact.get('name'))}")
    if aggregate:
        if kind in ("script", "containerSet"):
            scope.names.update((f"{ref}.outputs.result", f"{ref}.exitCode"))
        scope.names.add(f"{ref}.outputs.parameters")


def unresolved_hint(
    tag: str,
    scope: Scope,
    steps: set[str] | None,
    tasks: set[str] | None,
    loop_owner: dict[str, Any] | None,
    ancestry: set[str] | None,
) -> str:
    parts = tag.split(".")
    if parts[0] in ("steps", "tasks") and len(parts) > 1:
        node = parts[1]
        noun = "step" if parts[0] == "steps" else "task"
        known = steps if parts[0] == "steps" else tasks
        if known is None:
            return f"{{{{{parts[0]}.*}}}} is only known inside a {noun}'s own fields"
        if node not in known:
            return f"there is no {noun} named {node!r} here; " + (
                did_you_mean(node, known) or "check the name"
            )
        reachable = any(n.startswith(f"{parts[0]}.{node}.") for n in scope.names)
        if not reachable:
            return f"step {node!r} runs later: a step can only use steps of earlier groups"
        if parts[-1] == "status" and ancestry is not None and node not in ancestry:
            return f"only tasks that depend on {node!r} can read its status"
        outputs = sorted(
            n[len(f"{parts[0]}.{node}.") :]
            for n in scope.names
            if n.startswith(f"{parts[0]}.{node}.outputs")
        )
        return f"{noun} {node!r} has no such output" + (
            f"; it has: {', '.join(outputs)}" if outputs else ""
        )
    if tag.startswith("inputs."):
        declared = [n.split(".", 2)[2] for n in scope.names if n.startswith("inputs.parameters.")]
        kind = parts[1] if len(parts) > 1 else ""
        name = parts[2] if len(parts) > 2 else ""
        return f"the template declares no inputs.{kind} named {name!r}" + (
            f"; {did_you_mean(name, declared)}" if declared and kind == "parameters" else ""
        )
    if tag.startswith("workflow.parameters."):
        return "spec.arguments.parameters has no such parameter"
    if tag.startswith("item."):
        if loop_owner is None or not (
            loop_owner.get("withItems") or loop_owner.get("withSequence")
        ):
            return "only steps and tasks with withItems, withParam or withSequence have {{item}}"
        return "the withItems entries have no such key"
    if tag == "pod.name" or tag.startswith("pod."):
        return "only templates that run a pod have {{pod.name}}"
    if tag.startswith("workflow.outputs."):
        return "no template exports it with globalName"
    if tag.startswith(("workflow.labels.", "workflow.annotations.")):
        kind = parts[1]
        return (
            f"no {kind[:-1]} {'.'.join(parts[2:])!r} in metadata.{kind} or "
            f"spec.workflowMetadata.{kind}"
        )
    return "Argo knows no such variable here"
