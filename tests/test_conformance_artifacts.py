"""Argo's class-B examples (S3, git and http sources) against local stand-ins.

As Argo's e2e suite runs them against MinIO and the internet, we point them at a real
S3-compatible server on 127.0.0.1 (moto), a local git repository and a local HTTP server:
the `artifact-repositories` ConfigMap and the credentials Secrets are applied first, S3
endpoints and http/git URLs in the manifests are rewritten to the stand-ins, and nothing
else changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from conftest import ARGO
from servers import HttpServer, S3Server, http_server, make_git_repo, s3_server

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.errors import ArgoError
from jupyter_argo.spec.parse import parse_text

pytestmark = pytest.mark.conformance

ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
BUCKETS = ("my-bucket", "my-bucket-name", "my-bucket-2", "my-bucket-3")
SECRETS = ("my-minio-cred", "my-s3-credentials")


def _expectations() -> dict[str, dict[str, Any]]:
    path = ARGO / "expectations.json"
    if not path.exists():
        return {}
    data: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return {k: v for k, v in data.items() if v["class"] == "B"}


EXPECTATIONS = _expectations()


class StandIns:
    def __init__(self, s3: S3Server, http: HttpServer, git_url: str) -> None:
        self.s3 = s3
        self.http = http
        self.git_url = git_url

    def rewrite(self, text: str) -> str:
        """The manifest with its S3 endpoints, git repositories and URLs made local."""
        text = re.sub(
            r"endpoint: \S+", f"endpoint: {self.s3.endpoint}\n          insecure: true", text
        )
        text = text.replace("https://github.com/argoproj/argo-workflows.git", self.git_url)

        def local(match: re.Match[str]) -> str:
            path = "/" + match.group(2)
            self.http.files.setdefault(path, b'{"hello": "google"}\n')
            return self.http.url(path)

        return re.sub(r"(https?://[^/\s\"']+)/([^\s\"']*)", local, text)


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIns]:
    if not EXPECTATIONS:
        pytest.skip(f"Argo's expectations are not at {ARGO} (../shared/argo absent)")
    repo = make_git_repo(tmp_path_factory.mktemp("git"))
    with s3_server() as s3, http_server() as http:
        for bucket in BUCKETS:
            s3.client().create_bucket(Bucket=bucket)
        yield StandIns(s3, http, repo.url)


@pytest.fixture(scope="module")
def engine(stand_ins: StandIns, tmp_path_factory: pytest.TempPathFactory) -> LocalBackend:
    backend = LocalBackend(home=tmp_path_factory.mktemp("home"))
    s3 = stand_ins.s3
    block = {
        "endpoint": s3.endpoint,
        "bucket": "my-bucket",
        "insecure": True,
        "accessKeySecret": {"name": "my-minio-cred", "key": "accessKey"},
        "secretKeySecret": {"name": "my-minio-cred", "key": "secretKey"},
    }
    # As Argo's e2e suite configures it: a default repository and a second key.
    backend.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "artifact-repositories",
                "annotations": {ANNOTATION: "default-v1"},
            },
            "data": {
                "default-v1": yaml.safe_dump({"archiveLogs": True, "s3": block}),
                "my-key": yaml.safe_dump(
                    {"s3": {**block, "keyFormat": "my-key/{{workflow.name}}"}}
                ),
            },
        }
    )
    for name in SECRETS:
        backend.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name},
                "stringData": {
                    "accessKey": s3.access_key,
                    "secretKey": s3.secret_key,
                    "accessKeySecret": s3.access_key,
                    "secretKeySecret": s3.secret_key,
                },
            }
        )
    return backend


def _run(engine: LocalBackend, stand_ins: StandIns, key: str) -> dict[str, Any] | str:
    text = stand_ins.rewrite((ARGO / key).read_text())
    try:
        docs = [d for d in parse_text(text, key) if d.kind == "Workflow"]
        created = engine.submit(docs[0].body)
    except ArgoError as err:
        return str(err)
    return engine.wait(created["metadata"]["name"], timeout=120)


@pytest.mark.parametrize(
    "key", [k for k, v in EXPECTATIONS.items() if v["phase"] in ("Succeeded", "Failed")]
)
def test_example_ends_in_argos_phase(engine: LocalBackend, stand_ins: StandIns, key: str) -> None:
    final = _run(engine, stand_ins, key)
    assert not isinstance(final, str), final
    status = final["status"]
    assert status["phase"] == EXPECTATIONS[key]["phase"], status.get("message")


@pytest.mark.parametrize("key", [k for k, v in EXPECTATIONS.items() if v["phase"] is None])
def test_example_without_phase_ends_plausibly(
    engine: LocalBackend, stand_ins: StandIns, key: str
) -> None:
    final = _run(engine, stand_ins, key)
    if isinstance(final, str):
        assert "data" in final  # refused before running, with the reason
        return
    assert final["status"]["phase"] in ("Succeeded", "Failed", "Error")


def test_artifacts_land_in_the_s3_stand_in(engine: LocalBackend, stand_ins: StandIns) -> None:
    final = _run(engine, stand_ins, "examples/key-only-artifact.yaml")
    assert not isinstance(final, str)
    assert final["status"]["phase"] == "Succeeded"
    listed = stand_ins.s3.client().list_objects_v2(Bucket="my-bucket").get("Contents", [])
    assert "my-file" in {o["Key"] for o in listed}
