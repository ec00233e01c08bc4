"""On an API server of its own: Argo not installed yet, then a watch that lives through a
kube-apiserver restart (etcd keeps the data) and still delivers the final status."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from k8s.controller import Controller, manifest, steps_with_retry_and_exit
from k8s.envtest import NAMESPACE, api_server

from jupyter_argo.backends.kubernetes import KubernetesBackend
from jupyter_argo.errors import BackendError, ConfigError


@pytest.mark.slow
def test_argo_missing_then_a_watch_through_a_restart(tmp_path: Path) -> None:
    with api_server(install=False) as server:
        backend = KubernetesBackend(kubeconfig=server.kubeconfig(tmp_path / "kc"))
        with pytest.raises(ConfigError, match="Argo Workflows is not installed in this cluster"):
            backend.list()
        with pytest.raises(ConfigError, match="Argo Workflows is not installed"):
            backend.submit(manifest("early"))
        server.install_argo()

        controller = Controller(server, NAMESPACE)
        name = f"restart-{uuid.uuid4().hex[:6]}"
        controller.create(manifest(name))
        received: list[dict[str, Any]] = []
        failure: list[BaseException] = []
        first = threading.Event()

        def consume() -> None:
            try:
                for snapshot in backend.watch(name, timeout=120):
                    received.append(snapshot)
                    first.set()
            except BaseException as err:
                failure.append(err)

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        assert first.wait(30)
        running = controller.write(name, {"phase": "Running"})
        wait_for(lambda: len(received) == 2)

        server.stop_apiserver()
        time.sleep(1.0)  # the watch is now retrying against a closed port
        server.start_apiserver()
        final = controller.write(name, steps_with_retry_and_exit(name))
        reader.join(120)

        assert not failure, failure
        assert received[1]["metadata"]["resourceVersion"] == running["metadata"]["resourceVersion"]
        assert received[-1]["metadata"]["resourceVersion"] == final["metadata"]["resourceVersion"]
        assert received[-1]["status"]["phase"] == "Failed"

        # Down for longer than the backend waits: a clear error, not a hang.
        server.stop_apiserver()
        patient = KubernetesBackend(
            kubeconfig=server.kubeconfig(tmp_path / "kc2"), reconnect_for=0.5
        )
        with pytest.raises(
            BackendError, match=f'lost the watch on workflow "{name}" .*connection refused'
        ):
            list(patient.watch(name, timeout=60))
        for b in (backend, patient):
            b.close()


def wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)
