"""Bounded by default: loops, retries, lint and unpacking have limits, and reaching one is
one clear line, never a process that grows without end or a traceback."""

from __future__ import annotations

import gzip
import io
import resource
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from jupyter_argo.artifacts._archive import unpack_tar, unpack_zip
from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.errors import ArtifactError, ConfigError, LintError, UserError
from jupyter_argo.limits import max_items, max_unpacked_bytes
from jupyter_argo.spec.lint import lint_text
from jupyter_argo.spec.parse import parse_text


def run(text: str, timeout: float = 60) -> dict[str, Any]:
    engine = LocalBackend()
    (doc,) = [d for d in parse_text(text) if d.kind == "Workflow"]
    created = engine.submit(doc.body)
    return engine.wait(created["metadata"]["name"], timeout=timeout)


def errors(text: str) -> list[str]:
    return [str(d) for d in lint_text(text, "wf.yaml") if d.severity == "error"]


HUGE_SEQUENCE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: huge-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: each
        template: echo
        withSequence: {count: "999999999"}
  - name: echo
    container: {image: alpine, command: [echo, "{{item}}"]}
"""


# ---- loops --------------------------------------------------------------------------------


def test_a_huge_sequence_fails_at_once_naming_the_step() -> None:
    began = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wf = run(HUGE_SEQUENCE)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert time.monotonic() - began < 10
    assert grown_kib < 200_000  # it used to reach 4 GB in 11 s
    assert wf["status"]["phase"] == "Failed"
    group = next(n for n in wf["status"]["nodes"].values() if n["type"] == "StepGroup")
    assert group["phase"] == "Error"
    assert group["message"] == (
        "templates.main.steps[0].each.withSequence: expands to 999999999 items, more than "
        "the 10000 allowed (set JUPYTER_ARGO_MAX_ITEMS to raise the limit)"
    )
    # No node was made for any item.
    assert not [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]


LOOP_IN_DAG = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: items-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: make
        template: make
      - name: each
        depends: make
        template: echo
        withParam: "{{tasks.make.outputs.result}}"
  - name: make
    script:
      image: python:3
      command: [python]
      source: print([1, 2, 3, 4])
  - name: echo
    container: {image: alpine, command: [echo, "{{item}}"]}
"""


def test_the_item_limit_is_set_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_ARGO_MAX_ITEMS", "3")
    wf = run(LOOP_IN_DAG)
    assert wf["status"]["phase"] == "Error"  # a DAG task in Error: Argo's assessDAGPhase
    nodes = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    assert nodes["each"]["phase"] == "Error"
    assert nodes["each"]["message"] == (
        "templates.main.tasks.each.withParam: expands to 4 items, more than the 3 allowed "
        "(set JUPYTER_ARGO_MAX_ITEMS to raise the limit)"
    )
    monkeypatch.setenv("JUPYTER_ARGO_MAX_ITEMS", "4")
    wf = run(LOOP_IN_DAG)
    assert wf["status"]["phase"] == "Succeeded"
    assert sum(n["type"] == "Pod" for n in wf["status"]["nodes"].values()) == 5


def test_a_bad_item_limit_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    assert max_items() == 10_000
    monkeypatch.setenv("JUPYTER_ARGO_MAX_ITEMS", "lots")
    with pytest.raises(ConfigError, match="JUPYTER_ARGO_MAX_ITEMS='lots': give a whole number"):
        max_items()
    monkeypatch.setenv("JUPYTER_ARGO_MAX_UNPACKED", "2G")
    assert max_unpacked_bytes() == 2 << 30


UNLIMITED_RETRY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: retry-}
spec:
  entrypoint: main
  templates:
  - name: main
    retryStrategy: {LIMIT}
    container: {image: alpine, command: [sh, -c, "exit 3"]}
"""


def test_an_unlimited_retry_stops_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_ARGO_MAX_ITEMS", "2")
    wf = run(UNLIMITED_RETRY.replace("{LIMIT}", "{retryPolicy: Always}"))
    assert wf["status"]["phase"] == "Failed"
    retry = next(n for n in wf["status"]["nodes"].values() if n["type"] == "Retry")
    assert len(retry["children"]) == 3  # the first attempt and 2 retries
    assert retry["message"] == (
        "No more retries left: the local engine stops an unlimited retryStrategy after 2 "
        "retries (set JUPYTER_ARGO_MAX_ITEMS to raise the limit)"
    )


def test_a_retry_limit_above_the_bound_is_refused_before_any_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JUPYTER_ARGO_MAX_ITEMS", "5")
    wf = run(UNLIMITED_RETRY.replace("{LIMIT}", "{limit: 6}"))
    retry = next(n for n in wf["status"]["nodes"].values() if n["type"] == "Retry")
    assert retry["phase"] == "Error"
    assert retry["message"] == (
        "templates.main.retryStrategy.limit: 6 retries, more than the 5 allowed "
        "(set JUPYTER_ARGO_MAX_ITEMS to raise the limit)"
    )
    assert not retry.get("children")


# ---- lint ---------------------------------------------------------------------------------


NULL_STEP_FROM_DAG = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: null-step-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: a
        template: group
  - name: group
    steps:
    - -
      - name: b
        template: echo
  - name: echo
    container: {image: alpine, command: [echo, hi]}
"""


def test_lint_finds_a_null_step() -> None:
    assert errors(NULL_STEP_FROM_DAG) == [
        "wf.yaml:15:8: spec.templates[1].steps[0][0]: null entry: expected a mapping "
        "(WorkflowStep) (remove the empty `-` entry, or write it out)"
    ]


def test_submit_refuses_a_null_step_in_one_line() -> None:
    (doc,) = parse_text(NULL_STEP_FROM_DAG)
    with pytest.raises(LintError) as caught:
        LocalBackend().submit(doc.body)
    assert str(caught.value) == (
        "Workflow null-step-: spec.templates[1].steps[0][0]: null entry: expected a mapping "
        "(WorkflowStep) (remove the empty `-` entry, or write it out)"
    )


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (None, "a Workflow is a mapping (a dict), not NoneType: give the parsed manifest"),
        ("kind: Workflow", "a Workflow is a mapping (a dict), not str: give the parsed manifest"),
        (
            {"spec": {"entrypoint": "main", "templates": [{"name": "main", "steps": [[{}]]}]}},
            "Workflow: spec.templates[0].steps[0][0]: name is required (WorkflowStep) "
            "(give the entry a `name:`)",
        ),
        (
            {"spec": {"entrypoint": "main", "templates": [{"name": "main", "steps": "x"}]}},
            "Workflow: spec.templates[0].steps: expected a list, not a string",
        ),
    ],
)
def test_submit_refuses_a_misshapen_manifest_in_one_line(manifest: Any, message: str) -> None:
    with pytest.raises(UserError) as caught:
        LocalBackend().submit(manifest)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


BOUNDS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: bounds-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: n, value: "3"}]}
  templates:
  - name: main
    steps:
    - - name: many
        template: echo
        withSequence: {count: "999999999"}
      - name: down
        template: echo
        withSequence: {start: "20000", end: "0"}
      - name: fine
        template: echo
        withSequence: {count: "{{workflow.parameters.n}}"}
      - name: bad
        template: echo
        withSequence: {end: "ten"}
  - name: echo
    retryStrategy:
      limit: 1000000
      backoff: {duration: "1 minute", cap: 90s, maxDuration: "2d"}
    container: {image: alpine, command: [echo, "{{item}}"]}
  - name: pause
    suspend: {duration: "ten"}
  - name: slow
    timeout: "1 hour"
    container: {image: alpine, command: [echo]}
"""


def test_lint_catches_what_it_can_see_before_the_run() -> None:
    go = '(a Go duration such as "30s", "1m30s" or "2h", or whole seconds)'
    assert errors(BOUNDS) == [
        "wf.yaml:13:23: spec.templates[0].steps[0][0].withSequence: withSequence expands to "
        "999999999 items, more than the 10000 a loop may expand to (split the loop, or set "
        "JUPYTER_ARGO_MAX_ITEMS)",
        "wf.yaml:16:23: spec.templates[0].steps[0][1].withSequence: withSequence expands to "
        "20001 items, more than the 10000 a loop may expand to (split the loop, or set "
        "JUPYTER_ARGO_MAX_ITEMS)",
        "wf.yaml:22:29: spec.templates[0].steps[0][3].withSequence.end: failed to parse "
        "sequence end: 'ten' is not a whole number",
        "wf.yaml:25:14: spec.templates[1].retryStrategy.limit: templates.echo.retryStrategy."
        "limit 1000000 is more than the 10000 retries the local engine allows (lower it, or "
        "set JUPYTER_ARGO_MAX_ITEMS)",
        "wf.yaml:26:27: spec.templates[1].retryStrategy.backoff.duration: unable to parse "
        f"1 minute as a duration {go}",
        "wf.yaml:26:62: spec.templates[1].retryStrategy.backoff.maxDuration: unable to parse "
        f"2d as a duration {go}",
        "wf.yaml:29:25: spec.templates[2].suspend.duration: unable to parse ten as a "
        f"duration {go}",
        "wf.yaml:31:14: spec.templates[3].timeout: slow has invalid duration format in "
        f"timeout {go}",
    ]


def test_lint_counts_a_literal_item_list(monkeypatch: pytest.MonkeyPatch) -> None:
    text = HUGE_SEQUENCE.replace('withSequence: {count: "999999999"}', "withItems: [a, b, c, d]")
    assert errors(text) == []
    monkeypatch.setenv("JUPYTER_ARGO_MAX_ITEMS", "3")
    assert errors(text) == [
        "wf.yaml:12:20: spec.templates[0].steps[0][0].withItems: withItems has 4 items, more "
        "than the 3 a loop may expand to (split the loop, or set JUPYTER_ARGO_MAX_ITEMS)"
    ]


def test_lint_accepts_go_durations_and_whole_seconds() -> None:
    text = BOUNDS.split("  - name: echo")[0].split("    - - name: many")[0]
    text += """    - - name: one
        template: pause
  - name: pause
    retryStrategy:
      limit: "10000"
      backoff: {duration: "1m30s", cap: "90", maxDuration: "1.5h"}
    suspend: {duration: "20"}
    timeout: 300ms
"""
    assert [e for e in errors(text) if "duration" in e or "limit" in e] == []


# ---- unpacking ----------------------------------------------------------------------------


def _zip_bomb(path: Path, size: int) -> None:
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("zeros.bin", "w") as out,
    ):
        chunk = bytes(1 << 20)
        for _ in range(size >> 20):
            out.write(chunk)


def _tgz_bomb(path: Path, size: int) -> None:
    with gzip.open(path, "wb", compresslevel=9) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for i in range(2):
            entry = tarfile.TarInfo(f"data/zeros-{i}.bin")
            entry.size = size // 2
            tar.addfile(entry, io.BytesIO(bytes(entry.size)))


def test_a_zip_bomb_is_refused_as_it_unpacks(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    _zip_bomb(bomb, 64 << 20)
    assert bomb.stat().st_size < 1 << 20
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(ArtifactError) as caught:
        unpack_zip(bomb, target, limit=8 << 20)
    assert str(caught.value) == (
        "archive unpacks to more than 8 MiB (at entry 'zeros.bin'): refused "
        "(raise JUPYTER_ARGO_MAX_UNPACKED to allow more)"
    )
    assert sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) <= 8 << 20


def test_the_unpack_limit_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = tmp_path / "bomb.tgz"
    _tgz_bomb(bomb, 32 << 20)
    monkeypatch.setenv("JUPYTER_ARGO_MAX_UNPACKED", "20M")
    (tmp_path / "a").mkdir()
    with pytest.raises(ArtifactError, match=r"more than 20 MiB \(at entry 'data/zeros-1.bin'\)"):
        unpack_tar(bomb, tmp_path / "a")
    monkeypatch.setenv("JUPYTER_ARGO_MAX_UNPACKED", "40M")
    (tmp_path / "b").mkdir()
    unpack_tar(bomb, tmp_path / "b")
    assert (tmp_path / "b" / "data" / "zeros-1.bin").stat().st_size == 16 << 20
