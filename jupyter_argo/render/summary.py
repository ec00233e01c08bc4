"""The workflow in a few words: phase, progress `N/M`, duration and message.

Shared by the SVG's title line, the widget's header and the plain-text fallback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from jupyter_argo.render.style import phase_style

__all__ = [
    "Failure",
    "Summary",
    "first_failure",
    "format_duration",
    "log_tail",
    "parse_time",
    "summarise",
    "text_summary",
]

_LEAF_TYPES = ("Pod", "Container", "HTTP", "Plugin")
_SHOWN_FAILURES = 10
_TAIL_LINES = 5
_TAIL_LINE_CHARS = 200


@dataclass(frozen=True)
class Summary:
    name: str
    namespace: str
    phase: str
    progress: str  # Argo's "N/M": finished pods of all pods
    duration: float | None  # seconds; up to `now` while running
    message: str
    started: str
    finished: str
    warnings: tuple[str, ...] = ()  # the SpecWarning conditions' messages

    def headline(self) -> str:
        """E.g. `✓ hello-x7k2p · Succeeded · 3/3 · 12s`."""
        parts = [f"{phase_style(self.phase).glyph} {self.name}", self.phase or "Unknown"]
        if self.progress:
            parts.append(self.progress)
        if self.duration is not None:
            parts.append(format_duration(self.duration))
        return " · ".join(parts)


def summarise(workflow: Mapping[str, Any], *, now: datetime | None = None) -> Summary:
    metadata = workflow.get("metadata") or {}
    status = workflow.get("status") or {}
    started = str(status.get("startedAt") or "")
    finished = str(status.get("finishedAt") or "")
    begin = parse_time(started)
    end = parse_time(finished) or (now or datetime.now(timezone.utc))
    return Summary(
        name=str(metadata.get("name") or metadata.get("generateName") or "workflow"),
        namespace=str(metadata.get("namespace") or ""),
        phase=str(status.get("phase") or ""),
        progress=str(status.get("progress") or _progress(status.get("nodes") or {})),
        duration=None if begin is None else max(0.0, (end - begin).total_seconds()),
        message=str(status.get("message") or ""),
        started=started,
        finished=finished,
        warnings=warnings_of(status),
    )


def warnings_of(status: Mapping[str, Any]) -> tuple[str, ...]:
    """The messages of the run's `SpecWarning` conditions (what Argo's UI shows as warnings)."""
    conditions = status.get("conditions") or ()
    return tuple(
        str(c.get("message") or "")
        for c in conditions
        if isinstance(c, Mapping) and c.get("type") == "SpecWarning" and c.get("message")
    )


def _progress(nodes: Mapping[str, Any]) -> str:
    # Argo's progress counts pods: those that completed over all of them.
    pods = [n for n in nodes.values() if isinstance(n, Mapping) and n.get("type") == "Pod"]
    if not pods:
        return ""
    done = sum(1 for n in pods if n.get("phase") in ("Succeeded", "Failed", "Error"))
    return f"{done}/{len(pods)}"


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time as Kubernetes writes it, or None when absent or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def format_duration(seconds: float) -> str:
    """Like the Argo UI: `12s`, `3m 4s`, `1h 2m`, `2d 3h`."""
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def text_summary(workflow: Mapping[str, Any], *, now: datetime | None = None) -> str:
    """A few lines for terminals and `text/plain`: headline, message, counts, failures."""
    summary = summarise(workflow, now=now)
    lines = [summary.headline()]
    if summary.message:
        lines.append(f"  message: {summary.message}")
    lines.extend(f"  ⚠ {warning}" for warning in summary.warnings)
    nodes = [
        n
        for n in ((workflow.get("status") or {}).get("nodes") or {}).values()
        if isinstance(n, Mapping)
    ]
    leaves = [n for n in nodes if n.get("type") in _LEAF_TYPES]
    if leaves:
        counts = Counter(str(n.get("phase") or "Pending") for n in leaves)
        listed = ", ".join(f"{count} {phase.lower()}" for phase, count in sorted(counts.items()))
        lines.append(f"  {len(leaves)} pods: {listed}")
    failed = [n for n in leaves if n.get("phase") in ("Failed", "Error")]
    for node in failed[:_SHOWN_FAILURES]:
        name = node.get("displayName") or node.get("name") or node.get("id")
        message = f": {node['message']}" if node.get("message") else ""
        lines.append(f"  {phase_style(str(node.get('phase'))).glyph} {name}{message}")
    if len(failed) > _SHOWN_FAILURES:
        lines.append(f"  ... and {len(failed) - _SHOWN_FAILURES} more failed")
    return "\n".join(lines)


@dataclass(frozen=True)
class Failure:
    """The step a failed run failed at: the first leaf node that ended Failed or Error."""

    id: str
    name: str  # its display name, as the graph shows it
    phase: str
    message: str
    failed: int  # how many leaf nodes failed in all

    def describe(self) -> str:
        """E.g. `step boom: Error (exit code 3)`."""
        return f"step {self.name}" + (f": {self.message}" if self.message else "")


def first_failure(workflow: Mapping[str, Any]) -> Failure | None:
    """The failed step to show first: the leaf that failed earliest (the cause, as a rule;
    what fails after it mostly fails because of it). None when no step failed."""
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    failed = [
        n
        for n in (nodes.values() if isinstance(nodes, Mapping) else ())
        if isinstance(n, Mapping)
        and n.get("type") in _LEAF_TYPES
        and n.get("phase") in ("Failed", "Error")
    ]
    if not failed:
        return None
    node = min(failed, key=lambda n: (str(n.get("finishedAt") or "~"), str(n.get("id") or "")))
    return Failure(
        id=str(node.get("id") or ""),
        name=str(node.get("displayName") or node.get("name") or node.get("id") or ""),
        phase=str(node.get("phase") or ""),
        message=str(node.get("message") or ""),
        failed=len(failed),
    )


def log_tail(text: str, lines: int = _TAIL_LINES) -> list[str]:
    """The last `lines` non-blank lines of a log, each cut to a readable length."""
    kept = [line.rstrip() for line in text.splitlines() if line.strip()][-lines:]
    return [
        line if len(line) <= _TAIL_LINE_CHARS else line[: _TAIL_LINE_CHARS - 1] + "…"
        for line in kept
    ]
