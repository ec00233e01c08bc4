"""Masterminds sprig v3.3 as Argo's `sprig.*` (GenericFuncMap without env/expandenv).

Each function keeps sprig's Go signature, so argument checks behave like Go reflection
(`sprig.repeat(3, "x")`, not `sprig.repeat("x", 3)`), and sprig's own quirks: `add`
truncates floats to int64, `date` formats time.Now() when given a string, `fromJson`
swallows errors. Functions that need keys, certificates or the network are refused.
Sizes are bounded by the expression memory budget.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import math
import re
import secrets
import string
import uuid
import zlib
from base64 import b32decode, b32encode, b64decode, b64encode
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from jupyter_argo.expr._builtins import (
    GO_SPACE,
    MEMORY_BUDGET,
    from_json,
    go_lower,
    go_round,
    go_upper,
)
from jupyter_argo.expr._gotime import (
    SECOND,
    UTC,
    Duration,
    TimeError,
    format_duration,
    format_time,
    load_location,
    parse_duration,
    parse_time,
    to_aware,
)
from jupyter_argo.expr._regex import GoRegexp, RegexError, compile_re2
from jupyter_argo.expr._values import (
    GoError,
    GoFunc,
    deep_equal,
    float_to_int,
    format_v,
    go_quote,
    go_type,
    is_array,
    json_marshal,
    wrap_int,
)

__all__ = ["SPRIG"]


def _bounded(size: int) -> int:
    if size > MEMORY_BUDGET:
        raise GoError("memory budget exceeded")
    return size


# --- conversions (spf13/cast, sprig's strval) --------------------------------------------


def strval(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return format_v(value)


_DECIMAL = re.compile(r"([-+]?\d*)(\.\d*)?")


def _go_parse_int_base0(text: str) -> int:
    """strconv.ParseInt(s, 0, 64): 0x, 0o, 0b and leading-0 octal prefixes, underscores."""
    match = re.fullmatch(
        r"([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)", text
    )
    if not match:
        raise ValueError(text)
    sign, digits = match.groups()
    body = digits.replace("_", "")
    if digits[:2].lower() in ("0x", "0o", "0b"):
        value = int(body[2:], {"x": 16, "o": 8, "b": 2}[digits[1].lower()])
    elif len(body) > 1 and body[0] == "0":
        value = int(body[1:], 8)
    else:
        value = int(body)
    value = -value if sign == "-" else value
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(text)
    return value


def to_int64(value: Any) -> int:
    """cast.ToInt64: numbers truncate, bools are 0/1, strings parse, the rest is 0."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return wrap_int(value)
    if isinstance(value, float):
        return float_to_int(value)
    if isinstance(value, str):
        if value == "":
            return 0
        text = value
        if "." in text:
            match = _DECIMAL.fullmatch(text)
            if match:
                text = match.group(1)
                if text in ("", "-", "+"):
                    text += "0"
        try:
            return _go_parse_int_base0(text)
        except ValueError:
            return 0
    return 0


def to_float64(value: Any) -> float:
    """cast.ToFloat64."""
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        from jupyter_argo.expr._builtins import parse_go_float

        try:
            return parse_go_float(value) if value else 0.0
        except ValueError:
            return 0.0
    return 0.0


def empty(value: Any) -> bool:
    """sprig's empty: zero values, empty collections, nil."""
    if value is None:
        return True
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, str | bytes | list | tuple | Mapping):
        return len(value) == 0
    if isinstance(value, Duration):
        return value.ns == 0
    return False


def _list(value: Any, name: str) -> list[Any]:
    if is_array(value) or isinstance(value, bytes):
        return list(value)
    raise GoError(f"Cannot {name} on type {_kind(value)}")


def _kind(value: Any) -> str:
    """reflect.Kind.String()."""
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
    if isinstance(value, list | tuple | bytes):
        return "slice"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, Duration):
        return "int64"
    if isinstance(value, datetime):
        return "struct"
    return "func" if callable(value) else "ptr"


def strslice(value: Any) -> list[str]:
    if value is None:
        return []
    if is_array(value):
        return [strval(v) for v in value if v is not None]
    return [strval(value)]


# --- strings -----------------------------------------------------------------------------


def _byte_slice(text: str, start: int, end: int | None = None) -> str:
    data = text.encode()
    length = len(data)
    stop = length if end is None else end
    if not 0 <= start <= stop <= length:
        raise GoError(f"runtime error: slice bounds out of range [{start}:{stop}]")
    return data[start:stop].decode("utf-8", errors="replace")


def trunc(count: int, text: str) -> str:
    length = len(text.encode())
    if count < 0 and length + count > 0:
        return _byte_slice(text, length + count)
    if count >= 0 and length > count:
        return _byte_slice(text, 0, count)
    return text


def substr(start: int, end: int, text: str) -> str:
    if start < 0:
        return _byte_slice(text, 0, end)
    if end < 0 or end > len(text.encode()):
        return _byte_slice(text, start)
    return _byte_slice(text, start, end)


def _abbreviate_full(text: str, offset: int, width: int) -> str:
    if text == "":
        return ""
    if width < 4:
        raise GoError("minimum abbreviation width is 4")
    length = len(text)
    if length <= width:
        return text
    offset = min(offset, length)
    if length - offset < width - 3:
        offset = length - (width - 3)
    if offset <= 4:
        return text[: width - 3] + "..."
    if width < 7:
        raise GoError("minimum abbreviation width with offset is 7")
    if offset + width - 3 < length:
        return "..." + _abbreviate_full(text[offset:], 0, width - 3)
    return "..." + text[length - (width - 3) :]


def abbrev(width: int, text: str) -> str:
    if width < 4:
        return text
    return _abbreviate_full(text, 0, width)


def abbrevboth(left: int, right: int, text: str) -> str:
    if right < 4 or (left > 0 and right < 7):
        return text
    return _abbreviate_full(text, left, right)


def title(text: str) -> str:
    out = []
    previous = " "
    for ch in text:
        separator = not (previous.isalnum() or previous == "_")
        out.append(ch.upper() if separator and len(ch.upper()) == 1 else ch)
        previous = ch
    return "".join(out)


def untitle(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def initials(text: str) -> str:
    out = []
    start = True
    for ch in text:
        if ch.isspace():
            start = True
        elif start:
            out.append(ch)
            start = False
    return "".join(out)


def swapcase(text: str) -> str:
    return "".join(
        ch.lower() if ch.isupper() or ch.istitle() else ch.upper() if ch.islower() else ch
        for ch in text
    )


def _words(text: str) -> list[str]:
    # xstrings splits on separators and on case/digit boundaries.
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    # `([A-Z]+)([A-Z][a-z])` -> `\1 \2`, as a split point: linear, where the run of
    # capitals in that pattern backtracks quadratically on a long one.
    spaced = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", " ", spaced)
    return [w for w in re.split(r"[\s_\-.]+", spaced) if w]


def snakecase(text: str) -> str:
    return "_".join(w.lower() for w in _words(text))


def kebabcase(text: str) -> str:
    return "-".join(w.lower() for w in _words(text))


def camelcase(text: str) -> str:
    return "".join(w[:1].upper() + w[1:].lower() for w in re.split(r"[\s_\-.]+", text) if w)


def wrap_custom(text: str, length: int, newline: str, long_words: bool) -> str:
    if text == "":
        return ""
    newline = newline or "\n"
    length = max(length, 1)
    out: list[str] = []
    offset = 0
    total = len(text)
    while total - offset > length:
        if text[offset] == " ":
            offset += 1
            continue
        end = min(length + offset + 1, total)
        space = text.rfind(" ", offset, end)
        if space >= offset:
            out.append(text[offset:space] + newline)
            offset = space + 1
        elif long_words:
            out.append(text[offset : offset + length] + newline)
            offset += length
        else:
            index = text.find(" ", length + offset)
            if index == -1:
                out.append(text[offset:])
                offset = total
            else:
                out.append(text[offset:index] + newline)
                offset = index + 1
    out.append(text[offset:])
    return "".join(out)


def _random(alphabet: str, count: int) -> str:
    if count < 0:
        raise GoError(f"Requested random string length {count} is less than 0.")
    return "".join(secrets.choice(alphabet) for _ in range(_bounded(count)))


def quote(*values: Any) -> str:
    return " ".join('"' + go_quote(strval(v)) + '"' for v in values if v is not None)


def squote(*values: Any) -> str:
    return " ".join(f"'{format_v(v)}'" for v in values if v is not None)


def indent(spaces: int, text: str) -> str:
    pad = " " * _bounded(max(spaces, 0))
    return pad + text.replace("\n", "\n" + pad)


def seq(*params: int) -> str:
    def until_step(start: int, stop: int, step: int) -> list[int]:
        return _until_step(start, stop, step)

    n = len(params)
    if n == 1:
        start, end = 1, params[0]
        inc = -1 if end < start else 1
        values = until_step(start, end + inc, inc)
    elif n == 2:
        start, end = params
        step = -1 if end < start else 1
        values = until_step(start, end + step, step)
    elif n == 3:
        start, step, end = params
        inc = 1
        if end < start:
            inc = -1
            if step > 0:
                return ""
        values = until_step(start, end + inc, step)
    else:
        return ""
    return " ".join(str(v) for v in values)


def _until_step(start: int, stop: int, step: int) -> list[int]:
    if stop < start:
        if step >= 0:
            return []
        count = (start - stop + (-step) - 1) // (-step)
    else:
        if step <= 0:
            return []
        count = (stop - start + step - 1) // step
    _bounded(count)
    return list(range(start, stop, step))


def until(count: int) -> list[int]:
    return _until_step(0, count, -1 if count < 0 else 1)


def _split_map(parts: list[str]) -> dict[str, Any]:
    return {f"_{i}": v for i, v in enumerate(parts)}


def _go_split(text: str, sep: str, n: int = -1) -> list[str]:
    from jupyter_argo.expr._builtins import go_split

    return go_split(text, sep, n)


# --- numbers -----------------------------------------------------------------------------


def _int_div(name: str) -> Callable[[Any, Any], int]:
    def run(a: Any, b: Any) -> int:
        x, y = to_int64(a), to_int64(b)
        if y == 0:
            raise GoError("runtime error: integer divide by zero")
        q = abs(x) // abs(y)
        q = q if (x >= 0) == (y >= 0) else -q
        return wrap_int(q if name == "div" else x - q * y)

    return run


def _decimal(value: Any) -> Decimal:
    number = to_float64(value)
    if math.isnan(number) or math.isinf(number):
        raise GoError(f"Cannot create a Decimal from {format_v(number)}")
    return Decimal(repr(number))


def _decimal_op(op: str) -> Callable[..., float]:
    def run(first: Any, *rest: Any) -> float:
        result = _decimal(first)
        for value in rest:
            d = _decimal(value)
            if op == "+":
                result += d
            elif op == "-":
                result -= d
            elif op == "*":
                result *= d
            else:
                if d == 0:
                    raise GoError("decimal division by 0")
                try:
                    result = (result / d).quantize(Decimal(1).scaleb(-16), ROUND_HALF_UP)
                except InvalidOperation:
                    result = result / d
        return float(result)

    return run


def _addf(*values: Any) -> float:
    return _decimal_op("+")(0.0, *values)


def _max_min(pick: Callable[[int, int], bool]) -> Callable[..., int]:
    def run(first: Any, *rest: Any) -> int:
        best = to_int64(first)
        for value in rest:
            candidate = to_int64(value)
            if pick(candidate, best):
                best = candidate
        return best

    return run


def _maxf_minf(fn: Callable[[float, float], float]) -> Callable[..., float]:
    def run(first: Any, *rest: Any) -> float:
        best = to_float64(first)
        for value in rest:
            candidate = to_float64(value)
            if math.isnan(best) or math.isnan(candidate):
                best = math.nan
            else:
                best = fn(best, candidate)
        return best

    return run


def sprig_round(value: Any, places: int, *round_on: float) -> float:
    threshold = round_on[0] if round_on else 0.5
    pow_ = math.pow(10, float(places))
    digit = pow_ * to_float64(value)
    fraction = math.modf(digit)[0]
    rounded = math.ceil(digit) if fraction >= threshold else math.floor(digit)
    return rounded / pow_


def to_decimal(value: Any) -> int:
    try:
        return int(format_v(value), 8) if re.fullmatch(r"[+-]?[0-7]+", format_v(value)) else 0
    except ValueError:
        return 0


def atoi(text: str) -> int:
    from jupyter_argo.expr._builtins import go_int

    try:
        return go_int(text)
    except GoError:
        return 0


def _finite(op: Callable[[float], int], value: float) -> float:
    return float(op(value)) if math.isfinite(value) else value


def _repeat(count: int, text: str) -> str:
    if count < 0:
        raise GoError("strings: negative Repeat count")
    _bounded(count * len(text))
    return text * count


def rand_int(low: int, high: int) -> int:
    if high - low <= 0:
        raise GoError("invalid argument to Intn")
    return secrets.randbelow(high - low) + low


# --- lists and dicts ---------------------------------------------------------------------


def push(items: Any, value: Any) -> list[Any]:
    return [*_list(items, "push"), value]


def prepend(items: Any, value: Any) -> list[Any]:
    return [value, *_list(items, "prepend")]


def _first(items: Any) -> Any:
    values = _list(items, "find first")
    return values[0] if values else None


def _last(items: Any) -> Any:
    values = _list(items, "find last")
    return values[-1] if values else None


def _rest(items: Any) -> Any:
    values = _list(items, "find rest")
    return values[1:] if values else None


def _initial(items: Any) -> Any:
    values = _list(items, "find initial")
    return values[:-1] if values else None


def _reverse(items: Any) -> list[Any]:
    return _list(items, "find reverse")[::-1]


def _uniq(items: Any) -> list[Any]:
    out: list[Any] = []
    for item in _list(items, "find uniq"):
        if not any(deep_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _compact(items: Any) -> list[Any]:
    return [item for item in _list(items, "compact") if not empty(item)]


def _without(items: Any, *omit: Any) -> list[Any]:
    return [
        item for item in _list(items, "find without") if not any(deep_equal(item, o) for o in omit)
    ]


def _has(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    return any(deep_equal(needle, item) for item in _list(haystack, "find has"))


def _slice(items: Any, *indices: Any) -> Any:
    if not is_array(items):
        raise GoError(f"list should be type of slice or array but {_kind(items)}")
    values = list(items)
    if not values:
        return None
    start = to_int64(indices[0]) if indices else 0
    end = to_int64(indices[1]) if len(indices) >= 2 else len(values)
    if not 0 <= start <= end <= len(values):
        raise GoError(f"reflect: slice index out of range [{start}:{end}]")
    return values[start:end]


def _concat(*lists: Any) -> Any:
    out: list[Any] = []
    for items in lists:
        if not is_array(items):
            raise GoError(f"Cannot concat type {_kind(items)} as list")
        out.extend(items)
    return out or None


def _chunk(size: int, items: Any) -> list[list[Any]]:
    values = _list(items, "chunk")
    if size <= 0:
        raise GoError("runtime error: makeslice: len out of range")
    return [values[i : i + size] for i in range(0, len(values), size)]


def _sort_alpha(items: Any) -> list[str]:
    if is_array(items):
        return sorted(strslice(items))
    return [strval(items)]


def _dict(*values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(values), 2):
        key = strval(values[i])
        out[key] = values[i + 1] if i + 1 < len(values) else ""
    return out


def _get(d: Mapping[str, Any] | None, key: str) -> Any:
    return d[key] if d is not None and key in d else ""


def _set(d: Any, key: str, value: Any) -> Any:
    if d is None:
        raise GoError("assignment to entry in nil map")
    d[key] = value
    return d


def _unset(d: Any, key: str) -> Any:
    if d is not None:
        d.pop(key, None)
    return d


def _pluck(key: str, *dicts: Mapping[str, Any] | None) -> list[Any]:
    return [d[key] for d in dicts if d is not None and key in d]


def _keys(*dicts: Mapping[str, Any] | None) -> list[str]:
    return [k for d in dicts if d is not None for k in d]


def _pick(d: Mapping[str, Any] | None, *keys: str) -> dict[str, Any]:
    return {k: d[k] for k in keys if d is not None and k in d}


def _omit(d: Mapping[str, Any] | None, *keys: str) -> dict[str, Any]:
    return {k: v for k, v in (d or {}).items() if k not in keys}


def _merge(overwrite: bool) -> Callable[..., Any]:
    def merge_into(dst: dict[str, Any], src: Mapping[str, Any], depth: int) -> None:
        if depth > 100:
            raise GoError("merge: maps are nested too deeply")
        for key, value in src.items():
            current = dst.get(key)
            if isinstance(current, dict) and isinstance(value, Mapping):
                merge_into(current, value, depth + 1)
            elif key not in dst or empty(current) or (overwrite and not empty(value)):
                dst[key] = value

    def run(dst: Any, *srcs: Any) -> Any:
        if dst is None:
            dst = {}
        for src in srcs:
            if src is not None:
                merge_into(dst, src, 0)
        return dst

    return run


def _not_a_map(value: Any) -> str:
    return (
        f"interface conversion: interface {{}} is {go_type(value)}, not map[string]interface {{}}"
    )


def _dig(*ps: Any) -> Any:
    if len(ps) < 3:
        raise GoError("dig needs at least three arguments")
    data, default = ps[-1], ps[-2]
    if not isinstance(data, Mapping):
        raise GoError(_not_a_map(data))
    keys = ps[:-2]
    for index, key in enumerate(keys):
        if not isinstance(key, str):
            raise GoError(f"interface conversion: interface {{}} is {go_type(key)}, not string")
        if key not in data:
            return default
        data = data[key]
        if index < len(keys) - 1 and not isinstance(data, Mapping):
            raise GoError(_not_a_map(data))
    return data


# --- encoding and JSON -------------------------------------------------------------------


def _b64dec(text: str) -> str:
    try:
        return b64decode(text.encode(), validate=True).decode("utf-8", errors="replace")
    except ValueError:
        return "illegal base64 data at input byte 0"


def _b32dec(text: str) -> str:
    try:
        return b32decode(text.encode()).decode("utf-8", errors="replace")
    except ValueError:
        return "illegal base32 data at input byte 0"


def _from_json(text: str) -> Any:
    try:
        return from_json(text)
    except GoError:
        return None


def _to_json(value: Any, indent: str = "", html: bool = True) -> str:
    text = json_marshal(value, indent=indent)
    if not html:
        text = text.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&")
    return text


def _swallow(fn: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(fn)
    def run(*args: Any) -> str:
        try:
            return fn(*args)
        except GoError:
            return ""

    return run


# --- paths -------------------------------------------------------------------------------


def path_clean(path: str) -> str:
    """Go's path.Clean."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def path_base(path: str) -> str:
    if path == "":
        return "."
    path = path.rstrip("/")
    if path == "":
        return "/"
    return path.rsplit("/", 1)[-1]


def path_dir(path: str) -> str:
    index = path.rfind("/")
    return path_clean(path[: index + 1])


def path_ext(path: str) -> str:
    for i in range(len(path) - 1, -1, -1):
        if path[i] == "/":
            break
        if path[i] == ".":
            return path[i:]
    return ""


# --- dates -------------------------------------------------------------------------------


def _date_in_zone(layout: str, date: Any, zone: str) -> str:
    if isinstance(date, datetime):
        t = to_aware(date)
    elif isinstance(date, int) and not isinstance(date, bool):
        t = datetime.fromtimestamp(date, UTC)
    else:
        t = datetime.now(UTC)  # sprig formats "now" for anything else, strings included
    try:
        location = load_location(zone)
    except TimeError:
        location = UTC
    return format_time(t.astimezone(location), layout)


def _date_modify(text: str, date: datetime) -> datetime:
    try:
        d = parse_duration(text)
    except TimeError:
        return date
    return to_aware(date) + timedelta(microseconds=d.ns // 1000)


def _must_date_modify(text: str, date: datetime) -> datetime:
    try:
        d = parse_duration(text)
    except TimeError as err:
        raise GoError(str(err)) from None
    return to_aware(date) + timedelta(microseconds=d.ns // 1000)


def _ago(date: Any) -> str:
    if isinstance(date, datetime):
        t = to_aware(date)
    elif isinstance(date, int) and not isinstance(date, bool):
        t = datetime.fromtimestamp(date, UTC)
    else:
        t = datetime.now(UTC)
    elapsed = Duration.of(datetime.now(UTC) - t)
    seconds = go_round(elapsed.ns / SECOND)
    return format_duration(int(seconds) * SECOND)


def _duration(value: Any) -> str:
    n = 0
    if isinstance(value, str):
        n = int(value) if re.fullmatch(r"[+-]?[0-9]+", value) else 0
    return format_duration(wrap_int(n * SECOND))


def _duration_round(value: Any) -> str:
    ns = 0
    if isinstance(value, str):
        try:
            ns = parse_duration(value).ns
        except TimeError:
            ns = 0
    elif isinstance(value, datetime):
        ns = Duration.of(datetime.now(UTC) - to_aware(value)).ns
    u = abs(ns)
    units = (
        (3600 * 24 * 365, "y"),
        (3600 * 24 * 30, "mo"),
        (3600 * 24, "d"),
        (3600, "h"),
        (60, "m"),
        (1, "s"),
    )
    for seconds, suffix in units:
        if u > seconds * SECOND:
            return f"{u // (seconds * SECOND)}{suffix}"
    return "0s"


def _to_date(layout: str, text: str) -> datetime:
    try:
        return parse_time(layout, text, UTC)
    except TimeError:
        return datetime(1, 1, 1, tzinfo=UTC)


def _must_to_date(layout: str, text: str) -> datetime:
    try:
        return parse_time(layout, text, UTC)
    except TimeError as err:
        raise GoError(str(err)) from None


def _unix_epoch(date: datetime) -> str:
    return str(int((to_aware(date) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() // 1))


# --- regex -------------------------------------------------------------------------------


def _compile(pattern: str) -> GoRegexp:
    try:
        return compile_re2(pattern)
    except RegexError as err:
        raise GoError(str(err)) from None


def _regex_functions() -> dict[str, tuple[Callable[..., Any], tuple[str, ...]]]:
    def must(fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn

    def soft(fn: Callable[..., Any], fallback: Any) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            try:
                return fn(*args)
            except GoError:
                return fallback

        return run

    def match(regex: str, text: str) -> bool:
        return _compile(regex).matches(text)

    def find_all(regex: str, text: str, n: int) -> list[str]:
        return [m.group(0) for m in _compile(regex).find_all(text, n)]

    def find(regex: str, text: str) -> str:
        m = _compile(regex).search(text)
        return m.group(0) if m else ""

    def replace_all(regex: str, text: str, repl: str) -> str:
        return _compile(regex).replace_all(text, lambda m: m.expand(repl))

    def replace_literal(regex: str, text: str, repl: str) -> str:
        return _compile(regex).replace_all(text, lambda m: repl)

    def split(regex: str, text: str, n: int) -> list[str] | None:
        return _compile(regex).split(text, n)

    s2, s3, s2i = ("string", "string"), ("string", "string", "string"), ("string", "string", "int")
    return {
        "regexMatch": (soft(match, False), s2),
        "mustRegexMatch": (must(match), s2),
        "regexFindAll": (find_all, s2i),
        "mustRegexFindAll": (must(find_all), s2i),
        "regexFind": (find, s2),
        "mustRegexFind": (must(find), s2),
        "regexReplaceAll": (replace_all, s3),
        "mustRegexReplaceAll": (must(replace_all), s3),
        "regexReplaceAllLiteral": (replace_literal, s3),
        "mustRegexReplaceAllLiteral": (must(replace_literal), s3),
        "regexSplit": (split, s2i),
        "mustRegexSplit": (must(split), s2i),
        "regexQuoteMeta": (lambda s: re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", s), ("string",)),
    }


# --- URLs --------------------------------------------------------------------------------


def _url_parse(text: str) -> dict[str, Any]:
    try:
        parts = urlsplit(text)
    except ValueError as err:
        raise GoError(f"unable to parse url: {err}") from None
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    return {
        "scheme": parts.scheme,
        "host": parts.netloc.rpartition("@")[2],
        "hostname": parts.hostname or "",
        "path": parts.path,
        "query": parts.query,
        "opaque": "",
        "fragment": parts.fragment,
        "userinfo": userinfo,
    }


def _url_join(d: Mapping[str, Any] | None) -> str:
    d = d or {}

    def get(key: str) -> str:
        value = d.get(key, "")
        if not isinstance(value, str):
            raise GoError(
                f"unable to parse {key} key, must be of type string, but {_kind(value)} found"
            )
        return value

    netloc = get("host")
    if get("userinfo"):
        netloc = get("userinfo") + "@" + netloc
    return urlunsplit((get("scheme"), netloc, get("path"), get("query"), get("fragment")))


# --- the map -----------------------------------------------------------------------------


def _unsupported(name: str) -> Callable[..., Any]:
    def run(*_: Any) -> Any:
        raise GoError(f"sprig.{name} is not supported by jupyter-argo")

    return run


def _fail(message: str) -> str:
    raise GoError(message)


# Keys, certificates, encryption, DNS and semver objects: not for a local engine.
_UNSUPPORTED = [
    "bcrypt",
    "htpasswd",
    "genPrivateKey",
    "derivePassword",
    "buildCustomCert",
    "genCA",
    "genCAWithKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "encryptAES",
    "decryptAES",
    "getHostByName",
    "semver",
    "semverCompare",
]


def _reflect_kind_of(value: Any) -> str:
    return _kind(value)


def _type_of(value: Any) -> str:
    return go_type(value)


_A, _S, _I, _F, _B, _M, _L, _T = "any", "string", "int", "float64", "bool", "map", "[]any", "time"
_Spec = tuple[Callable[..., Any], tuple[str, ...], bool, str]


def _specs() -> dict[str, _Spec]:
    def f(fn: Callable[..., Any], *params: str, result: str = "any") -> _Spec:
        return (fn, params, False, result)

    def v(fn: Callable[..., Any], *params: str, result: str = "any") -> _Spec:
        return (fn, params, True, result)

    alnum = string.ascii_letters + string.digits
    specs: dict[str, _Spec] = {
        "hello": f(lambda: "Hello!", result=_S),
        # dates
        "ago": f(_ago, _A, result=_S),
        "date": f(lambda layout, d: _date_in_zone(layout, d, "Local"), _S, _A, result=_S),
        "date_in_zone": f(_date_in_zone, _S, _A, _S, result=_S),
        "dateInZone": f(_date_in_zone, _S, _A, _S, result=_S),
        "date_modify": f(_date_modify, _S, _T, result=_T),
        "dateModify": f(_date_modify, _S, _T, result=_T),
        "duration": f(_duration, _A, result=_S),
        "durationRound": f(_duration_round, _A, result=_S),
        "htmlDate": f(lambda d: _date_in_zone("2006-01-02", d, "Local"), _A, result=_S),
        "htmlDateInZone": f(lambda d, z: _date_in_zone("2006-01-02", d, z), _A, _S, result=_S),
        "must_date_modify": f(_must_date_modify, _S, _T, result=_T),
        "mustDateModify": f(_must_date_modify, _S, _T, result=_T),
        "mustToDate": f(_must_to_date, _S, _S, result=_T),
        "now": f(lambda: datetime.now(UTC), result=_T),
        "toDate": f(_to_date, _S, _S, result=_T),
        "unixEpoch": f(_unix_epoch, _T, result=_S),
        # strings
        "abbrev": f(abbrev, _I, _S, result=_S),
        "abbrevboth": f(abbrevboth, _I, _I, _S, result=_S),
        "trunc": f(trunc, _I, _S, result=_S),
        "trim": f(lambda s: s.strip(GO_SPACE), _S, result=_S),
        "upper": f(go_upper, _S, result=_S),
        "lower": f(go_lower, _S, result=_S),
        "title": f(title, _S, result=_S),
        "untitle": f(untitle, _S, result=_S),
        "substr": f(substr, _I, _I, _S, result=_S),
        "repeat": f(_repeat, _I, _S, result=_S),
        "trimall": f(lambda a, b: b.strip(a), _S, _S, result=_S),
        "trimAll": f(lambda a, b: b.strip(a), _S, _S, result=_S),
        "trimSuffix": f(lambda a, b: b.removesuffix(a), _S, _S, result=_S),
        "trimPrefix": f(lambda a, b: b.removeprefix(a), _S, _S, result=_S),
        "nospace": f(lambda s: "".join(c for c in s if not c.isspace()), _S, result=_S),
        "initials": f(initials, _S, result=_S),
        "randAlphaNum": f(lambda n: _random(alnum, n), _I, result=_S),
        "randAlpha": f(lambda n: _random(string.ascii_letters, n), _I, result=_S),
        "randAscii": f(lambda n: _random("".join(map(chr, range(32, 127))), n), _I, result=_S),
        "randNumeric": f(lambda n: _random(string.digits, n), _I, result=_S),
        "swapcase": f(swapcase, _S, result=_S),
        "shuffle": f(lambda s: "".join(secrets.SystemRandom().sample(s, len(s))), _S, result=_S),
        "snakecase": f(snakecase, _S, result=_S),
        "camelcase": f(camelcase, _S, result=_S),
        "kebabcase": f(kebabcase, _S, result=_S),
        "wrap": f(lambda n, s: wrap_custom(s, n, "\n", False), _I, _S, result=_S),
        "wrapWith": f(lambda n, sep, s: wrap_custom(s, n, sep, True), _I, _S, _S, result=_S),
        "contains": f(lambda sub, s: sub in s, _S, _S, result=_B),
        "hasPrefix": f(lambda p, s: s.startswith(p), _S, _S, result=_B),
        "hasSuffix": f(lambda p, s: s.endswith(p), _S, _S, result=_B),
        "quote": v(quote, _A, result=_S),
        "squote": v(squote, _A, result=_S),
        "cat": v(lambda *a: " ".join(format_v(x) for x in a if x is not None), _A, result=_S),
        "indent": f(indent, _I, _S, result=_S),
        "nindent": f(lambda n, s: "\n" + indent(n, s), _I, _S, result=_S),
        "replace": f(lambda old, new, src: src.replace(old, new), _S, _S, _S, result=_S),
        "plural": f(lambda one, many, n: one if n == 1 else many, _S, _S, _I, result=_S),
        "sha1sum": f(lambda s: hashlib.sha1(s.encode()).hexdigest(), _S, result=_S),
        "sha256sum": f(lambda s: hashlib.sha256(s.encode()).hexdigest(), _S, result=_S),
        "sha512sum": f(lambda s: hashlib.sha512(s.encode()).hexdigest(), _S, result=_S),
        "adler32sum": f(lambda s: str(zlib.adler32(s.encode())), _S, result=_S),
        "toString": f(strval, _A, result=_S),
        "atoi": f(atoi, _S, result=_I),
        "int64": f(to_int64, _A, result=_I),
        "int": f(to_int64, _A, result=_I),
        "float64": f(to_float64, _A, result=_F),
        "seq": v(seq, _I, result=_S),
        "toDecimal": f(to_decimal, _A, result=_I),
        "split": f(lambda sep, s: _split_map(_go_split(s, sep)), _S, _S, result=_M),
        "splitList": f(lambda sep, s: _go_split(s, sep), _S, _S, result=_L),
        "splitn": f(lambda sep, n, s: _split_map(_go_split(s, sep, n)), _S, _I, _S, result=_M),
        "toStrings": f(strslice, _A, result=_L),
        "until": f(until, _I, result=_L),
        "untilStep": f(_until_step, _I, _I, _I, result=_L),
        # arithmetic
        "add1": f(lambda i: wrap_int(to_int64(i) + 1), _A, result=_I),
        "add": v(lambda *i: wrap_int(sum(to_int64(x) for x in i)), _A, result=_I),
        "sub": f(lambda a, b: wrap_int(to_int64(a) - to_int64(b)), _A, _A, result=_I),
        "div": f(_int_div("div"), _A, _A, result=_I),
        "mod": f(_int_div("mod"), _A, _A, result=_I),
        "mul": v(
            lambda a, *rest: functools.reduce(
                lambda x, y: wrap_int(x * to_int64(y)), rest, to_int64(a)
            ),
            _A,
            _A,
            result=_I,
        ),
        "randInt": f(rand_int, _I, _I, result=_I),
        "add1f": f(lambda i: _decimal_op("+")(i, 1), _A, result=_F),
        "addf": v(_addf, _A, result=_F),
        "subf": v(_decimal_op("-"), _A, _A, result=_F),
        "divf": v(_decimal_op("/"), _A, _A, result=_F),
        "mulf": v(_decimal_op("*"), _A, _A, result=_F),
        "biggest": v(_max_min(lambda a, b: a > b), _A, _A, result=_I),
        "max": v(_max_min(lambda a, b: a > b), _A, _A, result=_I),
        "min": v(_max_min(lambda a, b: a < b), _A, _A, result=_I),
        "maxf": v(_maxf_minf(max), _A, _A, result=_F),
        "minf": v(_maxf_minf(min), _A, _A, result=_F),
        "ceil": f(lambda a: _finite(math.ceil, to_float64(a)), _A, result=_F),
        "floor": f(lambda a: _finite(math.floor, to_float64(a)), _A, result=_F),
        "round": v(sprig_round, _A, _I, _F, result=_F),
        "join": f(lambda sep, items: sep.join(strslice(items)), _S, _A, result=_S),
        "sortAlpha": f(_sort_alpha, _A, result=_L),
        # defaults and JSON
        "default": v(lambda d, *given: d if not given or empty(given[0]) else given[0], _A, _A),
        "empty": f(empty, _A, result=_B),
        "coalesce": v(lambda *vals: next((x for x in vals if not empty(x)), None), _A),
        "all": v(lambda *vals: all(not empty(x) for x in vals), _A, result=_B),
        "any": v(lambda *vals: any(not empty(x) for x in vals), _A, result=_B),
        "compact": f(_compact, _A, result=_L),
        "mustCompact": f(_compact, _A, result=_L),
        "fromJson": f(_from_json, _S),
        "toJson": f(_swallow(_to_json), _A, result=_S),
        "toPrettyJson": f(_swallow(lambda x: _to_json(x, "  ")), _A, result=_S),
        "toRawJson": f(lambda x: _to_json(x, html=False), _A, result=_S),
        "mustFromJson": f(from_json, _S),
        "mustToJson": f(_to_json, _A, result=_S),
        "mustToPrettyJson": f(lambda x: _to_json(x, "  "), _A, result=_S),
        "mustToRawJson": f(lambda x: _to_json(x, html=False), _A, result=_S),
        "ternary": f(lambda t, fv, cond: t if cond else fv, _A, _A, _B),
        "deepCopy": f(copy.deepcopy, _A),
        "mustDeepCopy": f(copy.deepcopy, _A),
        # reflection
        "typeOf": f(_type_of, _A, result=_S),
        "typeIs": f(lambda t, src: t == go_type(src), _S, _A, result=_B),
        "typeIsLike": f(lambda t, src: go_type(src) in (t, "*" + t), _S, _A, result=_B),
        "kindOf": f(_reflect_kind_of, _A, result=_S),
        "kindIs": f(lambda t, src: t == _kind(src), _S, _A, result=_B),
        "deepEqual": f(deep_equal, _A, _A, result=_B),
        # paths
        "base": f(path_base, _S, result=_S),
        "dir": f(path_dir, _S, result=_S),
        "clean": f(path_clean, _S, result=_S),
        "ext": f(path_ext, _S, result=_S),
        "isAbs": f(lambda p: p.startswith("/"), _S, result=_B),
        "osBase": f(path_base, _S, result=_S),
        "osClean": f(path_clean, _S, result=_S),
        "osDir": f(path_dir, _S, result=_S),
        "osExt": f(path_ext, _S, result=_S),
        "osIsAbs": f(lambda p: p.startswith("/"), _S, result=_B),
        # encoding
        "b64enc": f(lambda s: b64encode(s.encode()).decode(), _S, result=_S),
        "b64dec": f(_b64dec, _S, result=_S),
        "b32enc": f(lambda s: b32encode(s.encode()).decode(), _S, result=_S),
        "b32dec": f(_b32dec, _S, result=_S),
        # data structures
        "tuple": v(lambda *a: list(a), _A, result=_L),
        "list": v(lambda *a: list(a), _A, result=_L),
        "dict": v(_dict, _A, result=_M),
        "get": f(_get, _M, _S),
        "set": f(_set, _M, _S, _A, result=_M),
        "unset": f(_unset, _M, _S, result=_M),
        "hasKey": f(lambda d, k: d is not None and k in d, _M, _S, result=_B),
        "pluck": v(_pluck, _S, _M, result=_L),
        "keys": v(_keys, _M, result=_L),
        "pick": v(_pick, _M, _S, result=_M),
        "omit": v(_omit, _M, _S, result=_M),
        "merge": v(_merge(False), _M, _M),
        "mergeOverwrite": v(_merge(True), _M, _M),
        "mustMerge": v(_merge(False), _M, _M),
        "mustMergeOverwrite": v(_merge(True), _M, _M),
        "values": f(lambda d: list((d or {}).values()), _M, result=_L),
        "append": f(push, _A, _A, result=_L),
        "push": f(push, _A, _A, result=_L),
        "mustAppend": f(push, _A, _A, result=_L),
        "mustPush": f(push, _A, _A, result=_L),
        "prepend": f(prepend, _A, _A, result=_L),
        "mustPrepend": f(prepend, _A, _A, result=_L),
        "first": f(_first, _A),
        "mustFirst": f(_first, _A),
        "rest": f(_rest, _A, result=_L),
        "mustRest": f(_rest, _A, result=_L),
        "last": f(_last, _A),
        "mustLast": f(_last, _A),
        "initial": f(_initial, _A, result=_L),
        "mustInitial": f(_initial, _A, result=_L),
        "reverse": f(_reverse, _A, result=_L),
        "mustReverse": f(_reverse, _A, result=_L),
        "uniq": f(_uniq, _A, result=_L),
        "mustUniq": f(_uniq, _A, result=_L),
        "without": v(_without, _A, _A, result=_L),
        "mustWithout": v(_without, _A, _A, result=_L),
        "has": f(_has, _A, _A, result=_B),
        "mustHas": f(_has, _A, _A, result=_B),
        "slice": v(_slice, _A, _A),
        "mustSlice": v(_slice, _A, _A),
        "concat": v(_concat, _A),
        "dig": v(_dig, _A),
        "chunk": f(_chunk, _I, _A, result=_L),
        "mustChunk": f(_chunk, _I, _A, result=_L),
        "uuidv4": f(lambda: str(uuid.uuid4()), result=_S),
        "randBytes": f(
            lambda n: b64encode(secrets.token_bytes(_bounded(max(n, 0)))).decode(), _I, result=_S
        ),
        "fail": f(_fail, _S, result=_S),
        "urlParse": f(_url_parse, _S, result=_M),
        "urlJoin": f(_url_join, _M, result=_S),
    }
    for name, (fn, params) in _regex_functions().items():
        specs[name] = (fn, params, False, "any")
    for name in _UNSUPPORTED:
        specs[name] = (_unsupported(name), ("any",), True, "any")
    return specs


SPRIG: dict[str, GoFunc] = {
    name: GoFunc(f"sprig.{name}", fn, params, variadic, result)
    for name, (fn, params, variadic, result) in _specs().items()
}
