"""Calls for an event loop from other threads, delivered in batches.

`loop.call_soon_threadsafe` wakes the loop once per call: a handle, a byte through its
self-pipe, a turn of the loop to read it. The engine's loop hears twice from other threads
per step it runs (the spawning thread: the process started; the output pump: it ended), so
at a thousand steps a second that is most of what the loop does. An `Inbox` wakes the loop
once for every call made until the loop has run them: calls made while it is busy are run
together, in the order they were made, and a step whose process started and ended in the
meantime learns both at once.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Inbox", "inbox"]


class Inbox:
    """Calls for one event loop from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._lock = threading.Lock()

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the loop's thread, as `call_soon_threadsafe` does."""
        with self._lock:
            self._calls.append((fn, args))
            if len(self._calls) > 1:
                return  # the loop is to run the calls already: it runs this one with them
        try:
            self._loop.call_soon_threadsafe(self._run)
        except BaseException:  # a closed loop: never run, as call_soon_threadsafe says
            with self._lock:
                self._calls.clear()
            raise

    def _run(self) -> None:
        with self._lock:
            calls, self._calls = self._calls, []
        for fn, args in calls:
            try:
                fn(*args)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:  # reported as the loop reports a failed callback
                self._loop.call_exception_handler(
                    {"message": f"Exception in callback {fn!r}", "exception": exc}
                )


_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Inbox] = weakref.WeakKeyDictionary()
_inboxes_lock = threading.Lock()


def inbox(loop: asyncio.AbstractEventLoop) -> Inbox:
    """The inbox of `loop` (made on first use)."""
    found = _inboxes.get(loop)
    if found is None:
        with _inboxes_lock:
            found = _inboxes.get(loop)
            if found is None:
                found = _inboxes[loop] = Inbox(loop)
    return found
