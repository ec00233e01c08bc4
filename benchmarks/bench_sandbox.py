"""The sandbox's price: a step's overhead now against the code from before it, in one run.

The confinement of issue 15 (read-only host, hidden places, masked secrets, no
capabilities, an own /proc, the watchdog, a container's environment) came in one commit;
`BEFORE` is its parent. Its `jupyter_argo` is exported from git once into the cache, and
two worker processes (`_sandbox_worker.py`, one per tree) take turns, a batch of paired
steps each, so that the machine's load falls on both alike. Each number is the median
over all batches of (step - bare spawn); the result is now / before.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._result import Result, use_test_helpers
from jupyter_argo.executors._bwrap import available as bwrap_available
from jupyter_argo.executors._executor import _namespace_available

BEFORE = "edb4ea6"  # the parent of d01380d, "A sandbox that is a boundary"
REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jupyter-argo"
TARGET = 1.5  # the budget: at most 1.5x the per-step overhead before the sandbox
BATCHES = 16
PER_BATCH = 25


def _tree_before() -> Path | None:
    """The pre-sandbox `jupyter_argo`, exported from git into the cache (None: no history)."""
    tree = CACHE / f"bench-before-{BEFORE}"
    if (tree / "jupyter_argo" / "__init__.py").is_file():
        return tree
    if shutil.which("git") is None or not (REPO / ".git").exists():
        return None
    partial = tree.with_name(tree.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", BEFORE, "jupyter_argo"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(partial)], input=archive.stdout, check=True)
    partial.rename(tree)
    return tree


class _Worker:
    def __init__(self, tree: Path, mode: str, declared: list[str], *, nobody: Path | None) -> None:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        script = Path(__file__).with_name("_sandbox_worker.py")
        argv = [sys.executable, str(script), mode, *declared]
        if nobody is not None:  # an ordinary user's steps, as auto gives them bwrap
            from ordinary_user import as_nobody

            home = nobody / "home"
            env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)}
            reach = [sys.prefix, sys.base_prefix, str(REPO), str(tree)]
            stage = Path(tempfile.mkdtemp(prefix="stage-", dir=nobody))
            argv = as_nobody(argv, reach=reach, stage=stage, env=env)
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        loaded = json.loads(self.process.stdout.readline())["package"]
        if not Path(loaded).is_relative_to(tree):
            raise RuntimeError(f"the worker for {tree} loaded {loaded}")

    def batch(self, count: int) -> list[float]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{count}\n")
        self.process.stdin.flush()
        extras: list[float] = json.loads(self.process.stdout.readline())
        return extras

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def run() -> list[Result]:
    before = _tree_before()
    modes = [
        m for m, ok in (("namespace", _namespace_available()), ("bwrap", bwrap_available())) if ok
    ]
    if before is None or not modes:
        why = (
            "no git history to export the code from before it"
            if before is None
            else "no sandbox here"
        )
        print(f"skip sandbox price: {why}")
        return []
    # A node declaring an output under /tmp (the common case), and one declaring nothing;
    # bwrap as the ordinary user it is for (auto gives root the namespace mode).
    cases = [(mode, ["/tmp/out.txt"]) for mode in modes]
    cases += [("namespace", [])] * ("namespace" in modes)
    use_test_helpers()
    from ordinary_user import NOBODY, missing_tools

    ordinary = missing_tools() is None
    place = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    place.chmod(0o755)
    (place / "home").mkdir()
    if ordinary:
        os.chown(place / "home", NOBODY, NOBODY)
    try:
        nobody = place if ordinary else None
        return [
            _measure(mode, declared, before, nobody if mode == "bwrap" else None)
            for mode, declared in cases
        ]
    finally:
        shutil.rmtree(place, ignore_errors=True)


def _measure(mode: str, declared: list[str], before: Path, nobody: Path | None) -> Result:
    workers = {
        side: _Worker(tree, mode, declared, nobody=nobody)
        for side, tree in (("before", before), ("now", REPO))
    }
    extras: dict[str, list[float]] = {side: [] for side in workers}
    try:
        for side in workers:
            workers[side].batch(PER_BATCH)  # warm up
        for index in range(BATCHES):
            order = list(workers) if index % 2 == 0 else list(reversed(workers))
            for side in order:
                extras[side] += workers[side].batch(PER_BATCH)
    finally:
        for worker in workers.values():
            worker.close()
    now, then = statistics.median(extras["now"]), statistics.median(extras["before"])
    who = " as nobody" if nobody is not None else ""
    return Result(
        f"sandbox {mode}{who}: step overhead now / before the sandbox,"
        f" {'declaring /tmp/out.txt' if declared else 'declaring nothing'}",
        now / then,
        "x",
        TARGET,
        detail=f"{then:.2f} -> {now:.2f} ms above a bare spawn, medians of"
        f" {BATCHES * PER_BATCH} paired steps each",
    )
