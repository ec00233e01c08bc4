"""Lifecycle hooks (docs/lifecyclehook.md) against Argo's hooks.go, steps.go, dag.go and
operator.go: a step, task or workflow waits for its started hook nodes
(`hookCompleted`, `CheckAllHooksFullfilled`), so no hook node outlives the workflow; a
workflow's own expression hooks run once, as `<workflow>.hooks.<name>`."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.spec.parse import parse_text
from jupyter_argo.status import node_id


@pytest.fixture
def engine() -> LocalBackend:
    return LocalBackend()


def run(engine: LocalBackend, text: str) -> dict[str, Any]:
    (doc,) = [d for d in parse_text(text) if d.kind == "Workflow"]
    created = engine.submit(doc.body)
    return engine.wait(created["metadata"]["name"], timeout=60)


def by_name(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in workflow["status"]["nodes"].values()}


def unfinished(workflow: dict[str, Any]) -> list[str]:
    return [
        f"{n['name']}={n['phase']}"
        for n in workflow["status"]["nodes"].values()
        if n["phase"] in ("Running", "Pending")
    ]


# The `running` hook outlasts its step and the step's exit hook: before the fix the
# workflow ended while the hook node was still Running.
STEP_HOOKS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: step-hooks-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: step1
            template: work
            hooks:
              running:
                expression: steps["step1"].status == "Running"
                template: notify
              exit:
                template: bye
    - name: work
      container: {image: alpine, command: [sh, -c], args: ["sleep 0.2"]}
    - name: notify
      container: {image: alpine, command: [sh, -c], args: ["sleep 0.6; echo hooked"]}
    - name: bye
      container: {image: alpine, command: [sh, -c], args: ["echo bye"]}
"""


def test_a_step_waits_for_its_lifecycle_hooks_in_every_run(engine: LocalBackend) -> None:
    for _ in range(20):
        wf = run(engine, STEP_HOOKS)
        name = wf["metadata"]["name"]
        assert wf["status"]["phase"] == "Succeeded"
        assert unfinished(wf) == []
        nodes = by_name(wf)
        step = nodes[f"{name}[0].step1"]
        hook = nodes[f"{name}[0].step1.hooks.running"]  # generateLifeHookNodeName
        on_exit = nodes[f"{name}[0].step1.onExit"]
        assert hook["phase"] == "Succeeded"
        assert hook["displayName"] == "step1.hooks.running"
        assert hook["nodeFlag"] == {"hooked": True}
        assert hook["boundaryID"] == node_id(name, name)
        assert {hook["id"], on_exit["id"]} <= set(step["children"])
        assert on_exit["phase"] == "Succeeded"
        # steps.go runs the exit hook only once the lifecycle hooks are complete.
        assert on_exit["startedAt"] >= hook["finishedAt"]
        assert wf["status"]["finishedAt"] >= hook["finishedAt"]


DAG_HOOKS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-hooks-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: a
            template: work
            hooks:
              running:
                expression: tasks.a.status == "Running"
                template: notify
              done:
                expression: tasks.a.status == "Succeeded"
                template: notify
              failed:
                expression: tasks.a.status == "Failed"
                template: notify
          - name: b
            template: work
            depends: a
    - name: work
      container: {image: alpine, command: [sh, -c], args: ["sleep 0.2"]}
    - name: notify
      container: {image: alpine, command: [sh, -c], args: ["sleep 1"]}
"""


def test_a_task_waits_for_its_hooks_and_so_do_its_dependents(engine: LocalBackend) -> None:
    for _ in range(5):
        wf = run(engine, DAG_HOOKS)
        name = wf["metadata"]["name"]
        assert wf["status"]["phase"] == "Succeeded"
        assert unfinished(wf) == []
        nodes = by_name(wf)
        task_a = nodes[f"{name}.a"]
        running = nodes[f"{name}.a.hooks.running"]
        done = nodes[f"{name}.a.hooks.done"]
        assert f"{name}.a.hooks.failed" not in nodes
        assert running["phase"] == done["phase"] == "Succeeded"
        assert running["displayName"] == "a.hooks.running"
        assert {running["id"], done["id"]} <= set(task_a["children"])
        # CheckAllHooksFullfilled: `b` starts once a's hook nodes are fulfilled
        # (each hook sleeps 1 s, so this compares distinct seconds).
        task_b = nodes[f"{name}.b"]
        assert task_b["startedAt"] >= max(running["finishedAt"], done["finishedAt"])
        assert task_b["startedAt"] > task_a["finishedAt"]


WORKFLOW_HOOKS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: workflow-hooks-
spec:
  entrypoint: main
  hooks:
    exit:
      template: bye
    running:
      expression: workflow.status == "Running"
      template: notify
    succeeded:
      expression: workflow.status == "Succeeded"
      template: notify
    failed:
      expression: workflow.status == "Failed"
      template: notify
  templates:
    - name: main
      steps:
        - - name: step1
            template: work
    - name: work
      container: {image: alpine, command: [sh, -c], args: ["sleep 0.3"]}
    - name: notify
      container: {image: alpine, command: [sh, -c], args: ["sleep 0.5; echo hooked"]}
    - name: bye
      container: {image: alpine, command: [sh, -c], args: ["echo bye"]}
"""


def test_workflow_expression_hooks_run_once_under_the_root(engine: LocalBackend) -> None:
    wf = run(engine, WORKFLOW_HOOKS)
    name = wf["metadata"]["name"]
    assert wf["status"]["phase"] == "Succeeded"
    assert unfinished(wf) == []
    nodes = by_name(wf)
    hook_nodes = sorted(n for n in nodes if ".hooks." in n)
    assert hook_nodes == [f"{name}.hooks.running", f"{name}.hooks.succeeded"]
    root = nodes[name]
    for hook_name in hook_nodes:
        hook = nodes[hook_name]
        assert hook["phase"] == "Succeeded"
        assert hook["displayName"] == hook_name  # no boundary: the whole name
        assert "boundaryID" not in hook
        assert hook["nodeFlag"] == {"hooked": True}
        assert hook["templateName"] == "notify"
        assert hook["id"] in root["children"]
    # `running` starts while the entry template runs; `succeeded` once it is done; the
    # exit handler only after both (operate returns while hookCompleted is false).
    running, succeeded = nodes[f"{name}.hooks.running"], nodes[f"{name}.hooks.succeeded"]
    assert running["startedAt"] <= nodes[f"{name}[0].step1"]["finishedAt"]
    assert succeeded["startedAt"] >= root["finishedAt"]
    on_exit = nodes[f"{name}.onExit"]
    assert on_exit["phase"] == "Succeeded"
    assert on_exit["startedAt"] >= max(running["finishedAt"], succeeded["finishedAt"])


def test_a_failed_workflow_runs_its_failed_hook(engine: LocalBackend) -> None:
    text = WORKFLOW_HOOKS.replace('args: ["sleep 0.3"]', 'args: ["exit 1"]')
    wf = run(engine, text)
    name = wf["metadata"]["name"]
    assert wf["status"]["phase"] == "Failed"
    assert unfinished(wf) == []
    nodes = by_name(wf)
    assert nodes[f"{name}.hooks.failed"]["phase"] == "Succeeded"
    assert f"{name}.hooks.succeeded" not in nodes
