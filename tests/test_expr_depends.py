"""DAG `depends`, with the cases of Argo's ancestry_test.go and dag_test.go."""

from __future__ import annotations

import pytest

from jupyter_argo.errors import ExpressionError
from jupyter_argo.expr import (
    DependResult,
    depends_tasks,
    evaluate_depends,
    legacy_dependencies_to_depends,
)
from jupyter_argo.expr._depends import expand_depends

R = DependResult
PLAIN = {name: R("Succeeded") for name in ("task-1", "task-2", "task-3")}


@pytest.mark.parametrize(
    ("depends", "expected"),
    [
        (
            "(task-1 || task-2.Succeeded) && !task-3.Succeeded",
            "((task-1.Succeeded || task-1.Skipped || task-1.Daemoned) || task-2.Succeeded)"
            " && !task-3.Succeeded",
        ),
        (
            "(task-1 || task-2.AnySucceeded) && !task-3.Succeeded",
            "((task-1.Succeeded || task-1.Skipped || task-1.Daemoned) || task-2.AnySucceeded)"
            " && !task-3.Succeeded",
        ),
        (
            "(task-1||(task-2.Succeeded || task-2.Failed))&&!task-3.Failed",
            "((task-1.Succeeded || task-1.Skipped || task-1.Daemoned)"
            "||(task-2.Succeeded || task-2.Failed))&&!task-3.Failed",
        ),
        (
            "(task-1 || task-1.Succeeded) && !task-1.Failed",
            "((task-1.Succeeded || task-1.Skipped || task-1.Daemoned) || task-1.Succeeded)"
            " && !task-1.Failed",
        ),
        ("task-1.Succeeded && task-1.AnySucceeded", "task-1.Succeeded && task-1.AnySucceeded"),
    ],
)
def test_expansion(depends: str, expected: str) -> None:
    assert expand_depends(depends, PLAIN) == expected


@pytest.mark.parametrize(
    ("failed", "error", "expected"),
    [
        (True, False, "(task-1.Succeeded || task-1.Skipped || task-1.Daemoned || task-1.Failed)"),
        (False, True, "(task-1.Succeeded || task-1.Skipped || task-1.Daemoned || task-1.Errored)"),
        (
            True,
            True,
            "(task-1.Succeeded || task-1.Skipped || task-1.Daemoned || task-1.Errored"
            " || task-1.Failed)",
        ),
    ],
)
def test_continue_on_widens_a_bare_name(failed: bool, error: bool, expected: str) -> None:
    result = R("Failed", continue_on_failed=failed, continue_on_error=error)
    assert expand_depends("task-1", {"task-1": result}) == expected


def test_depends_tasks() -> None:
    depends = "(task-1 || task-2.Succeeded) && !task-3.Succeeded"
    assert depends_tasks(depends) == ["task-1", "task-2", "task-3"]
    assert depends_tasks("(task-1 || task-1.Succeeded) && !task-1.Failed") == ["task-1"]
    assert depends_tasks("A && (C.Succeeded || C.Failed)") == ["A", "C"]


def test_task_results_are_validated() -> None:
    depends_tasks("((task-1.Succeeded || task-1.Omitted) || task-2.Succeeded) && !task-3.Skipped")
    with pytest.raises(ExpressionError, match="task result 'DoeNotExist' for task 'task-1'"):
        depends_tasks("(task-1.DoeNotExist || task-2.Succeeded)")


def test_syntax_errors() -> None:
    with pytest.raises(ExpressionError, match="col 4: unexpected token EOF"):
        depends_tasks("A &&")
    with pytest.raises(ExpressionError, match="unexpected token"):
        depends_tasks("A B")


def test_legacy_dependencies() -> None:
    assert legacy_dependencies_to_depends(["task-1", "task-2"]) == (
        "(task-1.Succeeded || task-1.Skipped || task-1.Daemoned) && "
        "(task-2.Succeeded || task-2.Skipped || task-2.Daemoned)"
    )
    tasks = {"task-1": {"name": "task-1", "continueOn": {"failed": True}}}
    assert legacy_dependencies_to_depends(["task-1"], tasks) == (
        "(task-1.Succeeded || task-1.Skipped || task-1.Daemoned || task-1.Failed)"
    )


def test_evaluate_depends_logic() -> None:
    # dag_test.go TestEvaluateDependsLogic, once A has finished.
    done = {"A": R("Succeeded")}
    assert evaluate_depends("A", done) is True
    finished = {"A": R("Succeeded"), "B": R("Succeeded"), "C": R("Failed")}
    assert evaluate_depends("A && (C.Succeeded || C.Failed)", finished) is True
    assert evaluate_depends("B || C", finished) is True
    assert evaluate_depends("B && C", finished) is False
    later = {"should-execute-2": R("Succeeded"), "should-not-execute": R("Skipped")}
    assert evaluate_depends("should-execute-2 || should-not-execute", later) is True


def test_any_succeeded_and_all_failed() -> None:
    # TestEvaluateAnyAllDependsLogic
    group = R("Succeeded", children_phases=("Running", "Failed"))
    assert evaluate_depends("A.AnySucceeded", {"A": group}) is False
    group = R("Succeeded", children_phases=("Running", "Succeeded"))
    assert evaluate_depends("A.AnySucceeded", {"A": group}) is True
    group = R("Succeeded", children_phases=("Failed", "Running"))
    assert evaluate_depends("B.AllFailed", {"B": group}) is False
    group = R("Succeeded", children_phases=("Failed", "Failed"))
    assert evaluate_depends("B.AllFailed", {"B": group}) is True
    assert evaluate_depends("B.AllFailed", {"B": R("Failed", children_phases=())}) is False


def test_daemons_and_omitted_tasks() -> None:
    # TestEvaluateDependsLogicWhenDaemonFailed / WhenTaskOmitted
    assert evaluate_depends("A", {"A": R("Running", daemoned=True)}) is True
    assert evaluate_depends("A", {"A": R("Pending", daemoned=True)}) is False
    assert evaluate_depends("A", {"A": R("Failed")}) is False
    assert evaluate_depends("A.Omitted", {"A": R("Omitted")}) is True


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("Succeeded", "Succeeded"),
        ("Failed", "Failed"),
        ("Skipped", "Skipped"),
        ("Errored", "Error"),
    ],
)
def test_each_result_and_its_negation(status: str, phase: str) -> None:
    # TestAllEvaluateDependsLogic
    assert evaluate_depends(f"same.{status}", {"same": R(phase)}) is True
    assert evaluate_depends(f"!same.{status}", {"same": R(phase)}) is False


def test_continue_on_makes_a_failure_acceptable() -> None:
    failed = {"A": R("Failed", continue_on_failed=True)}
    assert evaluate_depends("A", failed) is True
    errored = {"A": R("Error", continue_on_error=True)}
    assert evaluate_depends("A", errored) is True
    assert evaluate_depends("A", {"A": R("Error", continue_on_failed=True)}) is False


def test_missing_results_are_errors() -> None:
    with pytest.raises(ExpressionError, match="'B'"):
        evaluate_depends("A && B", {"A": R("Succeeded")})


def test_many_dependencies() -> None:
    names = [f"task-{i}" for i in range(500)]
    depends = legacy_dependencies_to_depends(names)
    results = {name: R("Succeeded") for name in names}
    assert evaluate_depends(depends, results) is True
    results["task-499"] = R("Failed")
    assert evaluate_depends(depends, results) is False
