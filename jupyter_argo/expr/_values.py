"""Go's value semantics for expressions: types, equality, arithmetic, `%v` and JSON.

Python values stand for Go values: None is nil, int is int (64-bit, wrapping), float is
float64, str is string, bytes is []byte, list/tuple is []interface{}, a Mapping is
map[string]interface{}, datetime is time.Time and `Duration` is time.Duration.
`Struct` is a Go struct (e.g. the DAG's TaskResults) whose unknown fields are errors.
Every operation raises `GoError` with the message Go's runtime would give.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jupyter_argo.expr._gotime import Duration, format_time, to_aware
from jupyter_argo.expr._quote import go_quote

__all__ = [
    "AnyKeyMap",
    "GoError",
    "GoFunc",
    "StringSlice",
    "Struct",
    "add",
    "deep_equal",
    "divide",
    "equal",
    "exponent",
    "format_float",
    "format_v",
    "go_param_name",
    "go_quote",
    "go_type",
    "is_array",
    "is_int",
    "is_map",
    "is_number",
    "json_marshal",
    "less",
    "modulo",
    "multiply",
    "negate",
    "normalize",
    "subtract",
    "to_float",
    "to_int",
    "wrap_int",
]

INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1
# Strings built by `+` stay far below what Kubernetes would ever accept (1.5 MiB objects);
# the bound stops `reduce(1..64, #acc + #acc, 'x')` from eating the machine.
MAX_STRING = 64 * 1024 * 1024


class GoError(Exception):
    """A runtime error, with Go's wording."""


@dataclass(frozen=True)
class Struct:
    """A Go struct value: fixed fields, unknown ones are an error to read."""

    name: str
    fields: Mapping[str, Any]


class AnyKeyMap(dict):  # type: ignore[type-arg]
    """A Go map[interface{}]...: what groupBy and fromPairs build. JSON cannot encode it."""

    go_name = "map[interface {}]interface {}"


class StringSlice(list):  # type: ignore[type-arg]
    """A Go []string in an environment: expr's checker knows its elements are strings
    (a data template's `data`, the listed artifact paths)."""

    go_name = "[]string"


@dataclass(frozen=True)
class GoFunc:
    """A Go function value, called the way reflection calls it.

    `params` are Go type names used to check (and for nil, zero) arguments: "any",
    "string", "int", "float64", "bool", "[]any", "map", "time", "duration". When
    `variadic` is set, the last entry applies to every remaining argument.
    """

    name: str
    fn: Callable[..., Any] = field(repr=False)
    params: tuple[str, ...] = ()
    variadic: bool = False
    result: str = "any"

    @property
    def go_name(self) -> str:
        params = [go_param_name(p) for p in self.params]
        if self.variadic and params:
            params[-1] = "..." + params[-1]
        return f"func({', '.join(params)}) {go_param_name(self.result)}"


def go_param_name(param: str) -> str:
    """The Go spelling of a GoFunc parameter type."""
    return _GO_PARAM_NAMES.get(param, param)


_GO_PARAM_NAMES = {
    "any": "interface {}",
    "[]any": "[]interface {}",
    "map": "map[string]interface {}",
    "time": "time.Time",
    "duration": "time.Duration",
    "[]string": "[]string",
}


def wrap_int(value: int) -> int:
    """Go's int64 overflow: wrap around."""
    if INT_MIN <= value <= INT_MAX:
        return value
    return ((value - INT_MIN) % (1 << 64)) + INT_MIN


def is_number(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, float)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_array(value: Any) -> bool:
    return isinstance(value, list | tuple)


def is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def normalize(value: Any) -> Any:
    """Python stand-ins that have a single Go meaning: timedelta is a Duration."""
    if isinstance(value, timedelta):
        return Duration.of(value)
    return value


def go_type(value: Any) -> str:
    """Go's `%T` of the value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes | bytearray):
        return "[]uint8"
    if isinstance(value, AnyKeyMap):
        return AnyKeyMap.go_name
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    if isinstance(value, datetime):
        return "time.Time"
    if isinstance(value, Duration | timedelta):
        return "time.Duration"
    if isinstance(value, Struct):
        return value.name
    if isinstance(value, GoFunc):
        return value.go_name
    if callable(value):
        return "func(...interface {}) interface {}"
    return type(value).__name__


def to_int(value: Any) -> int:
    """Go's int(x) on a number (runtime.ToInt): floats truncate."""
    if is_int(value):
        return int(value)
    if isinstance(value, float):
        return float_to_int(value)
    raise GoError(f"invalid operation: int({go_type(value)})")


def float_to_int(value: float) -> int:
    # Out-of-range conversions are undefined in Go; amd64 yields the minimum int.
    if math.isnan(value) or math.isinf(value) or not INT_MIN <= value < 2.0**63:
        return INT_MIN
    return int(value)


def to_float(value: Any) -> float:
    if is_number(value):
        return float(value)
    raise GoError(f"invalid operation: float({go_type(value)})")


# --- equality and ordering ---------------------------------------------------------------


def equal(a: Any, b: Any) -> bool:
    """expr's `==` (runtime.Equal): numbers across int/float, arrays element by element."""
    if is_number(a):
        if is_number(b):
            return float(a) == float(b) if isinstance(a, float) or isinstance(b, float) else a == b
        return deep_equal(a, b)
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if isinstance(a, bool):
        return isinstance(b, bool) and a == b
    if isinstance(a, list | tuple):
        if isinstance(b, list | tuple):
            return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
        return False
    if isinstance(a, datetime):
        return isinstance(b, datetime) and to_aware(a) == to_aware(b)
    if a is None and b is None:
        return True
    return deep_equal(a, b)


def deep_equal(a: Any, b: Any) -> bool:
    """Go's reflect.DeepEqual: same dynamic types all the way down."""
    a, b = normalize(a), normalize(b)
    if a is None or b is None:
        return a is None and b is None
    if go_type(a) != go_type(b):
        return False
    if isinstance(a, Mapping):
        return len(a) == len(b) and all(k in b and deep_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == b
    if isinstance(a, datetime):
        return bool(a == b and a.tzinfo == b.tzinfo)
    return bool(a == b)


def _ordered(op: str, a: Any, b: Any) -> tuple[Any, Any]:
    if is_number(a) and is_number(b):
        return a, b
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    if isinstance(a, datetime) and isinstance(b, datetime):
        return to_aware(a), to_aware(b)
    if isinstance(a, Duration) and isinstance(b, Duration):
        return a.ns, b.ns
    raise GoError(f"invalid operation: {go_type(a)} {op} {go_type(b)}")


def less(op: str, a: Any, b: Any) -> bool:
    """`<`, `>`, `<=`, `>=` on numbers, strings, times and durations."""
    x, y = _ordered(op, normalize(a), normalize(b))
    if op == "<":
        return bool(x < y)
    if op == ">":
        return bool(x > y)
    if op == "<=":
        return bool(x <= y)
    return bool(x >= y)


# --- arithmetic --------------------------------------------------------------------------


def add(a: Any, b: Any) -> Any:
    if is_int(a) and is_int(b):
        return wrap_int(a + b)
    if is_number(a) and is_number(b):
        return float(a) + float(b)
    if isinstance(a, str) and isinstance(b, str):
        if len(a) + len(b) > MAX_STRING:
            raise GoError("memory budget exceeded")
        return a + b
    a, b = normalize(a), normalize(b)
    if isinstance(a, datetime) and isinstance(b, Duration):
        return _shift(a, b.ns)
    if isinstance(a, Duration) and isinstance(b, datetime):
        return _shift(b, a.ns)
    if isinstance(a, Duration) and isinstance(b, Duration):
        return Duration(wrap_int(a.ns + b.ns))
    raise GoError(f"invalid operation: {go_type(a)} + {go_type(b)}")


def _shift(t: datetime, ns: int) -> datetime:
    micros = ns // 1000 if ns >= 0 else -(-ns // 1000)
    return to_aware(t) + timedelta(microseconds=micros)


def subtract(a: Any, b: Any) -> Any:
    if is_int(a) and is_int(b):
        return wrap_int(a - b)
    if is_number(a) and is_number(b):
        return float(a) - float(b)
    a, b = normalize(a), normalize(b)
    if isinstance(a, datetime) and isinstance(b, datetime):
        delta = to_aware(a) - to_aware(b)
        return Duration.of(delta)
    if isinstance(a, datetime) and isinstance(b, Duration):
        return _shift(a, -b.ns)
    if isinstance(a, Duration) and isinstance(b, Duration):
        return Duration(wrap_int(a.ns - b.ns))
    raise GoError(f"invalid operation: {go_type(a)} - {go_type(b)}")


def multiply(a: Any, b: Any) -> Any:
    if is_int(a) and is_int(b):
        return wrap_int(a * b)
    if is_number(a) and is_number(b):
        return float(a) * float(b)
    a, b = normalize(a), normalize(b)
    if isinstance(a, Duration) or isinstance(b, Duration):
        x = a.ns if isinstance(a, Duration) else a
        y = b.ns if isinstance(b, Duration) else b
        if is_int(x) and is_int(y):
            return Duration(wrap_int(x * y))
        if is_number(x) and is_number(y):
            return float(x) * float(y)
    raise GoError(f"invalid operation: {go_type(a)} * {go_type(b)}")


def divide(a: Any, b: Any) -> float:
    """expr's `/`: always float64 division, so 1/0 is +Inf."""
    if is_number(a) and is_number(b):
        x, y = float(a), float(b)
        if y == 0.0:
            if x == 0.0 or math.isnan(x):
                return math.nan
            return math.copysign(math.inf, x) * math.copysign(1.0, y)
        return x / y
    raise GoError(f"invalid operation: {go_type(a)} / {go_type(b)}")


def modulo(a: Any, b: Any) -> int:
    """expr's `%`: integers only, Go's truncated remainder."""
    if is_int(a) and is_int(b):
        if b == 0:
            raise GoError("runtime error: integer divide by zero")
        r = abs(a) % abs(b)
        return wrap_int(-r if a < 0 else r)
    raise GoError(f"invalid operation: {go_type(a)} % {go_type(b)}")


def exponent(a: Any, b: Any) -> float:
    if is_number(a) and is_number(b):
        try:
            return math.pow(float(a), float(b))
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan
    raise GoError(f"invalid operation: float({go_type(a) if not is_number(a) else go_type(b)})")


def negate(a: Any) -> Any:
    if is_int(a):
        return wrap_int(-a)
    if isinstance(a, float):
        return -a
    raise GoError(f"invalid operation: - {go_type(a)}")


# --- formatting --------------------------------------------------------------------------


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of |value| and where the point goes (0.DIGITS x 10^point).

    Go's strconv and Python's repr both pick the shortest digits that read back exactly.
    """
    text = repr(abs(value))
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return stripped.rstrip("0") or "0", point


def _format_e(neg: bool, digits: str, point: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp = point - 1
    sign = "-" if exp < 0 else "+"
    return f"{'-' if neg else ''}{mantissa}e{sign}{abs(exp):02d}"


def _format_f(neg: bool, digits: str, point: int) -> str:
    if point <= 0:
        text = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return ("-" if neg else "") + text


def format_float(value: float, mode: str = "v") -> str:
    """A float64 as Go prints it: mode "v" is fmt's %v, "json" is encoding/json's."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    neg = math.copysign(1.0, value) < 0
    if value == 0.0:
        return "-0" if neg else "0"
    digits, point = _shortest_digits(value)
    if mode == "json":
        magnitude = abs(value)
        if magnitude < 1e-6 or magnitude >= 1e21:
            text = _format_e(neg, digits, point)
            # encoding/json trims e-07 to e-7.
            if len(text) >= 4 and text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
                text = text[:-2] + text[-1]
            return text
        return _format_f(neg, digits, point)
    # %v is %g with the shortest digits, which switches to an exponent at 1e6 (or 1e-5).
    exp = point - 1
    if exp < -4 or exp >= 6:
        return _format_e(neg, digits, point)
    return _format_f(neg, digits, point)


def format_v(value: Any) -> str:
    """Go's fmt `%v`."""
    value = normalize(value)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return "[" + " ".join(str(b) for b in value) + "]"
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: _sort_key(kv[0]))
        return "map[" + " ".join(f"{format_v(k)}:{format_v(v)}" for k, v in items) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(format_v(v) for v in value) + "]"
    if isinstance(value, datetime):
        return format_time(value, "2006-01-02 15:04:05.999999999 -0700 MST")
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, Struct):
        return "{" + " ".join(format_v(v) for v in value.fields.values()) + "}"
    if callable(value):
        return "0xc000010000"
    return str(value)


def _sort_key(key: Any) -> tuple[int, Any]:
    if is_number(key):
        return (0, float(key))
    if isinstance(key, str):
        return (1, key)
    return (2, format_v(key))


# --- JSON --------------------------------------------------------------------------------

_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def json_string(text: str) -> str:
    """A string as Go's encoding/json writes it (HTML characters escaped)."""
    out = ['"']
    for ch in text:
        escaped = _JSON_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif "\ud800" <= ch <= "\udfff":
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_marshal(value: Any, indent: str = "", max_depth: int = 200) -> str:
    """Go's json.Marshal (or MarshalIndent with `indent`), errors worded like Go's."""
    parts: list[str] = []
    try:
        _marshal(value, parts, indent, 0, max_depth)
    except RecursionError:
        raise GoError("json: unsupported value: nested too deeply") from None
    return "".join(parts)


def _marshal(value: Any, out: list[str], indent: str, level: int, max_depth: int) -> None:
    if level > max_depth:
        raise GoError("json: unsupported value: nested too deeply")
    value = normalize(value)
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise GoError(f"json: unsupported value: {format_float(value)}")
        out.append(format_float(value, "json"))
    elif isinstance(value, str):
        out.append(json_string(value))
    elif isinstance(value, bytes | bytearray):
        out.append('"' + base64.b64encode(bytes(value)).decode() + '"')
    elif isinstance(value, datetime):
        out.append('"' + format_time(value, "2006-01-02T15:04:05.999999999Z07:00") + '"')
    elif isinstance(value, Duration):
        out.append(str(value.ns))
    elif isinstance(value, AnyKeyMap):
        raise GoError(f"json: unsupported type: {AnyKeyMap.go_name}")
    elif isinstance(value, Mapping | Struct):
        items = value.fields.items() if isinstance(value, Struct) else value.items()
        keys = sorted(((str(k), v) for k, v in items), key=lambda kv: kv[0])
        if isinstance(value, Struct):
            keys = [(str(k), v) for k, v in items]
        _container(
            "{",
            "}",
            [(json_string(k) + (": " if indent else ":"), v) for k, v in keys],
            out,
            indent,
            level,
            max_depth,
        )
    elif isinstance(value, list | tuple):
        _container("[", "]", [("", v) for v in value], out, indent, level, max_depth)
    elif callable(value):
        raise GoError(f"json: unsupported type: {go_type(value)}")
    else:
        raise GoError(f"json: unsupported type: {type(value).__name__}")


def _container(
    open_: str,
    close: str,
    items: Sequence[tuple[str, Any]],
    out: list[str],
    indent: str,
    level: int,
    max_depth: int,
) -> None:
    out.append(open_)
    if not items:
        out.append(close)
        return
    for i, (prefix, item) in enumerate(items):
        if i:
            out.append(",")
        if indent:
            out.append("\n" + indent * (level + 1))
        out.append(prefix)
        _marshal(item, out, indent, level + 1, max_depth)
    if indent:
        out.append("\n" + indent * level)
    out.append(close)
