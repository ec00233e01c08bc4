"""The local engine's artifact repositories, as Argo's controller configures them
(`workflow/artifactrepositories/artifactrepositories.go`, `New`): ConfigMaps from the
engine's store by namespace, and as the controller's default the embedded directory under
the data directory. The local engine has no controller namespace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_argo.artifacts import RepositoryConfig
    from jupyter_argo.engine.store import Store

__all__ = ["StoreRepositories"]


class StoreRepositories:
    """A `RepositorySource` over the engine's store."""

    controller_namespace: str | None = None

    def __init__(self, store: Store) -> None:
        self._store = store

    def configmap(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        found: Mapping[str, Any] | None = self._store.get_object("ConfigMap", name, namespace)
        return found

    def controller_default(self) -> RepositoryConfig | None:
        from jupyter_argo.artifacts import embedded_repository

        return embedded_repository(self._store.home / "artifacts")

    def no_default(self, namespace: str) -> str:  # pragma: no cover - there always is one
        return "artifact storage is not configured"
