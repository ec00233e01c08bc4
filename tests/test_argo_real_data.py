"""Data templates on Argo itself (its controller runs `argoexec data` in a real pod, the
artifact repository a real S3-compatible server) and on our local engine: the same
nodes, the same `outputs.result`, the same failures. Skips cleanly when the real-Argo
test bed cannot start (see tests/k8s/testbed.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from k8s.testbed import Testbed, shared_testbed

from jupyter_argo.backends.kubernetes import KubernetesBackend
from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.spec.parse import parse_text

pytestmark = pytest.mark.slow

# A step's outputs listed by key prefix and filtered, the list fed to a withParam loop
# whose items are input artifact keys. The listed bucket is the artifact's own (the test
# bed's repository bucket is `artifacts`; the local engine's embedded repository answers
# for any bucket). Argo's CRD requires `data.transformation`.
DATA = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: data-real-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: make, template: make}
    - - {name: list-log-files, template: list-log-files}
      - {name: mapped, template: mapped}
    - - name: process-logs
        template: process-logs
        withParam: "{{steps.list-log-files.outputs.result}}"
        arguments:
          artifacts: [{name: file, s3: {key: "{{item}}"}}]
          parameters: [{name: file-name, value: "{{item}}"}]
  - name: make
    script:
      image: alpine
      command: [sh]
      source: |
        mkdir -p /out/a /out/b
        echo one > /out/a/main.log
        echo two > /out/a/init.log
        echo 'three & <four>' > /out/b/main.log
    outputs:
      artifacts:
      - {name: logs, path: /out, archive: {none: {}}, s3: {key: "logs/{{workflow.name}}"}}
  - name: list-log-files
    data:
      source:
        artifactPaths: {name: logs, s3: {bucket: artifacts, key: "logs/{{workflow.name}}"}}
      transformation:
      - expression: 'filter(data, {# endsWith "main.log"})'
  - name: mapped
    data:
      source:
        artifactPaths: {name: logs, s3: {bucket: artifacts, key: "logs/{{workflow.name}}/a"}}
      transformation:
      - expression: 'filter(data, {not(# endsWith "main.log")})'
      - expression: "map(data, {# + '.processed&'})"
  - name: process-logs
    inputs:
      parameters: [{name: file-name}]
      artifacts: [{name: file, path: /file}]
    container:
      image: alpine
      command: [sh, -c]
      args: ["echo {{inputs.parameters.file-name}}; head /file"]
"""

FAILING = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: data-failing-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: make, template: make}
    - - {name: missing, template: missing}
      - {name: bad, template: bad}
      - {name: http, template: http}
      - {name: no-bucket, template: no-bucket}
  - name: make
    container: {image: alpine, command: [sh, -c, "echo x > /tmp/x.txt"]}
    outputs:
      artifacts:
      - {name: x, path: /tmp/x.txt, archive: {none: {}}, s3: {key: "made/{{workflow.name}}/x"}}
  - name: missing
    data:
      source: {artifactPaths: {name: a, s3: {bucket: artifacts, key: "no/such/{{workflow.name}}"}}}
      transformation: [{expression: data}]
  - name: bad
    data:
      source: {artifactPaths: {name: a, s3: {bucket: artifacts, key: "made/{{workflow.name}}"}}}
      transformation: [{expression: "map(data, {# + '.processed'}"}]
  - name: no-bucket
    data:
      source: {artifactPaths: {name: a, s3: {key: "made/{{workflow.name}}"}}}
      transformation: [{expression: data}]
  - name: http
    data:
      source: {artifactPaths: {name: a, http: {url: "http://127.0.0.1:9/x"}}}
      transformation: [{expression: data}]
"""


@pytest.fixture(scope="module")
def bed() -> Testbed:
    return shared_testbed()


def workflow(text: str) -> dict[str, Any]:
    (body,) = [d.body for d in parse_text(text) if d.kind == "Workflow"]
    return body


def both(bed: Testbed, tmp_path: Path, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    argo = KubernetesBackend(kubeconfig=bed.api.kubeconfig(tmp_path / "kubeconfig"))
    try:
        created = argo.submit(workflow(text))
        local = LocalBackend(home=tmp_path / "home")
        local_final = local.wait(local.submit(workflow(text))["metadata"]["name"], timeout=120)
        argo_final = argo.wait(created["metadata"]["name"], timeout=240)
    finally:
        argo.close()
    return argo_final, local_final


def nodes(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each node by display name, the workflow's own name replaced by WF everywhere."""
    root = wf["metadata"]["name"]
    return {
        n["displayName"].replace(root, "WF"): {
            "type": n["type"],
            "phase": n["phase"],
            "message": n.get("message", "").replace(root, "WF"),
            "result": (n.get("outputs") or {}).get("result", "").replace(root, "WF"),
            "exitCode": (n.get("outputs") or {}).get("exitCode"),
        }
        for n in wf["status"]["nodes"].values()
    }


def test_data_templates_end_as_on_argo(bed: Testbed, tmp_path: Path) -> None:
    argo, local = both(bed, tmp_path, DATA)
    assert argo["status"]["phase"] == "Succeeded", json.dumps(nodes(argo), indent=1)
    assert local["status"]["phase"] == "Succeeded", json.dumps(nodes(local), indent=1)
    theirs, ours = nodes(argo), nodes(local)
    for name in ("list-log-files", "mapped"):
        assert theirs[name]["type"] == "Pod"
        assert ours[name] == theirs[name], name
    assert theirs["list-log-files"]["result"] == '["logs/WF/a/main.log","logs/WF/b/main.log"]'
    loops = sorted(k for k in theirs if k.startswith("process-logs("))
    assert sorted(k for k in ours if k.startswith("process-logs(")) == loops
    assert theirs["mapped"]["result"] == '["logs/WF/a/init.log.processed\\u0026"]'
    for name in loops:
        # Argo records a container's stdout as its result only when the caller reads it
        # (includeScriptOutput); nothing reads these, so only the ends are compared.
        assert (ours[name]["phase"], ours[name]["exitCode"]) == ("Succeeded", "0"), name
        assert (theirs[name]["phase"], theirs[name]["exitCode"]) == ("Succeeded", "0"), name


def test_data_template_failures_as_on_argo(bed: Testbed, tmp_path: Path) -> None:
    argo, local = both(bed, tmp_path, FAILING)
    assert argo["status"]["phase"] == local["status"]["phase"] == "Failed", json.dumps(
        nodes(argo), indent=1
    )
    theirs, ours = nodes(argo), nodes(local)
    for name in ("missing", "http", "no-bucket"):
        assert ours[name] == theirs[name], name
    # expr's own message is several lines (the source and a caret); ours is one line.
    prefix = "unable to process data transformation: error processing data step 0: "
    assert theirs["bad"]["message"].split(prefix)[0] == ours["bad"]["message"].split(prefix)[0]
    assert {k: v for k, v in ours["bad"].items() if k != "message"} == {
        k: v for k, v in theirs["bad"].items() if k != "message"
    }
