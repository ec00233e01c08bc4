"""The bounds the local engine keeps to, so that no manifest can grow it without end.

Argo documents no such limits (a cluster's API server and etcd bound a workflow's size
instead); a laptop needs its own, and a clear error when one is reached:

    JUPYTER_ARGO_MAX_ITEMS      10000   items one `withItems`, `withParam` or `withSequence`
                                        expands to; attempts one `retryStrategy` makes
    JUPYTER_ARGO_MAX_UNPACKED   10G     bytes an input artifact's archive may unpack to
                                        (a number of bytes, or with K, M, G, T)

Lint reports what it can see before a run (a literal sequence or retry limit above the
bound); the engine checks the rest as it expands.
"""

from __future__ import annotations

import os
import re

from jupyter_argo.errors import ConfigError

__all__ = [
    "ITEMS_VARIABLE",
    "UNPACKED_VARIABLE",
    "human_size",
    "max_items",
    "max_unpacked_bytes",
]

ITEMS_VARIABLE = "JUPYTER_ARGO_MAX_ITEMS"
UNPACKED_VARIABLE = "JUPYTER_ARGO_MAX_UNPACKED"
DEFAULT_ITEMS = 10_000
DEFAULT_UNPACKED = 10 << 30

_SIZE = re.compile(r"(\d+)\s*([KMGT]?)(?:i?B)?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def max_items() -> int:
    """The most items a loop may expand to (and attempts a retry may make)."""
    raw = os.environ.get(ITEMS_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_ITEMS
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{ITEMS_VARIABLE}={raw!r}: give a whole number of items, at least 1")
    return int(raw)


def max_unpacked_bytes() -> int:
    """The most bytes one input artifact's archive may unpack to."""
    raw = os.environ.get(UNPACKED_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_UNPACKED
    match = _SIZE.fullmatch(raw)
    if match is None or int(match.group(1)) < 1:
        raise ConfigError(
            f"{UNPACKED_VARIABLE}={raw!r}: give a size in bytes, e.g. 500M or 20G (at least 1)"
        )
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def human_size(size: int) -> str:
    """1073741824 -> '1 GiB' (whole units when exact, else one decimal)."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:g} {unit}" if value.is_integer() else f"{value:.1f} {unit}"
    return f"{size} bytes"
