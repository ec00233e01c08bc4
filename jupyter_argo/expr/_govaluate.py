"""govaluate, as Argo evaluates `when` (workflow/controller/steps.go `shouldExecute`).

Argo substitutes `{{...}}` first, parses the text with Knetic/govaluate, turns every
bare VARIABLE token into a string (so `heads == tails` compares two strings), then
plans and evaluates it with govaluate's own precedence planner. Its quirks come along:
numbers are float64, `==` is reflect.DeepEqual, quoted dates become Unix seconds, and
same-precedence chains are re-ordered by `reorderStages`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jupyter_argo.expr._gotime import UTC, TimeError, parse_time
from jupyter_argo.expr._interrupt import check_interrupt
from jupyter_argo.expr._regex import GoRegexp, RegexError, compile_re2
from jupyter_argo.expr._values import deep_equal, float_to_int, format_v

__all__ = ["GovaluateError", "compile_text", "evaluate_text"]


class GovaluateError(ValueError):
    """`stage` says which of Argo's three steps failed: parse, replan or evaluate."""

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


# Token kinds
PREFIX, NUMERIC, BOOLEAN, STRING, PATTERN, TIME, VARIABLE = [
    "PREFIX",
    "NUMERIC",
    "BOOLEAN",
    "STRING",
    "PATTERN",
    "TIME",
    "VARIABLE",
]
FUNCTION, SEPARATOR, ACCESSOR, COMPARATOR, LOGICALOP, MODIFIER = [
    "FUNCTION",
    "SEPARATOR",
    "ACCESSOR",
    "COMPARATOR",
    "LOGICALOP",
    "MODIFIER",
]
CLAUSE, CLAUSE_CLOSE, TERNARY, UNKNOWN = ["CLAUSE", "CLAUSE_CLOSE", "TERNARY", "UNKNOWN"]


@dataclass
class Token:
    kind: str
    value: Any


# Lexer states: (can end the expression, allowed next kinds).
_VALUE_NEXT = (MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR)
_STATES: dict[str, tuple[bool, tuple[str, ...]]] = {
    UNKNOWN: (
        False,
        (PREFIX, NUMERIC, BOOLEAN, VARIABLE, PATTERN, FUNCTION, ACCESSOR, STRING, TIME, CLAUSE),
    ),
    CLAUSE: (
        False,
        (
            PREFIX,
            NUMERIC,
            BOOLEAN,
            VARIABLE,
            PATTERN,
            FUNCTION,
            ACCESSOR,
            STRING,
            TIME,
            CLAUSE,
            CLAUSE_CLOSE,
        ),
    ),
    CLAUSE_CLOSE: (
        True,
        (
            COMPARATOR,
            MODIFIER,
            NUMERIC,
            BOOLEAN,
            VARIABLE,
            STRING,
            PATTERN,
            TIME,
            CLAUSE,
            CLAUSE_CLOSE,
            LOGICALOP,
            TERNARY,
            SEPARATOR,
        ),
    ),
    NUMERIC: (True, _VALUE_NEXT),
    BOOLEAN: (True, _VALUE_NEXT),
    STRING: (True, _VALUE_NEXT),
    TIME: (True, (MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, SEPARATOR)),
    PATTERN: (True, (MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, SEPARATOR)),
    VARIABLE: (True, _VALUE_NEXT),
    MODIFIER: (
        False,
        (PREFIX, NUMERIC, VARIABLE, FUNCTION, ACCESSOR, STRING, BOOLEAN, CLAUSE, CLAUSE_CLOSE),
    ),
    COMPARATOR: (
        False,
        (
            PREFIX,
            NUMERIC,
            BOOLEAN,
            VARIABLE,
            FUNCTION,
            ACCESSOR,
            STRING,
            TIME,
            CLAUSE,
            CLAUSE_CLOSE,
            PATTERN,
        ),
    ),
    LOGICALOP: (
        False,
        (
            PREFIX,
            NUMERIC,
            BOOLEAN,
            VARIABLE,
            FUNCTION,
            ACCESSOR,
            STRING,
            TIME,
            CLAUSE,
            CLAUSE_CLOSE,
        ),
    ),
    PREFIX: (False, (NUMERIC, BOOLEAN, VARIABLE, FUNCTION, ACCESSOR, CLAUSE, CLAUSE_CLOSE)),
    TERNARY: (
        False,
        (PREFIX, NUMERIC, BOOLEAN, STRING, TIME, VARIABLE, FUNCTION, ACCESSOR, CLAUSE, SEPARATOR),
    ),
    FUNCTION: (False, (CLAUSE,)),
    ACCESSOR: (True, (CLAUSE, MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR)),
    SEPARATOR: (
        False,
        (PREFIX, NUMERIC, BOOLEAN, STRING, TIME, VARIABLE, FUNCTION, ACCESSOR, CLAUSE),
    ),
}
_NULLABLE = {UNKNOWN, CLAUSE, CLAUSE_CLOSE, SEPARATOR}

_COMPARATORS = {"==": "EQ", "!=": "NEQ", ">": "GT", ">=": "GTE", "<": "LT", "<=": "LTE"}
_COMPARATORS.update({"=~": "REQ", "!~": "NREQ", "in": "IN"})
_LOGICAL = {"&&": "AND", "||": "OR"}
_BITWISE = {"^": "BITWISE_XOR", "&": "BITWISE_AND", "|": "BITWISE_OR"}
_SHIFT = {">>": "BITWISE_RSHIFT", "<<": "BITWISE_LSHIFT"}
_ADDITIVE = {"+": "PLUS", "-": "MINUS"}
_MULTIPLICATIVE = {"*": "MULTIPLY", "/": "DIVIDE", "%": "MODULUS"}
_EXPONENTIAL = {"**": "EXPONENT"}
_PREFIXES = {"-": "NEGATE", "!": "INVERT", "~": "BITWISE_NOT"}
_TERNARY = {"?": "TERNARY_TRUE", ":": "TERNARY_FALSE", "??": "COALESCE"}
_MODIFIERS = {**_ADDITIVE, **_MULTIPLICATIVE, **_EXPONENTIAL, **_BITWISE, **_SHIFT}
_SEPARATORS = {",": "SEPARATE"}

_SYMBOL_TEXT = {
    "EQ": "=",
    "NEQ": "!=",
    "GT": ">",
    "LT": "<",
    "GTE": ">=",
    "LTE": "<=",
    "REQ": "=~",
    "NREQ": "!~",
    "AND": "&&",
    "OR": "||",
    "IN": "in",
    "BITWISE_AND": "&",
    "BITWISE_OR": "|",
    "BITWISE_XOR": "^",
    "BITWISE_LSHIFT": "<<",
    "BITWISE_RSHIFT": ">>",
    "PLUS": "+",
    "MINUS": "-",
    "MULTIPLY": "*",
    "DIVIDE": "/",
    "MODULUS": "%",
    "EXPONENT": "**",
    "NEGATE": "-",
    "INVERT": "!",
    "BITWISE_NOT": "~",
    "TERNARY_TRUE": "?",
    "TERNARY_FALSE": ":",
    "COALESCE": "??",
    "NOOP": "NOOP",
    "VALUE": "VALUE",
}

_PRECEDENCE = {
    "NOOP": 0,
    "VALUE": 1,
    "LITERAL": 1,
    "FUNCTIONAL": 2,
    "ACCESS": 2,
    "NEGATE": 3,
    "INVERT": 3,
    "BITWISE_NOT": 3,
    "EXPONENT": 4,
    "PLUS": 5,
    "MINUS": 5,
    "BITWISE_AND": 6,
    "BITWISE_OR": 6,
    "BITWISE_XOR": 6,
    "BITWISE_LSHIFT": 7,
    "BITWISE_RSHIFT": 7,
    "MULTIPLY": 8,
    "DIVIDE": 8,
    "MODULUS": 8,
    "EQ": 9,
    "NEQ": 9,
    "GT": 9,
    "LT": 9,
    "GTE": 9,
    "LTE": 9,
    "REQ": 9,
    "NREQ": 9,
    "IN": 9,
    "TERNARY_TRUE": 10,
    "TERNARY_FALSE": 10,
    "COALESCE": 10,
    "AND": 11,
    "OR": 12,
    "SEPARATE": 13,
}

_TIME_LAYOUTS = (
    "Mon Jan _2 15:04:05 2006",
    "Mon Jan _2 15:04:05 MST 2006",
    "Mon Jan 02 15:04:05 -0700 2006",
    "3:04PM",
    "2006-01-02T15:04:05Z07:00",
    "2006-01-02T15:04:05.999999999Z07:00",
    "2006-01-02",
    "2006-01-02 15:04",
    "2006-01-02 15:04:05",
    "2006-01-02 15:04:05-07:00",
    "2006-01-02T15Z0700",
    "2006-01-02T15:04Z0700",
    "2006-01-02T15:04:05Z0700",
    "2006-01-02T15:04:05.999999999Z0700",
)


def _go_value(value: Any) -> str:
    """Go's %v of a token or stage value."""
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    if isinstance(value, GoRegexp):
        return value.pattern
    return format_v(value)


# --- lexer -------------------------------------------------------------------------------


class _Stream:
    def __init__(self, text: str) -> None:
        self.s = text
        self.pos = 0

    def can_read(self) -> bool:
        return self.pos < len(self.s)

    def read(self) -> str:
        if self.pos >= len(self.s):
            raise GovaluateError("unexpected end of expression after '\\'", "parse")
        ch = self.s[self.pos]
        self.pos += 1
        return ch


def _is_space(ch: str) -> bool:
    return ch.isspace() and not "\x1c" <= ch <= "\x1f"


def _read_until_false(
    stream: _Stream,
    include_space: bool,
    break_space: bool,
    escaping: bool,
    condition: Callable[[str], bool],
) -> tuple[str, bool]:
    buf: list[str] = []
    conditioned = False
    while stream.can_read():
        ch = stream.read()
        if escaping and ch == "\\":
            buf.append(stream.read())
            continue
        if _is_space(ch):
            if break_space and buf:
                conditioned = True
                break
            if not include_space:
                continue
        if condition(ch):
            buf.append(ch)
        else:
            conditioned = True
            stream.pos -= 1
            break
    return "".join(buf), conditioned


def _read_token_until_false(stream: _Stream, condition: Callable[[str], bool]) -> str:
    stream.pos -= 1
    return _read_until_false(stream, False, True, True, condition)[0]


def _is_digit(ch: str) -> bool:
    return ch.isdigit() and ch.isdecimal()


def _is_numeric(ch: str) -> bool:
    return _is_digit(ch) or ch == "."


def _is_quote(ch: str) -> bool:
    return ch in "'\""


def _is_not_alphanumeric(ch: str) -> bool:
    return not (_is_digit(ch) or ch.isalpha() or ch in "()[]" or _is_quote(ch))


def _is_variable_char(ch: str) -> bool:
    return ch.isalpha() or _is_digit(ch) or ch in "_."


_GO_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _try_time(text: str) -> float | None:
    for layout in _TIME_LAYOUTS:
        try:
            parsed = parse_time(layout, text, UTC)
        except TimeError:
            continue
        return float(math.floor(parsed.timestamp()))
    return None


def _read_token(stream: _Stream, state: str) -> Token | None:
    while stream.can_read():
        ch = stream.read()
        if _is_space(ch):
            continue
        if _is_numeric(ch):
            if stream.can_read() and ch == "0":
                ch = stream.read()
                if stream.can_read() and ch == "x":
                    text, _ = _read_until_false(
                        stream, False, True, True, lambda c: c.lower() in "0123456789abcdef"
                    )
                    try:
                        value = int(text, 16)
                        if value >= 1 << 64:
                            raise ValueError(text)
                        return Token(NUMERIC, float(value))
                    except ValueError:
                        raise GovaluateError(
                            f"Unable to parse hex value '{text}' to uint64\n", "parse"
                        ) from None
                stream.pos -= 1
            text = _read_token_until_false(stream, _is_numeric)
            if not _GO_FLOAT.fullmatch(text):
                raise GovaluateError(
                    f"Unable to parse numeric value '{text}' to float64\n", "parse"
                )
            return Token(NUMERIC, float(text))
        if ch == ",":
            return Token(SEPARATOR, ",")
        if ch == "[":
            text, completed = _read_until_false(stream, True, False, True, lambda c: c != "]")
            if not completed:
                raise GovaluateError("Unclosed parameter bracket", "parse")
            stream.pos += 1
            return Token(VARIABLE, text)
        if ch.isalpha():
            text = _read_token_until_false(stream, _is_variable_char)
            token = Token(VARIABLE, text)
            if text in ("true", "false"):
                token = Token(BOOLEAN, text == "true")
            if text in ("in", "IN"):
                token = Token(COMPARATOR, "in")
            dot = text.find(".")
            if dot > 0:
                if text.endswith("."):
                    raise GovaluateError(f"Hanging accessor on token '{text}'", "parse")
                parts = text.split(".")
                for part in parts[1:]:
                    first = part[:1]
                    if first and first.upper() != first:
                        raise GovaluateError(
                            f"Unable to access unexported field '{part}' in token '{text}'",
                            "parse",
                        )
                token = Token(ACCESSOR, parts)
            return token
        if _is_quote(ch):
            text, completed = _read_until_false(
                stream, True, False, True, lambda c: not _is_quote(c)
            )
            if not completed:
                raise GovaluateError("Unclosed string literal", "parse")
            stream.pos += 1
            seconds = _try_time(text)
            return Token(TIME, seconds) if seconds is not None else Token(STRING, text)
        if ch == "(":
            return Token(CLAUSE, ord("("))
        if ch == ")":
            return Token(CLAUSE_CLOSE, ord(")"))
        text = _read_token_until_false(stream, _is_not_alphanumeric)
        if PREFIX in _STATES[state][1] and text in _PREFIXES:
            return Token(PREFIX, text)
        for kind, table in (
            (MODIFIER, _MODIFIERS),
            (LOGICALOP, _LOGICAL),
            (COMPARATOR, _COMPARATORS),
            (TERNARY, _TERNARY),
        ):
            if text in table:
                return Token(kind, text)
        raise GovaluateError(f"Invalid token: '{text}'", "parse")
    return None


def _tokenize(text: str) -> list[Token]:
    stream = _Stream(text)
    state = UNKNOWN
    tokens: list[Token] = []
    while stream.can_read():
        token = _read_token(stream, state)
        if token is None:
            break
        state = token.kind
        tokens.append(token)
    _check_balance(tokens)
    return tokens


def _check_balance(tokens: list[Token]) -> None:
    depth = sum(1 if t.kind == CLAUSE else -1 if t.kind == CLAUSE_CLOSE else 0 for t in tokens)
    if depth != 0:
        raise GovaluateError("Unbalanced parenthesis", "parse")


def _check_syntax(tokens: list[Token], stage: str) -> None:
    state = UNKNOWN
    last: Token | None = None
    for token in tokens:
        if token.kind not in _STATES[state][1]:
            if last is not None and last.kind == VARIABLE and token.kind == CLAUSE:
                raise GovaluateError(f"Undefined function {last.value}", stage)
            first = f"{state} [{_go_value(last.value) if last else '<nil>'}]"
            nxt = f"{token.kind} [{_go_value(token.value)}]"
            raise GovaluateError(f"Cannot transition token types from {first} to {nxt}", stage)
        state = token.kind
        last = token
    if not _STATES[state][0]:
        raise GovaluateError("Unexpected end of expression", stage)


def _optimize(tokens: list[Token], stage: str) -> list[Token]:
    out = list(tokens)
    for index, token in enumerate(out):
        if token.kind == COMPARATOR and token.value in ("=~", "!~") and index + 1 < len(out):
            target = out[index + 1]
            if target.kind == STRING:
                try:
                    out[index + 1] = Token(PATTERN, compile_re2(target.value))
                except RegexError as err:
                    raise GovaluateError(str(err), stage) from None
    return out


# --- planner -----------------------------------------------------------------------------

_LOGICAL_FORMAT = "Value '%s' cannot be used with the logical operator '%s', it is not a bool"
_MODIFIER_FORMAT = "Value '%s' cannot be used with the modifier '%s', it is not a number"
_COMPARATOR_FORMAT = "Value '%s' cannot be used with the comparator '%s', it is not a number"
_TERNARY_FORMAT = "Value '%s' cannot be used with the ternary operator '%s', it is not a bool"
_PREFIX_FORMAT = "Value '%s' cannot be used with the prefix '%s'"


class _Stage:
    __slots__ = (
        "combined",
        "error_format",
        "left",
        "left_check",
        "op",
        "right",
        "right_check",
        "symbol",
    )

    def __init__(
        self,
        symbol: str,
        op: Callable[[Any, Any], Any],
        left: _Stage | None = None,
        right: _Stage | None = None,
        error_format: str = "",
    ) -> None:
        self.symbol = symbol
        self.op = op
        self.left = left
        self.right = right
        self.error_format = error_format
        self.left_check, self.right_check, self.combined = _TYPE_CHECKS.get(
            symbol, (None, None, None)
        )

    def swap_with(self, other: _Stage) -> None:
        for name in ("symbol", "op", "left_check", "right_check", "combined", "error_format"):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, theirs)
            setattr(other, name, mine)


class _Tokens:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def has_next(self) -> bool:
        return self.index < len(self.tokens)

    def next(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def rewind(self) -> None:
        self.index -= 1


Planner = Callable[[_Tokens], "_Stage | None"]


def _level(
    symbols: dict[str, str],
    kinds: tuple[str, ...],
    error_format: str,
    left: Planner | None,
    right: Planner | None,
) -> Planner:
    def plan(stream: _Tokens) -> _Stage | None:
        left_stage = left(stream) if left is not None else None
        while stream.has_next():
            token = stream.next()
            if token.kind not in kinds:
                break
            if not isinstance(token.value, str) or token.value not in symbols:
                break
            symbol = symbols[token.value]
            right_stage = (right or plan)(stream)
            return _Stage(symbol, _OPERATORS[symbol], left_stage, right_stage, error_format)
        stream.rewind()
        return left_stage

    return plan


def _plan_value(stream: _Tokens) -> _Stage | None:
    if not stream.has_next():
        return None
    token = stream.next()
    if token.kind == CLAUSE:
        inner = _plan_tokens(stream)
        stream.next()  # the closing parenthesis; the balance was checked
        return _Stage("NOOP", lambda left, right: right, right=inner)
    if token.kind == CLAUSE_CLOSE:
        stream.rewind()
        return None
    if token.kind == VARIABLE:
        name = token.value

        def parameter(left: Any, right: Any) -> Any:
            raise GovaluateError(f"No parameter '{name}' found.", "evaluate")

        return _Stage("VALUE", parameter)
    if token.kind in (NUMERIC, STRING, PATTERN, BOOLEAN, TIME):
        value = token.value
        return _Stage("LITERAL", lambda left, right: value)
    if token.kind == PREFIX:
        stream.rewind()
        return _PLAN_PREFIX(stream)
    raise GovaluateError(
        f"Unable to plan token kind: '{token.kind}', value: '{_go_value(token.value)}'", "plan"
    )


def _plan_accessor(stream: _Tokens) -> _Stage | None:
    if not stream.has_next():
        return None
    token = stream.next()
    if token.kind != ACCESSOR:
        stream.rewind()
        return _plan_value(stream)
    right_stage = None
    if stream.has_next():
        other = stream.next()
        stream.rewind()
        if other.kind == CLAUSE:
            right_stage = _plan_tokens(stream)
    name = token.value[0]

    def access(left: Any, right: Any) -> Any:
        raise GovaluateError(f"No parameter '{name}' found.", "evaluate")

    return _Stage("ACCESS", access, right=right_stage)


def _plan_function(stream: _Tokens) -> _Stage | None:
    token = stream.next()
    if token.kind != FUNCTION:
        stream.rewind()
        return _plan_accessor(stream)
    raise GovaluateError("functions are not available in 'when' expressions", "plan")


def _plan_tokens(stream: _Tokens) -> _Stage | None:
    if not stream.has_next():
        return None
    return _PLAN_SEPARATOR(stream)


# --- operators and type checks -----------------------------------------------------------


def _is_string(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_float(v: Any) -> bool:
    return isinstance(v, float)


def _addition_check(left: Any, right: Any) -> bool:
    if _is_float(left) and _is_float(right):
        return True
    return _is_string(left) or _is_string(right)


def _comparator_check(left: Any, right: Any) -> bool:
    return (_is_float(left) and _is_float(right)) or (_is_string(left) and _is_string(right))


def _is_pattern_or_string(v: Any) -> bool:
    return isinstance(v, str | GoRegexp)


_TYPE_CHECKS: dict[str, tuple[Any, Any, Any]] = {
    **dict.fromkeys(("GT", "LT", "GTE", "LTE"), (None, None, _comparator_check)),
    "REQ": (_is_string, _is_pattern_or_string, None),
    "NREQ": (_is_string, _is_pattern_or_string, None),
    "AND": (_is_bool, _is_bool, None),
    "OR": (_is_bool, _is_bool, None),
    "IN": (None, lambda v: isinstance(v, list), None),
    **dict.fromkeys(
        [
            "BITWISE_LSHIFT",
            "BITWISE_RSHIFT",
            "BITWISE_OR",
            "BITWISE_AND",
            "BITWISE_XOR",
            "MINUS",
            "MULTIPLY",
            "DIVIDE",
            "MODULUS",
            "EXPONENT",
        ],
        (_is_float, _is_float, None),
    ),
    "PLUS": (None, None, _addition_check),
    "NEGATE": (None, _is_float, None),
    "INVERT": (None, _is_bool, None),
    "BITWISE_NOT": (None, _is_float, None),
    "TERNARY_TRUE": (_is_bool, None, None),
}


def _divide(a: float, b: float) -> float:
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


def _mod(a: float, b: float) -> float:
    if b == 0.0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    return math.fmod(a, b)


def _regex(left: Any, right: Any) -> bool:
    if isinstance(right, str):
        try:
            pattern = compile_re2(right)
        except RegexError as err:
            raise GovaluateError(
                f"Unable to compile regexp pattern '{right}': {err}", "evaluate"
            ) from None
    else:
        pattern = right
    return bool(pattern.matches(left))


def _u64(value: float) -> int:
    return float_to_int(value) % (1 << 64)


def _separator(left: Any, right: Any) -> list[Any]:
    if isinstance(left, list):
        return [*left, right]
    return [left, right]


def _in(left: Any, right: Any) -> bool:
    return any(type(left) is type(v) and left == v for v in right)


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "EQ": lambda a, b: deep_equal(a, b),
    "NEQ": lambda a, b: not deep_equal(a, b),
    "GT": lambda a, b: a > b,
    "LT": lambda a, b: a < b,
    "GTE": lambda a, b: a >= b,
    "LTE": lambda a, b: a <= b,
    "REQ": _regex,
    "NREQ": lambda a, b: not _regex(a, b),
    "AND": lambda a, b: a and b,
    "OR": lambda a, b: a or b,
    "IN": _in,
    "BITWISE_OR": lambda a, b: float(float_to_int(a) | float_to_int(b)),
    "BITWISE_AND": lambda a, b: float(float_to_int(a) & float_to_int(b)),
    "BITWISE_XOR": lambda a, b: float(float_to_int(a) ^ float_to_int(b)),
    "BITWISE_LSHIFT": lambda a, b: float((_u64(a) << min(_u64(b), 64)) % (1 << 64)),
    "BITWISE_RSHIFT": lambda a, b: float(_u64(a) >> min(_u64(b), 64)),
    "PLUS": lambda a, b: (
        _go_value(a) + _go_value(b) if isinstance(a, str) or isinstance(b, str) else a + b
    ),
    "MINUS": lambda a, b: a - b,
    "MULTIPLY": lambda a, b: a * b,
    "DIVIDE": _divide,
    "MODULUS": _mod,
    "EXPONENT": _pow,
    "NEGATE": lambda a, b: -b,
    "INVERT": lambda a, b: not b,
    "BITWISE_NOT": lambda a, b: float(~float_to_int(b)),
    "TERNARY_TRUE": lambda a, b: b if a else None,
    "TERNARY_FALSE": lambda a, b: a if a is not None else b,
    "COALESCE": lambda a, b: a if a is not None else b,
    "SEPARATE": _separator,
}

_PLAN_PREFIX = _level(_PREFIXES, (PREFIX,), _PREFIX_FORMAT, None, _plan_function)
_PLAN_EXPONENTIAL = _level(_EXPONENTIAL, (MODIFIER,), _MODIFIER_FORMAT, _plan_function, None)
_PLAN_MULTIPLICATIVE = _level(
    _MULTIPLICATIVE, (MODIFIER,), _MODIFIER_FORMAT, _PLAN_EXPONENTIAL, None
)
_PLAN_ADDITIVE = _level(_ADDITIVE, (MODIFIER,), _MODIFIER_FORMAT, _PLAN_MULTIPLICATIVE, None)
_PLAN_SHIFT = _level(_SHIFT, (MODIFIER,), _MODIFIER_FORMAT, _PLAN_ADDITIVE, None)
_PLAN_BITWISE = _level(_BITWISE, (MODIFIER,), _MODIFIER_FORMAT, _PLAN_SHIFT, None)
_PLAN_COMPARATOR = _level(_COMPARATORS, (COMPARATOR,), _COMPARATOR_FORMAT, _PLAN_BITWISE, None)
_PLAN_AND = _level({"&&": "AND"}, (LOGICALOP,), _LOGICAL_FORMAT, _PLAN_COMPARATOR, None)
_PLAN_OR = _level({"||": "OR"}, (LOGICALOP,), _LOGICAL_FORMAT, _PLAN_AND, None)
_PLAN_TERNARY = _level(_TERNARY, (TERNARY,), _TERNARY_FORMAT, _PLAN_OR, None)
_PLAN_SEPARATOR = _level(_SEPARATORS, (SEPARATOR,), "", _PLAN_TERNARY, None)


def _reorder(root: _Stage) -> None:
    """govaluate's reorderStages: make same-precedence chains evaluate left to right."""
    same: list[_Stage] = []
    stage: _Stage | None = root
    precedence = _PRECEDENCE.get(root.symbol, 1)
    while stage is not None:
        current = stage
        stage = current.right
        if current.left is not None:
            _reorder(current.left)
        current_precedence = _PRECEDENCE.get(current.symbol, 1)
        if current_precedence == precedence:
            same.append(current)
            continue
        if len(same) > 1:
            _mirror(same)
        same = [current]
        precedence = current_precedence
    if len(same) > 1:
        _mirror(same)


def _mirror(stages: list[_Stage]) -> None:
    n = len(stages)
    for front in stages:
        front.left, front.right = front.right, front.left
    root, last = stages[0], stages[-1]
    last.left, root.right = root.right, last.left
    for i in range((n - 2) // 2 + 1):
        front, inverse = stages[i + 1], stages[n - i - 1]
        front.right, inverse.right = inverse.right, front.right
    for i in range(n // 2):
        stages[i].swap_with(stages[n - i - 1])


_HOLD = object()


def _evaluate(stage: _Stage, depth: int = 0) -> Any:
    if depth > 400:
        raise GovaluateError("expression is nested too deeply", "evaluate")
    left = _evaluate(stage.left, depth + 1) if stage.left is not None else None
    right: Any = None
    symbol = stage.symbol
    if symbol == "AND" and left is False:
        return False
    if symbol == "OR" and left is True:
        return True
    if symbol == "COALESCE" and left is not None:
        return left
    if (symbol == "TERNARY_TRUE" and left is False) or (
        symbol == "TERNARY_FALSE" and left is not None
    ):
        right = _HOLD
    if right is not _HOLD and stage.right is not None:
        right = _evaluate(stage.right, depth + 1)
    symbol_text = _SYMBOL_TEXT.get(stage.symbol, "")
    if stage.combined is None:
        for check, value in ((stage.left_check, left), (stage.right_check, right)):
            if check is not None and not check(value):
                raise GovaluateError(
                    stage.error_format % (_go_value(value), symbol_text), "evaluate"
                )
    elif not stage.combined(left, right):
        raise GovaluateError(stage.error_format % (_go_value(left), symbol_text), "evaluate")
    return stage.op(left, None if right is _HOLD else right)


def _plan(tokens: list[Token], stage: str) -> _Stage:
    try:
        planned = _plan_tokens(_Tokens(tokens))
    except GovaluateError as err:
        raise GovaluateError(str(err), stage) from None
    except IndexError:
        raise GovaluateError("Unexpected end of expression", stage) from None
    if planned is None:
        raise GovaluateError("Unexpected end of expression", stage)
    _reorder(planned)
    return planned


@lru_cache(maxsize=1024)
def compile_text(text: str) -> _Stage:
    """Parse as Argo does: NewEvaluableExpression, VARIABLEs to strings, FromTokens."""
    tokens = _tokenize(text)
    _check_syntax(tokens, "parse")
    tokens = _optimize(tokens, "parse")
    _plan(tokens, "parse")
    tokens = [Token(STRING, t.value) if t.kind == VARIABLE else t for t in tokens]
    _check_balance(tokens)
    _check_syntax(tokens, "replan")
    tokens = _optimize(tokens, "replan")
    return _plan(tokens, "replan")


def evaluate_text(text: str) -> Any:
    """Evaluate `text` with Argo's govaluate rules; the value may be any type."""
    planned = compile_text(text)
    check_interrupt()
    try:
        return _evaluate(planned)
    except RecursionError:
        raise GovaluateError("expression is nested too deeply", "evaluate") from None
