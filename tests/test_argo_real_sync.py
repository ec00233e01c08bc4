"""Synchronization on Argo itself and on the local engine, side by side: what a run waiting
for a workflow-level mutex shows (phase, message, status.synchronization), and what the
holder shows, as Argo v4's controller writes them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s.testbed import Testbed, shared_testbed

from jupyter_argo.backends.kubernetes import KubernetesBackend
from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.spec.parse import parse_text

pytestmark = pytest.mark.slow

LOCKED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: locked-}}
spec:
  entrypoint: main
  synchronization:
    mutexes:
    - name: {mutex}
  templates:
  - name: main
    container: {{image: busybox, command: [sleep, "{seconds}"]}}
"""


@pytest.fixture(scope="module")
def bed() -> Testbed:
    return shared_testbed()


@pytest.fixture
def kubernetes(bed: Testbed, tmp_path: Path) -> Iterator[KubernetesBackend]:
    backend = KubernetesBackend(kubeconfig=bed.api.kubeconfig(tmp_path / "kubeconfig"))
    yield backend
    backend.close()


def _wait_for(predicate: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def _scenario(backend: Any, mutex: str) -> dict[str, Any]:
    """A holds the mutex while B waits for it: what each shows then, and at the end."""

    def submit(seconds: int) -> str:
        body = parse_text(LOCKED.format(mutex=mutex, seconds=seconds))[0].body
        return str(backend.submit(body)["metadata"]["name"])

    def status(name: str) -> dict[str, Any]:
        return dict(backend.get(name).get("status") or {})

    a = submit(8)
    _wait_for(lambda: (status(a).get("synchronization") or {}).get("mutex"))
    b = submit(1)
    _wait_for(lambda: status(b).get("message"))
    waiting, holding = status(b), status(a)
    namespace = backend.get(a)["metadata"]["namespace"]
    seen = {
        "waiting": {k: waiting.get(k) for k in ("phase", "message", "synchronization")},
        "holding": {k: holding.get(k) for k in ("phase", "synchronization")},
        "finals": [
            {k: final["status"].get(k) for k in ("phase", "message", "synchronization")}
            for final in (backend.wait(a, timeout=180), backend.wait(b, timeout=180))
        ],
    }
    text = json.dumps(seen)
    for name, alias in ((a, "A"), (b, "B")):
        text = text.replace(f"{namespace}/{name}", f"NS/{alias}")
    return dict(json.loads(text.replace(f"{namespace}/Mutex/", "NS/Mutex/")))


def test_a_waiting_run_shows_what_argo_shows(kubernetes: KubernetesBackend) -> None:
    mutex = f"m-{uuid.uuid4().hex[:6]}"
    argo = _scenario(kubernetes, mutex)
    local = _scenario(LocalBackend(), mutex)
    # What Argo wrote, spelled out (and the local engine must write the same).
    assert argo["waiting"] == {
        "phase": "Pending",
        "message": f"Waiting for NS/Mutex/{mutex} lock. Lock status: 0/1",
        "synchronization": {
            "mutex": {"waiting": [{"mutex": f"NS/Mutex/{mutex}", "holder": "NS/A"}]}
        },
    }
    assert argo["holding"]["synchronization"] == {
        "mutex": {"holding": [{"mutex": f"NS/Mutex/{mutex}", "holder": "NS/A"}]}
    }
    assert local == argo


LOOPED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: looped-}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: each
        template: locked
        withParam: '["a", "b"]'
  - name: locked
    synchronization:
      semaphores:
      - configMapKeyRef: {{name: {configmap}, key: template}}
    container: {{image: busybox, command: [sleep, "5"]}}
"""


def _template_scenario(backend: Any, configmap: str) -> dict[str, Any]:
    """A loop of two whose template takes a semaphore of limit 1: what the waiting node
    and the workflow show while one node waits, and at the end."""
    backend.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": configmap},
            "data": {"template": "1"},
        }
    )
    body = parse_text(LOOPED.format(configmap=configmap))[0].body
    name = str(backend.submit(body)["metadata"]["name"])

    def waiting_node() -> dict[str, Any] | None:
        nodes = (backend.get(name).get("status") or {}).get("nodes") or {}
        return next((n for n in nodes.values() if n.get("synchronizationStatus")), None)

    _wait_for(waiting_node)
    seen = backend.get(name)
    final = backend.wait(name, timeout=180)
    namespace = seen["metadata"]["namespace"]
    nodes = seen["status"]["nodes"]
    waiting = {
        n["displayName"]: {
            k: n.get(k) for k in ("type", "phase", "message", "synchronizationStatus")
        }
        for n in nodes.values()
        if n.get("synchronizationStatus")
    }
    result = {
        "waiting": waiting,
        "synchronization": seen["status"].get("synchronization"),
        "final": {
            "phase": final["status"]["phase"],
            "synchronization": final["status"].get("synchronization"),
            "nodes": sorted(
                (n["displayName"], n["phase"], n.get("message"), n.get("synchronizationStatus"))
                for n in final["status"]["nodes"].values()
            ),
        },
    }
    text = json.dumps(result)
    for node in sorted(nodes.values(), key=lambda n: -len(n["id"])):  # longest first
        text = text.replace(f"{namespace}/{name}/{node['id']}", f"NS/WF/{node['displayName']}")
    text = text.replace(f"{namespace}/ConfigMap/", "NS/ConfigMap/").replace(name, "WF")
    return dict(json.loads(text))


def test_a_node_waiting_for_a_template_semaphore_shows_what_argo_shows(
    kubernetes: KubernetesBackend,
) -> None:
    configmap = f"sync-{uuid.uuid4().hex[:6]}"
    argo = _template_scenario(kubernetes, configmap)
    local = _template_scenario(LocalBackend(), configmap)
    lock = f"NS/ConfigMap/{configmap}/template"
    ((display, node),) = argo["waiting"].items()
    assert node == {
        "type": "Pod",
        "phase": "Pending",
        "message": f"Waiting for {lock} lock. Lock status: 0/1",
        "synchronizationStatus": {"waiting": lock},
    }
    holder = "NS/WF/each(1:b)" if display == "each(0:a)" else "NS/WF/each(0:a)"
    assert argo["synchronization"] == {
        "semaphore": {
            "holding": [{"semaphore": lock, "holders": [holder]}],
            "waiting": [{"semaphore": lock, "holders": [holder]}],
        }
    }
    assert argo["final"]["synchronization"] is None
    # Which of the two goes first is a race on both; the rest is the same.
    if local["waiting"].keys() != argo["waiting"].keys():
        text = json.dumps(local)
        for old, new in (("each(0:a)", "@"), ("each(1:b)", "each(0:a)"), ("@", "each(1:b)")):
            text = text.replace(old, new)
        local = json.loads(text)
    assert local == argo
