"""Ending an evaluation from another thread: Ctrl-C, a kernel interrupt, `terminate`.

The local engine evaluates on its loop thread; an expression may loop for seconds (up to
the step budget), and Python cannot raise in another thread. So each run carries an
`Interrupt`, made current for everything its task evaluates (`evaluate_under`, a context
variable: asyncio tasks and callbacks inherit it). Whoever ends the run sets it from any
thread; evaluations check it when they start and at every step of their loops, and end
with `jupyter_argo.errors.Interrupted` within microseconds. It stays set: a run being
ended evaluates nothing more.
"""

from __future__ import annotations

from contextvars import ContextVar

from jupyter_argo.errors import Interrupted

__all__ = ["Interrupt", "check_interrupt", "current_interrupt", "evaluate_under"]


class Interrupt:
    """A flag any thread may set: evaluations running under it stop at their next check."""

    __slots__ = ("reason",)

    def __init__(self) -> None:
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        self.reason = reason

    def check(self) -> None:
        if self.reason is not None:
            raise Interrupted(f"evaluation interrupted: {self.reason}")


_CURRENT: ContextVar[Interrupt | None] = ContextVar("jupyter_argo_interrupt", default=None)


def evaluate_under(interrupt: Interrupt | None) -> None:
    """Make `interrupt` the current one for the calling context (an asyncio task's own)."""
    _CURRENT.set(interrupt)


def current_interrupt() -> Interrupt | None:
    return _CURRENT.get()


def check_interrupt() -> None:
    interrupt = _CURRENT.get()
    if interrupt is not None and interrupt.reason is not None:
        raise Interrupted(f"evaluation interrupted: {interrupt.reason}")
