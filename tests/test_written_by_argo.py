"""Workflow objects written by Argo's own controller (../shared/argo/written-by-argo): each
one read, rendered, turned into a `Run` and bound, and every artifact in it opened from a
real S3-compatible server (moto's) holding the recorded keys.

The bucket each open must hit is worked out here from the recorded status and Argo's
rules (`server/artifacts/artifact_server.go` `getArtifactAndDriver`,
`workflow/artifactrepositories/artifactrepositories.go` `Resolve`/`Get`), not from our
code: every bucket holds a different text at each key, so a wrong bucket reads the wrong
text (or nothing). The recorded endpoint (`minio:9000`, inside the cluster Argo ran in)
is pointed at the moto server; the last test keeps it and expects one clear line.
"""

from __future__ import annotations

import copy
import io
import json
import tarfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ARGO
from servers import S3Server, s3_server

from jupyter_argo import render_svg
from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.bind import bind
from jupyter_argo.errors import ArtifactError
from jupyter_argo.run import Run

WRITTEN = ARGO / "written-by-argo"
RECORDED_ENDPOINT = "minio:9000"
CRED = "my-minio-cred"  # the Secret Argo's objects name, keys `accesskey`/`secretkey`
ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
# The `artifact-repositories` ConfigMap of each namespace points at a bucket of its own.
NAMESPACES = ("default", "argo", "test", "my-ns", "workflows", "argo-system")
RECORDED_BUCKET = "my-bucket"

# What the whole set holds, counted by hand from the files: a change to ../shared shows.
EXPECTED_OBJECTS = 70


def written() -> list[Path]:
    return sorted(WRITTEN.glob("*.json")) if WRITTEN.is_dir() else []


def _need_shared() -> None:
    if not WRITTEN.is_dir():
        pytest.skip(f"Argo-written workflows are not at {WRITTEN} (../shared/argo absent)")


def namespace_bucket(namespace: str) -> str:
    return f"ns-{namespace}"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    _need_shared()
    with s3_server() as server:
        client = server.client()
        for bucket in [RECORDED_BUCKET, *(namespace_bucket(ns) for ns in NAMESPACES)]:
            client.create_bucket(Bucket=bucket)
        yield server


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_STEPS", "2")
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_DURATION", "1ms")


# ---- Argo's rules, restated for the expectations ------------------------------------------


def _template_name(node: Mapping[str, Any]) -> str:
    ref = node.get("templateRef") or {}
    return str(ref.get("template") or node.get("templateName") or "")


def expected_bucket(workflow: Mapping[str, Any], node_id: str, artifact: Mapping[str, Any]) -> str:
    """Where Argo's artifact server reads `artifact` of node `node_id` (ours point each
    namespace's default and the ConfigMaps of pre-3.1 refs at `ns-<namespace>`)."""
    s3 = artifact["s3"]
    if s3.get("endpoint") and s3.get("bucket") and s3.get("key"):
        return str(s3["bucket"])  # 1. a complete location
    node = workflow["status"]["nodes"].get(node_id) or {}
    for template in workflow.get("spec", {}).get("templates") or []:
        archive = (template.get("archiveLocation") or {}).get("s3") or {}
        if template.get("name") == _template_name(node) and archive.get("bucket"):
            return str(archive["bucket"])  # 2. the template's archiveLocation
    namespace = workflow["metadata"]["namespace"]
    ref = workflow["status"].get("artifactRepositoryRef")
    if ref:  # 3. Get(status.artifactRepositoryRef)
        if ref.get("artifactRepository"):
            return str(ref["artifactRepository"]["s3"]["bucket"])
        assert not ref.get("default"), "a {default: true} ref is tested with its own default"
        return namespace_bucket(ref.get("namespace") or namespace)
    return namespace_bucket(namespace)  # 4. Resolve: the namespace's default ConfigMap


def marker(bucket: str, key: str) -> bytes:
    return f"{bucket}/{key}\n".encode()


def stored_form(artifact: Mapping[str, Any], body: bytes) -> bytes:
    """The object as Argo's executor stores it: packed by the artifact's archive strategy
    (tgz by default, so an unmarked `.tgz` key holds a tarball), else as it is."""
    archive = artifact.get("archive") or {}
    key = str(artifact["s3"]["key"])
    if "none" in archive or (not archive and not key.endswith(".tgz")):
        return body
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if "tar" not in archive else "w") as tar:
        entry = tarfile.TarInfo(str(artifact.get("name") or "file"))
        entry.size = len(body)
        tar.addfile(entry, io.BytesIO(body))
    return out.getvalue()


# ---- the objects, as a user's data directory would hold them ------------------------------


def as_stored(path: Path, endpoint: str) -> dict[str, Any]:
    """The object with the recorded endpoint pointed at `endpoint` and what the local store
    needs (name, namespace, uid, creation time) filled in where the file has none."""
    text = path.read_text().replace(f'"{RECORDED_ENDPOINT}"', json.dumps(endpoint))
    workflow: dict[str, Any] = json.loads(text)
    meta = workflow.setdefault("metadata", {})
    meta.setdefault("name", path.stem.rsplit("__", 1)[-1].lower())
    meta["namespace"] = meta.get("namespace") or "default"
    meta["uid"] = meta.get("uid") or str(uuid.uuid4())
    meta["creationTimestamp"] = meta.get("creationTimestamp") or "2024-01-01T00:00:00Z"
    workflow.setdefault("spec", {})
    workflow.setdefault("status", {}).setdefault("nodes", {})
    return workflow


def located(workflow: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(node ID, section, artifact) of every artifact in the status that has a location."""
    for node_id, node in (workflow["status"].get("nodes") or {}).items():
        for section in ("inputs", "outputs"):
            for artifact in ((node or {}).get(section) or {}).get("artifacts") or []:
                if isinstance(artifact.get("s3"), Mapping):
                    yield node_id, section, artifact


def prepared_backend(s3: S3Server) -> LocalBackend:
    backend = LocalBackend()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": CRED},
        "stringData": {"accesskey": s3.access_key, "secretkey": s3.secret_key},
    }
    for namespace in NAMESPACES:
        backend.apply(secret, namespace)
        repository = {
            "s3": {
                "endpoint": s3.endpoint,
                "bucket": namespace_bucket(namespace),
                "insecure": True,
                "accessKeySecret": {"name": CRED, "key": "accesskey"},
                "secretKeySecret": {"name": CRED, "key": "secretkey"},
            }
        }
        configmap = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "artifact-repositories",
                "annotations": {ANNOTATION: "default-v1"},
            },
            "data": {"default-v1": yaml.safe_dump(repository)},
        }
        backend.apply(configmap, namespace)
    return backend


def seed(s3: S3Server, workflow: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """Each artifact's object in the bucket Argo would read, holding `bucket/key`; and the
    same key in every other bucket holding that bucket's name, so a wrong bucket shows."""
    client = s3.client()
    where: dict[tuple[str, str], str] = {}
    for node_id, section, artifact in located(workflow):
        bucket = expected_bucket(workflow, node_id, artifact)
        key = str(artifact["s3"]["key"])
        where[node_id, f"{section}/{artifact['name']}"] = bucket
        for decoy in [RECORDED_BUCKET, *(namespace_bucket(ns) for ns in NAMESPACES)]:
            client.put_object(Bucket=decoy, Key=key, Body=stored_form(artifact, marker(decoy, key)))
    return where


def read_back(path: Path) -> bytes:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        assert len(files) == 1, f"{path} holds {files}"
        path = files[0]
    return path.read_bytes()


# ---- the tests ---------------------------------------------------------------------------


def test_the_set_is_all_there() -> None:
    _need_shared()
    assert len(written()) == EXPECTED_OBJECTS


@pytest.mark.parametrize("path", written(), ids=lambda p: p.stem.rsplit("__", 1)[-1])
def test_read_rendered_bound_and_every_artifact_opened(path: Path, s3: S3Server) -> None:
    workflow = as_stored(path, s3.endpoint)
    backend = prepared_backend(s3)
    assert backend.store.create_workflow(copy.deepcopy(workflow), owned=False)
    where = seed(s3, workflow)
    meta = workflow["metadata"]

    assert backend.get(meta["name"], meta["namespace"])["status"] == workflow["status"]
    assert render_svg(workflow).lstrip().startswith("<svg")
    run = Run(backend, workflow, meta["namespace"])
    variables: dict[str, Any] = {}
    bind(variables, run)
    views = {view.id: view for view in run.nodes()}
    assert set(views) <= set(workflow["status"]["nodes"])

    opened = 0
    for (node_id, label), bucket in where.items():
        section, name = label.split("/", 1)
        view = views[node_id]
        artifact = getattr(view, section).artifacts[name]
        key = str(artifact.spec["s3"]["key"])
        assert read_back(artifact.path()) == marker(bucket, key), f"{node_id} {label}"
        opened += 1
    assert opened == len(where)
    assert not run.outputs.artifacts  # none of Argo's objects has workflow output artifacts


def test_how_many_artifacts_the_set_opens() -> None:
    """The count the test above opens, over the whole set (and how they are located)."""
    _need_shared()
    counts = {"complete": 0, "key-only": 0, "no location": 0, "objects with artifacts": 0}
    for path in written():
        workflow = as_stored(path, RECORDED_ENDPOINT)
        found = False
        for node in workflow["status"]["nodes"].values():
            for section in ("inputs", "outputs"):
                for artifact in ((node or {}).get(section) or {}).get("artifacts") or []:
                    found = True
                    s3 = artifact.get("s3")
                    if not isinstance(s3, Mapping):
                        counts["no location"] += 1
                    elif s3.get("endpoint"):
                        counts["complete"] += 1
                    else:
                        counts["key-only"] += 1
        counts["objects with artifacts"] += found
    assert counts == {
        "complete": 26,
        "key-only": 60,
        "no location": 1,
        "objects with artifacts": 26,
    }


def test_a_default_ref_without_its_repository_is_the_controllers_default(
    s3: S3Server,
) -> None:
    """A `{default: true}` status ref with no inline repository (written before Argo 3.1):
    the controller's default, which for the local engine is the embedded directory."""
    path = next(p for p in written() if "archive-strategies" in p.name)
    workflow = as_stored(path, s3.endpoint)
    workflow["status"]["artifactRepositoryRef"] = {"default": True}
    backend = prepared_backend(s3)
    backend.store.create_workflow(copy.deepcopy(workflow), owned=False)
    node_id, _, artifact = next(located(workflow))
    key = str(artifact["s3"]["key"])
    embedded = backend.store.home / "artifacts" / key
    embedded.parent.mkdir(parents=True, exist_ok=True)
    embedded.write_bytes(stored_form(artifact, b"embedded\n"))
    run = Run(backend, workflow, workflow["metadata"]["namespace"])
    view = next(v for v in run.nodes() if v.id == node_id)
    assert read_back(view.outputs.artifacts[artifact["name"]].path()) == b"embedded\n"


def test_an_endpoint_reachable_only_inside_the_cluster_is_one_clear_line(
    s3: S3Server,
) -> None:
    path = next(p for p in written() if "dag-diamond-88trp" in p.name)
    workflow = as_stored(path, RECORDED_ENDPOINT)  # the endpoint as Argo recorded it
    backend = prepared_backend(s3)
    backend.store.create_workflow(copy.deepcopy(workflow), owned=False)
    node_id, _, artifact = next(located(workflow))
    run = Run(backend, workflow, workflow["metadata"]["namespace"])
    view = next(v for v in run.nodes() if v.id == node_id)
    with pytest.raises(ArtifactError) as caught:
        view.outputs.artifacts[artifact["name"]].path()
    message = str(caught.value)
    assert "\n" not in message
    assert f"s3 endpoint {RECORDED_ENDPOINT} bucket {RECORDED_BUCKET}" in message
    assert "port-forward" in message
    assert s3.secret_key not in message
    assert s3.access_key not in message
