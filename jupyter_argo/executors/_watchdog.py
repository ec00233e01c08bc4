"""Steps die with the engine, even when the engine is killed with SIGKILL.

A pod's containers end when its node goes; a step here must not outlive the Python
process that runs it. Without a wrapper process around each step (an exec costs more
than the rest of a step), one watchdog process per engine does it: the engine hands it
a pidfd for every container it starts, over a socket only the engine holds the other
end of. When that end closes (the engine has exited, however it died) the watchdog
SIGKILLs every container still running: a PID namespace's init takes its whole
namespace with it; in the modes without one the process group is killed too, and every
process carrying the engine's marker in its environment (those that left the group).
The watchdog forgets a container as soon as its pidfd says it has exited.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import socket
import struct
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

# Run with `python -I -S`: no site, no jupyter_argo, nothing but the standard library.
_SCRIPT = r"""
import os, selectors, signal, socket, struct, sys
sock = socket.socket(fileno=int(sys.argv[1]))
marker = ("JUPYTER_ARGO_TREE=" + sys.argv[2]).encode()
live = {}  # pidfd -> (pid, whole group)
selector = selectors.DefaultSelector()
selector.register(sock, selectors.EVENT_READ, None)

def gone(fd):
    selector.unregister(fd)
    os.close(fd)
    live.pop(fd, None)

def kill_all():
    for fd, (pid, group) in list(live.items()):
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            if group:
                os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/" + name + "/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
        except OSError:
            continue
        if any(entry.startswith(marker) for entry in environ):
            try:
                os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass

while True:
    for key, _ in selector.select():
        if key.data is not None:
            gone(key.fd)
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, 64, 16)
        except OSError:
            data, fds = b"", []
        if not data:
            kill_all()
            sys.exit(0)
        pid, group = struct.unpack("=i?", data[:5])
        for fd in fds:
            live[fd] = (pid, group)
            selector.register(fd, selectors.EVENT_READ, fd)
"""

_MESSAGE = struct.Struct("=i?")


class Watchdog:
    """The engine's end: `watch(pid, pidfd)` for every container started."""

    def __init__(self, marker: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _SCRIPT, str(theirs.fileno()), marker],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C to the engine's group must not end it first
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._socket = ours
        self._lock = threading.Lock()

    def watch(self, pid: int, pidfd: int, *, group: bool) -> None:
        """Have the watchdog kill `pid` (and its group) if this process dies first."""
        with self._lock:  # never blocks the engine: a watchdog that lags loses a step
            socket.send_fds(self._socket, [_MESSAGE.pack(pid, group)], [pidfd], socket.MSG_DONTWAIT)

    @property
    def pid(self) -> int:
        return self._process.pid

    def close(self) -> None:
        """Close our end: the watchdog ends what still runs, and exits."""
        self._socket.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(2.0)


_watchdog: Watchdog | None = None
_failed = False
_lock = threading.Lock()


def start(marker: str) -> Watchdog | None:
    """This process's watchdog, started now if it is not running (before the first step:
    it finds a step by `marker` even before that step is handed to it)."""
    global _watchdog, _failed
    with _lock:
        if _watchdog is None and not _failed:
            try:
                _watchdog = Watchdog(marker)
                atexit.register(_watchdog.close)
            except OSError as exc:
                _failed = True
                log.warning("jupyter-argo: no watchdog (%s): steps outlive a killed engine", exc)
        return _watchdog


def watch(pid: int, pidfd: int, *, group: bool, marker: str) -> None:
    """Hand `pidfd` (not consumed) to this process's watchdog, started on first use.
    Where none can run, steps are ended only by a normal exit of the interpreter."""
    global _watchdog
    dog = start(marker)
    if dog is None:
        return
    try:
        dog.watch(pid, pidfd, group=group)
    except BlockingIOError:
        log.warning("jupyter-argo: the watchdog lags; a step is not watched")
    except OSError as exc:
        log.warning("jupyter-argo: the watchdog is gone (%s)", exc)
        with _lock:
            _watchdog = None


def _pid() -> int | None:
    """The watchdog's PID, if one runs (for tests)."""
    return _watchdog.pid if _watchdog is not None else None
