"""`make bench-peers`: the same five workflow shapes in jupyter-argo and three peers.

    python -m benchmarks.peers [--rounds N] [--shapes a,b] [--tools a,b] [--out DIR]

Tools: jupyter-argo (`jupyter-argo run FILE -o json` from the project's venv, the local
backend with its default sandbox, as a user runs it from a shell), KFP local
(`kfp.local.SubprocessRunner(use_venv=False)`, no docker), Metaflow (its local runtime,
`python flow.py run --max-workers 20`) and dflow in debug mode. Each peer runs from its own
pinned venv under ~/.cache/jupyter-argo/peers/ (made on first use, `_venvs.py`), with that
venv's bin/ first on PATH as if activated. Each shape is written the way its tool's users
write it, in argo/*.yaml, kfp_shapes.py, metaflow/*.py and dflow_shapes.py.

One untimed one-step run of each tool warms the page cache, its .pyc files and its store.
Rounds are interleaved (each round runs every shape on every tool, one after another), so
load from elsewhere on the machine falls on all tools alike. A run's time is wall clock
from starting the tool's process to its exit. Every run is checked: exit code 0 and the
shape's expected output, read from what the tool reports (our workflow's status, the
pipeline's or flow's outputs). A failed or wrong run is not timed: the table names its cause
and --out/logs/ keeps its output. A tool that cannot express a shape would get n/a with the
reason (`Tool.unsupported`; each of the four expresses all five today). The results (raw
times as JSON, a markdown table, a PNG chart drawn with matplotlib from the `chart` venv)
go to --out, benchmarks/results/ by default.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.peers import _venvs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TIMEOUT = 600.0  # seconds for one run; a run past it is killed and reported as failed

PEERS = ("kfp", "metaflow", "dflow")
SHAPES = {
    "one_step": "one step",
    "chain": "chain of 10",
    "fan_out": "fan-out 100 x 0.5 s, parallelism 20",
    "artifact": "10 MiB artifact hand-off",
    "diamond": "diamond DAG, parameters",
}


def _expected_digest() -> str:
    data = random.Random(16).randbytes(10 * 1024 * 1024)
    return f"{len(data)} {hashlib.sha256(data).hexdigest()}"


def check(shape: str, value: Any) -> str | None:
    """Why `value` is not `shape`'s expected output, or None when it is."""
    if shape == "one_step":
        ok = value == "hello"
    elif shape == "chain":
        ok = _number(value) == 10
    elif shape == "diamond":
        ok = _number(value) == 19
    elif shape == "artifact":
        ok = value == _expected_digest()
    else:  # fan_out: every item once (KFP collects ints as floats: "0.0,1.0,...")
        items = str(value).split(",")
        ok = sorted(_number(i) for i in items) == list(range(100))
    return None if ok else f"wrong output: {str(value)[:60]!r}"


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


# ---- the tools --------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    error: str | None  # None: exit 0 and the expected output


@dataclass
class Tool:
    name: str
    label: str
    version: str
    # argv and working directory of one run of `shape` under `workdir`
    command: Callable[[str, Path], tuple[list[str], Path]]
    # the shape's result from the run's stdout and working directory
    result: Callable[[str, str, Path], Any]
    bin_dir: Path
    unsupported: dict[str, str] = field(default_factory=dict)  # shape -> why not
    env: dict[str, str] = field(default_factory=dict)

    def run(self, shape: str, workdir: Path, logs: Path) -> Outcome:
        """One timed, checked run; a failed run's output is kept in `logs`."""
        argv, cwd = self.command(shape, workdir)
        cwd.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "PATH": f"{self.bin_dir}:{os.environ['PATH']}"}
        env["TMPDIR"] = str(cwd)  # what a tool leaves in the temporary directory goes with cwd
        env["BENCH_PEERS_RESULT"] = str(cwd / "result.json")
        env.pop("VIRTUAL_ENV", None)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            try:
                code = subprocess.run(
                    argv, cwd=cwd, env=env, stdout=out, stderr=err, timeout=TIMEOUT
                ).returncode
            except subprocess.TimeoutExpired:
                code = None
            seconds = time.perf_counter() - start
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
        outcome = Outcome(seconds, self._error(code, shape, stdout, stderr, cwd))
        if outcome.error is not None:
            logs.mkdir(parents=True, exist_ok=True)
            log = logs / f"{self.name}-{shape}-{workdir.name}.log"
            log.write_text(f"$ {' '.join(argv)}\n{outcome.error}\n{stdout}\n--- stderr\n{stderr}")
        return outcome

    def _error(
        self, code: int | None, shape: str, stdout: str, stderr: str, cwd: Path
    ) -> str | None:
        if code is None:
            return f"timed out after {TIMEOUT:g} s"
        if code != 0:
            return f"exit {code}: {_cause(stderr or stdout)}"
        try:
            value = self.result(shape, stdout, cwd)
        except (LookupError, ValueError, OSError) as e:
            return f"no result ({e})"
        return check(shape, value)


_EXCEPTION = re.compile(r"^[\w.]*(Error|Exception)\b.*$", re.MULTILINE)


def _cause(text: str) -> str:
    """The first exception a traceback names (its root cause), else the last line."""
    found = _EXCEPTION.search(text)
    if found:
        return found.group(0).strip()[:100]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "no output")[:100]


def _result_file(shape: str, stdout: str, cwd: Path) -> Any:
    """What the peer's program wrote to $BENCH_PEERS_RESULT."""
    return json.loads((cwd / "result.json").read_text())


def _workflow_result(shape: str, stdout: str, cwd: Path) -> Any:
    """The shape's result from `jupyter-argo run -o json`'s final Workflow."""
    workflow = json.loads(stdout)
    phase = workflow["status"]["phase"]
    if phase != "Succeeded":
        raise ValueError(f"workflow {phase}")
    pods = {
        node["displayName"]: node.get("outputs", {}).get("result")
        for node in workflow["status"]["nodes"].values()
        if node["type"] == "Pod"
    }
    if shape == "fan_out":
        return ",".join(v for k, v in pods.items() if k.startswith("sleep("))
    name = {"one_step": workflow["metadata"]["name"], "chain": "s10", "artifact": "consume"}
    return pods[name.get(shape, "d")]


def tools(workdir: Path) -> dict[str, Tool]:
    venv_bin = Path(sys.executable).parent
    peer = {name: _venvs.python(name) for name in PEERS}  # made by main() when chosen

    def ours(shape: str, wd: Path) -> tuple[list[str], Path]:
        argv = [str(venv_bin / "jupyter-argo"), "run", str(HERE / "argo" / f"{shape}.yaml")]
        return [*argv, "-o", "json"], wd

    def kfp(shape: str, wd: Path) -> tuple[list[str], Path]:
        script = str(HERE / "kfp_shapes.py")
        return [str(peer["kfp"]), script, shape, str(wd), "--no-pip"], wd

    def metaflow(shape: str, wd: Path) -> tuple[list[str], Path]:
        flow = str(HERE / "metaflow" / f"{shape}.py")
        run = ["--quiet", "--no-pylint", "run", "--max-workers", "20"]
        return [str(peer["metaflow"]), flow, *run], wd

    def dflow(shape: str, wd: Path) -> tuple[list[str], Path]:
        return [str(peer["dflow"]), str(HERE / "dflow_shapes.py"), shape, str(wd)], wd

    return {
        "ours": Tool(
            "ours",
            "jupyter-argo",
            _our_version(),
            ours,
            _workflow_result,
            venv_bin,
            # the checkout's own jupyter_argo, whichever checkout the venv was installed from
            env={"JUPYTER_ARGO_HOME": str(workdir / "ours" / "home"), "PYTHONPATH": str(ROOT)},
        ),
        "kfp": Tool("kfp", "KFP local", _pin("kfp"), kfp, _result_file, peer["kfp"].parent),
        "metaflow": Tool(
            "metaflow",
            "Metaflow",
            _pin("metaflow"),
            metaflow,
            _result_file,
            peer["metaflow"].parent,
            env={"USERNAME": "bench"},
        ),
        "dflow": Tool(
            "dflow", "dflow debug", _pin("dflow"), dflow, _result_file, peer["dflow"].parent
        ),
    }


def _pin(name: str) -> str:
    return _venvs.REQUIREMENTS[name][0].split("==")[1]


def _our_version() -> str:
    from jupyter_argo._version import __version__

    git = ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, capture_output=True, text=True).stdout.strip()
    return f"{__version__} ({commit})" if commit else __version__


# ---- measuring --------------------------------------------------------------------------


def measure(
    chosen: dict[str, Tool],
    shapes: list[str],
    rounds: int,
    workdir: Path,
    logs: Path,
    load: list[float],
) -> dict[str, dict[str, list[Outcome]]]:
    """outcomes[shape][tool], one per round; rounds interleave the tools."""
    outcomes: dict[str, dict[str, list[Outcome]]] = {s: {t: [] for t in chosen} for s in shapes}
    for name, tool in chosen.items():  # warm-up, not counted: page cache, .pyc files, stores
        warm = tool.run("one_step", workdir / name / "warm-up", logs)
        print(f"warm-up    one_step  {tool.label:13} {warm.error or f'{warm.seconds:7.2f} s'}")
    for r in range(1, rounds + 1):
        for shape in shapes:
            for name, tool in chosen.items():
                if shape in tool.unsupported:
                    continue
                load.append(os.getloadavg()[0])
                outcome = tool.run(shape, workdir / name / str(r), logs)
                shutil.rmtree(workdir / name / str(r), ignore_errors=True)
                outcomes[shape][name].append(outcome)
                mark = f"{outcome.seconds:7.2f} s"
                if outcome.error is not None:
                    mark += f"  failed: {outcome.error} (log in {logs})"
                print(f"round {r}/{rounds}  {shape:9} {tool.label:13} {mark}", flush=True)
    return outcomes


def summarize(
    chosen: dict[str, Tool], outcomes: dict[str, dict[str, list[Outcome]]], load: list[float]
) -> dict[str, Any]:
    """The JSON the table and the chart are made from."""
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for shape, by_tool in outcomes.items():
        cells[shape] = {}
        for name, tool in chosen.items():
            if shape in tool.unsupported:
                cells[shape][name] = {"na": tool.unsupported[shape]}
                continue
            runs = by_tool[name]
            times = [o.seconds for o in runs if o.error is None]
            errors = [o.error for o in runs if o.error is not None]
            cell: dict[str, Any] = {"runs": len(runs), "times": times}
            if times:
                cell |= {"min": min(times), "median": statistics.median(times), "max": max(times)}
            if errors:
                cell["failed"] = len(errors)
                cell["error"] = errors[0]
            cells[shape][name] = cell
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}",
        # the 1-minute load average sampled before each run: other work on the machine
        "load": {"min": min(load), "median": statistics.median(load), "max": max(load)},
        "tools": {name: {"label": t.label, "version": t.version} for name, t in chosen.items()},
        "shapes": {s: SHAPES[s] for s in outcomes},
        "cells": cells,
    }


def table(summary: dict[str, Any], rounds: int) -> str:
    columns = summary["tools"]
    names = list(columns)
    head = [f"{t['label']} {t['version']}" for t in columns.values()]
    load = summary["load"]
    lines = [
        f"Peer benchmark, {summary['date']}: {rounds} interleaved rounds on {summary['machine']}",
        f"(load average {load['min']:.1f}-{load['max']:.1f}, median {load['median']:.1f}).",
        "Each cell: median wall time of a run (process start to exit) [min-max]; for a peer,",
        "the ratio of medians jupyter-argo / peer (below 1: jupyter-argo is faster).",
        "",
        "| shape | " + " | ".join(head) + " |",
        "|---" * (len(head) + 1) + "|",
    ]
    for shape, label in summary["shapes"].items():
        row = [label]
        ours = summary["cells"][shape].get("ours", {}).get("median")
        for name in names:
            row.append(_cell(summary["cells"][shape][name], ours if name != "ours" else None))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _cell(cell: dict[str, Any], ours: float | None) -> str:
    if "na" in cell:
        return f"n/a ({cell['na']})"
    if "median" not in cell:
        return f"failed: {cell['error']}"
    text = f"{cell['median']:.2f} s [{cell['min']:.2f}-{cell['max']:.2f}]"
    if ours is not None:
        text += f", **{ours / cell['median']:.2f}x**"
    if "failed" in cell:
        text += f"; failed {cell['failed']} of {cell['runs']}: {cell['error']}"
    return text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", "3")))
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--tools", default="ours,kfp,metaflow,dflow")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    shapes = [s for s in args.shapes.split(",") if s]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape {unknown[0]!r} (one of {', '.join(SHAPES)})")
    wanted = [t for t in args.tools.split(",") if t]
    unknown = [t for t in wanted if t not in ("ours", *PEERS)]
    if unknown:
        parser.error(f"unknown tool {unknown[0]!r} (one of ours, {', '.join(PEERS)})")
    for name in [*(t for t in wanted if t in PEERS), "chart"]:
        try:
            _venvs.ensure(name)
        except subprocess.CalledProcessError as e:
            sys.exit(f"bench-peers: making the {name} venv failed ({e.cmd[0]} exit {e.returncode})")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        every = tools(Path(tmp))
        chosen = {name: every[name] for name in wanted}
        shutil.rmtree(args.out / "logs", ignore_errors=True)
        load: list[float] = []
        outcomes = measure(chosen, shapes, args.rounds, Path(tmp), args.out / "logs", load)
    summary = summarize(chosen, outcomes, load)
    (args.out / "peers.json").write_text(json.dumps(summary, indent=1) + "\n")
    text = table(summary, args.rounds)
    (args.out / "peers.md").write_text(text)
    print(text)
    subprocess.run(
        [
            str(_venvs.python("chart")),
            str(HERE / "_chart.py"),
            str(args.out / "peers.json"),
            str(args.out),
        ],
        check=True,
    )
    print(f"wrote {args.out / 'peers.md'}, {args.out / 'peers.png'}, {args.out / 'peers.json'}")
    return 1 if _ours_failed(summary) else 0


def _ours_failed(summary: dict[str, Any]) -> bool:
    """Whether any of our own runs failed: that fails the target, a peer's failure does not."""
    return any("error" in row.get("ours", {}) for row in summary["cells"].values())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
