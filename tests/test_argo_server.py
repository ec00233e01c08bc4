"""The Argo Server backend against the real `argo server` of the test bed (auth mode
`client`: the bearer token is a Kubernetes token, here the bed's static admin token),
and its configuration and errors without any server."""

from __future__ import annotations

import http.server
import socket
import threading
import time
import urllib.error
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from k8s.envtest import ADMIN_TOKEN, NAMESPACE, VIEWER_TOKEN
from k8s.testbed import Testbed, shared_testbed

from jupyter_argo.backends import BACKENDS, get_backend
from jupyter_argo.backends.argo_server import ArgoServerBackend
from jupyter_argo.backends.base import Backend
from jupyter_argo.errors import ConfigError, NotFoundError
from jupyter_argo.spec.parse import parse_text

SECRET = "s3cr3t-token-that-must-not-leak"


def workflow(text: str) -> dict[str, Any]:
    body: dict[str, Any] = next(d.body for d in parse_text(text) if d.kind == "Workflow")
    return body


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ---- configuration, no server ------------------------------------------------------------


def test_configured_like_the_argo_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGO_SERVER", "argo.example:2746")
    monkeypatch.setenv("ARGO_TOKEN", f"Bearer {SECRET}")
    monkeypatch.setenv("ARGO_NAMESPACE", "team")
    monkeypatch.setenv("ARGO_BASE_HREF", "/argo/")
    monkeypatch.setenv("ARGO_INSTANCEID", "i1")
    monkeypatch.delenv("ARGO_SECURE", raising=False)
    backend = ArgoServerBackend()
    assert isinstance(backend, Backend)
    assert backend.name == "argo-server"
    assert backend.url == "https://argo.example:2746/argo"
    assert backend.namespace == "team"
    assert backend.instance_id == "i1"
    assert backend.client.headers["Authorization"] == f"Bearer {SECRET}"
    monkeypatch.setenv("ARGO_SECURE", "false")
    overridden = ArgoServerBackend("other:1", token="bare", namespace="ns")
    assert overridden.url == "http://other:1/argo"
    assert overridden.client.headers["Authorization"] == "Bearer bare"
    assert overridden.namespace == "ns"
    assert SECRET not in repr(backend)
    assert "token=set" in repr(backend)


def test_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGO_SERVER", "argo.example:2746")
    assert "argo-server" in BACKENDS
    assert isinstance(get_backend("argo-server", namespace="x"), ArgoServerBackend)


def test_no_server_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARGO_SERVER", raising=False)
    with pytest.raises(ConfigError, match="ARGO_SERVER"):
        ArgoServerBackend()


def test_unreachable_server_is_one_line_without_the_token() -> None:
    backend = ArgoServerBackend(f"127.0.0.1:{closed_port()}", token=SECRET, secure=False)
    with pytest.raises(ConfigError) as caught:
        backend.list()
    message = str(caught.value)
    assert message.startswith(f"cannot reach the Argo Server at {backend.url}")
    assert "\n" not in message
    assert SECRET not in message


def test_tls_to_a_plain_server_says_what_to_set() -> None:
    plain = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        backend = ArgoServerBackend(f"127.0.0.1:{plain.server_port}", token=SECRET)
        with pytest.raises(ConfigError) as caught:
            backend.list()
    finally:
        plain.shutdown()
        plain.server_close()
    message = str(caught.value)
    assert message.startswith("TLS with the Argo Server"), message
    assert "ARGO_SECURE=false" in message
    assert SECRET not in message


# ---- the real server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def bed() -> Testbed:
    return shared_testbed()


@pytest.fixture
def connect(bed: Testbed) -> Iterator[Callable[[str], ArgoServerBackend]]:
    """Backends on the bed's server with a given token, closed after the test."""
    made: list[ArgoServerBackend] = []

    def make(token: str) -> ArgoServerBackend:
        url = f"127.0.0.1:{bed.argo_server_port}"
        made.append(ArgoServerBackend(url, token=token, namespace=NAMESPACE, secure=False))
        return made[-1]

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def server(connect: Callable[[str], ArgoServerBackend]) -> ArgoServerBackend:
    return connect(ADMIN_TOKEN)


HELLO = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: server-hello-}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: argoproj/argosay:v2
      args: [echo, hello through the argo server]
"""


@pytest.mark.slow
def test_hello_world_through_the_server(server: ArgoServerBackend, bed: Testbed) -> None:
    created = server.submit(workflow(HELLO))
    name = created["metadata"]["name"]
    assert created["metadata"]["namespace"] == NAMESPACE
    snapshots = list(server.watch(name, timeout=180))
    final = snapshots[-1]
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    assert len(snapshots) >= 2  # pushed as it changed, not one read at the end
    node = final["status"]["nodes"][name]
    assert node["type"] == "Pod"
    assert node["phase"] == "Succeeded"
    assert server.get(name)["status"]["phase"] == "Succeeded"
    assert server.wait(name, timeout=10)["status"]["phase"] == "Succeeded"
    assert name in [w["metadata"]["name"] for w in server.list()]
    lines = [line for pod, line in server.logs(name) if pod == name]
    assert "hello through the argo server" in lines
    assert "hello through the argo server" in [line for _, line in server.logs(name, node=name)]
    server.delete(name)
    path = f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/workflows/{name}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            bed.api.call("GET", path)
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise
            break  # gone from the cluster (the server still answers from its archive)
        time.sleep(0.5)
    else:
        pytest.fail(f"{name} was not deleted")


ARTIFACT = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: server-artifact-}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine:3.23
      command: [sh, -c]
      args: ["echo '{\\"rows\\": [1, 2, 3]}' > /tmp/data.json"]
    outputs:
      artifacts: [{name: data, path: /tmp/data.json}]
"""


@pytest.mark.slow
def test_output_artifact_through_artifact_files(server: ArgoServerBackend) -> None:
    name = server.submit(workflow(ARTIFACT))["metadata"]["name"]
    final = server.wait(name, timeout=180)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    artifact = next(
        a for a in final["status"]["nodes"][name]["outputs"]["artifacts"] if a["name"] == "data"
    )
    path = server.open_artifact(artifact, workflow=final)
    assert path.read_text().strip() == '{"rows": [1, 2, 3]}'
    # By name too, with the node found from the status.
    assert server.open_artifact(artifact, workflow=name).read_text() == path.read_text()
    missing = {"name": "nope"}
    with pytest.raises(NotFoundError):
        server.open_artifact(missing, workflow=final, node=name)


@pytest.mark.slow
def test_a_wrong_token_is_refused_without_showing_it(
    connect: Callable[[str], ArgoServerBackend],
) -> None:
    backend = connect(SECRET)
    with pytest.raises(ConfigError) as caught:
        backend.list()
    message = str(caught.value)
    assert "(401 Unauthorized): the token is wrong or expired" in message
    assert SECRET not in message
    assert SECRET not in repr(backend)
    with pytest.raises(ConfigError) as watched:
        next(iter(backend.watch("anything", timeout=5)))
    assert "401" in str(watched.value)
    assert SECRET not in str(watched.value)
    anonymous = connect("")
    with pytest.raises(ConfigError, match="ARGO_TOKEN is missing"):
        anonymous.list()


@pytest.mark.slow
def test_a_denied_action_says_what_was_denied(
    connect: Callable[[str], ArgoServerBackend],
) -> None:
    viewer = connect(VIEWER_TOKEN)
    with pytest.raises(ConfigError) as caught:
        viewer.submit(workflow(HELLO), generate_name=f"denied-{uuid.uuid4().hex[:4]}-")
    message = str(caught.value)
    assert "(403 Forbidden)" in message, message
    assert "create" in message, message
    assert VIEWER_TOKEN not in message


TWO_NAPS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: server-naps-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: first, template: nap}
    - - {name: second, template: nap}
  - name: nap
    container: {image: busybox, command: [sleep, "2"]}
"""


def test_a_cut_connection_mid_watch_loses_no_final_status(bed: Testbed) -> None:
    """The watch's TCP connection to the real server is cut while the run goes on: the
    watch reconnects (from its last resourceVersion) and still ends on Succeeded."""
    from k8s.proxy import relay

    with relay(bed.argo_server_port) as middle:
        backend = ArgoServerBackend(
            f"127.0.0.1:{middle.port}", token=ADMIN_TOKEN, namespace=NAMESPACE, secure=False
        )
        try:
            name = backend.submit(workflow(TWO_NAPS))["metadata"]["name"]
            phases: list[str] = []
            cut = 0
            for snapshot in backend.watch(name, timeout=180):
                phases.append((snapshot.get("status") or {}).get("phase") or "")
                if not cut and phases[-1] == "Running":
                    cut = middle.cut()  # every open connection, the watch's among them
            assert cut >= 1
            assert phases[-1] == "Succeeded"
            assert middle.accepted >= 2  # it came back
            assert backend.get(name)["status"]["phase"] == "Succeeded"
        finally:
            backend.close()
