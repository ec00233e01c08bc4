"""Workflow objects written by Argo's own controller (../shared/argo/written-by-argo),
through the Kubernetes backend against a real kube-apiserver: each one created there with
its status (Argo's CRDs have no status subresource, so a create keeps it), then read,
listed, watched, rendered, turned into a `Run` and bound, and every artifact in it opened
from a real S3-compatible server (moto's) with the repositories and credentials read from
the cluster: each namespace's `artifact-repositories` ConfigMap and Secret, and the
controller's workflow-controller-configmap.

The expected buckets, the decoys in every other bucket and the recorded endpoint pointed at
the moto server are the local test's (tests/written_by_argo_helpers.py). An API server of
its own: these objects live in fixed namespaces (`argo`, `default`, ...) beside fixed
ConfigMaps that other modules' tests on the shared one change.
"""

from __future__ import annotations

import contextlib
import copy
import json
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s.envtest import CONTROLLER_NAMESPACE, ApiServer, api_server
from servers import S3Server, s3_server
from written_by_argo_helpers import (
    CONTROLLER_BUCKET,
    NAMESPACES,
    as_stored,
    controller_configmap,
    create_buckets,
    located,
    need_shared,
    read_rendered_bound_opened,
    seed,
    stage_repositories,
    written,
    written_id,
)

from jupyter_argo.backends.kubernetes import KubernetesBackend

LABEL_INSTANCE_ID = "workflows.argoproj.io/controller-instanceid"
# Objects the API server refuses, and why: Argo's unit test wrote a label whose value is
# the boolean true (`workflows.argoproj.io/completed: true`), which no ObjectMeta holds.
REFUSED = {"workflow_controller_operator_test.go__97.0__my-wf": "cannot unmarshal bool"}


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServer]:
    need_shared()
    with api_server() as started:
        yield started


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    need_shared()
    with s3_server() as started:
        create_buckets(started)
        yield started


@pytest.fixture(scope="module")
def kubeconfig(server: ApiServer, s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An admin's kubeconfig for a cluster holding, in each namespace, the credentials and
    the `artifact-repositories` ConfigMap the local test stages, and the controller's
    default repository in its workflow-controller-configmap."""
    for namespace in {*NAMESPACES, CONTROLLER_NAMESPACE}:
        ensure_namespace(server, namespace)
    config = server.kubeconfig(tmp_path_factory.mktemp("kube") / "config", namespace=None)
    backend = KubernetesBackend(kubeconfig=config, controller_namespace=CONTROLLER_NAMESPACE)
    try:
        stage_repositories(backend, s3)
        backend.apply(controller_configmap(s3), CONTROLLER_NAMESPACE)
    finally:
        backend.close()
    return config


def ensure_namespace(server: ApiServer, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    server.ensure("/api/v1/namespaces", body)


@contextlib.contextmanager
def created(server: ApiServer, workflow: dict[str, Any], path: Path) -> Iterator[None]:
    """The object created as it is, status included (only what the API server sets itself
    left out), in its own namespace; deleted after. An object the API server refuses is a
    skip with the server's message when REFUSED expects it, else a failure."""
    body = copy.deepcopy(workflow)
    body["apiVersion"] = "argoproj.io/v1alpha1"
    body["kind"] = "Workflow"
    meta = body["metadata"]
    for field in ("resourceVersion", "uid", "creationTimestamp", "selfLink", "managedFields"):
        meta.pop(field, None)
    namespace, name = meta["namespace"], meta["name"]
    ensure_namespace(server, namespace)
    collection = f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/workflows"
    try:
        stored = server.call("POST", collection, body)
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        with contextlib.suppress(ValueError):
            text = json.loads(text).get("message") or text
        refused = f"the API server refuses {path.name} ({err.code}): {text}"
        expected = REFUSED.get(path.stem)
        if err.code < 500 and expected and expected in text:
            pytest.skip(refused)
        pytest.fail(refused, pytrace=False)
    assert stored["status"] == workflow["status"], "the create did not keep the status"
    try:
        yield
    finally:
        server.call("DELETE", f"{collection}/{name}")


def backend_for(kubeconfig: Path, workflow: dict[str, Any]) -> KubernetesBackend:
    """As `argo --instanceid` would be used for an object some controller instance owns."""
    labels = workflow["metadata"].get("labels") or {}
    return KubernetesBackend(
        kubeconfig=kubeconfig,
        controller_namespace=CONTROLLER_NAMESPACE,
        instance_id=labels.get(LABEL_INSTANCE_ID),
        pending_notice=None,
    )


def check(
    server: ApiServer,
    kubeconfig: Path,
    workflow: dict[str, Any],
    where: dict[tuple[str, str], str],
    path: Path,
) -> int:
    meta = workflow["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    with created(server, workflow, path):
        backend = backend_for(kubeconfig, workflow)
        try:
            got = backend.get(name, namespace)
            listed = [w for w in backend.list(namespace) if w["metadata"]["name"] == name]
            assert listed == [got]
            watch = backend.watch(name, namespace, timeout=30)
            try:
                assert next(iter(watch)) == got
            finally:
                getattr(watch, "close", lambda: None)()
            return read_rendered_bound_opened(backend, workflow, where)
        finally:
            backend.close()


@pytest.mark.parametrize("path", written(), ids=written_id)
def test_read_listed_watched_rendered_bound_and_every_artifact_opened(
    path: Path, server: ApiServer, s3: S3Server, kubeconfig: Path
) -> None:
    workflow = as_stored(path, s3.endpoint)
    where = seed(s3, workflow)
    assert check(server, kubeconfig, workflow, where, path) == len(where)


def test_a_default_ref_without_its_repository_is_the_controllers_default(
    server: ApiServer, s3: S3Server, kubeconfig: Path
) -> None:
    """A `{default: true}` status ref with no inline repository (written before Argo 3.1):
    the controller's default, from its workflow-controller-configmap."""
    path = next(p for p in written() if "archive-strategies" in p.name)
    workflow = as_stored(path, s3.endpoint)
    workflow["metadata"]["name"] += "-default-ref"
    workflow["status"]["artifactRepositoryRef"] = {"default": True}
    assert any(not a["s3"].get("endpoint") for _, _, a in located(workflow))
    where = seed(s3, workflow, CONTROLLER_BUCKET)
    assert set(where.values()) == {CONTROLLER_BUCKET}
    assert check(server, kubeconfig, workflow, where, path) == len(where)
