"""DAG and `when` corner cases (issue 14, item 7), expected values from Argo's controller.

- A failure deep inside nested DAGs reaches the workflow: assessDAGPhase (dag.go) walks
  past a Retry node through getRetryNodeChildrenIds (operator.go), i.e. the children of
  its attempts, so a task that hangs under the last attempt inherits its failed branch.
- A step or task skipped by `when` has nothing else resolved: resolveReferences
  (steps.go) and resolveDependencyReferences (dag.go) substitute and evaluate `when`
  first and return the step or task as it is when it evaluates false.
- `when` is substituted as Argo does (the string JSON-marshalled, ReplaceStrict, which
  JSON-unescapes an expression before running it and inserts a string result as it is,
  then unmarshalled), then evaluated by govaluate (shouldExecute); a skipped node's
  message is `when '<substituted when>' evaluated false`.
"""

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
    """Nodes by their name with the workflow's name cut off (`.a.b(1)`, `[1].use`)."""
    prefix = workflow["metadata"]["name"]
    return {n["name"][len(prefix) :]: n for n in workflow["status"]["nodes"].values()}


_FAIL = """
    - name: fail
      container:
        image: alpine
        command: [sh, -c, "exit 1"]
    - name: ok
      container:
        image: alpine
        command: [sh, -c, "exit 0"]
"""

NESTED_RETRY_TASK = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: nested-retry-task-
spec:
  entrypoint: outer
  templates:
    - name: outer
      dag:
        tasks:
          - name: a
            template: inner
          - name: c
            template: ok
            depends: a
    - name: inner
      dag:
        tasks:
          - name: b
            template: fail
            # a retryStrategy on the task's template: its node is a Retry node
    - name: fail
      retryStrategy:
        limit: 1
      container:
        image: alpine
        command: [sh, -c, "exit 1"]
    - name: ok
      container:
        image: alpine
        command: [sh, -c, "exit 0"]
"""


def test_nested_dag_task_out_of_retries_fails_the_workflow(engine: LocalBackend) -> None:
    wf = run(engine, NESTED_RETRY_TASK)
    nodes = by_name(wf)
    assert nodes[".a.b"]["type"] == "Retry"
    assert (nodes[".a.b"]["phase"], nodes[".a.b"]["message"]) == ("Failed", "No more retries left")
    assert [nodes[f".a.b({i})"]["phase"] for i in range(2)] == ["Failed", "Failed"]
    assert nodes[".a"]["phase"] == "Failed"
    # c depends on a: Omitted, and linked under a's outbound node, the last attempt.
    assert (nodes[".c"]["phase"], nodes[".c"]["message"]) == (
        "Omitted",
        "omitted: depends condition not met",
    )
    assert nodes[".c"]["id"] in nodes[".a.b(1)"]["children"]
    # The omitted target inherits its branch's Failed: the DAG and the workflow fail.
    assert nodes[""]["phase"] == "Failed"
    assert wf["status"]["phase"] == "Failed"


def test_nested_dag_retried_as_a_whole_fails_the_workflow(engine: LocalBackend) -> None:
    text = NESTED_RETRY_TASK.replace(
        "    - name: inner\n      dag:",
        "    - name: inner\n      retryStrategy:\n        limit: 1\n      dag:",
    ).replace("      retryStrategy:\n        limit: 1\n      container:", "      container:")
    wf = run(engine, text)
    nodes = by_name(wf)
    assert nodes[".a"]["type"] == "Retry"
    assert [nodes[f".a({i})"]["type"] for i in range(2)] == ["DAG", "DAG"]
    assert (nodes[".a"]["phase"], nodes[".a"]["message"]) == ("Failed", "No more retries left")
    # getOutboundNodes of a Retry node is its last child: c hangs under a(1).
    assert nodes[".c"]["id"] in nodes[".a(1)"]["children"]
    assert nodes[".c"]["phase"] == "Omitted"
    assert wf["status"]["phase"] == "Failed"


def test_nested_dag_failure_without_dependents_fails_the_workflow(engine: LocalBackend) -> None:
    text = NESTED_RETRY_TASK.replace(
        "          - name: c\n            template: ok\n            depends: a\n", ""
    )
    wf = run(engine, text)
    nodes = by_name(wf)
    assert ".c" not in nodes
    assert [nodes[n]["phase"] for n in ("", ".a", ".a.b")] == ["Failed"] * 3
    assert wf["status"]["phase"] == "Failed"


SKIPPED_DAG_TASK = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: skipped-task-args-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: probe
            template: probe
          - name: use
            depends: probe
            when: "{{tasks.probe.outputs.result}} != none"
            template: show
            arguments:
              parameters:
                # only JSON when the probe found something
                - name: size
                  value: "{{=jsonpath(tasks.probe.outputs.result, '$.size')}}"
              artifacts:
                - name: data
                  from: "{{tasks.probe.outputs.artifacts.data}}"
    - name: probe
      script:
        image: alpine
        command: [sh]
        source: echo none
    - name: show
      inputs:
        parameters:
          - name: size
        artifacts:
          - name: data
            path: /tmp/data
      container:
        image: alpine
        command: [sh, -c, "cat /tmp/data"]
"""


def test_dag_task_skipped_by_when_has_its_arguments_left_alone(engine: LocalBackend) -> None:
    wf = run(engine, SKIPPED_DAG_TASK)
    nodes = by_name(wf)
    assert nodes[".use"]["type"] == "Skipped"
    assert (nodes[".use"]["phase"], nodes[".use"]["message"]) == (
        "Skipped",
        "when 'none != none' evaluated false",
    )
    assert wf["status"]["phase"] == "Succeeded"


def test_dag_task_that_runs_still_resolves_its_arguments(engine: LocalBackend) -> None:
    """The other side: when `when` holds, the same arguments are resolved and fail."""
    wf = run(engine, SKIPPED_DAG_TASK.replace("!= none", "== none"))
    nodes = by_name(wf)
    assert (nodes[".use"]["type"], nodes[".use"]["phase"]) == ("Skipped", "Error")
    assert wf["status"]["phase"] != "Succeeded"


def test_step_skipped_by_when_has_its_arguments_left_alone(engine: LocalBackend) -> None:
    text = (
        SKIPPED_DAG_TASK.replace("skipped-task-args-", "skipped-step-args-")
        .replace(
            """      dag:
        tasks:
          - name: probe
            template: probe
          - name: use
            depends: probe
            when: "{{tasks.probe.outputs.result}} != none"
            template: show
            arguments:
              parameters:""",
            """      steps:
        - - name: probe
            template: probe
        - - name: use
            when: "{{steps.probe.outputs.result}} != none"
            template: show
            arguments:
              parameters:""",
        )
        .replace("tasks.probe", "steps.probe")
    )
    wf = run(engine, text)
    nodes = by_name(wf)
    assert (nodes["[1].use"]["phase"], nodes["[1].use"]["message"]) == (
        "Skipped",
        "when 'none != none' evaluated false",
    )
    assert nodes["[1]"]["phase"] == "Succeeded"
    assert wf["status"]["phase"] == "Succeeded"


# A YAML block keeps the line breaks; the expression sits inside a govaluate string and
# its own string literal '","' holds double quotes (JSON-escaped while Argo substitutes).
MULTI_LINE_WHEN = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: multi-line-when-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: gen
            template: gen
        - - name: green
            template: ok
            when: |
              "green" in
                ("{{=join(jsonpath(steps.gen.outputs.result, '$'), '","')}}")
          - name: blue
            template: ok
            when: |
              "blue" in
                ("{{=join(jsonpath(steps.gen.outputs.result, '$'), '","')}}")
          - name: each
            template: ok
            withItems: [red, blue]
            when: |
              "{{item}}" in
                ("{{=join(jsonpath(steps.gen.outputs.result, '$'), '","')}}")
        - - name: dag
            template: dag
            arguments:
              parameters:
                - name: colours
                  value: "{{steps.gen.outputs.result}}"
    - name: dag
      inputs:
        parameters:
          - name: colours
      dag:
        tasks:
          - name: green
            template: ok
            when: |
              {{=
                "green" in jsonpath(inputs.parameters.colours, '$')
              }}
          - name: blue
            template: ok
            when: >-
              "blue" in
              ("{{=join(jsonpath(inputs.parameters.colours, '$'), '","')}}")
    - name: gen
      script:
        image: alpine
        command: [sh]
        source: |
          echo '["red","green"]'
    - name: ok
      container:
        image: alpine
        command: [sh, -c, "exit 0"]
"""


def test_multi_line_when_with_expression_in_quotes(engine: LocalBackend) -> None:
    wf = run(engine, MULTI_LINE_WHEN)
    nodes = by_name(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert nodes["[1].green"]["phase"] == "Succeeded"
    assert nodes["[1].blue"]["phase"] == "Skipped"
    assert nodes["[1].blue"]["message"] == (
        'when \'"blue" in\n  ("red","green")\n\' evaluated false'
    )
    assert nodes["[1].each(0:red)"]["phase"] == "Succeeded"
    assert nodes["[1].each(1:blue)"]["phase"] == "Skipped"
    assert nodes["[1].each(1:blue)"]["message"] == nodes["[1].blue"]["message"]
    assert nodes["[2].dag.green"]["phase"] == "Succeeded"
    assert (nodes["[2].dag.blue"]["phase"], nodes["[2].dag.blue"]["message"]) == (
        "Skipped",
        # `>-` folds its two lines into one
        'when \'"blue" in ("red","green")\' evaluated false',
    )
    root = wf["status"]["nodes"][node_id(wf["metadata"]["name"], wf["metadata"]["name"])]
    assert root["phase"] == "Succeeded"
