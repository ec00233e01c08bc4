"""Passing artifacts through the embedded repository, and resolving repositories as Argo."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_argo.artifacts import (
    DEFAULT_KEY_FORMAT,
    RepositoryConfig,
    default_repository,
    embedded_repository,
    load_input,
    location_key,
    open_repository,
    save_output,
)
from jupyter_argo.artifacts._keys import check_key, join_key
from jupyter_argo.artifacts._local import LocalRepository
from jupyter_argo.errors import ArtifactError, ConfigError, NotFoundError, UserError

ANNOTATION = "workflows.argoproj.io/default-artifact-repository"


def no_secrets(name: str, key: str) -> str | None:
    return None


@pytest.fixture
def repo(tmp_path: Path) -> RepositoryConfig:
    return embedded_repository(tmp_path / "repo")


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "pod" / "hello_world.txt"
    path.parent.mkdir()
    path.write_text("hello world\n")
    return path


def test_status_is_the_spec_plus_a_key_only_s3_location(
    repo: RepositoryConfig, hello: Path
) -> None:
    spec = {"name": "hello-art", "path": "/tmp/hello_world.txt", "globalName": "g"}
    status = save_output(
        spec, hello, key_prefix="wf-abc/wf-abc-argosay-123", default=repo, secrets=no_secrets
    )
    assert status == {
        "name": "hello-art",
        "path": "/tmp/hello_world.txt",
        "globalName": "g",
        "s3": {"key": "wf-abc/wf-abc-argosay-123/hello-art.tgz"},
    }
    assert spec == {"name": "hello-art", "path": "/tmp/hello_world.txt", "globalName": "g"}
    assert repo.root is not None
    assert (repo.root / "wf-abc" / "wf-abc-argosay-123" / "hello-art.tgz").is_file()


def test_the_local_repository_is_private_to_the_user(
    repo: RepositoryConfig, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f").write_text("x")
    (tree / "g").write_text("y")
    previous = os.umask(0o022)  # a common, permissive umask must not leak into the repository
    try:
        for archive in (None, {"none": {}}):
            spec: dict[str, Any] = {"name": "t", "path": "/t"}
            if archive:
                spec["archive"] = archive
            save_output(spec, tree, key_prefix="wf/pod", default=repo, secrets=no_secrets)
    finally:
        os.umask(previous)
    assert repo.root is not None
    modes = {
        p.relative_to(repo.root).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in [repo.root, *repo.root.rglob("*")]
    }
    assert modes["."] == 0o700
    assert modes["wf/pod/t.tgz"] == 0o600
    assert modes["wf/pod/t/sub/f"] == 0o600
    assert {m for p, m in modes.items() if (repo.root / p).is_dir()} == {0o700}
    assert {m for p, m in modes.items() if (repo.root / p).is_file()} == {0o600}


def test_optional_missing_output_is_skipped_and_required_one_fails(
    repo: RepositoryConfig, tmp_path: Path
) -> None:
    missing = tmp_path / "nope"
    spec = {"name": "hello-art", "path": "/tmp/x", "optional": True}
    assert save_output(spec, missing, key_prefix="w/p", default=repo, secrets=no_secrets) is None
    with pytest.raises(ArtifactError) as caught:
        save_output(
            {**spec, "optional": False}, missing, key_prefix="w/p", default=repo, secrets=no_secrets
        )
    assert str(caught.value) == "artifact hello-art: path /tmp/x does not exist"
    assert isinstance(caught.value, UserError)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ArtifactError, match="not a regular file or directory"):
        save_output(spec, fifo, key_prefix="w/p", default=repo, secrets=no_secrets)


def test_keys_that_climb_or_are_absolute_are_refused(repo: RepositoryConfig, hello: Path) -> None:
    for key in ("../escape", "a/../../b", "/etc/passwd"):
        spec = {"name": "a", "path": "/a", "s3": {"key": key}}
        with pytest.raises(ArtifactError, match="key"):
            save_output(spec, hello, key_prefix="w/p", default=repo, secrets=no_secrets)
        with pytest.raises(ArtifactError, match="key"):
            load_input(spec, hello.parent / "in", default=repo, secrets=no_secrets)
    with pytest.raises(ArtifactError, match=r"contains '\.\.'"):
        save_output(
            {"name": "a", "path": "/a"}, hello, key_prefix="../up", default=repo, secrets=no_secrets
        )
    assert repo.root is not None
    assert not (repo.root.parent / "escape").exists()
    for key in ("ok/key.tgz", "a..b/c"):
        assert check_key(key) == key


def test_join_key_is_gos_path_join() -> None:
    assert join_key("wf/pod", "art.tgz") == "wf/pod/art.tgz"
    assert join_key("wf/pod/", "", "/x") == "wf/pod/x"
    assert join_key("/artifactory/repo", "a/./b") == "/artifactory/repo/a/b"
    assert join_key("", "") == ""


def test_key_only_artifacts_use_their_own_key(
    repo: RepositoryConfig, hello: Path, tmp_path: Path
) -> None:
    out = {"name": "file", "path": "/mnt/file", "s3": {"key": "my-file"}}
    status = save_output(out, hello, key_prefix="wf/pod", default=repo, secrets=no_secrets)
    assert status == out
    assert repo.root is not None
    assert (repo.root / "my-file").is_file()
    dest = tmp_path / "consume" / "file"
    load_input(
        {"name": "file", "path": "/tmp/file", "s3": {"key": "my-file"}},
        dest,
        default=repo,
        secrets=no_secrets,
    )
    assert dest.read_text() == "hello world\n"


def test_sub_path_reads_inside_an_unarchived_directory(
    repo: RepositoryConfig, tmp_path: Path
) -> None:
    produced = tmp_path / "pod" / "tmp"
    produced.mkdir(parents=True)
    (produced / "hello_world.txt").write_text("hello world\n")
    spec = {"name": "hello-art", "path": "/tmp/", "archive": {"none": {}}}
    status = save_output(spec, produced, key_prefix="wf/gen", default=repo, secrets=no_secrets)
    assert status is not None
    assert status["s3"] == {"key": "wf/gen/tmp"}
    whole = tmp_path / "list" / "message"
    load_input({**status, "name": "message"}, whole, default=repo, secrets=no_secrets)
    assert sorted(p.name for p in whole.iterdir()) == ["hello_world.txt"]
    one = tmp_path / "cat" / "message"
    load_input(
        {**status, "name": "message", "subPath": "hello_world.txt"},
        one,
        default=repo,
        secrets=no_secrets,
    )
    assert one.read_text() == "hello world\n"
    with pytest.raises(ArtifactError, match=r"contains '\.\.'"):
        load_input(
            {**status, "name": "m", "subPath": "../../x"},
            tmp_path / "z",
            default=repo,
            secrets=no_secrets,
        )


def test_mode_makes_a_file_executable_and_recurse_mode_reaches_inside(
    repo: RepositoryConfig, tmp_path: Path
) -> None:
    raw = {
        "name": "tool",
        "path": "/bin/tool",
        "mode": 0o755,
        "raw": {"data": "#!/bin/sh\necho ran\n"},
    }
    dest = tmp_path / "bin" / "tool"
    load_input(raw, dest, default=repo, secrets=no_secrets)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / "f").write_text("x")
    status = save_output(
        {"name": "t", "path": "/t"}, tree, key_prefix="w/p", default=repo, secrets=no_secrets
    )
    assert status is not None
    into = tmp_path / "into"
    load_input(
        {**status, "mode": 0o700, "recurseMode": True}, into, default=repo, secrets=no_secrets
    )
    assert {stat.S_IMODE(p.stat().st_mode) for p in [into, *into.rglob("*")]} == {0o700}
    with pytest.raises(ArtifactError, match="mode"):
        load_input({**raw, "mode": "0755"}, tmp_path / "y", default=repo, secrets=no_secrets)


def test_raw_input_is_written_as_is(repo: RepositoryConfig, tmp_path: Path) -> None:
    dest = tmp_path / "inputs" / "text" / "data"
    load_input(
        {"name": "text", "raw": {"data": "1\n2\n3\n"}}, dest, default=repo, secrets=no_secrets
    )
    assert dest.read_text() == "1\n2\n3\n"


def test_input_not_supplied(repo: RepositoryConfig, tmp_path: Path) -> None:
    dest = tmp_path / "x"
    load_input(
        {"name": "maybe", "path": "/x", "optional": True}, dest, default=repo, secrets=no_secrets
    )
    assert not dest.exists()
    with pytest.raises(NotFoundError, match="required artifact 'must' not supplied"):
        load_input({"name": "must", "path": "/x"}, dest, default=repo, secrets=no_secrets)
    load_input(
        {"name": "gone", "optional": True, "s3": {"key": "no/such.tgz"}},
        dest,
        default=repo,
        secrets=no_secrets,
    )
    assert not dest.exists()
    with pytest.raises(NotFoundError, match=r"no object no/such\.tgz"):
        load_input(
            {"name": "gone", "s3": {"key": "no/such.tgz"}}, dest, default=repo, secrets=no_secrets
        )


def test_an_existing_non_empty_directory_is_not_replaced(
    repo: RepositoryConfig, tmp_path: Path
) -> None:
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "keep").write_text("mine")
    with pytest.raises(ArtifactError, match="not empty"):
        load_input({"name": "r", "raw": {"data": "x"}}, dest, default=repo, secrets=no_secrets)
    assert (dest / "keep").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_local_repository_protocol(tmp_path: Path) -> None:
    local = LocalRepository(tmp_path / "root")
    src = tmp_path / "f"
    src.write_bytes(b"payload")
    local.upload(src, "a/b/c")
    assert local.exists("a/b/c")
    assert local.exists("a/b")
    assert not local.exists("a/x")
    with local.open("a/b/c") as f:
        assert f.read() == b"payload"
    local.download("a/b", tmp_path / "dir")
    assert (tmp_path / "dir" / "c").read_bytes() == b"payload"
    local.delete("a/b/c")
    local.delete("a/b/c")  # already gone is fine
    assert not local.exists("a/b/c")
    with pytest.raises(NotFoundError):
        local.open("a/b/c")
    assert not list((tmp_path / "root").rglob("*.part"))
    # A failed store leaves no partial object behind.
    local.upload(src, "file")
    with pytest.raises(ArtifactError, match="is not a directory"):
        local.upload(src, "file/below")
    assert not [p for p in (tmp_path / "root").rglob("*") if p.name.endswith(".part")]


# --- resolution ------------------------------------------------------------------------------


def configmaps(*maps: Mapping[str, Any]) -> Any:
    by_name = {m["metadata"]["name"]: m for m in maps}
    return by_name.get


def repo_configmap(name: str, default_key: str | None, **data: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if default_key:
        metadata["annotations"] = {ANNOTATION: default_key}
    return {"metadata": metadata, "data": {k: yaml.safe_dump(v) for k, v in data.items()}}


S3_A = {"s3": {"bucket": "a", "endpoint": "minio:9000", "keyFormat": "pre/{{workflow.name}}"}}
S3_B = {"s3": {"bucket": "b", "endpoint": "minio:9000"}, "archiveLogs": True}


def test_without_anything_configured_the_embedded_repository_is_used(tmp_path: Path) -> None:
    resolved = default_repository(configmaps(), None, tmp_path)
    assert resolved.kind == "local"
    assert resolved.root == tmp_path / "artifacts"
    assert resolved.key_format == DEFAULT_KEY_FORMAT == "{{workflow.name}}/{{pod.name}}"
    assert resolved.ref["default"] is True


def test_the_namespace_default_configmap_is_used(tmp_path: Path) -> None:
    cms = configmaps(
        repo_configmap("artifact-repositories", "my-key", **{"my-key": S3_A, "other": S3_B})
    )
    resolved = default_repository(cms, None, tmp_path)
    assert resolved.kind == "s3"
    assert resolved.spec == S3_A
    assert resolved.key_format == "pre/{{workflow.name}}"
    assert resolved.ref == {
        "configMap": "artifact-repositories",
        "key": "my-key",
        "artifactRepository": S3_A,
    }
    # Without the annotation there is no namespace default.
    cms = configmaps(repo_configmap("artifact-repositories", None, **{"my-key": S3_A}))
    assert default_repository(cms, None, tmp_path).kind == "local"


def test_a_ref_picks_configmap_and_key(tmp_path: Path) -> None:
    cms = configmaps(
        repo_configmap("artifact-repositories", "my-key", **{"my-key": S3_A, "other": S3_B}),
        repo_configmap("mine", "x", x=S3_B),
    )
    assert default_repository(cms, {"key": "other"}, tmp_path).spec == S3_B
    assert default_repository(cms, {"configMap": "mine"}, tmp_path).spec == S3_B
    resolved = default_repository(cms, {"key": "other"}, tmp_path)
    assert resolved.archive_logs
    assert resolved.key_format == DEFAULT_KEY_FORMAT
    for ref in ({"key": "nope"}, {"configMap": "absent"}):
        with pytest.raises(NotFoundError, match="failed to find any artifact repository"):
            default_repository(cms, ref, tmp_path)


def test_key_prefix_is_argos_deprecated_key_format(tmp_path: Path) -> None:
    legacy = {"s3": {"bucket": "b", "keyPrefix": "old"}}
    cms = configmaps(repo_configmap("artifact-repositories", "k", k=legacy))
    assert (
        default_repository(cms, None, tmp_path).key_format == "old/{{workflow.name}}/{{pod.name}}"
    )


def test_a_broken_repository_value_is_a_config_error(tmp_path: Path) -> None:
    cms = configmaps(
        {
            "metadata": {"name": "artifact-repositories", "annotations": {ANNOTATION: "k"}},
            "data": {"k": "s3: [unclosed"},
        }
    )
    with pytest.raises(ConfigError, match="failed to unmarshal"):
        default_repository(cms, None, tmp_path)


def test_unsupported_and_unconfigured_repositories_say_so(tmp_path: Path, hello: Path) -> None:
    azure = RepositoryConfig(spec={"azure": {"container": "c", "endpoint": "e"}})
    with pytest.raises(UserError, match="azure artifacts are not supported"):
        save_output(
            {"name": "a", "path": "/a"}, hello, key_prefix="w/p", default=azure, secrets=no_secrets
        )
    empty = RepositoryConfig(spec={"archiveLogs": True})
    with pytest.raises(ConfigError, match="artifact storage is not configured"):
        save_output(
            {"name": "a", "path": "/a"}, hello, key_prefix="w/p", default=empty, secrets=no_secrets
        )


def test_a_templates_archive_location_is_a_repository(tmp_path: Path, hello: Path) -> None:
    # Outputs saved there are recorded key-only, as by Argo's executor (saveArtifactFromFile:
    # SetType + SetKey); test_artifacts_s3 checks that against a real S3 server.
    location = {
        "archiveLogs": True,
        "s3": {"endpoint": "e:1", "bucket": "b", "key": "custom/{{pod.name}}"},
    }
    config = RepositoryConfig.from_archive_location(location)
    assert config.key_format == "custom/{{pod.name}}"
    assert config.location("custom/p/a.tgz") == {
        "s3": {"endpoint": "e:1", "bucket": "b", "key": "custom/p/a.tgz"}
    }


def test_location_key_and_open_repository(repo: RepositoryConfig, hello: Path) -> None:
    assert location_key({"s3": {"key": "a/b"}}) == "a/b"
    assert location_key({"http": {"url": "https://h/x/y.tgz?q=1"}}) == "/x/y.tgz"
    assert location_key({"name": "no location"}) == ""
    status = save_output(
        {"name": "a", "path": "/a"}, hello, key_prefix="w/p", default=repo, secrets=no_secrets
    )
    assert status is not None
    opened = open_repository(status, secrets=no_secrets, default=repo)
    with opened.open(location_key(status)) as f:
        assert f.read(2) == b"\x1f\x8b"
    with pytest.raises(ArtifactError, match="inputs only"):
        open_repository({"git": {"repo": "x"}}, secrets=no_secrets, default=repo)
