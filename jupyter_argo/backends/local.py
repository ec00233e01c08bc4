"""The local backend: the embedded engine, behind the shared Backend protocol."""

from __future__ import annotations

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

    def open_artifact(
        self,
        artifact: Mapping[str, Any],
        namespace: str | None = None,
        *,
        workflow: Mapping[str, Any] | str | None = None,
        node: str | None = None,
    ) -> Path:
        """A local copy of an artifact from a node's status, unpacked, found as Argo finds
        it (`jupyter_argo.artifacts._resolve`): pass the Workflow (or its name) and the
        node's ID; without a workflow, key-only artifacts are looked for in the namespace's
        default repository."""
        from jupyter_argo import artifacts
        from jupyter_argo.engine.repositories import StoreRepositories

        ns = namespace or self.namespace
        if isinstance(workflow, str):
            workflow = self.get(workflow, ns)

        def secret(name: str, key: str) -> str | None:
            return secret_value(self.store.get_object("Secret", name, ns), key)

        return artifacts.fetch_artifact(
            artifact,
            source=StoreRepositories(self.store),
            workflow=workflow,
            node=node,
            namespace=ns,
            secrets=secret,
        )


class _TemplateStore:
    available = True

    def __init__(self, backend: LocalBackend, namespace: str) -> None:
        self._backend = backend
        self._namespace = namespace

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self._backend.store.get_object(kind, name, self._namespace)
