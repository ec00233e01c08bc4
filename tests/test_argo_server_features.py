"""What the Argo Server gives that the Kubernetes API does not, against the test bed's real
`argo server` (PostgreSQL behind it: the workflow archive and offloaded node status): runs
read back after deletion, nodes hydrated, directories listed, both stream formats, lint,
templates, auth mode `server`, TLS. Every expected value comes from Argo's own answers."""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import subprocess
import time
import urllib.error
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s.envtest import NAMESPACE, free_port
from k8s.testbed import Testbed, shared_testbed

from jupyter_argo.backends.argo_server import ArgoServerBackend
from jupyter_argo.errors import BackendError, ConfigError, NotFoundError, UserError
from jupyter_argo.run import Run
from jupyter_argo.spec.parse import parse_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bed() -> Testbed:
    return shared_testbed()


@pytest.fixture(scope="module")
def token(bed: Testbed) -> str:
    return bed.user_token()


@pytest.fixture
def server(bed: Testbed, token: str) -> Iterator[ArgoServerBackend]:
    backend = ArgoServerBackend(
        f"127.0.0.1:{bed.argo_server_port}", token=token, namespace=NAMESPACE, secure=False
    )
    yield backend
    backend.close()


def document(text: str, kind: str = "Workflow") -> dict[str, Any]:
    body: dict[str, Any] = next(d.body for d in parse_text(text) if d.kind == kind)
    return body


def in_cluster(bed: Testbed, name: str) -> bool:
    path = f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/workflows/{name}"
    try:
        bed.api.call("GET", path)
    except urllib.error.HTTPError as err:
        if err.code != 404:
            raise
        return False
    return True


def wait_for(predicate: Any, timeout: float = 60, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


# ---- the workflow archive ------------------------------------------------------------------

ARTIFACT = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: archived-}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine:3.23
      command: [sh, -c]
      args: ["echo kept after deletion > /tmp/out.txt; echo logged after deletion"]
    outputs:
      artifacts: [{name: out, path: /tmp/out.txt}]
"""


def test_a_deleted_run_is_read_back_from_the_archive(
    server: ArgoServerBackend, bed: Testbed
) -> None:
    name = server.submit(document(ARTIFACT))["metadata"]["name"]
    final = server.wait(name, timeout=180)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    archived = "workflows.argoproj.io/workflow-archiving-status"
    wait_for(lambda: server.get(name)["metadata"]["labels"].get(archived) == "Archived")
    server.delete(name)
    wait_for(lambda: not in_cluster(bed, name))
    # Gone from Kubernetes; the server answers from its archive (PostgreSQL).
    again = server.get(name)
    assert again["metadata"]["uid"] == final["metadata"]["uid"]
    assert again["status"]["phase"] == "Succeeded"
    assert again["status"]["nodes"].keys() == final["status"]["nodes"].keys()
    assert name in [w["metadata"]["name"] for w in server.list()]
    # Its artifacts too: `/artifact-files/{ns}/archived-workflows/{uid}/...`.
    run = Run(server, again)
    assert run.node(name).outputs.artifacts["out"].text() == "kept after deletion\n"
    # And its logs: the pod is gone; Argo archived its log (`archiveLogs`) as `main-logs`.
    assert list(server.logs(name)) == [(name, "logged after deletion")]
    assert list(server.logs(name, grep="^nothing")) == []


# ---- offloaded node status -----------------------------------------------------------------

# Five steps, each with an output parameter of 300 kB of incompressible text: the
# workflow's status outgrows Argo's 1 MB limit even compressed, so the controller keeps
# its nodes in PostgreSQL (`status.offloadNodeStatusVersion`) and only the server can say
# what they are.
OFFLOADED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: offloaded-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: big, template: big, withSequence: {count: "5"}}
  - name: big
    container:
      image: python:3.12
      command: [python3, -c]
      args:
      - |
        import base64, os
        open("/tmp/big", "w").write(base64.b64encode(os.urandom(225000)).decode())
    outputs:
      parameters: [{name: blob, valueFrom: {path: /tmp/big}}]
"""


def test_offloaded_nodes_come_hydrated(server: ArgoServerBackend, bed: Testbed) -> None:
    name = server.submit(document(OFFLOADED))["metadata"]["name"]
    snapshots = list(server.watch(name, timeout=300))
    final = snapshots[-1]
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    stored = bed.api.call(
        "GET", f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/workflows/{name}"
    )
    assert stored["status"].get("offloadNodeStatusVersion"), "Argo did not offload the nodes"
    assert not stored["status"].get("nodes")
    for got in (final, server.get(name)):
        blobs = [
            p["value"]
            for n in got["status"]["nodes"].values()
            if n["type"] == "Pod"
            for p in (n.get("outputs") or {}).get("parameters", [])
        ]
        assert len(blobs) == 5
        assert all(len(blob) == 300_000 for blob in blobs)


# ---- directories ---------------------------------------------------------------------------

DIRECTORY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: directory-}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine:3.23
      command: [sh, -c]
      args: ["mkdir -p /out/sub/deeper && echo a > /out/a.txt && echo 'b c' > '/out/sub/b c.txt'
              && echo d > /out/sub/deeper/d.txt"]
    outputs:
      artifacts:
      - {name: tree, path: /out, archive: {none: {}}}
      - {name: packed, path: /out}
"""


def test_a_directory_artifact_is_walked_through_the_listings(server: ArgoServerBackend) -> None:
    name = server.submit(document(DIRECTORY))["metadata"]["name"]
    final = server.wait(name, timeout=180)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    artifacts = Run(server, final).node(name).outputs.artifacts
    for which in ("tree", "packed"):  # stored file by file, and as Argo's default tgz
        root = artifacts[which].path()
        files = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}
        assert files == {"a.txt": "a\n", "sub/b c.txt": "b c\n", "sub/deeper/d.txt": "d\n"}


# ---- both stream formats -------------------------------------------------------------------

TICKS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: ticks-}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: busybox
      command: [sh, -c, "for i in 1 2 3 4 5 6; do echo tick$i; sleep 1; done"]
"""


@pytest.mark.parametrize("http1", [False, True], ids=["json-lines", "event-stream"])
def test_logs_stream_while_the_pod_runs(
    bed: Testbed, token: str, http1: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Followed logs arrive line by line while the pod runs, in the server's
    newline-delimited JSON or (ARGO_HTTP1, as the argo CLI's HTTP/1 client asks)
    `text/event-stream`; the watch reads the same format."""
    monkeypatch.setenv("ARGO_HTTP1", "true" if http1 else "false")
    server = ArgoServerBackend(
        f"127.0.0.1:{bed.argo_server_port}", token=token, namespace=NAMESPACE, secure=False
    )
    assert server.http1 is http1
    try:
        name = server.submit(document(TICKS))["metadata"]["name"]
        arrived: list[tuple[float, str]] = []
        for _pod, line in server.logs(name, follow=True):
            arrived.append((time.monotonic(), line))
        lines = [line for _, line in arrived]
        assert [x for x in lines if x.startswith("tick")] == [f"tick{i}" for i in range(1, 7)]
        ticks = [t for t, line in arrived if line.startswith("tick")]
        # Written a second apart: followed from submission, they arrive as written.
        assert ticks[-1] - ticks[0] > 3, "the lines came at the end, not as written"
        phases = [(s.get("status") or {}).get("phase") for s in server.watch(name, timeout=60)]
        assert phases[-1] == "Succeeded"
    finally:
        server.close()


# ---- lint and templates through the server -------------------------------------------------

TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: NAME}
spec:
  entrypoint: main
  arguments: {parameters: [{name: word, value: template-default}]}
  templates:
  - name: main
    inputs: {parameters: [{name: word, value: "{{workflow.parameters.word}}"}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.word}}"]}
"""

CRON = """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: NAME}
spec:
  schedules: ["0 0 1 1 *"]
  suspend: true
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      container: {image: busybox, command: [echo, from the cron workflow]}
"""


def test_apply_and_submit_from_templates(server: ArgoServerBackend) -> None:
    name = f"tpl-{uuid.uuid4().hex[:6]}"
    template = document(TEMPLATE.replace("NAME", name), "WorkflowTemplate")
    assert server.apply(template) == "created"
    template["spec"]["arguments"]["parameters"][0]["value"] = "changed"
    assert server.apply(template) == "configured"
    created = server.submit_from(f"workflowtemplate/{name}", parameters={"word": "from-cli"})
    run_name = created["metadata"]["name"]
    final = server.wait(run_name, timeout=180)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    assert "from-cli" in [line for _pod, line in server.logs(run_name)]
    cron = document(CRON.replace("NAME", name), "CronWorkflow")
    assert server.apply(cron) == "created"
    run_name = server.submit_from(f"cronwf/{name}")["metadata"]["name"]
    assert server.wait(run_name, timeout=180)["status"]["phase"] == "Succeeded"
    assert "from the cron workflow" in [line for _pod, line in server.logs(run_name)]
    # lint resolves templateRefs against the server's templates
    store = server.template_store()
    assert store.get("WorkflowTemplate", name) is not None
    assert store.get("WorkflowTemplate", "no-such-template") is None


BAD = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: lint-}
spec:
  entrypoint: missing
  templates:
  - name: main
    container: {image: busybox}
"""


def test_lint_on_the_server(server: ArgoServerBackend) -> None:
    server.server_lint(document(ARTIFACT))  # clean: no answer but success
    with pytest.raises(UserError) as caught:
        server.server_lint(document(BAD))
    message = str(caught.value)
    assert "\n" not in message
    # Argo's own validation message, as `argo lint` prints it.
    assert "template name 'missing' undefined" in message, message
    before = {w["metadata"]["name"] for w in server.list()}
    assert not any(n.startswith("lint-") for n in before)  # lint stores nothing
    # A server dry run: checked and completed by the server (and the API server), not kept.
    dry = server.submit(document(ARTIFACT), name=f"dry-{uuid.uuid4().hex[:6]}", server_dry_run=True)
    assert dry["metadata"]["name"].startswith("dry-")
    with pytest.raises(NotFoundError):
        server.get(dry["metadata"]["name"])


# ---- auth mode `server`, TLS, namespaces ---------------------------------------------------


def test_auth_mode_server_needs_no_token(bed: Testbed) -> None:
    server = ArgoServerBackend(
        f"127.0.0.1:{bed.server_auth_port}", namespace=NAMESPACE, secure=False
    )
    try:
        name = server.submit(document(TICKS))["metadata"]["name"]
        assert server.wait(name, timeout=180)["status"]["phase"] == "Succeeded"
        assert "tick6" in [line for _pod, line in server.logs(name)]
    finally:
        server.close()


def test_a_namespace_the_token_may_not_use_is_refused(
    server: ArgoServerBackend, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as caught:
        server.list(namespace="default")
    message = str(caught.value)
    assert "(403 Forbidden)" in message, message
    assert '"default"' in message or "default" in message
    assert "\n" not in message
    assert token not in message
    assert token not in caplog.text
    assert token not in repr(server)


@pytest.fixture(scope="module")
def tls_server(bed: Testbed) -> Iterator[int]:
    """A third `argo server`, with TLS: the certificate it makes itself (for `localhost`)."""
    port = free_port()
    log = (bed.workdir / "argo-server-tls.log").open("ab")
    process = subprocess.Popen(
        [
            str(bed.bin / "argo"),
            "server",
            f"--kubeconfig={bed.workdir / 'controller.kubeconfig'}",
            f"--port={port}",
            "--secure=true",
            "--auth-mode=server",
            "--loglevel=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "KUBECONFIG": str(bed.workdir / "controller.kubeconfig")},
    )
    try:
        probe = ArgoServerBackend(
            f"127.0.0.1:{port}", namespace=NAMESPACE, insecure_skip_verify=True, timeout=2
        )
        deadline = time.monotonic() + 60
        while True:
            try:  # up when its gateway answers through its own TLS listener
                probe.list()
                break
            except (ConfigError, BackendError):
                assert process.poll() is None, "argo server --secure exited"
                assert time.monotonic() < deadline, "argo server --secure did not start"
                time.sleep(0.3)
        probe.close()
        yield port
    finally:
        process.kill()
        process.wait(10)
        log.close()


def test_tls_verified_skipped_or_refused_with_what_to_set(tls_server: int, tmp_path: Path) -> None:
    ca = tmp_path / "server.pem"
    ca.write_text(ssl.get_server_certificate(("127.0.0.1", tls_server)))
    with contextlib.ExitStack() as stack:

        def backend(address: str, **settings: Any) -> ArgoServerBackend:
            made = ArgoServerBackend(address, namespace=NAMESPACE, **settings)
            stack.callback(made.close)
            return made

        refused = backend(f"localhost:{tls_server}")
        with pytest.raises(ConfigError) as caught:
            refused.list()
        assert "ARGO_INSECURE_SKIP_VERIFY" in str(caught.value)
        assert "\n" not in str(caught.value)
        skipped = backend(f"localhost:{tls_server}", insecure_skip_verify=True)
        assert isinstance(skipped.list(), list)
        verified = backend(f"https://localhost:{tls_server}", ca_file=ca)
        assert isinstance(verified.list(), list)
        plain = backend(f"localhost:{tls_server}", secure=False)
        with pytest.raises(ConfigError, match="speaks https"):
            plain.list()


# ---- one notebook, three backends ----------------------------------------------------------

SWITCHED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: switched-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: make, template: make}
    - - name: read
        template: read
        arguments:
          artifacts: [{name: data, from: "{{steps.make.outputs.artifacts.data}}"}]
  - name: make
    container:
      image: alpine:3.23
      command: [sh, -c, "echo 'rows: 3' > /tmp/data.yaml; echo -n 42 > /tmp/answer"]
    outputs:
      parameters: [{name: answer, valueFrom: {path: /tmp/answer}}]
      artifacts: [{name: data, path: /tmp/data.yaml}]
  - name: read
    inputs: {artifacts: [{name: data, path: /tmp/in.yaml}]}
    container: {image: alpine:3.23, command: [cat, /tmp/in.yaml]}
"""


def test_a_notebook_switches_backend_with_one_config_line(
    bed: Testbed, token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same cell on the local engine, on Kubernetes and through the Argo Server, in
    one IPython shell: only `%config ArgoMagics.backend` changes between them, and the
    Run, its outputs and its Artifact objects read the same."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("JUPYTER_ARGO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JUPYTER_ARGO_KUBECONFIG", str(bed.api.kubeconfig(tmp_path / "kube")))
    monkeypatch.setenv("JUPYTER_ARGO_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("ARGO_SERVER", f"127.0.0.1:{bed.argo_server_port}")
    monkeypatch.setenv("ARGO_TOKEN", token)
    monkeypatch.setenv("ARGO_SECURE", "false")
    shell = InteractiveShell.instance()
    seen: dict[str, tuple[Any, ...]] = {}
    try:
        shell.run_line_magic("load_ext", "jupyter_argo")
        for backend in ("local", "kubernetes", "argo-server"):
            shell.run_line_magic("config", f'ArgoMagics.backend = "{backend}"')
            shell.run_cell_magic("argo", "--out run", SWITCHED)  # with its live view
            run = shell.user_ns["run"]
            assert run.phase == "Succeeded", (backend, run.message)
            make, read = run.node("make"), run.node("read")
            seen[backend] = (
                type(run).__name__,
                make.outputs.parameters,
                make.outputs.artifacts["data"].text(),
                type(make.outputs.artifacts["data"]).__name__,
                read.inputs.artifacts["data"].text(),
                # argoexec's own lines (`argo=true`) carry their time: the step's only
                [line for line in read.logs().splitlines() if "argo=true" not in line],
                sorted(n.display_name for n in run.nodes() if n.display_name != run.name),
            )
    finally:
        InteractiveShell.clear_instance()
    assert seen["local"][1] == {"answer": "42"}
    assert seen["local"][2] == "rows: 3\n"
    assert seen["argo-server"] == seen["kubernetes"]
    assert seen["argo-server"][1:6] == seen["local"][1:6]
    assert token not in str(seen)


USES_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: uses-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: call
        templateRef: {name: NAME, template: main}
        arguments: {parameters: [{name: word, value: hi}]}
"""


def test_the_command_line_lints_through_the_server(
    server: ArgoServerBackend, bed: Testbed, token: str, tmp_path: Path
) -> None:
    """`jupyter-argo lint --backend argo-server`, as `argo lint` online: references
    resolve against the server's WorkflowTemplates, and the server lints each manifest."""
    import sys

    name = f"lintref-{uuid.uuid4().hex[:6]}"
    server.apply(document(TEMPLATE.replace("NAME", name), "WorkflowTemplate"))
    path = tmp_path / "uses.yaml"
    path.write_text(USES_TEMPLATE.replace("NAME", name))
    env = {**os.environ, "ARGO_TOKEN": token, "ARGO_NAMESPACE": NAMESPACE}
    base = [sys.executable, "-m", "jupyter_argo.cli", "lint", str(path)]
    online = [*base, "-s", f"127.0.0.1:{bed.argo_server_port}", "--secure=false"]
    done = subprocess.run(online, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 errors" in done.stdout
    missing = path.read_text().replace(name, "no-such-template")
    path.write_text(missing)
    done = subprocess.run(online, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert "no-such-template" in done.stdout
    assert "Traceback" not in done.stderr
    assert token not in done.stdout + done.stderr


def test_an_artifact_not_in_the_repository_is_one_line(
    server: ArgoServerBackend, bed: Testbed
) -> None:
    """The status names the artifact, but its object is not (or not yet) in the bucket:
    the server's 404 becomes one line saying so."""
    import boto3

    name = server.submit(document(ARTIFACT))["metadata"]["name"]
    final = server.wait(name, timeout=180)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    spec = next(
        a for a in final["status"]["nodes"][name]["outputs"]["artifacts"] if a["name"] == "out"
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{bed.s3_endpoint}",
        region_name="us-east-1",
        aws_access_key_id=bed.s3_access_key,
        aws_secret_access_key=bed.s3_secret_key,
    )
    s3.delete_object(Bucket=bed.s3_bucket, Key=spec["s3"]["key"])
    with pytest.raises(NotFoundError) as caught:
        server.open_artifact(spec, workflow=final, node=name)
    message = str(caught.value)
    assert "not in the repository (not uploaded yet?)" in message, message
    assert "\n" not in message
