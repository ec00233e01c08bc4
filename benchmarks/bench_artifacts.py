"""Passing a 100 MB file through the embedded repository.

Targets (issue 4): save then load with `archive: none` at 200 MB/s or more end to end;
with the default tgz, saving within 1.5x of `tar czf` on the same file (and loading
within 1.5x of `tar xzf`); peak memory flat whatever the size, measured as the Python
heap's peak while a 100 MB file is saved and loaded (it streams, so a few MiB at most).

The file mixes incompressible and text-like blocks, as real outputs (binaries, logs,
data) do; each timing is the best of a few runs, after one to warm the page cache.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from benchmarks._result import Result
from jupyter_argo.artifacts import embedded_repository, load_input, save_output
from jupyter_argo.artifacts._handoff import Handoffs

SIZE_MB = 100
RUNS = 2


def _no_secrets(name: str, key: str) -> str | None:
    return None


def _make_file(path: Path, size_mb: int) -> None:
    rng = random.Random(4)
    words = [
        bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(500)
    ]
    block = 1 << 16
    with open(path, "wb") as f:
        for i in range(size_mb * (1 << 20) // block):
            if i % 2:
                f.write(rng.randbytes(block))
            else:
                text = b" ".join(rng.choices(words, k=block // 4))
                f.write(text[:block])


def _saved(status: dict[str, object] | None) -> dict[str, object]:
    if status is None:
        raise RuntimeError("the benchmark's artifact was not saved")
    return status


def _best(action: Callable[[], None], reset: Callable[[], None]) -> float:
    times = []
    for _ in range(RUNS + 1):
        reset()
        begin = time.perf_counter()
        action()
        times.append(time.perf_counter() - begin)
    return min(times[1:])


DFLOW_HANDOFF_MS = 33  # the measurement of dflow's 10 MB hand-off (it links)


def _handoff() -> list[Result]:
    """A 10 MiB incompressible file from a producer to a consumer on this machine, as the
    engine hands it over (snapshot, consumer's copy; the tgz stored in the background),
    against the repository round trip (tgz save, then load), in one run."""
    with tempfile.TemporaryDirectory(prefix="bench-handoff-") as tmp:
        work = Path(tmp)
        src = work / "blob"
        src.write_bytes(random.Random(16).randbytes(10 << 20))
        repo = embedded_repository(work / "repo")
        spec = {"name": "blob", "path": "/tmp/blob"}
        rounds: dict[str, list[float]] = {"handoff": [], "repository": []}
        for i in range(7):
            begin = time.perf_counter()
            status = _saved(
                save_output(spec, src, key_prefix=f"wf/r{i}", default=repo, secrets=_no_secrets)
            )
            load_input(status, work / f"r{i}" / "blob", default=repo, secrets=_no_secrets)
            rounds["repository"].append(time.perf_counter() - begin)
            handoffs = Handoffs(work / f"snapshots{i}")
            begin = time.perf_counter()
            status = _saved(
                handoffs.save(spec, src, key_prefix=f"wf/h{i}", default=repo, secrets=_no_secrets)
            )
            handoffs.load(status, work / f"h{i}" / "blob", default=repo, secrets=_no_secrets)
            rounds["handoff"].append(time.perf_counter() - begin)
            if handoffs.drain():
                raise RuntimeError("the hand-off's background store failed")
        handoff = sorted(rounds["handoff"])[3] * 1000
        repository = sorted(rounds["repository"])[3] * 1000
    return [
        Result(
            "10 MiB hand-off to the next step (median of 7)",
            handoff,
            "ms",
            DFLOW_HANDOFF_MS,
            detail=f"dflow links in {DFLOW_HANDOFF_MS} ms; tgz through the repository "
            f"{repository:.0f} ms",
        ),
        Result(
            "10 MiB hand-off vs the repository round trip",
            handoff / repository,
            "x",
            0.5,
            detail="the tgz is still stored, off the critical path",
        ),
    ]


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-") as tmp:
        work = Path(tmp)
        src = work / "big.bin"
        _make_file(src, SIZE_MB)
        repo = embedded_repository(work / "repo")
        dest = work / "dest" / "big.bin"

        def reset() -> None:
            shutil.rmtree(work / "repo", ignore_errors=True)
            shutil.rmtree(work / "dest", ignore_errors=True)
            for leftover in (work / "big.tgz", work / "untar"):
                shutil.rmtree(
                    leftover, ignore_errors=True
                ) if leftover.is_dir() else leftover.unlink(missing_ok=True)

        def pass_along(archive: dict[str, object] | None) -> Callable[[], None]:
            spec: dict[str, object] = {"name": "big", "path": "/data/big.bin"}
            if archive is not None:
                spec["archive"] = archive

            def both() -> None:
                status = _saved(
                    save_output(spec, src, key_prefix="wf/pod", default=repo, secrets=_no_secrets)
                )
                load_input({**status, "name": "in"}, dest, default=repo, secrets=_no_secrets)

            return both

        none_seconds = _best(pass_along({"none": {}}), reset)

        spec = {"name": "big", "path": "/data/big.bin"}
        save_seconds = _best(
            lambda: (
                save_output(spec, src, key_prefix="wf/pod", default=repo, secrets=_no_secrets)
                and None
            ),
            reset,
        )
        tar_seconds = _best(
            lambda: subprocess.run(
                ["tar", "czf", str(work / "big.tgz"), "-C", str(work), "big.bin"], check=True
            ),
            reset,
        )
        status = _saved(
            save_output(spec, src, key_prefix="wf/pod", default=repo, secrets=_no_secrets)
        )

        def load() -> None:
            load_input({**status, "name": "in"}, dest, default=repo, secrets=_no_secrets)

        def clear_dest() -> None:
            shutil.rmtree(work / "dest", ignore_errors=True)
            shutil.rmtree(work / "untar", ignore_errors=True)

        load_seconds = _best(load, clear_dest)
        subprocess.run(
            ["tar", "czf", str(work / "big.tgz"), "-C", str(work), "big.bin"], check=True
        )

        def untar() -> None:
            (work / "untar").mkdir()
            subprocess.run(
                ["tar", "xzf", str(work / "big.tgz"), "-C", str(work / "untar")], check=True
            )

        untar_seconds = _best(untar, clear_dest)

        reset()
        tracemalloc.start()
        pass_along(None)()
        peak = tracemalloc.get_traced_memory()[1] / (1 << 20)
        tracemalloc.stop()

    return [
        *_handoff(),
        Result(
            f"{SIZE_MB} MB archive:none save+load (local repo)",
            SIZE_MB / none_seconds,
            "MB/s",
            200,
            higher_is_better=True,
            detail=f"{none_seconds * 1000:.0f} ms",
        ),
        Result(
            f"{SIZE_MB} MB tgz save vs tar czf",
            save_seconds / tar_seconds,
            "x",
            1.5,
            detail=f"save {save_seconds:.2f} s, tar czf {tar_seconds:.2f} s",
        ),
        Result(
            f"{SIZE_MB} MB tgz load vs tar xzf",
            load_seconds / untar_seconds,
            "x",
            1.5,
            detail=f"load {load_seconds:.2f} s, tar xzf {untar_seconds:.2f} s",
        ),
        Result(
            f"{SIZE_MB} MB tgz save+load peak Python heap",
            peak,
            "MiB",
            16,
            detail="streaming: independent of the artifact's size",
        ),
    ]
