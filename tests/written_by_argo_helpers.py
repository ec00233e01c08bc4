"""What the tests over the Workflow objects Argo's controller wrote (../shared/argo/written-
by-argo) share, whichever backend reads them: the objects as stored, the artifact
repositories each namespace is given, the buckets seeded, Argo's rules for which bucket
an artifact is read from, and the checks on a `Run` of each object.

The bucket each open must hit is worked out here from the recorded status and Argo's
rules (`server/artifacts/artifact_server.go` `getArtifactAndDriver`,
`workflow/artifactrepositories/artifactrepositories.go` `Resolve`/`Get`), not from our
code: every bucket holds a different text at each key, so a wrong bucket reads the wrong
text (or nothing). The recorded endpoint (`minio:9000`, inside the cluster Argo ran in)
is pointed at the moto server by rewriting it in the object's text.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml
from conftest import WRITTEN_BY_ARGO
from servers import S3Server

from jupyter_argo import render_svg
from jupyter_argo.bind import bind
from jupyter_argo.run import Run

WRITTEN = WRITTEN_BY_ARGO
RECORDED_ENDPOINT = "minio:9000"
CRED = "my-minio-cred"  # the Secret Argo's objects name, keys `accesskey`/`secretkey`
ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
# The `artifact-repositories` ConfigMap of each namespace points at a bucket of its own.
NAMESPACES = ("default", "argo", "test", "my-ns", "workflows", "argo-system")
RECORDED_BUCKET = "my-bucket"
# The controller's own default (`artifactRepository` of its workflow-controller-configmap),
# where a cluster has one.
CONTROLLER_BUCKET = "controller-default"
BUCKETS = (RECORDED_BUCKET, CONTROLLER_BUCKET, *(f"ns-{ns}" for ns in NAMESPACES))


class Applies(Protocol):
    """A backend that applies ConfigMaps and Secrets (both do)."""

    def apply(self, manifest: Mapping[str, Any], namespace: str | None = None) -> str: ...


def written() -> list[Path]:
    return sorted(WRITTEN.glob("*.json")) if WRITTEN.is_dir() else []


def written_id(path: Path) -> str:
    return path.stem.rsplit("__", 1)[-1]


def need_shared() -> None:
    if not WRITTEN.is_dir():
        pytest.skip(f"Argo-written workflows are not at {WRITTEN} (../shared/argo absent)")


def namespace_bucket(namespace: str) -> str:
    return f"ns-{namespace}"


def create_buckets(s3: S3Server) -> None:
    client = s3.client()
    for bucket in BUCKETS:
        client.create_bucket(Bucket=bucket)


# ---- Argo's rules, restated for the expectations ------------------------------------------


def _template_name(node: Mapping[str, Any]) -> str:
    ref = node.get("templateRef") or {}
    return str(ref.get("template") or node.get("templateName") or "")


def expected_bucket(
    workflow: Mapping[str, Any],
    node_id: str,
    artifact: Mapping[str, Any],
    controller_bucket: str | None = None,
) -> str:
    """Where Argo's artifact server reads `artifact` of node `node_id` (ours point each
    namespace's default and the ConfigMaps of pre-3.1 refs at `ns-<namespace>`, and the
    controller's default, when there is one in a bucket, at `controller_bucket`)."""
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
        if ref.get("default"):
            assert controller_bucket, "a {default: true} ref is tested with its own default"
            return controller_bucket
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


# ---- the objects and what they need around them ----------------------------------------


def as_stored(path: Path, endpoint: str) -> dict[str, Any]:
    """The object with the recorded endpoint pointed at `endpoint` and what a store needs
    (name, namespace, uid, creation time) filled in where the file has none."""
    text = path.read_text().replace(f'"{RECORDED_ENDPOINT}"', json.dumps(endpoint))
    workflow: dict[str, Any] = json.loads(text)
    meta = workflow.setdefault("metadata", {})
    meta.setdefault("name", written_id(path).lower())
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


def s3_repository(s3: S3Server, bucket: str) -> dict[str, Any]:
    return {
        "s3": {
            "endpoint": s3.endpoint,
            "bucket": bucket,
            "insecure": True,
            "accessKeySecret": {"name": CRED, "key": "accesskey"},
            "secretKeySecret": {"name": CRED, "key": "secretkey"},
        }
    }


def stage_repositories(backend: Applies, s3: S3Server) -> None:
    """In each namespace, the credentials Secret and an `artifact-repositories` ConfigMap
    whose default is the namespace's own bucket."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": CRED},
        "stringData": {"accesskey": s3.access_key, "secretkey": s3.secret_key},
    }
    for namespace in NAMESPACES:
        backend.apply(secret, namespace)
        configmap = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "artifact-repositories",
                "annotations": {ANNOTATION: "default-v1"},
            },
            "data": {"default-v1": yaml.safe_dump(s3_repository(s3, namespace_bucket(namespace)))},
        }
        backend.apply(configmap, namespace)


def controller_configmap(s3: S3Server) -> dict[str, Any]:
    """The controller's workflow-controller-configmap, its default in CONTROLLER_BUCKET."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "workflow-controller-configmap"},
        "data": {"artifactRepository": yaml.safe_dump(s3_repository(s3, CONTROLLER_BUCKET))},
    }


def seed(
    s3: S3Server, workflow: Mapping[str, Any], controller_bucket: str | None = None
) -> dict[tuple[str, str], str]:
    """Each artifact's object in the bucket Argo would read, holding `bucket/key`; and the
    same key in every other bucket holding that bucket's name, so a wrong bucket shows."""
    client = s3.client()
    where: dict[tuple[str, str], str] = {}
    for node_id, section, artifact in located(workflow):
        bucket = expected_bucket(workflow, node_id, artifact, controller_bucket)
        key = str(artifact["s3"]["key"])
        where[node_id, f"{section}/{artifact['name']}"] = bucket
        for decoy in BUCKETS:
            client.put_object(Bucket=decoy, Key=key, Body=stored_form(artifact, marker(decoy, key)))
    return where


def read_back(path: Path) -> bytes:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        assert len(files) == 1, f"{path} holds {files}"
        path = files[0]
    return path.read_bytes()


# ---- the checks ----------------------------------------------------------------------------


def read_rendered_bound_opened(
    backend: Any, workflow: Mapping[str, Any], where: Mapping[tuple[str, str], str]
) -> int:
    """Through `backend`: the object read back with its status as written, rendered, made
    a `Run` and bound, and every located artifact opened through the Run's node views from
    the bucket in `where`; returns how many were opened."""
    meta = workflow["metadata"]
    got = backend.get(meta["name"], meta["namespace"])
    assert got["status"] == workflow["status"]
    assert got["spec"] == workflow["spec"]
    assert render_svg(got).lstrip().startswith("<svg")
    run = Run(backend, got, meta["namespace"])
    variables: dict[str, Any] = {}
    bind(variables, run)
    views = {view.id: view for view in run.nodes()}
    assert set(views) <= set(workflow["status"]["nodes"])

    opened = 0
    for (node_id, label), bucket in where.items():
        section, name = label.split("/", 1)
        artifact = getattr(views[node_id], section).artifacts[name]
        key = str(artifact.spec["s3"]["key"])
        assert read_back(artifact.path()) == marker(bucket, key), f"{node_id} {label}"
        opened += 1
    assert opened == len(where)
    assert not run.outputs.artifacts  # none of Argo's objects has workflow output artifacts
    return opened
