"""Artifacts and logs of cluster workflows, read straight from their S3 repository (moto's
server on 127.0.0.1) with credentials from the cluster's Secrets; and a whole run with the
local engine playing Argo's controller."""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s.controller import Controller, Nodes, manifest
from k8s.envtest import CONTROLLER_NAMESPACE, ApiServer, shared_api_server
from k8s.mirror import EngineController
from servers import S3Server, s3_server

from jupyter_argo.backends.kubernetes import KubernetesBackend
from jupyter_argo.errors import ConfigError, NotFoundError

CRED = "s3-cred"
ANNOTATION = "workflows.argoproj.io/default-artifact-repository"


@pytest.fixture(scope="module")
def server() -> ApiServer:
    return shared_api_server()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as s3:
        yield s3


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_STEPS", "3")
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_DURATION", "1ms")


@pytest.fixture
def namespace(server: ApiServer) -> str:
    """A namespace of its own for each test: repository ConfigMaps differ between tests."""
    name = f"art-{uuid.uuid4().hex[:8]}"
    server.ensure(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name


@pytest.fixture
def backend(server: ApiServer, tmp_path: Path, namespace: str) -> Iterator[KubernetesBackend]:
    config = server.kubeconfig(tmp_path / "kubeconfig", namespace=namespace)
    backend = KubernetesBackend(kubeconfig=config, controller_namespace=CONTROLLER_NAMESPACE)
    yield backend
    backend.close()


def s3_repository(s3: S3Server, **extra: Any) -> dict[str, Any]:
    return {
        "s3": {
            "endpoint": s3.endpoint,
            "bucket": s3.bucket,
            "insecure": True,
            "accessKeySecret": {"name": CRED, "key": "accessKey"},
            "secretKeySecret": {"name": CRED, "key": "secretKey"},
        },
        **extra,
    }


def credentials(s3: S3Server) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": CRED},
        "stringData": {"accessKey": s3.access_key, "secretKey": s3.secret_key},
    }


def namespace_repository(s3: S3Server, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "artifact-repositories", "annotations": {ANNOTATION: "default-v1"}},
        "data": {"default-v1": yaml.safe_dump(s3_repository(s3, **extra))},
    }


def upload(s3: S3Server, key: str, body: bytes) -> None:
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=body)


def finished_with_outputs(name: str, repository: dict[str, Any] | None) -> dict[str, Any]:
    """A Succeeded workflow whose `produce` pod output `result` (key-only, raw JSON) and
    archived its log, as Argo's executor records them."""
    n = Nodes(name)
    n.add(name, "Steps", "Succeeded", template="main", display=name)
    n.add(f"{name}[0]", "StepGroup", "Succeeded", template="main", parent=name, boundary=name)
    pod = n.pod(f"{name}[0].produce", "produce")
    n.add(
        f"{name}[0].produce",
        "Pod",
        "Succeeded",
        template="produce",
        parent=f"{name}[0]",
        boundary=name,
        outputs={
            "artifacts": [
                {
                    "name": "result",
                    "path": "/tmp/r.json",
                    "archive": {"none": {}},
                    "s3": {"key": f"{name}/{pod}/result.json"},
                },
                {"name": "main-logs", "s3": {"key": f"{name}/{pod}/main.log"}},
            ],
            "exitCode": "0",
        },
    )
    status: dict[str, Any] = {"phase": "Succeeded", "nodes": n.nodes}
    if repository is not None:
        status["artifactRepositoryRef"] = {
            "configMap": "artifact-repositories",
            "key": "default-v1",
            "namespace": "elsewhere",
            "artifactRepository": repository,
        }
    return status


def produce_node(workflow: dict[str, Any]) -> dict[str, Any]:
    return next(n for n in workflow["status"]["nodes"].values() if n["displayName"] == "produce")


def stage(s3: S3Server, name: str, status: dict[str, Any]) -> str:
    pod = next(n for n in status["nodes"].values() if n["type"] == "Pod")
    prefix = f"{name}/" + pod["outputs"]["artifacts"][0]["s3"]["key"].split("/")[1]
    upload(s3, f"{prefix}/result.json", json.dumps({"answer": 42}).encode())
    upload(s3, f"{prefix}/main.log", b"starting\n\nanswer is 42\n")
    return prefix.split("/")[1]


def test_artifact_from_the_repository_recorded_in_the_status(
    backend: KubernetesBackend, server: ApiServer, s3: S3Server, namespace: str
) -> None:
    backend.apply(credentials(s3))
    name = f"rec-{uuid.uuid4().hex[:6]}"
    status = finished_with_outputs(name, s3_repository(s3))
    stage(s3, name, status)
    Controller(server, namespace).create(manifest(name), status)
    workflow = backend.get(name)
    artifact = produce_node(workflow)["outputs"]["artifacts"][0]
    path = backend.open_artifact(artifact, workflow=workflow)
    assert json.loads(path.read_text()) == {"answer": 42}
    by_name = backend.open_artifact(artifact, workflow=name)
    assert by_name.read_bytes() == path.read_bytes()


def test_artifact_from_the_namespace_default_repository(
    backend: KubernetesBackend, server: ApiServer, s3: S3Server, namespace: str
) -> None:
    backend.apply(credentials(s3))
    backend.apply(namespace_repository(s3))
    name = f"ns-{uuid.uuid4().hex[:6]}"
    status = finished_with_outputs(name, None)
    stage(s3, name, status)
    Controller(server, namespace).create(manifest(name), status)
    artifact = produce_node(backend.get(name))["outputs"]["artifacts"][0]
    assert json.loads(backend.open_artifact(artifact).read_text()) == {"answer": 42}


def test_artifact_from_the_controllers_default_repository(
    backend: KubernetesBackend, server: ApiServer, s3: S3Server, namespace: str
) -> None:
    backend.apply(credentials(s3))
    artifact = {"name": "result", "archive": {"none": {}}, "s3": {"key": "nowhere/result.json"}}
    with pytest.raises(ConfigError, match=f'no artifact repository for namespace "{namespace}"'):
        backend.open_artifact(artifact)
    controller_config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "workflow-controller-configmap"},
        "data": {"artifactRepository": yaml.safe_dump(s3_repository(s3))},
    }
    backend.apply(controller_config, namespace=CONTROLLER_NAMESPACE)
    upload(s3, "nowhere/result.json", b"[1, 2]")
    assert json.loads(backend.open_artifact(artifact).read_text()) == [1, 2]


def test_logs_fall_back_to_the_archived_main_logs(
    backend: KubernetesBackend, server: ApiServer, s3: S3Server, namespace: str
) -> None:
    backend.apply(credentials(s3))
    name = f"logs-{uuid.uuid4().hex[:6]}"
    status = finished_with_outputs(name, s3_repository(s3, archiveLogs=True))
    pod = stage(s3, name, status)
    Controller(server, namespace).create(manifest(name), status)
    assert list(backend.logs(name)) == [(pod, "starting"), (pod, ""), (pod, "answer is 42")]
    assert list(backend.logs(name, node="displayName=produce")) == list(backend.logs(name))
    assert list(backend.logs(name, follow=True)) == list(backend.logs(name))
    with pytest.raises(NotFoundError, match='has no pod node "nothing"'):
        backend.logs(name, node="nothing")


def test_logs_of_gone_pods_without_an_archive_say_what_to_do(
    backend: KubernetesBackend, server: ApiServer, namespace: str
) -> None:
    name = f"nolog-{uuid.uuid4().hex[:6]}"
    status = finished_with_outputs(name, None)
    for node in status["nodes"].values():
        node.pop("outputs", None)
    Controller(server, namespace).create(manifest(name), status)
    with pytest.raises(NotFoundError, match=r"pods \(.*\) are gone .*archiveLogs: true"):
        list(backend.logs(name))


RUN = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: squares-
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    steps:
    - - name: square
        template: square
        arguments: {parameters: [{name: n, value: "{{item}}"}]}
        withItems: [2, 3]
    - - name: collect
        template: collect
  - name: square
    inputs: {parameters: [{name: n}]}
    container:
      image: alpine
      command: [sh, -c, "echo squaring $0; echo $(($0 * $0))", "{{inputs.parameters.n}}"]
  - name: collect
    container:
      image: alpine
      command: [sh, -c, "echo '{\\"done\\": true}' > /tmp/out.json; echo collected"]
    outputs:
      artifacts:
      - {name: out, path: /tmp/out.json, archive: {none: {}}}
  - name: bye
    container: {image: alpine, command: [echo, bye]}
"""


def test_a_run_driven_by_the_local_engine_as_controller(
    backend: KubernetesBackend, server: ApiServer, s3: S3Server, namespace: str, tmp_path: Path
) -> None:
    repository = namespace_repository(s3, archiveLogs=True)
    for obj in (credentials(s3), repository):
        backend.apply(obj)
    engine = EngineController(server, namespace, tmp_path / "engine", [credentials(s3), repository])
    created = backend.submit(yaml.safe_load(RUN))
    name = created["metadata"]["name"]
    assert name.startswith("squares-")
    stream = backend.watch(name, timeout=120)
    first = next(stream)
    followed: list[tuple[str, str]] = []
    follower = threading.Thread(
        target=lambda: followed.extend(backend.logs(name, follow=True)), daemon=True
    )
    follower.start()
    engine.run(name)
    snapshots = [first, *stream]
    engine.join(120)
    follower.join(120)
    final = snapshots[-1]
    assert final["status"]["phase"] == "Succeeded"
    assert len(snapshots) > 2  # it was watched while it ran
    nodes = {n["displayName"]: n for n in final["status"]["nodes"].values()}
    assert {"square(0:2)", "square(1:3)", "collect", f"{name}.onExit"} <= set(nodes)
    out = nodes["collect"]["outputs"]["artifacts"]
    result = next(a for a in out if a["name"] == "out")
    assert json.loads(backend.open_artifact(result, workflow=final).read_text()) == {"done": True}
    lines = [line for _, line in backend.logs(name)]
    assert {"squaring 2", "4", "squaring 3", "9", "collected", "bye"} <= set(lines)
    square_lines = [line for _, line in backend.logs(name, node="displayName=square(1:3)")]
    assert square_lines == ["squaring 3", "9"]
    # Followed while it ran: each pod's log, once (its pods were never in the cluster, so
    # each came from the archive as its node finished).
    assert sorted(followed) == sorted(backend.logs(name))

    # The same through a Run, as a notebook sees it.
    from jupyter_argo.run import Run

    run = Run(backend, created).wait(timeout=60)
    assert run.phase == "Succeeded"
    assert run.node("collect").outputs.artifacts["out"].json() == {"done": True}
    assert run.node("square(1:3)").logs().splitlines() == ["squaring 3", "9"]


def test_logs_of_a_pod_that_has_not_started(
    backend: KubernetesBackend, server: ApiServer, namespace: str
) -> None:
    name = f"pending-{uuid.uuid4().hex[:6]}"
    status = finished_with_outputs(name, None)
    status["phase"] = "Running"
    pod = next(n for n in status["nodes"].values() if n["type"] == "Pod")
    pod["phase"] = "Running"
    pod.pop("outputs")
    Controller(server, namespace).create(manifest(name), status)
    # The pod exists but no kubelet runs it here: the API server has no log to give yet.
    server.ensure(
        f"/api/v1/namespaces/{namespace}/pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": Nodes(name).pod(pod["name"], "produce")},
            "spec": {"containers": [{"name": "main", "image": "alpine"}]},
        },
    )
    assert list(backend.logs(name)) == []


def test_following_a_pod_until_its_log_is_archived(
    backend: KubernetesBackend, server: ApiServer, s3: S3Server, namespace: str
) -> None:
    backend.apply(credentials(s3))
    name = f"follow-{uuid.uuid4().hex[:6]}"
    final = finished_with_outputs(name, s3_repository(s3, archiveLogs=True))
    pod = stage(s3, name, final)
    running = copy.deepcopy(final)
    running["phase"] = "Running"
    for node in running["nodes"].values():
        node["phase"] = "Running"
        node.pop("outputs", None)
    controller = Controller(server, namespace)
    controller.create(manifest(name), running)
    pods = f"/api/v1/namespaces/{namespace}/pods"
    server.ensure(
        pods,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod},
            "spec": {"containers": [{"name": "main", "image": "alpine"}]},
        },
    )
    followed: list[tuple[str, str]] = []
    reader = threading.Thread(
        target=lambda: followed.extend(backend.logs(name, follow=True)), daemon=True
    )
    reader.start()
    time.sleep(1.0)  # it asks the pod for its log, which has none yet (not scheduled)
    server.call("DELETE", f"{pods}/{pod}")
    controller.write(name, final)
    reader.join(60)
    assert followed == [(pod, "starting"), (pod, ""), (pod, "answer is 42")]


def test_key_only_locations_resolved_as_argo_resolves_them(
    server: ApiServer, s3: S3Server, namespace: str, tmp_path: Path
) -> None:
    """Each of Argo's cases (artifact_server.go getArtifactAndDriver, artifactrepositories.go
    Resolve/Get), each repository a bucket of its own holding a different text."""
    suffix = uuid.uuid4().hex[:6]
    controller_cm = f"controller-{suffix}"  # absent until the {default: true} case
    backend = KubernetesBackend(
        kubeconfig=server.kubeconfig(tmp_path / "kubeconfig", namespace=namespace),
        controller_namespace=CONTROLLER_NAMESPACE,
        controller_configmap=controller_cm,
    )
    backend.apply(credentials(s3))
    client = s3.client()

    def bucket(label: str) -> dict[str, Any]:
        client.create_bucket(Bucket=f"{label}-{suffix}")
        client.put_object(Bucket=f"{label}-{suffix}", Key="k/out.txt", Body=label.encode())
        return {"s3": {**s3_repository(s3)["s3"], "bucket": f"{label}-{suffix}"}}

    def configmap(name: str, repository: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": {ANNOTATION: "repo"}},
            "data": {"repo": yaml.safe_dump(repository)},
        }

    artifact = {"name": "out", "archive": {"none": {}}, "s3": {"key": "k/out.txt"}}
    node = {
        "id": "wf-1",
        "name": "wf",
        "templateName": "make",
        "outputs": {"artifacts": [artifact]},
    }

    def workflow(spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        return {
            "metadata": {"name": "wf", "namespace": namespace},
            "spec": {"templates": [{"name": "make"}], **spec},
            "status": {"nodes": {"wf-1": node}, **status},
        }

    def opened(wf: dict[str, Any]) -> str:
        return backend.open_artifact(artifact, workflow=wf, node="wf-1").read_text()

    # A complete location is used as it is, with no repository configured anywhere.
    complete = {**artifact, "s3": {**bucket("complete")["s3"], "key": "k/out.txt"}}
    assert backend.open_artifact(complete, workflow=workflow({}, {})).read_text() == "complete"
    with pytest.raises(ConfigError, match=f"no artifactRepository in argo/{controller_cm}"):
        opened(workflow({}, {}))

    # spec.artifactRepositoryRef naming a ConfigMap only the controller's namespace has.
    backend.apply(configmap(f"repos-{suffix}", bucket("ctlns")), namespace=CONTROLLER_NAMESPACE)
    assert opened(workflow({"artifactRepositoryRef": {"configMap": f"repos-{suffix}"}}, {})) == (
        "ctlns"
    )

    # A status ref written before Argo 3.1: no inline repository, its ConfigMap is read
    # in the namespace it names.
    backend.apply(configmap(f"old-{suffix}", bucket("pre31")), namespace=CONTROLLER_NAMESPACE)
    old_ref = {"configMap": f"old-{suffix}", "key": "repo", "namespace": CONTROLLER_NAMESPACE}
    assert opened(workflow({}, {"artifactRepositoryRef": old_ref})) == "pre31"

    # {default: true} without its repository: the controller's default.
    default = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": controller_cm},
        "data": {"artifactRepository": yaml.safe_dump(bucket("ctldefault"))},
    }
    backend.apply(default, namespace=CONTROLLER_NAMESPACE)
    assert opened(workflow({}, {"artifactRepositoryRef": {"default": True}})) == "ctldefault"

    # The inline repository of the status ref comes before any ConfigMap...
    inline = {"default": True, "artifactRepository": bucket("inline")}
    assert opened(workflow({}, {"artifactRepositoryRef": inline})) == "inline"
    # ...and the template's own complete archiveLocation before that.
    archive = {"s3": {**bucket("template")["s3"], "key": "k"}}
    templated = workflow({}, {"artifactRepositoryRef": inline})
    templated["spec"]["templates"][0]["archiveLocation"] = archive
    assert opened(templated) == "template"
    backend.close()


def test_artifacts_without_rbac_on_secrets_say_which_secret(
    server: ApiServer, s3: S3Server, namespace: str, tmp_path: Path
) -> None:
    from k8s.envtest import VIEWER, VIEWER_TOKEN

    admin = KubernetesBackend(kubeconfig=server.kubeconfig(tmp_path / "a", namespace=namespace))
    admin.apply(credentials(s3))
    name = f"nosecret-{uuid.uuid4().hex[:6]}"
    status = finished_with_outputs(name, s3_repository(s3))
    stage(s3, name, status)
    Controller(server, namespace).create(manifest(name), status)
    # The viewer may read workflows here, and nothing else.
    server.ensure(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "workflow-viewer"},
            "rules": [
                {
                    "apiGroups": ["argoproj.io"],
                    "resources": ["workflows"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        },
    )
    viewer = {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": VIEWER}
    server.bind_role(namespace, "workflow-viewer", "workflow-viewer", viewer)
    config = server.kubeconfig(tmp_path / "v", token=VIEWER_TOKEN, namespace=namespace)
    backend = KubernetesBackend(kubeconfig=config, controller_namespace=CONTROLLER_NAMESPACE)
    try:
        workflow = backend.get(name)
        artifact = produce_node(workflow)["outputs"]["artifacts"][0]
        with pytest.raises(ConfigError) as caught:
            backend.open_artifact(artifact, workflow=workflow)
    finally:
        backend.close()
        admin.close()
    message = str(caught.value)
    assert "\n" not in message
    assert f'Secret "{CRED}" in namespace "{namespace}"' in message
    assert f'user "{VIEWER}" cannot get secrets' in message
    assert s3.secret_key not in message
