"""The Kubernetes backend against a real kube-apiserver (the test suite's envtest).

Targets (issue 7):
- a status patch on the server reaches a `watch()` consumer within 100 ms at p95 (Hera's
  `Workflow.wait` polls every 5 s);
- submit to first status, the created Workflow delivered by `watch()`, at most 100 ms
  above the API server's own create latency (median of both).

Patches go through a second backend's pooled connection, so the time measured is the
patch's round trip plus the push to the watcher: an upper bound of the watch's own delay.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks._result import Result, p95, use_test_helpers

PATCHES = 200
SUBMITS = 40


def _harness() -> Any:
    use_test_helpers()
    from k8s import envtest

    return envtest


def run() -> list[Result]:
    envtest = _harness()
    try:
        assets = envtest.find_assets()
    except envtest.Unavailable as err:
        reason = f"no kube-apiserver: {err}"
        return [
            Result("k8s status patch -> watch p95", float("inf"), "ms", 100, detail=reason),
            Result("k8s submit -> first snapshot overhead", float("inf"), "ms", 100, detail=reason),
        ]
    with envtest.api_server(assets=assets) as server, tempfile.TemporaryDirectory() as tmp:
        return [_patch_latency(server, Path(tmp)), _submit_overhead(server, Path(tmp))]


def _backend(server: Any, path: Path) -> Any:
    from jupyter_argo.backends.kubernetes import KubernetesBackend

    return KubernetesBackend(kubeconfig=server.kubeconfig(path))


def _manifest(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
    }


def _patch_latency(server: Any, tmp: Path) -> Result:
    from jupyter_argo.backends._k8s.cluster import WORKFLOWS

    watcher, writer = _backend(server, tmp / "a"), _backend(server, tmp / "b")
    name = f"bench-{uuid.uuid4().hex[:6]}"
    writer.submit(_manifest(name))
    sent: dict[int, float] = {}
    arrived: dict[int, float] = {}
    seen = threading.Condition()

    def watch() -> None:
        for snapshot in watcher.watch(name, timeout=300):
            step = (snapshot.get("status") or {}).get("step")
            if step is not None:
                with seen:
                    arrived.setdefault(int(step), time.perf_counter())
                    seen.notify_all()

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    time.sleep(0.5)  # the watch is established
    for step in range(PATCHES + 1):
        status = {"status": {"phase": "Running" if step < PATCHES else "Succeeded", "step": step}}
        sent[step] = time.perf_counter()
        writer.cluster.request("patch", WORKFLOWS, writer.namespace, name, body=status)
        with seen:
            seen.wait_for(lambda s=step: s in arrived, timeout=10)
    reader.join(30)
    latencies = [(arrived[s] - sent[s]) * 1000 for s in sent if s in arrived]
    lost = len(sent) - len(latencies)
    for backend in (watcher, writer):
        backend.close()
    detail = f"{len(latencies)} patches, median {statistics.median(latencies):.1f} ms"
    if lost:
        detail += f", {lost} never arrived"
    return Result(
        "k8s status patch -> watch p95",
        p95(latencies) if not lost else float("inf"),
        "ms",
        100,
        detail=detail,
    )


def _submit_overhead(server: Any, tmp: Path) -> Result:
    backend = _backend(server, tmp / "c")
    from jupyter_argo.backends._k8s.cluster import WORKFLOWS

    create, submit = [], []

    for i in range(SUBMITS):
        name = f"raw-{i}-{uuid.uuid4().hex[:6]}"
        begin = time.perf_counter()
        backend.cluster.request("create", WORKFLOWS, backend.namespace, body=_manifest(name))
        create.append((time.perf_counter() - begin) * 1000)
        name = f"sub-{i}-{uuid.uuid4().hex[:6]}"
        begin = time.perf_counter()
        backend.submit(_manifest(name))
        next(iter(backend.watch(name, timeout=30)))
        submit.append((time.perf_counter() - begin) * 1000)
    backend.close()
    overhead = statistics.median(submit) - statistics.median(create)
    return Result(
        "k8s submit -> first snapshot overhead",
        overhead,
        "ms",
        100,
        detail=(
            f"median create {statistics.median(create):.1f} ms, submit+watch "
            f"{statistics.median(submit):.1f} ms"
        ),
    )
