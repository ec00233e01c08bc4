"""Values out of applied ConfigMaps and Secrets, as a cluster hands them to pods."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

__all__ = ["configmap_value", "secret_keys", "secret_value"]


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
