"""The rules of Argo's validator, as `lint` applies them."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from jupyter_argo.errors import LintError
from jupyter_argo.spec.lint import Diagnostic, lint, lint_text, raise_for
from jupyter_argo.spec.parse import parse_text


def workflow(templates: str, spec: str = "entrypoint: main", kind: str = "Workflow") -> str:
    """A manifest around `templates`, whose first line's indentation is removed throughout
    (so an indented block and the flush-left HELLO can be joined)."""
    lines = templates.splitlines()
    pad = " " * (len(lines[0]) - len(lines[0].lstrip()))
    flush = "\n".join(line.removeprefix(pad) for line in lines) + "\n"
    head = f"apiVersion: argoproj.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: wf\n"
    return (
        head
        + "spec:\n"
        + textwrap.indent(spec, "  ")
        + "\n  templates:\n"
        + textwrap.indent(flush, "  ")
    )


HELLO = """\
- name: hello
  inputs:
    parameters:
    - name: message
  container:
    image: busybox
    args: ["{{inputs.parameters.message}}"]
"""


def errors(text: str, **kwargs: Any) -> list[str]:
    return [str(d) for d in lint_text(text, "wf.yaml", **kwargs) if d.severity == "error"]


def only_error(text: str, **kwargs: Any) -> str:
    found = errors(text, **kwargs)
    assert len(found) == 1, "\n".join(found)
    return found[0]


def test_clean_workflow_has_no_findings() -> None:
    text = workflow(
        """\
        - name: main
          steps:
          - - name: hi
              template: hello
              arguments:
                parameters: [{name: message, value: hi}]
        """
        + HELLO
    )
    assert lint_text(text) == []


def test_message_format_is_file_line_col_path_message_hint() -> None:
    text = workflow(
        """\
        - name: main
          steps:
          - - name: hi
              template: hell0
        """
        + HELLO
    )
    assert only_error(text) == (
        "wf.yaml:11:19: spec.templates[0].steps[0][0].template: "
        "template name 'hell0' undefined (did you mean 'hello'?)"
    )


def test_entrypoint_must_be_a_template() -> None:
    text = workflow("- name: main\n  container: {image: a}\n", "entrypoint: mian")
    assert "spec.entrypoint: template name 'mian' undefined (did you mean 'main'?)" in only_error(
        text
    )
    text = workflow("- name: main\n  container: {image: a}\n", "arguments: {}")
    assert "spec.entrypoint is required" in only_error(text)
    # A WorkflowTemplate need not have one.
    text = workflow(
        "- name: main\n  container: {image: a}\n", "arguments: {}", kind="WorkflowTemplate"
    )
    assert errors(text) == []


def test_duplicate_template_step_and_task_names() -> None:
    text = workflow(
        """\
        - name: main
          steps:
          - - {name: a, template: b}
          - - {name: a, template: b}
        - name: b
          dag:
            tasks:
            - {name: x, template: c}
            - {name: x, template: c}
        - name: c
          container: {image: a}
        - name: c
          suspend: {}
        """
    )
    found = errors(text)
    assert any("steps[1].name 'a' is not unique" in f for f in found)
    assert any("tasks[1].name 'x' is not unique" in f for f in found)
    assert any("template name 'c' is not unique" in f for f in found)


def test_more_than_one_template_type() -> None:
    text = workflow("- name: main\n  container: {image: a}\n  script: {image: b, source: x}\n")
    assert "multiple template types specified: container, script" in only_error(text)
    text = workflow("- name: main\n  inputs: {}\n")
    assert "template 'main' has no template type" in only_error(text)


def test_required_input_not_supplied() -> None:
    text = workflow(
        """\
        - name: main
          steps:
          - - name: hi
              template: hello
        """
        + HELLO
    )
    message = only_error(text)
    assert "spec.templates[0].steps[0][0]: inputs.parameters.message was not supplied" in message
    assert "template 'hello' needs it" in message


def test_entrypoint_inputs_come_from_spec_arguments() -> None:
    templates = HELLO.replace("hello", "main", 1)
    assert "inputs.parameters.message was not supplied" in only_error(workflow(templates))
    spec = "entrypoint: main\narguments: {parameters: [{name: message, value: hi}]}"
    assert errors(workflow(templates, spec)) == []
    # A WorkflowTemplate's users supply them.
    assert errors(workflow(templates, kind="WorkflowTemplate")) == []


def test_defaults_and_configmaps_count_as_supplied() -> None:
    templates = """\
    - name: main
      inputs:
        parameters:
        - {name: a, default: x}
        - {name: b, value: y}
        - name: c
          valueFrom: {configMapKeyRef: {name: cm, key: k}}
      container: {image: busybox}
    """
    assert errors(workflow(templates)) == []


def test_missing_input_artifact() -> None:
    text = workflow(
        """\
        - name: main
          steps:
          - - {name: s, template: t}
        - name: t
          inputs:
            artifacts:
            - {name: data, path: /tmp/data}
            - {name: opt, path: /tmp/opt, optional: true}
          container: {image: a}
        """
    )
    assert "inputs.artifacts.data was not supplied" in only_error(text)


def test_dag_cycle() -> None:
    text = workflow(
        """\
        - name: main
          dag:
            tasks:
            - {name: a, template: t, depends: c}
            - {name: b, template: t, depends: a}
            - {name: c, template: t, depends: b}
        - name: t
          container: {image: a}
        """
    )
    assert "dependency cycle detected: a->c->b->a" in only_error(text)


def test_depends_naming_unknown_tasks_and_results() -> None:
    text = workflow(
        """\
        - name: main
          dag:
            tasks:
            - {name: build, template: t}
            - {name: test, template: t, depends: "biuld.Succeeded && build.Succeded"}
        - name: t
          container: {image: a}
        """
    )
    found = errors(text)
    assert any("dependency 'biuld' not defined (did you mean 'build'?)" in f for f in found)
    assert any("task result 'Succeded' for task 'build' is invalid" in f for f in found)
    text = text.replace('"biuld.Succeeded && build.Succeded"', "build.AnySucceeded")
    assert "uses an items-based condition" in only_error(text)


def test_legacy_dependencies_and_depends_do_not_mix() -> None:
    text = workflow(
        """\
        - name: main
          dag:
            tasks:
            - {name: a, template: t}
            - {name: b, template: t, dependencies: [z]}
            - {name: c, template: t, depends: a}
        - name: t
          container: {image: a}
        """
    )
    found = errors(text)
    assert any("cannot use both 'depends' and 'dependencies'" in f for f in found)
    assert any("dependency 'z' not defined" in f for f in found)


def test_variables_naming_unknown_steps_and_tasks() -> None:
    text = workflow(
        """\
        - name: main
          steps:
          - - name: flip
              template: t
          - - name: show
              template: hello
              arguments:
                parameters:
                - name: message
                  value: "{{steps.flpi.outputs.result}}"
        - name: d
          dag:
            tasks:
            - {name: a, template: t}
            - name: b
              template: hello
              depends: a
              arguments:
                parameters: [{name: message, value: "{{tasks.a.outputs.parameters.x}}"}]
        - name: t
          script: {image: python, source: "print(1)"}
        """
        + HELLO
    )
    found = errors(text)
    assert len(found) == 2, found
    assert "failed to resolve {{steps.flpi.outputs.result}}" in found[0]
    assert "did you mean 'flip'?" in found[0]
    assert "failed to resolve {{tasks.a.outputs.parameters.x}}" in found[1]
    assert "task 'a' has no such output; it has: outputs.result" in found[1]


def test_steps_can_only_use_earlier_groups() -> None:
    text = workflow(
        """\
        - name: main
          steps:
          - - name: first
              template: hello
              arguments:
                parameters: [{name: message, value: "{{steps.second.outputs.result}}"}]
          - - name: second
              template: hello
              arguments:
                parameters: [{name: message, value: x}]
        """
        + HELLO
    )
    assert "runs later" in only_error(text)


def test_input_and_workflow_parameter_references() -> None:
    text = workflow(
        """\
        - name: main
          inputs:
            parameters: [{name: message, value: x}]
          container:
            image: busybox
            args: ["{{inputs.parameters.mesage}}", "{{workflow.parameters.nope}}", "{{pod.name}}"]
        """,
        "entrypoint: main\narguments: {parameters: [{name: known, value: 'y'}]}",
    )
    found = errors(text)
    assert len(found) == 2, found
    assert "{{inputs.parameters.mesage}} (the template declares no inputs.parameters" in found[0]
    assert "did you mean 'message'?" in found[0]
    assert "{{workflow.parameters.nope}}" in found[1]


def test_item_needs_a_loop() -> None:
    text = workflow(
        """\
        - name: main
          steps:
          - - name: a
              template: hello
              arguments: {parameters: [{name: message, value: "{{item.x}}"}]}
            - name: b
              template: hello
              withItems: [{x: 1}]
              arguments: {parameters: [{name: message, value: "{{item.x}} {{item.y}}"}]}
        """
        + HELLO
    )
    found = errors(text)
    assert len(found) == 2, found
    assert "{{item.x}} (only steps and tasks with withItems" in found[0]
    assert "{{item.y}}" in found[1]


def test_expression_tags_are_not_variable_checked() -> None:
    text = workflow(
        """\
        - name: main
          container:
            image: busybox
            args: ["{{=sprig.upper(workflow.name)}}"]
        """
    )
    assert errors(text) == []


def test_unknown_workflow_template_is_a_warning_without_a_store() -> None:
    text = workflow(
        """\
        - name: main
          steps:
          - - name: a
              templateRef: {name: shared, template: hello}
        """
    )
    (finding,) = lint_text(text, "wf.yaml")
    assert finding.severity == "warning"
    assert "WorkflowTemplate 'shared' is not known here" in str(finding)


class DictStore:
    """An in-memory TemplateStore."""

    def __init__(self, templates: dict[tuple[str, str], dict[str, Any]], available: bool) -> None:
        self.templates = templates
        self.available = available

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.templates.get((kind, name))


SHARED = workflow(HELLO, "arguments: {}", kind="WorkflowTemplate").replace(
    "name: wf", "name: shared"
)


def test_workflow_templates_resolve_from_the_same_call_and_the_store() -> None:
    user = workflow(
        """\
        - name: main
          steps:
          - - name: a
              templateRef: {name: shared, template: hello}
          - - name: b
              templateRef: {name: shared, template: helo}
        """
    )
    documents = parse_text(SHARED + "---\n" + user, "both.yaml")
    found = [str(d) for d in lint(documents)]
    assert len(found) == 2, found
    assert "inputs.parameters.message was not supplied" in found[0]
    assert "template reference shared.helo not found (did you mean 'hello'?)" in found[1]

    (shared,) = parse_text(SHARED)
    store = DictStore({("WorkflowTemplate", "shared"): shared.body}, available=True)
    assert len(errors(user, templates=store)) == 2
    empty = DictStore({}, available=True)
    found = errors(user, templates=empty)
    assert len(found) == 2  # one for each step that uses it
    assert all('workflowtemplates.argoproj.io "shared" not found' in f for f in found)


def test_workflow_template_ref() -> None:
    user = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: u-}\n"
        "spec:\n  entrypoint: hello\n  workflowTemplateRef: {name: shared}\n"
    )
    documents = parse_text(SHARED + "---\n" + user)
    (finding,) = [d for d in lint(documents) if d.severity == "error"]
    assert "inputs.parameters.message was not supplied" in str(finding)
    fixed = user + "  arguments: {parameters: [{name: message, value: hi}]}\n"
    assert lint(parse_text(SHARED + "---\n" + fixed)) == []
    both = fixed + "  templates: [{name: x, suspend: {}}]\n"
    assert any("Templates is invalid field" in str(d) for d in lint(parse_text(both)))


def test_arguments_checks() -> None:
    text = workflow(
        """\
        - name: main
          steps:
          - - name: a
              template: hello
              arguments:
                parameters:
                - name: message
                - {name: bad name, value: x}
                artifacts:
                - name: art
        """
        + HELLO,
        "entrypoint: main\narguments:\n  parameters:\n  - {name: p, value: c, enum: [a, b]}",
    )
    found = errors(text)
    assert any("p.value should be present in p.enum list (one of a, b)" in f for f in found)
    assert any("message.value or message.valueFrom is required" in f for f in found)
    assert any("'bad name' is invalid" in f for f in found)
    assert any("art.from, artifact location, or key is required" in f for f in found)


def test_outputs_checks() -> None:
    text = workflow(
        """\
        - name: main
          outputs:
            parameters:
            - name: a
            - {name: b, value: x, valueFrom: {path: /b}}
            - {name: c, valueFrom: {parameter: x}}
            artifacts:
            - {name: d}
          container: {image: busybox}
        """
    )
    found = errors(text)
    assert len(found) == 4, found
    assert "outputs.parameters.a does not have valueFrom or value specified" in found[0]
    assert "has both valueFrom and value specified" in found[1]
    assert "outputs.parameters.c.path must be specified for container templates" in found[2]
    assert "Artifact 'd' did not specify a path" in found[3]


def test_leaf_and_non_leaf_rules() -> None:
    text = workflow(
        """\
        - name: main
          activeDeadlineSeconds: 5
          steps: [[{name: a, template: t}]]
        - name: t
          parallelism: 2
          timeout: "30"
          container:
            volumeMounts:
            - {name: a, mountPath: /x}
            - {name: b, mountPath: /x}
        """
    )
    found = errors(text)
    assert any("activeDeadlineSeconds is only valid for leaf templates" in f for f in found)
    assert any("parallelism is only valid for steps and dag templates" in f for f in found)
    assert any("t has invalid duration format in timeout" in f for f in found)
    assert any("container.image may not be empty" in f for f in found)
    assert any("mountPath '/x' already mounted" in f for f in found)


def test_template_defaults_supply_the_image() -> None:
    text = workflow(
        "- name: main\n  container: {args: [x]}\n",
        "entrypoint: main\ntemplateDefaults: {container: {image: busybox}}",
    )
    assert errors(text) == []


def test_resource_template_rules() -> None:
    text = workflow(
        """\
        - name: main
          resource:
            action: launch
            manifest: "a: [b"
        """
    )
    found = errors(text)
    assert any("resource.action must be one of: get, create, apply" in f for f in found)
    assert any("resource.manifest must be a valid yaml" in f for f in found)


def test_hooks_need_expressions() -> None:
    text = workflow(
        "- name: main\n  container: {image: a}\n",
        "entrypoint: main\nhooks:\n  running: {template: main}\n  exit: {template: main}",
    )
    assert "hooks.running Expression required" in only_error(text)


def test_retry_policy_and_pod_gc() -> None:
    text = workflow(
        "- name: main\n  retryStrategy: {retryPolicy: Sometimes}\n  container: {image: a}\n",
        "entrypoint: main\npodGC: {strategy: OnSunday}",
    )
    found = errors(text)
    assert any("podGC.strategy unknown strategy 'OnSunday'" in f for f in found)
    assert any("Sometimes is not a valid RetryPolicy" in f for f in found)


def test_names_and_limits() -> None:
    text = workflow("- name: main\n  container: {image: a}\n").replace("name: wf", "name: Bad_Name")
    assert "is not a valid Kubernetes name" in only_error(text)
    text = workflow("- name: main\n  container: {image: a}\n").replace(
        "name: wf", "name: " + "a" * 64
    )
    assert "must not be more than 63 characters long (currently 64)" in only_error(text)


CRON = """\
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: c}
spec:
  schedules: [{schedules}]
  timezone: {timezone}
  workflowSpec:
    entrypoint: main
    templates: [{name: main, container: {image: a}}]
"""


@pytest.mark.parametrize(
    ("schedules", "timezone", "message"),
    [
        ('"*/5 * * * *", "@hourly", "@every 90s", "0 9 * JAN-MAR mon-fri"', "UTC", ""),
        ('"* * * *"', "UTC", "expected exactly 5 fields, found 4"),
        ('"61 * * * *"', "UTC", "end of range (61) above maximum (59)"),
        ('"@sometimes"', "UTC", "unrecognized descriptor: @sometimes"),
        ('"0 0 * * *"', "Mars/Olympus", "invalid timezone 'Mars/Olympus'"),
        ("", "UTC", "cron workflow must have at least one schedule"),
    ],
)
def test_cron_workflows(schedules: str, timezone: str, message: str) -> None:
    text = CRON.replace("{schedules}", schedules).replace("{timezone}", timezone)
    if message:
        assert message in only_error(text)
    else:
        assert errors(text) == []


def test_bare_templates_are_checked_together() -> None:
    text = (
        textwrap.dedent(
            """\
        - name: main
          steps: [[{name: a, template: hello}]]
        """
        )
        + HELLO
    )
    assert "inputs.parameters.message was not supplied" in only_error(text)


def test_other_kubernetes_objects_are_skipped_with_a_note() -> None:
    text = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: p}\n"
    (note,) = lint_text(text)
    assert note.severity == "note"
    assert "skipped" in note.message


def test_duplicate_keys_are_warnings() -> None:
    text = workflow("- name: main\n  container: {image: a}\n  container: {image: b}\n")
    (warning,) = lint_text(text)
    assert warning.severity == "warning"
    assert "duplicate key 'container'" in str(warning)


def test_non_strict_makes_unknown_fields_warnings() -> None:
    text = workflow("- name: main\n  contaner: {image: a}\n  container: {image: b}\n")
    (finding,) = lint(parse_text(text), strict=False)
    assert finding.severity == "warning"


def test_parse_errors_become_one_diagnostic() -> None:
    (finding,) = lint_text("a: [1, 2\nb: 3", "bad.yaml")
    assert finding.severity == "error"
    assert str(finding).startswith("bad.yaml:2:")
    assert "\n" not in str(finding)


def test_raise_for() -> None:
    raise_for([Diagnostic("warning", lint_text("a: [")[0].location, "x")])
    with pytest.raises(LintError) as caught:
        raise_for(lint_text(workflow("- name: main\n  contaner: {image: a}\n")))
    assert "unknown field 'contaner'" in str(caught.value)
    assert len(caught.value.diagnostics) == 1  # a misspelt type is not also "no type"


def test_secret_data_is_base64() -> None:
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {ok: aGk=, bad: hi there!}\n"
    assert (
        "data.bad is not base64 (encode it (base64 -w0), or put plain text under stringData)"
        in (only_error(text))
    )


def test_api_version_must_be_v1alpha1() -> None:
    text = workflow("- name: main\n  container: {image: a}\n").replace("v1alpha1", "v1beta1")
    assert "no kind Workflow in version 'argoproj.io/v1beta1'" in only_error(text)


def test_expressions_that_do_not_parse() -> None:
    text = workflow(
        """\
        - name: main
          dag:
            tasks:
            - {name: a, template: t}
            - {name: b, template: t, depends: "a &&", when: "{{tasks.a.outputs.result}} =="}
        - name: t
          retryStrategy: {expression: "lastRetry.status =="}
          script:
            image: python
            source: "print('{{=sprig.upper(}}')"
        """
    )
    found = errors(text)
    assert any("depends 'a &&' does not parse" in f for f in found), found
    assert any("Invalid 'when' expression '{{tasks.a.outputs.result}} =='" in f for f in found), (
        found
    )
    assert any("retryStrategy.expression" in f and "does not parse" in f for f in found), found
    assert any("'{{=sprig.upper(}}' does not parse" in f for f in found), found


def test_valid_expressions_pass() -> None:
    text = workflow(
        """\
        - name: main
          dag:
            tasks:
            - {name: a, template: t}
            - name: b
              template: t
              depends: "a.Succeeded || (a.Failed && !a.Skipped)"
              when: "{{tasks.a.outputs.result}} == heads"
        - name: t
          retryStrategy: {expression: "asInt(lastRetry.exitCode) > 1"}
          script:
            image: python
            source: "print('{{=sprig.upper(workflow.name)}}')"
        """
    )
    assert errors(text) == []


def test_unclosed_tag() -> None:
    text = workflow("- name: main\n  container: {image: a, args: ['echo {{inputs']}\n")
    assert 'cannot find end tag "}}"' in only_error(text)
