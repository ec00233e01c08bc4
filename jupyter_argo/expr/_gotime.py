"""Go's `time` package as expressions see it: durations, layouts, parsing and methods.

Argo's expressions run on Go values: `now()` is a `time.Time`, `duration("1h")` a
`time.Duration`, and `sprig.date("2006", t)` formats with Go's reference-time layouts.
Times are Python `datetime`s that always carry a zone (a naive one is read as UTC);
durations are `Duration`, integer nanoseconds like Go's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

__all__ = [
    "Duration",
    "TimeError",
    "format_time",
    "load_location",
    "parse_duration",
    "parse_time",
    "time_method",
    "to_aware",
]

NANOSECOND = 1
MICROSECOND = 1000
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
_INT64_MAX = (1 << 63) - 1

UTC = timezone.utc


class TimeError(ValueError):
    """A duration, date or layout Go's time package would reject."""


@dataclass(frozen=True, order=True)
class Duration:
    """A Go `time.Duration`: signed nanoseconds."""

    ns: int

    @classmethod
    def of(cls, value: timedelta) -> Duration:
        return cls((value.days * 86400 + value.seconds) * SECOND + value.microseconds * MICROSECOND)

    def __str__(self) -> str:
        return format_duration(self.ns)


def to_aware(value: datetime) -> datetime:
    """A datetime with a zone; naive ones are taken as UTC (Argo's controller runs in UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- durations ---------------------------------------------------------------------------

_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "µs": MICROSECOND,  # U+00B5 micro sign
    "μs": MICROSECOND,  # U+03BC Greek mu
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}


def parse_duration(text: str) -> Duration:
    """Go's `time.ParseDuration`: `1h30m`, `-1.5s`, `300ms`, `0`."""
    original = text
    s = text
    negative = False
    if s and s[0] in "+-":
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return Duration(0)
    if not s:
        raise TimeError(f'time: invalid duration "{original}"')
    total = 0
    while s:
        match = re.match(r"([0-9]*)(?:\.([0-9]*))?", s)
        whole, frac = (match.group(1), match.group(2)) if match else ("", None)
        if not whole and not frac:
            # Go needs at least one digit on either side of the point.
            raise TimeError(f'time: invalid duration "{original}"')
        s = s[match.end() if match else 0 :]
        unit_match = re.match(r"[^0-9.]+", s)
        if not unit_match:
            raise TimeError(f'time: missing unit in duration "{original}"')
        unit = unit_match.group(0)
        s = s[len(unit) :]
        if unit not in _UNITS:
            raise TimeError(f'time: unknown unit "{unit}" in duration "{original}"')
        scale = _UNITS[unit]
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // 10 ** len(frac)
        total += value
        if total > 1 << 63:
            raise TimeError(f'time: invalid duration "{original}"')
    if total > _INT64_MAX and not negative:
        raise TimeError(f'time: invalid duration "{original}"')
    return Duration(-total if negative else total)


def _frac(value: int, precision: int) -> tuple[str, int]:
    digits = ""
    printed = False
    for _ in range(precision):
        digit = value % 10
        printed = printed or digit != 0
        if printed:
            digits = str(digit) + digits
        value //= 10
    return ("." + digits if printed else ""), value


def format_duration(ns: int) -> str:
    """Go's `Duration.String`: `1h2m3.5s`, `1.5ms`, `0s`."""
    if ns == 0:
        return "0s"
    negative = ns < 0
    u = -ns if negative else ns
    if u < SECOND:
        if u < MICROSECOND:
            text = f"{u}ns"
        elif u < MILLISECOND:
            frac, whole = _frac(u, 3)
            text = f"{whole}{frac}µs"
        else:
            frac, whole = _frac(u, 6)
            text = f"{whole}{frac}ms"
    else:
        frac, seconds = _frac(u, 9)
        text = f"{seconds % 60}{frac}s"
        minutes = seconds // 60
        if minutes:
            text = f"{minutes % 60}m{text}"
            hours = minutes // 60
            if hours:
                text = f"{hours}h{text}"
    return "-" + text if negative else text


# --- layouts -----------------------------------------------------------------------------

_LONG_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

# Layout elements, named after Go's std* constants.
_FRAC0 = "frac0"
_FRAC9 = "frac9"
_ZERO_X = ("zeroMonth", "zeroDay", "zeroHour12", "zeroMinute", "zeroSecond", "year")
_ZONES_Z = (
    ("Z070000", "isoSecondsTZ"),
    ("Z07:00:00", "isoColonSecondsTZ"),
    ("Z0700", "isoTZ"),
    ("Z07:00", "isoColonTZ"),
    ("Z07", "isoShortTZ"),
)
_ZONES_NUM = (
    ("-070000", "numSecondsTZ"),
    ("-07:00:00", "numColonSecondsTZ"),
    ("-0700", "numTZ"),
    ("-07:00", "numColonTZ"),
    ("-07", "numShortTZ"),
)


def _lower_start(s: str) -> bool:
    return bool(s) and "a" <= s[0] <= "z"


def _next_chunk(layout: str) -> tuple[str, str, int, str]:
    """(prefix, element, fraction digits, suffix), as Go's `nextStdChunk` splits layouts."""
    n = len(layout)
    for i, c in enumerate(layout):
        rest = layout[i:]
        if c == "J" and rest.startswith("Jan"):
            if rest.startswith("January"):
                return layout[:i], "longMonth", 0, layout[i + 7 :]
            if not _lower_start(layout[i + 3 :]):
                return layout[:i], "month", 0, layout[i + 3 :]
        elif c == "M" and len(rest) >= 3:
            if rest.startswith("Mon"):
                if rest.startswith("Monday"):
                    return layout[:i], "longWeekDay", 0, layout[i + 6 :]
                if not _lower_start(layout[i + 3 :]):
                    return layout[:i], "weekDay", 0, layout[i + 3 :]
            if rest.startswith("MST"):
                return layout[:i], "tz", 0, layout[i + 3 :]
        elif c == "0":
            if i + 1 < n and "1" <= layout[i + 1] <= "6":
                return layout[:i], _ZERO_X[int(layout[i + 1]) - 1], 0, layout[i + 2 :]
            if rest.startswith("002"):
                return layout[:i], "zeroYearDay", 0, layout[i + 3 :]
        elif c == "1":
            if rest.startswith("15"):
                return layout[:i], "hour", 0, layout[i + 2 :]
            return layout[:i], "numMonth", 0, layout[i + 1 :]
        elif c == "2":
            if rest.startswith("2006"):
                return layout[:i], "longYear", 0, layout[i + 4 :]
            return layout[:i], "day", 0, layout[i + 1 :]
        elif c == "_":
            if rest.startswith("_2"):
                if rest.startswith("_2006"):
                    return layout[: i + 1], "longYear", 0, layout[i + 5 :]
                return layout[:i], "underDay", 0, layout[i + 2 :]
            if rest.startswith("__2"):
                return layout[:i], "underYearDay", 0, layout[i + 3 :]
        elif c == "3":
            return layout[:i], "hour12", 0, layout[i + 1 :]
        elif c == "4":
            return layout[:i], "minute", 0, layout[i + 1 :]
        elif c == "5":
            return layout[:i], "second", 0, layout[i + 1 :]
        elif c == "P" and rest.startswith("PM"):
            return layout[:i], "PM", 0, layout[i + 2 :]
        elif c == "p" and rest.startswith("pm"):
            return layout[:i], "pm", 0, layout[i + 2 :]
        elif c == "-":
            for text, name in _ZONES_NUM:
                if rest.startswith(text):
                    return layout[:i], name, 0, layout[i + len(text) :]
        elif c == "Z":
            for text, name in _ZONES_Z:
                if rest.startswith(text):
                    return layout[:i], name, 0, layout[i + len(text) :]
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            ch = layout[i + 1]
            j = i + 1
            while j < n and layout[j] == ch:
                j += 1
            if not (j < n and layout[j].isdigit()):
                element = _FRAC0 if ch == "0" else _FRAC9
                return layout[:i], element, j - (i + 1), layout[j:]
    return layout, "", 0, ""


def _zone_name(value: datetime) -> str:
    # Python names fixed offsets "UTC+02:00"; Go leaves such zones unnamed.
    name = value.tzname() or ""
    return "" if name.startswith(("UTC+", "UTC-", "+", "-")) else name


def _offset_seconds(value: datetime) -> int:
    offset = value.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def format_time(value: datetime, layout: str) -> str:
    """Go's `Time.Format(layout)` with the reference time `Mon Jan 2 15:04:05 MST 2006`."""
    value = to_aware(value)
    out: list[str] = []
    while layout:
        prefix, element, digits, layout = _next_chunk(layout)
        out.append(prefix)
        if not element:
            break
        out.append(_format_element(value, element, digits))
    return "".join(out)


def _format_element(t: datetime, element: str, digits: int) -> str:
    hour12 = t.hour % 12 or 12
    simple: dict[str, Callable[[], str]] = {
        "year": lambda: f"{t.year % 100:02d}",
        "longYear": lambda: f"{t.year:04d}",
        "month": lambda: _LONG_MONTHS[t.month - 1][:3],
        "longMonth": lambda: _LONG_MONTHS[t.month - 1],
        "numMonth": lambda: str(t.month),
        "zeroMonth": lambda: f"{t.month:02d}",
        "weekDay": lambda: _LONG_DAYS[(t.weekday() + 1) % 7][:3],
        "longWeekDay": lambda: _LONG_DAYS[(t.weekday() + 1) % 7],
        "day": lambda: str(t.day),
        "underDay": lambda: f"{t.day:2d}",
        "zeroDay": lambda: f"{t.day:02d}",
        "underYearDay": lambda: f"{t.timetuple().tm_yday:3d}",
        "zeroYearDay": lambda: f"{t.timetuple().tm_yday:03d}",
        "hour": lambda: f"{t.hour:02d}",
        "hour12": lambda: str(hour12),
        "zeroHour12": lambda: f"{hour12:02d}",
        "minute": lambda: str(t.minute),
        "zeroMinute": lambda: f"{t.minute:02d}",
        "second": lambda: str(t.second),
        "zeroSecond": lambda: f"{t.second:02d}",
        "PM": lambda: "PM" if t.hour >= 12 else "AM",
        "pm": lambda: "pm" if t.hour >= 12 else "am",
    }
    if element in simple:
        return simple[element]()
    if element in (_FRAC0, _FRAC9):
        nanos = f"{t.microsecond * 1000:09d}"[:digits]
        if element == _FRAC9:
            nanos = nanos.rstrip("0")
            return "." + nanos if nanos else ""
        return "." + nanos
    offset = _offset_seconds(t)
    if element == "tz":
        name = _zone_name(t)
        if name:
            return name
        minutes = abs(offset) // 60
        return f"{'-' if offset < 0 else '+'}{minutes // 60:02d}{minutes % 60:02d}"
    # Numeric zones; the ISO forms write Z for UTC.
    if element.startswith("iso") and offset == 0:
        return "Z"
    sign = "-" if offset < 0 else "+"
    a = abs(offset)
    hh, mm, ss = a // 3600, a // 60 % 60, a % 60
    kind = element[3:]  # isoTZ / numTZ -> TZ, ...
    if kind == "ShortTZ":
        return f"{sign}{hh:02d}"
    if kind == "TZ":
        return f"{sign}{hh:02d}{mm:02d}"
    if kind == "ColonTZ":
        return f"{sign}{hh:02d}:{mm:02d}"
    if kind == "SecondsTZ":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"


def _getnum(value: str, fixed: bool) -> tuple[int, str]:
    if not value or not value[0].isdigit() or not value[0].isascii():
        raise ValueError("bad number")
    if len(value) < 2 or not ("0" <= value[1] <= "9"):
        if fixed:
            raise ValueError("bad number")
        return int(value[0]), value[1:]
    return int(value[:2]), value[2:]


def _lookup(names: list[str], value: str, length: int | None) -> tuple[int, str]:
    for index, name in enumerate(names):
        candidate = name if length is None else name[:length]
        if value[: len(candidate)].lower() == candidate.lower():
            return index, value[len(candidate) :]
    raise ValueError("bad name")


def _days_in(month: int, year: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_time(layout: str, value: str, location: tzinfo | None = None) -> datetime:
    """Go's `time.Parse` / `ParseInLocation` for the layouts Argo users write."""
    original_layout, original_value = layout, value
    year, month, day, hour, minute, second, nanos = 1, 1, 1, 0, 0, 0, 0
    pm_set = pm = False
    zone_offset: int | None = None
    zone_name = ""

    def fail(element_text: str, rest: str) -> TimeError:
        return TimeError(
            f'parsing time "{original_value}" as "{original_layout}": '
            f'cannot parse "{rest}" as "{element_text}"'
        )

    while True:
        prefix, element, digits, suffix = _next_chunk(layout)
        element_text = layout[len(prefix) : len(layout) - len(suffix)]
        if not value.startswith(prefix):
            raise fail(prefix, value)
        value = value[len(prefix) :]
        if not element:
            if value:
                raise TimeError(f'parsing time "{original_value}": extra text: "{value}"')
            break
        layout = suffix
        rest = value
        try:
            if element == "year":
                if len(value) < 2 or not value[:2].isdigit():
                    raise ValueError
                year = int(value[:2])
                year += 1900 if year >= 69 else 2000
                value = value[2:]
            elif element == "longYear":
                if len(value) < 4 or not value[:4].isdigit():
                    raise ValueError
                year, value = int(value[:4]), value[4:]
            elif element in ("month", "longMonth"):
                index, value = _lookup(_LONG_MONTHS, value, 3 if element == "month" else None)
                month = index + 1
            elif element in ("numMonth", "zeroMonth"):
                month, value = _getnum(value, element == "zeroMonth")
                if not 1 <= month <= 12:
                    raise TimeError(f'parsing time "{original_value}": month out of range')
            elif element in ("weekDay", "longWeekDay"):
                _, value = _lookup(_LONG_DAYS, value, 3 if element == "weekDay" else None)
            elif element in ("day", "underDay", "zeroDay"):
                if element == "underDay" and value.startswith(" "):
                    value = value[1:]
                day, value = _getnum(value, element == "zeroDay")
            elif element in ("underYearDay", "zeroYearDay"):
                raise TimeError(f"parsing time {original_value!r}: day-of-year is not supported")
            elif element == "hour":
                hour, value = _getnum(value, False)
                if hour >= 24:
                    raise TimeError(f'parsing time "{original_value}": hour out of range')
            elif element in ("hour12", "zeroHour12"):
                hour, value = _getnum(value, element == "zeroHour12")
                if hour > 12:
                    raise TimeError(f'parsing time "{original_value}": hour out of range')
            elif element in ("minute", "zeroMinute"):
                minute, value = _getnum(value, element == "zeroMinute")
                if minute >= 60:
                    raise TimeError(f'parsing time "{original_value}": minute out of range')
            elif element in ("second", "zeroSecond"):
                second, value = _getnum(value, element == "zeroSecond")
                if second >= 60:
                    raise TimeError(f'parsing time "{original_value}": second out of range')
                # A fractional second may follow even when the layout has none.
                nxt = _next_chunk(layout)
                if (
                    len(value) >= 2
                    and value[0] in ".,"
                    and value[1].isdigit()
                    and nxt[1] not in (_FRAC0, _FRAC9)
                ):
                    match = re.match(r"[.,]([0-9]+)", value)
                    if match:
                        nanos = int((match.group(1) + "000000000")[:9])
                        value = value[match.end() :]
            elif element in ("PM", "pm"):
                word = value[:2]
                if word.upper() not in ("AM", "PM") or (element == "PM") != word.isupper():
                    raise ValueError
                pm_set, pm, value = True, word.upper() == "PM", value[2:]
            elif element == _FRAC0:
                match = re.match(rf"[.,]([0-9]{{{digits}}})", value)
                if not match:
                    raise ValueError
                nanos = int((match.group(1) + "000000000")[:9])
                value = value[match.end() :]
            elif element == _FRAC9:
                match = re.match(r"[.,]([0-9]+)", value)
                if match:
                    nanos = int((match.group(1) + "000000000")[:9])
                    value = value[match.end() :]
            elif element == "tz":
                match = re.match(r"UTC|[A-Z]{3,5}|[+-][0-9]{2}(?:[0-9]{2})?", value)
                if not match:
                    raise ValueError
                zone_name = match.group(0)
                value = value[match.end() :]
                zone_offset = 0 if zone_name[0] not in "+-" else _numeric_offset(zone_name)
            else:
                if element.startswith("iso") and value.startswith("Z"):
                    zone_offset, value = 0, value[1:]
                else:
                    zone_offset, value = _parse_offset(element, value)
        except TimeError:
            raise
        except ValueError:
            raise fail(element_text, rest) from None
    if pm_set:
        if pm and hour < 12:
            hour += 12
        elif not pm and hour == 12:
            hour = 0
    if day < 1 or day > _days_in(month, year):
        raise TimeError(f'parsing time "{original_value}": day out of range')
    if zone_offset is not None:
        zone: tzinfo = timezone(timedelta(seconds=zone_offset))
        if zone_offset == 0 and zone_name in ("", "UTC", "Z"):
            zone = UTC
        elif zone_name and zone_name[0] not in "+-":
            zone = timezone(timedelta(seconds=zone_offset), zone_name)
    else:
        zone = location or UTC
    try:
        if zone_offset is None and location is not None:
            return datetime(year, month, day, hour, minute, second, nanos // 1000, tzinfo=location)
        return datetime(year, month, day, hour, minute, second, nanos // 1000, tzinfo=zone)
    except ValueError as err:
        raise TimeError(f'parsing time "{original_value}": {err}') from None


def _numeric_offset(text: str) -> int:
    sign = -1 if text[0] == "-" else 1
    hh = int(text[1:3])
    mm = int(text[3:5]) if len(text) >= 5 else 0
    return sign * (hh * 3600 + mm * 60)


def _parse_offset(element: str, value: str) -> tuple[int, str]:
    kind = element[3:]
    patterns = {
        "ShortTZ": r"([+-])([0-9]{2})",
        "TZ": r"([+-])([0-9]{2})([0-9]{2})",
        "ColonTZ": r"([+-])([0-9]{2}):([0-9]{2})",
        "SecondsTZ": r"([+-])([0-9]{2})([0-9]{2})([0-9]{2})",
        "ColonSecondsTZ": r"([+-])([0-9]{2}):([0-9]{2}):([0-9]{2})",
    }
    match = re.match(patterns[kind], value)
    if not match:
        raise ValueError("bad zone")
    parts = [int(g) for g in match.groups()[1:]] + [0, 0]
    seconds = parts[0] * 3600 + parts[1] * 60 + parts[2]
    return (-seconds if match.group(1) == "-" else seconds), value[match.end() :]


def load_location(name: str) -> tzinfo:
    """Go's `time.LoadLocation`: "", "UTC", "Local" or an IANA zone name."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return UTC  # Argo's controller runs with TZ unset, i.e. UTC.
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeError(f"unknown time zone {name}") from None


# --- methods -----------------------------------------------------------------------------


def _unix_ns(t: datetime) -> int:
    delta = to_aware(t) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * SECOND + delta.microseconds * MICROSECOND


def _add(t: datetime, d: Duration) -> datetime:
    return t + timedelta(microseconds=d.ns // 1000 if d.ns >= 0 else -(-d.ns // 1000))


def _time_methods(t: datetime) -> dict[str, Callable[..., Any]]:
    t = to_aware(t)
    return {
        "Year": lambda: t.year,
        "Month": lambda: t.month,
        "Day": lambda: t.day,
        "Hour": lambda: t.hour,
        "Minute": lambda: t.minute,
        "Second": lambda: t.second,
        "Nanosecond": lambda: t.microsecond * 1000,
        "YearDay": lambda: t.timetuple().tm_yday,
        "Weekday": lambda: (t.weekday() + 1) % 7,
        "Unix": lambda: _unix_ns(t) // SECOND,
        "UnixMilli": lambda: _unix_ns(t) // MILLISECOND,
        "UnixMicro": lambda: _unix_ns(t) // MICROSECOND,
        "UnixNano": lambda: _unix_ns(t),
        "Format": lambda layout: format_time(t, layout),
        "String": lambda: format_time(t, "2006-01-02 15:04:05.999999999 -0700 MST"),
        "Add": lambda d: _add(t, d),
        "Sub": lambda u: Duration(_unix_ns(t) - _unix_ns(u)),
        "AddDate": lambda y, m, d: _add_date(t, y, m, d),
        "Before": lambda u: t < to_aware(u),
        "After": lambda u: t > to_aware(u),
        "Equal": lambda u: t == to_aware(u),
        "Compare": lambda u: (t > to_aware(u)) - (t < to_aware(u)),
        "In": lambda loc: t.astimezone(loc),
        "UTC": lambda: t.astimezone(UTC),
        "Local": lambda: t.astimezone(UTC),
        "IsZero": lambda: t.replace(tzinfo=None) == datetime(1, 1, 1),
        "Truncate": lambda d: _truncate(t, d),
    }


def _truncate(t: datetime, d: Duration) -> datetime:
    if d.ns <= 0:
        return t
    ns = _unix_ns(t)
    return _add(t, Duration(-(ns % d.ns)))


def _add_date(t: datetime, years: int, months: int, days: int) -> datetime:
    month0 = t.month - 1 + months
    year = t.year + years + month0 // 12
    month = month0 % 12 + 1
    # Go normalises an overflowing day (Jan 31 + 1 month = Mar 3), like adding days.
    base = t.replace(year=year, month=month, day=1)
    return base + timedelta(days=t.day - 1 + days)


def _duration_methods(d: Duration) -> dict[str, Callable[..., Any]]:
    return {
        "Hours": lambda: d.ns / HOUR,
        "Minutes": lambda: d.ns / MINUTE,
        "Seconds": lambda: d.ns / SECOND,
        "Milliseconds": lambda: int(d.ns / MILLISECOND),
        "Microseconds": lambda: int(d.ns / MICROSECOND),
        "Nanoseconds": lambda: d.ns,
        "String": lambda: format_duration(d.ns),
        "Abs": lambda: Duration(abs(d.ns)),
        "Truncate": lambda m: (
            Duration(d.ns - int(d.ns % m.ns if d.ns >= 0 else -(-d.ns % m.ns))) if m.ns > 0 else d
        ),
        "Round": lambda m: _round_duration(d, m),
    }


def _round_duration(d: Duration, m: Duration) -> Duration:
    if m.ns <= 0:
        return d
    r = abs(d.ns) % m.ns
    sign = -1 if d.ns < 0 else 1
    base = abs(d.ns) - r
    if r + r >= m.ns:
        base += m.ns
    return Duration(sign * base)


def time_method(value: datetime | Duration, name: str) -> Callable[..., Any] | None:
    """The Go method `name` bound to a time or duration, or None when it has none."""
    if isinstance(value, Duration):
        return _duration_methods(value).get(name)
    return _time_methods(value).get(name)
