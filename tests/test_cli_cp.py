"""`jupyter-argo cp` end to end: a real run's output artifacts copied out, unpacked."""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import pytest

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.cli_cp import destination, register, search_artifacts
from jupyter_argo.errors import NotFoundError, UserError
from jupyter_argo.spec.parse import parse_text

WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: cp-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: write
            template: write
          - name: other
            template: other
    - name: write
      container:
        image: alpine:3.19
        command: [sh, -c]
        args:
          - |
            echo "packed file" > /tmp/packed.txt
            echo "plain file" > /tmp/plain.txt
            mkdir -p /tmp/tree/sub
            echo one > /tmp/tree/one.txt
            echo two > /tmp/tree/sub/two.txt
      outputs:
        artifacts:
          - {name: packed, path: /tmp/packed.txt}
          - {name: plain, path: /tmp/plain.txt, archive: {none: {}}}
          - {name: tree, path: /tmp/tree}
    - name: other
      container:
        image: alpine:3.19
        command: [sh, -c, "echo other > /tmp/other.txt"]
      outputs:
        artifacts:
          - {name: other, path: /tmp/other.txt}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One finished run, shared by the tests: (its data directory, the workflow)."""
    home = tmp_path_factory.mktemp("cp-home")
    backend = LocalBackend(home)
    (doc,) = parse_text(WORKFLOW)
    created = backend.submit(doc.body)
    final = backend.wait(created["metadata"]["name"], timeout=60)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    return home, final


@pytest.fixture
def home(run: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JUPYTER_ARGO_HOME", str(run[0]))
    return run[0]


def cp(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="jupyter-argo")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["cp", *argv])
    code: int = args.func(args)
    return code


def node_of(workflow: dict[str, Any], template: str) -> dict[str, Any]:
    (node,) = [
        n
        for n in workflow["status"]["nodes"].values()
        if n.get("templateName") == template and n["type"] == "Pod"
    ]
    return node


def files_below(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


def test_copies_every_artifact_unpacked_under_argo_default_path(
    run: tuple[Path, dict[str, Any]], home: Path, tmp_path: Path
) -> None:
    workflow = run[1]
    name = workflow["metadata"]["name"]
    write, other = node_of(workflow, "write")["id"], node_of(workflow, "other")["id"]
    assert cp(name, str(tmp_path)) == 0
    base = f"default/{name}"
    assert files_below(tmp_path) == {
        f"{base}/{write}/outputs/packed/packed.txt": "packed file\n",
        f"{base}/{write}/outputs/plain/plain.txt": "plain file\n",
        f"{base}/{write}/outputs/tree/tree/one.txt": "one\n",
        f"{base}/{write}/outputs/tree/tree/sub/two.txt": "two\n",
        f"{base}/{other}/outputs/other/other.txt": "other\n",
    }


def test_filters_narrow_what_is_copied(
    run: tuple[Path, dict[str, Any]], home: Path, tmp_path: Path
) -> None:
    workflow = run[1]
    name = workflow["metadata"]["name"]
    other = node_of(workflow, "other")["id"]

    assert cp(name, str(tmp_path / "a"), "--artifact-name", "tree", "--path", "{artifactName}") == 0
    assert files_below(tmp_path / "a") == {
        "tree/tree/one.txt": "one\n",
        "tree/tree/sub/two.txt": "two\n",
    }

    assert cp(name, str(tmp_path / "t"), "--template-name", "other", "--path", ".") == 0
    assert files_below(tmp_path / "t") == {"other.txt": "other\n"}

    assert cp(name, str(tmp_path / "n"), "--node-id", other, "--path", "{nodeId}") == 0
    assert files_below(tmp_path / "n") == {f"{other}/other.txt": "other\n"}

    assert cp(name, str(tmp_path / "none"), "--artifact-name", "missing") == 0
    assert not (tmp_path / "none").exists()


def test_custom_path_placeholders(
    run: tuple[Path, dict[str, Any]], home: Path, tmp_path: Path
) -> None:
    name = run[1]["metadata"]["name"]
    pattern = "{workflowName}/{templateName}/{artifactName}"
    assert cp(name, str(tmp_path), "--template-name", "write", "--path", pattern) == 0
    assert sorted(files_below(tmp_path)) == [
        f"{name}/write/packed/packed.txt",
        f"{name}/write/plain/plain.txt",
        f"{name}/write/tree/tree/one.txt",
        f"{name}/write/tree/tree/sub/two.txt",
    ]


def test_copying_again_replaces_files_and_merges_directories(
    run: tuple[Path, dict[str, Any]], home: Path, tmp_path: Path
) -> None:
    name = run[1]["metadata"]["name"]
    (tmp_path / "packed.txt").write_text("stale\n")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "mine.txt").write_text("kept\n")
    assert cp(name, str(tmp_path), "--template-name", "write", "--path", ".") == 0
    found = files_below(tmp_path)
    assert found["packed.txt"] == "packed file\n"
    assert found["tree/mine.txt"] == "kept\n"
    assert found["tree/one.txt"] == "one\n"


def test_artifacts_deleted_by_gc_are_skipped(
    run: tuple[Path, dict[str, Any]], home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = LocalBackend(home)
    name = run[1]["metadata"]["name"]
    workflow = copy.deepcopy(backend.get(name))
    node = node_of(workflow, "other")
    node["outputs"]["artifacts"][0]["deleted"] = True
    search = search_artifacts(workflow, artifact_name="other")
    assert [a["name"] for _, a in search] == ["other"]
    backend.store.save_workflow(workflow)
    try:
        assert cp(name, str(tmp_path), "--artifact-name", "other") == 0
    finally:
        backend.store.save_workflow(run[1])
    assert not any(tmp_path.iterdir())
    assert "deleted by artifact GC" in capsys.readouterr().err


def test_unknown_workflow_is_a_user_error(home: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        cp("no-such-workflow", str(tmp_path))


def test_placeholder_values_cannot_climb(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot be part of a path"):
        destination(str(tmp_path), "{nodeId}", {"nodeId": ".."}, "x")
    with pytest.raises(UserError, match="cannot be part of a path"):
        destination(str(tmp_path), "{templateName}", {"templateName": "a/../../b"}, "x")
    directory, target = destination(str(tmp_path), "{a}/{a}", {"a": "v"}, "f.txt")
    assert (directory, target) == (tmp_path / "v" / "v", tmp_path / "v" / "v" / "f.txt")


def test_the_jupyter_argo_command_has_cp() -> None:
    from jupyter_argo.cli import build_parser

    args = build_parser().parse_args(["cp", "wf", "out"])
    assert args.dest == "out"
