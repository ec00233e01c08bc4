"""Variables and status as Argo v4.0.5's controller writes them (issue 14, item 6).

Expected values come from Argo's Go code: `workflow.failures` (operator.go, operate: the
failedNodeStatus list, json.Marshal'd then strconv.Quote'd), ConfigMap parameters
(workflow/common/configmap.go GetConfigMapValue, util.go substituteAndGetConfigMapValue,
operator.go setGlobalParameters), progress (workflow/progress/updater.go), the estimator
(workflow/controller/estimation/), the template label (workflow/common/convert.go), and
from the Workflow objects Argo's controller wrote (../shared/argo/written-by-argo/)."""

from __future__ import annotations

import copy
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import ARGO, WRITTEN_BY_ARGO

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.engine.progress import ProgressTracker, update_progress
from jupyter_argo.spec.parse import parse_text
from jupyter_argo.status import pod_name


@pytest.fixture
def engine() -> LocalBackend:
    return LocalBackend()


def manifest(text: str) -> dict[str, Any]:
    (doc,) = [d for d in parse_text(text) if d.kind == "Workflow"]
    body: dict[str, Any] = doc.body
    return body


def run(engine: LocalBackend, text: str) -> dict[str, Any]:
    created = engine.submit(manifest(text))
    return engine.wait(created["metadata"]["name"], timeout=60)


def by_display(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in workflow["status"]["nodes"].values()}


def log_of(engine: LocalBackend, workflow: dict[str, Any], display: str) -> list[str]:
    node = by_display(workflow)[display]
    return [line for _, line in engine.logs(workflow["metadata"]["name"], node=node["id"])]


# ---- workflow.failures --------------------------------------------------------------

FAILURES = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: failures-}
spec:
  entrypoint: main
  onExit: report
  templates:
  - name: main
    steps:
    - - {name: ok, template: pass}
    - - {name: broken, template: fail}
  - name: pass
    container: {image: alpine, command: [sh, -c, "true"]}
  - name: fail
    container: {image: alpine, command: [sh, -c, "exit 3"]}
  - name: report
    steps:
    - - {name: parse, template: parse}
      - {name: raw, template: raw}
  - name: parse
    script:
      image: python:alpine
      command: [python]
      source: |
        import json
        print(json.dumps(json.loads({{workflow.failures}})))
  - name: raw
    container:
      image: alpine
      command: [sh, -c, 'printf "%s\\n" "$0"']
      args: ["{{workflow.failures}}"]
"""


def test_workflow_failures_is_the_quoted_json_list_argo_substitutes(
    engine: LocalBackend,
) -> None:
    """Argo stores `workflow.failures` as strconv.Quote(json.Marshal(failures)): the
    substituted text keeps its outer quotes and escaped inner quotes: in a script it is
    a string literal holding the JSON list."""
    wf = run(engine, FAILURES)
    assert wf["status"]["phase"] == "Failed"
    nodes = by_display(wf)
    failed = [n for n in wf["status"]["nodes"].values() if n["phase"] in ("Failed", "Error")]
    (parsed_line,) = log_of(engine, wf, "parse")
    listed = json.loads(parsed_line)
    # Field order is the Go struct's; the list holds every Failed/Error node (Go's map
    # order, so compare as a set of entries).
    assert all(
        list(entry) == ["displayName", "message", "templateName", "phase", "podName", "finishedAt"]
        for entry in listed
    )
    expected = [
        {
            "displayName": n["displayName"],
            "message": n.get("message", ""),
            "templateName": n.get("templateName", ""),
            "phase": n["phase"],
            "podName": pod_name(wf["metadata"]["name"], n["name"], n.get("templateName", "")),
            "finishedAt": n["finishedAt"],
        }
        for n in failed
    ]
    assert sorted(listed, key=lambda e: e["displayName"]) == sorted(
        expected, key=lambda e: e["displayName"]
    )
    broken = next(e for e in listed if e["displayName"] == "broken")
    assert broken["message"] == "main: Error (exit code 3)"
    assert broken["templateName"] == "fail"
    assert broken["podName"] == pod_name(wf["metadata"]["name"], nodes["broken"]["name"], "fail")
    # Without a shell the argument is the quoted text itself, as Argo passes it.
    (raw_line,) = log_of(engine, wf, "raw")
    assert raw_line.startswith('"[{\\"displayName\\":')
    assert raw_line.endswith('"}]"')
    assert json.loads(json.loads(raw_line)) == listed


def test_workflow_failures_is_quoted_null_when_nothing_failed(engine: LocalBackend) -> None:
    """json.Marshal of an empty (nil) slice is `null`; quoted, `"null"`."""
    text = FAILURES.replace("template: fail}", "template: pass}")
    wf = run(engine, text)
    assert wf["status"]["phase"] == "Succeeded"
    assert log_of(engine, wf, "parse") == ["null"]
    assert log_of(engine, wf, "raw") == ['"null"']


# ---- ConfigMap parameters -----------------------------------------------------------

CONFIGMAPS = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: params
  labels: {workflows.argoproj.io/configmap-type: Parameter}
data: {msg: from the configmap}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unlabelled}
data: {msg: never read}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cache-typed
  labels: {workflows.argoproj.io/configmap-type: Cache}
data: {msg: never read}
"""

INPUT_FROM = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: cm-input-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: NAME, template: echo}
  - name: echo
    inputs:
      parameters:
      - name: message
        VALUE
        valueFrom:
          configMapKeyRef: {name: CM, key: KEY}
          DEFAULT
    container: {image: alpine, command: [echo, "{{inputs.parameters.message}}"]}
"""


def input_case(name: str, cm: str, key: str, default: str = "", value: str = "") -> str:
    text = INPUT_FROM.replace("NAME", name).replace("CM", cm).replace("KEY", key)
    text = text.replace("DEFAULT", f"default: {default}" if default else "")
    return text.replace("VALUE", f"default: {value}" if value else "")


@pytest.fixture
def configmaps(engine: LocalBackend) -> LocalBackend:
    for doc in parse_text(CONFIGMAPS):
        engine.apply(doc.body)
    return engine


def test_input_parameter_from_a_parameter_configmap(configmaps: LocalBackend) -> None:
    # The ConfigMap's value wins over the parameter's own `default` (ProcessArgs fetches
    # it whenever valueFrom.configMapKeyRef is set).
    wf = run(configmaps, input_case("read", "params", "msg", value="plain"))
    assert wf["status"]["phase"] == "Succeeded"
    assert log_of(configmaps, wf, "read") == ["from the configmap"]


@pytest.mark.parametrize(
    ("cm", "key"),
    [("params", "missing"), ("nowhere", "msg"), ("unlabelled", "msg")],
    ids=["missing-key", "missing-configmap", "unlabelled-configmap"],
)
def test_input_parameter_falls_back_to_default_when_not_found(
    configmaps: LocalBackend, cm: str, key: str
) -> None:
    """A missing key or ConfigMap is CodeNotFound: `valueFrom.default` stands in. The
    controller only watches labelled ConfigMaps, so an unlabelled one is missing."""
    wf = run(configmaps, input_case("read", cm, key, default="fallback"))
    assert wf["status"]["phase"] == "Succeeded"
    assert log_of(configmaps, wf, "read") == ["fallback"]


@pytest.mark.parametrize(
    ("cm", "key", "default", "reason"),
    [
        ("params", "missing", "", "ConfigMap 'params' does not have the key 'missing'"),
        (
            "unlabelled",
            "msg",
            "",
            "ConfigMap 'unlabelled' does not exist. Please make sure it has the label "
            "workflows.argoproj.io/configmap-type: Parameter to be detectable by the controller",
        ),
        (
            "cache-typed",
            "msg",
            "fallback",
            "ConfigMap 'cache-typed' needs to have the label "
            "workflows.argoproj.io/configmap-type: Parameter to load parameters",
        ),
    ],
    ids=["missing-key", "unlabelled", "wrong-type-despite-default"],
)
def test_input_parameter_refused_with_argos_message(
    configmaps: LocalBackend, cm: str, key: str, default: str, reason: str
) -> None:
    wf = run(configmaps, input_case("read", cm, key, default=default))
    node = by_display(wf)["read"]
    assert node["phase"] == "Error"
    prefix = "unable to retrieve inputs.parameters.message from ConfigMap: "
    assert node["message"] == prefix + reason
    assert wf["status"]["phase"] in ("Failed", "Error")


GLOBAL_FROM = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: cm-global-}
spec:
  entrypoint: echo
  arguments:
    parameters:
    - name: message
      valueFrom:
        configMapKeyRef: {name: CM, key: KEY}
        DEFAULT
  templates:
  - name: echo
    container: {image: alpine, command: [echo, "{{workflow.parameters.message}}"]}
"""


def global_case(cm: str, key: str, default: str = "") -> str:
    text = GLOBAL_FROM.replace("CM", cm).replace("KEY", key)
    return text.replace("DEFAULT", f"default: {default}" if default else "")


@pytest.mark.parametrize(
    ("cm", "key", "default", "expected"),
    [
        ("params", "msg", "", "from the configmap"),
        ("params", "missing", "fallback", "fallback"),
        # setGlobalParameters takes the default on any error, a wrong label included.
        ("cache-typed", "msg", "fallback", "fallback"),
    ],
)
def test_workflow_parameter_from_configmap(
    configmaps: LocalBackend, cm: str, key: str, default: str, expected: str
) -> None:
    wf = run(configmaps, global_case(cm, key, default))
    assert wf["status"]["phase"] == "Succeeded"
    assert log_of(configmaps, wf, wf["metadata"]["name"]) == [expected]


def test_workflow_parameter_without_default_fails_the_workflow(configmaps: LocalBackend) -> None:
    wf = run(configmaps, global_case("params", "missing"))
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == (
        "failed to set global parameters: failed to set global parameter message from "
        "configmap with name params and key missing: ConfigMap 'params' does not have the "
        "key 'missing'"
    )


# ---- progress -------------------------------------------------------------------------

_EXECUTABLE = {"Pod", "HTTP", "Plugin", "Container", "Suspend"}


def _complete_saves() -> list[Path]:
    """Argo-written Workflows saved whole after UpdateProgress ran: every executable node
    has its progress and every child named is there (a few test fixtures were cut)."""
    if not WRITTEN_BY_ARGO.is_dir():
        return []
    found = []
    for path in sorted(WRITTEN_BY_ARGO.glob("*.json")):
        status = json.loads(path.read_text()).get("status") or {}
        nodes = status.get("nodes") or {}
        if not nodes or "progress" not in status:
            continue
        if all(
            "phase" in n
            and (n["type"] not in _EXECUTABLE or n.get("progress"))
            and all(c in nodes for c in n.get("children") or [])
            for n in nodes.values()
        ):
            found.append(path)
    return found


def test_progress_recomputed_on_workflows_argo_wrote() -> None:
    """UpdateProgress on what Argo's controller saved gives back what it saved, on every
    node (aggregates over children, each counted once, Suspend and HTTP nodes included)
    and on the workflow."""
    saves = _complete_saves()
    if not saves:
        pytest.skip(f"Argo-written workflows are not at {WRITTEN_BY_ARGO}")
    assert len(saves) >= 10
    for path in saves:
        status = json.loads(path.read_text())["status"]
        nodes = copy.deepcopy(status["nodes"])
        for node in nodes.values():
            if node["type"] not in _EXECUTABLE:
                node.pop("progress", None)
        total, _ = update_progress(nodes)
        assert total == status["progress"], path.name
        assert {k: n.get("progress") for k, n in nodes.items()} == {
            k: n.get("progress") for k, n in status["nodes"].items()
        }, path.name


def test_progress_followed_change_by_change_on_workflows_argo_wrote() -> None:
    """The engine's incremental UpdateProgress (a run's successive snapshots) ends where
    Argo's controller did: nodes appear Pending one by one, then reach the phases Argo
    saved one by one, each change reported; children are linked as nodes appear."""
    saves = _complete_saves()
    if not saves:
        pytest.skip(f"Argo-written workflows are not at {WRITTEN_BY_ARGO}")
    for path in saves:
        status = json.loads(path.read_text())["status"]
        saved = status["nodes"]
        tracker = ProgressTracker()
        nodes: dict[str, dict[str, Any]] = {}
        total, _ = tracker.update(nodes, set())
        for nid, node in saved.items():  # Pending, without progress, no children yet
            fresh = {k: v for k, v in node.items() if k not in ("progress", "children")}
            fresh["phase"] = "Pending"
            nodes[nid] = fresh
            changed = {nid}
            for parent_id, parent in saved.items():  # linked as soon as both exist
                if parent_id in nodes and nid in (parent.get("children") or []):
                    nodes[parent_id].setdefault("children", []).append(nid)
                    changed.add(parent_id)
            for child in node.get("children") or []:
                if child in nodes:
                    fresh.setdefault("children", []).append(child)
            total, _ = tracker.update(nodes, changed)
            assert total == update_progress(copy.deepcopy(nodes))[0], path.name
        for nid, node in saved.items():
            nodes[nid]["phase"] = node["phase"]
            if node["type"] in _EXECUTABLE:
                nodes[nid]["progress"] = node["progress"]
            total, _ = tracker.update(nodes, {nid})
        assert total == status["progress"], path.name
        assert {k: n.get("progress") for k, n in nodes.items()} == {
            k: n.get("progress") for k, n in saved.items()
        }, path.name
        nodes["unreported"] = {"id": "unreported", "type": "Pod", "phase": "Succeeded"}
        done, _, all_ = status["progress"].partition("/")
        assert tracker.update(nodes, set())[0] == f"{int(done) + 1}/{int(all_) + 1}"


PROGRESS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: progress-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: ok, template: pass}
    - - {name: pause, template: pause}
    - - {name: bad, template: fail, continueOn: {failed: true}}
  - name: pass
    container: {image: alpine, command: ["true"]}
  - name: fail
    container: {image: alpine, command: ["false"]}
  - name: pause
    suspend: {}
"""


def test_progress_counts_suspend_nodes_live_and_at_the_end(engine: LocalBackend) -> None:
    created = engine.submit(manifest(PROGRESS))
    name = created["metadata"]["name"]
    deadline = time.monotonic() + 30
    while True:
        wf = engine.get(name)
        pause = by_display(wf).get("pause") if wf["status"].get("nodes") else None
        if pause is not None and pause["phase"] == "Running":
            break
        assert time.monotonic() < deadline, "the suspend node never ran"
        time.sleep(0.05)
    # While suspended: the pod done (1/1), the suspend node not (0/1).
    assert wf["status"]["progress"] == "1/2"
    assert pause["progress"] == "0/1"
    engine.resume(name)
    wf = engine.wait(name, timeout=60)
    nodes = by_display(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert wf["status"]["progress"] == "2/3"
    assert (nodes["ok"]["progress"], nodes["pause"]["progress"], nodes["bad"]["progress"]) == (
        "1/1",
        "1/1",
        "0/1",
    )
    # A step group reaches every later step through its pod's children (steps.go).
    groups = sorted(
        (n for n in wf["status"]["nodes"].values() if n["type"] == "StepGroup"),
        key=lambda n: n["displayName"],
    )
    assert [g["progress"] for g in groups] == ["2/3", "1/2", "0/1"]
    assert nodes[name]["progress"] == "2/3"


# ---- estimatedDuration, the template label, workflowTemplateRef ------------------------

TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: estimated}
spec:
  entrypoint: main
  arguments: {parameters: [{name: code, value: "0"}]}
  templates:
  - name: main
    steps:
    - - {name: nap, template: nap}
  - name: nap
    container:
      image: alpine
      command: [sh, -c, "sleep 2; exit {{workflow.parameters.code}}"]
"""


def seconds(item: dict[str, Any]) -> int:
    def parse(stamp: str) -> datetime:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)

    return int((parse(item["finishedAt"]) - parse(item["startedAt"])).total_seconds())


def from_template(engine: LocalBackend, **parameters: str) -> dict[str, Any]:
    created = engine.submit_from("workflowtemplate/estimated", parameters=parameters)
    return engine.wait(created["metadata"]["name"], timeout=60)


def test_estimated_duration_from_the_newest_succeeded_run_of_the_template(
    engine: LocalBackend,
) -> None:
    """estimator_factory.go: the baseline is the newest Succeeded workflow carrying the
    same workflow-template label; the workflow gets its duration, each node that of the
    baseline's node of the same name (the workflow name swapped)."""
    engine.apply(manifest_of(TEMPLATE))
    first = from_template(engine)
    assert first["status"]["phase"] == "Succeeded"
    assert "estimatedDuration" not in first["status"]  # no baseline yet
    assert all("estimatedDuration" not in n for n in first["status"]["nodes"].values())
    # A failed run is never a baseline.
    failed = from_template(engine, code="1")
    assert failed["status"]["phase"] == "Failed"
    assert failed["status"]["estimatedDuration"] == seconds(first["status"]) >= 2
    second = from_template(engine)
    assert second["status"]["estimatedDuration"] == seconds(first["status"])
    old, new = by_display(first), by_display(second)
    assert new["nap"]["estimatedDuration"] == seconds(old["nap"]) >= 2
    root = second["metadata"]["name"]
    assert new[root]["estimatedDuration"] == seconds(old[first["metadata"]["name"]])
    # The next one follows the newest success.
    third = from_template(engine)
    assert third["status"]["estimatedDuration"] == seconds(second["status"])
    # A workflow without the label has no baseline.
    plain = run(engine, FAILURES.replace("template: fail}", "template: pass}"))
    assert "estimatedDuration" not in plain["status"]


def manifest_of(text: str) -> dict[str, Any]:
    (doc,) = parse_text(text)
    body: dict[str, Any] = doc.body
    return body


def test_submitted_from_a_template_keeps_its_ref_and_label(engine: LocalBackend) -> None:
    """NewWorkflowFromWorkflowTemplate: a `workflowTemplateRef` and the
    workflow-template label; ApplySubmitOpts puts `-p` on the Workflow's own spec. The
    controller leaves `spec` as submitted and runs the merge it keeps in
    status.storedWorkflowTemplateSpec (setStoredWfSpec, JoinWorkflowSpec)."""
    engine.apply(manifest_of(TEMPLATE))
    wf = from_template(engine, code="0")
    assert wf["status"]["phase"] == "Succeeded"
    assert wf["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] == "estimated"
    assert wf["metadata"]["generateName"] == "estimated-"
    assert wf["spec"] == {
        "workflowTemplateRef": {"name": "estimated"},
        "arguments": {"parameters": [{"name": "code", "value": "0"}]},
    }
    stored = wf["status"]["storedWorkflowTemplateSpec"]
    assert stored["workflowTemplateRef"] == {"name": "estimated"}
    assert stored["entrypoint"] == "main"
    assert [t["name"] for t in stored["templates"]] == ["main", "nap"]
    # Stored as it is shown.
    assert engine.get(wf["metadata"]["name"])["spec"] == wf["spec"]


def test_a_workflow_with_a_template_ref_keeps_it(engine: LocalBackend) -> None:
    """A Workflow written with `workflowTemplateRef` (not through --from) gets no label."""
    engine.apply(manifest_of(TEMPLATE))
    wf = run(
        engine,
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: by-ref-}
spec:
  workflowTemplateRef: {name: estimated}
  entrypoint: main
""",
    )
    assert wf["status"]["phase"] == "Succeeded"
    assert wf["spec"] == {"workflowTemplateRef": {"name": "estimated"}, "entrypoint": "main"}
    assert "workflows.argoproj.io/workflow-template" not in wf["metadata"].get("labels", {})
    assert wf["status"]["storedWorkflowTemplateSpec"]["arguments"] == {
        "parameters": [{"name": "code", "value": "0"}]
    }


# ---- status.artifactRepositoryRef -----------------------------------------------------

REPOSITORIES = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: artifact-repositories
  annotations: {workflows.argoproj.io/default-artifact-repository: default-v1}
data:
  default-v1: |
    s3:
      bucket: my-bucket
      endpoint: minio:9000
      insecure: true
"""


def written_by_argo(name: str) -> dict[str, Any]:
    path = WRITTEN_BY_ARGO / name
    if not path.exists():
        pytest.skip(f"Argo-written workflows are not at {WRITTEN_BY_ARGO}")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_artifact_repository_ref_of_the_controller_default(engine: LocalBackend) -> None:
    """artifactrepositories.go Resolve/get: with no ConfigMap, the `default` candidate,
    the controller's repository written in; the local store is none of Argo's, so `{}`,
    as Argo writes when its controller configures none."""
    argo = written_by_argo("workflow_util_util_test.go__8.0__fail-two-nested-dag-suspend.json")
    assert argo["status"]["artifactRepositoryRef"] == {"artifactRepository": {}, "default": True}
    wf = run(engine, FAILURES.replace("template: fail}", "template: pass}"))
    assert wf["status"]["artifactRepositoryRef"] == {"default": True, "artifactRepository": {}}


def test_artifact_repository_ref_from_the_namespace_configmap(engine: LocalBackend) -> None:
    """The namespace's `artifact-repositories` ConfigMap, its key from the annotation,
    the repository written in, with the fields Argo writes."""
    argo = written_by_argo("workflow_util_util_test.go__9.0__steps-4k5vn.json")
    engine.apply(manifest_of(REPOSITORIES))
    wf = run(engine, FAILURES.replace("template: fail}", "template: pass}"))
    ref = wf["status"]["artifactRepositoryRef"]
    assert set(ref) == set(argo["status"]["artifactRepositoryRef"])
    assert ref == {
        "namespace": "default",
        "configMap": "artifact-repositories",
        "key": "default-v1",
        "artifactRepository": {
            "s3": {"bucket": "my-bucket", "endpoint": "minio:9000", "insecure": True}
        },
    }


# ---- global output artifacts ----------------------------------------------------------


def test_global_output_artifacts_reach_later_steps_and_the_exit_handler(
    engine: LocalBackend,
) -> None:
    """Argo's examples/global-outputs.yaml (its e2e suite expects Succeeded): the
    artifact exported with `globalName` is `from`-able as
    `{{workflow.outputs.artifacts.NAME}}` by a later step and by the exit handler, and
    is written to status.outputs as addArtifactToGlobalScope writes it (named by its
    globalName, without path or globalName)."""
    path = ARGO / "examples" / "global-outputs.yaml"
    if not path.exists():
        pytest.skip(f"Argo's examples are not at {path.parent}")
    wf = run(engine, path.read_text())
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    consumers = [
        n for n in wf["status"]["nodes"].values() if n["displayName"] == "consume-global-art"
    ]
    assert len(consumers) == 2  # the step, and the same template in the exit handler
    for node in consumers:
        lines = [line for _, line in engine.logs(wf["metadata"]["name"], node=node["id"])]
        assert lines == ["hello world"]
    outputs = wf["status"]["outputs"]
    assert outputs["parameters"] == [{"name": "my-global-param", "value": "hello world"}]
    (art,) = outputs["artifacts"]
    assert art["name"] == "my-global-art"
    assert "path" not in art
    assert "globalName" not in art
    produced = next(
        a
        for n in wf["status"]["nodes"].values()
        for a in (n.get("outputs") or {}).get("artifacts") or []
        if a.get("globalName") == "my-global-art"
    )
    assert {k: v for k, v in produced.items() if k not in ("name", "path", "globalName")} == {
        k: v for k, v in art.items() if k != "name"
    }


# ---- the workflow's activeDeadlineSeconds -------------------------------------------

DEADLINE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: deadline-}
spec:
  entrypoint: main
  activeDeadlineSeconds: 2
  onExit: bye
  templates:
  - name: main
    steps:
    - - {name: nap, template: nap}
      - {name: pause, template: pause}
      - {name: again, template: nap-retried}
    - - {name: later, template: nap}
  - name: nap
    container: {image: alpine, command: [sleep, "30"]}
  - name: nap-retried
    retryStrategy: {limit: 3}
    container: {image: alpine, command: [sleep, "30"]}
  - name: pause
    suspend: {}
  - name: bye
    container: {image: alpine, command: [sh, -c, "sleep 3; echo {{workflow.status}}"]}
"""


def test_workflow_deadline_fails_its_steps_with_argos_messages(engine: LocalBackend) -> None:
    """The workflow deadline is no shutdown (operator.go, exec_control.go): a running pod,
    whose own activeDeadlineSeconds Argo sets to what is left of the workflow's
    (workflowpod.go), ends as the kubelet ends it; a waiting suspend node ends Failed with
    "Step exceeded its deadline" (failNodesWithoutCreatedPodsAfterDeadlineOrShutdown); a
    retry node stops with "retry exceeded workflow deadline <deadline>"; the workflow's
    message is its root node's; the exit handler, exempt from the deadline, still runs
    (hooks_test.go TestExitHandlerWithWorkflowLevelDeadline: Failed, exit node Succeeded)."""
    wf = run(engine, DEADLINE)
    status = wf["status"]
    nodes = by_display(wf)
    name = wf["metadata"]["name"]
    assert status["phase"] == "Failed"
    assert status["message"] == nodes[name]["message"]
    assert "Stopped with strategy" not in json.dumps(status)
    assert (nodes["nap"]["phase"], nodes["nap"]["message"]) == (
        "Failed",
        "Pod was active on the node longer than the specified deadline",
    )
    assert (nodes["pause"]["phase"], nodes["pause"]["message"]) == (
        "Failed",
        "Step exceeded its deadline",
    )
    assert nodes["again(0)"]["message"] == (
        "Pod was active on the node longer than the specified deadline"
    )
    started = datetime.strptime(status["startedAt"], "%Y-%m-%dT%H:%M:%SZ")
    deadline = (started + timedelta(seconds=2)).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    assert nodes["again"]["message"] == f"retry exceeded workflow deadline {deadline}"
    assert "later" not in nodes  # its step group never starts after a failed one
    exit_node = nodes[f"{name}.onExit"]
    assert exit_node["phase"] == "Succeeded"
    assert exit_node["nodeFlag"] == {"hooked": True}
    assert log_of(engine, wf, f"{name}.onExit") == ["Failed"]
