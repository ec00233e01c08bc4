"""Data templates: a source listed, transformed step by step, the result as `outputs.result`.

Argo runs a data template as a pod with one container running `argoexec data`
(`executeData` in workflow/controller/operator.go; the node is a Pod). The executor
(`workflow/executor/data.go`) processes the template (`workflow/data/data.go`): the source
(`artifactPaths`: the keys in the artifact's own bucket under its key, listed through
the driver of its location relocated into the template's archive location,
`executor_data_source_processor.go`; see `jupyter_argo.artifacts.list_objects`), then each
`transformation` step in order (`expression`: expr with the current value as `data`), and
reports the result marshalled as JSON as `outputs.result`, so a `withParam` can loop over
it. When the executor fails, argoexec exits 64 with the error as its termination message,
which the controller turns into the node's message (`inferFailedReason`).

Expressions run in our own expr interpreter (`jupyter_argo.expr`), never Python's `eval`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Protocol

from jupyter_argo import expr
from jupyter_argo.errors import ArgoError
from jupyter_argo.expr._values import StringSlice

if TYPE_CHECKING:
    from jupyter_argo.artifacts import RepositoryConfig, SecretLookup


__all__ = ["EXIT_ERROR", "DataError", "process_data", "run_data"]

EXIT_ERROR = 64
"""argoexec's exit code for its own errors (cmd/argoexec/main.go)."""


class DataOperator(Protocol):
    """What a data template needs of the operator (pods.py's PodOperator has it; a
    Protocol of its own keeps this module out of an import cycle with pods.py)."""

    def mark(
        self, node: dict[str, Any], phase: str, message: str | None = None
    ) -> dict[str, Any]: ...
    def add_node_outputs_to_globals(self, outputs: Mapping[str, Any]) -> None: ...


Lister = Callable[[Mapping[str, Any]], "list[str] | None"]


class DataError(ArgoError):
    """A data template that cannot be processed; the message is Argo's executor's."""


def process_data(data: Mapping[str, Any], list_paths: Lister) -> Any:
    """Argo's `ProcessData`: the source's value, through every transformation step.
    `list_paths(artifact)` lists an `artifactPaths` artifact. Raises DataError worded as
    argoexec's error (without the `unable to process data template: ` it adds)."""
    source = data.get("source") or {}
    artifact = source.get("artifactPaths") if isinstance(source, Mapping) else None
    if artifact is None:
        raise DataError("unable to process data source: no valid source is used for data template")
    try:
        listed = list_paths(artifact if isinstance(artifact, Mapping) else {})
    except ArgoError as err:
        raise DataError(
            f"unable to process data source: unable to source artifact paths: {err}"
        ) from None
    value: Any = listed
    transformed = False
    for index, step in enumerate(data.get("transformation") or []):
        expression = step.get("expression") if isinstance(step, Mapping) else None
        if not expression:
            continue  # a step of no known kind changes nothing, as in Argo
        # The source is a Go []string, nil or not: expr sees a typed list, even empty.
        current = value if transformed else StringSlice(listed or [])
        try:
            value = expr.evaluate(str(expression), {"data": current})
        except ArgoError as err:
            raise DataError(
                f"unable to process data transformation: error processing data step {index}: {err}"
            ) from None
        transformed = True
    return value


def result_json(value: Any) -> str:
    """`value` as argoexec reports it: Go's `json.Marshal`."""
    from jupyter_argo.expr._values import GoError, json_marshal

    try:
        return json_marshal(value)
    except GoError as err:
        raise DataError(str(err)) from None


async def run_data(
    op: DataOperator,
    node: dict[str, Any],
    tmpl: Mapping[str, Any],
    *,
    default: RepositoryConfig,
    secrets: SecretLookup,
    io: Executor,
) -> None:
    """Run the data template `tmpl` as node `node`: Running, then Succeeded with
    `outputs.result`, or Failed as Argo reports a failed `argoexec data`."""
    from jupyter_argo import artifacts

    def list_paths(artifact: Mapping[str, Any]) -> list[str] | None:
        # As Argo's executor: a location that is not complete is relocated into this
        # template's archive location (`newDriverArt`).
        return artifacts.list_objects(artifact, default=default, secrets=secrets)

    def process() -> str:
        try:
            value = process_data(tmpl["data"], list_paths)
        except DataError as err:
            raise DataError(f"unable to process data template: {err}") from None
        return result_json(value)

    op.mark(node, "Running")
    try:
        result = await asyncio.get_running_loop().run_in_executor(io, process)
    except DataError as err:
        node["outputs"] = {"exitCode": str(EXIT_ERROR)}
        op.mark(node, "Failed", f"main: Error (exit code {EXIT_ERROR}): {err}")
        return
    outputs = {"result": result, "exitCode": "0"}
    node["outputs"] = outputs
    op.add_node_outputs_to_globals(outputs)
    op.mark(node, "Succeeded")
