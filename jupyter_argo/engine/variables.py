"""Argo's variables: the global scope of a run, the local scope of a steps/dag template,
input processing (`ProcessArgs`) and template substitution (`SubstituteParams`).

Values are strings, as in Argo; `None` marks an absent optional (the output of a skipped
or omitted node with no default). Artifact references hold the artifact's status dict.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from jupyter_argo import expr
from jupyter_argo.engine.templates import execution_spec
from jupyter_argo.errors import NotFoundError, UserError

__all__ = [
    "Scope",
    "aggregate_outputs",
    "global_variables",
    "parameter_value",
    "process_inputs",
    "substitute_template",
]

# Argo's marker for an argument that referenced an absent optional output.
ABSENT = "__argo_absent_optional__"


def parameter_value(value: Any) -> str:
    """Argo's AnyString: what a YAML scalar becomes as a parameter value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else str(value)


class Scope:
    """Variables a steps or dag template can see: `steps.X.*`, `tasks.X.*`, workflow outputs."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        # The string (and absent) values, kept as they change: substitution reads this
        # once per step, so building it per step would make long chains quadratic.
        self.text: dict[str, str | None] = {}

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value
        if value is None or isinstance(value, str):
            self.text[key] = value
        else:
            self.text.pop(key, None)

    def setdefault(self, key: str, value: Any) -> None:
        if key not in self.values:
            self.set(key, value)

    def copy(self) -> Scope:
        twin = Scope()
        twin.values = dict(self.values)
        twin.text = dict(self.text)
        return twin

    def strings(self) -> dict[str, str | None]:
        return self.text

    def add_node(self, prefix: str, name: str, node: Mapping[str, Any]) -> None:
        """Argo's buildLocalScope: `<prefix>.<name>.{id,status,startedAt,...,outputs.*}`."""
        base = f"{prefix}.{name}"
        if node.get("id"):
            self.set(f"{base}.id", node["id"])
        for field in ("startedAt", "finishedAt", "hostNodeName"):
            if node.get(field):
                self.set(f"{base}.{field}", node[field])
        if node.get("podIP"):
            self.set(f"{base}.ip", node["podIP"])
        if node.get("phase"):
            self.set(f"{base}.status", node["phase"])
        outputs = node.get("outputs") or {}
        if outputs.get("result") is not None:
            self.set(f"{base}.outputs.result", outputs["result"])
        if outputs.get("exitCode") is not None:
            self.set(f"{base}.exitCode", outputs["exitCode"])
        for param in outputs.get("parameters") or []:
            if "value" in param:
                self.set(f"{base}.outputs.parameters.{param['name']}", param["value"])
        for art in outputs.get("artifacts") or []:
            self.set(f"{base}.outputs.artifacts.{art['name']}", art)

    def add_skipped_outputs(
        self, prefix: str, name: str, template: Mapping[str, Any] | None, *, artifacts: bool
    ) -> None:
        """A skipped/omitted node's declared outputs: defaults, else absent (None)."""
        if template is None:
            return
        base = f"{prefix}.{name}"
        outputs = template.get("outputs") or {}
        for param in outputs.get("parameters") or []:
            value_from = param.get("valueFrom") or {}
            key = f"{base}.outputs.parameters.{param['name']}"
            self.setdefault(
                key, parameter_value(value_from["default"]) if "default" in value_from else None
            )
        if artifacts:
            for art in outputs.get("artifacts") or []:
                self.setdefault(f"{base}.outputs.artifacts.{art['name']}", {})
        if template.get("script") is not None or template.get("container") is not None:
            self.setdefault(f"{base}.outputs.result", None)

    def resolve_artifact(self, art: Mapping[str, Any], env: Callable[[], dict[str, Any]]) -> Any:
        """The artifact a `from` / `fromExpression` names (Argo's wfScope.resolveArtifact)."""
        if art.get("fromExpression"):
            value = expr.evaluate(str(art["fromExpression"]), env())
        else:
            key = str(art["from"]).strip()
            if key.startswith("{{") and key.endswith("}}"):
                key = key[2:-2].strip()
            if key not in self.values:
                raise NotFoundError(f"Unable to resolve: {{{{{key}}}}}")
            value = self.values[key]
        if not isinstance(value, dict):
            raise UserError(
                f"Variable {art.get('from') or art.get('fromExpression')} is not an artifact"
            )
        return value


def aggregate_outputs(
    scope: Scope, prefix: str, name: str, children: Sequence[Mapping[str, Any]]
) -> None:
    """Argo's processAggregateNodeOutputs: loop outputs as JSON lists, in loop order."""
    kept = [
        c
        for c in children
        if not (c.get("nodeFlag") or {}).get("hooked")
        and not (c.get("nodeFlag") or {}).get("retried")
    ]
    kept.sort(key=lambda c: _loop_index(str(c.get("name", ""))))
    param_list: list[dict[str, str]] = []
    by_name: dict[str, list[str]] = {}
    results: list[Any] = []
    for child in kept:
        outputs = child.get("outputs")
        if not outputs or child.get("phase") != "Succeeded":
            continue
        params = outputs.get("parameters") or []
        if params:
            entry = {}
            for p in params:
                value = parameter_value(p.get("value"))
                entry[p["name"]] = value
                by_name.setdefault(p["name"], []).append(value)
            param_list.append(entry)
        if outputs.get("result") is not None:
            try:
                results.append(json.loads(outputs["result"]))
            except ValueError:
                # Argo fails the aggregation on a non-JSON result; a bare word is what
                # users most often print, so keep it as the string it is.
                results.append(outputs["result"])
    base = f"{prefix}.{name}.outputs"
    scope.set(f"{base}.result", json.dumps(results, separators=(",", ":")))
    scope.set(f"{base}.parameters", json.dumps(param_list, separators=(",", ":")))
    for pname, values in by_name.items():
        scope.set(f"{base}.parameters.{pname}", _aggregated_list(values))


def _aggregated_list(values: list[str]) -> str:
    parsed: list[Any] = []
    for value in values:
        try:
            item = json.loads(value)
        except ValueError:
            return json.dumps(values, separators=(",", ":"))
        if not isinstance(item, (dict, list)):
            return json.dumps(values, separators=(",", ":"))
        parsed.append(item)
    return json.dumps(parsed, separators=(",", ":"))


def _loop_index(name: str) -> int:
    # "step(12:foo)" -> 12
    start = name.rfind("(")
    while start > 0:
        inner = name[start + 1 :]
        digits = inner.split(":", 1)[0]
        if digits.isdigit():
            return int(digits)
        start = name.rfind("(", 0, start)
    return 0


_STRFTIME_LETTERS = "aAbBcCdDeFgGhHIjklmMnprRsStTuUVwWxXyYzZ"


def _strftime_all(moment: datetime) -> dict[str, str]:
    """workflow.creationTimestamp.<letter> for every strftime letter, in one call."""
    try:
        # \x1f (unit separator) is in no strftime output; \x00 would end the C string.
        joined = moment.strftime("\x1f".join(f"%{letter}" for letter in _STRFTIME_LETTERS))
        values = joined.split("\x1f")
        if len(values) == len(_STRFTIME_LETTERS):
            return {
                f"workflow.creationTimestamp.{letter}": value
                for letter, value in zip(_STRFTIME_LETTERS, values, strict=True)
            }
    except ValueError:  # a letter this platform's strftime lacks: one at a time
        pass
    out = {}
    for letter in _STRFTIME_LETTERS:
        with contextlib.suppress(ValueError):
            out[f"workflow.creationTimestamp.{letter}"] = moment.strftime(f"%{letter}")
    return out


def global_variables(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """Argo's setGlobalParameters for a run about to start."""
    meta = workflow.get("metadata") or {}
    spec = execution_spec(workflow) if workflow.get("spec") else {}
    created = str(meta.get("creationTimestamp", ""))
    out: dict[str, Any] = {
        "workflow.name": meta.get("name", ""),
        "workflow.namespace": meta.get("namespace", "default"),
        "workflow.uid": meta.get("uid", ""),
        "workflow.mainEntrypoint": spec.get("entrypoint", ""),
        "workflow.serviceAccountName": spec.get("serviceAccountName", "default"),
        "workflow.creationTimestamp": created,
        "workflow.creationTimestamp.RFC3339": created,
    }
    if created:
        # As strptime(created, "%Y-%m-%dT%H:%M:%SZ"), whose first call costs 1.5 ms of
        # imports and regular expressions.
        moment = datetime.fromisoformat(created.removesuffix("Z"))
        out["workflow.creationTimestamp.s"] = str(int(moment.timestamp()))
        out.update(_strftime_all(moment))
    if spec.get("priority") is not None:
        out["workflow.priority"] = str(spec["priority"])
    params = (spec.get("arguments") or {}).get("parameters") or []
    listed = []
    for p in params:
        value = parameter_value(p.get("value")) if "value" in p else None
        if value is not None:
            out[f"workflow.parameters.{p['name']}"] = value
        listed.append(
            {"name": p["name"], "value": value} if value is not None else {"name": p["name"]}
        )
    out["workflow.parameters"] = json.dumps(listed, separators=(",", ":"))
    out["workflow.parameters.json"] = out["workflow.parameters"]
    for field in ("labels", "annotations"):
        values = meta.get(field) or {}
        for key, value in values.items():
            out[f"workflow.{field}.{key}"] = str(value)
        out[f"workflow.{field}"] = json.dumps(values, separators=(",", ":"))
        out[f"workflow.{field}.json"] = out[f"workflow.{field}"]
    return out


def process_inputs(
    template: dict[str, Any],
    arguments: Mapping[str, Any],
    configmap_value: Callable[[str, str], str],
) -> dict[str, Any]:
    """Argo's ProcessArgs before substitution: input parameters and artifacts get their
    values from the arguments, else their defaults; a missing required one is an error."""
    inputs = template.get("inputs") or {}
    arg_params = {p.get("name"): p for p in arguments.get("parameters") or []}
    arg_arts = {a.get("name"): a for a in arguments.get("artifacts") or []}
    if not inputs:
        return template  # nothing the arguments could give a value to (most pods)
    params = []
    for param in inputs.get("parameters") or []:
        param = dict(param)
        if "default" in param and "value" not in param:
            param["value"] = param["default"]
        supplied = arg_params.get(param.get("name"))
        if supplied is not None and "value" in supplied:
            if supplied["value"] == ABSENT:
                if "value" not in param and "valueFrom" not in param:
                    raise UserError(
                        f"inputs.parameters.{param['name']}: argument references an absent "
                        "optional (skipped/omitted node output with no default)"
                    )
            else:
                param["value"] = supplied["value"]
                param.pop("valueFrom", None)  # overwriteWithArguments
        elif supplied is not None and "valueFrom" in supplied:
            param["valueFrom"] = supplied["valueFrom"]
        ref = (param.get("valueFrom") or {}).get("configMapKeyRef")
        if ref:
            # Argo's substituteAndGetConfigMapValue: the ConfigMap wins over a `default`;
            # `valueFrom.default` stands in only for a missing ConfigMap or key.
            try:
                param["value"] = configmap_value(str(ref.get("name", "")), str(ref.get("key", "")))
            except UserError as err:
                fallback = param["valueFrom"].get("default")
                if fallback is None or not isinstance(err, NotFoundError):
                    raise UserError(
                        f"unable to retrieve inputs.parameters.{param['name']} from ConfigMap: "
                        f"{err}"
                    ) from None
                param["value"] = fallback
        if "value" not in param and "valueFrom" not in param:
            raise UserError(f"inputs.parameters.{param['name']} was not supplied")
        if "value" in param:
            param["value"] = parameter_value(param["value"])
            enum = param.get("enum")
            if enum and param["value"] not in [parameter_value(e) for e in enum]:
                raise UserError(
                    f"inputs.parameters.{param['name']}: value '{param['value']}' is not one "
                    f"of {[parameter_value(e) for e in enum]}"
                )
        params.append(param)
    artifacts = []
    for art in inputs.get("artifacts") or []:
        supplied = arg_arts.get(art.get("name"))
        if supplied is not None:
            merged = dict(supplied)
            for field in ("path", "mode", "recurseMode"):
                if field in art:
                    merged[field] = art[field]
            artifacts.append(merged)
            continue
        if not art.get("optional") and not _has_location(art):
            raise UserError(f"inputs.artifacts.{art['name']} was not supplied")
        artifacts.append(dict(art))
    if params or artifacts or inputs:
        new_inputs = dict(inputs)
        if params:
            new_inputs["parameters"] = params
        if artifacts:
            new_inputs["artifacts"] = artifacts
        template = dict(template)
        template["inputs"] = new_inputs
    return template


_LOCATIONS = ("s3", "gcs", "git", "http", "artifactory", "hdfs", "raw", "oss", "azure", "plugin")


def _has_location(art: Mapping[str, Any]) -> bool:
    return any(art.get(k) for k in _LOCATIONS) or bool(art.get("from") or art.get("fromExpression"))


def substitute_template(
    template: dict[str, Any], global_vars: Mapping[str, Any], local_vars: Mapping[str, Any]
) -> dict[str, Any]:
    """Argo's SubstituteParams: globals and locals first, then inputs and path variables.
    Returns a new template; a pass is skipped when no tag is left for it."""
    text = _json_text(template)
    replaced: dict[str, Any]
    if "{{" not in text:  # no tag to replace (most pods' templates): a copy
        replaced = json.loads(text)
        for param in (replaced.get("inputs") or {}).get("parameters") or []:
            if "value" not in param and "valueFrom" not in param:
                raise UserError(f"inputs.parameters.{param['name']} had no value")
        return replaced
    first: dict[str, Any] = {**_strings(global_vars), **_strings(local_vars)}
    replaced = expr.substitute_object(template, first, expression_env=_env_for(text, first))
    second = dict(first)
    inputs = replaced.get("inputs") or {}
    for param in inputs.get("parameters") or []:
        if "value" in param:
            second[f"inputs.parameters.{param['name']}"] = parameter_value(param["value"])
        elif "valueFrom" not in param:
            raise UserError(f"inputs.parameters.{param['name']} had no value")
    second["inputs.parameters"] = json.dumps(inputs.get("parameters") or [], separators=(",", ":"))
    for art in inputs.get("artifacts") or []:
        if art.get("path"):
            second[f"inputs.artifacts.{art['name']}.path"] = art["path"]
    outputs = replaced.get("outputs") or {}
    for art in outputs.get("artifacts") or []:
        if art.get("path"):
            second[f"outputs.artifacts.{art['name']}.path"] = art["path"]
    for param in outputs.get("parameters") or []:
        path = (param.get("valueFrom") or {}).get("path")
        if path:
            second[f"outputs.parameters.{param['name']}.path"] = path
    text = _json_text(replaced)
    if "{{" not in text:
        return replaced
    result: dict[str, Any] = expr.substitute_object(
        replaced, second, expression_env=_env_for(text, second)
    )
    return result


def _strings(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is None or isinstance(v, str)}


def _json_text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _env_for(text: str, flat: Mapping[str, Any]) -> dict[str, Any] | None:
    """The expression environment, built only when `text` holds a `{{=...}}` tag."""
    if "{{=" not in text:
        return None
    return expr.expand_variables(flat)
