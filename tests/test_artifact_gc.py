"""Artifact GC against the embedded repository and a real S3 server (moto's), and end to
end through the local backend with the seed's artifact-gc workflows."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SEED
from servers import S3Server, free_port, s3_server

from jupyter_argo.artifacts import RepositoryConfig, default_repository, embedded_repository
from jupyter_argo.artifacts import save_output as _save_output
from jupyter_argo.artifacts.gc import (
    GCResult,
    artifacts_to_collect,
    collect,
    effective_strategy,
    gc_condition,
    mark_deleted,
)
from jupyter_argo.errors import ArgoError

CRED = "gc-cred"
ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
COMPLETION, DELETION, NEVER = "OnWorkflowCompletion", "OnWorkflowDeletion", "Never"


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # Argo's own knobs: a failing endpoint is retried twice, 1 ms apart, not for 9 s.
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_STEPS", "2")
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_DURATION", "1ms")


def no_secrets(name: str, key: str) -> str | None:
    return None


def workflow_with(
    nodes: dict[str, list[dict[str, Any]]],
    strategy: str | None = None,
    node_type: str = "Pod",
) -> dict[str, Any]:
    """A finished workflow whose nodes (id -> status output artifacts) are all `node_type`."""
    spec: dict[str, Any] = {"entrypoint": "main", "templates": [{"name": "main"}]}
    if strategy is not None:
        spec["artifactGC"] = {"strategy": strategy}
    return {
        "metadata": {"name": "wf", "namespace": "default"},
        "spec": spec,
        "status": {
            "phase": "Succeeded",
            "nodes": {
                node_id: {
                    "id": node_id,
                    "name": node_id,
                    "type": node_type,
                    "templateName": "main",
                    "outputs": {"artifacts": artifacts},
                }
                for node_id, artifacts in nodes.items()
            },
        },
    }


def gc(strategy: str | None) -> dict[str, Any]:
    return {} if strategy is None else {"artifactGC": {"strategy": strategy}}


# ---- which artifacts, and when ---------------------------------------------------------


@pytest.mark.parametrize(
    ("workflow_strategy", "artifact_strategy", "effective"),
    [
        (None, None, NEVER),
        (DELETION, None, DELETION),
        (COMPLETION, None, COMPLETION),
        (DELETION, NEVER, NEVER),
        (DELETION, COMPLETION, COMPLETION),
        (NEVER, DELETION, DELETION),
        (None, COMPLETION, COMPLETION),
        (COMPLETION, "", COMPLETION),  # an empty strategy is Argo's "undefined"
    ],
)
def test_the_artifact_strategy_wins_then_the_workflow_one_then_never(
    workflow_strategy: str | None, artifact_strategy: str | None, effective: str
) -> None:
    artifact = {"name": "a", **gc(artifact_strategy)}
    workflow = workflow_with({"n1": [artifact]}, workflow_strategy)
    assert effective_strategy(workflow, artifact) == effective
    on_completion = [a["name"] for a in artifacts_to_collect(workflow, "completion")]
    on_deletion = [a["name"] for a in artifacts_to_collect(workflow, "deletion")]
    assert on_completion == (["a"] if effective == COMPLETION else [])
    assert on_deletion == (["a"] if effective in (COMPLETION, DELETION) else [])


def test_the_strategy_of_a_referenced_workflow_template_counts() -> None:
    workflow = workflow_with({"n1": [{"name": "a", "s3": {"key": "k"}}]})
    workflow["status"]["storedWorkflowTemplateSpec"] = {"artifactGC": {"strategy": DELETION}}
    assert [a["name"] for a in artifacts_to_collect(workflow, "deletion")] == ["a"]


def test_only_pod_nodes_and_artifacts_not_yet_deleted_are_collected() -> None:
    workflow = workflow_with(
        {"pod": [{"name": "gone", "deleted": True}, {"name": "here", "s3": {"key": "k"}}]},
        COMPLETION,
    )
    steps = workflow_with(
        {"steps": [{"name": "copied-up", "s3": {"key": "k"}}]}, COMPLETION, "Steps"
    )
    workflow["status"]["nodes"].update(steps["status"]["nodes"])
    found = artifacts_to_collect(workflow, "completion")
    assert found == [{"name": "here", "s3": {"key": "k"}, "nodeID": "pod"}]


def test_an_unknown_event_is_refused() -> None:
    with pytest.raises(ValueError, match="completion"):
        artifacts_to_collect(workflow_with({}), "finished")  # type: ignore[arg-type]


# ---- the embedded repository -------------------------------------------------------------


def save(repo: RepositoryConfig, tmp: Path, name: str, text: str, **extra: Any) -> dict[str, Any]:
    """An output artifact saved for real, as the engine saves it; its status entry."""
    produced = tmp / "produced" / name
    produced.parent.mkdir(parents=True, exist_ok=True)
    produced.write_text(text)
    status = _save_output(
        {"name": name, "path": f"/tmp/{name}.txt", **extra},
        produced,
        key_prefix="wf/wf-main-1",
        default=repo,
        secrets=no_secrets,
    )
    assert status is not None
    return status


def objects(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_local_completion_then_deletion(tmp_path: Path) -> None:
    repo = embedded_repository(tmp_path / "artifacts")
    temporary = save(repo, tmp_path, "temporary", "can throw this away\n", **gc(COMPLETION))
    later = save(repo, tmp_path, "later", "until deletion\n")
    kept = save(repo, tmp_path, "kept", "keep this\n", **gc(NEVER))
    workflow = workflow_with({"wf-1": [temporary, later, kept]}, DELETION)
    root = tmp_path / "artifacts"
    assert objects(root) == {
        "wf/wf-main-1/temporary.tgz",
        "wf/wf-main-1/later.tgz",
        "wf/wf-main-1/kept.tgz",
    }

    done = collect(workflow, "completion", default=repo, secrets=no_secrets)
    assert done == GCResult(deleted=["wf-1/temporary"], failed=[])
    assert gc_condition(done) is None
    assert objects(root) == {"wf/wf-main-1/later.tgz", "wf/wf-main-1/kept.tgz"}
    mark_deleted(workflow, done)
    flags = {
        a["name"]: a.get("deleted")
        for a in workflow["status"]["nodes"]["wf-1"]["outputs"]["artifacts"]
    }
    assert flags == {"temporary": True, "later": None, "kept": None}

    done = collect(workflow, "deletion", default=repo, secrets=no_secrets)
    assert done == GCResult(deleted=["wf-1/later"], failed=[])
    assert objects(root) == {"wf/wf-main-1/kept.tgz"}


def test_an_artifact_already_gone_is_not_a_failure(tmp_path: Path) -> None:
    repo = embedded_repository(tmp_path / "artifacts")
    artifact = save(repo, tmp_path, "a", "x\n")
    (tmp_path / "artifacts" / artifact["s3"]["key"]).unlink()
    workflow = workflow_with({"n": [artifact]}, COMPLETION)
    assert collect(workflow, "completion", default=repo, secrets=no_secrets) == GCResult(
        ["n/a"], []
    )


def test_an_unarchived_directory_goes_whole(tmp_path: Path) -> None:
    repo = embedded_repository(tmp_path / "artifacts")
    produced = tmp_path / "dir"
    (produced / "sub").mkdir(parents=True)
    (produced / "one.txt").write_text("1")
    (produced / "sub" / "two.txt").write_text("2")
    status = _save_output(
        {"name": "d", "path": "/tmp/dir", "archive": {"none": {}}},
        produced,
        key_prefix="wf/pod",
        default=repo,
        secrets=no_secrets,
    )
    assert status is not None
    assert objects(tmp_path / "artifacts") == {"wf/pod/dir/one.txt", "wf/pod/dir/sub/two.txt"}
    workflow = workflow_with({"n": [status]}, DELETION)
    assert collect(workflow, "deletion", default=repo, secrets=no_secrets).ok
    assert objects(tmp_path / "artifacts") == set()


def test_one_failure_does_not_stop_the_others(tmp_path: Path) -> None:
    repo = embedded_repository(tmp_path / "artifacts")
    good = save(repo, tmp_path, "good", "x\n")
    climbing = {"name": "climbing", "path": "/tmp/c", "s3": {"key": "../outside.txt"}}
    elsewhere = {
        "name": "elsewhere",
        "path": "/tmp/e",
        "azure": {"endpoint": "https://a", "container": "c", "blob": "b"},
    }
    workflow = workflow_with({"n": [climbing, good, elsewhere]}, COMPLETION)
    done = collect(workflow, "completion", default=repo, secrets=no_secrets)
    assert done.deleted == ["n/good"]
    assert [name for name, _ in done.failed] == ["n/climbing", "n/elsewhere"]
    assert "'..'" in done.failed[0][1]
    assert "azure" in done.failed[1][1]
    condition = gc_condition(done)
    assert condition is not None
    assert condition["type"] == "ArtifactGCError"
    assert condition["status"] == "True"
    assert "2 artifacts" in condition["message"]
    assert "n/climbing" in condition["message"]
    assert "n/elsewhere" in condition["message"]


# ---- a real S3 server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


def s3_block(server: S3Server, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint": server.endpoint,
        "bucket": server.bucket,
        "insecure": True,
        "accessKeySecret": {"name": CRED, "key": "accessKey"},
        "secretKeySecret": {"name": CRED, "key": "secretKey"},
        **extra,
    }


def secrets_for(server: S3Server) -> Any:
    values = {(CRED, "accessKey"): server.access_key, (CRED, "secretKey"): server.secret_key}
    return lambda name, key: values.get((name, key))


def s3_repository(server: S3Server, **extra: Any) -> RepositoryConfig:
    configmap = {
        "metadata": {"name": "artifact-repositories", "annotations": {ANNOTATION: "default"}},
        "data": {"default": yaml.safe_dump({"s3": s3_block(server, **extra)})},
    }
    return default_repository({"artifact-repositories": configmap}.get, None, Path("/unused"))


def keys(server: S3Server, bucket: str | None = None, prefix: str = "") -> set[str]:
    listed = server.client().list_objects_v2(Bucket=bucket or server.bucket, Prefix=prefix)
    return {o["Key"] for o in listed.get("Contents", [])}


def save_s3(server: S3Server, tmp: Path, spec: dict[str, Any], prefix: str) -> dict[str, Any]:
    produced = tmp / spec["name"]
    produced.write_text(f"{spec['name']}\n")
    status = _save_output(
        spec,
        produced,
        key_prefix=prefix,
        default=s3_repository(server),
        secrets=secrets_for(server),
    )
    assert status is not None
    return status


def test_s3_collects_by_strategy_and_already_gone_is_fine(s3: S3Server, tmp_path: Path) -> None:
    prefix = "gc-by-strategy/pod"
    now = save_s3(s3, tmp_path, {"name": "now", "path": "/tmp/now", **gc(COMPLETION)}, prefix)
    later = save_s3(s3, tmp_path, {"name": "later", "path": "/tmp/later"}, prefix)
    kept = save_s3(s3, tmp_path, {"name": "kept", "path": "/tmp/kept", **gc(NEVER)}, prefix)
    gone = save_s3(s3, tmp_path, {"name": "gone", "path": "/tmp/gone", **gc(COMPLETION)}, prefix)
    s3.client().delete_object(Bucket=s3.bucket, Key=gone["s3"]["key"])
    workflow = workflow_with({"pod-1": [now, later, kept, gone]}, DELETION)
    repo, secrets = s3_repository(s3), secrets_for(s3)

    done = collect(workflow, "completion", default=repo, secrets=secrets)
    assert done == GCResult(deleted=["pod-1/now", "pod-1/gone"], failed=[])
    assert keys(s3, prefix=prefix) == {f"{prefix}/later.tgz", f"{prefix}/kept.tgz"}
    mark_deleted(workflow, done)
    done = collect(workflow, "deletion", default=repo, secrets=secrets)
    assert done == GCResult(deleted=["pod-1/later"], failed=[])
    assert keys(s3, prefix=prefix) == {f"{prefix}/kept.tgz"}


def test_s3_a_refused_delete_fails_without_showing_credentials(
    s3: S3Server, tmp_path: Path
) -> None:
    client = s3.client()
    client.create_bucket(Bucket="locked")
    block = s3_block(s3, bucket="locked", key="locked/thing.tgz")
    spec = {"name": "thing", "path": "/tmp/thing", "s3": block}  # its own, complete location
    status = save_s3(s3, tmp_path, spec, "ignored")
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteObject",
                "Resource": "arn:aws:s3:::locked/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket="locked", Policy=json.dumps(deny))
    workflow = workflow_with({"pod-1": [status]}, COMPLETION)
    done = collect(workflow, "deletion", default=s3_repository(s3), secrets=secrets_for(s3))
    assert done.deleted == []
    ((name, message),) = done.failed
    assert name == "pod-1/thing"
    assert "cannot delete locked/thing.tgz" in message
    assert s3.endpoint in message
    condition = gc_condition(done)
    assert condition is not None
    for shown in (message, json.dumps(condition)):
        assert s3.secret_key not in shown
        assert s3.access_key not in shown
    assert keys(s3, "locked") == {"locked/thing.tgz"}

    client.delete_bucket_policy(Bucket="locked")  # fixed: the next collection succeeds
    assert collect(workflow, "deletion", default=s3_repository(s3), secrets=secrets_for(s3)).ok
    assert keys(s3, "locked") == set()


def test_s3_an_unreachable_endpoint_is_a_failure(tmp_path: Path) -> None:
    endpoint = f"127.0.0.1:{free_port()}"  # nothing listens there
    secret = "s3cr3t-value-never-shown"
    block = {
        "endpoint": endpoint,
        "bucket": "b",
        "insecure": True,
        "key": "k.tgz",
        "accessKeySecret": {"name": CRED, "key": "accessKey"},
        "secretKeySecret": {"name": CRED, "key": "secretKey"},
    }
    values = {(CRED, "accessKey"): "AKIAEXAMPLEKEY", (CRED, "secretKey"): secret}
    workflow = workflow_with({"pod-1": [{"name": "a", "s3": block}]}, COMPLETION)
    done = collect(
        workflow,
        "completion",
        default=embedded_repository(tmp_path),
        secrets=lambda name, key: values.get((name, key)),
    )
    ((name, message),) = done.failed
    assert name == "pod-1/a"
    assert endpoint in message
    assert "after 2 attempts" in message
    assert secret not in message
    assert "AKIAEXAMPLEKEY" not in message


# ---- the seed's workflows ------------------------------------------------------------------


def seed_gc_workflows() -> list[dict[str, Any]]:
    if not SEED.is_file():
        pytest.skip(f"the seed document is not at {SEED}")
    blocks = re.findall(r"```yaml\n(.*?)```", SEED.read_text(), re.S)
    found = [yaml.safe_load(b) for b in blocks if "artifactGC:" in b and "kind: Workflow" in b]
    assert len(found) >= 2, "the seed's artifact GC examples moved"
    return found


def test_pod_identity_settings_are_listed_as_cluster_only() -> None:
    from jupyter_argo.engine.fields import unhonoured

    with_identity = seed_gc_workflows()[1]
    assert [f.path for f in unhonoured(with_identity["spec"])] == [
        "spec.artifactGC.serviceAccountName",
        "spec.artifactGC.podMetadata",
        "templates.main.outputs.artifacts.temporary-artifact.artifactGC.serviceAccountName",
        "templates.main.outputs.artifacts.temporary-artifact.artifactGC.podMetadata",
    ]
    assert unhonoured(seed_gc_workflows()[0]["spec"]) == []


def run_seed(home: Path, workflow: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from jupyter_argo.backends.local import LocalBackend

    backend = LocalBackend(home)
    created = backend.submit(workflow)
    final = backend.wait(created["metadata"]["name"], timeout=60)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    return backend, final


def test_seed_workflow_deletes_on_deletion_and_keeps_never(tmp_path: Path) -> None:
    backend, final = run_seed(tmp_path, seed_gc_workflows()[0])
    root = tmp_path / "artifacts"
    assert objects(root) == {"temporary-artifact.txt", "keep-this.txt"}
    backend.delete(final["metadata"]["name"])
    assert objects(root) == {"keep-this.txt"}


def test_seed_workflow_on_completion_deletes_when_it_completes(tmp_path: Path) -> None:
    workflow = seed_gc_workflows()[0]
    workflow["spec"]["artifactGC"]["strategy"] = COMPLETION
    _, final = run_seed(tmp_path, workflow)
    assert objects(tmp_path / "artifacts") == {"keep-this.txt"}
    nodes = final["status"]["nodes"].values()
    deleted = {
        a["name"]: a.get("deleted")
        for n in nodes
        for a in (n.get("outputs") or {}).get("artifacts", [])
    }
    assert deleted == {"temporary-artifact": True, "keep-this": None}


def test_a_failed_deletion_blocks_delete_until_forced(s3: S3Server, tmp_path: Path) -> None:
    from jupyter_argo.backends.local import LocalBackend

    bucket = "gc-e2e"
    s3.client().create_bucket(Bucket=bucket)
    backend = LocalBackend(tmp_path)
    block = yaml.safe_dump({"s3": s3_block(s3, bucket=bucket)})
    backend.apply(
        {
            "kind": "ConfigMap",
            "metadata": {"name": "artifact-repositories", "annotations": {ANNOTATION: "s3"}},
            "data": {"s3": block},
        }
    )
    backend.apply(
        {
            "kind": "Secret",
            "metadata": {"name": CRED},
            "stringData": {"accessKey": s3.access_key, "secretKey": s3.secret_key},
        }
    )
    _, final = run_seed(tmp_path, seed_gc_workflows()[0])
    name = final["metadata"]["name"]
    assert keys(s3, bucket) == {"temporary-artifact.txt", "keep-this.txt"}
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3.client().put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny))
    with pytest.raises(ArgoError, match="temporary-artifact"):
        backend.delete(name)
    assert backend.get(name)["metadata"]["name"] == name  # still there
    backend.delete(name, force=True)
    assert name not in [w["metadata"]["name"] for w in backend.list()]
