"""Watching Workflows on a real kube-apiserver: every status change arrives, pushed; the
watch resumes after a dropped connection and lists again on 410 Gone."""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s.controller import Controller, manifest, steps_with_retry_and_exit, workflow_path
from k8s.envtest import NAMESPACE, ApiServer, shared_api_server
from k8s.proxy import relay

from jupyter_argo.backends._k8s.watch import watch_workflow
from jupyter_argo.backends.kubernetes import KubernetesBackend
from jupyter_argo.errors import NotFoundError


@pytest.fixture(scope="module")
def server() -> ApiServer:
    return shared_api_server()


@pytest.fixture
def backend(server: ApiServer, tmp_path: Path) -> Iterator[KubernetesBackend]:
    backend = KubernetesBackend(kubeconfig=server.kubeconfig(tmp_path / "kubeconfig"))
    yield backend
    backend.close()


@pytest.fixture
def controller(server: ApiServer) -> Controller:
    return Controller(server, NAMESPACE)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def progression(name: str) -> list[dict[str, Any]]:
    """Statuses as a controller writes them while the run grows: Running with more and
    more nodes (the failed ones not failed yet), then the final Failed status."""
    final = steps_with_retry_and_exit(name)
    order = sorted(final["nodes"].values(), key=lambda n: len(n["name"]))
    statuses = []
    for count in range(1, len(order) + 1):
        nodes = {}
        for node in order[:count]:
            node = copy.deepcopy(node)
            if node["phase"] in ("Failed", "Succeeded") and node["type"] != "Pod":
                node["phase"] = "Running"
                node.pop("finishedAt", None)
            nodes[node["id"]] = node
        statuses.append({"phase": "Running", "startedAt": final["startedAt"], "nodes": nodes})
    statuses.append(final)
    return statuses


class Player:
    """Writes statuses one after another in background threads, as a controller would."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.threads: list[threading.Thread] = []

    def play(self, name: str, statuses: list[dict[str, Any]]) -> list[str]:
        """Start writing; returns the list it fills with each write's resourceVersion."""
        written: list[str] = []

        def run() -> None:
            for status in statuses:
                updated = self.controller.write(name, status)
                written.append(updated["metadata"]["resourceVersion"])

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)
        return written

    def join(self) -> None:
        for thread in self.threads:
            thread.join(30)


@pytest.fixture
def player(controller: Controller) -> Iterator[Player]:
    player = Player(controller)
    yield player
    player.join()


def versions(snapshots: list[dict[str, Any]]) -> list[str]:
    return [s["metadata"]["resourceVersion"] for s in snapshots]


def test_every_status_change_arrives_in_order(
    backend: KubernetesBackend, controller: Controller, player: Player
) -> None:
    name = unique("watch")
    controller.create(manifest(name))
    stream = backend.watch(name, timeout=60)
    first = next(stream)
    assert first["metadata"]["name"] == name
    assert not first.get("status")
    statuses = progression(name)
    written = player.play(name, statuses)
    rest = list(stream)
    player.join()
    assert versions(rest) == written
    assert [s["status"]["phase"] for s in rest] == [s["phase"] for s in statuses]
    assert rest[-1]["status"] == statuses[-1]  # the whole Workflow, Argo's shape
    assert rest[-1]["apiVersion"] == "argoproj.io/v1alpha1"


def test_the_live_view_follows_the_watch(
    backend: KubernetesBackend, controller: Controller, player: Player
) -> None:
    from jupyter_argo.widgets import WorkflowView

    name = unique("view")
    controller.create(manifest(name))
    stream = backend.watch(name, timeout=60)
    view = WorkflowView(next(stream))
    follower = view.follow(stream, interval=0.01)
    statuses = progression(name)
    player.play(name, statuses)
    assert follower.join(60)
    assert follower.error is None
    assert view.header["phase"] == "Failed"
    assert view.header["name"] == name
    assert view.workflow["status"] == statuses[-1]


def test_wait_returns_the_final_workflow(
    backend: KubernetesBackend, controller: Controller, player: Player
) -> None:
    name = unique("wait")
    controller.create(manifest(name))
    statuses = progression(name)
    player.play(name, statuses)
    final = backend.wait(name, timeout=60)
    assert final["status"] == statuses[-1]


def test_a_finished_workflow_gives_one_snapshot(
    backend: KubernetesBackend, controller: Controller
) -> None:
    name = unique("done")
    controller.create(manifest(name), steps_with_retry_and_exit(name))
    snapshots = list(backend.watch(name, timeout=30))
    assert len(snapshots) == 1
    assert snapshots[0]["status"]["phase"] == "Failed"


def test_timeout_ends_a_quiet_watch(backend: KubernetesBackend, controller: Controller) -> None:
    name = unique("quiet")
    controller.create(manifest(name), {"phase": "Running"})
    snapshots = list(backend.watch(name, timeout=1.5))
    assert [s["status"]["phase"] for s in snapshots] == ["Running"]


def test_watching_a_missing_or_deleted_workflow(
    backend: KubernetesBackend, controller: Controller, server: ApiServer
) -> None:
    with pytest.raises(NotFoundError, match='"nope" not found in namespace'):
        next(backend.watch("nope"))
    name = unique("deleted")
    controller.create(manifest(name), {"phase": "Running"})
    stream = backend.watch(name, timeout=30)
    next(stream)
    server.call("DELETE", workflow_path(NAMESPACE, name))
    with pytest.raises(NotFoundError, match=f'workflow "{name}" .* was deleted'):
        next(stream)


def test_a_dropped_connection_resumes_without_losing_changes(
    server: ApiServer, controller: Controller, tmp_path: Path
) -> None:
    name = unique("dropped")
    controller.create(manifest(name))
    statuses = progression(name)
    with relay(server.port) as proxy:
        backend = KubernetesBackend(kubeconfig=server.kubeconfig(tmp_path / "kc", server=proxy.url))
        stream = backend.watch(name, timeout=60)
        next(stream)
        received = []
        written = []
        for i, status in enumerate(statuses):
            written.append(controller.write(name, status)["metadata"]["resourceVersion"])
            if i % 3 == 1:
                # Cut while the change is in flight: it must come through the next watch.
                assert proxy.cut() >= 1
            received.append(next(stream))
        assert list(stream) == []  # final: the stream ends
        backend.close()
        reconnects = proxy.accepted
    assert versions(received) == written
    assert reconnects > len(statuses) // 3  # it did have to reconnect


def test_410_gone_lists_again(
    server: ApiServer, controller: Controller, backend: KubernetesBackend
) -> None:
    name = unique("gone")
    controller.create(manifest(name))
    final = controller.write(name, steps_with_retry_and_exit(name))
    # Resuming from a resourceVersion older than the API server keeps: 410 Gone.
    stream = watch_workflow(
        backend.cluster, name, NAMESPACE, resource_version="1", deadline=time.monotonic() + 60
    )
    snapshots = list(stream)
    assert versions(snapshots) == [final["metadata"]["resourceVersion"]]
    assert snapshots[0]["status"]["phase"] == "Failed"
