"""The environment Argo gives expressions (util/expr/env.GetFuncMap).

Argo's variables are flat dotted keys (`steps.a.outputs.result`); expressions see them
expanded into nested maps (util/expand with bellows), so `steps['a'].outputs.result`
works. On top Argo adds `asInt`, `asFloat`, `jsonpath`, `toJson` and `sprig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_argo.expr._builtins import from_json, go_float, go_int
from jupyter_argo.expr._jsonpath import JsonPathError, query
from jupyter_argo.expr._sprig import SPRIG
from jupyter_argo.expr._values import GoError, GoFunc, json_marshal

__all__ = ["ARGO_FUNCTIONS", "expand_variables"]


def _json_path(text: str, path: str) -> Any:
    try:
        data = from_json(text)
    except GoError as err:
        raise GoError(str(err)) from None
    try:
        return query(path, data)
    except JsonPathError as err:
        raise GoError(str(err)) from None
    except RecursionError:
        raise GoError("jsonpath: data is nested too deeply") from None


ARGO_FUNCTIONS: dict[str, Any] = {
    # expr's own int() and float(), kept under Argo's older names.
    "asInt": GoFunc("asInt", go_int, ("any",)),
    "asFloat": GoFunc("asFloat", go_float, ("any",)),
    "jsonpath": GoFunc("jsonpath", _json_path, ("string", "string")),
    "toJson": GoFunc("toJson", json_marshal, ("any",), result="string"),
    "sprig": SPRIG,
}


def expand_variables(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Argo's expression environment from flat `{"a.b.c": value}` variables.

    A key that is a prefix of another (`workflow.parameters` next to
    `workflow.parameters.x`) is dropped in favour of the nested one, as Argo's
    `removeConflicts` does; then every dotted key becomes nested maps. The result also
    holds Argo's functions, which win over variables of the same name.
    """
    keys = sorted(flat)
    env: dict[str, Any] = {}
    for index, key in enumerate(keys):
        # Sorted order puts a parent right before its children ("a" < "a.b").
        if index + 1 < len(keys) and keys[index + 1].startswith(key + "."):
            continue
        parts = key.split(".")
        node = env
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        leaf = parts[-1]
        if not isinstance(node.get(leaf), dict):
            node[leaf] = flat[key]
    env.update(ARGO_FUNCTIONS)
    return env
