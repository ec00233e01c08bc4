"""expr-lang's builtin functions that take plain arguments (not predicates).

Each is written from expr v1.17's `builtin` package so results, types (int stays int,
`ceil` gives float) and failures match. `Budget` counts allocations against expr's
memory budget so `repeat` and ranges cannot swallow the process.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from jupyter_argo.expr._gotime import (
    UTC,
    Duration,
    TimeError,
    load_location,
    parse_duration,
    parse_time,
)
from jupyter_argo.expr._interrupt import current_interrupt
from jupyter_argo.expr._values import (
    AnyKeyMap,
    GoError,
    Struct,
    equal,
    float_to_int,
    format_v,
    go_type,
    is_array,
    is_int,
    is_number,
    json_marshal,
    less,
    normalize,
    wrap_int,
)

__all__ = ["BUILTINS", "GO_SPACE", "MEMORY_BUDGET", "Budget", "BuiltinSpec", "fetch", "from_json"]

# expr's conf.DefaultMemoryBudget: how many elements one evaluation may allocate.
MEMORY_BUDGET = 1_000_000
# Our own bound on predicate iterations (Go has none, but it is a thousand times faster):
# nested loops over large inputs must end in an error, not hang the engine.
STEP_BUDGET = 5_000_000


class Budget:
    """Allocation and loop-step counters for one evaluation, and the interrupt it runs
    under (checked here, when it starts, and at every step of its loops)."""

    __slots__ = ("interrupt", "steps", "used")

    def __init__(self) -> None:
        self.used = 0
        self.steps = 0
        self.interrupt = current_interrupt()
        if self.interrupt is not None:
            self.interrupt.check()

    def grow(self, size: int) -> None:
        self.used += max(size, 0)
        if self.used >= MEMORY_BUDGET:
            raise GoError("memory budget exceeded")

    def step(self, count: int) -> None:
        if self.interrupt is not None:
            self.interrupt.check()
        self.steps += count
        if self.steps > STEP_BUDGET:
            raise GoError(f"expression exceeded {STEP_BUDGET} loop steps")


@dataclass(frozen=True)
class BuiltinSpec:
    name: str
    fn: Callable[[Budget, list[Any]], Any]
    min_args: int
    max_args: int | None  # None: any number
    result: str = "unknown"  # the checker's nature of the result


def _kind(value: Any) -> str:
    """Go's reflect Kind name, used in some builtin messages."""
    value = normalize(value)
    if value is None:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list | tuple | bytes):
        return "slice"
    if isinstance(value, datetime | Struct):
        return "struct"
    if isinstance(value, Duration):
        return "int64"
    return "func" if callable(value) else "ptr"


def _string(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    raise GoError(f"invalid argument for {name} (type {go_type(value)})")


GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
GO_SPACE += "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def fetch(obj: Any, key: Any) -> Any:
    """expr's runtime.Fetch: `obj[key]` / `obj.key` with Go's rules."""
    if obj is None:
        raise GoError(f"cannot fetch {format_v(key)} from <nil>")
    if isinstance(obj, Mapping):
        if not isinstance(key, str) and not isinstance(obj, AnyKeyMap):
            if key is None:
                key = ""
            else:
                raise GoError(
                    f"reflect.Value.MapIndex: value of type {go_type(key)} is not assignable "
                    "to type string"
                )
        try:
            return normalize(obj.get(key))
        except TypeError:
            raise GoError(f"runtime error: hash of unhashable type {go_type(key)}") from None
    if isinstance(obj, list | tuple | str | bytes):
        if isinstance(obj, str):
            obj = obj.encode()  # Go indexes a string's bytes
        index = to_index(key)
        length = len(obj)
        if index < 0:
            index += length
        if index < 0 or index >= length:
            raise GoError(f"index out of range: {index} (array length is {length})")
        return normalize(obj[index])
    if isinstance(obj, Struct) and isinstance(key, str) and key in obj.fields:
        return obj.fields[key]
    if isinstance(obj, datetime | Duration) and isinstance(key, str):
        from jupyter_argo.expr._gotime import time_method

        method = time_method(obj, key)
        if method is not None:
            return method
    raise GoError(f"cannot fetch {format_v(key)} from {go_type(obj)}")


def to_index(key: Any) -> int:
    if is_int(key):
        return int(key)
    if isinstance(key, float):
        return float_to_int(key)
    raise GoError(f"invalid operation: int({go_type(key)})")


# --- numbers -----------------------------------------------------------------------------


def _len(_: Budget, args: list[Any]) -> int:
    (x,) = args
    if isinstance(x, list | tuple | Mapping | bytes):
        return len(x)
    if isinstance(x, str):
        return len(x)  # runes, like utf8.RuneCountInString
    raise GoError(f"invalid argument for len (type {go_type(x)})")


def type_name(x: Any) -> str:
    x = normalize(x)
    if x is None:
        return "nil"
    if isinstance(x, datetime):
        return "time.Time"
    if isinstance(x, Duration):
        return "time.Duration"
    if isinstance(x, Struct):
        return x.name
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int"
    if isinstance(x, float):
        return "float"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list | tuple | bytes):
        return "array"
    if isinstance(x, Mapping):
        return "map"
    if isinstance(x, tzinfo):
        return "*time.Location"
    return "func" if callable(x) else "unknown"


def _abs(_: Budget, args: list[Any]) -> Any:
    (x,) = args
    if is_int(x):
        return wrap_int(abs(x))
    if isinstance(x, float):
        return abs(x)
    raise GoError(f"invalid argument for abs (type {go_type(x)})")


def go_round(x: float) -> float:
    """Go's math.Round: half away from zero."""
    if math.isnan(x) or math.isinf(x):
        return x
    t = float(math.trunc(x))
    if abs(x - t) >= 0.5:
        t += math.copysign(1.0, x)
    return t


def _rounding(name: str, op: Callable[[float], float]) -> Callable[[Budget, list[Any]], float]:
    def run(_: Budget, args: list[Any]) -> float:
        (x,) = args
        if is_int(x):
            return float(x)
        if isinstance(x, float):
            return op(x) if not (math.isnan(x) or math.isinf(x)) else x
        raise GoError(f"invalid argument for {name} (type {go_type(x)})")

    return run


_ATOI = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE
)


def go_int(x: Any) -> int:
    """expr's int(x) (and Argo's asInt)."""
    x = normalize(x)
    if is_int(x):
        return int(x)
    if isinstance(x, float):
        return float_to_int(x)
    if isinstance(x, str):
        if not _ATOI.fullmatch(x) or not -(1 << 63) <= int(x) < 1 << 63:
            raise GoError(f"invalid operation: int({x})")
        return int(x)
    if isinstance(x, Duration):
        return x.ns
    raise GoError(f"invalid operation: int({go_type(x)})")


def parse_go_float(text: str) -> float:
    """strconv.ParseFloat(text, 64); raises ValueError like Go returns an error."""
    if _FLOAT.fullmatch(text):
        value = float(text)
        if math.isinf(value) and "inf" not in text.lower():
            raise ValueError("value out of range")
        return value
    if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F.]+[pP][+-]?[0-9]+", text):
        return float.fromhex(text)
    raise ValueError("invalid syntax")


def go_float(x: Any) -> float:
    """expr's float(x) (and Argo's asFloat)."""
    if is_number(x):
        return float(x)
    if isinstance(x, str):
        try:
            return parse_go_float(x)
        except ValueError:
            raise GoError(f"invalid operation: float({x})") from None
    raise GoError(f"invalid operation: float({go_type(x)})")


# --- strings -----------------------------------------------------------------------------


def _trim(_: Budget, args: list[Any]) -> str:
    s = _string(args[0], "trim")
    if len(args) == 1:
        return s.strip(GO_SPACE)
    return s.strip(_string(args[1], "trim"))


def _trim_prefix(_: Budget, args: list[Any]) -> str:
    prefix = _string(args[1], "trimPrefix") if len(args) == 2 else " "
    return _string(args[0], "trimPrefix").removeprefix(prefix)


def _trim_suffix(_: Budget, args: list[Any]) -> str:
    suffix = _string(args[1], "trimSuffix") if len(args) == 2 else " "
    return _string(args[0], "trimSuffix").removesuffix(suffix)


def go_upper(s: str) -> str:
    # Go maps rune by rune (simple case mapping): "ß" stays "ß".
    if s.isascii():
        return s.upper()
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in s)


def go_lower(s: str) -> str:
    if s.isascii():
        return s.lower()
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in s)


def go_split(s: str, sep: str, n: int = -1, after: bool = False) -> list[str]:
    """strings.SplitN / SplitAfterN."""
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if n > 0 and len(chars) > n:
            chars = [*chars[: n - 1], "".join(chars[n - 1 :])]
        return chars
    parts = s.split(sep, n - 1) if n > 0 else s.split(sep)
    if after:
        parts = [p + sep for p in parts[:-1]] + parts[-1:]
    return parts


def _split(after: bool) -> Callable[[Budget, list[Any]], list[str]]:
    name = "splitAfter" if after else "split"

    def run(_: Budget, args: list[Any]) -> list[str]:
        n = to_index(args[2]) if len(args) == 3 else -1
        return go_split(_string(args[0], name), _string(args[1], name), n, after)

    return run


def _replace(_: Budget, args: list[Any]) -> str:
    s, old, new = (_string(a, "replace") for a in args[:3])
    n = to_index(args[3]) if len(args) == 4 else -1
    return s.replace(old, new, n if n >= 0 else -1)


def _repeat(budget: Budget, args: list[Any]) -> str:
    s = _string(args[0], "repeat")
    n = to_index(args[1])
    if n < 0:
        raise GoError(f"invalid argument for repeat (expected positive integer, got {n})")
    if n > 1_000_000:
        raise GoError("memory budget exceeded")
    budget.grow(len(s) * n)
    return s * n


def _join(_: Budget, args: list[Any]) -> str:
    glue = _string(args[1], "join") if len(args) == 2 else ""
    items = args[0]
    if not is_array(items):
        raise GoError(f"invalid argument for join (type {go_type(items)})")
    for item in items:
        if not isinstance(item, str):
            raise GoError(f"interface conversion: interface {{}} is {go_type(item)}, not string")
    return glue.join(items)


def byte_index(s: str, index: int) -> int:
    """A character index as Go's byte offset."""
    return index if index < 0 or s.isascii() else len(s[:index].encode())


def _index_of(last: bool) -> Callable[[Budget, list[Any]], int]:
    def run(_: Budget, args: list[Any]) -> int:
        s, sub = _string(args[0], "indexOf"), _string(args[1], "indexOf")
        return byte_index(s, s.rfind(sub) if last else s.find(sub))

    return run


def _affix(prefix: bool) -> Callable[[Budget, list[Any]], bool]:
    def run(_: Budget, args: list[Any]) -> bool:
        s, fix = _string(args[0], "hasPrefix"), _string(args[1], "hasPrefix")
        return s.startswith(fix) if prefix else s.endswith(fix)

    return run


# --- aggregates --------------------------------------------------------------------------


def min_max(name: str, args: list[Any], depth: int = 0) -> Any:
    """expr's minMax: numbers (nested in arrays too); keeps the winner's type."""
    if depth > 10_000:
        raise GoError("recursion depth exceeded")
    op = "<" if name == "max" else ">"
    best: Any = None
    for arg in args:
        if is_array(arg):
            for elem in arg:
                if is_array(elem):
                    value = min_max(name, [elem], depth + 1)
                    if value is None:
                        continue
                elif is_number(elem):
                    value = elem
                else:
                    raise GoError(f"invalid argument for {name} (type {go_type(elem)})")
                if best is None or less(op, best, value):
                    best = value
        elif is_number(arg):
            if best is None or less(op, best, arg):
                best = arg
        else:
            if len(args) == 1:
                return arg
            raise GoError(f"invalid argument for {name} (type {go_type(arg)})")
    return best


def _numbers(name: str, args: list[Any], depth: int = 0) -> list[float]:
    if depth > 10_000:
        raise GoError("recursion depth exceeded")
    out: list[float] = []
    for arg in args:
        if is_array(arg):
            out.extend(_numbers(name, list(arg), depth + 1))
        elif is_number(arg):
            out.append(float(arg))
        else:
            raise GoError(f"invalid argument for {name} (type {go_type(arg)})")
    return out


def _mean(_: Budget, args: list[Any]) -> float:
    values = _numbers("mean", args)
    return sum(values) / len(values) if values else 0.0


def _median(_: Budget, args: list[Any]) -> float:
    values = sorted(_numbers("median", args))
    n = len(values)
    if not n:
        return 0.0
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


# --- encoding ----------------------------------------------------------------------------


def _reject_constant(name: str) -> float:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


_JSON_CONTEXT = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": (
        "looking for beginning of object key string"
    ),
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after array element or object value",
    "Extra data": "after top-level value",
}


def from_json(text: str) -> Any:
    """encoding/json.Unmarshal into interface{}: every number is a float64."""
    try:
        return json.loads(text, parse_int=float, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        if err.pos >= len(text.rstrip()):
            raise GoError("unexpected end of JSON input") from None
        context = _JSON_CONTEXT.get(err.msg, "in JSON")
        raise GoError(f"invalid character {text[err.pos]!r} {context}") from None
    except RecursionError:
        raise GoError("json: nested too deeply") from None
    except ValueError as err:
        raise GoError(str(err)) from None


def _from_json(_: Budget, args: list[Any]) -> Any:
    return from_json(_string(args[0], "fromJSON"))


def _to_base64(_: Budget, args: list[Any]) -> str:
    return base64.b64encode(_string(args[0], "toBase64").encode()).decode()


def _from_base64(_: Budget, args: list[Any]) -> str:
    return go_b64decode(_string(args[0], "fromBase64"))


def go_b64decode(text: str, alphabet: bytes | None = None) -> str:
    try:
        raw = base64.b64decode(text.encode(), altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        raise GoError("illegal base64 data at input byte 0") from None
    return raw.decode("utf-8", errors="replace")


# --- time --------------------------------------------------------------------------------


def _now(_: Budget, args: list[Any]) -> datetime:
    if not args:
        return datetime.now(UTC)
    if len(args) == 1 and isinstance(args[0], tzinfo):
        return datetime.now(args[0])
    raise GoError(f"invalid number of arguments (expected 0, got {len(args)})")


def _duration(_: Budget, args: list[Any]) -> Duration:
    try:
        return parse_duration(_string(args[0], "duration"))
    except TimeError as err:
        raise GoError(str(err)) from None


_DATE_LAYOUTS = (
    "2006-01-02",
    "15:04:05",
    "2006-01-02 15:04:05",
    "2006-01-02T15:04:05Z07:00",
    "02 Jan 06 15:04 MST",
    "Monday, 02-Jan-06 15:04:05 MST",
    "Mon, 02 Jan 2006 15:04:05 MST",
)


def _date(_: Budget, args: list[Any]) -> datetime:
    location: tzinfo | None = None
    if args and isinstance(args[0], tzinfo):
        location, args = args[0], args[1:]
    if not args:
        raise GoError("invalid number of arguments (expected at least 1, got 0)")
    text = _string(args[0], "date")
    try:
        if len(args) == 2:
            return parse_time(_string(args[1], "date"), text, location)
        if len(args) == 3:
            zone = load_location(_string(args[2], "date"))
            return parse_time(_string(args[1], "date"), text, zone)
        for layout in _DATE_LAYOUTS:
            try:
                return parse_time(layout, text, location)
            except TimeError:
                continue
    except TimeError as err:
        raise GoError(str(err)) from None
    raise GoError(f"invalid date {text}")


def _timezone(_: Budget, args: list[Any]) -> tzinfo:
    try:
        return load_location(_string(args[0], "timezone"))
    except TimeError as err:
        raise GoError(str(err)) from None


# --- collections -------------------------------------------------------------------------


def _first_last(index: int) -> Callable[[Budget, list[Any]], Any]:
    def run(_: Budget, args: list[Any]) -> Any:
        try:
            return fetch(args[0], index)
        except GoError:
            return None  # expr recovers and returns nil

    return run


def _get(_: Budget, args: list[Any]) -> Any:
    obj, key = args
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        try:
            return normalize(obj.get(key))
        except TypeError:
            return None
    if isinstance(obj, list | tuple | str | bytes):
        data = obj.encode() if isinstance(obj, str) else obj
        index = to_index(key)
        if index < 0:
            index += len(data)
        return normalize(data[index]) if 0 <= index < len(data) else None
    try:
        return fetch(obj, key)
    except GoError:
        return None


def _take(_: Budget, args: list[Any]) -> Any:
    items, n = args
    if not is_array(items):
        raise GoError(f"cannot take from {_kind(items)}")
    if not is_int(n):
        raise GoError(f"cannot take {_kind(n)} elements")
    if n < 0:
        raise GoError("reflect: slice index out of range")
    return list(items[:n])


def _map_only(name: str, what: str) -> Callable[[Any], Mapping[Any, Any]]:
    def check(value: Any) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            raise GoError(f"cannot {what} {_kind(value)}")
        return value

    return check


_keys_of = _map_only("keys", "get keys from")
_values_of = _map_only("values", "get values from")


def _to_pairs(_: Budget, args: list[Any]) -> list[list[Any]]:
    m = args[0]
    if not isinstance(m, Mapping):
        raise GoError(f"cannot transform {_kind(m)} to pairs")
    return [[k, v] for k, v in m.items()]


def _from_pairs(_: Budget, args: list[Any]) -> AnyKeyMap:
    pairs = args[0]
    if not is_array(pairs):
        raise GoError(f"cannot transform {format_v(pairs)} from pairs")
    out = AnyKeyMap()
    for pair in pairs:
        if not is_array(pair):
            raise GoError(f"invalid pair {format_v(pair)}")
        if len(pair) != 2:
            raise GoError(f"invalid pair length {format_v(pair)}")
        try:
            out[pair[0]] = pair[1]
        except TypeError:
            raise GoError(f"runtime error: hash of unhashable type {go_type(pair[0])}") from None
    return out


def _array_arg(name: str, value: Any) -> list[Any]:
    if not is_array(value):
        raise GoError(f"cannot {name} {_kind(value)}")
    return list(value)


def _reverse(budget: Budget, args: list[Any]) -> list[Any]:
    items = _array_arg("reverse", args[0])
    budget.grow(len(items))
    return items[::-1]


def _uniq(_: Budget, args: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in _array_arg("uniq", args[0]):
        if not any(equal(item, seen) for seen in out):
            out.append(item)
    return out


def _concat(budget: Budget, args: list[Any]) -> list[Any] | None:
    out: list[Any] = []
    for arg in args:
        out.extend(_array_arg("concat", arg))
    budget.grow(len(out))
    return out if out else None  # Go's nil slice: an empty concat marshals as null


def _flatten(budget: Budget, args: list[Any]) -> list[Any]:
    out: list[Any] = []

    def walk(items: Any, depth: int) -> None:
        if depth > 10_000:
            raise GoError("recursion depth exceeded")
        for item in items:
            if is_array(item):
                walk(item, depth + 1)
            else:
                out.append(item)

    walk(_array_arg("flatten", args[0]), 0)
    budget.grow(len(out))
    return out


def sort_values(items: list[Any], desc: bool, key: Callable[[Any], Any] | None = None) -> list[Any]:
    """Sort with expr's runtime.Less; mixed or unordered types are an error."""

    def compare(a: Any, b: Any) -> int:
        x, y = (key(a), key(b)) if key else (a, b)
        if desc:
            x, y = y, x
        if less("<", x, y):
            return -1
        if less("<", y, x):
            return 1
        return 0

    return sorted(items, key=functools.cmp_to_key(compare))


def _sort(budget: Budget, args: list[Any]) -> list[Any] | None:
    items = args[0]
    desc = False
    if len(args) == 2:
        order = args[1]
        if not isinstance(order, str):
            raise GoError(f"sort order argument must be a string (got {go_type(order)})")
        if order not in ("asc", "desc"):
            raise GoError(f"invalid order {order}, expected asc or desc")
        desc = order == "desc"
    if not is_array(items):
        return None
    budget.grow(len(items))
    return sort_values(list(items), desc)


def _bit_int(value: Any, name: str) -> int:
    if is_int(value):
        return int(value)
    raise GoError(f"cannot use {go_type(value)} as argument (type int) to call {name}")


def _bit(name: str, op: Callable[[int, int], int]) -> Callable[[Budget, list[Any]], int]:
    def run(_: Budget, args: list[Any]) -> int:
        x, y = _bit_int(args[0], name), _bit_int(args[1], name)
        if name in ("bitshl", "bitshr", "bitushr") and y < 0:
            raise GoError(f"invalid operation: negative shift count {y} (type int)")
        return wrap_int(op(x, y))

    return run


def _shl(x: int, y: int) -> int:
    return 0 if y >= 64 else x << y


def _ushr(x: int, y: int) -> int:
    return (x % (1 << 64)) >> y


def _bitnot(_: Budget, args: list[Any]) -> int:
    return ~_bit_int(args[0], "bitnot")


def _simple(fn: Callable[[Any], Any]) -> Callable[[Budget, list[Any]], Any]:
    return lambda _, args: fn(args[0])


def _str1(fn: Callable[[str], Any], name: str) -> Callable[[Budget, list[Any]], Any]:
    def run(_: Budget, args: list[Any]) -> Any:
        value = args[0]
        if not isinstance(value, str):
            raise GoError(f"interface conversion: interface {{}} is {go_type(value)}, not string")
        return fn(value)

    return run


def _spec(
    name: str,
    fn: Callable[[Budget, list[Any]], Any],
    lo: int,
    hi: int | None,
    result: str = "unknown",
) -> BuiltinSpec:
    return BuiltinSpec(name, fn, lo, hi, result)


BUILTINS: dict[str, BuiltinSpec] = {
    s.name: s
    for s in (
        _spec("len", _len, 1, 1, "int"),
        _spec("type", _simple(type_name), 1, 1, "string"),
        _spec("abs", _abs, 1, 1, "same"),
        _spec("ceil", _rounding("ceil", math.ceil), 1, 1, "float"),
        _spec("floor", _rounding("floor", math.floor), 1, 1, "float"),
        _spec("round", _rounding("round", go_round), 1, 1, "float"),
        _spec("int", _simple(go_int), 1, 1, "int"),
        _spec("float", _simple(go_float), 1, 1, "float"),
        _spec("string", _simple(format_v), 1, 1, "string"),
        _spec("trim", _trim, 1, 2, "string"),
        _spec("trimPrefix", _trim_prefix, 1, 2, "string"),
        _spec("trimSuffix", _trim_suffix, 1, 2, "string"),
        _spec("upper", _str1(go_upper, "upper"), 1, 1, "string"),
        _spec("lower", _str1(go_lower, "lower"), 1, 1, "string"),
        _spec("split", _split(False), 2, 3, "array"),
        _spec("splitAfter", _split(True), 2, 3, "array"),
        _spec("replace", _replace, 3, 4, "string"),
        _spec("repeat", _repeat, 2, 2, "string"),
        _spec("join", _join, 1, 2, "string"),
        _spec("indexOf", _index_of(False), 2, 2, "int"),
        _spec("lastIndexOf", _index_of(True), 2, 2, "int"),
        _spec("hasPrefix", _affix(True), 2, 2, "bool"),
        _spec("hasSuffix", _affix(False), 2, 2, "bool"),
        _spec("max", lambda _, a: min_max("max", a), 1, None),
        _spec("min", lambda _, a: min_max("min", a), 1, None),
        _spec("mean", _mean, 1, None, "float"),
        _spec("median", _median, 1, None, "float"),
        _spec("toJSON", lambda _, a: json_marshal(a[0], indent="  "), 1, 1, "string"),
        _spec("fromJSON", _from_json, 1, 1),
        _spec("toBase64", _to_base64, 1, 1, "string"),
        _spec("fromBase64", _from_base64, 1, 1, "string"),
        _spec("now", _now, 0, 1, "time"),
        _spec("duration", _duration, 1, 1, "duration"),
        _spec("date", _date, 1, 4, "time"),
        _spec("timezone", _timezone, 1, 1),
        _spec("first", _first_last(0), 1, 1),
        _spec("last", _first_last(-1), 1, 1),
        _spec("get", _get, 2, 2),
        _spec("take", _take, 2, 2, "array"),
        _spec("keys", lambda _, a: list(_keys_of(a[0]).keys()), 1, 1, "array"),
        _spec("values", lambda _, a: list(_values_of(a[0]).values()), 1, 1, "array"),
        _spec("toPairs", _to_pairs, 1, 1, "array"),
        _spec("fromPairs", _from_pairs, 1, 1, "map"),
        _spec("reverse", _reverse, 1, 1, "array"),
        _spec("uniq", _uniq, 1, 1, "array"),
        _spec("concat", _concat, 1, None, "array"),
        _spec("flatten", _flatten, 1, 1, "array"),
        _spec("sort", _sort, 1, 2, "array"),
        _spec("bitand", _bit("bitand", lambda x, y: x & y), 2, 2, "int"),
        _spec("bitor", _bit("bitor", lambda x, y: x | y), 2, 2, "int"),
        _spec("bitxor", _bit("bitxor", lambda x, y: x ^ y), 2, 2, "int"),
        _spec("bitnand", _bit("bitnand", lambda x, y: x & ~y), 2, 2, "int"),
        _spec("bitshl", _bit("bitshl", _shl), 2, 2, "int"),
        _spec("bitshr", _bit("bitshr", lambda x, y: x >> y), 2, 2, "int"),
        _spec("bitushr", _bit("bitushr", _ushr), 2, 2, "int"),
        _spec("bitnot", _bitnot, 1, 1, "int"),
    )
}

PREDICATE_BUILTINS = frozenset(
    [
        "all",
        "none",
        "any",
        "one",
        "filter",
        "map",
        "count",
        "sum",
        "find",
        "findIndex",
        "findLast",
        "findLastIndex",
        "groupBy",
        "sortBy",
        "reduce",
    ]
)
