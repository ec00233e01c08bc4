"""Input sources against real servers on 127.0.0.1: HTTP, git (local repositories), GCS
(emulator), and outputs PUT over HTTP."""

from __future__ import annotations

import io
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers import GitRepo, HttpServer, free_port, gcs_emulator, git, http_server, make_git_repo

from jupyter_argo.artifacts import (
    RepositoryConfig,
    default_repository,
    embedded_repository,
    load_input,
    save_output,
)
from jupyter_argo.errors import ArtifactError, NotFoundError


def no_secrets(name: str, key: str) -> str | None:
    return None


@pytest.fixture
def repo(tmp_path: Path) -> RepositoryConfig:
    return embedded_repository(tmp_path / "repo")


def tgz(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


# --- http --------------------------------------------------------------------------------


def test_http_with_headers_basic_auth_and_mode(repo: RepositoryConfig, tmp_path: Path) -> None:
    state = HttpServer(
        files={"/bin/kubectl": b"#!/bin/sh\necho kubectl\n"},
        required_headers={"X-Token": "abc"},
        basic_auth=("user", "pa55word"),
    )
    creds = {("http-cred", "username"): "user", ("http-cred", "password"): "pa55word"}
    artifact = {
        "name": "kubectl",
        "path": "/bin/kubectl",
        "mode": 0o755,
        "http": {
            "url": "",
            "headers": [{"name": "X-Token", "value": "abc"}],
            "auth": {
                "basicAuth": {
                    "usernameSecret": {"name": "http-cred", "key": "username"},
                    "passwordSecret": {"name": "http-cred", "key": "password"},
                }
            },
        },
    }
    with http_server(state) as server:
        artifact["http"]["url"] = server.url("/bin/kubectl")  # type: ignore[index]
        dest = tmp_path / "bin" / "kubectl"
        load_input(artifact, dest, default=repo, secrets=lambda n, k: creds.get((n, k)))
    assert dest.read_bytes() == b"#!/bin/sh\necho kubectl\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    assert subprocess.run([str(dest)], capture_output=True, text=True).stdout == "kubectl\n"
    assert server.requests[-1]["x-token"] == "abc"


def test_http_refusal_is_one_line_without_the_password(
    repo: RepositoryConfig, tmp_path: Path
) -> None:
    state = HttpServer(files={"/f": b"x"}, basic_auth=("user", "right"))
    creds = {("c", "u"): "user", ("c", "p"): "wrong-pa55"}
    auth = {
        "basicAuth": {
            "usernameSecret": {"name": "c", "key": "u"},
            "passwordSecret": {"name": "c", "key": "p"},
        }
    }
    with http_server(state) as server:
        artifact = {"name": "f", "http": {"url": server.url("/f"), "auth": auth}}
        with pytest.raises(ArtifactError, match="401") as caught:
            load_input(
                artifact, tmp_path / "f", default=repo, secrets=lambda n, k: creds.get((n, k))
            )
    assert "wrong-pa55" not in str(caught.value)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"artifact f: loading content from {server.url('/f')}")


def test_http_archives_are_unpacked_and_missing_files_are_not_found(
    repo: RepositoryConfig, tmp_path: Path
) -> None:
    state = HttpServer(files={"/a.tgz": tgz("data.txt", b"inside")})
    with http_server(state) as server:
        dest = tmp_path / "data"
        load_input(
            {"name": "a", "http": {"url": server.url("/a.tgz")}},
            dest,
            default=repo,
            secrets=no_secrets,
        )
        assert dest.read_text() == "inside"
        missing = {"name": "m", "http": {"url": server.url("/nope")}}
        with pytest.raises(NotFoundError, match="404"):
            load_input(missing, tmp_path / "m", default=repo, secrets=no_secrets)
        load_input({**missing, "optional": True}, tmp_path / "m", default=repo, secrets=no_secrets)
        assert not (tmp_path / "m").exists()


def test_http_outputs_are_put(repo: RepositoryConfig, tmp_path: Path) -> None:
    src = tmp_path / "result.txt"
    src.write_text("result\n")
    with http_server() as server:
        spec = {
            "name": "r",
            "path": "/r",
            "archive": {"none": {}},
            "http": {"url": server.url("/up/result.txt")},
        }
        status = save_output(spec, src, key_prefix="", default=repo, secrets=no_secrets)
        assert status == spec
        assert server.files["/up/result.txt"] == b"result\n"


def test_an_unreachable_http_server_is_named(repo: RepositoryConfig, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/x"
    with pytest.raises(ArtifactError, match=f"loading content from {url} failed"):
        load_input(
            {"name": "x", "http": {"url": url}}, tmp_path / "x", default=repo, secrets=no_secrets
        )


def test_artifactory_uses_basic_auth_from_secrets(repo: RepositoryConfig, tmp_path: Path) -> None:
    state = HttpServer(files={"/artifactory/repo/x.txt": b"art"}, basic_auth=("admin", "pw"))
    creds = {("art", "user"): "admin", ("art", "pass"): "pw"}
    with http_server(state) as server:
        artifact = {
            "name": "x",
            "artifactory": {
                "url": server.url("/artifactory/repo/x.txt"),
                "usernameSecret": {"name": "art", "key": "user"},
                "passwordSecret": {"name": "art", "key": "pass"},
            },
        }
        load_input(artifact, tmp_path / "x", default=repo, secrets=lambda n, k: creds.get((n, k)))
    assert (tmp_path / "x").read_text() == "art"


# --- git ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    return make_git_repo(tmp_path_factory.mktemp("git"))


def clone(origin: GitRepo, tmp_path: Path, repo: RepositoryConfig, **git_fields: Any) -> Path:
    dest = tmp_path / "src"
    artifact = {"name": "argo-source", "path": "/src", "git": {"repo": origin.url, **git_fields}}
    load_input(artifact, dest, default=repo, secrets=no_secrets)
    return dest


def test_git_clones_the_default_branch(
    origin: GitRepo, tmp_path: Path, repo: RepositoryConfig
) -> None:
    dest = clone(origin, tmp_path, repo)
    assert (dest / "VERSION").read_text() == "3\n"
    assert git("rev-parse", "HEAD", cwd=dest) == origin.commits["c3"]


@pytest.mark.parametrize(
    ("revision", "version", "commit"),
    [("v1", "1", "c1"), ("feature", "feature", "c4"), ("main", "3", "c3"), ("c2", "2", "c2")],
)
def test_git_revision_is_a_tag_a_branch_or_a_commit(
    origin: GitRepo,
    tmp_path: Path,
    repo: RepositoryConfig,
    revision: str,
    version: str,
    commit: str,
) -> None:
    wanted = origin.commits.get(revision, revision)
    dest = clone(origin, tmp_path, repo, revision=wanted)
    assert (dest / "VERSION").read_text() == version + "\n"
    assert git("rev-parse", "HEAD", cwd=dest) == origin.commits[commit]


def test_git_single_branch_and_depth(
    origin: GitRepo, tmp_path: Path, repo: RepositoryConfig
) -> None:
    dest = clone(origin, tmp_path, repo, singleBranch=True, branch="feature", depth=1)
    assert (dest / "VERSION").read_text() == "feature\n"
    assert git("rev-list", "--count", "HEAD", cwd=dest) == "1"
    assert git("branch", "-r", cwd=dest).split() == ["origin/feature"]


def test_git_depth_still_finds_an_older_tag(
    origin: GitRepo, tmp_path: Path, repo: RepositoryConfig
) -> None:
    dest = clone(origin, tmp_path, repo, depth=1, revision="v1")
    assert (dest / "VERSION").read_text() == "1\n"
    assert git("rev-parse", "HEAD", cwd=dest) == origin.commits["c1"]


def test_git_errors_are_clear(origin: GitRepo, tmp_path: Path, repo: RepositoryConfig) -> None:
    with pytest.raises(ArtifactError, match="single branch mode without a branch specified"):
        clone(origin, tmp_path, repo, singleBranch=True)
    with pytest.raises(ArtifactError, match="no-such-ref"):
        clone(origin, tmp_path / "b", repo, revision="no-such-ref")
    url = f"http://127.0.0.1:{free_port()}/repo.git"
    creds = {("git-cred", "u"): "me", ("git-cred", "p"): "git-pa55word"}
    artifact = {
        "name": "src",
        "git": {
            "repo": url,
            "usernameSecret": {"name": "git-cred", "key": "u"},
            "passwordSecret": {"name": "git-cred", "key": "p"},
        },
    }
    with pytest.raises(ArtifactError, match="git: failed to clone") as caught:
        load_input(artifact, tmp_path / "c", default=repo, secrets=lambda n, k: creds.get((n, k)))
    assert "git-pa55word" not in str(caught.value)


# --- gcs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gcs_url() -> Iterator[str]:
    pytest.importorskip("google.cloud.storage", reason="google-cloud-storage is optional")
    with gcs_emulator() as url:
        yield url


def test_gcs_repository_through_the_emulator(
    gcs_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_url)
    storage.Client(project="t", credentials=AnonymousCredentials()).create_bucket("gcs-artifacts")  # type: ignore[no-untyped-call]
    configmap = {
        "metadata": {
            "name": "artifact-repositories",
            "annotations": {"workflows.argoproj.io/default-artifact-repository": "gcs"},
        },
        "data": {
            "gcs": yaml.safe_dump(
                {"gcs": {"bucket": "gcs-artifacts", "keyFormat": "pre/{{workflow.name}}"}}
            )
        },
    }
    repo = default_repository({"artifact-repositories": configmap}.get, None, tmp_path)
    assert repo.kind == "gcs"
    assert repo.key_format == "pre/{{workflow.name}}"
    src = tmp_path / "hello.txt"
    src.write_text("hello gcs\n")
    status = save_output(
        {"name": "h", "path": "/tmp/hello.txt"},
        src,
        key_prefix="pre/wf",
        default=repo,
        secrets=no_secrets,
    )
    assert status == {"name": "h", "path": "/tmp/hello.txt", "gcs": {"key": "pre/wf/h.tgz"}}
    dest = tmp_path / "back"
    load_input({"name": "h", **status}, dest, default=repo, secrets=no_secrets)
    assert dest.read_text() == "hello gcs\n"
    # A full gcs location as an input source, and a directory of objects.
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / "f.txt").write_text("f\n")
    save_output(
        {"name": "t", "path": "/t", "archive": {"none": {}}},
        tree,
        key_prefix="dirs",
        default=repo,
        secrets=no_secrets,
    )
    source = {"name": "my-art", "gcs": {"bucket": "gcs-artifacts", "key": "dirs/t"}}
    into = tmp_path / "my-artifact"
    load_input(source, into, default=RepositoryConfig(spec={}), secrets=no_secrets)
    assert (into / "d" / "f.txt").read_text() == "f\n"
    with pytest.raises(NotFoundError):
        load_input(
            {"name": "x", "gcs": {"bucket": "gcs-artifacts", "key": "nope"}},
            tmp_path / "x",
            default=repo,
            secrets=no_secrets,
        )
