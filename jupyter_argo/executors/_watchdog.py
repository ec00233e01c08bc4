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
import logging
import socket
import struct
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

# Run with `python -I -S`: no site, no jupyter_argo, nothing but the standard library;
# and of that only C modules (those under socket, signal, selectors, os and struct):
# their Python wrappers (enum tables, collections for array) would double the CPU time
# of its start, taken from the engine's.
_SCRIPT = r"""
import _signal, _socket, _struct, posix, select, sys
sock = _socket.socket(fileno=int(sys.argv[1]))
marker = ("JUPYTER_ARGO_TREE=" + sys.argv[2]).encode()
live = {}  # pidfd -> (pid, whole group)
poll = select.epoll()
poll.register(sock.fileno(), select.EPOLLIN)

def gone(fd):
    poll.unregister(fd)
    posix.close(fd)
    live.pop(fd, None)

def receive():
    # socket.recv_fds: a message and the file descriptors passed with it (C ints)
    fds = []
    data, ancillary, _, _ = sock.recvmsg(64, _socket.CMSG_LEN(16 * 4))
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += _struct.unpack("=%di" % (len(payload) // 4), payload[: len(payload) // 4 * 4])
    return data, fds

def kill_all():
    for fd, (pid, group) in list(live.items()):
        try:
            _signal.pidfd_send_signal(fd, _signal.SIGKILL)
            if group:
                posix.killpg(pid, _signal.SIGKILL)
        except OSError:
            pass
    for name in posix.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/" + name + "/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
        except OSError:
            continue
        if any(entry.startswith(marker) for entry in environ):
            try:
                posix.kill(int(name), _signal.SIGKILL)
            except OSError:
                pass

while True:
    for fd, _ in poll.poll():
        if fd in live:
            gone(fd)
            continue
        try:
            data, fds = receive()
        except OSError:
            data, fds = b"", []
        if not data:
            kill_all()
            sys.exit(0)
        pid, group = _struct.unpack("=i?", data[:5])
        for fd in fds:
            live[fd] = (pid, group)
            poll.register(fd, select.EPOLLIN)
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
        """Close our end: the watchdog ends what still runs, and exits.

        Not waited for, as it is not when this process is killed: at exit, the steps this
        process knows of are killed here anyway (`_process._kill_leftovers`), and a
        watchdog still starting, or searching /proc for escaped processes, must not hold
        up the exit of every `jupyter-argo run` (10-20 ms)."""
        self._socket.close()


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
