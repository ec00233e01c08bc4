"""Every complete workflow of the users' source document runs and gives the output it
describes (`../shared/seed/argo-workflow-3.md`; snippets marked `<... snipped ...>` excepted)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED
from servers import http_server, make_git_repo

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.spec.parse import parse_text


def seed_workflows() -> dict[str, str]:
    """The seed's complete Workflow YAML blocks, by generateName."""
    if not SEED.exists():
        pytest.skip(f"the seed document is not at {SEED} (../shared absent)")
    blocks = re.findall(r"```yaml\n(.*?)```", SEED.read_text(), flags=re.S)
    found: dict[str, str] = {}
    for block in blocks:
        if "<... snipped ...>" in block or "kind: Workflow\n" not in block:
            continue
        name = re.search(r"generateName: (\S+)", block)
        if name is None:
            continue  # the finalizers fragment: part of a Workflow, not one
        # The GC section shows two variants with one generateName; keep both.
        key = name.group(1) + ("sa" if "serviceAccountName: my-sa" in block else "")
        found[key] = block
    return found


@pytest.fixture(scope="module")
def workflows() -> dict[str, str]:
    return seed_workflows()


@pytest.fixture
def engine() -> LocalBackend:
    return LocalBackend()


def run(engine: LocalBackend, text: str) -> dict[str, Any]:
    (doc,) = [d for d in parse_text(text) if d.kind == "Workflow"]
    created = engine.submit(doc.body)
    return engine.wait(created["metadata"]["name"], timeout=120)


def node(workflow: dict[str, Any], display: str) -> dict[str, Any]:
    (found,) = [n for n in workflow["status"]["nodes"].values() if n["displayName"] == display]
    return found


def log(engine: LocalBackend, workflow: dict[str, Any], display: str) -> list[str]:
    wanted = node(workflow, display)
    return [line for _, line in engine.logs(workflow["metadata"]["name"], node=wanted["id"])]


def test_seed_has_the_workflows_we_check(workflows: dict[str, str]) -> None:
    assert set(workflows) == {
        "artifact-passing-",
        "artifact-gc-",
        "artifact-gc-sa",
        "hardwired-artifact-",
        "scripts-",
        "output-parameter-",
    }


def test_artifact_passing_prints_hello_world(
    engine: LocalBackend, workflows: dict[str, str]
) -> None:
    wf = run(engine, workflows["artifact-passing-"])
    assert wf["status"]["phase"] == "Succeeded"
    assert log(engine, wf, "generate-artifact") == ["hello world"]
    assert log(engine, wf, "consume-artifact") == ["hello world"]
    art = node(wf, "generate-artifact")["outputs"]["artifacts"][0]
    assert art["name"] == "hello-art"
    # Argo's default key: {{workflow.name}}/{{pod.name}}/<artifact>.tgz
    assert re.fullmatch(
        rf"{wf['metadata']['name']}/{wf['metadata']['name']}-argosay-\d+/hello-art\.tgz",
        art["s3"]["key"],
    )


def test_scripts_results_reach_the_next_steps(
    engine: LocalBackend, workflows: dict[str, str]
) -> None:
    wf = run(engine, workflows["scripts-"])
    assert wf["status"]["phase"] == "Succeeded"
    for label, step in (("BASH", "bash"), ("PY", "python"), ("JS", "javascript")):
        result = node(wf, f"generate-from-{step}")["outputs"]["result"]
        # Math.floor(Math.random() * 100) can be 0; the bash one can reach 101.
        assert 0 <= int(result) <= 101
        assert log(engine, wf, f"print-for-{step}") == [f"result was: [{label}] {result}"]


def test_output_parameter(engine: LocalBackend, workflows: dict[str, str]) -> None:
    wf = run(engine, workflows["output-parameter-"])
    assert wf["status"]["phase"] == "Succeeded"
    params = node(wf, "generate-parameter")["outputs"]["parameters"]
    assert params == [
        {
            "name": "hello-param",
            "valueFrom": {"path": "/tmp/hello_world.txt"},
            "value": "hello world",
        }
    ]
    assert log(engine, wf, "consume-parameter") == ["hello world"]


@pytest.mark.parametrize("variant", ["artifact-gc-", "artifact-gc-sa"])
def test_artifact_gc_workflows_run(
    engine: LocalBackend, workflows: dict[str, str], variant: str
) -> None:
    wf = run(engine, workflows[variant])
    assert wf["status"]["phase"] == "Succeeded"
    saved = {a["name"]: a for a in node(wf, wf["metadata"]["name"])["outputs"]["artifacts"]}
    uid = wf["metadata"]["uid"]
    if variant == "artifact-gc-":
        assert saved["temporary-artifact"]["s3"]["key"] == "temporary-artifact.txt"
    else:
        # {{workflow.uid}} keeps concurrent runs apart, as the seed advises.
        assert saved["temporary-artifact"]["s3"]["key"] == f"temporary-artifact-{uid}.txt"
        assert saved["keep-this"]["s3"]["key"] == f"keep-this-{uid}.txt"


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A local git repository and HTTP server standing in for github.com and googleapis.com."""
    repo = make_git_repo(tmp_path / "git")
    with http_server() as server:
        server.files["/kubectl"] = b"#!/bin/sh\necho kubectl stand-in\n"
        yield {"git": repo.url, "http": server.url("/kubectl")}


def test_hardwired_artifacts_from_local_stand_ins(
    engine: LocalBackend, workflows: dict[str, str], stand_ins: dict[str, str]
) -> None:
    text = workflows["hardwired-artifact-"]
    text = text.replace("https://github.com/argoproj/argo-workflows.git", stand_ins["git"])
    text = re.sub(r"https://storage\.googleapis\.com/\S+", stand_ins["http"], text)
    wf = run(engine, text)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    lines = log(engine, wf, wf["metadata"]["name"])
    # `ls -l /src /bin/kubectl`: the checkout at /src, an executable kubectl (mode 0755).
    assert any(line.startswith("-rwxr-xr-x") and line.endswith("/bin/kubectl") for line in lines)
    assert any(line.endswith("VERSION") for line in lines)
