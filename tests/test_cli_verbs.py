"""`submit --from`, `node set`, `stop --node-field-selector`, retry/resubmit `-p` and
`logs --grep/--tail` through the `jupyter-argo` command on the local backend, each in its
own process like `argo`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from test_cli_runs import HELLO, cli

TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: greeter
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: who
      value: world
  templates:
  - name: main
    inputs:
      parameters:
      - name: who
    container:
      image: argoproj/argosay:v2
      args: [echo, "hello {{inputs.parameters.who}}"]
"""

APPROVAL = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: approval-
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: approve
        template: approve
    - - name: release
        template: say
        arguments:
          parameters:
          - name: message
            value: "{{steps.approve.outputs.parameters.message}}"
  - name: approve
    suspend: {}
    outputs:
      parameters:
      - name: message
        globalName: approval
        valueFrom:
          supplied: {}
  - name: say
    inputs:
      parameters:
      - name: message
    container:
      image: argoproj/argosay:v2
      args: [echo, "released: {{inputs.parameters.message}}"]
"""


def get(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(cli("get", name, "-o", "json").stdout)
    return found


def node(workflow: dict[str, Any], display: str) -> dict[str, Any]:
    nodes = workflow["status"].get("nodes") or {}
    return next(n for n in nodes.values() if n.get("displayName") == display)


def wait_for_node(name: str, display: str, phase: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if node(get(name), display)["phase"] == phase:
                return
        except StopIteration:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{name}: node {display} never {phase}")


def test_submit_from_a_workflow_template_with_parameters(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(TEMPLATE)
    cli("apply", str(tmp_path / "t.yaml"))
    done = cli("submit", "--from", "workflowtemplate/greeter", "-p", "who=argo", "--wait")
    assert "Succeeded" in done.stdout
    listed = json.loads(cli("list", "-o", "json").stdout)
    workflow = listed[0]
    assert workflow["metadata"]["generateName"] == "greeter-"
    assert workflow["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] == "greeter"
    # The Workflow keeps its reference; the merged spec is in its status (as Argo's).
    assert workflow["spec"]["workflowTemplateRef"] == {"name": "greeter"}
    assert "templates" not in workflow["spec"]
    logs = cli("logs", workflow["metadata"]["name"]).stdout
    assert logs.strip().endswith("hello argo")
    wrong = cli("submit", "--from", "greeter", check=False)
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == (
        "jupyter-argo: resource identifier 'greeter' is malformed. Should be `kind/name`, "
        "e.g. cronwf/hello-world-cwf"
    )
    both = cli("submit", str(tmp_path / "t.yaml"), "--from", "wftmpl/greeter", check=False)
    assert both.stderr.strip() == "jupyter-argo: cannot combine --from with file arguments"


def test_node_set_from_another_process_supplies_the_output_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "approval.yaml"
    path.write_text(APPROVAL)
    name = json.loads(cli("submit", str(path), "-o", "json").stdout)["metadata"]["name"]
    wait_for_node(name, "approve", "Running")
    missing = cli("node", "set", name, "--node-field-selector", "displayName=nope", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "jupyter-argo: currently, set only targets suspend nodes: no suspend nodes matching "
        "nodeFieldSelector: displayName=nope"
    )
    wrong = cli(
        "node", "set", name, "--node-field-selector", "displayName=approve", "-p", "x=1",
        check=False,
    )  # fmt: skip
    assert wrong.stderr.strip() == "jupyter-argo: node is not expecting output parameter 'x'"
    done = cli(
        "node", "set", name, "--node-field-selector", "displayName=approve",
        "-p", 'message="ship it"', "--phase", "Succeeded", "-m", "approved by ops",
    )  # fmt: skip
    assert done.stdout.strip() == "workflow values set"
    assert cli("wait", name, timeout=60).returncode == 0
    final = get(name)
    approve = node(final, "approve")
    assert approve["message"] == "approved by ops"
    assert approve["outputs"]["parameters"][0]["value"] == "ship it"
    assert final["status"]["outputs"]["parameters"] == [{"name": "approval", "value": "ship it"}]
    assert "released: ship it" in cli("logs", name).stdout


def test_stop_by_node_field_selector_fails_only_that_suspend_node(tmp_path: Path) -> None:
    path = tmp_path / "approval.yaml"
    path.write_text(APPROVAL)
    name = json.loads(cli("submit", str(path), "-o", "json").stdout)["metadata"]["name"]
    wait_for_node(name, "approve", "Running")
    cli("stop", name, "--node-field-selector", "displayName=approve", "--message", "rejected")
    assert cli("wait", name, check=False, timeout=60).returncode == 1
    final = get(name)
    approve = node(final, "approve")
    assert (approve["phase"], approve["message"]) == ("Failed", "rejected")
    assert final["spec"].get("shutdown") is None  # the workflow itself was not stopped


def test_resubmit_and_retry_take_parameters_and_logs_filter(tmp_path: Path) -> None:
    path = tmp_path / "hello.yaml"
    path.write_text(HELLO)
    first = json.loads(cli("run", str(path), "-o", "json").stdout)["metadata"]["name"]
    again = cli("resubmit", first, "-p", "who=again").stdout.split()[1]
    assert cli("wait", again).returncode == 0
    params = get(again)["spec"]["arguments"]["parameters"]
    assert params == [{"name": "who", "value": "again"}]
    assert cli("logs", again).stdout.strip().endswith("hello again")
    assert cli("logs", again, "--grep", "nothing-like-this").stdout == ""
    assert cli("logs", again, "--grep", "hel+o", "--tail", "1").stdout.strip().endswith("again")
    memo = cli("resubmit", first, "--memoized", check=False)  # it Succeeded: Argo refuses
    assert memo.returncode == 1
    assert "workflow must be Failed/Error to resubmit in memoized mode" in memo.stderr
    refused = cli("retry", first, "-p", "who=x", check=False)  # it Succeeded: nothing to retry
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "jupyter-argo: To retry a succeeded workflow, set the options restartSuccessful and "
        "nodeFieldSelector"
    )


RETRYABLE = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: retryable-
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: code
      value: "1"
  templates:
  - name: main
    steps:
    - - name: ok
        template: code
        arguments: {parameters: [{name: c, value: "0"}]}
    - - name: maybe
        template: code
        arguments: {parameters: [{name: c, value: "{{workflow.parameters.code}}"}]}
  - name: code
    inputs: {parameters: [{name: c}]}
    script:
      image: python:alpine3.23
      command: [python3]
      source: |
        import sys, time
        time.sleep(1)
        sys.exit({{inputs.parameters.c}})
"""


def test_retry_from_the_command_line_outlives_the_command(tmp_path: Path) -> None:
    """`jupyter-argo retry` returns at once and the retried run goes on without it, to
    Succeeded (it used to end Error when the command's process exited)."""
    path = tmp_path / "retryable.yaml"
    path.write_text(RETRYABLE)
    failed = json.loads(cli("run", str(path), "-o", "json", check=False).stdout)
    name = failed["metadata"]["name"]
    assert failed["status"]["phase"] == "Failed"
    ok_before = node(failed, "ok")
    began = time.monotonic()
    assert name in cli("retry", name, "-p", "code=0").stdout
    assert time.monotonic() - began < 10
    assert cli("wait", name).returncode == 0
    final = get(name)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    assert node(final, "ok")["startedAt"] == ok_before["startedAt"]  # kept, not rerun
    assert node(final, "maybe")["phase"] == "Succeeded"
