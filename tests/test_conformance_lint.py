"""Conformance: Argo's upstream examples and the users' seed document lint clean.

Every example file is linted with the WorkflowTemplates of all the examples available
(as `argo lint` resolves templates across the files it is given), so a reference to a
template that exists nowhere is an error, not a warning.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ARGO, SEED, argo_examples

from jupyter_argo.errors import ParseError
from jupyter_argo.spec.lint import lint
from jupyter_argo.spec.parse import ARGO_KINDS, Document, parse_file, parse_text

pytestmark = pytest.mark.conformance

SUFFIXES = (".yaml", ".yml", ".json")
# Findings upstream's own examples carry; each is a warning, never an error, and each
# has its reason.
KNOWN_WARNINGS = {
    # `annotations` is given twice under metadata (an upstream quirk); the last one wins.
    "k8s-patch-json-workflow.yaml": "duplicate key 'annotations'",
}


def _example_names() -> list[str]:
    root = ARGO / "examples"
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in SUFFIXES)


class _ExamplesStore:
    """Every WorkflowTemplate and ClusterWorkflowTemplate among the examples."""

    available = True

    def __init__(self, root: Path) -> None:
        self.templates: dict[tuple[str, str], dict[str, Any]] = {}
        for name in _example_names():
            for document in parse_file(root / name):
                if document.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
                    self.templates[(document.kind, document.name)] = document.body

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.templates.get((kind, name))


_store: _ExamplesStore | None = None


def examples_store(root: Path) -> _ExamplesStore:
    global _store
    if _store is None:
        _store = _ExamplesStore(root)
    return _store


@pytest.mark.parametrize("name", _example_names() or ["(examples absent)"])
def test_upstream_example_lints_clean(name: str) -> None:
    root = argo_examples()
    documents = parse_file(root / name)
    found = lint(documents, templates=examples_store(root))
    errors = [str(d) for d in found if d.severity == "error"]
    assert errors == []
    warnings = [str(d) for d in found if d.severity == "warning"]
    allowed = KNOWN_WARNINGS.get(Path(name).name)
    assert all(allowed and allowed in w for w in warnings), warnings
    # Support objects (PersistentVolumeClaim, ResourceQuota, ...) are skipped with a note.
    for document in documents:
        if document.kind == "Other":
            assert any(d.severity == "note" and "skipped" in d.message for d in found)


def test_all_examples_in_one_call() -> None:
    root = argo_examples()
    documents = [d for name in _example_names() for d in parse_file(root / name)]
    assert sum(d.kind in ARGO_KINDS for d in documents) > 150
    errors = [str(d) for d in lint(documents) if d.severity == "error"]
    assert errors == []


def _seed_blocks() -> list[str]:
    if not SEED.is_file():
        pytest.skip(f"the seed document is not at {SEED}")
    return re.findall(r"```yaml\n(.*?)```", SEED.read_text(encoding="utf-8"), flags=re.S)


def _complete_argo_manifests(block: str) -> list[Document] | str:
    """The block's documents, or why the block is not a whole Argo manifest."""
    if "<... snipped ...>" in block:
        return "an excerpt (<... snipped ...>)"
    try:
        documents = parse_text(block, "seed.md")
    except ParseError as err:
        return f"a fragment ({err.message})"
    for document in documents:
        if document.kind not in ARGO_KINDS:
            return f"not an Argo kind ({document.body.get('kind')})"
        if "spec" not in document.body:
            return "a fragment without spec (it shows a few fields only)"
    return documents


def test_seed_workflows_lint_clean() -> None:
    checked = 0
    for block in _seed_blocks():
        documents = _complete_argo_manifests(block)
        if isinstance(documents, str):
            continue
        assert [str(d) for d in lint(documents)] == []
        checked += 1
    assert checked >= 6


def test_seed_blocks_left_out_have_reasons() -> None:
    reasons = [r for r in map(_complete_argo_manifests, _seed_blocks()) if isinstance(r, str)]
    assert sorted(reasons) == sorted(
        [
            "an excerpt (<... snipped ...>)",
            "an excerpt (<... snipped ...>)",
            "not an Argo kind (Role)",
            "a fragment without spec (it shows a few fields only)",
            "a fragment (no `kind`, and not a template either (a template has `name` and one "
            "of container, containerSet, dag, data, http, plugin, resource, script, steps, "
            "suspend))",
        ]
    )
