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

from typing import TYPE_CHECKING

from jupyter_argo._lazy import lazy_names

if TYPE_CHECKING:
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

# Each name loads its own module on first use (PEP 562): a workflow without expressions
# loads only `{{...}}` substitution, not the expr-lang parser, its builtins or sprig.
_HOMES = {
    "DependResult": "_depends",
    "depends_tasks": "_depends",
    "evaluate_depends": "_depends",
    "legacy_dependencies_to_depends": "_depends",
    "expand_variables": "_env",
    "Expression": "_expression",
    "compile_expression": "_expression",
    "evaluate": "_expression",
    "Tag": "_template",
    "find_tags": "_template",
    "substitute": "_template",
    "substitute_object": "_template",
    "check_when": "_when",
    "evaluate_when": "_when",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
