"""A process as the engine holds it while a spawning thread starts it.

`ProcessExecutor.start_soon` hands one back at once, without waiting for the spawning
thread: the engine waits for the process to end, never for it to start, so the loop hears
once per container (it ended) instead of twice (it started, it ended). What the engine does
to it meanwhile (terminate, kill) is done as soon as it has started; a start that fails ends
it at once, with the error in `start_error`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_argo.executors._process import Process

__all__ = ["Starting"]


class Starting:
    """A `Process` to its holder from the moment its start was asked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: Process | None = None
        self.start_error: BaseException | None = None
        self._ended = False  # its process is done, or its start failed
        self._callbacks: list[Callable[[Starting], None]] = []
        self._signals: list[float | None] = []  # asked before the start: grace, None to kill
        self._done: threading.Event | None = None  # made for `wait` (the engine never does)

    def __repr__(self) -> str:
        return f"<Starting {self._process!r}>"

    @property
    def pid(self) -> int:
        return self._process.pid if self._process is not None else 0

    @property
    def output_error(self) -> OSError | None:
        return self._process.output_error if self._process is not None else None

    @property
    def printed(self) -> bool:
        return self._process.printed if self._process is not None else False

    def poll(self) -> int | None:
        """The process's exit code once it is done (None before, and after a failed start)."""
        process = self._process
        return None if process is None else process.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        with self._lock:
            if self._done is None:
                self._done = threading.Event()
                if self._ended:
                    self._done.set()
            done = self._done
        done.wait(timeout)
        return self.poll()

    def terminate(self, grace: float = 10.0) -> None:
        self._signal(grace)

    def kill(self) -> None:
        self._signal(None)

    def _signal(self, grace: float | None) -> None:
        with self._lock:
            process = self._process
            if process is None:
                if self.start_error is None:
                    self._signals.append(grace)
                return
        if grace is None:
            process.kill()
        else:
            process.terminate(grace=grace)

    def add_done_callback(self, fn: Callable[[Starting], None]) -> None:
        """Call `fn(self)` once its process is done or its start failed (now if so)."""
        with self._lock:
            if not self._ended:
                self._callbacks.append(fn)
                return
        fn(self)

    # The spawning thread

    def settle(self, process: Process | None, error: BaseException | None) -> None:
        """The start is over: `process` started, or `error` stopped it."""
        if process is None:
            with self._lock:
                self.start_error = error
                self._signals.clear()
            self._end()
            return
        with self._lock:
            self._process = process
            signals, self._signals = self._signals, []
        for grace in signals:
            if grace is None:
                process.kill()
            else:
                process.terminate(grace=grace)
        process.add_done_callback(lambda _: self._end())

    def _end(self) -> None:
        with self._lock:
            self._ended = True
            callbacks, self._callbacks = self._callbacks, []
            done = self._done
        if done is not None:
            done.set()
        for fn in callbacks:
            fn(self)
