"""Fields the local engine used to ignore and now honours (issue 14 item 1), each run on
Argo's own controller (the real-Argo test bed) and on the local engine: the final
Workflow objects must agree. The Kubernetes backend talks to the test bed here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from k8s.testbed import Testbed, shared_testbed
from test_argo_real import by_display_name, node_shapes, unique, workflow

from jupyter_argo.backends.kubernetes import KubernetesBackend
from jupyter_argo.backends.local import LocalBackend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bed() -> Testbed:
    return shared_testbed()


@pytest.fixture
def argo(bed: Testbed, tmp_path: Path) -> Any:
    backend = KubernetesBackend(kubeconfig=bed.api.kubeconfig(tmp_path / "kubeconfig"))
    yield backend
    backend.close()


def run_both(argo: KubernetesBackend, text: str, home: Path) -> tuple[dict[str, Any], ...]:
    manifest = workflow(text)
    meta = manifest["metadata"]
    meta["name"] = unique(meta.pop("generateName").rstrip("-"))
    created = argo.submit(manifest)
    local = LocalBackend(home=home)
    local_final = local.wait(local.submit(manifest)["metadata"]["name"], timeout=120)
    argo_final = argo.wait(created["metadata"]["name"], timeout=240)
    return argo_final, local_final


WORKFLOW_RETRY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: spec-retry-}
spec:
  entrypoint: main
  retryStrategy: {limit: 1}
  templates:
  - name: main
    steps:
    - - {name: ok, template: ok}
      - {name: fails, template: fails}
  - name: ok
    container: {image: busybox, command: [echo, fine]}
  - name: fails
    container: {image: busybox, command: [sh, -c, "exit 3"]}
"""


def test_a_workflow_retry_strategy_retries_every_template_as_argo_does(
    argo: KubernetesBackend, tmp_path: Path
) -> None:
    """`spec.retryStrategy` is the strategy of every template without its own, the steps
    template included (Argo's woc.retryStrategy), so retries nest."""
    theirs, ours = run_both(argo, WORKFLOW_RETRY, tmp_path / "home")
    assert theirs["status"]["phase"] == ours["status"]["phase"] == "Failed"
    assert node_shapes(ours) == node_shapes(theirs)
    assert sum(n["type"] == "Pod" for n in ours["status"]["nodes"].values()) == 6


DISPLAY_NAME = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: display-name-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: greet
        template: echo
        arguments: {parameters: [{name: who, value: world}]}
  - name: echo
    inputs: {parameters: [{name: who}]}
    annotations:
      workflows.argoproj.io/display-name: "hello-{{inputs.parameters.who}}"
    container: {image: busybox, command: [echo, "{{inputs.parameters.who}}"]}
"""


def test_a_display_name_annotation_names_the_node(argo: KubernetesBackend, tmp_path: Path) -> None:
    theirs, ours = run_both(argo, DISPLAY_NAME, tmp_path / "home")
    assert theirs["status"]["phase"] == ours["status"]["phase"] == "Succeeded"
    assert "hello-world" in by_display_name(theirs)
    assert sorted(by_display_name(ours)) == sorted(by_display_name(theirs))


WORKFLOW_METADATA = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: wf-metadata-
  labels: {team: data}
spec:
  entrypoint: main
  arguments: {parameters: [{name: stage, value: nightly}]}
  workflowMetadata:
    labels: {owner: notebooks}
    annotations: {note: from-the-spec}
    labelsFrom:
      stage:
        expression: workflow.parameters.stage + '-' + workflow.labels.team
  templates:
  - name: main
    container:
      image: busybox
      command:
      - echo
      - "{{workflow.labels.owner}} {{workflow.labels.stage}} {{workflow.annotations.note}}"
"""


def test_workflow_metadata_labels_the_run_and_its_variables(
    argo: KubernetesBackend, tmp_path: Path
) -> None:
    theirs, ours = run_both(argo, WORKFLOW_METADATA, tmp_path / "home")
    assert theirs["status"]["phase"] == ours["status"]["phase"] == "Succeeded"
    for key in ("owner", "stage", "team"):
        assert ours["metadata"]["labels"][key] == theirs["metadata"]["labels"][key], key
    assert theirs["metadata"]["labels"]["stage"] == "nightly-data"
    assert ours["metadata"]["annotations"]["note"] == theirs["metadata"]["annotations"]["note"]
    for backend, final in ((argo, theirs), (LocalBackend(home=tmp_path / "home"), ours)):
        lines = [line for _pod, line in backend.logs(final["metadata"]["name"])]
        assert "notebooks nightly-data from-the-spec" in lines, lines


BAD_LABEL = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: bad-label-}
spec:
  entrypoint: main
  workflowMetadata:
    labelsFrom:
      when: {expression: "'not a label value'"}
  templates:
  - name: main
    container: {image: busybox, command: [echo, never]}
"""


def test_a_label_that_is_not_a_label_value_errors_the_run_as_argo_does(
    argo: KubernetesBackend, tmp_path: Path
) -> None:
    theirs, ours = run_both(argo, BAD_LABEL, tmp_path / "home")
    assert ours["status"]["phase"] == theirs["status"]["phase"] == "Error"
    assert ours["status"]["message"] == theirs["status"]["message"]
