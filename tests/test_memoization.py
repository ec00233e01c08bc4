"""Memoization on the local engine, against Argo's docs (docs/memoization.md) and its
controller code and tests (workflow/controller/cache/, operator.go's executeTemplate,
operator_test.go's TestConfigMapCache* cases, util.FormulateResubmitWorkflow).

The expected values come from there: the cache is a ConfigMap labelled
`workflows.argoproj.io/configmap-type: Cache` whose data maps each key to an Entry
(nodeID, outputs, creationTimestamp, lastHitTimestamp); a node's memoizationStatus is
{hit, key, cacheName}; a hit is a Succeeded node of the template's type carrying the
entry's outputs, whose template never runs; a miss runs and is saved once it Succeeded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.errors import LintError
from jupyter_argo.spec import lint_text, raise_for
from jupyter_argo.spec.parse import parse_text
from jupyter_argo.status import node_id

CACHE_LABEL = {"workflows.argoproj.io/configmap-type": "Cache"}


@pytest.fixture
def engine() -> LocalBackend:
    return LocalBackend()


def run(engine: LocalBackend, text: str, **kwargs: Any) -> dict[str, Any]:
    (doc,) = [d for d in parse_text(text) if d.kind == "Workflow"]
    created = engine.submit(doc.body, **kwargs)
    return engine.wait(created["metadata"]["name"], timeout=60)


def nodes_of(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return list(workflow["status"]["nodes"].values())


def by_display(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in nodes_of(workflow)}


def seed_cache(
    engine: LocalBackend, name: str, data: dict[str, str], labelled: bool = True
) -> None:
    meta: dict[str, Any] = {"name": name}
    if labelled:
        meta["labels"] = dict(CACHE_LABEL)
    engine.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})


def cache_data(engine: LocalBackend, name: str) -> dict[str, dict[str, Any]]:
    config_map = engine.store.get_object("ConfigMap", name, "default")
    assert config_map is not None, f"no ConfigMap {name}"
    assert config_map["metadata"]["labels"] == CACHE_LABEL
    return {k: json.loads(v) for k, v in config_map["data"].items()}


# An entry in an older shape, with Go's field names (operator_test.go's NoLabels/NilOutputs).
GO_CASED_ENTRY = (
    '{"ExpiresAt":"2020-06-18T17:11:05Z","NodeID":"memoize-abx4124-123129321123","Outputs":{}}'
)


def go_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# operator_test.go's workflowCached, with a step that finishes at once (its `sleep 10; cowsay`
# would only slow a miss down) and writes what it was given.
CACHED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: memoized-workflow-test-
spec:
  entrypoint: whalesay
  arguments:
    parameters:
    - name: message
      value: hi-there-world
  templates:
  - name: whalesay
    inputs:
      parameters:
      - name: message
    memoize:
      key: "{{inputs.parameters.message}}"
      MAXAGE
      cache:
        configMap:
          name: whalesay-cache
    container:
      image: docker/whalesay:latest
      command: [sh, -c]
      args: ["echo {{inputs.parameters.message}} > /tmp/hello_world.txt"]
    outputs:
      parameters:
      - name: hello
        valueFrom:
          path: /tmp/hello_world.txt
"""


def cached(max_age: str = "") -> str:
    return CACHED.replace("MAXAGE", f"maxAge: {max_age!r}" if max_age else "")


# TestConfigMapCacheLoadOperate's entry: parameters and an S3 artifact with its key.
ENTRY_OUTPUTS = {
    "parameters": [
        {"name": "hello", "value": "foobar", "valueFrom": {"path": "/tmp/hello_world.txt"}}
    ],
    "artifacts": [
        {
            "name": "main-logs",
            "archiveLogs": True,
            "s3": {
                "endpoint": "minio:9000",
                "bucket": "my-bucket",
                "insecure": True,
                "accessKeySecret": {"name": "my-minio-cred", "key": "accesskey"},
                "secretKeySecret": {"name": "my-minio-cred", "key": "secretkey"},
                "key": "memoized-simple-workflow-5wj2p/memoized-simple-workflow-5wj2p/main.log",
            },
        }
    ],
}


def entry(outputs: Any, created: str | None) -> str:
    raw: dict[str, Any] = {"nodeID": "memoized-simple-workflow-5wj2p", "outputs": outputs}
    if created is not None:
        raw["creationTimestamp"] = created
    return json.dumps(raw)


# ---- a hit, from an entry as Argo writes one ----------------------------------------------


def test_a_hit_is_a_finished_node_with_the_cached_outputs(engine: LocalBackend) -> None:
    seed_cache(
        engine, "whalesay-cache", {"hi-there-world": entry(ENTRY_OUTPUTS, "2020-09-21T18:12:56Z")}
    )
    before = datetime.now(timezone.utc).replace(microsecond=0)
    wf = run(engine, cached())
    assert wf["status"]["phase"] == "Succeeded"
    (node,) = nodes_of(wf)  # require.Len(t, woc.wf.Status.Nodes, 1)
    assert node["type"] == "Pod"
    assert node["phase"] == "Succeeded"
    assert node["memoizationStatus"] == {
        "hit": True,
        "key": "hi-there-world",
        "cacheName": "whalesay-cache",
    }
    assert node["outputs"] == ENTRY_OUTPUTS  # parameters and artifacts (their keys) as stored
    assert node["inputs"]["parameters"] == [{"name": "message", "value": "hi-there-world"}]
    assert "hostNodeName" not in node  # its template never ran (no pod, no node)
    # Load sets the entry's last hit time (and keeps the rest).
    stored = cache_data(engine, "whalesay-cache")["hi-there-world"]
    assert stored["nodeID"] == "memoized-simple-workflow-5wj2p"
    assert stored["creationTimestamp"] == "2020-09-21T18:12:56Z"
    assert stored["outputs"] == ENTRY_OUTPUTS
    hit_at = datetime.strptime(stored["lastHitTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert hit_at.replace(tzinfo=timezone.utc) >= before


def test_an_entry_read_as_go_reads_json(engine: LocalBackend) -> None:
    """TestConfigMapCacheLoadNilOutputs: field names in any case, unknown ones ignored;
    `Outputs: {}` is a hit with empty outputs."""
    seed_cache(
        engine,
        "whalesay-cache",
        {"hi-there-world": GO_CASED_ENTRY},
    )
    wf = run(engine, cached())
    (node,) = nodes_of(wf)
    assert node["phase"] == "Succeeded"
    assert node["memoizationStatus"]["hit"] is True
    assert node["outputs"] == {}


def test_an_unlabelled_configmap_is_refused(engine: LocalBackend) -> None:
    """TestConfigMapCacheLoadNoLabels: the workflow ends Error, its one node Error."""
    seed_cache(engine, "whalesay-cache", {"hi-there-world": entry({}, None)}, labelled=False)
    wf = run(engine, cached())
    assert wf["status"]["phase"] == "Error"
    (node,) = nodes_of(wf)
    assert node["phase"] == "Error"
    assert "outputs" not in node
    assert node["message"] == (
        "memoization configmap doesn't have workflows.argoproj.io/configmap-type label, "
        "refusing to use it"
    )


def test_a_malformed_entry_errors_the_node(engine: LocalBackend) -> None:
    seed_cache(engine, "whalesay-cache", {"hi-there-world": "{not json"})
    wf = run(engine, cached())
    (node,) = nodes_of(wf)
    assert node["phase"] == "Error"
    assert node["message"].startswith("malformed cache entry: could not unmarshal JSON")


# ---- maxAge ------------------------------------------------------------------------------


def test_max_age_keeps_a_young_entry_and_ignores_an_old_one(engine: LocalBackend) -> None:
    """TestConfigMapCacheLoadOperateMaxAge: an entry 5 s old is a hit under maxAge 10s; one
    15 s old is not (the node runs, and its new entry replaces the old one)."""
    now = datetime.now(timezone.utc)
    young = entry(ENTRY_OUTPUTS, go_time(now - timedelta(seconds=5)))
    seed_cache(engine, "whalesay-cache", {"hi-there-world": young})
    wf = run(engine, cached("10s"))
    (node,) = nodes_of(wf)
    assert node["memoizationStatus"]["hit"] is True
    assert node["outputs"]["parameters"][0]["value"] == "foobar"

    old = entry(ENTRY_OUTPUTS, go_time(now - timedelta(seconds=15)))
    seed_cache(engine, "whalesay-cache", {"hi-there-world": old})
    wf = run(engine, cached("10s"))
    (node,) = nodes_of(wf)
    assert node["phase"] == "Succeeded"
    assert node["memoizationStatus"] == {
        "hit": False,
        "key": "hi-there-world",
        "cacheName": "whalesay-cache",
    }
    assert node["outputs"]["parameters"][0]["value"] == "hi-there-world"  # it ran
    saved = cache_data(engine, "whalesay-cache")["hi-there-world"]
    assert saved["nodeID"] == node["id"]
    assert saved["outputs"] == node["outputs"]


def test_an_entry_expires_after_max_age(engine: LocalBackend) -> None:
    (node,) = nodes_of(run(engine, cached("2s")))
    assert node["memoizationStatus"]["hit"] is False
    (again,) = nodes_of(run(engine, cached("2s")))
    assert again["memoizationStatus"]["hit"] is True
    time.sleep(3.2)  # timestamps have Argo's one-second resolution
    (expired,) = nodes_of(run(engine, cached("2s")))
    assert expired["memoizationStatus"]["hit"] is False
    assert "hostNodeName" in expired  # it ran again, in a pod


# ---- a miss, then the save -----------------------------------------------------------------


def test_a_miss_runs_and_saves_when_it_succeeds(engine: LocalBackend) -> None:
    """TestConfigMapCacheSaveOperate: the ConfigMap is made, labelled, with the node's
    outputs under the key."""
    assert engine.store.get_object("ConfigMap", "whalesay-cache", "default") is None
    wf = run(engine, cached())
    (node,) = nodes_of(wf)
    assert node["memoizationStatus"] == {
        "hit": False,
        "key": "hi-there-world",
        "cacheName": "whalesay-cache",
    }
    saved = cache_data(engine, "whalesay-cache")["hi-there-world"]
    assert set(saved) == {"nodeID", "outputs", "creationTimestamp", "lastHitTimestamp"}
    assert saved["nodeID"] == node["id"]
    assert saved["outputs"] == node["outputs"]
    assert saved["outputs"]["parameters"][0]["value"] == "hi-there-world"
    assert saved["outputs"]["exitCode"] == "0"
    assert saved["creationTimestamp"] == saved["lastHitTimestamp"]


FAILING = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: memo-fail-
spec:
  entrypoint: fail
  templates:
  - name: fail
    memoize:
      key: always-the-same
      cache:
        configMap:
          name: fail-cache
    container:
      image: alpine
      command: [sh, -c, "exit 3"]
"""


def test_a_failed_node_is_not_saved(engine: LocalBackend) -> None:
    wf = run(engine, FAILING)
    (node,) = nodes_of(wf)
    assert node["phase"] == "Failed"
    assert node["memoizationStatus"]["hit"] is False
    assert engine.store.get_object("ConfigMap", "fail-cache", "default") is None
    again = nodes_of(run(engine, FAILING))[0]
    assert again["memoizationStatus"]["hit"] is False
    assert again["phase"] == "Failed"


RETRIED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: memo-retry-
spec:
  entrypoint: whalesay
  arguments:
    parameters:
    - name: message
      value: hi-there-world
  templates:
  - name: whalesay
    inputs:
      parameters:
      - name: message
    retryStrategy:
      limit: "10"
    memoize:
      key: "{{inputs.parameters.message}}"
      cache:
        configMap:
          name: whalesay-cache
    container:
      image: docker/whalesay:latest
      command: [sh, -c]
      args: ["echo {{inputs.parameters.message}}"]
"""


def test_a_retried_template_is_saved_from_its_attempt(engine: LocalBackend) -> None:
    """TestStepConfigMapCacheCreateWhenHaveRetryStrategy: the cache is made and labelled;
    the retry node and its attempt both carry the status (initializeExecutableNode), and
    the entry is the attempt's (the pod Argo's podReconciliation saves)."""
    wf = run(engine, RETRIED)
    assert wf["status"]["phase"] == "Succeeded"
    name = wf["metadata"]["name"]
    retry = wf["status"]["nodes"][name]
    attempt = wf["status"]["nodes"][node_id(name, f"{name}(0)")]
    assert retry["type"] == "Retry"
    status = {"hit": False, "key": "hi-there-world", "cacheName": "whalesay-cache"}
    assert retry["memoizationStatus"] == status
    assert attempt["memoizationStatus"] == status
    assert cache_data(engine, "whalesay-cache")["hi-there-world"]["nodeID"] == attempt["id"]
    hit = run(engine, RETRIED)
    (node,) = nodes_of(hit)
    assert node["type"] == "Retry"  # GetNodeType of a template with a retryStrategy
    assert node["memoizationStatus"]["hit"] is True
    assert "children" not in node


# ---- steps and DAG templates memoized -----------------------------------------------------

# operator_test.go's workflowWithMemoizedInSteps.
MEMOIZED_IN_STEPS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: memoized-bug-
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: hello-steps
        template: memoized
    - - name: whatever
        template: hello

  - name: memoized
    outputs:
      parameters:
      - name: msg
        valueFrom:
          parameter: "{{steps.hello-step.outputs.result}}"
    steps:
    - - name: hello-step
        template: hello
    memoize:
      key: "memoized-bug-steps-0"
      cache:
        configMap:
          name: my-config

  - name: hello
    container:
      image: alpine:3.23
      command: [sh, -c]
      args: ["echo Hello"]
"""


def test_a_hit_steps_node_is_its_own_outbound_node(engine: LocalBackend) -> None:
    """TestGetOutboundNodesFromCacheHitSteps: the hit node has no children of its own, so
    the next step group hangs under it (getOutboundNodes returns the node itself)."""
    seed_cache(
        engine,
        "my-config",
        {
            "memoized-bug-steps-0": '{"nodeID":"memoized-bug-wqbj4-3475368823","outputs":null,'
            '"creationTimestamp":"2020-09-21T18:12:56Z","lastHitTimestamp":"2024-03-11T05:59:58Z"}'
        },
    )
    wf = run(engine, MEMOIZED_IN_STEPS)
    assert wf["status"]["phase"] == "Succeeded"
    nodes = by_display(wf)
    hit = nodes["hello-steps"]
    assert hit["type"] == "Steps"
    assert hit["memoizationStatus"] == {
        "hit": True,
        "key": "memoized-bug-steps-0",
        "cacheName": "my-config",
    }
    name = wf["metadata"]["name"]
    assert hit["children"] == [node_id(name, f"{name}[1]")]
    assert "hello-step" not in nodes  # the memoized template did not run
    assert "outputs" not in hit  # the entry's outputs were null


def test_a_steps_template_is_saved_without_its_outputs(engine: LocalBackend) -> None:
    """Argo's executeSteps saves the node it read before setting the outputs (steps.go
    shadows `node` where it sets them), so the entry of a steps template has outputs
    null, and a hit of it has none (unlike a DAG template's, which executeDAG saves
    with its outputs)."""
    first = run(engine, MEMOIZED_IN_STEPS)
    node = by_display(first)["hello-steps"]
    assert node["memoizationStatus"]["hit"] is False
    assert node["outputs"]["parameters"][0]["value"] == "Hello"  # the run itself has them
    saved = cache_data(engine, "my-config")["memoized-bug-steps-0"]
    assert saved["nodeID"] == node["id"]
    assert saved["outputs"] is None
    second = by_display(run(engine, MEMOIZED_IN_STEPS))
    assert second["hello-steps"]["memoizationStatus"]["hit"] is True
    assert "outputs" not in second["hello-steps"]
    assert "hello-step" not in second


# operator_test.go's workflowWithTemplateLevelMemoizationAndChildDag.
TEMPLATE_LEVEL_DAG = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: memoized-entrypoint-
spec:
  entrypoint: entrypoint
  templates:
  - name: entrypoint
    dag:
      tasks:
      - name: whalesay-task
        template: whalesay
    memoize:
      key: "entrypoint-key-1"
      cache:
        configMap:
          name: cache-top-entrypoint
    outputs:
      parameters:
      - name: url
        valueFrom:
          expression: |
            'https://argo-workflows.company.com/workflows/namepace/' + '{{workflow.name}}'
              + '?tab=workflow'

  - name: whalesay
    container:
      image: docker/whalesay:latest
      command: [sh, -c]
      args: ["echo hello_world > /tmp/hello_world.txt"]
    outputs:
      parameters:
      - name: hello
        valueFrom:
          path: /tmp/hello_world.txt
"""


def test_a_dag_entrypoint_memoized(engine: LocalBackend) -> None:
    """TestMemoizationTemplateLevelCacheWithDag{Without,With}Cache."""
    first = run(engine, TEMPLATE_LEVEL_DAG)
    root = first["status"]["nodes"][first["metadata"]["name"]]
    assert root["type"] == "DAG"
    assert root["phase"] == "Succeeded"
    assert root["memoizationStatus"]["hit"] is False
    assert any(n.get("templateName") == "whalesay" for n in nodes_of(first))
    # executeDAG saves the node with its outputs, and a hit gives them back.
    saved = cache_data(engine, "cache-top-entrypoint")["entrypoint-key-1"]
    assert saved["nodeID"] == root["id"]
    url = saved["outputs"]["parameters"][0]
    assert url["name"] == "url"
    assert url["value"] == (
        "https://argo-workflows.company.com/workflows/namepace/"
        f"{first['metadata']['name']}?tab=workflow"
    )
    again = run(engine, TEMPLATE_LEVEL_DAG)
    (hit,) = nodes_of(again)
    assert hit["memoizationStatus"]["hit"] is True
    assert hit["outputs"] == saved["outputs"]

    seed_cache(
        engine,
        "cache-top-entrypoint",
        {"entrypoint-key-1": GO_CASED_ENTRY},
    )
    second = run(engine, TEMPLATE_LEVEL_DAG)
    (root,) = nodes_of(second)  # only the parent: a hit, the whalesay task never made
    assert root["phase"] == "Succeeded"
    assert root["memoizationStatus"]["hit"] is True


# ---- artifacts -----------------------------------------------------------------------------

ARTIFACTS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: memo-art-
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: produce
        template: produce
        arguments: {parameters: [{name: seed, value: s1}]}
    - - name: consume
        template: consume
        arguments:
          artifacts: [{name: data, from: "{{steps.produce.outputs.artifacts.data}}"}]
  - name: produce
    inputs: {parameters: [{name: seed}]}
    memoize:
      key: "produce-{{inputs.parameters.seed}}"
      cache: {configMap: {name: produce-cache}}
    script:
      image: alpine
      command: [sh]
      source: date +%s%N > /tmp/data.txt; cat /tmp/data.txt
    outputs:
      artifacts: [{name: data, path: /tmp/data.txt}]
  - name: consume
    inputs:
      artifacts: [{name: data, path: /tmp/in.txt}]
    script:
      image: alpine
      command: [sh]
      source: cat /tmp/in.txt
"""


def test_a_hit_reuses_the_artifacts_of_the_run_that_made_them(engine: LocalBackend) -> None:
    first = by_display(run(engine, ARTIFACTS))
    made = first["produce"]["outputs"]["result"]
    assert first["consume"]["outputs"]["result"] == made
    second = by_display(run(engine, ARTIFACTS))
    produce = second["produce"]
    assert produce["memoizationStatus"]["hit"] is True
    # The artifact as stored: the first run's repository key, not a new upload.
    assert produce["outputs"]["artifacts"] == first["produce"]["outputs"]["artifacts"]
    # And the consumer, which ran, read that artifact: the first run's random content.
    assert second["consume"]["outputs"]["result"] == made
    assert "hostNodeName" in second["consume"]


# ---- across processes ----------------------------------------------------------------------


def test_the_cache_outlives_the_process_that_filled_it(tmp_path: Path) -> None:
    manifest = tmp_path / "cached.yaml"
    manifest.write_text(cached())
    program = textwrap.dedent(
        f"""
        from jupyter_argo.backends.local import LocalBackend
        from jupyter_argo.spec.parse import parse_text
        engine = LocalBackend()
        (doc,) = parse_text(open({str(manifest)!r}).read())
        wf = engine.wait(engine.submit(doc.body)["metadata"]["name"], timeout=60)
        (node,) = wf["status"]["nodes"].values()
        print(node["memoizationStatus"]["hit"], node["outputs"]["parameters"][0]["value"])
        """
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "hi-there-world"]
    # Another engine, in this process, over the same data directory.
    (node,) = nodes_of(run(LocalBackend(), cached()))
    assert node["memoizationStatus"]["hit"] is True
    assert node["outputs"]["parameters"][0]["value"] == "hi-there-world"
    assert "hostNodeName" not in node


# ---- keys and maxAge Argo refuses -----------------------------------------------------------

DYNAMIC_KEY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: memo-key-
spec:
  entrypoint: echo
  arguments:
    parameters:
    - name: message
      value: KEY
  templates:
  - name: echo
    inputs:
      parameters:
      - name: message
    memoize:
      key: "{{inputs.parameters.message}}"
      cache:
        configMap:
          name: echo-cache
    container:
      image: alpine
      command: [sh, -c, "echo ran"]
"""


def test_a_key_argo_refuses_errors_the_node_before_it_runs(engine: LocalBackend) -> None:
    """configmap_cache.go's cacheKeyRegex: letters, digits and '-', not first."""
    wf = run(engine, DYNAMIC_KEY.replace("KEY", "has_underscore"))
    (node,) = nodes_of(wf)
    assert node["phase"] == "Error"
    assert node["message"] == "invalid cache key: has_underscore"
    assert node["type"] == "Skipped"  # initializeNodeOrMarkError
    assert wf["status"]["phase"] == "Error"


def test_a_key_too_long_for_a_configmap_runs_then_errors(engine: LocalBackend) -> None:
    """Argo's regex takes any length; the Kubernetes API refuses a ConfigMap key over 253
    characters when the entry is saved, and the pod ends Error with the reason."""
    key = "k" * 254
    wf = run(engine, DYNAMIC_KEY.replace("KEY", key))
    (node,) = nodes_of(wf)
    assert node["phase"] == "Error"
    assert node["message"].startswith(
        'error creating cache entry: ConfigMap "echo-cache" is invalid'
    )
    assert "253" in node["message"]
    assert engine.store.get_object("ConfigMap", "echo-cache", "default") is None


def test_a_bad_max_age_errors_the_node(engine: LocalBackend) -> None:
    text = cached("{{workflow.parameters.age}}").replace(
        "      value: hi-there-world",
        "      value: hi-there-world\n    - name: age\n      value: ten",
    )
    wf = run(engine, text)
    (node,) = nodes_of(wf)
    assert node["phase"] == "Error"
    assert node["message"] == 'invalid maxAge: time: invalid duration "ten"'


@pytest.mark.parametrize(
    ("memoize", "where", "message"),
    [
        (
            {"key": "k" * 254, "cache": {"configMap": {"name": "c"}}},
            "spec.templates[0].memoize.key",
            "at most 253",
        ),
        (
            {"key": "a.b", "cache": {"configMap": {"name": "c"}}},
            "spec.templates[0].memoize.key",
            "invalid cache key: a.b",
        ),
        (
            {"key": "ok", "maxAge": "10", "cache": {"configMap": {"name": "c"}}},
            "spec.templates[0].memoize.maxAge",
            'invalid maxAge: time: missing unit in duration "10"',
        ),
        (
            {"key": "ok", "cache": {}},
            "spec.templates[0].memoize.cache.configMap.name",
            "memoize.cache.configMap.name is required",
        ),
    ],
)
def test_lint_refuses_a_literal_memoize_argo_would_refuse(
    memoize: dict[str, Any], where: str, message: str
) -> None:
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "memo-"},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "memoize": memoize, "container": {"image": "alpine"}}],
        },
    }
    diagnostics = lint_text(yaml.safe_dump(manifest, sort_keys=False), "memo.yaml")
    errors = [d for d in diagnostics if d.severity == "error"]
    assert len(errors) == 1, errors
    assert where in str(errors[0].location)
    assert message in errors[0].message
    with pytest.raises(LintError):
        raise_for(diagnostics)


def test_submit_refuses_a_bad_memoize_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(cached("10").replace("memoized-workflow-test-", "bad-"))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_argo.cli", "submit", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr
    assert any(
        "memoize.maxAge" in line and 'invalid maxAge: time: missing unit in duration "10"' in line
        for line in lines
    ), done.stderr
    assert LocalBackend().list() == []  # nothing submitted


# ---- resubmit --memoized ----------------------------------------------------------------------

RESUBMITTABLE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: resub-
spec:
  entrypoint: main
  arguments:
    parameters: [{name: code, value: "1"}]
  templates:
  - name: main
    steps:
    - - name: a
        template: produce
    - - name: b
        template: consume
        arguments: {parameters: [{name: got, value: "{{steps.a.outputs.result}}"}]}
  - name: produce
    script:
      image: alpine
      command: [sh]
      source: date +%s%N
  - name: consume
    inputs: {parameters: [{name: got}]}
    script:
      image: alpine
      command: [sh]
      source: echo "got {{inputs.parameters.got}}"; exit {{workflow.parameters.code}}
"""


def test_resubmit_memoized_keeps_the_succeeded_pods(engine: LocalBackend) -> None:
    """FormulateResubmitWorkflow(memoized): a new name made here, succeeded pods renamed
    and Skipped with "original pod: ID", the rest run again; -p overrides arguments."""
    failed = run(engine, RESUBMITTABLE)
    assert failed["status"]["phase"] == "Failed"
    old = failed["metadata"]["name"]
    produced = by_display(failed)["a"]
    fresh = engine.resubmit(old, memoized=True, parameters={"code": "0"})
    new = fresh["metadata"]["name"]
    assert new.startswith("resub-")
    assert new != old
    assert fresh["metadata"]["labels"]["workflows.argoproj.io/resubmitted-from-workflow"] == old
    wf = engine.wait(new, timeout=60)
    assert wf["status"]["phase"] == "Succeeded"
    nodes = by_display(wf)
    kept = nodes["a"]
    assert kept["id"] == node_id(new, f"{new}[0].a")
    assert kept["type"] == "Skipped"
    assert kept["phase"] == "Skipped"
    assert kept["message"] == f"original pod: {produced['id']}"
    assert kept["outputs"] == produced["outputs"]
    assert nodes["b"]["phase"] == "Succeeded"
    assert nodes["b"]["outputs"]["result"] == f"got {produced['outputs']['result']}"


def test_resubmit_memoized_refuses_a_succeeded_run(engine: LocalBackend) -> None:
    from jupyter_argo.errors import UserError

    done = run(engine, cached())
    with pytest.raises(
        UserError, match="workflow must be Failed/Error to resubmit in memoized mode"
    ):
        engine.resubmit(done["metadata"]["name"], memoized=True)


# ---- a 20-step pipeline ------------------------------------------------------------------------


def pipeline(changed: str = "1") -> dict[str, Any]:
    """Two chains of ten memoized steps (a1..a10, b1..b10) in a DAG; each step's result is
    a digest of its inputs (its upstream result and its own parameter), its key those
    inputs. `changed` is a6's parameter."""
    step = {
        "name": "step",
        "inputs": {"parameters": [{"name": "step"}, {"name": "upstream"}, {"name": "p"}]},
        "memoize": {
            "key": "{{inputs.parameters.step}}-{{inputs.parameters.upstream}}"
            "-{{inputs.parameters.p}}",
            "cache": {"configMap": {"name": "pipeline-cache"}},
        },
        "script": {
            "image": "alpine",
            "command": ["sh"],
            "source": "printf '%s' '{{inputs.parameters.upstream}}-{{inputs.parameters.p}}' "
            "| sha256sum | cut -c1-16",
        },
    }
    tasks = []
    for chain in "ab":
        for i in range(1, 11):
            name = f"{chain}{i}"
            upstream = "root" if i == 1 else f"{{{{tasks.{chain}{i - 1}.outputs.result}}}}"
            task: dict[str, Any] = {
                "name": name,
                "template": "step",
                "arguments": {
                    "parameters": [
                        {"name": "step", "value": name},
                        {"name": "upstream", "value": upstream},
                        {"name": "p", "value": changed if name == "a6" else "1"},
                    ]
                },
            }
            if i > 1:
                task["dependencies"] = [f"{chain}{i - 1}"]
            tasks.append(task)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "pipeline-"},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "dag": {"tasks": tasks}}, step],
        },
    }


def executed(workflow: dict[str, Any]) -> set[str]:
    """The Pod nodes that ran (not cache hits)."""
    return {
        n["displayName"]
        for n in nodes_of(workflow)
        if n["type"] == "Pod" and not (n.get("memoizationStatus") or {}).get("hit")
    }


def test_a_changed_input_reruns_exactly_the_steps_downstream_of_it(engine: LocalBackend) -> None:
    def go(changed: str) -> dict[str, Any]:
        created = engine.submit(pipeline(changed))
        wf = engine.wait(created["metadata"]["name"], timeout=120)
        assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
        return wf

    first = go("1")
    everything = {f"{c}{i}" for c in "ab" for i in range(1, 11)}
    assert executed(first) == everything
    assert executed(go("1")) == set()  # fully cached
    changed = go("2")
    assert executed(changed) == {f"a{i}" for i in range(6, 11)}
    results = {
        n["displayName"]: n["outputs"]["result"] for n in nodes_of(changed) if n["type"] == "Pod"
    }
    firsts = {
        n["displayName"]: n["outputs"]["result"] for n in nodes_of(first) if n["type"] == "Pod"
    }
    assert {k for k in results if results[k] != firsts[k]} == {f"a{i}" for i in range(6, 11)}


# ---- a notebook cell run again ------------------------------------------------------------------

NOTEBOOK_PIPELINE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: cell-pipeline-}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: rows, value: "10"}, {name: label, value: first}]
  templates:
  - name: main
    dag:
      tasks:
      - name: load
        template: load
        arguments: {parameters: [{name: rows, value: "{{workflow.parameters.rows}}"}]}
      - name: train
        template: train
        dependencies: [load]
        arguments: {parameters: [{name: data, value: "{{tasks.load.outputs.result}}"}]}
      - name: report
        template: report
        dependencies: [train]
        arguments:
          parameters:
          - {name: model, value: "{{tasks.train.outputs.result}}"}
          - {name: label, value: "{{workflow.parameters.label}}"}
  - name: load
    inputs: {parameters: [{name: rows}]}
    memoize: {key: "load-{{inputs.parameters.rows}}", cache: {configMap: {name: cell-cache}}}
    script: {image: alpine, command: [sh], source: "echo rows{{inputs.parameters.rows}}"}
  - name: train
    inputs: {parameters: [{name: data}]}
    memoize: {key: "train-{{inputs.parameters.data}}", cache: {configMap: {name: cell-cache}}}
    script: {image: alpine, command: [sh], source: "echo model-{{inputs.parameters.data}}"}
  - name: report
    inputs: {parameters: [{name: model}, {name: label}]}
    memoize:
      key: "report-{{inputs.parameters.model}}-{{inputs.parameters.label}}"
      cache: {configMap: {name: cell-cache}}
    script:
      image: alpine
      command: [sh]
      source: "echo {{inputs.parameters.label}} {{inputs.parameters.model}}"
"""


def test_a_cell_run_again_reruns_only_the_steps_whose_inputs_changed() -> None:
    from test_magics import TestingShell, cell

    from jupyter_argo.run import Run

    ip = TestingShell.instance()
    try:
        ip.run_cell("%load_ext jupyter_argo")

        def ran(line: str) -> set[str]:
            cell(ip, f"--out run {line}", NOTEBOOK_PIPELINE)
            run = ip.user_ns["run"]
            assert isinstance(run, Run)
            assert run.phase == "Succeeded"
            return executed(dict(run.workflow))

        assert ran("") == {"load", "train", "report"}
        assert ran("") == set()  # the same cell again: everything from the cache
        assert ran("-p label=second") == {"report"}
        assert ip.user_ns["run"].node("report").outputs.result == "second model-rows10"
        assert ran("-p rows=20 -p label=second") == {"load", "train", "report"}
        assert ran("-p rows=10 -p label=second") == set()
    finally:
        TestingShell.clear_instance()


def test_resubmit_memoized_from_the_command_line(tmp_path: Path) -> None:
    """`jupyter-argo resubmit NAME --memoized -p ...`: the new run outlives the command."""
    from test_cli_runs import cli

    path = tmp_path / "resubmittable.yaml"
    path.write_text(RESUBMITTABLE)
    failed = json.loads(cli("run", str(path), "-o", "json", check=False).stdout)
    assert failed["status"]["phase"] == "Failed"
    done = cli("resubmit", failed["metadata"]["name"], "--memoized", "-p", "code=0")
    new = done.stdout.split()[1]
    assert done.stdout.strip() == f"workflow {new} resubmitted"
    assert cli("wait", new).returncode == 0
    wf = json.loads(cli("get", new, "-o", "json").stdout)
    assert wf["status"]["phase"] == "Succeeded"
    kept = by_display(wf)["a"]
    assert kept["phase"] == "Skipped"
    assert kept["message"] == f"original pod: {by_display(failed)['a']['id']}"


def test_two_processes_saving_to_one_cache_lose_nothing(tmp_path: Path) -> None:
    """Each save reads and writes the ConfigMap in one store transaction, as Argo's update
    is checked against the ConfigMap's resourceVersion: no entry overwrites another's."""
    program = textwrap.dedent(
        """
        import sys
        from jupyter_argo.engine.cache import CacheFactory
        from jupyter_argo.engine.store import Store
        cache = CacheFactory(Store(), "default").get("shared-cache")
        for i in range(40):
            cache.save(f"{sys.argv[1]}-{i}", f"node-{sys.argv[1]}-{i}", {"result": str(i)})
        """
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    writers = [
        subprocess.Popen([sys.executable, "-c", program, who], env=env, stderr=subprocess.PIPE)
        for who in ("left", "right")
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=60)
        assert writer.returncode == 0, errors
    data = cache_data(LocalBackend(), "shared-cache")
    assert len(data) == 80
    assert data["left-7"]["nodeID"] == "node-left-7"
    assert data["right-39"]["outputs"] == {"result": "39"}


BIG_OUTPUT = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: memo-big-
spec:
  entrypoint: big
  templates:
  - name: big
    memoize:
      key: big-output
      cache:
        configMap:
          name: big-cache
    container:
      image: alpine
      command: [sh, -c, "head -c 1100000 /dev/zero | tr '\\\\0' a > /tmp/big.txt"]
    outputs:
      parameters:
      - name: big
        valueFrom:
          path: /tmp/big.txt
"""


def test_an_entry_past_a_configmaps_size_errors_the_pod(engine: LocalBackend) -> None:
    """docs/memoization.md's FAQ: a ConfigMap holds at most 1 MiB; Argo's update fails and
    the pod's node ends Error, pointing at the FAQ."""
    wf = run(engine, BIG_OUTPUT)
    (node,) = nodes_of(wf)
    assert len(node["outputs"]["parameters"][0]["value"]) == 1_100_000
    assert node["phase"] == "Error"
    assert node["message"].startswith('error creating cache entry: ConfigMap "big-cache"')
    assert "1048576" in node["message"]
    assert node["message"].endswith("memoization/#faqs")
    assert engine.store.get_object("ConfigMap", "big-cache", "default") is None
