"""Values out of applied ConfigMaps and Secrets, as a cluster hands them to pods."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from jupyter_argo.errors import NotFoundError, UserError

__all__ = ["configmap_parameter", "configmap_value", "secret_keys", "secret_value"]

CONFIGMAP_TYPE = "workflows.argoproj.io/configmap-type"


def configmap_parameter(configmap: Mapping[str, Any] | None, name: str, key: str) -> str:
    """A parameter's `valueFrom.configMapKeyRef`, as Argo's GetConfigMapValue reads it: the
    controller only sees ConfigMaps labelled `workflows.argoproj.io/configmap-type`, and
    loads parameters only from those labelled `Parameter`. A missing ConfigMap or key is a
    NotFoundError (a `default` may stand in), a wrong label a UserError."""
    labels = ((configmap or {}).get("metadata") or {}).get("labels") or {}
    if configmap is None or CONFIGMAP_TYPE not in labels:
        raise NotFoundError(
            f"ConfigMap '{name}' does not exist. Please make sure it has the label "
            f"{CONFIGMAP_TYPE}: Parameter to be detectable by the controller"
        )
    if labels[CONFIGMAP_TYPE] != "Parameter":
        raise UserError(
            f"ConfigMap '{name}' needs to have the label {CONFIGMAP_TYPE}: Parameter to load "
            "parameters"
        )
    data = configmap.get("data") or {}
    if key not in data:
        raise NotFoundError(f"ConfigMap '{name}' does not have the key '{key}'")
    return str(data[key])


def configmap_value(configmap: Mapping[str, Any] | None, key: str) -> str | None:
    if configmap is None:
        return None
    value = (configmap.get("data") or {}).get(key)
    return None if value is None else str(value)


def secret_value(secret: Mapping[str, Any] | None, key: str) -> str | None:
    """`stringData` as written, else `data` base64-decoded."""
    if secret is None:
        return None
    string_data = secret.get("stringData") or {}
    if key in string_data:
        return str(string_data[key])
    encoded = (secret.get("data") or {}).get(key)
    if encoded is None:
        return None
    return base64.b64decode(str(encoded)).decode("utf-8", "replace")


def secret_keys(secret: Mapping[str, Any] | None) -> set[str]:
    if secret is None:
        return set()
    return set(secret.get("data") or {}) | set(secret.get("stringData") or {})
