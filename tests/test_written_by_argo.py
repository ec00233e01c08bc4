"""Workflow objects written by Argo's own controller (../shared/argo/written-by-argo): each
one read, rendered, turned into a `Run` and bound, and every artifact in it opened from a
real S3-compatible server (moto's) holding the recorded keys, through the local backend
(tests/test_written_by_argo_kubernetes.py does the same through the Kubernetes backend).

How the expected buckets are worked out from Argo's rules, and how the recorded endpoint
(`minio:9000`) is pointed at the moto server: tests/written_by_argo_helpers.py. The last
test keeps the recorded endpoint and expects one clear line.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from servers import S3Server, s3_server
from written_by_argo_helpers import (
    RECORDED_BUCKET,
    RECORDED_ENDPOINT,
    as_stored,
    create_buckets,
    located,
    need_shared,
    read_back,
    read_rendered_bound_opened,
    seed,
    stage_repositories,
    stored_form,
    written,
    written_id,
)

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.errors import ArtifactError
from jupyter_argo.run import Run

# What the whole set holds, counted by hand from the files: a change to ../shared shows.
EXPECTED_OBJECTS = 70


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    need_shared()
    with s3_server() as server:
        create_buckets(server)
        yield server


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_STEPS", "2")
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_DURATION", "1ms")


def prepared_backend(s3: S3Server) -> LocalBackend:
    backend = LocalBackend()
    stage_repositories(backend, s3)
    return backend


# ---- the tests ---------------------------------------------------------------------------


def test_the_set_is_all_there() -> None:
    need_shared()
    assert len(written()) == EXPECTED_OBJECTS


@pytest.mark.parametrize("path", written(), ids=written_id)
def test_read_rendered_bound_and_every_artifact_opened(path: Path, s3: S3Server) -> None:
    workflow = as_stored(path, s3.endpoint)
    backend = prepared_backend(s3)
    assert backend.store.create_workflow(copy.deepcopy(workflow), owned=False)
    where = seed(s3, workflow)
    assert read_rendered_bound_opened(backend, workflow, where) == len(where)


def test_how_many_artifacts_the_set_opens() -> None:
    """The count the test above opens, over the whole set (and how they are located)."""
    need_shared()
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
