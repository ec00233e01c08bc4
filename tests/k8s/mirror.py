"""Argo's controller played by the local engine: a Workflow created in the cluster runs in
a `LocalBackend` under the same name, and each snapshot it publishes is written back into
the cluster object as the controller would (a whole-object update with the phase and
completed labels). `spec.shutdown` and `spec.suspend` set in the cluster are passed on.
"""

from __future__ import annotations

import threading
import urllib.error
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jupyter_argo.backends.local import LocalBackend
from k8s.controller import Controller
from k8s.envtest import ApiServer


class EngineController:
    def __init__(
        self,
        server: ApiServer,
        namespace: str,
        home: Path,
        objects: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.controller = Controller(server, namespace)
        self.namespace = namespace
        self.local = LocalBackend(home, namespace=namespace)
        for obj in objects:
            self.local.apply(obj, namespace)
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def run(self, name: str) -> threading.Thread:
        """Start running the cluster's Workflow `name`; returns the thread doing it."""
        thread = threading.Thread(target=self._run, args=(name,), daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def join(self, timeout: float = 60) -> None:
        for thread in self.threads:
            thread.join(timeout)
        if self.errors:
            raise self.errors[0]

    def _run(self, name: str) -> None:
        try:
            workflow = self.controller.get(name)
            self.local.submit(
                {"metadata": dict(workflow["metadata"]), "spec": workflow["spec"]},
                namespace=self.namespace,
                name=name,
            )
            done = threading.Event()
            relay = threading.Thread(target=self._relay_actions, args=(name, done), daemon=True)
            relay.start()
            for snapshot in self.local.watch(name, self.namespace):
                self._write(name, snapshot["status"])
            done.set()
            relay.join(10)
        except BaseException as err:
            self.errors.append(err)

    def _write(self, name: str, status: dict[str, Any]) -> None:
        for _ in range(20):
            try:
                self.controller.write(name, status)
                return
            except urllib.error.HTTPError as err:
                if err.code != 409:  # a user's patch came in between: write again
                    raise
        raise RuntimeError(f"could not write the status of {name}")

    def _relay_actions(self, name: str, done: threading.Event) -> None:
        passed: dict[str, Any] = {}
        while not done.wait(0.05):
            spec = self.controller.get(name).get("spec") or {}
            shutdown = spec.get("shutdown")
            if shutdown and passed.get("shutdown") != shutdown:
                passed["shutdown"] = shutdown
                if shutdown == "Stop":
                    self.local.stop(name, self.namespace)
                else:
                    self.local.terminate(name, self.namespace)
            suspend = bool(spec.get("suspend"))
            if suspend != bool(passed.get("suspend")):
                passed["suspend"] = suspend
                if suspend:
                    self.local.suspend(name, self.namespace)
                else:
                    self.local.resume(name, self.namespace)
