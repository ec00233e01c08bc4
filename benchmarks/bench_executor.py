"""Process executor: what a sandboxed step costs above a bare `subprocess` spawn.

A step is a full cycle: prepare, start, wait, cleanup. Steps and bare spawns
(`subprocess.Popen(argv).wait()`) alternate, and each number is the median over rounds
of step minus spawn (or step over spawn for the python row), so load from other work on
the machine affects both sides alike.

Node directories live on a tmpfs (/dev/shm) so the numbers are the executor's own: each
step creates a few directories and its stdout and log files, and on a slow disk those
cost more than the sandbox (one row shows a step with node directories on disk).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks._result import Result
from jupyter_argo.executors import ContainerSpec, ProcessExecutor, SandboxSpec
from jupyter_argo.executors._bwrap import available as bwrap_available
from jupyter_argo.executors._executor import _namespace_available

SHELL = ["sh", "-c", "true"]
PYTHON = [sys.executable, "-c", "pass"]


def _paired(step: Callable[[], None], bare: Callable[[], None], rounds: int) -> tuple[float, ...]:
    """Median step and bare times (ms), and the medians of their difference and ratio."""
    for _ in range(max(3, rounds // 10)):
        step()
        bare()
    steps, bares = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        bare()
        middle = time.perf_counter()
        step()
        steps.append(time.perf_counter() - middle)
        bares.append(middle - start)
    differences = [(s - b) * 1e3 for s, b in zip(steps, bares, strict=True)]
    ratios = [s / b for s, b in zip(steps, bares, strict=True)]
    return (
        statistics.median(steps) * 1e3,
        statistics.median(bares) * 1e3,
        statistics.median(differences),
        statistics.median(ratios),
    )


def _bare(argv: list[str]) -> Callable[[], None]:
    return lambda: subprocess.Popen(argv).wait() and None


def _step(
    executor: ProcessExecutor, work: Path, argv: list[str], declared: list[str]
) -> Callable[[], None]:
    counter = iter(range(10**9))
    container = ContainerSpec("main", "python" if argv is PYTHON else "busybox", argv, [], {})

    def run() -> None:
        node = work / f"n{next(counter)}"
        sandbox = executor.prepare(SandboxSpec(node, declared))
        process = executor.start(
            container, sandbox, stdout_path=node / "stdout", log_path=node / "log"
        )
        process.wait()
        sandbox.cleanup()

    return run


def _modes() -> list[str]:
    modes = ["none", "remap"]
    if _namespace_available():
        modes.append("namespace")
    if bwrap_available():
        modes.append("bwrap")
    return modes


# Executor overhead budgets (ms above the bare spawn); the engine's whole budget is 3 ms.
TARGETS = {"none": 1.0, "remap": 1.5, "namespace": 1.5, "bwrap": 1.5}


def run() -> list[Result]:
    results: list[Result] = []
    fast = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    work = Path(tempfile.mkdtemp(prefix="bench-executor-", dir=fast))
    disk = Path.home() / ".cache" / "jupyter-argo"
    disk.mkdir(parents=True, exist_ok=True)
    disk = Path(tempfile.mkdtemp(prefix="bench-executor-", dir=disk))
    try:
        for mode in _modes():
            executor = ProcessExecutor(isolation=mode)
            step = _step(executor, work / mode, SHELL, ["/tmp/out.txt"])
            cost, bare, extra, _ = _paired(step, _bare(SHELL), 300)
            results.append(
                Result(
                    f"executor {mode}: sh -c true step overhead",
                    extra,
                    "ms",
                    TARGETS[mode],
                    detail=f"step {cost:.2f} ms, bare spawn {bare:.2f} ms",
                )
            )
        mode = "namespace" if "namespace" in _modes() else "remap"
        step = _step(ProcessExecutor(isolation=mode), disk, SHELL, ["/tmp/out.txt"])
        cost, bare, extra, _ = _paired(step, _bare(SHELL), 200)
        results.append(
            Result(
                f"executor {mode}: sh -c true step overhead, node directories on disk",
                extra,
                "ms",
                10.0,
                detail=f"step {cost:.2f} ms; the difference from the row above is the disk's",
            )
        )
        if _namespace_available():
            executor = ProcessExecutor(isolation="namespace")
            hard = ["/tmp/out.txt", "/src", "/mnt/out/result.txt"]
            step = _step(executor, work / "hard", SHELL, hard)
            cost, bare, extra, _ = _paired(step, _bare(SHELL), 200)
            results.append(
                Result(
                    "executor namespace: step overhead with /src and /mnt/out (own root, overlay)",
                    extra,
                    "ms",
                    4.0,
                    detail=f"step {cost:.2f} ms",
                )
            )
        mode = "namespace" if "namespace" in _modes() else _modes()[-1]
        step = _step(ProcessExecutor(isolation=mode), work / "py", PYTHON, ["/tmp/out.txt"])
        cost, bare, _, ratio = _paired(step, _bare(PYTHON), 40)
        results.append(
            Result(
                f"executor {mode}: python -c pass step / bare python -c pass",
                ratio,
                "x",
                1.15,
                detail=f"step {cost:.1f} ms, bare {bare:.1f} ms",
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(disk, ignore_errors=True)
    return results
