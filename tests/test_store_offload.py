"""Node status offloading in the local store, as Argo's controller offloads it
(`workflow/hydrator/hydrator.go`, `workflow/packer/packer.go`,
`persist/sqldb/offload_node_status_repo.go`): past MAX_WORKFLOW_SIZE (or always, with
ALWAYS_OFFLOAD_NODE_STATUS=true) the stored Workflow keeps
`status.offloadNodeStatusVersion` (`fnv:<uint32>`) instead of `status.nodes`, and every
reader gets the nodes back with the version cleared (HydrateWithNodes)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.engine.offload import max_workflow_size
from jupyter_argo.engine.store import NODES_FILE, STORE_FILE, Store, doctor
from jupyter_argo.run import Run

VERSION = "offloadNodeStatusVersion"
# Argo's offload_node_status_repo.go: fmt.Sprintf("fnv:%v", h.Sum32()).
ARGO_VERSION = re.compile(r"fnv:\d{1,10}")


def sequence(count: int, command: str = "true") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "wide-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "steps": [
                        [{"name": "n", "template": "step", "withSequence": {"count": count}}]
                    ],
                },
                {
                    "name": "step",
                    "container": {"image": "alpine", "command": ["sh", "-c", command]},
                },
            ],
        },
    }


def cli(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_argo.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JUPYTER_ARGO_HOME": str(home), **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def rows(home: Path, uid: str) -> int:
    with sqlite3.connect(home / STORE_FILE) as conn:
        return int(
            conn.execute("SELECT count(*) FROM offloaded_nodes WHERE uid=?", (uid,)).fetchone()[0]
        )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_size_limit_reads_as_argo_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # packer.getMaxWorkflowSize: strconv.Atoi, 0 (or an error) meaning 1024 * 1024.
    for raw, size in (("", 1 << 20), ("0", 1 << 20), ("lots", 1 << 20), ("4096", 4096)):
        monkeypatch.setenv("MAX_WORKFLOW_SIZE", raw)
        assert max_workflow_size() == size


def test_run_past_the_limit_is_offloaded_and_read_back_the_same_everywhere(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_WORKFLOW_SIZE", "20000")
    backend = LocalBackend(home=home)
    name = backend.submit(sequence(60))["metadata"]["name"]
    live = backend.wait(name, timeout=120)
    assert live["status"]["phase"] == "Succeeded"
    assert len(live["status"]["nodes"]) == 62
    assert len(json.dumps(live)) > 20000

    # The stored object: as Argo's API server holds an offloaded Workflow.
    store = Store(home)
    stored = store.stored_workflow(name)
    assert "nodes" not in stored["status"]
    assert ARGO_VERSION.fullmatch(stored["status"][VERSION])
    assert rows(home, live["metadata"]["uid"]) == 62

    # Every reader hydrates: the nodes back in order, the version cleared.
    expected = live["status"]
    for read in (
        store.get_workflow(name)["status"],
        json.loads(cli(home, "get", name, "-o", "json"))["status"],
        dict(Run(LocalBackend(home=home), {"metadata": {"name": name}}).status),
        store.list_workflows()[0]["status"],
    ):
        assert VERSION not in read
        assert read == expected
        assert list(read["nodes"]) == list(expected["nodes"])
    # The Python Run API of a process that did not run it: the same nodes, in its order.
    fresh = Run(LocalBackend(home=home), {"metadata": {"name": name}})
    assert [n.id for n in fresh.nodes()] == [n.id for n in Run(backend, live).nodes()]
    assert fresh.node("n(59:59)").phase == "Succeeded"


def test_small_run_stays_inline(home: Path) -> None:
    backend = LocalBackend(home=home)
    name = backend.submit(sequence(2))["metadata"]["name"]
    backend.wait(name, timeout=60)
    stored = Store(home).stored_workflow(name)
    assert VERSION not in stored["status"]
    assert len(stored["status"]["nodes"]) == 4
    assert rows(home, stored["metadata"]["uid"]) == 0
    assert not (home / "runs" / stored["metadata"]["uid"] / NODES_FILE).exists()


def test_version_is_a_content_hash_as_argo_computes_its_own(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ALWAYS_OFFLOAD_NODE_STATUS=true: offloaded whatever the size (hydrator.go).
    monkeypatch.setenv("ALWAYS_OFFLOAD_NODE_STATUS", "true")
    store = Store(home)
    nodes = {f"w-{i}": {"id": f"w-{i}", "name": f"w[{i}]", "phase": "Pending"} for i in range(3)}
    workflow: dict[str, Any] = {
        "metadata": {"name": "w", "namespace": "default", "uid": "u-1", "creationTimestamp": "t"},
        "status": {"phase": "Running", "nodes": nodes},
    }
    assert store.create_workflow(workflow)
    first = store.stored_workflow("w")["status"][VERSION]
    assert ARGO_VERSION.fullmatch(first)

    # The same nodes: the same version (Argo's Save of a duplicate key is a no-op).
    again = {**workflow, "status": {"phase": "Running", "nodes": dict(nodes)}}
    store.save_workflow(again, shared_nodes=True)
    assert store.stored_workflow("w")["status"][VERSION] == first

    # One node changes (a new object, as the engine's snapshots make): another version,
    # one line written.
    changed = dict(nodes)
    changed["w-1"] = {**nodes["w-1"], "phase": "Succeeded"}
    lines = (home / "runs" / "u-1" / NODES_FILE).read_text().splitlines()
    store.save_workflow(
        {**workflow, "status": {"phase": "Running", "nodes": changed}}, shared_nodes=True
    )
    second = store.stored_workflow("w")["status"][VERSION]
    assert second != first
    after = (home / "runs" / "u-1" / NODES_FILE).read_text().splitlines()
    assert after[: len(lines)] == lines
    assert [json.loads(line) for line in after[len(lines) :]] == [["w-1", changed["w-1"]]]
    assert store.get_workflow("w")["status"]["nodes"] == changed

    # Back to the first nodes: back to the first version.
    store.save_workflow(workflow)
    assert store.stored_workflow("w")["status"][VERSION] == first

    # A node gone is gone from the store too; a process of its own reads the same.
    fewer = {k: v for k, v in changed.items() if k != "w-0"}
    store.save_workflow({**workflow, "status": {"phase": "Running", "nodes": fewer}})
    assert rows(home, "u-1") == 2
    assert Store(home).get_workflow("w")["status"]["nodes"] == fewer

    # Inline again once offloading is off and it fits: no version, no rows, no file.
    monkeypatch.delenv("ALWAYS_OFFLOAD_NODE_STATUS")
    store.save_workflow({**workflow, "status": {"phase": "Running", "nodes": fewer}})
    stored = store.stored_workflow("w")
    assert VERSION not in stored["status"]
    assert stored["status"]["nodes"] == fewer
    assert rows(home, "u-1") == 0
    assert not (home / "runs" / "u-1" / NODES_FILE).exists()


def test_killed_engine_leaves_an_offloaded_run_consistent(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(sequence(40, "sleep 60")))
    env = {"MAX_WORKFLOW_SIZE": "8000"}
    runner = subprocess.Popen(
        [sys.executable, "-m", "jupyter_argo.cli", "run", str(path)],
        env={**os.environ, "JUPYTER_ARGO_HOME": str(home), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Saved within a second or so of its nodes starting, though none of them ends.
        deadline = time.monotonic() + 30
        stored: dict[str, Any] = {}
        while VERSION not in stored.get("status", {}) and time.monotonic() < deadline:
            time.sleep(0.1)
            with contextlib.suppress(sqlite3.OperationalError):  # not made yet
                conn = sqlite3.connect(f"file:{home / STORE_FILE}?mode=ro", uri=True, timeout=30)
                try:
                    row = conn.execute("SELECT body FROM workflows").fetchone()
                finally:
                    conn.close()
                stored = json.loads(row[0]) if row else {}
        assert VERSION in stored.get("status", {}), "the run was never offloaded"
    finally:
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
    name, uid = stored["metadata"]["name"], stored["metadata"]["uid"]

    # Read by a new process: reaped as Error, every node there and ended.
    workflow = json.loads(cli(home, "get", name, "-o", "json", env=env))
    assert workflow["status"]["phase"] == "Error"
    nodes = workflow["status"]["nodes"]
    assert len(nodes) == 42
    assert {n["phase"] for n in nodes.values()} <= {"Error", "Succeeded", "Failed"}
    assert rows(home, uid) == 42

    # The record on disk holds the same: a rebuilt store reads it back identically.
    for suffix in ("", "-wal", "-shm"):
        (home / f"{STORE_FILE}{suffix}").unlink(missing_ok=True)
    assert doctor(home).lines[-1].endswith(": ok, 1 runs")  # rebuilt as it opened
    assert Store(home).get_workflow(name)["status"] == workflow["status"]


def test_doctor_leaves_out_a_torn_last_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALWAYS_OFFLOAD_NODE_STATUS", "true")
    store = Store(home)
    nodes = {"w-a": {"id": "w-a", "phase": "Running"}}
    workflow: dict[str, Any] = {
        "metadata": {"name": "w", "namespace": "default", "uid": "u-2", "creationTimestamp": "t"},
        "status": {"phase": "Failed", "finishedAt": "t", "nodes": nodes},
    }
    store.create_workflow(workflow)
    store.close()
    # The process was killed as it appended the next save.
    with (home / "runs" / "u-2" / NODES_FILE).open("a") as out:
        out.write('["w-a", {"id": "w-a", "phase": "Succ')
    for suffix in ("", "-wal", "-shm"):
        (home / f"{STORE_FILE}{suffix}").unlink(missing_ok=True)
    assert doctor(home).lines[-1].endswith(": ok, 1 runs")  # rebuilt as it opened
    rebuilt = Store(home).get_workflow("w")
    assert rebuilt["status"]["nodes"] == nodes
