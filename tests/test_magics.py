"""`%%argo` and `%argo` through a real InteractiveShell and the local backend."""

from __future__ import annotations

import json
import re
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from IPython.core.interactiveshell import InteractiveShell

from jupyter_argo.errors import (
    ConfigError,
    LintError,
    NotFoundError,
    ParseError,
    UserError,
    WorkflowFailed,
)
from jupyter_argo.run import Run


class TestingShell(InteractiveShell):
    """A shell whose `run_cell` raises what the cell raised, so a failing cell fails."""

    __test__ = False

    def run_cell(self, raw_cell: str, *args: Any, **kwargs: Any) -> Any:
        result = super().run_cell(raw_cell, *args, **kwargs)
        result.raise_error()
        return result


@pytest.fixture
def ip() -> Iterator[TestingShell]:
    shell = TestingShell.instance()
    shell.run_cell("%load_ext jupyter_argo")
    yield shell
    for run in list(shell.user_ns.values()):
        if isinstance(run, Run) and not run.done:
            run.terminate()
    TestingShell.clear_instance()


def cell(ip: TestingShell, line: str, body: str) -> Any:
    return ip.run_cell(f"%%argo {line}\n{textwrap.dedent(body).strip()}\n").result


SEED_OUTPUT_PARAMETER = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: output-parameter-
spec:
  entrypoint: output-parameter
  templates:
    - name: output-parameter
      steps:
        - - name: generate-parameter
            template: argosay
        - - name: consume-parameter
            template: print-message
            arguments:
              parameters:
                - name: message
                  value: "{{steps.generate-parameter.outputs.parameters.hello-param}}"
    - name: argosay
      container:
        image: yky8/argosay:v2
        command: [ sh, -c ]
        args: [ "echo -n hello world > /tmp/hello_world.txt" ]
      outputs:
        parameters:
          - name: hello-param
            valueFrom:
              path: /tmp/hello_world.txt
    - name: print-message
      inputs:
        parameters:
          - name: message
      container:
        image: yky8/argosay:v2
        command: [ "/usr/local/bin/argosay" ]
        args: [ "echo","{{inputs.parameters.message}}" ]
"""

SEED_ARTIFACT_PASSING = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: artifact-passing-
spec:
  entrypoint: artifact-example
  templates:
  - name: artifact-example
    steps:
    - - name: generate-artifact
        template: argosay
    - - name: consume-artifact
        template: print-message
        arguments:
          artifacts:
          - name: message
            from: "{{steps.generate-artifact.outputs.artifacts.hello-art}}"
  - name: argosay
    container:
      image: yky8/argosay:v2
      command: [sh, -c]
      args: ["/usr/local/bin/argosay echo 'hello world' | tee /tmp/hello_world.txt"]
    outputs:
      artifacts:
      - name: hello-art
        path: /tmp/hello_world.txt
  - name: print-message
    inputs:
      artifacts:
      - name: message
        path: /tmp/message
    container:
      image: alpine:latest
      command: [sh, -c]
      args: ["cat /tmp/message"]
"""

SLEEPER = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: sleeper-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [sleep, "60"]}
"""


# ---- the examples ------------------------------------------------------------------


def test_seed_output_parameter_binds_the_run(ip: TestingShell) -> None:
    value = cell(ip, "--out run", SEED_OUTPUT_PARAMETER)
    run = ip.user_ns["run"]
    assert value is run
    assert run.phase == "Succeeded"
    node = run.node("generate-parameter")
    assert node.outputs.parameters["hello-param"] == "hello world"
    assert node.outputs.exit_code == 0
    assert run.node("consume-parameter").inputs.parameters == {"message": "hello world"}
    assert run.node("consume-parameter").logs() == "hello world"


def test_seed_artifact_passing_reads_the_artifact(ip: TestingShell) -> None:
    cell(ip, "--out run", SEED_ARTIFACT_PASSING)
    artifact = ip.user_ns["run"].node("generate-artifact").outputs.artifacts["hello-art"]
    assert "hello world" in artifact.text()
    consumed = ip.user_ns["run"].node("consume-artifact")
    assert consumed.outputs.result == "hello world"
    assert "hello world" in consumed.inputs.artifacts["message"].text()


def test_bare_python_cell_binds_its_result(
    ip: TestingShell, capsys: pytest.CaptureFixture[str]
) -> None:
    cell(ip, "--bind", "print(42)")
    assert ip.user_ns["result"] == "42"
    assert "--bind: bound result" in capsys.readouterr().out.splitlines()


def test_bind_says_when_there_is_nothing_to_bind(
    ip: TestingShell, capsys: pytest.CaptureFixture[str]
) -> None:
    body = """
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {generateName: two-}
    spec:
      entrypoint: main
      templates:
      - name: main
        steps: [[{name: a, template: say}, {name: b, template: say}]]
      - name: say
        container: {image: alpine, command: [echo, hi]}
    """
    run = cell(ip, "--bind", body)
    assert (
        f"--bind: nothing to bind: {run.name} has no output parameters (entrypoint or "
        "workflow) and is not a one-step run with a result"
    ) in capsys.readouterr().out.splitlines()
    assert "result" not in ip.user_ns


def test_parameters_expand_notebook_variables(ip: TestingShell) -> None:
    ip.user_ns["n"] = 6
    run = cell(ip, "-p n=$n -p m={n+1} --bind", 'print(int("{{inputs.parameters.n}}") * 7)')
    assert ip.user_ns["result"] == "42"
    assert run.node("python").inputs.parameters == {"n": "6", "m": "7"}


def test_parameters_override_workflow_arguments(ip: TestingShell) -> None:
    body = """
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {generateName: hello-}
    spec:
      entrypoint: main
      arguments: {parameters: [{name: who, value: world}]}
      templates:
      - name: main
        inputs: {parameters: [{name: who}]}
        container: {image: alpine, command: [echo, "hello {{inputs.parameters.who}}"]}
    """
    ip.user_ns["who"] = "notebook"
    cell(ip, "-p who=$who --bind", body)
    assert ip.user_ns["result"] == "hello notebook"
    with pytest.raises(UserError, match="not a workflow argument"):
        cell(ip, "-p nobody=1", body)


# ---- what a cell may hold ------------------------------------------------------------------


def test_templates_go_to_the_library_and_workflows_use_them(ip: TestingShell) -> None:
    cell(
        ip,
        "",
        """
        - name: shout
          inputs: {parameters: [{name: text}]}
          script:
            image: python:3
            command: [python]
            source: print("{{inputs.parameters.text}}".upper())
        - name: twice
          inputs: {parameters: [{name: text}]}
          steps:
          - - name: first
              template: shout
              arguments: {parameters: [{name: text, value: "{{inputs.parameters.text}}"}]}
        """,
    )
    assert "shout" in ip.run_line_magic("argo", "templates")
    run = cell(
        ip,
        "",
        """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: uses-library-}
        spec:
          entrypoint: main
          templates:
          - name: main
            steps:
            - - name: call
                template: twice
                arguments: {parameters: [{name: text, value: hi}]}
        """,
    )
    assert run.node("first").outputs.result == "HI"
    exported = yaml.safe_load(run.export())
    assert [t["name"] for t in exported["spec"]["templates"]] == ["main", "twice", "shout"]
    assert "status" not in exported
    assert exported["metadata"] == {"generateName": "uses-library-"}


def test_a_template_calling_an_unknown_template_is_refused(ip: TestingShell) -> None:
    with pytest.raises(LintError, match="'missing' undefined"):
        cell(ip, "", "name: outer\nsteps:\n- - name: a\n    template: missing\n")
    assert ip.run_line_magic("argo", "templates").startswith("the notebook's library is empty")


def test_script_cell_registers_a_python_template(ip: TestingShell) -> None:
    cell(
        ip,
        "script square --input n --input unused=0 --output sq=/tmp/sq.txt",
        """
        n = int("{{inputs.parameters.n}}")
        open("/tmp/sq.txt", "w").write(str(n * n))
        print("squared", n)
        """,
    )
    run = cell(
        ip,
        "--bind",
        """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: square-}
        spec:
          entrypoint: square
          arguments: {parameters: [{name: n, value: "12"}]}
        """,
    )
    assert run.phase == "Succeeded"
    node = run.node("square")
    assert node.outputs.parameters == {"sq": "144"}
    assert ip.user_ns["sq"] == "144"
    assert ip.user_ns["result"] == "squared 12"


def assert_argo_template(template: Any) -> None:
    """`template` fits Argo's schema (its JSON schema, where ../shared holds it) and our
    strict field check (every field one Argo's types have)."""
    from conftest import ARGO

    from jupyter_argo.spec.schema import check_fields, field_table

    table = field_table()
    root = table.root("Template")
    assert root is not None
    assert list(check_fields(template, root, table)) == []
    schema = ARGO / "schema.json"
    if schema.is_file():
        import jsonschema

        definitions = json.loads(schema.read_text())["definitions"]
        jsonschema.validate(
            template,
            {
                "$ref": "#/definitions/io.argoproj.workflow.v1alpha1.Template",
                "definitions": definitions,
            },
        )


def test_script_cells_pass_artifacts_a_csv_to_pandas_pipeline(ip: TestingShell) -> None:
    # Three script cells and the steps calling them: a CSV made, read by pandas, summed.
    cell(
        ip,
        "script make-csv --output-artifact table=/tmp/out/sales.csv",
        """
        import os
        os.makedirs("/tmp/out", exist_ok=True)
        with open("/tmp/out/sales.csv", "w") as f:
            f.write("region,amount\\nnorth,10\\nsouth,32\\nnorth,5\\n")
        """,
    )
    cell(
        ip,
        "script by-region --input-artifact table=/tmp/in/sales.csv "
        "--output-artifact totals=/tmp/totals.csv",
        """
        import pandas as pd
        frame = pd.read_csv("/tmp/in/sales.csv")
        frame.groupby("region")["amount"].sum().to_csv("/tmp/totals.csv")
        """,
    )
    cell(
        ip,
        "script report --input-artifact totals=/tmp/totals.csv",
        """
        import pandas as pd
        totals = pd.read_csv("/tmp/totals.csv", index_col="region")["amount"]
        print(";".join(f"{region}={amount}" for region, amount in totals.items()))
        """,
    )
    library = ip.magics_manager.registry["ArgoMagics"].library
    by_region = library.get("by-region")
    assert by_region["inputs"] == {"artifacts": [{"name": "table", "path": "/tmp/in/sales.csv"}]}
    assert by_region["outputs"] == {"artifacts": [{"name": "totals", "path": "/tmp/totals.csv"}]}
    for name in ("make-csv", "by-region", "report"):
        assert_argo_template(library.get(name))
    run = cell(
        ip,
        "--bind",
        """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: sales-}
        spec:
          entrypoint: main
          templates:
          - name: main
            steps:
            - - {name: make, template: make-csv}
            - - name: group
                template: by-region
                arguments:
                  artifacts: [{name: table, from: "{{steps.make.outputs.artifacts.table}}"}]
            - - name: show
                template: report
                arguments:
                  artifacts: [{name: totals, from: "{{steps.group.outputs.artifacts.totals}}"}]
            outputs:
              parameters:
              - name: totals
                valueFrom: {parameter: "{{steps.show.outputs.result}}"}
        """,
    )
    assert run.phase == "Succeeded", run.message
    assert ip.user_ns["totals"] == "north=15;south=32"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            "--input-artifact table",
            "--input-artifact 'table': expected NAME=PATH, PATH absolute",
        ),
        (
            "--output-artifact out=relative.csv",
            "--output-artifact 'out=relative.csv': expected NAME=PATH, PATH absolute",
        ),
        (
            "--input-artifact t=/tmp/a --input-artifact t=/tmp/b",
            "--input-artifact 't' is given twice",
        ),
        ("--output-artifact a.b=/tmp/x", "expected an artifact name"),
    ],
)
def test_script_cell_artifact_flags_are_checked_on_the_magic_line(
    ip: TestingShell, flags: str, message: str
) -> None:
    with pytest.raises(UserError) as caught:
        cell(ip, f"script broken {flags}", "print(1)")
    assert message in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.location is not None
    assert caught.value.location.line == 1
    assert ip.run_line_magic("argo", "templates").startswith("the notebook's library is empty")


def test_script_cell_with_bad_python_names_the_line(ip: TestingShell) -> None:
    with pytest.raises(ParseError) as caught:
        cell(ip, "script broken", "x = 1\ndef (:\n")
    assert caught.value.location is not None
    assert caught.value.location.line == 3  # the editor's line: %%argo is line 1


def test_workflow_template_is_applied_then_referenced(ip: TestingShell) -> None:
    cell(
        ip,
        "",
        """
        apiVersion: argoproj.io/v1alpha1
        kind: WorkflowTemplate
        metadata: {name: greeter}
        spec:
          entrypoint: greet
          arguments: {parameters: [{name: who, value: world}]}
          templates:
          - name: greet
            inputs: {parameters: [{name: who}]}
            container: {image: alpine, command: [echo, "hi {{inputs.parameters.who}}"]}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {colour: blue}
        """,
    )
    run = cell(
        ip,
        "-p who=there --bind",
        """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: greeter-}
        spec:
          workflowTemplateRef: {name: greeter}
        """,
    )
    assert run.phase == "Succeeded"
    assert ip.user_ns["result"] == "hi there"


def test_several_workflows_in_one_cell(ip: TestingShell) -> None:
    runs = cell(ip, "--out runs", SEED_OUTPUT_PARAMETER + "---\n" + SLEEPER.replace("60", "0"))
    assert [r.phase for r in runs] == ["Succeeded", "Succeeded"]
    assert ip.user_ns["runs"] is runs


def test_other_kubernetes_kinds_are_refused(ip: TestingShell) -> None:
    with pytest.raises(UserError, match="not something %%argo runs"):
        cell(ip, "", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")


# ---- options -------------------------------------------------------------------------------


def test_dry_run_renders_and_runs_nothing(
    ip: TestingShell, capsys: pytest.CaptureFixture[str]
) -> None:
    cell(
        ip,
        "--dry-run --name fixed -p message=x --out manifest",
        SEED_OUTPUT_PARAMETER.replace(
            "  entrypoint: output-parameter",
            "  entrypoint: output-parameter\n"
            "  arguments: {parameters: [{name: message, value: a}]}",
        ),
    )
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["metadata"] == {"name": "fixed", "namespace": "default"}
    assert printed["spec"]["arguments"]["parameters"] == [{"name": "message", "value": "x"}]
    assert ip.user_ns["manifest"] == printed
    assert "sleeper" not in ip.run_line_magic("argo", "list")
    assert len(ip.run_line_magic("argo", "list").splitlines()) == 1  # the header only


def test_lint_errors_point_at_the_cell_line(
    ip: TestingShell, capsys: pytest.CaptureFixture[str]
) -> None:
    body = SEED_OUTPUT_PARAMETER.strip().replace("command: [ sh", "comand: [ sh", 1)
    line = 1 + next(i for i, t in enumerate(body.splitlines(), 1) if "comand:" in t)
    with pytest.raises(LintError) as caught:
        ip.run_cell(f"%%argo\n{body}\n")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.location.line == line  # type: ignore[attr-defined]
    shown = capsys.readouterr().out.strip().splitlines()
    assert shown == [f"LintError: {diagnostic}"]  # one line, no traceback
    assert "comand" in shown[0]


def test_lint_option_runs_nothing(ip: TestingShell, capsys: pytest.CaptureFixture[str]) -> None:
    assert cell(ip, "--lint", SEED_OUTPUT_PARAMETER) is None
    assert "no errors" in capsys.readouterr().out
    assert len(ip.run_line_magic("argo", "list").splitlines()) == 1


def test_bad_option_is_a_usage_error(ip: TestingShell) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError):
        cell(ip, "--no-such-option", "print(1)")


def test_names_and_entrypoint(ip: TestingShell) -> None:
    run = cell(ip, "--name exact-name --entrypoint argosay", SEED_OUTPUT_PARAMETER)
    assert run.name == "exact-name"
    assert run.node("exact-name").template == "argosay"
    run = cell(ip, "--generate-name mine-", "print(1)")
    assert run.name.startswith("mine-")


def test_failed_run_fails_the_cell_and_still_binds_its_run(ip: TestingShell) -> None:
    body = "import sys\nprint('partial output')\nsys.exit(3)"
    with pytest.raises(WorkflowFailed) as failed:
        cell(ip, "--out failed --bind", body)
    run = ip.user_ns["failed"]
    assert failed.value.run is run
    # A Python cell's workflow is its one step: no "at step" to add.
    assert failed.value.node == run.name
    said = "main: Error (exit code 3) | log: partial output"
    assert str(failed.value) == f"{run.name} Failed: {said}"
    assert failed.value._render_traceback_() == [f"WorkflowFailed: {failed.value}"]
    value = cell(ip, "--out failed --bind --no-raise", body)
    run = ip.user_ns["failed"]
    assert value is run
    assert run.phase == "Failed"
    assert run.node("python").outputs.exit_code == 3
    assert "partial output" in run.logs()


def test_timeout_terminates_the_run(ip: TestingShell) -> None:
    with pytest.raises(WorkflowFailed, match=r"Failed: timed out after 0.5s \(--timeout\)"):
        cell(ip, "--timeout 0.5 --out run", SLEEPER)
    run = ip.user_ns["run"]
    assert run.phase == "Failed"
    assert "--timeout" in run.message


def test_async_timeout_terminates_in_the_background(ip: TestingShell) -> None:
    run = cell(ip, "--async --timeout 0.5 --no-view", SLEEPER)
    deadline = time.monotonic() + 30  # the follower terminates it, then the run ends
    while run.phase != "Failed" and time.monotonic() < deadline:
        run.wait(1)
    assert "--timeout" in run.message


def test_async_returns_at_once_and_binds_later(ip: TestingShell) -> None:
    run = cell(ip, "--async --bind --out run", "import time\ntime.sleep(0.5)\nprint('late')")
    assert ip.user_ns["run"] is run
    run.wait(60)
    assert run.phase == "Succeeded"
    deadline = time.monotonic() + 30  # the binding thread finishes just after the run
    while "result" not in ip.user_ns and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ip.user_ns["result"] == "late"


def test_namespace_option_and_configuration(
    ip: TestingShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = cell(ip, "-n team-a", "print(1)")
    assert run.workflow["metadata"]["namespace"] == "team-a"
    ip.run_line_magic("config", "ArgoMagics.namespace = 'team-b'")
    run = cell(ip, "", "print(1)")
    assert run.namespace == "team-b"
    assert run.name in ip.run_line_magic("argo", "list -n team-b")
    assert run.name not in ip.run_line_magic("argo", "list -n team-a")


def test_environment_configures_a_new_shell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JUPYTER_ARGO_NAMESPACE", "from-env")
    monkeypatch.setenv("JUPYTER_ARGO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JUPYTER_ARGO_PARALLELISM", "3")
    shell = TestingShell.instance()
    try:
        shell.run_cell("%load_ext jupyter_argo")
        magics = shell.magics_manager.registry["ArgoMagics"]
        assert (magics.namespace, magics.parallelism) == ("from-env", 3)
        run = shell.run_cell("%%argo\nprint(1)\n").result
        assert run.namespace == "from-env"
        assert (tmp_path / "home").is_dir()
    finally:
        TestingShell.clear_instance()


def test_unknown_backend_is_a_config_error(ip: TestingShell) -> None:
    with pytest.raises(ConfigError, match="unknown backend"):
        ip.run_line_magic("argo", "backend nowhere")
    assert "backend: local" in _printed(ip, "backend")


def _printed(ip: TestingShell, line: str) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ip.run_line_magic("argo", line)
    return out.getvalue()


# ---- line commands -------------------------------------------------------------------------


def test_line_commands_read_runs(ip: TestingShell, tmp_path: Path) -> None:
    run = cell(ip, "", SEED_OUTPUT_PARAMETER)
    listed = ip.run_line_magic("argo", "list")
    assert run.name in listed
    assert "Succeeded" in listed
    got = ip.run_line_magic("argo", f"get {run.name}")
    assert isinstance(got, Run)
    assert got.name == run.name
    assert ip.run_line_magic("argo", "get @latest").name == run.name
    logs = ip.run_line_magic("argo", "logs @latest")
    assert logs.splitlines() == ["consume-parameter: hello world"]
    assert ip.run_line_magic("argo", f"logs {run.name} consume-parameter") == "hello world"
    outputs = ip.run_line_magic("argo", f"outputs {run.name}")
    assert "hello-param = hello world" in outputs
    target = tmp_path / "exported.yaml"
    ip.run_line_magic("argo", f"export {run.name} -o {target}")
    again = cell(ip, "", target.read_text())
    assert again.node("generate-parameter").outputs.parameters["hello-param"] == "hello world"
    ip.run_line_magic("argo", f"delete {run.name}")
    with pytest.raises(NotFoundError):
        ip.run_line_magic("argo", f"get {run.name}")


def test_line_commands_control_runs(ip: TestingShell) -> None:
    run = cell(ip, "--async --no-view", SLEEPER)
    ip.run_line_magic("argo", f"stop {run.name}")
    run.wait(30)
    assert run.phase == "Failed"
    retried = ip.run_line_magic("argo", "resubmit @latest")
    assert isinstance(retried, Run)
    assert retried.name != run.name
    ip.run_line_magic("argo", f"terminate {retried.name}")
    assert retried.wait(30).phase == "Failed"


def test_line_command_errors(ip: TestingShell) -> None:
    with pytest.raises(UserError, match="give a workflow name"):
        ip.run_line_magic("argo", "get")
    with pytest.raises(NotFoundError):
        ip.run_line_magic("argo", "logs no-such-run")
    with pytest.raises(NotFoundError, match="no variable"):
        ip.run_line_magic("argo", "submit nothing_here")


def test_submit_a_manifest_variable(ip: TestingShell) -> None:
    ip.user_ns["manifest"] = yaml.safe_load(SEED_OUTPUT_PARAMETER)
    run = ip.run_line_magic("argo", "submit manifest --out run")
    assert ip.user_ns["run"] is run
    assert run.node("generate-parameter").outputs.parameters["hello-param"] == "hello world"
    ip.user_ns["template"] = {
        "name": "hello",
        "container": {"image": "alpine", "command": ["echo", "from a dict"]},
    }
    ip.run_line_magic("argo", "submit template --bind")
    assert ip.user_ns["result"] == "from a dict"


def test_lint_line_command(ip: TestingShell, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(SEED_OUTPUT_PARAMETER)
    assert ip.run_line_magic("argo", f"lint {good}") == "no problems found"
    bad = tmp_path / "bad.yaml"
    bad.write_text(SEED_OUTPUT_PARAMETER.replace("template: argosay", "template: nope"))
    with pytest.raises(LintError, match="nope"):
        ip.run_line_magic("argo", f"lint {bad}")
    assert ip.run_line_magic("argo", "lint") == "no problems found"


def test_names_complete(ip: TestingShell) -> None:
    run = cell(ip, "", "print(1)")
    from IPython.core.completer import provisionalcompleter

    def complete(line: str) -> list[str]:
        with provisionalcompleter():
            return [c.text for c in ip.Completer.completions(line, len(line))]

    assert "logs" in complete("%argo lo")
    names = complete("%argo logs ")
    assert run.name in names
    assert "@latest" in names
    steps = cell(ip, "", SEED_OUTPUT_PARAMETER)
    assert "generate-parameter" in complete(f"%argo logs {steps.name} gen")
    assert "manifest" not in complete("%argo submit ")
    ip.user_ns["manifest"] = {}
    assert "manifest" in complete("%argo submit ma")


def test_help_shows_the_options(ip: TestingShell) -> None:
    magics = ip.magics_manager.registry["ArgoMagics"]
    for option in ("-p", "--out", "--bind", "--async", "--dry-run", "--timeout", "script NAME"):
        assert option in (magics.argo_cell.__doc__ or "")
    assert "logs NAME [NODE] [-f]" in (magics.argo_line.__doc__ or "")


# ---- Hera ----------------------------------------------------------------------------------


def test_submit_hera_objects(ip: TestingShell) -> None:
    ip.run_cell(
        textwrap.dedent(
            """
            from hera.workflows import Container, Workflow, script

            with Workflow(generate_name="hera-", entrypoint="say") as wf:
                Container(name="say", image="alpine", command=["echo", "from hera"])

            say = Container(name="say", image="alpine", command=["echo", "a template"])

            @script(image="python:3.12")
            def double(n: int = 4):
                print(n * 2)
            """
        )
    )
    run = ip.run_line_magic("argo", "submit wf --bind")
    assert run.name.startswith("hera-")
    assert ip.user_ns["result"] == "from hera"
    ip.run_line_magic("argo", "submit say --bind")
    assert ip.user_ns["result"] == "a template"
    run = ip.run_line_magic("argo", "submit double --bind")
    assert ip.user_ns["result"] == "8"
    assert run.node("double").inputs.parameters == {"n": "4"}


# ---- what a cell is, and interrupts in a terminal shell --------------------------------------


def test_cell_contents_are_told_apart() -> None:
    from jupyter_argo import cells

    assert cells.read("for i in range(3):\n    print(i)\n").python is not None
    assert cells.read('{"apiVersion": "argoproj.io/v1alpha1", "kind": "ConfigMap"}').applied
    assert cells.read("name: t\ncontainer: {image: alpine}\n").templates[0]["name"] == "t"
    # `key: value` is valid Python (an annotation) but meant as YAML: the YAML error stands.
    with pytest.raises(ParseError, match="no `kind`"):
        cells.read("name: hello\n")
    with pytest.raises(ParseError) as caught:
        cells.read("kind: Workflow\nmetadata: [\n", first_line=5)
    assert caught.value.location is not None
    assert (caught.value.location.line or 0) >= 5


def test_interrupt_in_a_terminal_shell_ends_the_run(ip: TestingShell) -> None:
    import _thread
    import threading

    import psutil

    from jupyter_argo.magics import RunInterrupted

    me = psutil.Process()

    def sleepers() -> list[psutil.Process]:
        found = []
        for process in me.children(recursive=True):
            try:
                if "sleep" in " ".join(process.cmdline()):
                    found.append(process)
            except psutil.NoSuchProcess:
                continue
        return found

    def interrupt_when_running() -> None:
        deadline = time.monotonic() + 60
        while not sleepers() and time.monotonic() < deadline:
            time.sleep(0.02)
        _thread.interrupt_main()  # as SIGINT does: KeyboardInterrupt in the main thread

    threading.Thread(target=interrupt_when_running, daemon=True).start()
    with pytest.raises(RunInterrupted, match="terminated"):
        cell(ip, "--out run", SLEEPER)
    run = ip.user_ns["run"]
    assert run.phase == "Failed"
    assert "interrupted by the user" in run.message
    assert sleepers() == []


TOOL = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: tool-}}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {{image: "acme/tools:1.0", {container}}}
"""


def _hint(error: WorkflowFailed) -> str:
    found = re.search(r"map it with (%config ArgoMagics\.images = .*)\)", error.message)
    assert found is not None, error.message
    return found.group(1)


@pytest.mark.parametrize(
    ("container", "fill"),
    [
        # A program found here: the hint names it, and works as it is.
        ("command: [echo, hello from the tool]", None),
        # A program found nowhere: the hint says <program>; filled in, it works.
        ("command: [tool-nowhere-installed, hello from the tool]", "/bin/echo"),
        # No command and no known entrypoint: the rule gives the image's ENTRYPOINT.
        ("args: [hello from the tool]", "echo"),
    ],
)
def test_the_missing_image_hint_works_when_run_as_it_is(
    ip: TestingShell, container: str, fill: str | None
) -> None:
    with pytest.raises(WorkflowFailed) as caught:
        cell(ip, "", TOOL.format(container=container))
    hint = _hint(caught.value)
    assert ("<program>" in hint) == (fill is not None)
    ip.run_cell(hint if fill is None else hint.replace("<program>", fill))
    run = cell(ip, "--bind", TOOL.format(container=container))
    assert run.phase == "Succeeded"
    assert ip.user_ns["result"] == "hello from the tool"


KERNEL_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

MIXED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: mixed-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: py}
      - {name: b, template: py}
      - {name: c, template: old-py}
      - {name: d, template: shell}
  - name: py
    script: {image: "python:3.12", command: [python], source: "import json; print(1)"}
  - name: old-py
    container: {image: "python:alpine3.6", command: [python3, -c, "print(2)"]}
  - name: shell
    container: {image: alpine, command: [sh, -c, "echo 3"]}
"""

SHELL_ONLY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: shell-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [sh, -c, "echo 3"]}
"""


def _kernel_python_notes(run: Run) -> list[str]:
    from jupyter_argo.widgets.view import WorkflowView

    warnings = WorkflowView(run.workflow).header["warnings"]
    return [n for w in warnings for n in w.split("; ") if "this kernel's Python" in n]


def test_python_images_say_once_in_the_view_that_they_run_this_kernels_python(
    ip: TestingShell,
) -> None:
    bare = cell(ip, "", "import json\nprint(json.dumps([1]))")
    assert _kernel_python_notes(bare) == [
        f"python:{KERNEL_PYTHON} runs this kernel's Python {KERNEL_PYTHON} here: a module it"
        " imports may be missing from the image on a cluster"
    ]
    mixed = cell(ip, "", MIXED)
    assert mixed.phase == "Succeeded"
    (note,) = _kernel_python_notes(mixed)  # once for the run, whatever its steps
    expected = f"python:3.12, python:alpine3.6 run this kernel's Python {KERNEL_PYTHON} here"
    assert note.startswith(expected)
    assert _kernel_python_notes(cell(ip, "", SHELL_ONLY)) == []


@pytest.mark.parametrize(
    ("flags", "body", "message"),
    [
        (
            "--output-artifact t=/tmp/t.csv",
            "print(1)",
            "--output-artifact: only for `%%argo script NAME` (a Python cell run as it is "
            "takes -p NAME=VALUE)",
        ),
        ("--input n", "print(1)", "--input: only for `%%argo script NAME`"),
        (
            "--image python:3.12",
            "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\n"
            "spec: {entrypoint: m, templates: [{name: m, container: {image: alpine}}]}",
            "--image: only for `%%argo script NAME` and Python cells",
        ),
    ],
)
def test_a_script_flag_on_a_cell_it_does_nothing_for_is_refused(
    ip: TestingShell, flags: str, body: str, message: str
) -> None:
    with pytest.raises(UserError) as caught:
        cell(ip, flags, body)
    assert caught.value.message.startswith(message)
    assert caught.value.location is not None
    assert caught.value.location.line == 1


def test_a_python_cell_runs_in_the_image_image_names(ip: TestingShell) -> None:
    run = cell(ip, "--image python:3.9-slim --out r", "print('ran')")
    assert run.phase == "Succeeded"
    (template,) = run.workflow["spec"]["templates"]
    assert template["script"]["image"] == "python:3.9-slim"


def test_image_rules_may_be_given_to_config_as_objects(ip: TestingShell) -> None:
    ip.run_cell("from jupyter_argo.executors import ImageRule")
    ip.run_cell("%config ArgoMagics.images = [ImageRule(match='acme/tools', entrypoint=('echo',))]")
    run = cell(ip, "--bind", TOOL.format(container="args: [hello from the tool]"))
    assert run.phase == "Succeeded"
    assert ip.user_ns["result"] == "hello from the tool"
