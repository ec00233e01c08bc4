"""Memoization on the local engine: what a fully cached re-run of a pipeline costs.

Target (issue 14): a 20-step pipeline re-run with every step cached completes in at most
10% of the time of its uncached run.

The pipeline is two chains of ten memoized python script steps in one DAG (the steps a
`%%argo` script cell makes), each printing a digest of its inputs; its keys are its inputs.
A round runs it once against an empty cache (every step runs and is saved), then again
(every step a hit, none runs); the ratio is the median over rounds of cached / uncached,
each submit to final snapshot. The same is reported for `sh` steps that do next to nothing,
where the engine's own cost is most of the run: there the ratio shows what a cache lookup
costs against spawning a step.

Runs in a child process (`python -m benchmarks.bench_memoization HOME`) with a fresh data
directory, after one warm-up run, as bench_engine does.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._result import Result

ROUNDS = 5
TARGET = 0.10
_MARK = "bench-memoization-result: "


def pipeline(cache: str, *, python: bool) -> dict[str, Any]:
    """Two chains of ten memoized steps (20 in all), each keyed by its inputs."""
    if python:
        body: dict[str, Any] = {
            "image": "python:3",
            "command": ["python"],
            "source": "import hashlib\n"
            "text = '{{inputs.parameters.upstream}}-{{inputs.parameters.step}}'\n"
            "print(hashlib.sha256(text.encode()).hexdigest()[:16])\n",
        }
    else:
        body = {
            "image": "alpine",
            "command": ["sh"],
            "source": "echo '{{inputs.parameters.upstream}}' | cut -c1-16",
        }
    step = {
        "name": "step",
        "inputs": {"parameters": [{"name": "step"}, {"name": "upstream"}]},
        "memoize": {
            "key": "{{inputs.parameters.step}}-{{inputs.parameters.upstream}}",
            "cache": {"configMap": {"name": cache}},
        },
        "script": body,
    }
    tasks: list[dict[str, Any]] = []
    for chain in "ab":
        for i in range(1, 11):
            task: dict[str, Any] = {
                "name": f"{chain}{i}",
                "template": "step",
                "arguments": {
                    "parameters": [
                        {"name": "step", "value": f"{chain}{i}"},
                        {
                            "name": "upstream",
                            "value": "root"
                            if i == 1
                            else f"{{{{tasks.{chain}{i - 1}.outputs.result}}}}",
                        },
                    ]
                },
            }
            if i > 1:
                task["dependencies"] = [f"{chain}{i - 1}"]
            tasks.append(task)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "memo-pipeline-"},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "dag": {"tasks": tasks}}, step],
        },
    }


def _ran(status: dict[str, Any]) -> int:
    return sum(
        n["type"] == "Pod" and not (n.get("memoizationStatus") or {}).get("hit")
        for n in (status.get("nodes") or {}).values()
    )


def _child(home: str) -> None:
    from jupyter_argo.backends.local import LocalBackend

    backend = LocalBackend(home=Path(home))

    def timed(manifest: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        start = time.perf_counter()
        name = backend.submit(manifest)["metadata"]["name"]
        final = backend.wait(name, timeout=300)
        elapsed = time.perf_counter() - start
        status = final.get("status") or {}
        if status.get("phase") != "Succeeded":
            raise RuntimeError(f"{name} ended {status.get('phase')}: {status.get('message')}")
        return elapsed, status

    timed(pipeline("warm-up", python=False))
    result: dict[str, Any] = {}
    for python in (True, False):
        rounds = []
        for i in range(ROUNDS):
            cache = f"{'python' if python else 'sh'}-{i}"
            uncached, first = timed(pipeline(cache, python=python))
            cached, second = timed(pipeline(cache, python=python))
            if _ran(first) != 20 or _ran(second) != 0:
                raise RuntimeError(f"ran {_ran(first)} then {_ran(second)} steps, not 20 then 0")
            rounds.append((uncached, cached))
        result["python" if python else "sh"] = {
            "ratio": statistics.median(c / u for u, c in rounds),
            "uncached_ms": statistics.median(u for u, _ in rounds) * 1e3,
            "cached_ms": statistics.median(c for _, c in rounds) * 1e3,
        }
    print(_MARK + json.dumps(result), flush=True)


def _measure(timeout: float = 600) -> dict[str, Any] | str:
    root = Path(__file__).resolve().parent.parent
    home = tempfile.mkdtemp(prefix="bench-memoization-")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_memoization", home],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        stdout = done.stdout
        problem = (
            f"failed (exit {done.returncode}): "
            + (done.stderr.strip().splitlines() or ["no output"])[-1]
        )
    except subprocess.TimeoutExpired as expired:
        stdout, problem = str(expired.stdout or ""), f"did not finish within {timeout:g} s"
    finally:
        shutil.rmtree(home, ignore_errors=True)
    for line in stdout.splitlines():
        if line.startswith(_MARK):
            found: dict[str, Any] = json.loads(line[len(_MARK) :])
            return found
    return problem


def run() -> list[Result]:
    name = "memoization: 20-step pipeline (python steps), fully cached re-run / uncached run"
    found = _measure()
    if isinstance(found, str):
        return [Result(name, float("inf"), "x", TARGET, detail=found)]
    py, sh = found["python"], found["sh"]
    return [
        Result(
            name,
            py["ratio"],
            "x",
            TARGET,
            detail=f"uncached {py['uncached_ms']:.0f} ms, cached {py['cached_ms']:.0f} ms; "
            f"with sh steps that do next to nothing: {sh['ratio']:.2f}x "
            f"({sh['uncached_ms']:.0f} ms vs {sh['cached_ms']:.0f} ms)",
        )
    ]


if __name__ == "__main__":
    _child(sys.argv[1])
