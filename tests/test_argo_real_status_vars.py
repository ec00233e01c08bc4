"""Variables and status (issue 14, item 6) on Argo v4.0.5 itself and on the local engine:
the same manifest run by Argo's controller in real pods and by our engine, compared on
what Argo writes (`workflow.failures` as an exit handler reads it, progress, the
workflow deadline's messages, the Argo-side exit handler)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s.testbed import Testbed, shared_testbed

from jupyter_argo.backends.kubernetes import KubernetesBackend
from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.spec.parse import parse_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bed() -> Testbed:
    return shared_testbed()


@pytest.fixture
def argo(bed: Testbed, tmp_path: Path) -> Iterator[KubernetesBackend]:
    backend = KubernetesBackend(kubeconfig=bed.api.kubeconfig(tmp_path / "kubeconfig"))
    yield backend
    backend.close()


def manifest(text: str) -> dict[str, Any]:
    (doc,) = [d for d in parse_text(text) if d.kind == "Workflow"]
    body: dict[str, Any] = doc.body
    return body


def run_both(
    argo: KubernetesBackend, text: str, home: Path
) -> tuple[dict[str, Any], dict[str, Any], LocalBackend]:
    created = argo.submit(manifest(text))
    local = LocalBackend(home=home)
    local_final = local.wait(local.submit(manifest(text))["metadata"]["name"], timeout=120)
    argo_final = argo.wait(created["metadata"]["name"], timeout=240)
    return argo_final, local_final, local


def by_display(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in workflow["status"]["nodes"].values()}


def own_lines(backend: Any, workflow: dict[str, Any], display: str) -> list[str]:
    node = by_display(workflow)[display]
    lines = [line for _, line in backend.logs(workflow["metadata"]["name"], node=node["id"])]
    return [line for line in lines if "argo=true" not in line]


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
    container: {image: alpine:3.23, command: [sh, -c, "true"]}
  - name: fail
    container: {image: alpine:3.23, command: [sh, -c, "exit 3"]}
  - name: report
    script:
      image: python:3.12
      command: [python3]
      source: |
        import json
        failures = json.loads({{workflow.failures}})
        print(json.dumps([list(failures[0])] + sorted(
            [e["displayName"].startswith("failures-"), e["templateName"], e["phase"],
             e["message"] if e["displayName"] == "broken" else "",
             e["podName"].startswith("{{workflow.name}}-"), bool(e["finishedAt"])]
            for e in failures)))
"""


def test_workflow_failures_and_progress_as_argo_writes_them(
    argo: KubernetesBackend, tmp_path: Path
) -> None:
    theirs, ours, local = run_both(argo, FAILURES, tmp_path / "home")
    assert theirs["status"]["phase"] == ours["status"]["phase"] == "Failed"
    # The exit handler parses `{{workflow.failures}}` alike: same fields, same order,
    # same entries.
    their_report = json.loads(own_lines(argo, theirs, f"{theirs['metadata']['name']}.onExit")[-1])
    our_report = json.loads(own_lines(local, ours, f"{ours['metadata']['name']}.onExit")[-1])
    # Argo v4 names the failed container (operator.go: "main: Error (exit code 3)").
    assert any(entry[3] == "main: Error (exit code 3)" for entry in their_report[1:])
    assert their_report == our_report
    assert our_report[0] == [
        "displayName",
        "message",
        "templateName",
        "phase",
        "podName",
        "finishedAt",
    ]
    # Progress on the workflow and on every node, by display name.
    assert ours["status"]["progress"] == theirs["status"]["progress"]

    def progress(wf: dict[str, Any]) -> dict[str, str | None]:
        root = wf["metadata"]["name"]
        return {
            ("ROOT" if k == root else k.replace(root, "ROOT")): n.get("progress")
            for k, n in by_display(wf).items()
        }

    assert progress(ours) == progress(theirs)


DEADLINE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: deadline-}
spec:
  entrypoint: main
  activeDeadlineSeconds: 15
  onExit: bye
  templates:
  - name: main
    steps:
    - - {name: nap, template: nap}
      - {name: pause, template: pause}
    - - {name: later, template: nap}
  - name: nap
    container: {image: alpine:3.23, command: [sleep, "120"]}
  - name: pause
    suspend: {}
  - name: bye
    container: {image: alpine:3.23, command: [sh, -c, "echo {{workflow.status}}"]}
"""


def test_workflow_deadline_as_argo_ends_it(argo: KubernetesBackend, tmp_path: Path) -> None:
    theirs, ours, local = run_both(argo, DEADLINE, tmp_path / "home")

    def summary(wf: dict[str, Any]) -> dict[str, tuple[str, str]]:
        root = wf["metadata"]["name"]
        return {
            k.replace(root, "ROOT"): (
                n["phase"],
                n.get("message", "") if n["type"] in ("Pod", "Suspend") else "",
            )
            for k, n in by_display(wf).items()
        }

    assert summary(ours) == summary(theirs)
    assert summary(ours)["nap"] == (
        "Failed",
        "Pod was active on the node longer than the specified deadline",
    )
    assert summary(ours)["pause"] == ("Failed", "Step exceeded its deadline")
    assert ours["status"]["phase"] == theirs["status"]["phase"] == "Failed"
    assert own_lines(argo, theirs, f"{theirs['metadata']['name']}.onExit") == own_lines(
        local, ours, f"{ours['metadata']['name']}.onExit"
    )
