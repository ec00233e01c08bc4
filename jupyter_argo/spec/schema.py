"""Argo's field table: every field of every argoproj.io/v1alpha1 type, with its JSON type.

The table is derived from Hera's models, which are generated from Argo's OpenAPI spec
(Kubernetes types included), so it covers the whole API rather than a hand-picked
subset. Importing Hera and pydantic takes over a second, so the table is built once and
cached as JSON under the user's cache directory, keyed by the Hera version and
`SCHEMA_FORMAT`.

On top of the generated models sit two small tables of facts the OpenAPI spec loses:
Go types with their own JSON decoding (`AnyString` takes numbers and booleans, `Plugin`
takes any one-key object), and fields Argo added after the release Hera's models were
generated from.

`check_fields` walks a manifest against the table the way Argo's strict decoding reads
it (YAML -> JSON -> Go structs with unknown fields disallowed): an unknown key or a
value of the wrong JSON type is a problem; `null` is always accepted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from jupyter_argo.spec.parse import ManifestPath

__all__ = [
    "SCHEMA_FORMAT",
    "Descriptor",
    "FieldProblem",
    "FieldTable",
    "check_fields",
    "field_table",
]

# Bump when the shape of the cached JSON or the derivation rules change.
SCHEMA_FORMAT = 2

# A field's type: a scalar name below, or {"list": D}, {"map": D}, {"model": "Name"}.
Descriptor = str | dict[str, Any]

STR = "str"
INT = "int"
FLOAT = "float"
BOOL = "bool"
INT_OR_STRING = "intstr"  # Kubernetes IntOrString: an integer or a string
QUANTITY = "quantity"  # Kubernetes resource.Quantity: "500m", "1Gi", or a bare number
ANY_STRING = "anystring"  # Argo's AnyString: a string, number or boolean, read as text
TIME = "time"  # metav1.Time: an RFC 3339 string
NUMBER = "number"  # Argo's Amount: a JSON number
ANY = "any"  # any JSON value (withItems items)
OBJECT = "object"  # a free-form mapping
PLUGIN = "plugin"  # a mapping with exactly one key (the plugin's name)

# The kinds lint checks, and the model each document's body is read as.
ROOTS = {
    "Workflow": "Workflow",
    "WorkflowTemplate": "WorkflowTemplate",
    "ClusterWorkflowTemplate": "ClusterWorkflowTemplate",
    "CronWorkflow": "CronWorkflow",
    "Template": "Template",
    "ConfigMap": "ConfigMap",
    "Secret": "Secret",
}

# Hera classes whose JSON shape is not their pydantic shape.
_SPECIAL_CLASSES: dict[str, Descriptor] = {
    "IntOrString": INT_OR_STRING,
    "Quantity": QUANTITY,
    "Time": TIME,
    "MicroTime": TIME,
    "Amount": NUMBER,
    "Item": ANY,
    "Plugin": PLUGIN,  # Go: Plugin.UnmarshalJSON wants exactly one key
    "FieldsV1": OBJECT,
}

# Go fields typed AnyString (pkg/apis/workflow/v1alpha1/anystring.go): the OpenAPI spec
# says "string", but Argo's decoder also takes numbers and booleans.
_ANY_STRING_FIELDS: dict[tuple[str, str], Descriptor] = {
    ("Parameter", "value"): ANY_STRING,
    ("Parameter", "default"): ANY_STRING,
    ("Parameter", "description"): ANY_STRING,
    ("Parameter", "enum"): {"list": ANY_STRING},
    ("ValueFrom", "default"): ANY_STRING,
}

# Fields Argo 4.1 added after the OpenAPI spec Hera's models come from (4.0.5); applied
# only where Hera lacks them, so a newer Hera takes over without change here.
_RESOURCES = {"model": "ResourceRequirements"}
_CLAIMS = {"list": {"model": "PodResourceClaim"}}
_ARGO_ADDITIONS: dict[str, dict[str, Descriptor]] = {
    "Template": {"pendingTimeout": STR, "podResources": _RESOURCES, "resourceClaims": _CLAIMS},
    "WorkflowSpec": {
        "podResources": _RESOURCES,
        "resourceClaims": _CLAIMS,
        "executorPlugins": {"list": {"model": "ExecutorPlugin"}},
    },
    "HTTPArtifact": {"saveStreamViaFile": BOOL},
    "S3Artifact": {"addressingStyle": STR},
    "S3ArtifactRepository": {"addressingStyle": STR},
}
_ADDED_MODELS: dict[str, dict[str, Descriptor]] = {
    "PodResourceClaim": {"name": STR, "resourceClaimName": STR, "resourceClaimTemplateName": STR},
    "ExecutorPlugin": {
        "metadata": {"model": "ObjectMeta"},
        "spec": {"model": "ExecutorPluginSpec"},
    },
    "ExecutorPluginSpec": {"sidecar": {"model": "ExecutorPluginSidecar"}},
    "ExecutorPluginSidecar": {
        "automountServiceAccountToken": BOOL,
        "container": {"model": "Container"},
    },
}


@dataclass(frozen=True)
class FieldTable:
    """Model name -> field name (as written in YAML) -> Descriptor."""

    models: dict[str, dict[str, Descriptor]]
    source: str

    def fields(self, model: str) -> dict[str, Descriptor]:
        return self.models.get(model, {})

    def root(self, kind: str) -> Descriptor | None:
        model = ROOTS.get(kind)
        return {"model": model} if model else None


_table: FieldTable | None = None


def field_table() -> FieldTable:
    """The field table: from memory, else the cache file, else built from Hera's models."""
    global _table
    if _table is None:
        _table = _load_or_build()
    return _table


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    found = _versions("hera", "kubernetes")
    versions = f"hera-{found['hera']}-kubernetes-{found['kubernetes']}"
    # The hand-written facts are part of the key too: editing them invalidates the cache.
    facts = repr((_SPECIAL_CLASSES, _ANY_STRING_FIELDS, _ARGO_ADDITIONS, _ADDED_MODELS))
    digest = hashlib.sha256(facts.encode()).hexdigest()[:10]
    return Path(base) / "jupyter-argo" / f"schema-v{SCHEMA_FORMAT}-{digest}-{versions}.json"


def _version(distribution: str) -> str:
    return _versions(distribution)[distribution]


def _versions(*distributions: str) -> dict[str, str]:
    """The installed version of each distribution ("none" if it is not installed).

    Read from the name of its `NAME-VERSION.dist-info` directory, the first on sys.path as
    importlib.metadata finds it, in one pass over sys.path; importing importlib.metadata
    alone would add about 15 ms to every start. An install without one (an egg) is left
    to importlib.metadata."""
    wanted = {re.sub(r"[-_.]+", "_", d).lower() + "-": d for d in distributions}
    found: dict[str, str] = {}
    for entry in sys.path:
        if len(found) == len(wanted):
            break
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            lowered = name.lower()
            if not lowered.endswith(".dist-info"):
                continue
            for prefix, distribution in wanted.items():
                if lowered.startswith(prefix) and distribution not in found:
                    found[distribution] = name[len(prefix) : -len(".dist-info")]
    missing = [d for d in distributions if d not in found]
    if missing:
        from importlib import metadata

        for distribution in missing:
            try:
                found[distribution] = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                found[distribution] = "none"
    return found


def _load_or_build() -> FieldTable:
    cache = _cache_file()
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("format") == SCHEMA_FORMAT:
            return FieldTable(data["models"], data["source"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass  # absent or damaged: rebuild it
    table = build_table()
    _write_atomically(cache, {"format": SCHEMA_FORMAT, **table.__dict__})
    return table


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    # A cache that cannot be written only costs time: every run rebuilds the table.
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".schema-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, separators=(",", ":"), sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def build_table() -> FieldTable:
    """Derive the table from Hera's generated models (slow: imports hera and pydantic)."""
    import hera.workflows.models as models

    builder = _Builder()
    for kind, model in ROOTS.items():
        if kind not in ("ConfigMap", "Secret"):
            builder.model(getattr(models, model))
    for name, fields in _ADDED_MODELS.items():
        builder.models.setdefault(name, dict(fields))
        for descriptor in fields.values():
            builder.descriptor_models(descriptor, models)
    for name, fields in _ARGO_ADDITIONS.items():
        for field_name, descriptor in fields.items():
            builder.models.setdefault(name, {}).setdefault(field_name, descriptor)
            builder.descriptor_models(descriptor, models)
    builder.models["ConfigMap"] = _kubernetes_fields("V1ConfigMap")
    builder.models["Secret"] = _kubernetes_fields("V1Secret")
    builder.model(models.ObjectMeta)
    source = f"hera {_version('hera')} models of Argo's OpenAPI spec"
    return FieldTable(builder.models, source)


class _Builder:
    def __init__(self) -> None:
        self.models: dict[str, dict[str, Descriptor]] = {}
        self.classes: dict[str, type[Any]] = {}

    def model(self, cls: type[Any]) -> str:
        name = cls.__name__
        if self.classes.get(name, cls) is not cls:
            # Two generated classes share a name (e.g. BasicAuth in Argo and Argo Events).
            name = f"{cls.__module__.rsplit('.', 1)[-1]}.{name}"
        if name in self.models:
            return name
        self.classes[name] = cls
        fields: dict[str, Descriptor] = {}
        self.models[name] = fields  # registered first: models refer to themselves
        for attr, info in cls.model_fields.items():
            key = info.alias or attr
            fields[key] = _ANY_STRING_FIELDS.get((name, key)) or self.descriptor(info.annotation)
        return name

    def descriptor(self, annotation: Any) -> Descriptor:
        import types
        import typing

        from pydantic import BaseModel, RootModel

        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin in (Union, types.UnionType):
            options = [a for a in args if a is not type(None)]
            if len(options) == 1:
                return self.descriptor(options[0])
            return ANY
        if origin is list:
            return {"list": self.descriptor(args[0])}
        if origin is dict:
            return {"map": self.descriptor(args[1])}
        if isinstance(annotation, type):
            special = _SPECIAL_CLASSES.get(annotation.__name__)
            if special is not None and issubclass(annotation, BaseModel):
                return special
            if issubclass(annotation, RootModel):
                return self.descriptor(annotation.model_fields["root"].annotation)
            if issubclass(annotation, BaseModel):
                return {"model": self.model(annotation)}
            scalar = {str: STR, int: INT, float: FLOAT, bool: BOOL}.get(annotation)
            if scalar is not None:
                return scalar
        return ANY

    def descriptor_models(self, descriptor: Descriptor, models: Any) -> None:
        """Register the Hera models an added descriptor names (e.g. ResourceRequirements)."""
        while isinstance(descriptor, dict) and "model" not in descriptor:
            descriptor = next(iter(descriptor.values()))
        if isinstance(descriptor, dict):
            cls = getattr(models, descriptor["model"], None)
            if cls is not None:
                self.model(cls)


def _kubernetes_fields(class_name: str) -> dict[str, Descriptor]:
    """ConfigMap and Secret from the Kubernetes client's models (Argo's spec lacks them)."""
    import importlib

    module_name = re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()
    module = importlib.import_module(f"kubernetes.client.models.{module_name}")
    cls = getattr(module, class_name)
    fields: dict[str, Descriptor] = {}
    for attr, type_name in cls.openapi_types.items():
        fields[cls.attribute_map[attr]] = _kubernetes_descriptor(type_name)
    return fields


def _kubernetes_descriptor(type_name: str) -> Descriptor:
    if type_name == "V1ObjectMeta":
        return {"model": "ObjectMeta"}
    match = re.fullmatch(r"[Dd]ict\[str, (.+)\]", type_name)
    if match:
        return {"map": _kubernetes_descriptor(match.group(1))}
    match = re.fullmatch(r"[Ll]ist\[(.+)\]", type_name)
    if match:
        return {"list": _kubernetes_descriptor(match.group(1))}
    # bytes arrive base64-encoded, as text
    return {"str": STR, "bytes": STR, "bool": BOOL, "int": INT, "float": FLOAT}.get(type_name, ANY)


# --- checking a manifest against the table ---------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    """One unknown field or wrongly typed value; `at_key` points at the key, not the value."""

    path: ManifestPath
    message: str
    hint: str
    at_key: bool = False


# The models whose `name` identifies them: a step, task, template, parameter, artifact,
# container, env var, volume or mount without one cannot be run (Argo's validator and
# Kubernetes' refuse it). Lint's rules say so in Argo's words; `require_names` checks it
# for callers that run no rules (the engine's check before a run).
NAMED_MODELS = frozenset(
    {
        "Artifact",
        "ContainerNode",
        "DAGTask",
        "EnvVar",
        "Parameter",
        "Template",
        "UserContainer",
        "Volume",
        "VolumeMount",
        "WorkflowStep",
    }
)


def check_fields(
    body: Any, descriptor: Descriptor, table: FieldTable, *, require_names: bool = False
) -> list[FieldProblem]:
    """Every unknown field and type mismatch in `body`, read as `descriptor`; with
    `require_names`, every entry of a `NAMED_MODELS` list without a name too."""
    problems: list[FieldProblem] = []
    _Checker(table, problems, require_names).check(body, descriptor, ())
    return problems


_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

_EXPECTED = {
    STR: "a string",
    INT: "an integer",
    FLOAT: "a number",
    BOOL: "true or false",
    INT_OR_STRING: "an integer or a string",
    QUANTITY: 'a quantity such as 500m, 2Gi or 1.5 (written as a string: "2Gi")',
    ANY_STRING: "a string, number or boolean",
    TIME: "an RFC 3339 time string",
    NUMBER: "a number",
    OBJECT: "a mapping",
    PLUGIN: "a mapping with the plugin's name as its one key",
}


def describe(value: Any) -> str:
    """How a YAML value reads to Argo: `a number`, `a string`, ..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else type(value).__name__


class _Checker:
    def __init__(
        self, table: FieldTable, problems: list[FieldProblem], require_names: bool = False
    ) -> None:
        self.table = table
        self.problems = problems
        self.require_names = require_names

    def fail(self, path: ManifestPath, message: str, hint: str = "", at_key: bool = False) -> None:
        self.problems.append(FieldProblem(path, message, hint, at_key))

    def check(self, value: Any, descriptor: Descriptor, path: ManifestPath) -> None:
        if value is None:
            return  # JSON null leaves a Go field at its zero value: always accepted
        if isinstance(descriptor, str):
            self.scalar(value, descriptor, path)
        elif "model" in descriptor:
            self.model(value, descriptor["model"], path)
        elif "list" in descriptor:
            if not isinstance(value, list):
                self.fail(path, f"expected a list, not {describe(value)}", _list_hint(value))
                return
            for i, item in enumerate(value):
                element = descriptor["list"]
                if item is None and isinstance(element, dict) and "model" in element:
                    # Go decodes it to an empty object, which no list of them accepts (a
                    # step, task or template without a name): say so here, at the entry.
                    self.fail(
                        (*path, i),
                        f"null entry: expected a mapping ({element['model']})",
                        "remove the empty `-` entry, or write it out",
                    )
                    continue
                if (
                    self.require_names
                    and isinstance(item, dict)
                    and isinstance(element, dict)
                    and element.get("model") in NAMED_MODELS
                    and not (isinstance(item.get("name"), str) and item["name"].strip())
                ):
                    self.fail(
                        (*path, i),
                        f"name is required ({element['model']})",
                        "give the entry a `name:`",
                    )
                self.check(item, element, (*path, i))
        elif "map" in descriptor:
            if not isinstance(value, dict):
                self.fail(path, f"expected a mapping, not {describe(value)}")
                return
            for key, item in value.items():
                self.check(item, descriptor["map"], (*path, key))

    def model(self, value: Any, name: str, path: ManifestPath) -> None:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping ({name}), not {describe(value)}")
            return
        fields = self.table.fields(name)
        for key, item in value.items():
            descriptor = fields.get(key)
            if descriptor is None:
                self.fail(
                    (*path, key),
                    f"unknown field {key!r} in {name}",
                    _unknown_hint(key, fields, value, self.table),
                    at_key=True,
                )
                continue
            self.check(item, descriptor, (*path, key))

    def scalar(self, value: Any, kind: str, path: ManifestPath) -> None:
        if kind == ANY or _accepts(kind, value):
            if kind == QUANTITY and not _QUANTITY.match(str(value).strip()):
                self.fail(path, f"{value!r} is not a quantity", _quantity_hint(value))
            elif kind == TIME and not _TIME.match(value):
                self.fail(path, f"{value!r} is not an RFC 3339 time", "e.g. 2024-01-31T12:00:00Z")
            elif kind == PLUGIN and len(value) != 1:
                self.fail(
                    path,
                    f"expected exactly one key, got {len(value)}",
                    "a plugin template is `plugin: {<plugin-name>: {...}}`",
                )
            return
        expected = _EXPECTED.get(kind, kind)
        self.fail(path, f"expected {expected}, not {describe(value)}", _type_hint(kind, value))


def _accepts(kind: str, value: Any) -> bool:
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in (STR, TIME):
        return isinstance(value, str)
    if kind == INT:
        # YAML 2.0 reaches Go as the JSON number 2, which an integer field takes.
        return is_number and float(value).is_integer()
    if kind in (FLOAT, NUMBER):
        return is_number
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == INT_OR_STRING:
        return isinstance(value, str) or (is_number and float(value).is_integer())
    if kind == QUANTITY:
        return isinstance(value, str) or is_number
    if kind == ANY_STRING:
        return isinstance(value, (str, int, float))
    if kind in (OBJECT, PLUGIN):
        return isinstance(value, dict)
    return True


def _type_hint(kind: str, value: Any) -> str:
    if kind == STR and isinstance(value, (bool, int, float)):
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        return f'quote it: "{text}"'
    if kind in (INT, FLOAT, NUMBER, INT_OR_STRING) and isinstance(value, str):
        if re.fullmatch(r"[+-]?\d+(\.\d+)?", value.strip()):
            return "remove the quotes"
        if "{{" in value:
            return "this field is read before {{...}} substitution, so it takes a literal number"
    if kind == BOOL and isinstance(value, str) and value.lower() in ("true", "false"):
        return "remove the quotes"
    if kind == ANY_STRING and isinstance(value, (list, dict)):
        return "Argo would read it as an empty string; write JSON text in a string instead"
    if kind == INT and isinstance(value, float):
        return "use a whole number"
    return ""


def _quantity_hint(value: Any) -> str:
    if isinstance(value, str) and "{{" in value:
        return "quantities are read before {{...}} substitution; set them with podSpecPatch"
    return "e.g. 500m, 2Gi, 1.5; suffixes are n u m k M G T P E and Ki Mi Gi Ti Pi Ei"


def _list_hint(value: Any) -> str:
    if isinstance(value, dict):
        return "start each item with `- `"
    if isinstance(value, str):
        return "write it as a list: [a, b] or one `- item` per line"
    return ""


def _unknown_hint(
    key: str, fields: dict[str, Descriptor], here: dict[str, Any], table: FieldTable
) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.7)
    if not close:
        lowered = {f.lower(): f for f in fields}
        if key.lower() in lowered:
            close = [lowered[key.lower()]]
    if close:
        if (
            close[0].startswith(key)
            and isinstance(fields[close[0]], dict)
            and "list" in fields[close[0]]
        ):
            # `schedule`, `mutex`, `semaphore`: Argo 4 kept only the list forms.
            return f"did you mean {close[0]!r}? it takes a list"
        return f"did you mean {close[0]!r}?"
    # A field written one level too high: `image` beside `container`, `finalizers` at the top.
    homes = [
        name
        for name, descriptor in fields.items()
        if isinstance(descriptor, dict)
        and "model" in descriptor
        and key in table.fields(descriptor["model"])
    ]
    if homes:
        homes.sort(key=lambda name: name not in here)
        return "it belongs under " + " or ".join(repr(h) for h in homes[:2])
    if len(fields) <= 12:
        return "known fields: " + ", ".join(sorted(fields))
    return "Argo rejects fields it does not know"
