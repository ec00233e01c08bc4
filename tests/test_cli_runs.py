"""`jupyter-argo run/submit/list/get/logs/wait/stop/delete/apply` as separate processes,
sharing one data directory, as users run them from a terminal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HELLO = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
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

SLEEPY = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: sleepy-
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c, "echo started; sleep 60"]
  - name: bye
    container:
      image: alpine
      command: [echo, "exit handler ran"]
"""


def cli(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "jupyter_argo.cli", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "hello.yaml"
    path.write_text(HELLO)
    return path


def test_run_prints_final_workflow_and_exit_code(hello: Path) -> None:
    done = cli("run", str(hello), "-p", "who=argo", "-o", "json")
    workflow = json.loads(done.stdout)
    assert workflow["kind"] == "Workflow"
    assert workflow["status"]["phase"] == "Succeeded"
    root = workflow["status"]["nodes"][workflow["metadata"]["name"]]
    assert root["outputs"]["result"] == "hello argo"
    assert "apiVersion" in workflow
    assert workflow["spec"]["entrypoint"] == "main"


def test_failed_run_exits_one(tmp_path: Path) -> None:
    path = tmp_path / "fail.yaml"
    path.write_text(HELLO.replace('[echo, "hello {{inputs.parameters.who}}"]', "[exit, '2']"))
    done = cli("run", str(path), "-o", "json", check=False)
    assert done.returncode == 1
    assert json.loads(done.stdout)["status"]["phase"] == "Failed"


def test_unknown_parameter_is_one_line(hello: Path) -> None:
    done = cli("run", str(hello), "-p", "nobody=x", check=False)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "parameter 'nobody' is not a workflow argument (known: who)" in done.stderr


def test_lint_errors_stop_a_run_before_it_starts(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(HELLO.replace("container:", "contaner:"))
    done = cli("run", str(path), check=False)
    assert done.returncode == 1
    assert "contaner" in done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(cli("list", "-o", "json").stdout) == []


def test_submit_detached_then_get_logs_list_wait(hello: Path) -> None:
    created = json.loads(cli("submit", str(hello), "-o", "json").stdout)
    name = created["metadata"]["name"]
    cli("wait", name)
    workflow = json.loads(cli("get", name, "-o", "json").stdout)
    assert workflow["status"]["phase"] == "Succeeded"
    logs = cli("logs", name).stdout.splitlines()
    assert logs == [f"{name}: hello world"]
    listed = cli("list").stdout
    assert name in listed
    assert "Succeeded" in listed


def test_stop_from_another_process_runs_exit_handler(tmp_path: Path) -> None:
    path = tmp_path / "sleepy.yaml"
    path.write_text(SLEEPY)
    created = json.loads(cli("submit", str(path), "-o", "json").stdout)
    name = created["metadata"]["name"]
    _wait_for_log(name, "started")
    cli("stop", name)
    done = cli("wait", name, check=False, timeout=30)
    assert done.returncode == 1
    workflow = json.loads(cli("get", name, "-o", "json").stdout)
    assert workflow["status"]["phase"] == "Failed"
    assert workflow["status"]["message"] == "Stopped with strategy 'Stop'"
    lines = cli("logs", name).stdout
    assert "exit handler ran" in lines


def test_run_whose_engine_died_is_marked_error(tmp_path: Path) -> None:
    path = tmp_path / "sleepy.yaml"
    path.write_text(SLEEPY)
    runner = subprocess.Popen(
        [sys.executable, "-m", "jupyter_argo.cli", "run", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    name = ""
    deadline = time.monotonic() + 20
    while not name and time.monotonic() < deadline:
        rows = json.loads(cli("list", "-o", "json").stdout)
        name = rows[0]["metadata"]["name"] if rows else ""
        time.sleep(0.1)
    _wait_for_log(name, "started")
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    workflow = json.loads(cli("get", name, "-o", "json").stdout)
    assert workflow["status"]["phase"] == "Error"
    assert "the engine running this workflow stopped" in workflow["status"]["message"]
    # Its logs so far are kept.
    assert "started" in cli("logs", name).stdout


def test_two_processes_share_one_data_directory(hello: Path) -> None:
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "jupyter_argo.cli", "run", str(hello), "-o", "json"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    names = set()
    for run in runs:
        out, _ = run.communicate(timeout=60)
        assert run.returncode == 0
        names.add(json.loads(out)["metadata"]["name"])
    listed = {w["metadata"]["name"] for w in json.loads(cli("list", "-o", "json").stdout)}
    assert names == listed
    assert len(names) == 4


def test_apply_directory_skips_other_kinds(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {k: v}\n---\n"
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: pvc}\n"
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "t.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: tpl}\n"
        'spec:\n  templates:\n  - name: t\n    container: {image: alpine, command: ["true"]}\n'
    )
    done = cli("apply", str(tmp_path))
    assert done.stdout.splitlines() == ["configmap/cm created", "workflowtemplate/tpl created"]
    assert "PersistentVolumeClaim pvc skipped" in done.stderr
    assert cli("apply", str(tmp_path)).stdout.splitlines()[0] == "configmap/cm unchanged"


def test_delete_removes_run_and_files(hello: Path) -> None:
    workflow = json.loads(cli("run", str(hello), "-o", "json").stdout)
    name = workflow["metadata"]["name"]
    home = Path(os.environ["JUPYTER_ARGO_HOME"])
    assert (home / "runs" / workflow["metadata"]["uid"]).exists()
    assert cli("delete", name).stdout.strip() == f'Workflow "{name}" deleted'
    assert not (home / "runs" / workflow["metadata"]["uid"]).exists()
    missing = cli("get", name, check=False)
    assert missing.returncode == 1
    assert f'workflows.argoproj.io "{name}" not found' in missing.stderr


def _wait_for_log(name: str, text: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if text in cli("logs", name, check=False).stdout:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never logged {text!r}")
