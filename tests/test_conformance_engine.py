"""Argo's own examples on the local engine: each class-A Workflow ends in the phase Argo's e2e
suite expects, and the recovered `verify.py` checks hold.

Like Argo's e2e suite, the WorkflowTemplates, ClusterWorkflowTemplates and ConfigMaps among the
examples are applied first, and suspended workflows are resumed. All examples run at once on
one engine (as a cluster would run them), so the suite takes as long as the slowest example.
"""

from __future__ import annotations

import ast
import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ARGO, argo_examples

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.errors import ArgoError, UserError
from jupyter_argo.spec.parse import parse_file

pytestmark = pytest.mark.conformance

_APPLY = ("WorkflowTemplate", "ClusterWorkflowTemplate", "ConfigMap")
# The slowest example by design (colored-logs.yaml) takes 100 s.
_PATIENCE = 150


def _expectations() -> dict[str, dict[str, Any]]:
    path = ARGO / "expectations.json"
    if not path.exists():
        return {}
    data: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return {k: v for k, v in data.items() if v["class"] == "A"}


EXPECTATIONS = _expectations()


class _Results:
    """Runs every class-A example once, concurrently, and keeps the final workflows."""

    def __init__(self, home: Path) -> None:
        self.engine = LocalBackend(home=home)
        self.final: dict[str, dict[str, Any]] = {}
        self.refused: dict[str, str] = {}
        self.stopped: set[str] = set()

    def run(self) -> None:
        examples = argo_examples()
        for file in sorted(examples.rglob("*.yaml")):
            try:
                for doc in parse_file(file):
                    if doc.kind in _APPLY:
                        self.engine.apply(doc.body)
            except ArgoError:
                continue
        names: dict[str, str] = {}
        for key in EXPECTATIONS:
            try:
                docs = [d for d in parse_file(ARGO / key) if d.kind == "Workflow"]
                created = self.engine.submit(docs[0].body)
                names[key] = created["metadata"]["name"]
            except ArgoError as err:
                self.refused[key] = str(err)
        threads = [threading.Thread(target=self._follow, args=(k, n)) for k, n in names.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _follow(self, key: str, name: str) -> None:
        last: dict[str, Any] = {}
        for snapshot in self.engine.watch(name, timeout=_PATIENCE):
            last = snapshot
            suspended = any(
                n["type"] == "Suspend" and n["phase"] == "Running"
                for n in snapshot["status"].get("nodes", {}).values()
            )
            if suspended and not snapshot["spec"].get("suspend"):
                time.sleep(0.2)  # Argo's e2e resumes once the node shows as suspended
                # A timed suspend may have ended meanwhile, and the run with it.
                with contextlib.suppress(UserError):
                    self.engine.resume(name)
        if last.get("status", {}).get("phase") not in ("Succeeded", "Failed", "Error"):
            # Runs forever by design (forever.yaml): stop it as a user would.
            self.engine.terminate(name)
            last = self.engine.wait(name, timeout=30)
            self.stopped.add(key)
        self.final[key] = last


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> _Results:
    found = _Results(tmp_path_factory.mktemp("conformance"))
    found.run()
    return found


def _ids(phase_wanted: bool) -> list[str]:
    return [
        k
        for k, v in EXPECTATIONS.items()
        if (v["phase"] in ("Succeeded", "Failed")) == phase_wanted
    ]


@pytest.mark.parametrize("key", _ids(True))
def test_example_ends_in_argos_phase(results: _Results, key: str) -> None:
    expected = EXPECTATIONS[key]
    assert key not in results.refused, results.refused.get(key)
    status = results.final[key]["status"]
    assert status["phase"] == expected["phase"], status.get("message")
    nodes = {n["displayName"]: n for n in status.get("nodes", {}).values()}
    year = results.final[key]["metadata"]["creationTimestamp"][:4]
    for check in expected["checks"]:
        if check["type"] == "verify.py":
            source = check["assert"]
            if "<creation year>" in check.get("note", ""):
                # The recorded check was taken in 2021; its note gives today's equivalent.
                source = source.replace("2021", year)
            assert _verify(source, status, nodes), source


@pytest.mark.parametrize("key", _ids(False))
def test_example_without_phase_ends_plausibly(results: _Results, key: str) -> None:
    if key in results.refused:
        # Refused before running: the reason must name what cannot run here.
        assert results.refused[key]
        return
    status = results.final[key]["status"]
    if key in results.stopped:
        assert status["phase"] == "Failed"
        assert status["message"] == "Stopped with strategy 'Terminate'"
        return
    assert status["phase"] in ("Succeeded", "Failed", "Error")


def _verify(source: str, status: dict[str, Any], nodes: dict[str, Any]) -> bool:
    """Evaluates an upstream `assert ...` line over status and nodes, without eval():
    only subscripts, constants, comparisons and the names `status` and `nodes`."""
    tree = ast.parse(source.strip())
    statement = tree.body[0]
    if not isinstance(statement, ast.Assert):
        raise ValueError(source)
    return bool(_value(statement.test, {"status": status, "nodes": nodes}))


def _value(node: ast.AST, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.Subscript):
        return _value(node.value, names)[_value(node.slice, names)]
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right = _value(node.left, names), _value(node.comparators[0], names)
        op = node.ops[0]
        if isinstance(op, ast.Eq):
            return left == right
        if isinstance(op, ast.NotEq):
            return left != right
        if isinstance(op, ast.In):
            return left in right
    raise ValueError(f"unsupported check: {ast.dump(node)}")
