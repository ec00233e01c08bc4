"""The artifact repository of a workflow on a cluster, resolved as Argo's controller does.

In order: the repository recorded in the workflow's `status.artifactRepositoryRef` (the
controller writes the resolved repository there), the workflow's
`spec.artifactRepositoryRef` or the namespace's `artifact-repositories` ConfigMap, then
the controller's default (`artifactRepository` in `workflow-controller-configmap`).
Credentials are read from the Secrets in the workflow's namespace, as the executor does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from jupyter_argo.backends._k8s.cluster import KINDS, Cluster
from jupyter_argo.errors import ConfigError, NotFoundError

__all__ = ["repository_for", "secret_lookup"]

_CONFIGURE_DOCS = "https://argo-workflows.readthedocs.io/en/latest/configure-artifact-repository/"


def repository_for(
    cluster: Cluster,
    namespace: str,
    workflow: Mapping[str, Any] | None,
    *,
    controller_namespace: str,
    controller_configmap: str,
) -> Any:
    """The `RepositoryConfig` holding the key-only artifacts of `workflow` (or, with no
    workflow, of the namespace's workflows)."""
    from jupyter_argo import artifacts

    status = (workflow or {}).get("status") or {}
    recorded = (status.get("artifactRepositoryRef") or {}).get("artifactRepository")
    if isinstance(recorded, Mapping) and recorded:
        return artifacts.RepositoryConfig(spec=dict(recorded))
    ref = ((workflow or {}).get("spec") or {}).get("artifactRepositoryRef")
    configmaps = _configmaps(cluster, namespace)
    # The local library falls back to an embedded directory; a cluster never does.
    found = artifacts.default_repository(configmaps, ref, Path("/nonexistent"))
    if found.root is None:
        return found
    spec = _controller_default(cluster, controller_namespace, controller_configmap)
    if spec is None:
        raise ConfigError(
            f'no artifact repository for namespace "{namespace}": no artifact-repositories '
            f"ConfigMap there and no artifactRepository in {controller_namespace}/"
            f"{controller_configmap}; see {_CONFIGURE_DOCS}"
        )
    return artifacts.RepositoryConfig(spec=spec)


def secret_lookup(cluster: Cluster, namespace: str) -> Callable[[str, str], str | None]:
    """`secrets(name, key)` over the namespace's Secrets, each read once."""
    cache: dict[str, Mapping[str, Any] | None] = {}

    def lookup(name: str, key: str) -> str | None:
        if name not in cache:
            try:
                cache[name] = cluster.request("get", KINDS["Secret"], namespace, name)
            except NotFoundError:
                cache[name] = None
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


def _configmaps(cluster: Cluster, namespace: str) -> Callable[[str], Mapping[str, Any] | None]:
    def get(name: str) -> Mapping[str, Any] | None:
        try:
            found: Mapping[str, Any] = cluster.request("get", KINDS["ConfigMap"], namespace, name)
        except NotFoundError:
            return None
        return found

    return get


def _controller_default(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        configmap = cluster.request("get", KINDS["ConfigMap"], namespace, name)
    except NotFoundError:
        return None
    data = configmap.get("data") or {}
    if "artifactRepository" in data:
        value = _yaml(data["artifactRepository"], f"{namespace}/{name} artifactRepository")
    else:  # the older layout: the whole configuration under one `config` key
        config = _yaml(data.get("config") or "{}", f"{namespace}/{name} config")
        value = config.get("artifactRepository") if isinstance(config, Mapping) else None
    return dict(value) if isinstance(value, Mapping) and value else None


def _yaml(text: Any, where: str) -> Any:
    try:
        return yaml.safe_load(text) if isinstance(text, str) else text
    except yaml.YAMLError as err:
        raise ConfigError(f"{where} is not valid YAML: {str(err).splitlines()[0]}") from None
