"""Daemons (`daemon: true`) against Argo's operator.go, steps.go, dag.go and
exec_control.go, and its e2e suite (test/e2e/daemon_pod_test.go, signals_test.go).

- A daemon node is marked `daemoned` (and given its pod IP, which only daemoned nodes
  get) once its pod runs and is ready (assessNodeStatus); a step or task that is
  daemoned counts as done, so the next ones start while it serves.
- When the steps or DAG template that started it ends, or the workflow does, it is
  killed: its node ends Succeeded, no longer daemoned (killDaemonedChildren;
  TestMarkDaemonedPodSucceeded, TestStopBehaviorWithDaemon). Argo's controller goes on
  watching a script's pod, and sees it end by the signal: on the real Argo a killed
  script daemon ends Failed (exit code 143), a container daemon Succeeded.
- A daemon whose pod ends by itself has failed, even with exit code 0 (assessNodeStatus).
- Under a `retryStrategy` the node is a Retry node with a Pod per attempt; the retry node
  is daemoned with its attempt, and `{{steps.X.ip}}` resolves from the last attempt
  (buildLocalScope, possiblyGetRetryChildNode).

tests/test_argo_real_daemons.py runs one workflow with all of these on a real Argo and
on the local engine and compares every node."""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.executors._bwrap import available as bwrap_available
from jupyter_argo.executors._executor import _namespace_available
from jupyter_argo.spec.parse import parse_text

MODES = ["remap", "none"]
if _namespace_available():
    MODES.insert(0, "namespace")
if bwrap_available():
    MODES.insert(1 if "namespace" in MODES else 0, "bwrap")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def submit(engine: LocalBackend, text: str, **values: object) -> str:
    for key, value in values.items():
        text = text.replace(key, str(value))
    (doc,) = [d for d in parse_text(text) if d.kind == "Workflow"]
    name: str = engine.submit(doc.body)["metadata"]["name"]
    return name


def run(engine: LocalBackend, text: str, **values: object) -> dict[str, Any]:
    return engine.wait(submit(engine, text, **values), timeout=90)


def nodes(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Nodes by name, the workflow's own name replaced by WF."""
    root = wf["metadata"]["name"]
    return {n["name"].replace(root, "WF", 1): n for n in wf["status"]["nodes"].values()}


def serving(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def processes_with(marker: str) -> list[int]:
    """Processes of this machine whose command line holds `marker` (a PID namespace
    hides them from each other, not from us)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


def gone(port: int, marker: str) -> bool:
    """Nothing serves `port` and no process carries `marker`, right after the run."""
    return not serving(port) and not processes_with(marker)


# A script daemon serving HTTP, read through `{{steps.server.ip}}` by the next step.
SCRIPT_DAEMON = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: script-daemon-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: server
        template: server
    - - name: client
        template: client
        arguments: {parameters: [{name: url, value: "http://{{steps.server.ip}}:PORT/"}]}
  - name: server
    daemon: true
    script:
      image: python:3.12
      command: [python3, -X, pycache_prefix=/tmp/MARKER]  # the script's path comes last
      source: |
        import http.server
        class Hello(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"served by the daemon")
        http.server.HTTPServer(("", PORT), Hello).serve_forever()
      readinessProbe: {tcpSocket: {port: PORT}}
  - name: client
    inputs: {parameters: [{name: url}]}
    script:
      image: python:3.12
      command: [python3]
      source: |
        import urllib.request
        print(urllib.request.urlopen("{{inputs.parameters.url}}", timeout=10).read().decode())
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_script_daemon_serves_the_next_step_through_its_ip(mode: str) -> None:
    port, marker = free_port(), f"daemon-{uuid.uuid4().hex}"
    wf = run(LocalBackend(isolation=mode), SCRIPT_DAEMON, PORT=port, MARKER=marker)
    assert gone(port, marker)  # killed with its steps, before the run is reported done
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    found = nodes(wf)
    client = found["WF[1].client"]
    assert client["inputs"]["parameters"] == [{"name": "url", "value": f"http://127.0.0.1:{port}/"}]
    assert client["outputs"]["result"] == "served by the daemon"
    server = found["WF[0].server"]
    # Killed with its steps (killDaemonedChildren), no longer daemoned; a script's pod
    # ended by the signal: Failed, as the real Argo ends it (test_argo_real_daemons.py,
    # "main: Error (exit code 143)"). The IP it had.
    assert server["type"] == "Pod"
    assert server["phase"] == "Failed"
    assert server["message"] == "main: Error (exit code 143)"
    assert "daemoned" not in server
    assert server["podIP"] == "127.0.0.1"
    assert server["finishedAt"] >= client["finishedAt"]
    # Only a daemoned node gets a pod IP (assessNodeStatus).
    assert "podIP" not in client
    # Progress: a pod counted done once Succeeded stays counted (Argo's progress updater
    # never lowers a node's N), so the killed daemon's 1/1 stands.
    assert wf["status"]["progress"] == "2/2"


# First attempt dies before it is ready; the second serves. The retry node is daemoned
# with it, and the ip comes from it.
RETRIED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: retried-daemon-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: server
        template: server
    - - name: client
        template: client
        arguments: {parameters: [{name: url, value: "http://{{steps.server.ip}}:PORT/"}]}
  - name: server
    daemon: true
    retryStrategy: {limit: "3"}
    script:
      image: python:3.12
      command: [python3]
      source: |
        import http.server, sys
        if {{retries}} == 0:
            sys.exit(3)
        class Hello(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"attempt {{retries}}")
        http.server.HTTPServer(("", PORT), Hello).serve_forever()
      readinessProbe: {httpGet: {path: /, port: PORT}}
  - name: client
    inputs: {parameters: [{name: url}]}
    script:
      image: python:3.12
      command: [python3]
      source: |
        import urllib.request
        print(urllib.request.urlopen("{{inputs.parameters.url}}", timeout=10).read().decode())
"""


def test_a_daemon_under_a_retry_strategy_exposes_its_last_attempts_ip() -> None:
    port = free_port()
    wf = run(LocalBackend(), RETRIED, PORT=port)
    assert not serving(port)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    found = nodes(wf)
    assert found["WF[1].client"]["outputs"]["result"] == "attempt 1"
    retry = found["WF[0].server"]
    assert retry["type"] == "Retry"
    assert retry["children"] == [found["WF[0].server(0)"]["id"], found["WF[0].server(1)"]["id"]]
    first, second = found["WF[0].server(0)"], found["WF[0].server(1)"]
    # Died before it was ready: an ordinary failed pod, never daemoned, no IP.
    assert first["phase"] == "Failed"
    assert first["outputs"]["exitCode"] == "3"
    assert "podIP" not in first
    # The one that served and its retry node, both killed with the steps: the retry node
    # stays Succeeded, the script's pod ends by the signal (as on the real Argo).
    assert (second["phase"], second["message"]) == ("Failed", "main: Error (exit code 143)")
    assert second["podIP"] == "127.0.0.1"
    assert retry["phase"] == "Succeeded"
    assert "daemoned" not in second
    assert "daemoned" not in retry


# `inner` ends while the workflow goes on: its container daemon is killed then
# (Succeeded). A daemon whose process ends by itself with 0 has failed (no message).
ENDS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: daemon-ends-}
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
    - - name: later
        template: pause
  - name: inner
    steps:
    - - name: server
        template: server
    - - name: touch
        template: touch
  - name: server
    daemon: true
    container:
      image: python:3.12
      command: [python3, -m, http.server, "PORT", --bind, 0.0.0.0]
      args: [--directory, /tmp/MARKER]
      readinessProbe: {tcpSocket: {port: PORT}}
  - name: quitter
    daemon: true
    container:
      image: python:3.12
      command: [python3, -c]
      args: ["import socket, time; s = socket.create_server(('', QUIT)); time.sleep(0.2)"]
      readinessProbe: {tcpSocket: {port: QUIT}}
  - name: touch
    container: {image: alpine, command: [sh, -c, "sleep 0.2"]}
  - name: pause  # the quitter ends by itself meanwhile
    container: {image: alpine, command: [sh, -c, "sleep 2"]}
"""


def test_daemons_end_as_argo_marks_them() -> None:
    port, quit_port, marker = free_port(), free_port(), f"daemon-{uuid.uuid4().hex}"
    wf = run(LocalBackend(), ENDS, PORT=port, QUIT=quit_port, MARKER=marker)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    found = nodes(wf)
    server = found["WF[0].inner[0].server"]
    assert server["phase"] == "Succeeded"
    assert "message" not in server
    assert "daemoned" not in server
    # Killed when `inner` ended, while the workflow went on.
    assert server["finishedAt"] <= found["WF[1].later"]["startedAt"]
    quitter = found["WF[0].quitter"]
    assert quitter["phase"] == "Failed"
    assert "message" not in quitter
    assert "daemoned" not in quitter
    assert gone(port, marker)


# An ordinary pod never has a pod IP, so `{{steps.plain.ip}}` cannot be resolved.
PLAIN_IP = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: plain-ip-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: plain, template: plain}
    - - name: use
        template: plain
        arguments: {parameters: [{name: ip, value: "{{steps.plain.ip}}"}]}
  - name: plain
    inputs: {parameters: [{name: ip, default: ""}]}
    container: {image: alpine, command: ["true"]}
"""


def test_an_ordinary_pod_has_no_ip_to_give() -> None:
    wf = run(LocalBackend(), PLAIN_IP)
    found = nodes(wf)
    assert "podIP" not in found["WF[0].plain"]
    assert wf["status"]["phase"] in ("Failed", "Error")
    assert found["WF[1]"]["message"] == "failed to resolve {{steps.plain.ip}}"


# A daemon task in a DAG: the task after it reads `{{tasks.server.ip}}`.
DAG = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: dag-daemon-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: server, template: server}
      - name: client
        depends: server
        template: client
        arguments: {parameters: [{name: url, value: "http://{{tasks.server.ip}}:PORT/x"}]}
  - name: server
    daemon: true
    container:
      image: python:3.12
      command: [python3, -X, pycache_prefix=/tmp/MARKER, -m, http.server, "PORT"]
      args: [--directory, /tmp]
      readinessProbe: {httpGet: {path: /, port: PORT}}
  - name: client
    inputs: {parameters: [{name: url}]}
    script:
      image: python:3.12
      command: [python3]
      source: |
        import urllib.error, urllib.request
        try:
            urllib.request.urlopen("{{inputs.parameters.url}}", timeout=10)
        except urllib.error.HTTPError as err:
            print(err.code)
"""


def test_a_daemon_task_in_a_dag() -> None:
    port, marker = free_port(), f"daemon-{uuid.uuid4().hex}"
    wf = run(LocalBackend(), DAG, PORT=port, MARKER=marker)
    assert gone(port, marker)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    found = nodes(wf)
    assert found["WF.client"]["outputs"]["result"] == "404"  # its server answered
    server = found["WF.server"]
    assert server["phase"] == "Succeeded"
    assert "daemoned" not in server
    assert server["podIP"] == "127.0.0.1"


# signals_test.go, TestStopBehaviorWithDaemon (functional/stop-terminate-daemon.yaml).
STOPPED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: stop-terminate-daemon-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: Daemon, template: sleep}
    - - {name: B, template: pass}
  - name: sleep
    daemon: true
    container:
      image: python:3.12
      command: [python3, -c]
      args: ["import socket, time; s = socket.create_server(('', PORT)); time.sleep(999)", MARKER]
      readinessProbe: {tcpSocket: {port: PORT}}
  - name: pass
    container: {image: alpine, command: [sleep, "999"]}
"""


@pytest.mark.parametrize("action", ["stop", "terminate"])
def test_a_stopped_or_terminated_workflow_takes_its_daemons_along(action: str) -> None:
    engine = LocalBackend()
    port, marker = free_port(), f"daemon-{uuid.uuid4().hex}"
    name = submit(engine, STOPPED, PORT=port, MARKER=marker)
    deadline = time.monotonic() + 60
    while not any(
        n["displayName"] == "B"
        for n in (engine.get(name).get("status") or {}).get("nodes", {}).values()
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert serving(port)
    getattr(engine, action)(name)
    wf = engine.wait(name, timeout=60)
    assert gone(port, marker)
    assert wf["status"]["phase"] == "Failed"
    by_display = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    daemon = by_display["Daemon"]
    if action == "stop":
        # TestStopBehaviorWithDaemon: the workflow Failed or Error, the daemon Succeeded.
        assert daemon["phase"] == "Succeeded"
    else:
        assert daemon["phase"] in ("Succeeded", "Failed")
    assert "daemoned" not in daemon


# daemon_pod_test.go, TestDaemonPodRetry (shorter): the first attempt is daemoned, then
# ends by itself while the next task runs; in a DAG the next attempt starts.
RETRY_IN_DAG = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: daemon-retry-NAME}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
        - name: daemoned
          template: daemoned
        - name: whale
          dependencies: [daemoned]
          template: whale-tmpl
  - name: daemoned
    retryStrategy:
      limit: 2
    daemon: true
    container:
      image: alpine
      command: [sh, -c]
      args:
        - |
          echo "Attempt {{retries}}";
          if [ "{{retries}}" -eq 0 ]; then
            sleep 1 && exit 1;
          else
            sleep 120 && exit 1;
          fi
  - name: whale-tmpl
    container:
      image: alpine
      command: [sh, -c]
      args: ["echo hi & sleep 4 && echo bye"]
"""


def test_a_daemon_task_that_dies_is_retried_while_its_dag_runs() -> None:
    wf = run(LocalBackend(), RETRY_IN_DAG, NAME=uuid.uuid4().hex[:6])
    found = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    assert found["daemoned(0)"]["phase"] == "Failed"
    assert found["daemoned(1)"]["phase"] == "Succeeded"
    assert wf["status"]["phase"] == "Succeeded"
    # Not in Argo's test: the retry node was daemoned all along, and was killed with
    # the DAG like its attempt.
    assert found["daemoned"]["phase"] == "Succeeded"
    assert "daemoned(2)" not in found


# The same in steps: Argo does not look at a finished step group again, so the attempt
# that died is not replaced (steps.go, executeStepGroup returns early when the group and
# all below it are fulfilled, and a daemoned node counts as fulfilled).
RETRY_IN_STEPS = RETRY_IN_DAG.replace(
    """    dag:
      tasks:
        - name: daemoned
          template: daemoned
        - name: whale
          dependencies: [daemoned]
          template: whale-tmpl""",
    """    steps:
      - - {name: daemoned, template: daemoned}
      - - {name: whale, template: whale-tmpl}""",
)


def test_a_daemon_step_that_dies_is_not_retried() -> None:
    wf = run(LocalBackend(), RETRY_IN_STEPS, NAME=uuid.uuid4().hex[:6])
    assert wf["status"]["phase"] == "Succeeded"
    found = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    assert found["daemoned(0)"]["phase"] == "Failed"
    assert found["daemoned(0)"]["message"] == "main: Error (exit code 1)"
    assert "daemoned(1)" not in found
    assert found["daemoned"]["phase"] == "Succeeded"  # killed with its steps


# The kubelet's httpGet readiness probe: ready only once a GET answers 200-399, so the
# next step starts after the daemon's third refusal (Argo marks a daemon daemoned once
# its pod runs and every container is ready).
NOT_READY_YET = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: not-ready-yet-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: server
        template: server
    - - name: client
        template: client
        arguments: {parameters: [{name: url, value: "http://{{steps.server.ip}}:PORT/count"}]}
  - name: server
    daemon: true
    container:
      image: python:3.12
      command: [python3, -c]
      args:
        - |
          import http.server
          seen = []
          class Slow(http.server.BaseHTTPRequestHandler):
              def do_GET(self):
                  seen.append(self.path)
                  self.send_response(503 if len(seen) <= 3 else 200)
                  self.end_headers()
                  self.wfile.write(" ".join(seen).encode())
          http.server.HTTPServer(("", PORT), Slow).serve_forever()
      readinessProbe: {httpGet: {path: /healthz, port: PORT}, periodSeconds: 1}
  - name: client
    inputs: {parameters: [{name: url}]}
    script:
      image: python:3.12
      command: [python3]
      source: |
        import urllib.request
        print(urllib.request.urlopen("{{inputs.parameters.url}}", timeout=10).read().decode())
"""


def test_a_daemon_is_daemoned_once_its_http_probe_succeeds() -> None:
    wf = run(LocalBackend(), NOT_READY_YET, PORT=free_port())
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    seen = nodes(wf)["WF[1].client"]["outputs"]["result"].split()
    assert seen[:4] == ["/healthz"] * 4  # three refusals, then ready
    assert seen[-1] == "/count"
