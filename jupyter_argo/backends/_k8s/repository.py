"""Artifact repositories on a cluster, as Argo's controller configures them
(`workflow/artifactrepositories/artifactrepositories.go`, `New`): ConfigMaps from the API
server by namespace, and the controller's default (`artifactRepository` in its
`workflow-controller-configmap`, in the controller's namespace). Which repository an
artifact is in is decided in `jupyter_argo.artifacts._resolve`, as for the local engine.
Credentials are read from the Secrets in the workflow's namespace, as the executor does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import yaml

from jupyter_argo.backends._k8s.cluster import KINDS, Cluster
from jupyter_argo.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from jupyter_argo.artifacts import RepositoryConfig

__all__ = ["ClusterRepositories", "secret_lookup"]

_CONFIGURE_DOCS = "https://argo-workflows.readthedocs.io/en/latest/configure-artifact-repository/"


class ClusterRepositories:
    """A `RepositorySource` over a cluster; each ConfigMap is read once."""

    def __init__(self, cluster: Cluster, controller_namespace: str, controller_configmap: str):
        self._cluster = cluster
        self.controller_namespace: str | None = controller_namespace
        self._controller_configmap = controller_configmap
        self._read: dict[tuple[str, str], Mapping[str, Any] | None] = {}

    def configmap(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        if (namespace, name) not in self._read:
            try:
                found = self._cluster.request("get", KINDS["ConfigMap"], namespace, name)
            except NotFoundError:
                found = None
            self._read[namespace, name] = found
        return self._read[namespace, name]

    def controller_default(self) -> RepositoryConfig | None:
        from jupyter_argo.artifacts import RepositoryConfig

        namespace, name = str(self.controller_namespace), self._controller_configmap
        configmap = self.configmap(namespace, name)
        data = (configmap or {}).get("data") or {}
        if "artifactRepository" in data:
            value = _yaml(data["artifactRepository"], f"{namespace}/{name} artifactRepository")
        else:  # the older layout: the whole configuration under one `config` key
            config = _yaml(data.get("config") or "{}", f"{namespace}/{name} config")
            value = config.get("artifactRepository") if isinstance(config, Mapping) else None
        if not isinstance(value, Mapping) or not value:
            return None
        return RepositoryConfig(spec=dict(value), ref={"default": True})

    def no_default(self, namespace: str) -> str:
        return (
            f'no artifact repository for namespace "{namespace}": no artifact-repositories '
            f"ConfigMap there and no artifactRepository in {self.controller_namespace}/"
            f"{self._controller_configmap}; see {_CONFIGURE_DOCS}"
        )


def secret_lookup(cluster: Cluster, namespace: str) -> Callable[[str, str], str | None]:
    """`secrets(name, key)` over the namespace's Secrets, each read once."""
    cache: dict[str, Mapping[str, Any] | None] = {}

    def lookup(name: str, key: str) -> str | None:
        if name not in cache:
            try:
                cache[name] = cluster.request("get", KINDS["Secret"], namespace, name)
            except NotFoundError:
                cache[name] = None
            except ConfigError as err:
                if not str(err).startswith("forbidden:"):
                    raise
                raise ConfigError(
                    f'cannot read the artifact repository\'s credentials (Secret "{name}" in '
                    f'namespace "{namespace}"): {err}; the run\'s status, parameters and pod '
                    "logs still work"
                ) from None
        secret = cache[name]
        if secret is None:
            return None
        text = (secret.get("stringData") or {}).get(key)
        if text is not None:
            return str(text)
        encoded = (secret.get("data") or {}).get(key)
        if encoded is None:
            return None
        try:
            return base64.b64decode(encoded).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ConfigError(f'secret "{name}" key "{key}" is not base64 of UTF-8 text') from None

    return lookup


def _yaml(text: Any, where: str) -> Any:
    try:
        return yaml.safe_load(text) if isinstance(text, str) else text
    except yaml.YAMLError as err:
        raise ConfigError(f"{where} is not valid YAML: {str(err).splitlines()[0]}") from None
