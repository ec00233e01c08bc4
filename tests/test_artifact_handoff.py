"""Output files handed to the next steps at copy speed (issue 16 item 2): the consumer
gets the producer's bytes from a snapshot, while the repository still receives Argo's
archive at Argo's key before the run ends; GNU tar, not our code, reads that archive."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import yaml

from jupyter_argo.backends.local import LocalBackend

HANDOFF = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: handoff-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: produce, template: produce}
    - - name: consume
        template: consume
        withSequence: {count: "8"}
        arguments:
          artifacts: [{name: blob, from: "{{steps.produce.outputs.artifacts.blob}}"}]
  - name: produce
    script:
      image: python:3.11
      command: [python]
      source: |
        import os
        os.makedirs("/tmp/dir/sub", exist_ok=True)
        with open("/tmp/blob", "wb") as f:
            f.write(bytes(range(256)) * 8192)
        open("/tmp/dir/sub/a.txt", "w").write("in a directory")
    outputs:
      artifacts:
      - {name: blob, path: /tmp/blob}
      - {name: dir, path: /tmp/dir}
  - name: consume
    inputs:
      artifacts: [{name: blob, path: /tmp/in/blob, mode: 0400}]
    script:
      image: python:3.11
      command: [python]
      source: |
        import hashlib, os
        data = open("/tmp/in/blob", "rb").read()
        mode = os.stat("/tmp/in/blob").st_mode & 0o777
        print(len(data), hashlib.sha256(data).hexdigest(), oct(mode))
"""

EXPECTED = bytes(range(256)) * 8192


def run(text: str, home: Path) -> tuple[LocalBackend, dict[str, Any]]:
    backend = LocalBackend(home=home)
    created = backend.submit(yaml.safe_load(text))
    final: dict[str, Any] = backend.wait(created["metadata"]["name"], timeout=120)
    return backend, final


def node(wf: dict[str, Any], display: str) -> dict[str, Any]:
    return next(n for n in wf["status"]["nodes"].values() if n["displayName"] == display)


def test_consumers_get_the_producers_bytes_and_the_repository_gets_argos_archive(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    backend, wf = run(HANDOFF, home)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    want = f"{len(EXPECTED)} {hashlib.sha256(EXPECTED).hexdigest()} 0o400"
    lines = [line for _pod, line in backend.logs(wf["metadata"]["name"])]
    assert lines == [want] * 8

    # The repository holds what Argo's executor would have stored, at its key, as soon
    # as the run is final: a tgz of the file under its base name, read here by GNU tar.
    blob = next(a for a in node(wf, "produce")["outputs"]["artifacts"] if a["name"] == "blob")
    key = blob["s3"]["key"]
    assert key.endswith("/blob.tgz")
    assert key.startswith(wf["metadata"]["name"] + "/")
    stored = next(home.rglob(Path(key).name))
    listing = subprocess.run(["tar", "tzvf", str(stored)], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.split()[-1] == "blob"
    out = tmp_path / "untarred"
    out.mkdir()
    subprocess.run(["tar", "xzf", str(stored), "-C", str(out)], check=True)
    assert (out / "blob").read_bytes() == EXPECTED
    # A directory goes through the repository as before (its links need unpacking's
    # checks); it is there too.
    directory = next(a for a in node(wf, "produce")["outputs"]["artifacts"] if a["name"] == "dir")
    with tarfile.open(next(home.rglob(Path(directory["s3"]["key"]).name))) as tar:
        assert "dir/sub/a.txt" in tar.getnames()
    # Nothing of the hand-off is left behind.
    assert not [p for p in home.rglob("handoff") if p.is_dir()]


def test_once_the_run_is_over_its_artifacts_come_from_the_repository(tmp_path: Path) -> None:
    """The snapshots live only as long as their run: the Python API, in a new process's
    backend, reads the stored archive, which holds the producer's bytes."""
    home = tmp_path / "home"
    _backend, wf = run(HANDOFF, home)
    from jupyter_argo.run import Run

    later = Run(LocalBackend(home=home), wf)
    assert later.node("produce").outputs.artifacts["blob"].bytes() == EXPECTED
    assert later.node("produce").outputs.artifacts["dir"].path().is_dir()


LISTED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: listed-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: produce, template: produce}
    - - {name: list, template: list}
  - name: produce
    script:
      image: python:3.11
      command: [python]
      source: |
        import os
        with open("/tmp/blob", "wb") as f:
            f.write(os.urandom(32 << 20))
    outputs:
      artifacts:
      - {name: blob, path: /tmp/blob, s3: {key: "made/{{workflow.name}}/blob.tgz"}}
  - name: list
    data:
      source: {artifactPaths: {name: made, s3: {bucket: any, key: "made/{{workflow.name}}"}}}
      transformation: [{expression: data}]
"""


def test_a_data_template_lists_what_the_step_before_it_stored(tmp_path: Path) -> None:
    """A data template reads the repository itself (no hand-off): the stores still
    running in the background are finished before it lists."""
    _backend, wf = run(LISTED, tmp_path / "home")
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    name = wf["metadata"]["name"]
    assert node(wf, "list")["outputs"]["result"] == f'["made/{name}/blob.tgz"]'
