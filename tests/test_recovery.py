"""Recovery from the command line, each command in its own process like `argo` (issue 14
item 4): `retry` (with `--restart-successful --node-field-selector` and `-p`), `resubmit
--memoized -p`, `stop --node-field-selector`, `node set` of a suspend node's supplied
outputs, and `resume`, on the local backend. The command exits; the run it started or
changed must still reach its end.

Expected node sets and phases come from Argo v4.0.5's code: `FormulateRetryWorkflow`,
`resetPath` and `getNodeIDsToReset` (workflow/util/util.go: a selected or failed node and
everything below it run again, its ancestors restart, the rest is kept; with `-p` the step
and task groups that restart are expanded again), `updateSuspendedNode` (`node set`,
`stop`/`resume --node-field-selector`), `ResumeWorkflow` with
`OverrideOutputParametersWithDefault`, and the controller's `addRawOutputFields` (a
supplied output without a default takes its input's default)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from conftest import argo_examples
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from test_cli_runs import cli
from test_cli_verbs import APPROVAL, RETRYABLE, get, node, wait_for_node
from test_magics import TestingShell, cell, ip  # noqa: F401  (the shell fixture)
from test_magics_kernel import kernel, value  # noqa: F401  (the kernel fixture)
from test_magics_kernel import run as kernel_run

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.spec.parse import parse_text

GATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: gate
  labels: {workflows.argoproj.io/configmap-type: Parameter}
data:
  open: "{OPEN}"
"""

GATED = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: gated-
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: first
        template: stamp
    - - name: gated
        template: gated
  - name: stamp
    script:
      image: python:alpine3.23
      command: [python3]
      source: |
        import time
        print(time.time_ns())
  - name: gated
    inputs:
      parameters:
      - name: open
        valueFrom:
          configMapKeyRef: {name: gate, key: open}
    script:
      image: python:alpine3.23
      command: [python3]
      source: |
        import sys, time
        time.sleep(1.5)
        sys.exit(0 if "{{inputs.parameters.open}}" == "yes" else 1)
"""


def submitted(path: Path, *flags: str) -> str:
    """The name of the workflow `submit` made (with `--wait`, a failed run exits 1)."""
    done = cli("submit", str(path), "-o", "json", *flags, check="--wait" not in flags)
    name: str = json.loads(done.stdout)["metadata"]["name"]
    return name


def finished(name: str) -> dict[str, Any]:
    cli("wait", name, check=False, timeout=90)
    return get(name)


def phases(workflow: dict[str, Any]) -> dict[str, str]:
    return {n["displayName"]: n["phase"] for n in workflow["status"]["nodes"].values()}


def test_retry_from_the_command_line_runs_on_to_succeeded_after_the_fix(tmp_path: Path) -> None:
    """The step fails until its ConfigMap says so; `retry` returns at once with the run
    Running (not Error because the command exited), and it ends Succeeded, the step
    that had succeeded kept."""
    (tmp_path / "gate.yaml").write_text(GATE.replace("{OPEN}", "no"))
    cli("apply", str(tmp_path / "gate.yaml"))
    (tmp_path / "gated.yaml").write_text(GATED)
    name = submitted(tmp_path / "gated.yaml")
    failed = finished(name)
    assert failed["status"]["phase"] == "Failed"
    first = node(failed, "first")
    (tmp_path / "gate.yaml").write_text(GATE.replace("{OPEN}", "yes"))
    cli("apply", str(tmp_path / "gate.yaml"))

    assert cli("retry", name).stdout == f"workflow {name} retried\n"
    running = get(name)  # the retrying command has exited
    assert running["status"]["phase"] == "Running"
    assert "finishedAt" not in running["status"] or not running["status"]["finishedAt"]
    assert {"type": "Completed", "status": "False"} in running["status"]["conditions"]
    assert node(running, "first") == first  # kept as it was
    assert "gated" not in phases(running) or node(running, "gated")["phase"] != "Failed"
    final = finished(name)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    assert phases(final) == {name: "Succeeded", "[0]": "Succeeded", "first": "Succeeded",
                             "[1]": "Succeeded", "gated": "Succeeded"}  # fmt: skip
    assert {"type": "Completed", "status": "True"} in final["status"]["conditions"]
    assert node(final, "first") == first
    assert node(final, "gated")["inputs"]["parameters"][0]["value"] == "yes"


def test_a_run_ended_here_and_retried_from_the_command_line_is_followed_here() -> None:
    """A notebook's run (this process) retried from a terminal: `get` and `wait` here
    follow the retried run, not the end this process saw."""
    backend = LocalBackend()
    name = backend.submit(parse_text(RETRYABLE)[0].body)["metadata"]["name"]
    assert backend.wait(name, timeout=60)["status"]["phase"] == "Failed"
    cli("retry", name, "-p", "code=0")
    assert backend.get(name)["status"]["phase"] == "Running"
    final = backend.wait(name, timeout=60)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    assert node(final, "maybe")["phase"] == "Succeeded"


FOUR_TASKS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: four-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: stamp}
      - {name: b, template: stamp}
      - {name: c, template: stamp}
      - {name: d, template: stamp, dependencies: [b]}
  - name: stamp
    script:
      image: python:alpine3.23
      command: [python3]
      source: |
        import time
        print(time.time_ns())
"""


def results(workflow: dict[str, Any]) -> dict[str, str]:
    return {
        n["displayName"]: n["outputs"]["result"]
        for n in workflow["status"]["nodes"].values()
        if n["type"] == "Pod"
    }


def test_retry_restart_successful_reruns_the_selected_node_and_what_depends_on_it(
    tmp_path: Path,
) -> None:
    """A Succeeded DAG, `retry --restart-successful --node-field-selector displayName=b`:
    `b` is deleted with its descendants (`d`, its child), the DAG node restarts, `a` and
    `c` are kept; without the two options a Succeeded workflow cannot be retried."""
    (tmp_path / "four.yaml").write_text(FOUR_TASKS)
    name = submitted(tmp_path / "four.yaml", "--wait")
    before = get(name)
    assert before["status"]["phase"] == "Succeeded"
    refused = cli("retry", name, "--node-field-selector", "displayName=b", check=False)
    assert refused.stderr == (
        "jupyter-argo: To retry a succeeded workflow, set the options restartSuccessful "
        "and nodeFieldSelector\n"
    )
    bad = cli(
        "retry", name, "--restart-successful", "--node-field-selector", "b", check=False
    )  # fmt: skip
    assert (bad.returncode, bad.stderr) == (
        1,
        "jupyter-argo: unable to parse node field selector 'b': invalid selector: 'b'; "
        "can't understand 'b'\n",
    )
    assert get(name) == before  # nothing half-written

    cli("retry", name, "--restart-successful", "--node-field-selector", "displayName=b")
    after = finished(name)
    assert after["status"]["phase"] == "Succeeded", after["status"].get("message")
    old, new = results(before), results(after)
    assert {task for task in old if old[task] != new[task]} == {"b", "d"}
    assert node(after, "a") == node(before, "a")  # kept as it was
    assert set(after["status"]["nodes"]) == set(before["status"]["nodes"])


GROUPED = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: grouped-
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: go
      value: "no"
  templates:
  - name: main
    steps:
    - - name: setup
        template: stamp
    - - name: work
        template: work
      - name: extra
        template: stamp
        when: "{{workflow.parameters.go}} == yes"
  - name: stamp
    script:
      image: python:alpine3.23
      command: [python3]
      source: |
        import time
        print(time.time_ns())
  - name: work
    script:
      image: python:alpine3.23
      command: [python3]
      source: |
        import sys
        sys.exit(0 if "{{workflow.parameters.go}}" == "yes" else 1)
"""


def test_retry_with_a_parameter_expands_the_restarted_group_again(tmp_path: Path) -> None:
    """`retry -p go=yes`: the group that restarts loses its children (Argo v4's fix for
    #15802), so the step skipped by `when` under the old value runs under the new one;
    the earlier group is kept."""
    (tmp_path / "grouped.yaml").write_text(GROUPED)
    name = submitted(tmp_path / "grouped.yaml", "--wait")
    before = get(name)
    assert phases(before)["work"] == "Failed"
    assert phases(before)["extra"] == "Skipped"
    cli("retry", name, "-p", "go=yes")
    after = finished(name)
    assert after["status"]["phase"] == "Succeeded", after["status"].get("message")
    assert after["spec"]["arguments"]["parameters"] == [{"name": "go", "value": "yes"}]
    assert phases(after)["extra"] == "Succeeded"
    assert phases(after)["work"] == "Succeeded"
    assert node(after, "setup") == node(before, "setup")


def test_resubmit_memoized_with_a_parameter_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "retryable.yaml").write_text(RETRYABLE)
    name = submitted(tmp_path / "retryable.yaml", "--wait")
    before = get(name)
    assert before["status"]["phase"] == "Failed"
    out = cli("resubmit", name, "--memoized", "-p", "code=0").stdout
    again = out.split()[1]
    assert out == f"workflow {again} resubmitted\n"
    final = finished(again)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    assert final["spec"]["arguments"]["parameters"] == [{"name": "code", "value": "0"}]
    ok = node(final, "ok")
    assert (ok["phase"], ok["type"]) == ("Skipped", "Skipped")
    assert ok["message"] == f"original pod: {node(before, 'ok')['id']}"
    assert node(final, "maybe")["phase"] == "Succeeded"
    assert get(name)["status"]["phase"] == "Failed"  # the old run is left as it was


TWO_APPROVALS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: two-approvals-
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: legal
        template: wait
      - name: ops
        template: wait
    - - name: release
        template: wait
  - name: wait
    suspend: {}
"""


def test_stop_by_node_field_selector_fails_only_the_matching_suspend_node(
    tmp_path: Path,
) -> None:
    """Argo's StopWorkflow with a node field selector is updateSuspendedNode with phase
    Failed: only `legal` ends (Failed, the message given), `ops` still waits, the workflow
    is not shut down; once `ops` is resumed the group fails for `legal`."""
    (tmp_path / "two.yaml").write_text(TWO_APPROVALS)
    name = submitted(tmp_path / "two.yaml")
    wait_for_node(name, "legal", "Running")
    wait_for_node(name, "ops", "Running")
    bad = cli("stop", name, "--node-field-selector", "displayName=a=b", check=False)
    assert bad.stderr == (
        "jupyter-argo: unable to parse node field selector 'displayName=a=b': invalid field "
        "selector: unescaped character in value: 61\n"
    )
    cli("stop", name, "--node-field-selector", "displayName==legal", "--message", "not yet")
    waiting = get(name)  # `stop` returns once the run has it
    assert waiting["status"]["phase"] == "Running"
    assert node(waiting, "legal")["message"] == "not yet"
    assert node(waiting, "ops")["phase"] == "Running"
    assert not waiting["spec"].get("shutdown")
    again = cli("stop", name, "--node-field-selector", "displayName=legal", check=False)
    assert again.stderr == (
        "jupyter-argo: currently, set only targets suspend nodes: no suspend nodes matching "
        "nodeFieldSelector: displayName=legal\n"
    )
    cli("resume", name, "--node-field-selector", "displayName=ops")
    final = finished(name)
    assert final["status"]["phase"] == "Failed"
    assert phases(final) == {name: "Failed", "[0]": "Failed", "legal": "Failed",
                             "ops": "Succeeded"}  # fmt: skip


def test_node_set_supplies_an_output_that_resume_passes_on(tmp_path: Path) -> None:
    """`node set -p` without a phase: the suspend node keeps waiting with its output
    set (and the global output); `resume` ends the wait, the value goes downstream."""
    (tmp_path / "approval.yaml").write_text(APPROVAL)
    name = submitted(tmp_path / "approval.yaml")
    wait_for_node(name, "approve", "Running")
    cli("node", "set", name, "--node-field-selector", "displayName=approve",
        "--output-parameter", 'message="ship it"')  # fmt: skip
    waiting = get(name)  # `node set` returns once the run has it
    assert node(waiting, "approve")["phase"] == "Running"
    assert node(waiting, "approve")["outputs"]["parameters"] == [
        {"name": "message", "globalName": "approval", "value": "ship it"}
    ]
    assert cli("resume", name).stdout == f"workflow {name} resumed\n"
    final = finished(name)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    assert final["status"]["outputs"]["parameters"] == [{"name": "approval", "value": "ship it"}]
    assert "released: ship it" in cli("logs", name).stdout


def test_resume_without_a_value_takes_the_default_or_is_refused(tmp_path: Path) -> None:
    """Argo's ResumeWorkflow gives each unsupplied output its default and refuses (nothing
    changed) when one has none; supplying it then lets the run go on."""
    (tmp_path / "approval.yaml").write_text(APPROVAL)
    name = submitted(tmp_path / "approval.yaml")
    wait_for_node(name, "approve", "Running")
    refused = cli("resume", name, check=False)
    assert (refused.returncode, refused.stderr) == (
        1,
        "jupyter-argo: raw output parameter 'message' has not been set and does not have "
        "a default value\n",
    )
    time.sleep(0.5)
    assert node(get(name), "approve")["phase"] == "Running"
    cli("node", "set", name, "--node-field-selector", "displayName=approve", "-p", "message=ok")
    cli("resume", name)
    final = finished(name)
    assert final["status"]["phase"] == "Succeeded"
    assert "released: ok" in cli("logs", name).stdout


def test_intermediate_parameters_resumed_without_a_value_use_the_input_default(
    tmp_path: Path,
) -> None:
    """Argo's intermediate-parameters example: the suspend node's output `approve` has no
    default, its input of the same name has 'NO' (addRawOutputFields copies it); `resume`
    without a value gives 'NO', so `deploy-prod` is skipped."""
    example = argo_examples() / "intermediate-parameters.yaml"
    name = submitted(example)
    wait_for_node(name, "approval", "Running")
    waiting = node(get(name), "approval")
    assert waiting["outputs"]["parameters"] == [
        {"name": "approve", "valueFrom": {"supplied": {}, "default": "NO"}}
    ]
    cli("resume", name)
    final = finished(name)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    approval = node(final, "approval")
    assert approval["outputs"]["parameters"] == [{"name": "approve", "value": "NO"}]
    prod = node(final, "deploy-prod")
    assert (prod["phase"], prod["message"]) == ("Skipped", "when 'NO == YES' evaluated false")


def test_magic_retry_with_restart_successful_runs_on_in_the_kernel(
    ip: TestingShell,  # noqa: F811
) -> None:
    """`%argo retry` in the notebook: the kernel's engine runs the retried run to its end."""
    run: Any = cell(ip, "--no-view", FOUR_TASKS)
    assert run.phase == "Succeeded"
    before = run.backend.get(run.name, run.namespace)
    again = ip.run_line_magic(
        "argo", f"retry {run.name} --restart-successful --node-field-selector displayName=c"
    )
    final = again.wait(60)
    assert final.phase == "Succeeded"
    after = run.backend.get(run.name, run.namespace)
    old, new = results(before), results(after)
    assert {task for task in old if old[task] != new[task]} == {"c"}


def test_a_suspend_duration_running_out_gives_the_default_or_errors(tmp_path: Path) -> None:
    """executeSuspend: when the duration passes, OverrideOutputParametersWithDefault; an
    output with no value and no default makes the node Error with its message."""
    timed = APPROVAL.replace("suspend: {}", 'suspend: {duration: "1"}')
    (tmp_path / "no-default.yaml").write_text(timed)
    (tmp_path / "default.yaml").write_text(
        timed.replace("supplied: {}", "supplied: {}\n          default: later")
    )
    final = get(submitted(tmp_path / "no-default.yaml", "--wait"))
    approve = node(final, "approve")
    assert (approve["phase"], approve["message"]) == (
        "Error",
        "raw output parameter 'message' has not been set and does not have a default value",
    )
    name = submitted(tmp_path / "default.yaml", "--wait")
    assert get(name)["status"]["phase"] == "Succeeded"
    assert "released: later" in cli("logs", name).stdout


KERNEL_RETRYABLE = "%%argo --async --no-view --out VAR\n" + RETRYABLE


def test_retry_in_a_kernel_and_from_a_terminal_both_reach_the_end(
    kernel: tuple[KernelManager, BlockingKernelClient],  # noqa: F811
) -> None:
    """In a real kernel: `%argo retry -p` runs the retried run in the kernel to its end;
    a kernel's failed run retried from a terminal (`jupyter-argo retry`, which exits) is
    followed by the kernel's Run to its new end."""
    _, client = kernel
    kernel_run(client, "%load_ext jupyter_argo")
    kernel_run(client, KERNEL_RETRYABLE.replace("VAR", "first", 1))
    assert value(client, "first.wait(60).phase") == "'Failed'"
    name = value(client, "first.name").strip("'")
    kernel_run(client, f"again = get_ipython().run_line_magic('argo', 'retry {name} -p code=0')")
    assert value(client, "again.wait(60).phase") == "'Succeeded'"
    assert value(client, "[n.phase for n in again.nodes() if n.display_name == 'maybe']") == (
        "['Succeeded']"
    )

    kernel_run(client, KERNEL_RETRYABLE.replace("VAR", "second", 1))
    assert value(client, "second.wait(60).phase") == "'Failed'"
    other = value(client, "second.name").strip("'")
    cli("retry", other, "-p", "code=0")
    assert value(client, "second.wait(60).phase") == "'Succeeded'"


RETRIED_AT_ONCE = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: at-once-}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: code, value: "1"}]
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c]
      args: ["echo kept > /tmp/x; sleep 1.5; cat /tmp/x; exit {{workflow.parameters.code}}"]
"""


def test_a_retry_at_once_is_not_undone_by_the_last_runs_background_clean_up(
    tmp_path: Path,
) -> None:
    """The last run's pods and scratch files are removed in the background after it
    ends. A retry (same workflow, same uid, same pod names) started before that removal
    has happened must not lose its own files to it: here the removal is held back until
    the retried pod is running, then let go."""
    import threading

    from jupyter_argo.executors import _executor

    backend = LocalBackend(home=tmp_path / "home")
    held, holding = threading.Event(), threading.Event()

    def hold() -> None:
        holding.set()
        held.wait(30)

    _executor._discard(hold, False)  # the clean-up thread waits; what follows queues up
    assert holding.wait(10)
    try:
        (manifest,) = [d.body for d in parse_text(RETRIED_AT_ONCE)]
        name = backend.submit(manifest)["metadata"]["name"]
        first = backend.wait(name, timeout=60)
        assert first["status"]["phase"] == "Failed"
        backend.retry(name, parameters={"code": "0"})
        wait_for_node = time.monotonic() + 30
        while time.monotonic() < wait_for_node:
            pods = [n for n in backend.get(name)["status"]["nodes"].values() if n["type"] == "Pod"]
            if pods and pods[0]["phase"] == "Running":
                break
            time.sleep(0.05)
        time.sleep(0.3)  # the pod has written /tmp/x and sleeps
    finally:
        held.set()  # the last run's clean-up goes ahead now, while the retried pod runs
    final = backend.wait(name, timeout=60)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    (pod,) = [n for n in final["status"]["nodes"].values() if n["type"] == "Pod"]
    assert [line for _, line in backend.logs(name, node=pod["id"])] == ["kept"]
