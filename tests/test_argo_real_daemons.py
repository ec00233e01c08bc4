"""Daemons on a real Argo v4.0.5 and on our local engine: the same workflow, the same end.

A script daemon serving HTTP, a daemon under a `retryStrategy` whose first attempt dies
before it is ready, a daemon killed because its own steps template finished while the
workflow goes on, one that ends by itself, and a daemon task in a DAG. Every expected
value is what Argo's controller writes (test bed in tests/k8s/testbed.py); the local
engine must write the same phases and messages for the same nodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from k8s.testbed import Testbed, shared_testbed
from test_argo_real import workflow

from jupyter_argo.backends.kubernetes import KubernetesBackend
from jupyter_argo.backends.local import LocalBackend

pytestmark = pytest.mark.slow

# Every pod of the test bed uses the host's network, as every local step does: the two
# runs get their own ports (a probe's port is an integer: no parameter can give it).
DAEMONS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: daemons-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: inner
        template: inner
      - name: quitter
        template: quitter
        continueOn: {failed: true}
      - name: plain
        template: plain-failure
        continueOn: {failed: true}
    - - name: retry-scope
        template: retry-scope
      - name: dag
        template: dag
    # The workflow goes on after every daemon's scope ended: Argo's controller sees the
    # killed pods end.
    - - name: pause
        template: pause
  - name: inner
    steps:
    - - name: server
        template: server
      - name: container-server
        template: container-server
    - - name: client
        template: client
        arguments: {parameters: [{name: url, value: "http://{{steps.server.ip}}:PORT_A/"}]}
  - name: retry-scope
    steps:
    - - name: retried
        template: retried-server
    - - name: client
        template: client
        arguments: {parameters: [{name: url, value: "http://{{steps.retried.ip}}:PORT_B/"}]}
  - name: dag
    dag:
      tasks:
      - name: server
        template: dag-server
      - name: script-server
        template: script-server
      - name: client
        depends: server
        template: client
        arguments: {parameters: [{name: url, value: "http://{{tasks.server.ip}}:PORT_C/"}]}
  - name: server
    daemon: true
    script:
      image: python:3.12
      command: [python3]
      source: |
        import http.server
        class Hello(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"inner daemon")
        http.server.HTTPServer(("", PORT_A), Hello).serve_forever()
      readinessProbe: {tcpSocket: {port: PORT_A}, periodSeconds: 1}
  - name: script-server
    daemon: true
    script:
      image: python:3.12
      command: [python3]
      source: |
        import http.server
        http.server.HTTPServer(("", PORT_E), http.server.SimpleHTTPRequestHandler).serve_forever()
      readinessProbe: {tcpSocket: {port: PORT_E}, periodSeconds: 1}
  - name: container-server
    daemon: true
    container:
      image: python:3.12
      command: [python3, -m, http.server, "PORT_D"]
      readinessProbe: {tcpSocket: {port: PORT_D}, periodSeconds: 1}
  - name: retried-server
    daemon: true
    retryStrategy: {limit: "2"}
    script:
      image: python:3.12
      command: [python3]
      source: |
        import http.server, sys
        if "{{retries}}" == "0":
            sys.exit(3)
        class Hello(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"retried daemon {{retries}}")
        http.server.HTTPServer(("", PORT_B), Hello).serve_forever()
      readinessProbe: {tcpSocket: {port: PORT_B}, periodSeconds: 1}
  - name: quitter
    daemon: true
    container:
      image: busybox
      command: [sh, -c, "exit 0"]
  - name: plain-failure
    container:
      image: busybox
      command: [sh, -c, "exit 3"]
  - name: dag-server
    daemon: true
    container:
      image: python:3.12
      command: [python3, -m, http.server, "PORT_C"]
      readinessProbe: {httpGet: {path: /, port: PORT_C}, periodSeconds: 1}
  - name: pause
    container: {image: busybox, command: [sleep, "8"]}
  - name: client
    inputs: {parameters: [{name: url}]}
    script:
      image: python:3.12
      command: [python3]
      source: |
        import urllib.request
        print(urllib.request.urlopen("{{inputs.parameters.url}}").read().decode()[:20])
"""


def daemons(ports: tuple[int, ...]) -> dict[str, Any]:
    text = DAEMONS
    for name, port in zip(("PORT_A", "PORT_B", "PORT_C", "PORT_D", "PORT_E"), ports, strict=True):
        text = text.replace(name, str(port))
    return workflow(text)


def ends(wf: dict[str, Any]) -> dict[str, tuple[str, str, str, bool]]:
    """name (the workflow's own replaced by WF) -> (type, phase, message, daemoned) of
    every node."""
    root = wf["metadata"]["name"]
    return {
        n["name"].replace(root, "WF", 1): (
            n["type"],
            n["phase"],
            n.get("message", ""),
            bool(n.get("daemoned")),
        )
        for n in wf["status"]["nodes"].values()
    }


@pytest.fixture(scope="module")
def bed() -> Testbed:
    return shared_testbed()


def test_daemons_end_as_argo_ends_them(bed: Testbed, tmp_path: Path) -> None:
    argo = KubernetesBackend(kubeconfig=bed.api.kubeconfig(tmp_path / "kubeconfig"))
    try:
        name = argo.submit(daemons((18431, 18432, 18433, 18434, 18435)))["metadata"]["name"]
        final = argo.wait(name, timeout=300)
    finally:
        argo.close()
    local = LocalBackend(home=tmp_path / "home")
    mine = local.wait(
        local.submit(daemons((18441, 18442, 18443, 18444, 18445)))["metadata"]["name"], timeout=120
    )
    print(json.dumps({"argo": ends(final), "local": ends(mine)}, indent=1, sort_keys=True))
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    assert mine["status"]["phase"] == final["status"]["phase"]
    argo_ends = ends(final)
    # What Argo wrote. A daemon killed with its steps or DAG is marked Succeeded
    # (killDaemonedChildren), and a container's stays so. A script's pod is watched on
    # until its result is in; when the controller sees the pod end by the signal first
    # it is Failed. A race: in the runs made while writing this, the plain and DAG
    # script daemons always ended Failed, the retried one in 3 of 5 runs. The local
    # engine ends them Failed.
    killed_script = {"WF[0].inner[0].server", "WF[1].dag.script-server"}
    killed_script.add("WF[1].retry-scope[0].retried(1)")
    signalled = ("Pod", "Failed", "main: Error (exit code 143)", False)
    for name in killed_script:
        assert argo_ends[name] in (signalled, ("Pod", "Succeeded", "", False))
    for container in ("WF[0].inner[0].container-server", "WF[1].dag.server"):
        assert argo_ends[container] == ("Pod", "Succeeded", "", False)
    # The retry node of a daemon stays as killDaemonedChildren left it.
    assert argo_ends["WF[1].retry-scope[0].retried"] == ("Retry", "Succeeded", "", False)
    # A daemon that exits 0 by itself has failed. Under load Argo's controller can see
    # its pod still initializing first and keep that reason as the node's message (seen
    # once, in a loaded CI run); the local engine gives none.
    quitter = argo_ends["WF[0].quitter"]
    assert quitter[:2] == ("Pod", "Failed")
    assert quitter[2] in ("", "PodInitializing")
    assert not quitter[3]
    expected = {
        name: signalled if name in killed_script else end for name, end in argo_ends.items()
    }
    expected["WF[0].quitter"] = ("Pod", "Failed", "", False)
    assert ends(mine) == expected
