"""A run's outputs as notebook variables (`%%argo --bind`).

What is bound, later entries winning a name they share:

1. the entrypoint's output parameters (the root node's `outputs.parameters`);
2. the workflow's output parameters (`globalName`, in `status.outputs`);
3. for a run of one step (one pod), that step's output parameters and its `result`.

Names become valid Python identifiers: `hello-param` is bound as `hello_param`.
Values stay the strings Argo holds.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from jupyter_argo.run import Run

__all__ = ["bind", "outputs_of", "python_name"]

_INVALID = re.compile(r"\W")


def python_name(name: str) -> str:
    """`hello-param` -> `hello_param`; `2x` -> `_2x`; `class` -> `class_`."""
    out = _INVALID.sub("_", name) or "_"
    if out[0].isdigit():
        out = "_" + out
    if keyword.iskeyword(out):
        out += "_"
    return out


def outputs_of(run: Run) -> dict[str, str]:
    """The values `--bind` binds, by their Argo names."""
    status = run.status
    nodes = [n for n in (status.get("nodes") or {}).values() if isinstance(n, Mapping)]
    values: dict[str, str] = {}
    root = next((n for n in nodes if n.get("id") == run.name), None)
    if root is not None:
        values.update(_parameters(root.get("outputs")))
    values.update(_parameters(status.get("outputs")))
    pods = [n for n in nodes if n.get("type") == "Pod"]
    if len(pods) == 1:
        outputs = pods[0].get("outputs") or {}
        values.update(_parameters(outputs))
        if outputs.get("result") is not None:
            values["result"] = str(outputs["result"])
    return values


def _parameters(section: Any) -> dict[str, str]:
    if not isinstance(section, Mapping):
        return {}
    return {
        str(p["name"]): str(p["value"])
        for p in section.get("parameters") or ()
        if isinstance(p, Mapping) and "name" in p and p.get("value") is not None
    }


def bind(namespace: MutableMapping[str, Any], run: Run) -> dict[str, str]:
    """Put `outputs_of(run)` into `namespace`; returns {variable: Argo name}."""
    bound = {}
    for name, value in outputs_of(run).items():
        variable = python_name(name)
        namespace[variable] = value
        bound[variable] = name
    return bound
