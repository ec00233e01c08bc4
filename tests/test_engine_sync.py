"""Synchronization (docs/synchronization.md) against Argo's workflow/sync/ and operator.go:
mutexes and ConfigMap semaphores, workflow- and template-level, shared by runs of one
store (in one process and in several), the waiting queue's order, status.synchronization,
node synchronizationStatus and Argo's messages; bad configurations end the run with
one line and leave no lock behind."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import argo_examples

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.errors import NotFoundError
from jupyter_argo.spec.parse import parse_text
from jupyter_argo.status import node_id

# Each step logs when it starts and ends, to the nanosecond.
TIMED = "echo start $(date +%s.%N); sleep {seconds}; echo end $(date +%s.%N)"


@pytest.fixture
def engine() -> LocalBackend:
    return LocalBackend()


def workflow(sync: str, *, seconds: float = 0.5, priority: int | None = None) -> dict[str, Any]:
    text = f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: locked-}}
spec:
  entrypoint: main
  {f"priority: {priority}" if priority is not None else ""}
  synchronization:
{sync}
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c, "{TIMED.format(seconds=seconds)}"]
"""
    return parse_text(text)[0].body


def configmap(engine: LocalBackend, **data: str) -> None:
    engine.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "my-config"}, "data": data}
    )


def intervals(engine: LocalBackend, name: str) -> list[tuple[float, float]]:
    """(start, end) of each pod of the run, from its log."""
    times: dict[str, dict[str, float]] = {}
    for pod, line in engine.logs(name):
        word, _, stamp = line.partition(" ")
        times.setdefault(pod, {})[word] = float(stamp)
    return [(t["start"], t["end"]) for t in times.values()]


def most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def wait_until(engine: LocalBackend, name: str, check: Any, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            wf = engine.get(name)
        except NotFoundError:  # not created yet (another process submits it)
            wf = {"status": {}}
        if check(wf):
            return wf
        assert time.monotonic() < deadline, json.dumps(wf["status"], indent=1)[:3000]
        time.sleep(0.05)


def lock_rows(engine: LocalBackend) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(engine.store.path)
    try:
        return conn.execute("SELECT lock, holder, held FROM sync_locks").fetchall()
    finally:
        conn.close()


def name_of(wf: dict[str, Any]) -> str:
    return str(wf["metadata"]["name"])


MUTEX = "    mutexes:\n    - name: bar"
SEMAPHORE = "    semaphores:\n    - configMapKeyRef: {name: my-config, key: workflow}"


def test_a_workflow_mutex_serialises_two_runs_and_says_so_while_one_waits(
    engine: LocalBackend,
) -> None:
    first = name_of(engine.submit(workflow(MUTEX, seconds=1)))
    wait_until(engine, first, lambda wf: wf["status"]["phase"] == "Running")
    second = name_of(engine.submit(workflow(MUTEX, seconds=1)))
    waiting = wait_until(engine, second, lambda wf: wf["status"].get("message"))
    # operator.go: the workflow stays Pending with the lock's message (semaphore.go's
    # checkAcquire: free/limit); sync_manager.go keys: <ns>/Mutex/<name>, holder <ns>/<wf>.
    assert waiting["status"]["phase"] == "Pending"
    assert waiting["status"]["message"] == "Waiting for default/Mutex/bar lock. Lock status: 0/1"
    assert waiting["status"]["synchronization"] == {
        "mutex": {"waiting": [{"mutex": "default/Mutex/bar", "holder": f"default/{first}"}]}
    }
    assert waiting["status"].get("nodes", {}) == {}
    holding = engine.get(first)["status"]["synchronization"]
    assert holding == {
        "mutex": {"holding": [{"mutex": "default/Mutex/bar", "holder": f"default/{first}"}]}
    }
    done = [engine.wait(name, timeout=30) for name in (first, second)]
    assert [wf["status"]["phase"] for wf in done] == ["Succeeded", "Succeeded"]
    # ReleaseAll: a finished run keeps no synchronization status, and no lock.
    assert all("synchronization" not in wf["status"] for wf in done)
    assert "message" not in done[1]["status"]
    (first_span,), (second_span,) = intervals(engine, first), intervals(engine, second)
    assert first_span[1] <= second_span[0]
    assert lock_rows(engine) == []


def test_a_semaphore_holds_its_limit_over_more_runs(engine: LocalBackend) -> None:
    configmap(engine, workflow="2")
    names = [name_of(engine.submit(workflow(SEMAPHORE, seconds=0.6))) for _ in range(5)]
    seen_waiting: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not seen_waiting:
        for name in names:
            status = engine.get(name)["status"]
            if status.get("message", "").startswith("Waiting"):
                seen_waiting = status
        time.sleep(0.02)
    # Two hold it: none free of 2; the waiting entry lists the current holders.
    assert seen_waiting["message"] == (
        "Waiting for default/ConfigMap/my-config/workflow lock. Lock status: 0/2"
    )
    (entry,) = seen_waiting["synchronization"]["semaphore"]["waiting"]
    assert entry["semaphore"] == "default/ConfigMap/my-config/workflow"
    assert len(entry["holders"]) == 2
    assert set(entry["holders"]) <= {f"default/{n}" for n in names}
    done = [engine.wait(name, timeout=60) for name in names]
    assert {wf["status"]["phase"] for wf in done} == {"Succeeded"}
    spans = [span for name in names for span in intervals(engine, name)]
    assert most_at_once(spans) == 2
    assert lock_rows(engine) == []


def test_a_reapplied_configmap_changes_the_limit_for_waiting_runs(engine: LocalBackend) -> None:
    configmap(engine, workflow="1")
    names = [name_of(engine.submit(workflow(SEMAPHORE, seconds=3))) for _ in range(3)]
    time.sleep(0.8)
    phases = sorted(engine.get(name)["status"]["phase"] for name in names)
    assert phases == ["Pending", "Pending", "Running"]
    configmap(engine, workflow="3")  # getSyncLimit reads it again at the next attempt
    for name in names:
        wait_until(engine, name, lambda wf: wf["status"]["phase"] == "Running", timeout=5)
    done = [engine.wait(name, timeout=30) for name in names]
    assert {wf["status"]["phase"] for wf in done} == {"Succeeded"}
    spans = [span for name in names for span in intervals(engine, name)]
    assert most_at_once(spans) == 3


def test_a_run_needing_several_locks_waits_for_all_and_blocks_later_runs(
    engine: LocalBackend,
) -> None:
    alpha = "    mutexes:\n    - name: alpha"
    both = "    mutexes:\n    - name: alpha\n    - name: beta"
    beta = "    mutexes:\n    - name: beta"
    holder = name_of(engine.submit(workflow(alpha, seconds=1.5)))
    wait_until(engine, holder, lambda wf: wf["status"]["phase"] == "Running")
    needs_both = name_of(engine.submit(workflow(both, seconds=0.3)))
    wait_until(engine, needs_both, lambda wf: wf["status"].get("message"))
    time.sleep(1.1)  # a later creationTimestamp (whole seconds), so behind in the queue
    needs_beta = name_of(engine.submit(workflow(beta, seconds=0.3)))
    waiting = wait_until(engine, needs_beta, lambda wf: wf["status"].get("message"))
    status = engine.get(needs_both)["status"]
    assert status["message"] == "Waiting for default/Mutex/alpha lock. Lock status: 0/1"
    assert status["synchronization"]["mutex"]["waiting"] == [
        {"mutex": "default/Mutex/alpha", "holder": f"default/{holder}"}
    ]
    # docs: "all other Workflows that also need those same locks will wait", even for
    # the free `beta`: the run at the front of beta's queue needs alpha too.
    assert waiting["status"]["phase"] == "Pending"
    assert waiting["status"]["message"] == "Waiting for default/Mutex/beta lock. Lock status: 1/1"
    done = {name: engine.wait(name, timeout=30) for name in (holder, needs_both, needs_beta)}
    assert {wf["status"]["phase"] for wf in done.values()} == {"Succeeded"}
    (h,) = intervals(engine, holder)
    (b,) = intervals(engine, needs_both)
    (c,) = intervals(engine, needs_beta)
    assert h[1] <= b[0] <= b[1] <= c[0]


def test_the_queue_takes_higher_priority_first(engine: LocalBackend) -> None:
    holder = name_of(engine.submit(workflow(MUTEX, seconds=1.5)))
    wait_until(engine, holder, lambda wf: wf["status"]["phase"] == "Running")
    low = name_of(engine.submit(workflow(MUTEX, seconds=0.3)))
    wait_until(engine, low, lambda wf: wf["status"].get("message"))
    high = name_of(engine.submit(workflow(MUTEX, seconds=0.3, priority=5)))
    wait_until(engine, high, lambda wf: wf["status"].get("message"))
    for name in (holder, low, high):
        assert engine.wait(name, timeout=30)["status"]["phase"] == "Succeeded"
    (h,), (lo,), (hi,) = (intervals(engine, n) for n in (holder, low, high))
    assert h[1] <= hi[0] < hi[1] <= lo[0]


def test_argo_template_mutex_example_runs_one_node_at_a_time(engine: LocalBackend) -> None:
    text = (argo_examples() / "synchronization-mutex-tmpl-level.yaml").read_text()
    timed = TIMED.format(seconds=0.3)
    text = text.replace('"sleep 20; echo acquired lock"', f'"{timed}"')
    text = text.replace('"sleep 50; echo acquired lock"', f'"{timed}"')
    name = name_of(engine.submit(parse_text(text)[0].body))
    prefix = f"{name}[0].synchronization-acquire-lock"

    def some_node_waits(wf: dict[str, Any]) -> bool:
        return any(n.get("synchronizationStatus") for n in wf["status"].get("nodes", {}).values())

    seen = wait_until(engine, name, some_node_waits)
    nodes = seen["status"]["nodes"]
    waiting = [n for n in nodes.values() if n.get("synchronizationStatus")]
    for node in waiting:
        lock = "welcome" if node["templateName"] == "acquire-lock" else "test"
        assert node["phase"] == "Pending"
        assert node["synchronizationStatus"] == {"waiting": f"default/Mutex/{lock}"}
        assert node["message"] == f"Waiting for default/Mutex/{lock} lock. Lock status: 0/1"
    # A template's holder is <ns>/<workflow>/<node ID>.
    holders = {
        h["mutex"]: h["holder"] for h in seen["status"]["synchronization"]["mutex"]["holding"]
    }
    ids = {n["id"] for n in nodes.values() if n["name"].startswith(prefix)}
    assert {h.rsplit("/", 1)[1] for h in holders.values()} <= ids
    assert all(h.startswith(f"default/{name}/") for h in holders.values())
    final = engine.wait(name, timeout=60)
    assert final["status"]["phase"] == "Succeeded"
    assert "synchronization" not in final["status"]
    assert not any(n.get("synchronizationStatus") for n in final["status"]["nodes"].values())
    assert not any(n.get("message") for n in final["status"]["nodes"].values())
    assert final["status"]["progress"] == "10/10"
    spans: dict[str, list[tuple[float, float]]] = {"acquire-lock": [], "acquire-lock-1": []}
    pods = dict(zip(_pods(engine, name), intervals(engine, name), strict=True))
    for pod, span in pods.items():
        spans["acquire-lock-1" if "acquire-lock-1-" in pod else "acquire-lock"].append(span)
    assert [len(s) for s in spans.values()] == [5, 5]
    assert most_at_once(spans["acquire-lock"]) == 1
    assert most_at_once(spans["acquire-lock-1"]) == 1
    # The two mutexes are different locks: the groups run side by side.
    assert most_at_once(spans["acquire-lock"] + spans["acquire-lock-1"]) == 2


def _pods(engine: LocalBackend, name: str) -> list[str]:
    return list(dict.fromkeys(pod for pod, _ in engine.logs(name)))


def test_a_template_semaphore_is_shared_by_two_runs(engine: LocalBackend) -> None:
    configmap(engine, template="2")
    text = (argo_examples() / "synchronization-tmpl-level.yaml").read_text()
    text = text.replace('"sleep 10; echo acquired lock"', f'"{TIMED.format(seconds=0.4)}"')
    body = parse_text(text)[0].body
    names = [name_of(engine.submit(body)) for _ in range(2)]
    done = [engine.wait(name, timeout=60) for name in names]
    assert {wf["status"]["phase"] for wf in done} == {"Succeeded"}
    spans = [span for name in names for span in intervals(engine, name)]
    assert len(spans) == 10
    assert most_at_once(spans) == 2


def test_a_non_integer_limit_fails_the_run_in_one_line_and_holds_nothing(
    engine: LocalBackend,
) -> None:
    configmap(engine, workflow="two")
    wf = engine.wait(name_of(engine.submit(workflow(SEMAPHORE))), timeout=30)
    # operator.go: markWorkflowFailed("Failed to acquire the synchronization lock. " + err),
    # err from newInternalSemaphore; the reason and the place follow.
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == (
        "Failed to acquire the synchronization lock. failed to initialize semaphore "
        "default/ConfigMap/my-config/workflow with limit: ConfigMap my-config key "
        "'workflow': limit 'two' is not an integer (spec.synchronization.semaphores[0])"
    )
    assert "\n" not in wf["status"]["message"]
    assert wf["status"].get("nodes", {}) == {}
    assert "synchronization" not in wf["status"]
    assert lock_rows(engine) == []


def test_a_non_integer_limit_on_a_template_errors_its_node(engine: LocalBackend) -> None:
    configmap(engine, template="1.5")
    text = (argo_examples() / "synchronization-tmpl-level.yaml").read_text()
    wf = engine.wait(name_of(engine.submit(parse_text(text)[0].body)), timeout=30)
    errored = [n for n in wf["status"]["nodes"].values() if n["phase"] == "Error"]
    assert len(errored) == 5
    assert {n["message"] for n in errored} == {
        "failed to initialize semaphore default/ConfigMap/my-config/template with limit: "
        "ConfigMap my-config key 'template': limit '1.5' is not an integer "
        "(templates.acquire-lock.synchronization.semaphores[0])"
    }
    assert wf["status"]["phase"] in ("Failed", "Error")
    assert lock_rows(engine) == []


@pytest.mark.parametrize(
    ("sync", "message"),
    [
        (
            "    mutexes:\n    - {name: bar, database: true}",
            "Failed to acquire the synchronization lock. database session is not available "
            "for mutex default/Database/bar (the local engine has no synchronization "
            "database: run database locks with the kubernetes backend) "
            "(spec.synchronization.mutexes[0])",
        ),
        (
            "    mutexes:\n    - name: bar\n    - name: bar",
            "Failed to acquire the synchronization lock. requested configuration is invalid: "
            "duplicate synchronization item found (spec.synchronization)",
        ),
        (
            "    semaphores:\n    - namespace: other",
            "Failed to acquire the synchronization lock. requested configuration is invalid: "
            "cannot get LockName for a Semaphore without a ConfigMapRef or Database "
            "(spec.synchronization.semaphores[0])",
        ),
    ],
)
def test_what_argo_refuses_is_refused(engine: LocalBackend, sync: str, message: str) -> None:
    wf = engine.wait(name_of(engine.submit(workflow(sync))), timeout=30)
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == message
    assert lock_rows(engine) == []


def test_terminating_a_waiting_run_releases_its_place(engine: LocalBackend) -> None:
    holder = name_of(engine.submit(workflow(MUTEX, seconds=1)))
    wait_until(engine, holder, lambda wf: wf["status"]["phase"] == "Running")
    waiting = name_of(engine.submit(workflow(MUTEX, seconds=0.2)))
    wait_until(engine, waiting, lambda wf: wf["status"].get("message"))
    engine.terminate(waiting)
    # releaseLocksForPendingShuttingdownWfs: released, and marked Succeeded.
    wf = engine.wait(waiting, timeout=10)
    assert wf["status"]["phase"] == "Succeeded"
    assert "synchronization" not in wf["status"]
    assert wf["status"].get("nodes", {}) == {}
    assert engine.wait(holder, timeout=30)["status"]["phase"] == "Succeeded"
    assert lock_rows(engine) == []


def test_a_lock_held_by_a_killed_engine_is_released_when_its_run_is_marked_error(
    engine: LocalBackend, tmp_path: Path
) -> None:
    path = tmp_path / "holder.yaml"
    path.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: holder}\n"
        "spec:\n  entrypoint: main\n  synchronization:\n    mutexes: [{name: bar}]\n"
        "  templates:\n  - name: main\n    container:\n      image: alpine\n"
        '      command: [sh, -c, "echo started; sleep 20"]\n'
    )
    runner = subprocess.Popen(
        [sys.executable, "-m", "jupyter_argo.cli", "run", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        start_new_session=True,
    )
    try:
        wait_until(
            engine,
            "holder",
            lambda wf: wf["status"].get("synchronization", {}).get("mutex", {}).get("holding"),
            timeout=30,
        )
        waiting = name_of(engine.submit(workflow(MUTEX, seconds=0.2)))
        status = wait_until(engine, waiting, lambda wf: wf["status"].get("message"))["status"]
        assert status["message"] == "Waiting for default/Mutex/bar lock. Lock status: 0/1"
        assert status["synchronization"]["mutex"]["waiting"] == [
            {"mutex": "default/Mutex/bar", "holder": "default/holder"}
        ]
        time.sleep(0.5)
        assert engine.get(waiting)["status"]["phase"] == "Pending"
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        wf = engine.wait(waiting, timeout=20)
        assert wf["status"]["phase"] == "Succeeded"
        dead = engine.get("holder")["status"]
        assert dead["phase"] == "Error"
        assert "the engine running this workflow stopped" in dead["message"]
        assert "synchronization" not in dead
        assert lock_rows(engine) == []
    finally:
        if runner.poll() is None:
            os.kill(runner.pid, signal.SIGKILL)
            runner.wait()


def test_a_node_waiting_for_its_lock_is_stopped_with_the_workflow(engine: LocalBackend) -> None:
    text = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: stop-waiting-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: locked}
      - {name: b, template: locked}
  - name: locked
    synchronization:
      mutexes: [{name: one}]
    container: {image: alpine, command: [sh, -c, "sleep 3"]}
"""
    name = name_of(engine.submit(parse_text(text)[0].body))
    wait_until(
        engine,
        name,
        lambda wf: any(
            n.get("synchronizationStatus") for n in wf["status"].get("nodes", {}).values()
        ),
    )
    engine.stop(name)
    wf = engine.wait(name, timeout=20)
    assert wf["status"]["phase"] == "Failed"
    steps = {n["displayName"]: n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"}
    assert {n["message"] for n in steps.values()} == {"Stopped with strategy 'Stop'"}
    assert not any(n.get("synchronizationStatus") for n in wf["status"]["nodes"].values())
    assert node_id(name, name) in wf["status"]["nodes"]
    assert lock_rows(engine) == []


def test_a_limit_made_unreadable_while_runs_wait_keeps_them_waiting_saying_why(
    engine: LocalBackend,
) -> None:
    configmap(engine, workflow="1")
    first = name_of(engine.submit(workflow(SEMAPHORE, seconds=1.5)))
    wait_until(engine, first, lambda wf: wf["status"]["phase"] == "Running")
    second = name_of(engine.submit(workflow(SEMAPHORE, seconds=0.2)))
    wait_until(engine, second, lambda wf: wf["status"].get("message"))
    configmap(engine, workflow="one")
    # semaphore.go's checkAcquire: a semaphore in use whose limit cannot be read waits.
    status = wait_until(
        engine, second, lambda wf: wf["status"].get("message", "").startswith("Failed")
    )["status"]
    assert status["phase"] == "Pending"
    assert status["message"] == (
        "Failed to get semaphore limit for default/ConfigMap/my-config/workflow: ConfigMap "
        "my-config key 'workflow': limit 'one' is not an integer"
    )
    assert engine.wait(first, timeout=30)["status"]["phase"] == "Succeeded"
    time.sleep(0.5)
    assert engine.get(second)["status"]["phase"] == "Pending"
    configmap(engine, workflow="1")
    assert engine.wait(second, timeout=30)["status"]["phase"] == "Succeeded"
    assert lock_rows(engine) == []


def test_runs_of_two_detached_runners_share_a_mutex(engine: LocalBackend, tmp_path: Path) -> None:
    path = tmp_path / "locked.yaml"
    path.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: locked-}\n"
        "spec:\n  entrypoint: main\n  synchronization:\n    mutexes: [{name: bar}]\n"
        "  templates:\n  - name: main\n    container:\n      image: alpine\n"
        f'      command: [sh, -c, "{TIMED.format(seconds=1)}"]\n'
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    names = []
    for _ in range(2):  # `jupyter-argo submit`: each run in a runner process of its own
        done = subprocess.run(
            [sys.executable, "-m", "jupyter_argo.cli", "submit", str(path), "-o", "json"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=60,
        )
        names.append(name_of(json.loads(done.stdout)))
    finals = [engine.wait(name, timeout=60) for name in names]
    assert [wf["status"]["phase"] for wf in finals] == ["Succeeded", "Succeeded"]
    spans = sorted(span for name in names for span in intervals(engine, name))
    assert len(spans) == 2
    assert spans[0][1] <= spans[1][0]
    assert lock_rows(engine) == []


DAEMON = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: daemon-lock-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: serve, template: served}
    - - {name: after, template: locked-step}
  - name: served
    dag:
      tasks:
      - {name: server, template: daemon}
      - {name: client, template: client, dependencies: [server]}
      - {name: waiter, template: locked-step, dependencies: [server]}
  - name: daemon
    daemon: true
    synchronization:
      mutexes: [{name: held-by-daemon}]
    container: {image: alpine, command: [sh, -c, "sleep 60"]}
  - name: client
    container: {image: alpine, command: [sh, -c, "sleep 0.5"]}
  - name: locked-step
    synchronization:
      mutexes: [{name: held-by-daemon}]
    container: {image: alpine, command: [sh, -c, "true"]}
"""


def test_a_daemon_keeps_its_lock_until_it_is_killed(engine: LocalBackend) -> None:
    name = name_of(engine.submit(parse_text(DAEMON)[0].body))

    def waiter_waits(wf: dict[str, Any]) -> bool:
        return any(
            n.get("displayName") == "waiter" and n.get("synchronizationStatus")
            for n in wf["status"].get("nodes", {}).values()
        )

    seen = wait_until(engine, name, waiter_waits)
    (waiter,) = [n for n in seen["status"]["nodes"].values() if n["displayName"] == "waiter"]
    assert waiter["message"] == "Waiting for default/Mutex/held-by-daemon lock. Lock status: 0/1"
    # The DAG cannot end while its task waits for the daemon's lock; stop it, as a user
    # would: the daemon is killed, the lock given back, the run ends.
    engine.stop(name)
    wf = engine.wait(name, timeout=30)
    assert wf["status"]["phase"] == "Failed"
    assert lock_rows(engine) == []


def test_an_interrupted_run_waiting_for_its_lock_fails_with_the_reason(
    engine: LocalBackend,
) -> None:
    holder = name_of(engine.submit(workflow(MUTEX, seconds=1)))
    wait_until(engine, holder, lambda wf: wf["status"]["phase"] == "Running")
    waiting = name_of(engine.submit(workflow(MUTEX, seconds=0.2)))
    wait_until(engine, waiting, lambda wf: wf["status"].get("message"))
    final = engine.interrupt(waiting, message="interrupted by the user", timeout=5)
    assert final["status"]["phase"] == "Failed"
    assert final["status"]["message"] == "interrupted by the user"
    assert "synchronization" not in final["status"]
    assert engine.wait(holder, timeout=30)["status"]["phase"] == "Succeeded"
    assert lock_rows(engine) == []


PARAMETRISED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: named-lock-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: lock, value: from-workflow}]}
  synchronization:
    mutexes: [{name: "{{workflow.parameters.lock}}"}]
  templates:
  - name: main
    steps:
    - - name: step
        template: locked
        arguments: {parameters: [{name: lock, value: from-step}]}
  - name: locked
    inputs: {parameters: [{name: lock}]}
    synchronization:
      mutexes: [{name: "{{inputs.parameters.lock}}"}]
    container: {image: alpine, command: [sh, -c, "sleep 1"]}
"""


def test_lock_names_take_the_workflow_and_template_parameters(engine: LocalBackend) -> None:
    name = name_of(engine.submit(parse_text(PARAMETRISED)[0].body))

    def both_held(wf: dict[str, Any]) -> bool:
        holding = (wf["status"].get("synchronization") or {}).get("mutex", {}).get("holding")
        return bool(holding) and len(holding) == 2

    seen = wait_until(engine, name, both_held)
    step = next(n for n in seen["status"]["nodes"].values() if n["displayName"] == "step")
    assert seen["status"]["synchronization"]["mutex"]["holding"] == [
        {"mutex": "default/Mutex/from-workflow", "holder": f"default/{name}"},
        {"mutex": "default/Mutex/from-step", "holder": f"default/{name}/{step['id']}"},
    ]
    assert engine.wait(name, timeout=30)["status"]["phase"] == "Succeeded"
    assert lock_rows(engine) == []
