"""`when`: Argo's govaluate check, with Argo's error wording."""

from __future__ import annotations

import re

from jupyter_argo.errors import ExpressionError
from jupyter_argo.expr._govaluate import GovaluateError, compile_text, evaluate_text
from jupyter_argo.expr._template import find_tags
from jupyter_argo.expr._values import format_v

__all__ = ["check_when", "evaluate_when"]

_HINT = ' (hint: try wrapping the affected expression in quotes ("))'


def _error(text: str, err: GovaluateError) -> ExpressionError:
    reason = str(err).rstrip("\n")
    if err.stage == "parse":
        hint = _HINT if "Invalid token" in reason else ""
        return ExpressionError(f"Invalid 'when' expression '{text}': {reason}{hint}")
    if err.stage == "replan":
        return ExpressionError(f"Failed to parse 'when' expression '{text}': {reason}")
    return ExpressionError(f"Failed to evaluate 'when' expression '{text}': {reason}")


def evaluate_when(text: str) -> bool:
    """Evaluate an already-substituted `when` as Argo's shouldExecute does.

    Bare words are strings (`tails == heads`), numbers are float64, and the result
    must be a bool. An empty `when` is true.
    """
    if text == "":
        return True
    try:
        result = evaluate_text(text)
    except GovaluateError as err:
        raise _error(text, err) from None
    if not isinstance(result, bool):
        raise ExpressionError(f"Expected boolean evaluation for '{text}'. Got {format_v(result)}")
    return result


_NUMERIC_NEIGHBOUR = re.compile(r"[0-9.]")


def check_when(text: str) -> None:
    """Syntax-check a `when` before substitution: each `{{...}}` counts as one value."""
    if text == "":
        return
    pieces: list[str] = []
    pos = 0
    for tag in find_tags(text):
        before = text[tag.start - 1 : tag.start]
        after = text[tag.end : tag.end + 1]
        numeric = bool(_NUMERIC_NEIGHBOUR.match(before) or _NUMERIC_NEIGHBOUR.match(after))
        pieces.append(text[pos : tag.start])
        # A digit keeps `1{{x}}` numeric; elsewhere an upper-case word stands for the value
        # (upper case so `{{a}}.{{b}}` reads as an accessor, not an unexported field).
        pieces.append("0" if numeric else "X")
        pos = tag.end
    pieces.append(text[pos:])
    try:
        compile_text("".join(pieces))
    except GovaluateError as err:
        raise _error(text, err) from None
