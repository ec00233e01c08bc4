"""The scripting flags of `jupyter-argo` with `--backend kubernetes` against a real
kube-apiserver (no controller: workflows stay as created, without a phase): what the
command asks of the server (a dry run, a list it filters, `@latest`) and prints."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from k8s.envtest import NAMESPACE, ApiServer, shared_api_server

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: script-
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: who, value: world}
  templates:
  - name: main
    container:
      image: alpine
      command: [echo, "{{workflow.parameters.who}}"]
"""


@pytest.fixture(scope="module")
def server() -> ApiServer:
    return shared_api_server()


@pytest.fixture
def kube(server: ApiServer, tmp_path: Path) -> Any:
    config = server.kubeconfig(tmp_path / "kubeconfig")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable, "-m", "jupyter_argo.cli", *args,
            "--backend", "kubernetes", "--kubeconfig", str(config), "-n", NAMESPACE,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    return run


def test_server_dry_run_parameter_file_list_filters_and_latest(kube: Any, tmp_path: Path) -> None:
    prefix = f"s{uuid.uuid4().hex[:6]}-"
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW.replace("generateName: script-", f"generateName: {prefix}"))
    params = tmp_path / "params.yaml"
    params.write_text("who: from-file\n")
    # --server-dry-run: the API server names and completes it (dryRun=All), stores nothing.
    dry = json.loads(
        kube("submit", str(wf), "-f", str(params), "--server-dry-run", "-o", "json").stdout
    )
    assert dry["metadata"]["name"].startswith(prefix)
    assert dry["metadata"]["uid"]
    assert dry["spec"]["arguments"]["parameters"] == [{"name": "who", "value": "from-file"}]
    assert kube("list", "--prefix", prefix, "-o", "name").stdout == "No workflows found\n"
    # Created for real: -o name; then found by prefix, as running (not completed), @latest.
    first = kube("submit", str(wf), "-o", "name").stdout.strip()
    time.sleep(1.1)  # creationTimestamp has whole seconds
    second = kube("submit", str(wf), "-o", "name", "-l", f"batch={prefix[:-1]}").stdout.strip()
    assert kube("list", "--prefix", prefix, "-o", "name").stdout.split() == [second, first]
    assert kube("list", "--prefix", prefix, "--running", "-o", "name").stdout.split() == [
        second,
        first,
    ]
    assert kube("list", "--prefix", prefix, "--completed", "-o", "name").stdout == (
        "No workflows found\n"
    )
    assert kube("list", "-l", f"batch={prefix[:-1]}", "-o", "name").stdout == f"{second}\n"
    assert kube("get", "@latest", "-o", "name").stdout == f"{second}\n"
    # printer.WorkflowStatus: no phase yet but created is "Pending"; never started, so the
    # DURATION is RelativeDurationShort of two zero times, "0s".
    table = kube("list", "--prefix", prefix).stdout.splitlines()
    assert [line.split()[:2] for line in table] == [
        ["NAME", "STATUS"],
        [second, "Pending"],
        [first, "Pending"],
    ]
    assert [line.split()[3:5] for line in table[1:]] == [["0s", "0"], ["0s", "0"]]
    created = json.loads(kube("get", first, "-o", "json").stdout)
    assert created["spec"]["arguments"]["parameters"] == [{"name": "who", "value": "world"}]
    for name in (first, second):
        kube("delete", name)
