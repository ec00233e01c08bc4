"""Every expression in Argo's upstream examples parses: {{=...}}, depends, when, expression."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import argo_examples

from jupyter_argo import expr

pytestmark = pytest.mark.conformance


def _strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, text) for every string in a YAML document, with the mapping key it sits under."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item, key)
    elif isinstance(node, str):
        yield key, node


def _without_simple_tags(text: str) -> str:
    # retryStrategy.expression may hold {{...}} tags, substituted before it is evaluated.
    for tag in reversed(expr.find_tags(text)):
        text = text[: tag.start] + "x" + text[tag.end :]
    return text


def _check(key: str, text: str, counts: Counter[str]) -> None:
    if key == "depends":
        assert expr.depends_tasks(text), text
        counts["depends"] += 1
    elif key == "when":
        expr.check_when(text)
        counts["when"] += 1
    elif key == "expression":
        expr.compile_expression(_without_simple_tags(text))
        counts["expression"] += 1
    for tag in expr.find_tags(text):
        if tag.kind == "expression":
            expr.compile_expression(tag.body)
            counts["{{=...}}"] += 1
        else:
            counts["{{...}}"] += 1


def _documents(root: Path) -> Iterator[tuple[Path, Any]]:
    for path in sorted(root.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                yield path, document


def test_every_upstream_expression_parses() -> None:
    root = argo_examples()
    counts: Counter[str] = Counter()
    failures = []
    for path, document in _documents(root):
        for key, text in _strings(document):
            try:
                _check(key, text, counts)
            except Exception as err:  # collect them all, report together
                failures.append(f"{path.relative_to(root)}: {key}: {text!r}: {err}")
    assert not failures, "\n".join(failures)
    # The corpus has all the kinds; a drop to zero means the walk is broken, not the code.
    for kind in ("depends", "when", "expression", "{{=...}}", "{{...}}"):
        assert counts[kind] > 0, kind
