"""Bounded retries with exponential backoff, tuned like Argo's executor.

Argo retries artifact transfers with `ExecutorRetry` (`util/retry/retry.go`): 5 attempts,
1 s first wait, factor 1.6, jitter 0.5, each overridable through the same environment
variables (`EXECUTOR_RETRY_BACKOFF_STEPS`, `_DURATION`, `_FACTOR`, `_JITTER`), which is
also how the tests make a down endpoint fail fast.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Backoff", "RetriesExhausted", "with_retries"]

T = TypeVar("T")

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float | None:
    """Seconds in a Go duration such as `1s`, `10ms` or `1m30s`; None if it is not one."""
    text = text.strip()
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def _env_number(name: str, default: float, parse: Callable[[str], float | None]) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = parse(raw)
    return default if value is None or value < 0 else value


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Backoff:
    """How many attempts, and how long to wait between them."""

    steps: int = 5
    duration: float = 1.0
    factor: float = 1.6
    jitter: float = 0.5

    @classmethod
    def from_env(cls) -> Backoff:
        """Argo's executor defaults, with its environment overrides applied."""
        return cls(
            steps=max(1, int(_env_number("EXECUTOR_RETRY_BACKOFF_STEPS", 5, _float))),
            duration=_env_number("EXECUTOR_RETRY_BACKOFF_DURATION", 1.0, parse_duration),
            factor=_env_number("EXECUTOR_RETRY_BACKOFF_FACTOR", 1.6, _float),
            jitter=_env_number("EXECUTOR_RETRY_BACKOFF_JITTER", 0.5, _float),
        )

    def waits(self) -> Iterator[float]:
        """The waits between attempts: one fewer than `steps`."""
        duration = self.duration
        for _ in range(self.steps - 1):
            yield duration + random.random() * self.jitter * duration
            duration *= self.factor


class RetriesExhausted(Exception):
    """Every attempt failed on a transient error; `last` is the final one."""

    def __init__(self, attempts: int, last: BaseException) -> None:
        super().__init__(f"{attempts} attempts")
        self.attempts = attempts
        self.last = last


def with_retries(
    attempt: Callable[[], T], *, transient: Callable[[BaseException], bool], backoff: Backoff
) -> T:
    """`attempt()`, retried after transient errors; other errors pass through at once."""
    waits = backoff.waits()
    attempts = 0
    while True:
        attempts += 1
        try:
            return attempt()
        except Exception as error:
            if not transient(error):
                raise
            wait = next(waits, None)
            if wait is None:
                raise RetriesExhausted(attempts, error) from error
            time.sleep(wait)
