"""CronWorkflow schedules and time zones, checked as Argo's validator does (robfig/cron)."""

from __future__ import annotations

import re

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(
                ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            )
        },
    ),
    (
        "day of week",
        0,
        6,
        {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
    ),
)
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def cron_problem(schedule: str) -> str:
    """Why robfig/cron's ParseStandard would refuse `schedule`, or ""."""
    text = schedule.strip()
    if text.startswith(("CRON_TZ=", "TZ=")):
        zone, _, text = text.partition(" ")
        if not known_timezone(zone.split("=", 1)[1]):
            return f"provided bad location {zone.split('=', 1)[1]}"
        text = text.strip()
    if text.startswith("@"):
        if text in _DESCRIPTORS:
            return ""
        if text.startswith("@every "):
            duration = text[len("@every ") :].strip()
            if re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", duration):
                return ""
            return f"failed to parse duration {text}"
        return f"unrecognized descriptor: {text}"
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for value, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in value.split(","):
            problem = _cron_range(part, low, high, names)
            if problem:
                return f"{name}: {problem}"
    return ""


def _cron_range(part: str, low: int, high: int, names: dict[str, int]) -> str:
    span, _, step = part.partition("/")
    if step and not step.isdigit():
        return f"failed to parse int from {step}"
    if span in ("*", "?"):
        return ""
    start_text, _, end_text = span.partition("-")
    bounds = []
    for text in (start_text, end_text) if end_text else (start_text,):
        number = names.get(text.lower()) if not text.isdigit() else int(text)
        if number is None:
            return f"failed to parse int from {text}"
        bounds.append(number)
    if bounds[0] < low or bounds[-1] > high:
        return (
            f"end of range ({bounds[-1]}) above maximum ({high}): {part}"
            if bounds[-1] > high
            else f"beginning of range ({bounds[0]}) below minimum ({low}): {part}"
        )
    if bounds[0] > bounds[-1]:
        return f"beginning of range ({bounds[0]}) beyond end of range ({bounds[-1]}): {part}"
    return ""


def known_timezone(name: str) -> bool:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # Without a time zone database nothing can be judged; say nothing then.
        return not zoneinfo.available_timezones()
    return True
