"""Turning a backend's watch stream into at most ~10 view updates a second.

A watch can deliver hundreds of snapshots a second. `Coalescer` keeps only the newest
one pending and applies it from a single thread, no more often than every `interval`
seconds: `push` never waits for an update to finish, updates never queue behind each
other, and the last snapshot pushed is always the last one applied. `Follower` reads a
stream on its own thread and feeds a `Coalescer`; `WorkflowView.follow` starts one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

__all__ = ["Coalescer", "Follower"]

T = TypeVar("T")
_NOTHING = object()


class Coalescer(Generic[T]):
    """Applies the newest pushed value with `apply`, at most once per `interval` seconds."""

    def __init__(
        self, apply: Callable[[T], object], *, interval: float = 0.1, name: str = "coalescer"
    ) -> None:
        self._apply = apply
        self._interval = interval
        self._ready = threading.Condition()
        self._pending: object = _NOTHING
        self._closed = False
        self._flush = True
        self.pushed = 0
        self.applied = 0
        self.error: BaseException | None = None  # the first exception `apply` raised
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def push(self, value: T) -> bool:
        """Make `value` the next to apply, replacing any not yet applied. Never waits.

        False, and nothing happens, once the coalescer is closed.
        """
        with self._ready:
            if self._closed:
                return False
            self._pending = value
            self.pushed += 1
            self._ready.notify()
            return True

    def close(self, *, flush: bool = True, timeout: float | None = None) -> None:
        """Stop; first apply the pending value at once if `flush`. Waits up to `timeout`."""
        with self._ready:
            self._closed = True
            self._flush = flush
            self._ready.notify()
        self.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        """Wait until closed and done applying (or `timeout` seconds)."""
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _next(self, last: float) -> object:
        with self._ready:
            while self._pending is _NOTHING and not self._closed:
                self._ready.wait()
            # Rate limit, unless closing: the final snapshot goes out at once.
            while not self._closed and (delay := last + self._interval - time.monotonic()) > 0:
                self._ready.wait(delay)
            value, self._pending = self._pending, _NOTHING
            if self._closed and not self._flush:
                return _NOTHING
            return value

    def _run(self) -> None:
        last = -float("inf")
        while True:
            value = self._next(last)
            if value is _NOTHING:
                return
            last = time.monotonic()
            try:
                self._apply(value)  # type: ignore[arg-type]
            except Exception as err:  # kept for whoever joins; the watch goes on
                if self.error is None:
                    self.error = err
            self.applied += 1


class Follower(Generic[T]):
    """Reads `stream` on a daemon thread and applies its items through a `Coalescer`."""

    def __init__(
        self, stream: Iterable[T], apply: Callable[[T], object], *, interval: float = 0.1
    ) -> None:
        self._stream = stream
        self._stopped = threading.Event()
        self.coalescer: Coalescer[T] = Coalescer(apply, interval=interval, name="argo-view")
        self.error: BaseException | None = None  # what the stream raised, if anything
        self._thread = threading.Thread(target=self._read, name="argo-watch", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for item in self._stream:
                if self._stopped.is_set() or not self.coalescer.push(item):
                    break
        except Exception as err:
            self.error = err
        finally:
            self.coalescer.close(flush=not self._stopped.is_set())

    def stop(self) -> None:
        """Stop applying; the stream is closed if it can be (generators can)."""
        self._stopped.set()
        close = getattr(self._stream, "close", None)
        if callable(close):
            # A generator running on the reader thread refuses: it stops at its next item.
            with contextlib.suppress(RuntimeError, ValueError):
                close()
        self.coalescer.close(flush=False)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the stream ended and the last snapshot was applied. True when done."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._thread.join(timeout)
        if not self._thread.is_alive():  # the reader closed the coalescer as it ended
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self.coalescer.join(left)
        return self.done

    @property
    def done(self) -> bool:
        return not self._thread.is_alive() and not self.coalescer.running
