"""Issue 6 and 13 targets for the DAG view: layout time, the first view of a 1,000-task DAG
drawn in full, phase-only updates, memory, the watch path.

Workflows come from `jupyter_argo.render._samples` (Argo-shaped statuses of any size).
The numbers use whichever Graphviz engine `layout` picks here (`dot` on PATH, else the
pygraphviz wheel's); the detail column says which.
"""

from __future__ import annotations

import copy
import gc
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks._result import Result, p95
from jupyter_argo.render import build_graph, draw
from jupyter_argo.render._samples import dag_workflow
from jupyter_argo.render.engine import engine_name
from jupyter_argo.render.graph import NEVER
from jupyter_argo.render.svg import _legend
from jupyter_argo.widgets import Follower, WorkflowView


def _nodes(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = workflow["status"]["nodes"]
    return nodes


def _flip(workflow: dict[str, Any], round_: int) -> dict[str, Any]:
    """The same run with different phases: a fresh object, as a watch delivers."""
    later = copy.deepcopy(workflow)
    phases = ("Running", "Succeeded", "Failed", "Pending")
    for index, node in enumerate(_nodes(later).values()):
        if node["type"] == "Pod":
            node["phase"] = phases[(index + round_) % len(phases)]
    return later


def _layout_1000(engine: str) -> tuple[Result, float]:
    graph = build_graph(dag_workflow(1000), collapse=NEVER)
    draw(graph)  # warm: worker start, legend cache
    times = []
    for _ in range(3):
        start = time.perf_counter()
        draw(graph)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    detail = f"{len(graph.boxes)} nodes, {len(graph.edges)} edges, engine {engine}, median of 3"
    return Result("render: layout of a 1,000-node DAG", median, "s", 1.0, detail=detail), median


def _first_view() -> Result:
    """Issue 13: a 1,000-task DAG (no fan-out) as the view first shows it, every task drawn.

    From the Workflow object to the widget's state (graph, layout, legend, header), with
    the default folding; the legend's cache emptied each time, as in a fresh kernel.
    """
    workflow = dag_workflow(1000)
    WorkflowView(dag_workflow(5))  # warm: imports, worker start
    times = []
    drawn = 0
    for _ in range(3):
        _legend.cache_clear()
        start = time.perf_counter()
        view = WorkflowView(workflow)
        times.append(time.perf_counter() - start)
        drawn = len(view.phases)
    full = drawn == len(_nodes(workflow))
    return Result(
        "render: first full view of a 1,000-task DAG",
        statistics.median(times) if full else float("inf"),
        "s",
        1.0,
        detail=f"{drawn} of {len(_nodes(workflow))} nodes drawn, default folding, median of 3",
    )


def _phase_updates() -> list[Result]:
    workflow = dag_workflow(1000)
    view = WorkflowView(workflow)  # the default folding draws every task
    snapshots = [_flip(workflow, r) for r in range(40)]
    times = []
    for snapshot in snapshots:
        start = time.perf_counter()
        view.update(snapshot)
        times.append(time.perf_counter() - start)
    # A layout here would be a bug, not slowness: report it as a miss.
    full = len(view.phases) == len(_nodes(workflow))
    update_p95 = p95(times) if view.layouts == 1 and full else float("inf")
    grown = copy.deepcopy(snapshots[-1])  # one more task: a structural change
    first = next(iter(_nodes(grown).values()))
    extra = dict(first, id=f"{first['id']}0", name=f"{first['name']}-extra", children=[])
    _nodes(grown)[extra["id"]] = extra
    next(n for n in _nodes(grown).values() if n["type"] == "Pod")["children"].append(extra["id"])
    start = time.perf_counter()
    view.update(grown)
    full = time.perf_counter() - start
    return [
        Result(
            "render: phase-only change, 1,000-node view (p95)",
            update_p95 * 1000,
            "ms",
            50,
            detail=f"{len(view.phases)} drawn nodes, {len(times)} updates, no layout",
        ),
        Result(
            "render: structural update / phase-only update",
            full / update_p95,
            "x",
            5,
            higher_is_better=True,
            detail=f"structural update {full * 1000:.0f} ms (one layout)",
        ),
    ]


def _memory_10k() -> Result:
    workflow = dag_workflow(10_000, running=300)
    later = _flip(workflow, 1)
    gc.collect()
    tracemalloc.start()
    view = WorkflowView(workflow)
    view.update(later)
    view.update(workflow)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    detail = f"{len(_nodes(workflow)):,} nodes drawn as {len(view.phases)}; tracemalloc peak"
    return Result("render: 10,000-node run, view memory", peak / 2**20, "MB", 100, detail=detail)


def _watch() -> list[Result]:
    """A watch delivering ~200 snapshots/s: what reaches the view, and how late."""
    workflow = dag_workflow(1000)
    snapshots = [_flip(workflow, r) for r in range(8)]
    view = WorkflowView(workflow)
    started_at: list[float] = []
    applied_at: list[float] = []
    pushed_at: list[float] = []
    original = view.update

    def timed_update(snapshot: Any) -> None:
        started_at.append(time.perf_counter())
        original(snapshot)
        applied_at.append(time.perf_counter())

    def stream() -> Iterator[dict[str, Any]]:
        for index in range(400):
            snapshot = snapshots[index % len(snapshots)]
            pushed_at.append(time.perf_counter())
            yield snapshot
            time.sleep(0.005)

    # Garbage the benchmarks before this one left makes a full collection, whichever
    # thread triggers it, take ~100 ms: that is their heap's cost, not the watch's.
    gc.collect()
    follower = Follower(stream(), timed_update)  # what view.follow does, timed
    stalls = _main_thread_stalls(lambda: follower.done)
    follower.join()
    duration = pushed_at[-1] - pushed_at[0]
    # The final snapshot is applied at once when the stream ends; the rate limit is
    # about the updates before it.
    paced = started_at[:-1]
    rate = (len(paced) - 1) / (paced[-1] - paced[0]) if len(paced) > 1 else 0.0
    lag = applied_at[-1] - pushed_at[-1]
    return [
        Result(
            "watch: updates applied per second",
            rate,
            "/s",
            10.5,
            detail=f"{len(pushed_at)} snapshots in {duration:.1f} s, {len(applied_at)} applied",
        ),
        Result("watch: last snapshot shown after", lag * 1000, "ms", 250),
        Result(
            "watch: main-thread stall while following (max)",
            max(stalls) * 1000 if stalls else 0.0,
            "ms",
            100,
            detail="a 2 ms sleep loop on the main thread, kernel-like",
        ),
    ]


def _main_thread_stalls(done: Callable[[], bool]) -> list[float]:
    """How much later than asked a 2 ms sleep returns, until `done()`: the GIL's share."""
    stalls = []
    while not done():
        start = time.perf_counter()
        time.sleep(0.002)
        stalls.append(time.perf_counter() - start - 0.002)
    return stalls


def _responsive_during_layouts() -> Result:
    """Structural updates (one Graphviz layout each) from a watch, with the main thread busy."""
    snapshots = [dag_workflow(size, seed=3) for size in range(600, 1000, 50)]
    view = WorkflowView(snapshots[0], collapse=NEVER)

    def watch() -> None:  # what the coalescer thread does, one structural change after another
        for snapshot in snapshots[1:]:
            view.update(snapshot)

    gc.collect()  # as in _watch
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    stalls = _main_thread_stalls(lambda: not thread.is_alive())
    thread.join()
    return Result(
        "watch: main-thread stall during layouts (max)",
        max(stalls) * 1000 if stalls else 0.0,
        "ms",
        100,
        detail=f"{view.layouts} layouts of 600-950 nodes on the watch thread",
    )


def run() -> list[Result]:
    engine = engine_name()
    layout_result, _ = _layout_1000(engine)
    results = [layout_result, _first_view(), *_phase_updates(), _memory_10k(), *_watch()]
    results.append(_responsive_during_layouts())
    return results
