"""The field table derived from Hera's models, its cache, and the strict field check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_argo.spec import schema
from jupyter_argo.spec.schema import check_fields, field_table


def problems(body: Any, kind: str = "Template") -> list[tuple[str, str, str]]:
    from jupyter_argo.spec.parse import format_path

    table = field_table()
    root = table.root(kind)
    assert root is not None
    return [(format_path(p.path), p.message, p.hint) for p in check_fields(body, root, table)]


def test_table_covers_the_whole_api() -> None:
    table = field_table()
    # Far more than a hand-picked subset: Argo's types and the Kubernetes ones they use.
    assert len(table.models) > 150
    template = table.fields("Template")
    for name in ("container", "script", "dag", "steps", "retryStrategy", "podSpecPatch"):
        assert name in template
    assert table.fields("RetryStrategy")["limit"] == schema.INT_OR_STRING
    assert table.fields("ResourceRequirements")["limits"] == {"map": schema.QUANTITY}
    assert table.fields("Container")["env"] == {"list": {"model": "EnvVar"}}
    assert table.fields("Parameter")["value"] == schema.ANY_STRING
    assert "hera" in table.source


def test_argo_fields_newer_than_heras_models_are_known() -> None:
    template = field_table().fields("Template")
    assert template["pendingTimeout"] == schema.STR
    assert field_table().fields("PodResourceClaim")["resourceClaimName"] == schema.STR


def test_configmap_and_secret_have_their_own_shapes() -> None:
    table = field_table()
    assert set(table.fields("ConfigMap")) >= {"metadata", "data", "binaryData", "immutable"}
    assert set(table.fields("Secret")) >= {"data", "stringData", "type", "immutable"}
    assert problems({"kind": "ConfigMap", "data": {"n": 1}}, "ConfigMap")[0][:2] == (
        "data.n",
        "expected a string, not a number",
    )


CACHE_ROUND_TRIP = """
import json
from jupyter_argo.spec import schema
built = schema.field_table()
(cached,) = schema._cache_file().parent.glob("schema-v*.json")
data = json.loads(cached.read_text())
assert data["format"] == schema.SCHEMA_FORMAT, data["format"]
assert len(data["models"]) == len(built.models)
assert schema._load_or_build() == built  # read back from the file
cached.write_text("{not json")  # a damaged cache is rebuilt, not trusted
assert schema._load_or_build() == built
assert json.loads(cached.read_text())["format"] == schema.SCHEMA_FORMAT
print(cached.name)
"""


def test_cache_is_written_read_back_and_rebuilt(tmp_path: Path) -> None:
    # A fresh interpreter with an empty cache directory builds the table and writes it.
    env = {"XDG_CACHE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", CACHE_ROUND_TRIP], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"schema-v{schema.SCHEMA_FORMAT}-")


def test_unknown_field_with_did_you_mean() -> None:
    ((path, message, hint),) = problems({"name": "t", "contaner": {"image": "a"}})
    assert path == "contaner"
    assert message == "unknown field 'contaner' in Template"
    assert hint == "did you mean 'container'?"


def test_unknown_field_written_one_level_too_high() -> None:
    ((_, _, hint),) = problems({"name": "t", "container": {"image": "a"}, "command": ["x"]})
    assert hint.startswith("it belongs under 'container'")
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "finalizers": ["x"]}
    ((_, _, hint),) = problems(body, "Workflow")
    assert hint == "it belongs under 'metadata'"


def test_field_names_are_case_sensitive() -> None:
    ((path, _, hint),) = problems({"name": "t", "Container": {"image": "a"}})
    assert path == "Container"
    assert hint == "did you mean 'container'?"


@pytest.mark.parametrize(
    ("yaml_text", "path", "message"),
    [
        ("retryStrategy: {limit: [1]}", "retryStrategy.limit", "expected an integer or a string"),
        ("retryStrategy: {limit: 1.5}", "retryStrategy.limit", "expected an integer or a string"),
        ("retryStrategy: {limit: true}", "retryStrategy.limit", "not a boolean"),
        ("container: {image: a, args: [5]}", "container.args[0]", "expected a string"),
        ("container: {image: a, env: [{name: X, value: 1}]}", "container.env[0].value", "string"),
        ("container: {image: a, tty: 'yes'}", "container.tty", "expected true or false"),
        ("parallelism: '3'", "parallelism", "expected an integer, not a string"),
        ("container: {image: a, command: echo}", "container.command", "expected a list"),
        ("inputs: {parameters: {name: x}}", "inputs.parameters", "expected a list"),
        ("container: {image: a, resources: {limits: {cpu: two}}}", "", "is not a quantity"),
        ("container: {image: a, resources: {limits: {cpu: true}}}", "", "expected a quantity"),
        ("plugin: {a: {}, b: {}}", "plugin", "expected exactly one key, got 2"),
        ("inputs: {parameters: [{name: x, value: {a: 1}}]}", "", "string, number or boolean"),
        ("metadata: {labels: {a: 1}}", "metadata.labels.a", "expected a string"),
        ("container: 5", "container", "expected a mapping (Container), not a number"),
    ],
)
def test_wrong_types_are_named_with_their_path(yaml_text: str, path: str, message: str) -> None:
    body = {"name": "t", **yaml.safe_load(yaml_text)}
    found = problems(body)
    assert len(found) == 1, found
    assert found[0][0].endswith(path)
    assert message in found[0][1]


@pytest.mark.parametrize(
    "yaml_text",
    [
        "retryStrategy: {limit: 3}",  # IntOrString takes both
        "retryStrategy: {limit: '3'}",
        "retryStrategy: {limit: '{{inputs.parameters.n}}'}",
        "activeDeadlineSeconds: 10",
        # AnyString fields take numbers and booleans
        "inputs: {parameters: [{name: x, value: 1}, {name: y, default: true}]}",
        "inputs: {parameters: [{name: z, enum: [1, a], value: 1}]}",
        "container: {image: a, resources: {limits: {cpu: 1, memory: 2Gi}, requests: {cpu: 0.5}}}",
        "container: {image: a, resources: {limits: {cpu: 500m, memory: 1e3}}}",
        "container: ~",  # null is every field's zero value
        "parallelism: 2.0",  # reaches Go as the JSON number 2
        "steps: [[{name: a, template: b, withItems: [1, a, {x: [1]}, true]}]]",
        "plugin: {hello: {any: [thing]}}",
        # Argo's HTTPHeader and Kubernetes' share a name, not a shape
        "http: {url: u, headers: [{name: a, valueFrom: {secretKeyRef: {name: s, key: k}}}]}",
        "container: {image: a, livenessProbe: {httpGet: {port: 80, httpHeaders: [{name: a}]}}}",
        "metrics: {prometheus: [{name: m, help: h, histogram: {value: '1', buckets: [1, 2.5]}}]}",
        "inputs: {artifacts: [{name: a, path: /a, mode: 0755}]}",
    ],
)
def test_values_argo_accepts_pass(yaml_text: str) -> None:
    assert problems({"name": "t", **yaml.safe_load(yaml_text)}) == []


def test_time_fields_want_rfc3339() -> None:
    body = {"metadata": {"creationTimestamp": "yesterday"}}
    ((path, message, _),) = problems(body, "Workflow")
    assert path == "metadata.creationTimestamp"
    assert "RFC 3339" in message
    assert problems({"metadata": {"creationTimestamp": "2024-01-31T12:00:00Z"}}, "Workflow") == []
