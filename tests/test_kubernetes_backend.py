"""The Kubernetes backend against a real kube-apiserver: configuration, errors users can
act on, submit/apply/get/list, and node status packing."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s.controller import Controller, manifest, steps_with_retry_and_exit, workflow_path
from k8s.envtest import (
    NAMESPACE,
    NOBODY_TOKEN,
    VIEWER,
    VIEWER_TOKEN,
    ApiServer,
    free_port,
    shared_api_server,
)

from jupyter_argo.backends.base import Backend
from jupyter_argo.backends.kubernetes import KubernetesBackend
from jupyter_argo.errors import ConfigError, NotFoundError, UnsupportedError, UserError


@pytest.fixture(scope="module")
def server() -> ApiServer:
    return shared_api_server()


@pytest.fixture
def kubeconfig(server: ApiServer, tmp_path: Path) -> Path:
    return server.kubeconfig(tmp_path / "kubeconfig", extra_contexts={"other": "argo"})


@pytest.fixture
def backend(kubeconfig: Path) -> Iterator[KubernetesBackend]:
    backend = KubernetesBackend(kubeconfig=kubeconfig)
    yield backend
    backend.close()


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---- configuration -----------------------------------------------------------------------


def test_it_is_a_backend(backend: KubernetesBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.name == "kubernetes"


def test_namespace_comes_from_the_current_context(kubeconfig: Path) -> None:
    assert KubernetesBackend(kubeconfig=kubeconfig).namespace == NAMESPACE
    assert KubernetesBackend(kubeconfig=kubeconfig, context="other").namespace == "argo"
    assert KubernetesBackend("given", kubeconfig=kubeconfig).namespace == "given"


def test_kubeconfig_from_the_environment(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    backend = KubernetesBackend(context="other")
    try:
        assert backend.namespace == "argo"
        assert isinstance(backend.list(), list)
    finally:
        backend.close()


def test_unknown_context_lists_the_known_ones(kubeconfig: Path) -> None:
    with pytest.raises(ConfigError, match=r'context "nope" is not in .*contexts: envtest, other'):
        _ = KubernetesBackend(kubeconfig=kubeconfig, context="nope").namespace


def test_no_kubeconfig_and_not_in_a_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match=r"no kubeconfig .*missing.* not running in a cluster"):
        KubernetesBackend().list()


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"unknown kubernetes backend setting.*: colour"):
        KubernetesBackend(colour="blue")


def test_unreachable_server_says_where_and_why(server: ApiServer, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    config = server.kubeconfig(tmp_path / "kc", server=f"https://127.0.0.1:{port}")
    backend = KubernetesBackend(kubeconfig=config)
    with pytest.raises(
        ConfigError, match=rf"cannot reach .*127\.0\.0\.1:{port} .*: connection refused"
    ):
        backend.list()
    backend.close()


def test_a_server_certificate_the_kubeconfig_does_not_trust(
    server: ApiServer, tmp_path: Path
) -> None:
    config = server.kubeconfig(tmp_path / "kc")
    other_ca = tmp_path / "other-ca.crt"
    key = tmp_path / "other-ca.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=other",
            "-keyout",
            str(key),
            "-out",
            str(other_ca),
        ],
        check=True,
        capture_output=True,
    )
    config.write_text(config.read_text().replace(str(server.ca_file), str(other_ca)))
    backend = KubernetesBackend(kubeconfig=config)
    with pytest.raises(ConfigError, match=r"cannot reach .*TLS: certificate verify failed"):
        backend.list()
    backend.close()


def test_bad_token_is_unauthorized(server: ApiServer, tmp_path: Path) -> None:
    backend = KubernetesBackend(kubeconfig=server.kubeconfig(tmp_path / "kc", token="wrong"))
    with pytest.raises(ConfigError, match=r"rejected the credentials .*401 Unauthorized"):
        backend.get("anything")
    backend.close()


def test_forbidden_names_the_verb_and_the_resource(server: ApiServer, tmp_path: Path) -> None:
    viewer = KubernetesBackend(kubeconfig=server.kubeconfig(tmp_path / "v", token=VIEWER_TOKEN))
    assert isinstance(viewer.list(), list)  # the viewer may list
    with pytest.raises(ConfigError) as denied:
        viewer.submit(manifest(unique()))
    message = str(denied.value)
    assert f'user "{VIEWER}" cannot create workflows.argoproj.io in namespace "{NAMESPACE}"' in (
        message
    )
    assert 'granting "create" on workflows.argoproj.io' in message
    name = unique("denied")
    Controller(server, NAMESPACE).create(manifest(name), steps_with_retry_and_exit(name))
    # Logs find the workflow's pods by label first, as `argo logs` does.
    with pytest.raises(ConfigError, match=r'cannot list pods in namespace "argo-test"'):
        list(viewer.logs(name))
    nobody = KubernetesBackend(kubeconfig=server.kubeconfig(tmp_path / "n", token=NOBODY_TOKEN))
    with pytest.raises(ConfigError, match=r"cannot watch workflows.argoproj.io|cannot list"):
        next(iter(nobody.watch("x")))
    with pytest.raises(ConfigError, match=r"cannot create configmaps"):
        nobody.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    for backend in (viewer, nobody):
        backend.close()


def test_namespace_not_found(backend: KubernetesBackend) -> None:
    with pytest.raises(NotFoundError, match=r'namespace "no-such-namespace" not found'):
        backend.submit(manifest(unique()), namespace="no-such-namespace")


def test_admission_rejections_carry_the_servers_message(backend: KubernetesBackend) -> None:
    with pytest.raises(
        UserError, match=r"refused to create workflows.argoproj.io: .*Invalid value"
    ):
        backend.submit(manifest("Not_A_Valid_Name"))
    nameless = manifest("x")
    del nameless["metadata"]["name"]
    with pytest.raises(UserError, match=r"name or generateName is required"):
        backend.submit(nameless)


# ---- workflows ---------------------------------------------------------------------------


def test_submit_honours_generate_name(backend: KubernetesBackend) -> None:
    body = manifest("ignored")
    body["metadata"] = {"generateName": "hello-", "labels": {"team": "a"}}
    created = backend.submit(body)
    name = created["metadata"]["name"]
    assert name.startswith("hello-")
    assert len(name) > len("hello-")
    assert created["metadata"]["namespace"] == NAMESPACE
    assert created["metadata"]["labels"] == {"team": "a"}
    fetched = backend.get(name)
    assert fetched["spec"] == body["spec"]
    assert fetched["kind"] == "Workflow"
    assert name in [w["metadata"]["name"] for w in backend.list()]


def test_submit_overrides_as_argo_submit_does(backend: KubernetesBackend) -> None:
    body = manifest(unique())
    body["spec"]["arguments"] = {"parameters": [{"name": "who", "value": "world"}]}
    created = backend.submit(
        body,
        name=unique("named"),
        parameters={"who": "argo", "extra": "1"},
        entrypoint="other",
    )
    assert created["metadata"]["name"].startswith("named-")
    assert created["spec"]["entrypoint"] == "other"
    assert created["spec"]["arguments"]["parameters"] == [
        {"name": "who", "value": "argo"},
        {"name": "extra", "value": "1"},
    ]


def test_server_dry_run_stores_nothing(backend: KubernetesBackend) -> None:
    name = unique("dry")
    created = backend.submit(manifest(name), server_dry_run=True)
    assert created["metadata"]["name"] == name
    assert created["metadata"].get("uid")  # completed by the server
    with pytest.raises(NotFoundError, match=f'workflows.argoproj.io "{name}" not found'):
        backend.get(name)


def test_get_missing_workflow(backend: KubernetesBackend) -> None:
    with pytest.raises(NotFoundError, match=r'workflows.argoproj.io "nope" not found in namespace'):
        backend.get("nope")


def test_list_is_newest_first_and_namespaced(backend: KubernetesBackend) -> None:
    names = [backend.submit(manifest(unique("l")))["metadata"]["name"] for _ in range(2)]
    listed = [w["metadata"]["name"] for w in backend.list()]
    assert set(names) <= set(listed)
    assert backend.list("argo") == [] or all(
        w["metadata"]["namespace"] == "argo" for w in backend.list("argo")
    )


@pytest.mark.parametrize(
    ("kind", "body", "changed"),
    [
        (
            "WorkflowTemplate",
            {"spec": {"templates": [{"name": "a", "suspend": {}}]}},
            {"spec": {"templates": [{"name": "b", "suspend": {}}]}},
        ),
        (
            "ClusterWorkflowTemplate",
            {"spec": {"templates": [{"name": "a", "suspend": {}}]}},
            {"spec": {"templates": [{"name": "c", "suspend": {}}]}},
        ),
        ("ConfigMap", {"data": {"k": "v"}}, {"data": {"k": "w"}}),
        ("Secret", {"stringData": {"k": "v"}}, {"stringData": {"k": "w"}}),
    ],
)
def test_apply_creates_configures_or_leaves_unchanged(
    backend: KubernetesBackend, server: ApiServer, kind: str, body: dict, changed: dict
) -> None:
    name = unique(kind.lower())
    api = "v1" if kind in ("ConfigMap", "Secret") else "argoproj.io/v1alpha1"
    first = {"apiVersion": api, "kind": kind, "metadata": {"name": name}, **body}
    assert backend.apply(first) == "created"
    assert backend.apply(first) == "unchanged"
    assert backend.apply({**first, **changed}) == "configured"
    store = backend.template_store()
    if kind.endswith("WorkflowTemplate"):
        assert store.get(kind, name)["spec"] == changed["spec"]
    if kind == "Secret":
        path = f"/api/v1/namespaces/{NAMESPACE}/secrets/{name}"
        assert base64.b64decode(server.call("GET", path)["data"]["k"]) == b"w"
    assert store.get(kind, "nope") is None


def test_apply_refuses_other_kinds(backend: KubernetesBackend) -> None:
    with pytest.raises(UserError, match=r"Pod cannot be applied"):
        backend.apply({"kind": "Pod", "metadata": {"name": "p"}})
    with pytest.raises(UserError, match=r"ConfigMap has no metadata.name"):
        backend.apply({"kind": "ConfigMap", "metadata": {}})


# ---- node status packing -----------------------------------------------------------------


def test_compressed_nodes_are_unpacked_and_packed_again(
    backend: KubernetesBackend, server: ApiServer
) -> None:
    controller = Controller(server, NAMESPACE)
    name = unique("packed")
    status = steps_with_retry_and_exit(name)
    nodes = status.pop("nodes")
    status["compressedNodes"] = base64.b64encode(gzip.compress(json.dumps(nodes).encode())).decode()
    controller.create(manifest(name), status)
    fetched = backend.get(name)
    assert fetched["status"]["nodes"] == nodes
    assert "compressedNodes" not in fetched["status"]
    retried = backend.retry(name)
    assert "nodes" in retried["status"]
    stored = server.call("GET", workflow_path(NAMESPACE, name))["status"]
    assert "nodes" not in stored  # written back compressed, as Argo's Dehydrate does
    unpacked = json.loads(gzip.decompress(base64.b64decode(stored["compressedNodes"])))
    assert unpacked == retried["status"]["nodes"]


def test_offloaded_nodes_are_named_with_what_to_do(
    backend: KubernetesBackend, server: ApiServer
) -> None:
    controller = Controller(server, NAMESPACE)
    name = unique("offloaded")
    status = {"phase": "Failed", "offloadNodeStatusVersion": "fnv:123456"}
    controller.create(manifest(name), status)
    conditions = backend.get(name)["status"]["conditions"]
    note = next(c for c in conditions if c["type"] == "NodeStatusOffloaded")
    assert "offloaded to Argo's database" in note["message"]
    assert f"argo get {name}" in note["message"]
    with pytest.raises(UnsupportedError, match=r"offloaded.*cannot be retried here.*Argo Server"):
        backend.retry(name)
    with pytest.raises(UnsupportedError, match=r"offloaded.*logs cannot be found"):
        list(backend.logs(name))
