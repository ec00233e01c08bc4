"""The S3 repository against a real S3-compatible server (moto's) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import io
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from servers import S3Server, free_port, s3_server

from jupyter_argo.artifacts import (
    RepositoryConfig,
    artifact_repository,
    default_repository,
    load_input,
    location_key,
    open_repository,
    save_output,
)
from jupyter_argo.errors import ArtifactError, NotFoundError

ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
CRED = "my-minio-cred"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # Argo's own knobs: a down endpoint is retried 3 times, 1 ms apart, not for 9 s.
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_STEPS", "3")
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_DURATION", "1ms")


def s3_block(server: S3Server, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint": server.endpoint,
        "bucket": server.bucket,
        "insecure": True,
        "accessKeySecret": {"name": CRED, "key": "accessKey"},
        "secretKeySecret": {"name": CRED, "key": "secretKey"},
        **extra,
    }


def secrets_for(server: S3Server, secret_key: str | None = None) -> Any:
    values = {
        (CRED, "accessKey"): server.access_key,
        (CRED, "secretKey"): secret_key or server.secret_key,
    }
    return lambda name, key: values.get((name, key))


def lookup(values: dict[tuple[str, str], str]) -> Any:
    return lambda name, key: values.get((name, key))


def repository(server: S3Server, **extra: Any) -> RepositoryConfig:
    """The S3 repository, resolved from a namespace ConfigMap as a user would set it up."""
    configmap = {
        "metadata": {"name": "artifact-repositories", "annotations": {ANNOTATION: "default-v1"}},
        "data": {"default-v1": yaml.safe_dump({"s3": s3_block(server, **extra)})},
    }
    return default_repository({"artifact-repositories": configmap}.get, None, Path("/unused"))


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "hello_world.txt"
    path.write_text("hello world\n")
    return path


def test_save_and_load_through_the_default_s3_repository(
    s3: S3Server, hello: Path, tmp_path: Path
) -> None:
    repo = repository(s3)
    assert repo.kind == "s3"
    spec = {"name": "hello-art", "path": "/tmp/hello_world.txt"}
    status = save_output(
        spec, hello, key_prefix="wf-1/wf-1-gen-42", default=repo, secrets=secrets_for(s3)
    )
    assert status == {**spec, "s3": {"key": "wf-1/wf-1-gen-42/hello-art.tgz"}}
    body = (
        s3.client()
        .get_object(Bucket=s3.bucket, Key="wf-1/wf-1-gen-42/hello-art.tgz")["Body"]
        .read()
    )
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        assert tar.getnames() == ["hello_world.txt"]
    dest = tmp_path / "in" / "message"
    load_input({"name": "message", **status}, dest, default=repo, secrets=secrets_for(s3))
    assert dest.read_text() == "hello world\n"


def test_a_full_location_on_the_artifact_needs_no_repository(
    s3: S3Server, hello: Path, tmp_path: Path
) -> None:
    unrelated = RepositoryConfig(spec={})  # no default repository configured at all
    block = s3_block(s3, key="path/in/bucket/hello_world.txt.tgz")
    spec = {"name": "message", "path": "/tmp", "s3": block}
    status = save_output(
        spec, hello, key_prefix="ignored", default=unrelated, secrets=secrets_for(s3)
    )
    assert status == spec  # selectors only: no secret value in the status
    assert s3.access_key not in repr(status)
    assert s3.secret_key not in repr(status)
    dest = tmp_path / "out"
    load_input({"name": "m", "s3": block}, dest, default=unrelated, secrets=secrets_for(s3))
    assert dest.read_text() == "hello world\n"


def test_an_unarchived_directory_is_one_object_per_file(s3: S3Server, tmp_path: Path) -> None:
    repo = repository(s3)
    produced = tmp_path / "tmp"
    (produced / "sub").mkdir(parents=True)
    (produced / "hello_world.txt").write_text("hello\n")
    (produced / "sub" / "deep.txt").write_text("deep\n")
    spec = {"name": "d", "path": "/tmp/", "archive": {"none": {}}}
    status = save_output(
        spec, produced, key_prefix="wf/dirs", default=repo, secrets=secrets_for(s3)
    )
    assert status is not None
    assert status["s3"] == {"key": "wf/dirs/tmp"}
    listed = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix="wf/dirs/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        "wf/dirs/tmp/hello_world.txt",
        "wf/dirs/tmp/sub/deep.txt",
    ]
    whole = tmp_path / "whole"
    load_input(status, whole, default=repo, secrets=secrets_for(s3))
    assert (whole / "sub" / "deep.txt").read_text() == "deep\n"
    one = tmp_path / "one"
    load_input({**status, "subPath": "sub/deep.txt"}, one, default=repo, secrets=secrets_for(s3))
    assert one.read_text() == "deep\n"


def test_repository_protocol_on_s3(s3: S3Server, hello: Path, tmp_path: Path) -> None:
    repo = open_repository({}, secrets=secrets_for(s3), default=repository(s3))
    repo.upload(hello, "proto/a.txt")
    repo.upload(hello, "proto/dir/b.txt")
    assert repo.exists("proto/a.txt")
    assert repo.exists("proto/dir")
    assert not repo.exists("proto/zz")
    with repo.open("proto/a.txt") as f:
        assert f.read() == b"hello world\n"
    repo.delete("proto")  # every object under the prefix
    repo.delete("proto")  # already gone is fine
    assert not repo.exists("proto/a.txt")
    assert not repo.exists("proto/dir")
    with pytest.raises(NotFoundError, match=r"no object proto/a\.txt"):
        repo.download("proto/a.txt", tmp_path / "x")


def test_keys_listed_by_the_server_are_not_trusted(s3: S3Server, tmp_path: Path) -> None:
    s3.client().put_object(Bucket=s3.bucket, Key="hostile/../../escape", Body=b"x")
    repo = open_repository({}, secrets=secrets_for(s3), default=repository(s3))
    target = tmp_path / "sandbox" / "target"
    with pytest.raises(ArtifactError, match=r"contains '\.\.'"):
        repo.download("hostile", target)
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "sandbox" / "escape").exists()


def test_wrong_credentials_fail_without_showing_them(s3: S3Server, hello: Path) -> None:
    wrong = "not-the-secret-key-0123456789"
    spec = {"name": "a", "path": "/a"}
    with pytest.raises(ArtifactError) as caught:
        save_output(
            spec, hello, key_prefix="w/p", default=repository(s3), secrets=secrets_for(s3, wrong)
        )
    message = str(caught.value)
    assert "SignatureDoesNotMatch" in message
    assert s3.bucket in message
    assert s3.endpoint in message
    assert wrong not in message
    assert s3.access_key not in message.replace("***", "")
    assert "\n" not in message


def test_a_missing_secret_is_named_not_guessed(s3: S3Server, hello: Path) -> None:
    half = lookup({(CRED, "accessKey"): s3.access_key})
    spec = {"name": "a", "path": "/a"}
    with pytest.raises(ArtifactError, match=f'secret "{CRED}" has no key "secretKey"'):
        save_output(spec, hello, key_prefix="w/p", default=repository(s3), secrets=half)


def test_a_down_endpoint_is_retried_a_bounded_number_of_times(hello: Path, tmp_path: Path) -> None:
    endpoint = f"127.0.0.1:{free_port()}"  # nothing listens there
    block = {**s3_block(S3Server(endpoint, "AKIAEXAMPLE", "s3cr3t-value")), "key": "k.tgz"}
    secrets = {(CRED, "accessKey"): "AKIAEXAMPLE", (CRED, "secretKey"): "s3cr3t-value"}
    spec = {"name": "a", "path": "/a", "s3": block}
    nowhere = RepositoryConfig(spec={})
    with pytest.raises(ArtifactError) as caught:
        save_output(spec, hello, key_prefix="", default=nowhere, secrets=lookup(secrets))
    message = str(caught.value)
    assert f"s3 endpoint {endpoint} bucket artifacts" in message
    assert "after 3 attempts" in message
    assert "s3cr3t-value" not in message
    with pytest.raises(ArtifactError, match="after 3 attempts"):
        load_input(spec, tmp_path / "x", default=nowhere, secrets=lookup(secrets))
    assert not (tmp_path / "x").exists()


class _Refusing(BaseHTTPRequestHandler):
    """An S3 endpoint that stores the first object, then refuses (503 or 403)."""

    calls: ClassVar[list[tuple[str, str]]] = []
    status = 503
    protocol_version = "HTTP/1.1"  # answers `Expect: 100-continue` instead of making boto wait

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: bytes = b"") -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.calls.append(("PUT", self.path))
        if sum(1 for c in self.calls if c[0] == "PUT") == 1:
            self._reply(200)
            return
        code = "ServiceUnavailable" if self.status == 503 else "AccessDenied"
        self._reply(
            self.status, f"<Error><Code>{code}</Code><Message>no</Message></Error>".encode()
        )

    def do_DELETE(self) -> None:
        self.calls.append(("DELETE", self.path))
        self._reply(204)


@contextlib.contextmanager
def refusing_endpoint(status: int) -> Iterator[str]:
    _Refusing.calls = []
    _Refusing.status = status
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.mark.parametrize("status", [503, 403])
def test_a_refused_directory_upload_leaves_no_partial_directory(
    tmp_path: Path, status: int
) -> None:
    produced = tmp_path / "out"
    produced.mkdir()
    (produced / "a.txt").write_text("first")
    (produced / "b.txt").write_text("second")
    secrets = {(CRED, "accessKey"): "AKIAEXAMPLE", (CRED, "secretKey"): "s3cr3t-value"}
    with refusing_endpoint(status) as endpoint:
        block = {**s3_block(S3Server(endpoint, "x", "y")), "key": "wf/out"}
        spec = {"name": "out", "path": "/out", "archive": {"none": {}}, "s3": block}
        nowhere = RepositoryConfig(spec={})
        where = f"s3 endpoint {endpoint} bucket artifacts"
        with pytest.raises(ArtifactError, match=where) as caught:
            save_output(spec, produced, key_prefix="", default=nowhere, secrets=lookup(secrets))
        calls = list(_Refusing.calls)
    puts = [path for method, path in calls if method == "PUT"]
    # 503 is transient: retried (3 attempts in all); 403 is final at once.
    assert len(puts) == (1 + 3 if status == 503 else 1 + 1)
    assert ("after 3 attempts" in str(caught.value)) == (status == 503)
    assert ("DELETE", "/artifacts/wf/out/a.txt") in calls  # the stored half is taken back
    assert "s3cr3t-value" not in str(caught.value)


def test_create_bucket_if_not_present(s3: S3Server, hello: Path, tmp_path: Path) -> None:
    block = s3_block(s3, bucket="fresh-bucket", key="x/y.tgz", createBucketIfNotPresent={})
    spec = {"name": "a", "path": "/a", "s3": block}
    save_output(
        spec, hello, key_prefix="", default=RepositoryConfig(spec={}), secrets=secrets_for(s3)
    )
    assert location_key(spec) == "x/y.tgz"
    assert s3.client().head_object(Bucket="fresh-bucket", Key="x/y.tgz")["ContentLength"] > 0


def test_a_templates_own_archive_location_records_key_only_outputs(
    s3: S3Server, hello: Path, tmp_path: Path
) -> None:
    location = {"s3": s3_block(s3, key="custom/{{workflow.name}}")}
    config = RepositoryConfig.from_archive_location(location)
    assert config.key_format == "custom/{{workflow.name}}"
    spec = {"name": "a", "path": "/tmp/hello_world.txt"}
    status = save_output(
        spec, hello, key_prefix="custom/wf", default=config, secrets=secrets_for(s3)
    )
    # As Argo's executor records it (archive-strategies-4br4g in ../shared/argo): key only.
    assert status == {**spec, "s3": {"key": "custom/wf/a.tgz"}}
    assert s3.client().head_object(Bucket=s3.bucket, Key="custom/wf/a.tgz")["ContentLength"] > 0
    # Opened from its node, it is found through the template's archiveLocation, not the
    # workflow's repository (another bucket) nor any namespace default.
    elsewhere = {"s3": s3_block(s3, bucket="not-here")}
    workflow = {
        "metadata": {"name": "wf", "namespace": "ns"},
        "spec": {"templates": [{"name": "make", "archiveLocation": location}]},
        "status": {
            "artifactRepositoryRef": {"default": True, "artifactRepository": elsewhere},
            "nodes": {
                "wf": {"id": "wf", "templateName": "make", "outputs": {"artifacts": [status]}}
            },
        },
    }
    for node in ("wf", None):
        repo = artifact_repository(_NoConfigMaps(), workflow, status, node)
        assert repo.spec["s3"]["bucket"] == s3.bucket
        dest = tmp_path / f"a-{node}"
        load_input(status, dest, default=repo, secrets=secrets_for(s3))
        assert dest.read_text() == "hello world\n"
    workflow["spec"]["templates"][0].pop("archiveLocation")
    assert artifact_repository(_NoConfigMaps(), workflow, status).spec == elsewhere


class _NoConfigMaps:
    controller_namespace = None

    def configmap(self, namespace: str, name: str) -> None:
        return None

    def controller_default(self) -> None:
        return None

    def no_default(self, namespace: str) -> str:
        return "no default"


def test_the_engine_records_key_only_outputs_of_a_template_archive_location(
    s3: S3Server, tmp_path: Path
) -> None:
    """As Argo's executor: the output goes to the template's own archiveLocation, its
    status location is key-only, and the Run finds it there (not in the embedded default)."""
    from jupyter_argo.backends.local import LocalBackend
    from jupyter_argo.run import Run

    backend = LocalBackend(home=tmp_path / "home")
    backend.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": CRED},
            "stringData": {"accessKey": s3.access_key, "secretKey": s3.secret_key},
        }
    )
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "own-archive"},
        "spec": {
            "entrypoint": "make",
            "templates": [
                {
                    "name": "make",
                    "archiveLocation": {"s3": s3_block(s3, key="custom/{{workflow.name}}")},
                    "script": {
                        "image": "python:3.12",
                        "command": ["python"],
                        "source": "open('/tmp/out.txt', 'w').write('made')",
                    },
                    "outputs": {"artifacts": [{"name": "out", "path": "/tmp/out.txt"}]},
                }
            ],
        },
    }
    backend.submit(manifest)
    final = backend.wait("own-archive", timeout=120)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    assert final["status"]["artifactRepositoryRef"] == {"default": True, "artifactRepository": {}}
    node = final["status"]["nodes"]["own-archive"]
    assert node["outputs"]["artifacts"][0]["s3"] == {"key": "custom/own-archive/out.tgz"}
    assert s3.client().head_object(Bucket=s3.bucket, Key="custom/own-archive/out.tgz")
    assert not (tmp_path / "home" / "artifacts" / "custom").exists()
    assert Run(backend, final).node("make").outputs.artifacts["out"].text() == "made"
