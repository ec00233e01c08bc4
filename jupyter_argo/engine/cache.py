"""Memoization caches, as Argo's workflow/controller/cache keeps them.

Follows cache.go (the Entry a cache holds, and caches found by ConfigMap name) and
configmap_cache.go (a cache is a ConfigMap labelled `workflows.argoproj.io/configmap-type:
Cache`, one data key per memoization key, each value an Entry as JSON: nodeID, outputs,
creationTimestamp, lastHitTimestamp). Here that ConfigMap lives where the local store keeps
applied ConfigMaps (its objects table, per namespace), so a cache outlives runs and
processes, `jupyter-argo apply` can seed one and deleting the ConfigMap empties it, as
`kubectl` would on a cluster. Each load and save is one store transaction: two processes
using one cache at once see each other's entries.

The operator's side (executeTemplate's cache check, the save when a node succeeds) is in
operator.py; `memoize` in a template is checked by lint (spec/_rules.py) with `key_problem`
and `max_age_problem` from here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from jupyter_argo.errors import UserError
from jupyter_argo.status import format_time, now

if TYPE_CHECKING:
    from jupyter_argo.engine.store import Store

__all__ = [
    "CACHE_LABEL",
    "CacheError",
    "CacheFactory",
    "ConfigMapCache",
    "Entry",
    "key_problem",
    "max_age_problem",
    "memoization_status",
    "parse_max_age",
]

CONFIGMAP_TYPE = "workflows.argoproj.io/configmap-type"
CACHE_LABEL = "Cache"
# Argo's cacheKeyRegex: what Load and Save accept as a key.
_KEY = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
# Kubernetes' limits on a ConfigMap, which refuse Argo's update of the cache past them: a
# data key is at most 253 characters (IsConfigMapKey), the whole object at most 1 MiB.
MAX_KEY_LENGTH = 253
MAX_CONFIGMAP_BYTES = 1 << 20


class CacheError(UserError):
    """A memoization cache cannot be read or written (the node using it ends Error)."""


def key_problem(key: str) -> str:
    """Why Argo's cache (or the ConfigMap under it) refuses `key`, or ""."""
    if not _KEY.fullmatch(key):
        return f"invalid cache key: {key}"
    if len(key) > MAX_KEY_LENGTH:
        return (
            f"cache key {key[:20]}... is {len(key)} characters: a ConfigMap key is at most "
            f"{MAX_KEY_LENGTH}"
        )
    return ""


def parse_max_age(text: str) -> timedelta:
    """`memoize.maxAge` as Argo reads it (Go's time.ParseDuration), or CacheError with
    Argo's message."""
    from jupyter_argo.expr._gotime import TimeError, parse_duration

    try:
        duration = parse_duration(text)
    except TimeError as err:
        raise CacheError(f"invalid maxAge: {err}") from None
    return timedelta(microseconds=duration.ns / 1000)


def max_age_problem(text: str) -> str:
    """Argo's message for a `maxAge` it cannot parse, or ""."""
    try:
        parse_max_age(text)
    except CacheError as err:
        return str(err)
    return ""


def memoization_status(memoize: Mapping[str, Any], hit: bool) -> dict[str, Any]:
    """A node's `memoizationStatus`, as Argo writes it."""
    return {"hit": hit, "key": str(memoize.get("key") or ""), "cacheName": cache_name(memoize)}


def cache_name(memoize: Mapping[str, Any]) -> str:
    cache = memoize.get("cache")
    config_map = cache.get("configMap") if isinstance(cache, Mapping) else None
    name = config_map.get("name") if isinstance(config_map, Mapping) else None
    return name if isinstance(name, str) else ""


# ---- entries (cache.go) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One cached result: the node that made it, its outputs, when it was made and last hit."""

    node_id: str
    outputs: dict[str, Any] | None
    created: datetime | None
    last_hit: datetime | None

    @property
    def hit(self) -> bool:
        return bool(self.node_id)

    def outputs_within(self, max_age: timedelta) -> tuple[dict[str, Any] | None, bool]:
        """The outputs, and False when the entry is older than `max_age` (Argo's
        GetOutputsWithMaxAge: an entry without a creation time is as old as can be)."""
        created = self.created or datetime.min.replace(tzinfo=timezone.utc)
        if now() - created > max_age:
            return None, False
        return self.outputs, True

    def to_json(self) -> str:
        return json.dumps(
            {
                "nodeID": self.node_id,
                "outputs": self.outputs,
                "creationTimestamp": _time_text(self.created),
                "lastHitTimestamp": _time_text(self.last_hit),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Entry:
        """An entry as Go's encoding/json decodes one: field names matched regardless of
        case, unknown fields ignored."""
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict):
                raise ValueError(f"an entry is a JSON object, not {type(raw).__name__}")
            fields: dict[str, Any] = {}
            for name, value in raw.items():
                fields.setdefault(str(name).lower(), value)
            for exact in ("nodeID", "outputs", "creationTimestamp", "lastHitTimestamp"):
                if exact in raw:
                    fields[exact.lower()] = raw[exact]
            node = fields.get("nodeid")
            outputs = fields.get("outputs")
            if node is not None and not isinstance(node, str):
                raise ValueError("nodeID is not a string")
            if outputs is not None and not isinstance(outputs, dict):
                raise ValueError("outputs is not an object")
            return cls(
                node or "",
                outputs,
                _parse_time(fields.get("creationtimestamp")),
                _parse_time(fields.get("lasthittimestamp")),
            )
        except ValueError as err:
            raise CacheError(
                f"malformed cache entry: could not unmarshal JSON; unable to parse: {err}"
            ) from None


def _time_text(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"time {value!r} is not a string")
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


# ---- a ConfigMap as a cache (configmap_cache.go) --------------------------------------------


class ConfigMapCache:
    """One memoization cache: the ConfigMap `name` in `namespace` of the store."""

    def __init__(self, store: Store, namespace: str, name: str) -> None:
        self.store = store
        self.namespace = namespace
        self.name = name

    def _refuse_unlabelled(self, config_map: Mapping[str, Any]) -> None:
        labels = (config_map.get("metadata") or {}).get("labels") or {}
        if CONFIGMAP_TYPE not in labels:
            raise CacheError(
                f"memoization configmap doesn't have {CONFIGMAP_TYPE} label, refusing to use it"
            )
        if labels[CONFIGMAP_TYPE] != CACHE_LABEL:
            raise CacheError(
                f"memoization configmap doesn't have label {CONFIGMAP_TYPE} = {CACHE_LABEL}, "
                "refusing to use it"
            )

    def load(self, key: str) -> Entry | None:
        """The entry under `key` (its last hit time set to now, and stored), or None."""
        if not _KEY.fullmatch(key):
            raise CacheError(f"invalid cache key: {key}")
        found: list[Entry] = []

        def touch(config_map: dict[str, Any] | None) -> dict[str, Any] | None:
            if config_map is None:
                return None  # no ConfigMap yet: a miss
            self._refuse_unlabelled(config_map)
            data = config_map.get("data") or {}
            raw = data.get(key)
            if not raw:
                return None
            entry = Entry.from_json(str(raw))
            entry = Entry(entry.node_id, entry.outputs, entry.created, now())
            data[key] = entry.to_json()
            found.append(entry)
            return config_map

        self.store.update_object("ConfigMap", self.name, self.namespace, touch)
        return found[0] if found else None

    def save(self, key: str, node_id: str, outputs: Mapping[str, Any] | None) -> None:
        """Record `outputs` of node `node_id` under `key`, making the ConfigMap if needed."""
        if not _KEY.fullmatch(key):
            raise CacheError(f"invalid cache key: {key}")
        stamp = now()
        entry = Entry(node_id, None if outputs is None else dict(outputs), stamp, stamp)

        def put(config_map: dict[str, Any] | None) -> dict[str, Any]:
            if config_map is None:
                config_map = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                }
            else:
                self._refuse_unlabelled(config_map)
            meta = config_map.setdefault("metadata", {})
            meta["labels"] = {CONFIGMAP_TYPE: CACHE_LABEL}  # Argo sets the labels whole
            data = config_map.get("data") or {}
            data[key] = entry.to_json()
            config_map["data"] = data
            self._check_limits(key, data)
            return config_map

        self.store.update_object("ConfigMap", self.name, self.namespace, put)

    def _check_limits(self, key: str, data: Mapping[str, str]) -> None:
        """What the Kubernetes API refuses in Argo's update, with Argo's wrapping."""
        problem = ""
        if len(key) > MAX_KEY_LENGTH:
            problem = (
                f"data[{key}]: Invalid value: must be no more than {MAX_KEY_LENGTH} characters"
            )
        else:
            size = sum(len(k.encode()) + len(v.encode()) for k, v in data.items())
            if size > MAX_CONFIGMAP_BYTES:
                problem = f"[]: Too long: must have at most {MAX_CONFIGMAP_BYTES} bytes"
        if problem:
            raise CacheError(
                f'error creating cache entry: ConfigMap "{self.name}" is invalid: {problem}. '
                "Please check out this page for help: "
                "https://argo-workflows.readthedocs.io/en/latest/memoization/#faqs"
            )


class CacheFactory:
    """The caches of one namespace, by ConfigMap name (Argo's cacheFactory)."""

    def __init__(self, store: Store, namespace: str) -> None:
        self.store = store
        self.namespace = namespace
        self._caches: dict[str, ConfigMapCache] = {}

    def get(self, name: str) -> ConfigMapCache:
        cache = self._caches.get(name)
        if cache is None:
            cache = self._caches[name] = ConfigMapCache(self.store, self.namespace, name)
        return cache
