"""Compiled expr-lang programs: `compile_expression` and `evaluate`."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jupyter_argo.errors import ExpressionError
from jupyter_argo.expr import _ast as ast
from jupyter_argo.expr._builtins import BUILTINS, PREDICATE_BUILTINS
from jupyter_argo.expr._checker import CheckFailure, check, free_names, nature_of
from jupyter_argo.expr._interp import Program, compile_tree
from jupyter_argo.expr._parser import ParseFailure, parse
from jupyter_argo.expr._values import GoError

__all__ = ["Expression", "compile_expression", "evaluate", "located"]

_BUILTIN_NAMES = frozenset(BUILTINS) | PREDICATE_BUILTINS
_CHECK_CACHE_SIZE = 32


def located(source: str, pos: int, message: str) -> str:
    """`col N: message`, or `line L, col N: message` for multi-line sources."""
    before = source[:pos]
    line = before.count("\n") + 1
    column = pos - (before.rfind("\n") + 1) + 1
    if "\n" in source:
        return f"line {line}, col {column}: {message}"
    return f"col {column}: {message}"


class Expression:
    """A compiled expr-lang program. Compile once, evaluate against many environments."""

    __slots__ = ("_checked", "_names", "_program", "source", "tree")

    def __init__(self, source: str, tree: ast.Node) -> None:
        self.source = source
        self.tree = tree
        self._program: Program = compile_tree(tree)
        self._names = free_names(tree)
        # Type-check results, keyed by the natures of the names this program reads.
        self._checked: dict[tuple[Any, ...], str | None] = {}

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def check(self, env: Mapping[str, Any]) -> None:
        """Raise ExpressionError where expr's compile-time checker would, in this env."""
        key = tuple(_signature(env, name) for name in self._names)
        if key not in self._checked:
            try:
                check(self.tree, env)
                outcome: str | None = None
            except CheckFailure as err:
                outcome = located(self.source, err.pos, err.message)
            except RecursionError:
                outcome = "expression is nested too deeply"
            if len(self._checked) >= _CHECK_CACHE_SIZE:
                self._checked.clear()
            self._checked[key] = outcome
        message = self._checked[key]
        if message is not None:
            raise ExpressionError(message)

    def run(self, env: Mapping[str, Any]) -> Any:
        """Evaluate without the compile-time check (callers that already checked)."""
        try:
            return self._program(env)
        except GoError as err:
            raise ExpressionError(str(err)) from None
        except RecursionError:
            raise ExpressionError("expression is nested too deeply") from None


def _signature(env: Mapping[str, Any], name: str) -> Any:
    if name not in env:
        return (name, None)
    value = env[name]
    nature = nature_of(value)
    if nature.struct is not None:
        return (name, nature.struct.name, tuple(nature.struct.fields))
    if nature.func is not None:
        return (name, nature.func.name, nature.func.params, nature.func.variadic)
    return (name, nature.kind, nature.elem)


@lru_cache(maxsize=1024)
def compile_expression(source: str) -> Expression:
    """Parse an expr-lang expression; syntax errors name the column."""
    try:
        tree = parse(source, _BUILTIN_NAMES)
    except ParseFailure as err:
        raise ExpressionError(located(source, err.pos, err.message)) from None
    except RecursionError:
        raise ExpressionError("expression is nested too deeply") from None
    return Expression(source, tree)


def evaluate(expression: str | Expression, env: Mapping[str, Any]) -> Any:
    """Evaluate with expr-lang semantics against `env` (see `expand_variables`)."""
    program = expression if isinstance(expression, Expression) else compile_expression(expression)
    program.check(env)
    return program.run(env)
