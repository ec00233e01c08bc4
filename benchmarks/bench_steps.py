"""Per step at scale: N parallel `sh -c true` steps against the machine's spawn floor.

Target (issue 16, item 3): at 1,000 and 5,000 parallel steps, in every isolation mode,
a step costs at most 1 ms of wall time above the spawn floor: (run - floor) / N.

The run: a workflow whose one step group fans `sh -c true` out N times (withSequence,
no parallelism limit, so the engine's own limit of concurrent pods applies: its
`max_pods`, 64), submitted to a warm engine; its time is submit to the final snapshot.

The floor: what it costs this machine to start and reap N `sh -c true` processes with
at most C of them alive at once, measured in the same process right before each run
(floor and run alternate, round after round; the medians are compared). It is the
faster of two ways, both measured each round:
- one thread starts every process with `os.posix_spawn` (the cheapest call Python has:
  vfork and exec, no Python in the child; `sh` found once, by its absolute path) and
  reaps the oldest with a blocking `waitpid` whenever C are alive (they all run the
  same command: the oldest is the next to end), the rest at the end;
- as many threads as the engine has spawning threads (4) start them at once, with
  posix_spawn called with the GIL released (as the engine calls it), while one thread
  reaps them in the order they started. On 2 loaded cores this one is about twice as
  fast: a start is mostly waiting for the child to exec.
Output goes to /dev/null; nothing else: no pipes, no sandbox, no bookkeeping. C is the
engine's limit (64): the most concurrency the engine could reach, so the floor is the
fastest this machine does the same work under the same bound (a floor at the engine's
measured concurrency, shown alongside, would be slower and flatter the engine).

Also reported per mode: the CPU time of the engine's event-loop thread per 1,000 pods,
the share of the run's wall time it is busy (not waiting in its selector for events:
near 100% means that thread is the bottleneck; its CPU time is less, as it also waits
in system calls), and the CPU time of the spawning threads, the namespace worker and
the output pump. Threads' CPU times come from /proc/self/task/TID/stat.

Each mode runs in a child process of its own (`python -m benchmarks.bench_steps child
MODE HOME`) with a fresh data directory.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._result import Result
from jupyter_argo.executors._executor import _SPAWNERS

COUNTS = (1_000, 5_000)
ROUNDS = {1_000: 3, 5_000: 2}
TARGET_MS = 1.0
SHELL = ["sh", "-c", "true"]
_MARK = "bench-steps-result: "


def _fan_out(count: int) -> dict[str, Any]:
    main = {
        "name": "main",
        "steps": [[{"name": "n", "template": "step", "withSequence": {"count": str(count)}}]],
    }
    step = {"name": "step", "container": {"image": "alpine", "command": SHELL}}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "steps-"},
        "spec": {"entrypoint": "main", "templates": [main, step]},
    }


# ---- the floor ----------------------------------------------------------------------


def spawn_floor(count: int, concurrency: int) -> float:
    """Seconds to posix_spawn and reap `count` `sh -c true`, at most `concurrency` alive,
    started one after another by this thread."""
    program = shutil.which(SHELL[0])
    assert program is not None
    env = {"PATH": os.defpath}
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    actions = [(os.POSIX_SPAWN_DUP2, null, fd) for fd in (0, 1, 2)]
    alive: list[int] = []
    start = time.perf_counter()
    try:
        for _ in range(count):
            if len(alive) >= concurrency:
                os.waitpid(alive.pop(0), 0)
            alive.append(os.posix_spawn(program, SHELL, env, file_actions=actions))
        for pid in alive:
            os.waitpid(pid, 0)
    finally:
        os.close(null)
    return time.perf_counter() - start


def spawn_floor_threads(count: int, concurrency: int, threads: int) -> float:
    """`spawn_floor` with `threads` threads starting processes at once (posix_spawn with
    the GIL released, as the engine's spawning threads call it) while this one reaps them
    in the order they started."""
    from jupyter_argo.executors import _posix_spawn

    program = shutil.which(SHELL[0])
    assert program is not None
    if not _posix_spawn.available():  # no GIL-free posix_spawn here: one thread's floor
        return spawn_floor(count, concurrency)
    env = {"PATH": os.defpath}
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    room = threading.BoundedSemaphore(concurrency)
    started: queue.SimpleQueue[int] = queue.SimpleQueue()
    left = [count]
    lock = threading.Lock()

    def starter() -> None:
        while True:
            with lock:
                if not left[0]:
                    return
                left[0] -= 1
            room.acquire()
            pid = _posix_spawn.spawn(
                program, SHELL, env, cwd="/", stdin=null, stdout=null, stderr=null
            )
            started.put(pid)

    start = time.perf_counter()
    starters = [threading.Thread(target=starter) for _ in range(threads)]
    try:
        for thread in starters:
            thread.start()
        for _ in range(count):
            os.waitpid(started.get(), 0)
            room.release()
        for thread in starters:
            thread.join()
    finally:
        os.close(null)
    return time.perf_counter() - start


# ---- the child: one engine, one mode --------------------------------------------------


def _thread_cpu(name: str) -> float:
    """CPU seconds (user + system) of the live threads called `name`."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for thread in threading.enumerate():
        if thread.name != name or thread.native_id is None:
            continue
        try:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _maker_cpu() -> float:
    """CPU seconds of the sandbox maker processes (0 without one): each is the child of
    the process the engine started (bwrap, or the namespace maker's outer process)."""
    from jupyter_argo.executors import _maker

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for found in list(_maker._makers.values()):
        if found.dead:
            continue
        try:
            children = Path(f"/proc/{found.pid}/task/{found.pid}/children").read_text().split()
            stat = Path(f"/proc/{children[0]}/stat").read_text()
        except (OSError, IndexError):
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


_THREADS = {
    "engine": "jupyter-argo-engine",
    "spawn": "jupyter-argo-spawn",
    "ns": "jupyter-argo-ns",
    "pump": "jupyter-argo-pump",
    "cleanup": "jupyter-argo-cleanup",
}


class _Spans:
    """When each container started and ended (the engine's achieved concurrency)."""

    def __init__(self) -> None:
        self.spans: list[list[float]] = []
        from jupyter_argo.executors import ProcessExecutor

        spans = self.spans
        if not hasattr(ProcessExecutor, "start_async"):  # an older engine, for comparison
            original_start = ProcessExecutor.start

            def start(executor: Any, *args: Any, **kwargs: Any) -> Any:
                span = [time.perf_counter(), 0.0]
                process = original_start(executor, *args, **kwargs)
                spans.append(span)
                process.add_done_callback(lambda _: span.__setitem__(1, time.perf_counter()))
                return process

            ProcessExecutor.start = start  # type: ignore[method-assign]
            return
        original = ProcessExecutor.start_async

        async def start_async(executor: Any, *args: Any, **kwargs: Any) -> Any:
            process = await original(executor, *args, **kwargs)
            span = [time.perf_counter(), 0.0]  # started (the engine has it)
            spans.append(span)
            process.add_done_callback(lambda _: span.__setitem__(1, time.perf_counter()))
            return process

        ProcessExecutor.start_async = start_async  # type: ignore[method-assign]
        if not hasattr(ProcessExecutor, "start_soon"):
            return
        # Containers waited for to their end are started without the engine's awaiting:
        # a span begins when the spawning thread has started the process.
        from jupyter_argo.executors._starting import Starting

        original_settle = Starting.settle

        def settle(starting: Any, process: Any, error: Any) -> None:  # (spawning thread)
            if process is not None:  # started
                span = [time.perf_counter(), 0.0]
                spans.append(span)
                process.add_done_callback(lambda _: span.__setitem__(1, time.perf_counter()))
            original_settle(starting, process, error)

        Starting.settle = settle  # type: ignore[method-assign]

    def concurrency(self) -> tuple[float, int]:
        """Mean and peak number of containers alive, over the first start to the last end."""
        spans = [s for s in self.spans if s[1]]
        if not spans:
            return 0.0, 0
        first, last = min(s[0] for s in spans), max(s[1] for s in spans)
        mean = sum(end - begin for begin, end in spans) / max(last - first, 1e-9)
        events = sorted([(s[0], 1) for s in spans] + [(s[1], -1) for s in spans])
        alive = peak = 0
        for _, change in events:
            alive += change
            peak = max(peak, alive)
        return mean, peak


class _Idle:
    """Seconds the engine's event loop spent waiting in its selector (idle)."""

    def __init__(self, loop: Any) -> None:
        self.seconds = 0.0
        selector = loop._selector
        original = selector.select

        def select(timeout: float | None = None) -> Any:
            start = time.perf_counter()
            try:
                return original(timeout)
            finally:
                self.seconds += time.perf_counter() - start

        selector.select = select


def _child(mode: str, home: str) -> None:
    os.environ["JUPYTER_ARGO_ISOLATION"] = mode
    from jupyter_argo.backends.local import LocalBackend

    spans = _Spans()
    backend = LocalBackend(home=Path(home))

    def run(manifest: dict[str, Any]) -> float:
        start = time.perf_counter()
        name = backend.submit(manifest)["metadata"]["name"]
        final: dict[str, Any] = {}
        for snapshot in backend.watch(name):
            final = snapshot
        elapsed = time.perf_counter() - start
        status = final.get("status") or {}
        if status.get("phase") != "Succeeded":
            raise RuntimeError(f"{name} ended {status.get('phase')}: {status.get('message')}")
        return elapsed

    run(_fan_out(1))
    run(_fan_out(100))  # warm: blank namespaces, sandboxes made ahead, caches
    idle = _Idle(backend._loop)
    limit = backend.max_pods
    results: dict[str, Any] = {"max_pods": limit}
    for count in COUNTS:
        rounds = []
        for _ in range(ROUNDS[count]):
            one = spawn_floor(count, limit)
            many = spawn_floor_threads(count, limit, _SPAWNERS)
            floor = min(one, many)
            spans.spans.clear()
            before = {key: _thread_cpu(name) for key, name in _THREADS.items()}
            before["maker"] = _maker_cpu()
            idle.seconds = 0.0
            elapsed = run(_fan_out(count))
            busy = 1 - idle.seconds / elapsed
            cpu = {key: _thread_cpu(name) - before[key] for key, name in _THREADS.items()}
            cpu["maker"] = _maker_cpu() - before["maker"]
            mean, peak = spans.concurrency()
            rounds.append(
                {
                    "floor": floor,
                    "one": one,
                    "many": many,
                    "run": elapsed,
                    "cpu": cpu,
                    "busy": busy,
                    "mean": mean,
                    "peak": peak,
                }
            )
        results[str(count)] = rounds
    print(_MARK + json.dumps(results), flush=True)


# ---- the parent: one child per mode ---------------------------------------------------


def _modes() -> list[str]:
    from jupyter_argo.executors._bwrap import available as bwrap_available
    from jupyter_argo.executors._executor import _namespace_available

    modes = ["none", "remap"]
    if _namespace_available():
        modes.append("namespace")
    if bwrap_available():
        modes.append("bwrap")
    return modes


def measure(mode: str, timeout: float = 600) -> dict[str, Any] | str:
    root = Path(__file__).resolve().parent.parent
    home = tempfile.mkdtemp(prefix="bench-steps-")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_steps", "child", mode, home],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        stdout, problem = done.stdout, f"failed (exit {done.returncode})"
        problem += ": " + (done.stderr.strip().splitlines() or ["no output"])[-1]
    except subprocess.TimeoutExpired as expired:
        stdout, problem = str(expired.stdout or ""), f"did not finish within {timeout:g} s"
    finally:
        shutil.rmtree(home, ignore_errors=True)
    for line in stdout.splitlines():
        if line.startswith(_MARK):
            found: dict[str, Any] = json.loads(line[len(_MARK) :])
            return found
    return problem


def _results(mode: str, found: dict[str, Any] | str) -> list[Result]:
    results = []
    for count in COUNTS:
        name = f"steps {mode}: {count:,} parallel sh -c true, per step above the spawn floor"
        if isinstance(found, str):
            results.append(Result(name, float("inf"), "ms", TARGET_MS, detail=found))
            continue
        rounds = found[str(count)]
        per_step = statistics.median((r["run"] - r["floor"]) / count * 1e3 for r in rounds)
        run = statistics.median(r["run"] for r in rounds)
        floor = statistics.median(r["floor"] for r in rounds)
        one = statistics.median(r["one"] for r in rounds)
        many = statistics.median(r["many"] for r in rounds)

        def cpu(key: str, rounds: list[dict[str, Any]] = rounds, count: int = count) -> float:
            return statistics.median(r["cpu"][key] for r in rounds) * 1000 / count

        busy = statistics.median(r["busy"] for r in rounds)
        mean = statistics.median(r["mean"] for r in rounds)
        peak = statistics.median(r["peak"] for r in rounds)
        results.append(
            Result(
                name,
                per_step,
                "ms",
                TARGET_MS,
                detail=f"run {run:.2f} s, floor {floor:.2f} s at concurrency "
                f"{found['max_pods']} (started by 1 thread {one:.2f} s, by {_SPAWNERS} "
                f"threads {many:.2f} s); engine concurrency mean {mean:.1f} peak {peak:.0f}; "
                f"CPU per 1,000 pods: engine thread {cpu('engine'):.2f} s "
                f"(the thread busy {busy:.0%} of the run), spawning thread "
                f"{cpu('spawn'):.2f} s, namespace worker {cpu('ns'):.2f} s, "
                f"pump {cpu('pump'):.2f} s, clean-up {cpu('cleanup'):.2f} s"
                + (f", sandbox maker {cpu('maker'):.2f} s" if cpu("maker") else ""),
            )
        )
    return results


def run() -> list[Result]:
    results: list[Result] = []
    for mode in _modes():
        results += _results(mode, measure(mode))
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        _child(sys.argv[2], sys.argv[3])
    else:  # `python -m benchmarks.bench_steps [MODE...]`: print the chosen modes' rows
        for mode in sys.argv[1:] or _modes():
            for result in _results(mode, measure(mode)):
                print(result.line(), flush=True)
