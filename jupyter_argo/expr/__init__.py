"""Argo's template and expression languages, as Argo v4.1.2 evaluates them.

- `{{...}}` substitution (`find_tags`, `substitute`, `substitute_object`), on the
  JSON-marshalled template like Argo's util/template.
- expr-lang v1.17 for `{{= ...}}`, `depends`, `retryStrategy.expression` and
  `valueFrom.expression` (`compile_expression`, `evaluate`), in the environment Argo
  builds (`expand_variables`: nested maps plus asInt, asFloat, jsonpath, toJson, sprig).
- govaluate for `when` (`evaluate_when`, `check_when`).
- DAG `depends` (`depends_tasks`, `evaluate_depends`, `legacy_dependencies_to_depends`).

Everything is our own parser and interpreter: user text never reaches Python's `eval`,
and errors are `jupyter_argo.errors.ExpressionError`.
"""

from __future__ import annotations

from jupyter_argo.expr._depends import (
    DependResult,
    depends_tasks,
    evaluate_depends,
    legacy_dependencies_to_depends,
)
from jupyter_argo.expr._env import expand_variables
from jupyter_argo.expr._expression import Expression, compile_expression, evaluate
from jupyter_argo.expr._template import Tag, find_tags, substitute, substitute_object
from jupyter_argo.expr._when import check_when, evaluate_when

__all__ = [
    "DependResult",
    "Expression",
    "Tag",
    "check_when",
    "compile_expression",
    "depends_tasks",
    "evaluate",
    "evaluate_depends",
    "evaluate_when",
    "expand_variables",
    "find_tags",
    "legacy_dependencies_to_depends",
    "substitute",
    "substitute_object",
]
