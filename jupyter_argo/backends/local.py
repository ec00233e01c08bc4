"""The local backend: the embedded engine, behind the shared Backend protocol."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_argo.engine import Engine
from jupyter_argo.engine.objects import secret_value

__all__ = ["LocalBackend"]


class LocalBackend(Engine):
    """Runs workflows in this process; state persists under the data directory."""

    name = "local"

    def template_store(self, namespace: str | None = None) -> _TemplateStore:
        """The applied WorkflowTemplates, for lint to resolve `templateRef`s against."""
        return _TemplateStore(self, namespace or self.namespace)

    def open_artifact(self, artifact: Mapping[str, Any], namespace: str | None = None) -> Path:
        from jupyter_argo import artifacts

        repo = artifacts.default_repository(
            lambda cm: self.store.get_object("ConfigMap", cm, namespace or self.namespace),
            None,
            self.store.home,
        )
        target = Path(tempfile.mkdtemp(prefix="jupyter-argo-artifact-")) / str(
            artifact.get("name", "artifact")
        )

        def secret(name: str, key: str) -> str | None:
            return secret_value(
                self.store.get_object("Secret", name, namespace or self.namespace), key
            )

        artifacts.load_input(dict(artifact), target, default=repo, secrets=secret)
        return target


class _TemplateStore:
    available = True

    def __init__(self, backend: LocalBackend, namespace: str) -> None:
        self._backend = backend
        self._namespace = namespace

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self._backend.store.get_object(kind, name, self._namespace)
