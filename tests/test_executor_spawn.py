"""How steps' processes start: posix_spawn in every isolation mode, on spawning threads
that start many steps at once without mixing up their files, environments or working
directories."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import printed

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.errors import BackendError
from jupyter_argo.executors import (
    ContainerSpec,
    Process,
    ProcessExecutor,
    Sandbox,
    SandboxSpec,
    _linux,
    _posix_spawn,
)
from jupyter_argo.executors._bwrap import available as bwrap_available
from jupyter_argo.executors._executor import (
    _MAKER_SPAWNERS,
    _SPAWNERS,
    _namespace_available,
    _spawner,
)

MODES = ["none", "remap"]
if _namespace_available():
    MODES.append("namespace")
if bwrap_available():
    MODES.append("bwrap")
PRIVATE = [m for m in MODES if m != "none"]  # each node has its own /tmp
PID_NAMESPACES = [m for m in MODES if m in ("namespace", "bwrap")]


class _Spy:
    """Records the programs started through posix_spawn and through subprocess.Popen,
    each call going on to the real function."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.spawned: list[list[str]] = []
        self.popened: list[list[str]] = []
        spawn, popen_init = _posix_spawn.spawn, subprocess.Popen.__init__
        real_posix_spawn = os.posix_spawn

        def spied_spawn(program: str, argv: list[str], *args: Any, **kwargs: Any) -> int:
            self.spawned.append(list(argv))
            return spawn(program, argv, *args, **kwargs)

        def spied_os_spawn(program: Any, argv: Any, *args: Any, **kwargs: Any) -> int:
            self.spawned.append([str(a) for a in argv])
            return real_posix_spawn(program, argv, *args, **kwargs)

        def spied_popen(popen: Any, argv: Any, *args: Any, **kwargs: Any) -> None:
            self.popened.append([str(a) for a in argv] if isinstance(argv, list) else [argv])
            popen_init(popen, argv, *args, **kwargs)

        monkeypatch.setattr(_posix_spawn, "spawn", spied_spawn)
        monkeypatch.setattr(os, "posix_spawn", spied_os_spawn)
        monkeypatch.setattr(subprocess.Popen, "__init__", spied_popen)


def _start_all(
    executor: ProcessExecutor, starts: list[tuple[ContainerSpec, Sandbox, Path]]
) -> list[Process]:
    """Start every container at once from an event loop, as the engine does."""

    async def main() -> list[Process]:
        return list(
            await asyncio.gather(
                *(
                    executor.start_async(
                        container, sandbox, stdout_path=home / "stdout", log_path=home / "log"
                    )
                    for container, sandbox, home in starts
                )
            )
        )

    return asyncio.run(main())


@pytest.fixture(params=[True, False], ids=["addchdir", "own-cwd-thread"])
def addchdir(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """With the C library's working-directory action, and without it (glibc < 2.29):
    then a thread with a working directory of its own changes to the step's."""
    if not request.param:
        monkeypatch.setattr(_posix_spawn, "_lib", None)
        monkeypatch.setattr(_posix_spawn, "_unavailable", True)
    elif not _posix_spawn.available():
        pytest.skip("this C library has no posix_spawn_file_actions_addchdir_np")
    return bool(request.param)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_starts_steps_with_posix_spawn(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, addchdir: bool
) -> None:
    spy = _Spy(monkeypatch)
    executor = ProcessExecutor(isolation=mode)
    before = os.getcwd()
    sandbox = executor.prepare(SandboxSpec(tmp_path / "node", ["/tmp/work/out.txt"]))
    container = ContainerSpec(
        "main", "busybox", ["sh", "-c", "pwd; echo spawned"], [], {}, working_dir="/tmp/work"
    )
    process = executor.start(
        container, sandbox, stdout_path=tmp_path / "stdout", log_path=tmp_path / "log"
    )
    assert process.wait(30) == 0
    sandbox.cleanup(wait=True)
    where = "/tmp/work" if mode in ("namespace", "bwrap") else str(sandbox.host_path("/tmp/work"))
    assert printed(tmp_path / "stdout") == f"{where}\nspawned\n"
    started = [argv for argv in spy.spawned if argv[-1] == "pwd; echo spawned"]
    # In the bwrap mode the sandbox maker, a process of its own, starts it (posix_spawn).
    assert len(started) == (0 if mode == "bwrap" else 1)
    # (The engine's watchdog, one per executor, is the only Popen: never a step.)
    assert [argv for argv in spy.popened if "pwd; echo spawned" in argv] == []
    assert os.getcwd() == before  # the step's directory was the child's alone


@pytest.mark.parametrize("mode", MODES)
def test_steps_started_at_once_keep_their_own_environment_and_files(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 24
    executor = ProcessExecutor(isolation=mode)
    starts = []
    for i in range(count):
        home = tmp_path / f"n{i}"
        home.mkdir()
        # Without a sandbox the host's /tmp is everyone's: each step writes in its own.
        private = "/tmp" if mode != "none" else str(tmp_path / f"own{i}")
        sandbox = executor.prepare(SandboxSpec(home / "node", [f"{private}/out.txt"]))
        script = f'echo "$VALUE $(pwd)"; echo "$VALUE" > {private}/out.txt'
        container = ContainerSpec(
            "main", "busybox", ["sh", "-c", script], [], {"VALUE": f"v{i}"}, working_dir=private
        )
        starts.append((container, sandbox, home))
    processes = _start_all(executor, starts)
    assert [p.wait(60) for p in processes] == [0] * count
    for i, (_, sandbox, home) in enumerate(starts):
        private = "/tmp" if mode != "none" else str(tmp_path / f"own{i}")
        where = private if mode in ("namespace", "bwrap") else str(sandbox.host_path(private))
        assert printed(home / "stdout") == f"v{i} {where}\n"
        assert sandbox.host_path(f"{private}/out.txt").read_text() == f"v{i}\n"
        sandbox.cleanup(wait=True)


@pytest.mark.parametrize("mode", PID_NAMESPACES)
def test_containers_of_one_sandbox_started_at_once_share_it(mode: str, tmp_path: Path) -> None:
    # A containerSet's containers start together: each is PID 1 of its own PID namespace,
    # all see the one sandbox's /tmp.
    executor = ProcessExecutor(isolation=mode)
    sandbox = executor.prepare(SandboxSpec(tmp_path / "node", ["/tmp/shared"]))
    starts = []
    for i in range(6):
        home = tmp_path / f"c{i}"
        home.mkdir()
        script = f"echo $$; mkdir -p /tmp/shared; echo {i} > /tmp/shared/{i}"
        starts.append((ContainerSpec(f"c{i}", "busybox", ["sh", "-c", script], [], {}), sandbox))
    processes = _start_all(executor, [(c, s, tmp_path / c.name) for c, s in starts])
    assert [p.wait(60) for p in processes] == [0] * 6
    assert [printed(tmp_path / f"c{i}" / "stdout") for i in range(6)] == ["1\n"] * 6
    shared = sandbox.host_path("/tmp/shared")
    assert sorted(p.name for p in shared.iterdir()) == [str(i) for i in range(6)]
    sandbox.cleanup(wait=True)


def test_a_thread_without_its_own_directory_hands_the_change_over(tmp_path: Path) -> None:
    # with_own_fs on a plain thread: the change of directory happens elsewhere, this
    # thread and the process keep theirs.
    before = os.getcwd()
    seen = _linux.with_own_fs(lambda: (os.chdir(tmp_path), os.getcwd(), threading.get_ident()))
    assert seen[1] == str(tmp_path)
    assert seen[2] != threading.get_ident()
    assert os.getcwd() == before


@pytest.mark.parametrize("mode", PRIVATE)
def test_a_wide_fan_out_gives_every_step_its_own_output(mode: str) -> None:
    # Through the engine: 40 steps at once, each writes its item to the same path in its
    # own sandbox; each node's output parameter is its own item (Argo: one pod per item).
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "fan-out-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "steps": [
                        [
                            {
                                "name": "n",
                                "template": "write",
                                "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]},
                                "withSequence": {"count": "40"},
                            }
                        ]
                    ],
                },
                {
                    "name": "write",
                    "inputs": {"parameters": [{"name": "v"}]},
                    "container": {
                        "image": "busybox",
                        "command": ["sh", "-c"],
                        "args": ['echo -n "{{inputs.parameters.v}}-$ITEM" > /tmp/out.txt'],
                        "env": [{"name": "ITEM", "value": "{{inputs.parameters.v}}"}],
                    },
                    "outputs": {
                        "parameters": [{"name": "out", "valueFrom": {"path": "/tmp/out.txt"}}]
                    },
                },
            ],
        },
    }
    engine = LocalBackend(isolation=mode)
    name = engine.submit(manifest)["metadata"]["name"]
    workflow = engine.wait(name, timeout=120)
    assert workflow["status"]["phase"] == "Succeeded"
    pods = [n for n in workflow["status"]["nodes"].values() if n["type"] == "Pod"]
    assert len(pods) == 40
    for pod in pods:
        item = pod["inputs"]["parameters"][0]["value"]
        (out,) = pod["outputs"]["parameters"]
        assert out["value"] == f"{item}-{item}"


@pytest.mark.parametrize("mode", MODES)
def test_a_start_still_waiting_when_its_sandbox_is_cleaned_up_never_runs(
    mode: str, tmp_path: Path
) -> None:
    # The engine stops a run while a step's start waits for a spawning thread: the step
    # must not start afterwards (and never outside its sandbox, whose namespace is gone).
    executor = ProcessExecutor(isolation=mode)
    sandbox = executor.prepare(SandboxSpec(tmp_path / "node", ["/tmp/out.txt"]))
    gate = threading.Event()
    threads = _MAKER_SPAWNERS if mode == "bwrap" else _SPAWNERS
    spawner = _spawner(threads)

    def closed() -> None:
        gate.wait(30)

    # Every spawning thread made, then each busy until the gate opens.
    while len(spawner.threads) < threads:
        spawner.submit(closed)
    for _ in range(threads):
        spawner.submit(closed)
    container = ContainerSpec("main", "busybox", ["sh", "-c", "echo started"], [], {})

    async def main() -> None:
        start = asyncio.ensure_future(
            executor.start_async(
                container, sandbox, stdout_path=tmp_path / "stdout", log_path=tmp_path / "log"
            )
        )
        await asyncio.sleep(0.05)
        assert not start.done()
        sandbox.cleanup(wait=True)
        gate.set()
        with pytest.raises(BackendError, match="cleaned up before 'main' started"):
            await start

    try:
        asyncio.run(main())
    finally:
        gate.set()
    assert not (tmp_path / "stdout").exists()


def _spawners_held(threads: int, gate: threading.Event) -> None:
    """Every spawning thread of the pool made, then each busy until `gate` opens."""
    spawner = _spawner(threads)
    while len(spawner.threads) < threads:
        spawner.submit(lambda: None)
    for _ in range(threads):
        spawner.submit(lambda: gate.wait(30) and None)


def test_start_soon_asked_to_stop_before_its_start_stops_once_started(tmp_path: Path) -> None:
    # The engine holds a container from the moment it asks for its start (start_soon):
    # a stop asked while the start still waits for a spawning thread ends it once started,
    # as it ends any running container (SIGTERM to its group: 128 + 15).
    executor = ProcessExecutor(isolation="none")
    sandbox = executor.prepare(SandboxSpec(tmp_path / "node", []))
    gate = threading.Event()
    try:
        _spawners_held(_SPAWNERS, gate)
        container = ContainerSpec("main", "busybox", ["sh", "-c", "sleep 30"], [], {})
        process = executor.start_soon(
            container, sandbox, stdout_path=tmp_path / "stdout", log_path=tmp_path / "log"
        )
        ended: list[Any] = []
        process.add_done_callback(ended.append)
        process.terminate(grace=5)
        assert process.poll() is None
        assert not ended
    finally:
        gate.set()
    assert process.wait(20) == 143
    assert ended == [process]
    assert process.start_error is None
    sandbox.cleanup(wait=True)


@pytest.mark.parametrize("mode", MODES)
def test_start_soon_of_a_sandbox_cleaned_up_before_the_start_ends_with_the_error(
    mode: str, tmp_path: Path
) -> None:
    # What start_async raises, start_soon's process ends with: the step never runs.
    executor = ProcessExecutor(isolation=mode)
    sandbox = executor.prepare(SandboxSpec(tmp_path / "node", ["/tmp/out.txt"]))
    gate = threading.Event()
    try:
        _spawners_held(_MAKER_SPAWNERS if mode == "bwrap" else _SPAWNERS, gate)
        container = ContainerSpec("main", "busybox", ["sh", "-c", "echo started"], [], {})
        process = executor.start_soon(
            container, sandbox, stdout_path=tmp_path / "stdout", log_path=tmp_path / "log"
        )
        sandbox.cleanup(wait=True)
    finally:
        gate.set()
    process.wait(20)
    assert isinstance(process.start_error, BackendError)
    assert "cleaned up before 'main' started" in str(process.start_error)
    assert process.poll() is None
    process.kill()  # nothing to signal: no error either
    assert not (tmp_path / "stdout").exists()
    with pytest.raises(BackendError, match="cannot start 'main' after clean-up"):
        executor.start_soon(
            container, sandbox, stdout_path=tmp_path / "stdout", log_path=tmp_path / "log"
        )
