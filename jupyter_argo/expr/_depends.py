"""DAG `depends`: which tasks an expression names, and whether it holds.

From workflow/common/ancestry.go and workflow/controller/dag.go (evaluateDependsLogic):
a bare task name `A` means `(A.Succeeded || A.Skipped || A.Daemoned)`, plus `A.Errored`
and `A.Failed` when task A continues on error or failure; `-` in names becomes `_`; the
expression then runs through expr-lang against one TaskResults struct per task.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jupyter_argo.errors import ExpressionError
from jupyter_argo.expr._expression import Expression, compile_expression
from jupyter_argo.expr._values import Struct

__all__ = [
    "TASK_RESULTS",
    "DependResult",
    "depends_tasks",
    "evaluate_depends",
    "legacy_dependencies_to_depends",
]

TASK_RESULTS = (
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
)

# Argo's taskNameRegex. Its taskResultRegex is the first alternative alone; searched on
# its own it backtracks quadratically through a long name with no result after it, so its
# matches are taken from this one's (the same: a failed first alternative finds nothing
# anywhere in the name, which the second then steps over).
_TASK_NAME = re.compile(r"([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)|([a-zA-Z0-9][-a-zA-Z0-9]*)")


@dataclass(frozen=True)
class DependResult:
    """What `depends` may know about a finished dependency."""

    phase: str  # the node phase: Succeeded, Failed, Error, Skipped, Omitted, Running, Pending
    daemoned: bool = False
    continue_on_failed: bool = False
    continue_on_error: bool = False
    children_phases: tuple[str, ...] | None = None  # a TaskGroup's (loop's) children


def _expand_dependency(name: str, result: DependResult | None) -> str:
    parts = [f"{name}.Succeeded", f"{name}.Skipped", f"{name}.Daemoned"]
    if result is not None and result.continue_on_error:
        parts.append(f"{name}.Errored")
    if result is not None and result.continue_on_failed:
        parts.append(f"{name}.Failed")
    return "(" + " || ".join(parts) + ")"


def _validate(expression: str) -> None:
    for match in _TASK_NAME.finditer(expression):
        if not match.group(1):
            continue
        task, result = match.group(1).split(".", 1)
        if result not in TASK_RESULTS:
            raise ExpressionError(f"task result '{result}' for task '{task}' is invalid")


def depends_tasks(expression: str) -> list[str]:
    """The tasks a `depends` expression names, in order, as written (with `-`)."""
    _validate(expression)
    compile_expression(expression.replace("-", "_"))
    return depends_names(expression)


def expand_depends(expression: str, results: Mapping[str, DependResult]) -> str:
    """Argo's GetTaskDependencies logic: every bare task name replaced by its expansion."""
    bare = [m for m in _TASK_NAME.finditer(expression) if m.group(2)]
    for match in reversed(bare):
        name = match.group(2)
        if name not in results:
            raise ExpressionError(f"depends names task '{name}', which has no result")
        expanded = _expand_dependency(name, results[name])
        expression = expression[: match.start()] + expanded + expression[match.end() :]
    return expression


def _task_results(result: DependResult) -> Struct:
    children = result.children_phases
    any_succeeded = bool(children) and any(p == "Succeeded" for p in children or ())
    all_failed = bool(children) and all(p == "Failed" for p in children or ())
    return Struct(
        "TaskResults",
        {
            "Succeeded": result.phase == "Succeeded",
            "Failed": result.phase == "Failed",
            "Errored": result.phase == "Error",
            "Skipped": result.phase == "Skipped",
            "Omitted": result.phase == "Omitted",
            "Daemoned": result.daemoned and result.phase != "Pending",
            "AnySucceeded": any_succeeded,
            "AllFailed": all_failed,
        },
    )


@lru_cache(maxsize=1024)
def _analyse(expression: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every task named, the tasks named bare), checking the result names once."""
    _validate(expression)
    bare = tuple(m.group(2) for m in _TASK_NAME.finditer(expression) if m.group(2))
    return tuple(depends_names(expression)), bare


@lru_cache(maxsize=1024)
def _logic(expression: str, flags: tuple[tuple[bool, bool], ...]) -> tuple[Expression, str]:
    """The expanded, `-`-free program for given continue-on flags of the bare names."""
    _, bare = _analyse(expression)
    results = {
        name: DependResult("", continue_on_failed=f, continue_on_error=e)
        for name, (f, e) in zip(bare, flags, strict=True)
    }
    logic = expand_depends(expression, results).replace("-", "_")
    return compile_expression(logic), logic


def evaluate_depends(expression: str, results: Mapping[str, DependResult]) -> bool:
    """Whether a task whose dependencies have all finished should run.

    `results` maps each dependency's task name (with `-`) to its result; the caller
    waits until every dependency is fulfilled, as Argo does before evaluating.
    """
    names, bare = _analyse(expression)
    for name in names:
        if name not in results:
            raise ExpressionError(f"depends names task '{name}', which has no result")
    flags = tuple(
        (results[name].continue_on_failed, results[name].continue_on_error) for name in bare
    )
    program, logic = _logic(expression, flags)
    env: dict[str, Struct] = {}
    for name in names:
        env.setdefault(name.replace("-", "_"), _task_results(results[name]))
    try:
        program.check(env)
        outcome = program.run(env)
    except ExpressionError as err:
        raise ExpressionError(f"unable to evaluate expression '{logic}': {err}") from None
    if not isinstance(outcome, bool):
        raise ExpressionError(f"unable to cast expression result '{outcome}' to bool")
    return outcome


def depends_names(expression: str) -> list[str]:
    """Task names in order of first mention (`A` from `A` and from `A.Succeeded`)."""
    names: list[str] = []
    for match in _TASK_NAME.finditer(expression):
        name = match.group(1).split(".", 1)[0] if match.group(1) else match.group(2)
        if name not in names:
            names.append(name)
    return names


def legacy_dependencies_to_depends(
    names: list[str], tasks: Mapping[str, Mapping[str, Any]] | None = None
) -> str:
    """`dependencies: [A, B]` as Argo rewrites it into a `depends` expression.

    Each name becomes `(A.Succeeded || A.Skipped || A.Daemoned)`, plus `A.Errored` /
    `A.Failed` when the DAG task A (from `tasks`, name -> task spec) has
    `continueOn.error` / `continueOn.failed`.
    """
    tasks = tasks or {}
    parts = []
    for name in names:
        continue_on = (tasks.get(name) or {}).get("continueOn") or {}
        flags = DependResult(
            phase="",
            continue_on_failed=bool(continue_on.get("failed")),
            continue_on_error=bool(continue_on.get("error")),
        )
        parts.append(_expand_dependency(name, flags))
    return " && ".join(parts)
