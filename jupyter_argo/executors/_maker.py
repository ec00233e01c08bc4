"""Sandbox makers: a process of their own that makes the sandboxes of the bwrap and the
namespace modes, away from the engine's interpreter lock.

The namespace mode (as root) starts its maker as a plain child, which makes a PID
namespace of its own and goes on as its PID 1 (`_own_pid_namespace`); the engine makes
its first sandboxes itself while the maker starts (`_executor._MakerStart`). The rest of
this describes the bwrap mode's, which both share but for how they start.

Starting bwrap costs about 3 ms of CPU time, more than the rest of a step. So bwrap
starts one long-lived process per engine, the maker, in a user namespace of its own
where it holds every capability (`--unshare-user --uid 0 --cap-add ALL`), as PID 1 of
a PID namespace of its own (`--unshare-pid --as-pid-1`), dying with the engine
(`--die-with-parent`). Inside, the maker builds sandboxes with the namespace mode's own
machinery (`_namespace.MountNamespace`: a mount namespace per sandbox, a PID namespace
and a /proc per container, SECBIT_NOROOT, the host read-only, the hidden places empty).
bwrap is still the one that makes the user namespace: where only it may (Ubuntu's
AppArmor restriction of unprivileged user namespaces), the mode keeps working.

The engine talks to it over Unix sockets (SOCK_SEQPACKET, one message per request):
every engine thread that makes requests gets a connection of its own, served by a
thread of its own in the maker, so spawning threads make their requests at once. A
request to start a container passes its stdin, stdout and stderr (SCM_RIGHTS); the
answer passes back a pidfd of the container, from which the engine learns its PID as
the host sees it. The container is PID 1 of its PID namespace: the engine signals it
(same user) as in the namespace mode. The maker reaps it and reports its exit status on
one more socket, which the engine's output pump reads, several exits a message.

Engine dead (even `kill -9`): the maker sees its control socket close and exits (and
bwrap's `--die-with-parent` kills it), and the maker, PID 1 of the PID namespace that
holds every container's, takes them all with it. Maker dead: its containers died with
it; running steps fail saying so, and the next sandbox starts a new maker.

Messages from the engine are pickled (the maker trusts the engine); the maker answers
in a few fixed byte formats, which the engine parses without unpickling anything.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import copy
import errno
import itertools
import logging
import os
import pickle
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from jupyter_argo.errors import BackendError, UnsupportedError
from jupyter_argo.executors._bwrap import maker_argv

if TYPE_CHECKING:
    from jupyter_argo.executors._layout import Layer, Layout

log = logging.getLogger(__name__)

_INT = struct.Struct("=i")
_EXIT = struct.Struct("=qi")  # container id, exit code (negative: killed by that signal)
_EXITS_PER_MESSAGE = 4096
_REPLY_SIZE = 4096
_MSG_TRUNC = int(socket.MSG_TRUNC)  # (an enum's `&` runs in Python)
_CLOSES = 64  # sandboxes closed in one message at most
_CLOSE_DELAY = 0.02  # seconds a sandbox to close waits for others
_EXIT_WAIT = 2.0  # seconds a maker that closed its end has to exit, for its exit status
_REQUEST_SIZE = 1 << 18  # more than a socket's send buffer (about 200 KiB): every message fits
_FDS_SIZE = socket.CMSG_SPACE(3 * _INT.size)


# ---- engine side ----------------------------------------------------------------------


_pidfd_lock = threading.Lock()  # a child's pidfd: kept by its start, closed by its end


class MakerChild:
    """A container the maker started, as `Process` sees a child: pid (the host's),
    poll, wait, and `when_done` instead of a pidfd to watch (the maker reaps it)."""

    def __init__(self) -> None:
        self.pid = 0  # 0: it ended before its PID was known
        self.pidfd = -1  # held until its exit is reported
        self.returncode: int | None = None
        self.failure = ""  # why it ended, when it did not end by itself
        self._done = threading.Event()
        self._callback: Callable[[], None] | None = None

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._done.wait(timeout)
        if self.returncode is None:
            raise TimeoutError(f"container {self.pid} still runs")
        return self.returncode

    def running(self) -> bool:
        """Whether it has not ended: its PID still names it (the maker reaps it, and
        this process may not have heard yet)."""
        fd = self.pidfd
        if self.returncode is not None or fd < 0:
            return False
        try:
            signal.pidfd_send_signal(fd, 0)
        except OSError:  # ended (ESRCH), or the fd was closed as it ended (EBADF)
            return False
        return True

    def when_done(self, callback: Callable[[], None]) -> None:
        """(Pump thread) call `callback` once its exit status is known."""
        if self.returncode is not None:
            callback()
        else:
            self._callback = callback

    def _finish(self, code: int, failure: str = "") -> None:
        """(Pump thread)"""
        if self.returncode is not None:
            return
        self.failure = failure
        with _pidfd_lock:
            self.returncode = code
            fd, self.pidfd = self.pidfd, -1
        if fd >= 0:
            os.close(fd)
        self._done.set()
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


class Maker:
    """The engine's end of one maker process, of the bwrap or the namespace mode."""

    def __init__(self, mode: str = "bwrap") -> None:
        self.mode = mode
        self.title = f"the {mode} sandbox maker"
        if mode == "bwrap":
            program = shutil.which("bwrap")
            if program is None:
                raise BackendError(
                    "isolation 'bwrap' needs bubblewrap (apt-get install bubblewrap)"
                )
            wrapper = [*maker_argv(program), "--"]
        else:  # as root: it makes its own PID namespace (`main`)
            wrapper = []
        control, control_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        status, status_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (as long as the maker)
        package = str(Path(__file__).resolve().parents[2])
        code = (
            f"import sys; sys.path.insert(0, {package!r}); "
            "from jupyter_argo.executors._maker import main; main()"
        )
        fds = (control_theirs.fileno(), status_theirs.fileno())
        argv = [*wrapper, sys.executable, "-I", "-S", "-c", code, *map(str, fds), mode]
        try:
            self._process = subprocess.Popen(
                argv,
                pass_fds=fds,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                env={},
                cwd="/",
                start_new_session=True,  # a Ctrl-C to the engine's group must not end it first
            )
        except BaseException:
            for sock in (control, status):
                sock.close()
            raise
        finally:
            control_theirs.close()
            status_theirs.close()
        self._control = control
        self._control_lock = threading.Lock()
        self._status = status
        self._lock = threading.Lock()
        self._children: dict[int, MakerChild] = {}
        self._connections: list[socket.socket] = []  # the threads' own, closed with it
        self._child_ids = itertools.count(1)
        self._sandbox_ids = itertools.count(1)
        self._local = threading.local()
        self.dead = ""  # why it stopped, once it has
        self._reason = ""
        self._closing = False
        self._to_close: list[int] = []  # sandboxes to close, in the next "close"
        from jupyter_argo.executors._process import pump

        pipe = pump()
        pipe.submit(lambda: pipe.watch(self._status.fileno(), self._on_status))

    def exited(self) -> bool:
        """bwrap (or the namespace maker's outer process) has exited (the pump may not
        have seen the maker's end yet)."""
        return self._process.poll() is not None

    @property
    def pid(self) -> int:
        """bwrap's PID, or the namespace maker's outer process's (the maker is its child)."""
        return self._process.pid

    def new_sandbox_id(self) -> int:
        return next(self._sandbox_ids)

    def close_sandbox(self, sid: int) -> None:
        """Have the maker close sandbox `sid`: with others, in one message, at most
        `_CLOSE_DELAY` seconds later (a run's sandboxes end many at a time)."""
        with self._lock:
            self._to_close.append(sid)
            first, enough = len(self._to_close) == 1, len(self._to_close) >= _CLOSES
        if enough:
            self._send_closes()
        elif first:
            from jupyter_argo.executors._process import pump

            pump().later(_CLOSE_DELAY, self._send_closes)

    def _send_closes(self) -> None:
        with self._lock:
            ids, self._to_close = self._to_close, []
        if ids and not self.dead:
            with contextlib.suppress(BackendError):
                self.send(("close", *ids))

    # Requests (any thread: each has a connection of its own)

    def _connection(self) -> socket.socket:
        own: _Connection | None = getattr(self._local, "conn", None)
        if own is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                with self._control_lock:
                    socket.send_fds(self._control, [b"c"], [theirs.fileno()])
            except OSError as exc:
                ours.close()
                raise self._stopped(exc) from exc
            finally:
                theirs.close()
            self._local.conn = own = _Connection(ours)
            with self._lock:
                self._connections.append(ours)
        return own.sock

    def send(self, request: tuple[Any, ...], fds: list[int] | None = None) -> None:
        """Send `request` without waiting for an answer."""
        if self.dead:
            raise self._stopped()
        data = pickle.dumps(request, pickle.HIGHEST_PROTOCOL)
        conn = self._connection()
        try:
            if fds:
                socket.send_fds(conn, [data], fds)
            else:
                conn.send(data)
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                raise BackendError(
                    f"a command and environment of {len(data)} bytes are more than"
                    f" {self.title} takes in one request"
                ) from exc
            raise self._stopped(exc) from exc

    def call(self, request: tuple[Any, ...], fds: list[int] | None = None) -> tuple[bytes, int]:
        """Send `request`, wait for the answer: its bytes and the fd passed with it (-1)."""
        self.send(request, fds)
        conn = self._connection()
        try:
            data, ancillary, _, _ = conn.recvmsg(_REPLY_SIZE, _FDS_SIZE, socket.MSG_CMSG_CLOEXEC)
        except OSError as exc:
            raise self._stopped(exc) from exc
        fd = -1
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                passed = array.array("i")
                passed.frombytes(payload[: len(payload) - len(payload) % passed.itemsize])
                for extra in passed[1:]:
                    os.close(extra)
                if passed:
                    fd = passed[0]
        if not data:
            if fd >= 0:
                os.close(fd)
            raise self._stopped()
        if data[:1] != b"p" and fd >= 0:
            os.close(fd)
            fd = -1
        _raise_error(data)
        return data, fd

    def spawn(self, request: tuple[Any, ...], fds: list[int]) -> MakerChild:
        """Start a container (`request` names its sandbox, command and environment; its
        child id is filled in here); its child, registered before the maker can report
        its exit."""
        child = MakerChild()
        cid = next(self._child_ids)
        with self._lock:
            self._children[cid] = child
        try:
            _, pidfd = self.call((*request, cid), fds)
            try:
                child.pid = _host_pid(pidfd)
            except BaseException:
                os.close(pidfd)
                raise
            with _pidfd_lock:  # its exit may have been reported meanwhile
                if child.returncode is None:
                    child.pidfd = pidfd
                    pidfd = -1
            if pidfd >= 0:
                os.close(pidfd)
        except BaseException:
            with self._lock:
                self._children.pop(cid, None)
            raise
        return child

    def _stopped(self, exc: BaseException | None = None) -> BackendError:
        reason = self.dead or self._death_reason(exc)
        return BackendError(f"{self.title} stopped: {reason}")

    def _death_reason(self, exc: BaseException | None = None) -> str:
        code = None
        with contextlib.suppress(subprocess.TimeoutExpired):  # its end closed: it is exiting
            code = self._process.wait(_EXIT_WAIT)
        if code is None:
            return str(exc) if exc is not None else "it closed its connection"
        with self._lock:  # once: the pump and the waiting threads all want it
            if not self._reason:
                tail = ""
                with contextlib.suppress(OSError, ValueError):
                    self._stderr.seek(0)
                    lines = self._stderr.read().decode(errors="replace").strip().splitlines()
                    tail = lines[-1] if lines else ""
                if code > 128:  # bwrap (and `main`) pass on the child's death by a signal so
                    code = 128 - code
                how = f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
                self._reason = f"{how}{': ' + tail if tail else ''}"
            return self._reason

    # Exit statuses (pump thread)

    def _on_status(self) -> None:
        from jupyter_argo.executors._process import pump

        while True:
            try:
                data = self._status.recv(_EXITS_PER_MESSAGE * _EXIT.size, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                pump().unwatch(self._status.fileno())
                self._die()
                return
            with self._lock:
                finished = [
                    (self._children.pop(cid, None), code) for cid, code in _EXIT.iter_unpack(data)
                ]
            for child, code in finished:
                if child is not None:
                    child._finish(code)

    def _die(self) -> None:
        """(Pump thread) the maker is gone, and with it every container it started."""
        with contextlib.suppress(Exception):
            self._process.wait(1.0)
        reason = self._death_reason()
        self.dead = reason
        if not self._closing:
            log.warning("jupyter-argo: %s stopped (%s)", self.title, reason)
        with self._lock:
            children, self._children = self._children, {}
        message = f"{self.title} stopped ({reason}): the container was killed"
        for child in children.values():
            child._finish(-9, message)
        self._status.close()
        self._control.close()
        self._stderr.close()
        with self._lock:  # its end is gone: a thread still using one gets an error
            connections, self._connections = self._connections, []
        for sock in connections:
            sock.close()

    def close(self, wait: float = 0.0) -> None:
        """Stop the maker (every container it runs dies with it): it exits when its
        control socket closes; wait for that up to `wait` seconds."""
        self._closing = True
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(wait)


class _Connection:
    """One thread's connection to the maker, closed with the thread (or the maker)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def __del__(self) -> None:
        self.sock.close()


_PIDFD_GET_INFO = 0xC040FF0B  # _IOWR(0xFF, 11, struct pidfd_info), Linux 6.13
_PIDFD_INFO = struct.Struct("=QQI52x")  # mask, cgroupid, pid; 64 bytes
_PIDFD_INFO_PID = 1
_pidfd_info = True  # until the kernel says it has no PIDFD_GET_INFO


def _host_pid(pidfd: int) -> int:
    """The PID of the process `pidfd` refers to, in this process's PID namespace."""
    global _pidfd_info
    if _pidfd_info:
        import fcntl

        info = bytearray(_PIDFD_INFO.pack(_PIDFD_INFO_PID, 0, 0))
        try:
            fcntl.ioctl(pidfd, _PIDFD_GET_INFO, info, True)
            return int(_PIDFD_INFO.unpack(info)[2])
        except OSError as exc:
            if exc.errno == errno.ESRCH:
                return 0  # already reaped by the maker
            if exc.errno not in (errno.ENOTTY, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            _pidfd_info = False
    with open(f"/proc/self/fdinfo/{pidfd}", "rb") as handle:
        text = handle.read()
    start = text.index(b"\nPid:") + 5
    return max(0, int(text[start : text.index(b"\n", start)]))  # -1: already reaped


def _raise_error(data: bytes) -> None:
    kind, rest = data[:1], data[1:]
    if kind in (b"k", b"p"):
        return
    if kind == b"o":
        (number,) = _INT.unpack_from(rest)
        text, _, filename = rest[_INT.size :].decode(errors="replace").partition("\0")
        raise OSError(number, text, *((filename,) if filename else ()))
    message = rest.decode(errors="replace")
    if kind == b"u":
        raise UnsupportedError(message)
    raise BackendError(message)


_makers: dict[str, Maker] = {}  # by mode
_maker_lock = threading.Lock()


def maker(mode: str = "bwrap") -> Maker:
    """This process's maker for `mode`, started now if none runs (or the last one stopped)."""
    with _maker_lock:
        found = _makers.get(mode)
        if found is None or found.dead or found.exited():
            if not _makers:
                atexit.register(_stop)
            found = _makers[mode] = Maker(mode)
        return found


def _stop() -> None:
    # At exit: its containers end with it (this process kills the ones it knows of
    # anyway); it exits at once, in a few milliseconds.
    for found in list(_makers.values()):
        if not found.dead:
            found.close(wait=1.0)


class MakerSandbox:
    """One sandbox of the maker: what `MountNamespace` is to the namespace mode.

    With `lazy`, the maker first hears of it with its first container (the layout comes
    along), and builds it on the way; else it is built now, so that a layout that cannot
    be mounted fails here."""

    def __init__(self, layout: Layout, *, lazy: bool = False) -> None:
        self.layout = layout
        self._maker = maker(layout.mode)
        self._id = self._maker.new_sandbox_id()
        self._lock = threading.Lock()
        self._sent = False
        self._closed = False
        if not lazy:
            self._build()

    def _build(self) -> None:
        self._maker.call(("new", self._id, self.layout))
        self._sent = True

    def spawn(
        self,
        argv: list[str],
        *,
        cwd: str,
        env: dict[str, str],
        stdin: int,
        stdout: int,
        stderr: int,
    ) -> MakerChild:
        """Start `argv` in the sandbox, PID 1 of a new PID namespace (stdin -1: /dev/null)."""
        fds = [stdout, stderr] if stdin < 0 else [stdout, stderr, stdin]
        with self._lock:
            if self._closed:
                raise BackendError("the sandbox was cleaned up before its process started")
            layout = None if self._sent else self.layout
            request = ("spawn", self._id, layout, argv, env, cwd)
            try:
                return self._maker.spawn(request, fds)
            finally:
                self._sent = True  # the maker has it now, even if the start failed

    def extend(self, layers: list[Layer]) -> None:
        """Mount layers added to the layout after the sandbox was built."""
        with self._lock:
            if not self._sent:
                self._build()  # the new layers could fail to mount
            elif layers:
                self._maker.call(("extend", self._id, self.layout, layers))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._sent and not self._maker.dead:
                self._maker.close_sandbox(self._id)


# ---- maker side -----------------------------------------------------------------------

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_CLD_EXITED = 1


def main() -> None:
    """The maker: serve the engine until it closes the control socket."""
    from jupyter_argo.executors import _linux

    control = socket.socket(fileno=int(sys.argv[1]))
    status = socket.socket(fileno=int(sys.argv[2]))
    mode = sys.argv[3]
    for sock in (control, status):
        sock.set_inheritable(False)
    if mode != "bwrap":
        _own_pid_namespace(_linux, [control, status])
    _drop_what_containers_could_gain(_linux)
    server = _Server(status, adapt=mode == "bwrap")
    threading.Thread(target=server.reap, name="maker-reaper", daemon=True).start()
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 16, 4, socket.MSG_CMSG_CLOEXEC)
        except OSError:
            data, fds = b"", []
        if not data:
            os._exit(0)  # PID 1: every container dies with it
        for fd in fds:
            conn = socket.socket(fileno=fd)
            threading.Thread(target=server.serve, args=(conn,), daemon=True).start()


def _own_pid_namespace(linux: Any, sockets: list[socket.socket]) -> None:
    """Go on as PID 1 of a new PID namespace (what bwrap's `--unshare-pid --as-pid-1`
    does for its maker): every container dies with the maker. This process stays outside,
    waits for it and exits as it did; killed, it takes the maker with it (PDEATHSIG)."""
    import select

    linux.unshare(linux.CLONE_NEWPID)
    outer = os.pidfd_open(os.getpid())
    pid = os.fork()
    if pid:
        for sock in sockets:
            sock.close()
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    linux._lib().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0)
    if select.select([outer], [], [], 0)[0]:  # it died before the line above: so do we
        os._exit(1)
    os.close(outer)
    # A /proc of this PID namespace: a container's own /proc is named by its PID as the
    # maker sees it (`MountNamespace._own_proc`). In a mount namespace of its own, which
    # still receives the host's mounts.
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_SLAVE)
    linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)


def _drop_what_containers_could_gain(linux: Any) -> None:
    """Before any thread starts (threads copy these): a container gets no capability at
    exec, not from bwrap's ambient and inheritable sets, not from a file's capabilities
    nor a setuid root program (empty bounding set), not as uid 0 (SECBIT_NOROOT). The
    maker keeps its own, for the mounts."""
    lib = linux._lib()
    lib.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0)
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        if lib.prctl(PR_CAPBSET_DROP, cap, 0, 0) != 0:
            raise OSError("cannot drop the capability bounding set")
    _clear_inheritable(lib)
    linux.set_securebits(linux.securebits() | linux.SECBIT_NOROOT)


def _clear_inheritable(lib: Any) -> None:
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    if lib.capget(ctypes.byref(header), data) != 0:
        raise OSError("capget failed")
    for half in data:
        half.inheritable = 0
    if lib.capset(ctypes.byref(header), data) != 0:
        raise OSError("capset failed")


class _Server:
    """The maker's state: its sandboxes and its running containers."""

    def __init__(self, status: socket.socket, *, adapt: bool) -> None:
        import select

        self._status = status
        self._adapt = adapt  # in a user namespace: mounts from outside are locked
        self._sandboxes: dict[int, Any] = {}  # id -> MountNamespace
        self._lock = threading.Lock()
        self._poll = select.epoll()
        self._live: dict[int, int] = {}  # pidfd -> container id

    def serve(self, conn: socket.socket) -> None:
        """One engine thread's requests, in order."""
        from jupyter_argo.executors import _linux

        _linux.dedicate_thread(follow_cwd=False)
        _linux.keep_noroot()  # set for good in the maker: no credentials change per start
        buffer = bytearray(_REQUEST_SIZE)  # no allocation per request
        view = memoryview(buffer)
        while True:
            try:
                size, ancillary, flags, _ = conn.recvmsg_into(
                    [buffer], _FDS_SIZE, socket.MSG_CMSG_CLOEXEC
                )
            except OSError:
                return
            if not size:
                conn.close()
                return
            fds = _fds(ancillary)
            try:
                if flags & _MSG_TRUNC:
                    raise BackendError("a request too large for the sandbox maker")
                request = pickle.loads(view[:size])
                reply, pidfd = self._handle(request, fds)
            except BaseException as exc:  # answered to the engine
                reply, pidfd = _error_reply(exc), -1
            finally:
                for fd in fds:
                    os.close(fd)
            if reply is None:
                continue
            try:
                if pidfd >= 0:
                    socket.send_fds(conn, [reply], [pidfd])
                else:
                    conn.send(reply)
            except OSError:
                return
            finally:
                if pidfd >= 0:  # reaped whatever became of the answer
                    self._watch(pidfd, request[-1])

    def _handle(self, request: tuple[Any, ...], fds: list[int]) -> tuple[bytes | None, int]:
        op = request[0]
        if op == "spawn":
            return self._spawn(request, fds)
        if op == "ping":
            return b"k", -1
        if op == "new":
            _, sid, layout = request
            self._sandbox(sid, layout, lazy=False)
            return b"k", -1
        if op == "extend":
            _, sid, layout, layers = request
            sandbox = self._sandbox(sid, None)
            if self._adapt:
                layout, layers = _adapt(layout, layers)
            sandbox.layout.__dict__.update(layout.__dict__)  # the engine's, as it grew
            sandbox.extend(layers)
            return b"k", -1
        if op == "close":
            with self._lock:
                sandboxes = [self._sandboxes.pop(sid, None) for sid in request[1:]]
            for sandbox in sandboxes:
                if sandbox is not None:
                    sandbox.close()
            return None, -1
        raise BackendError(f"the sandbox maker got an unknown request {op!r}")

    def _sandbox(self, sid: int, layout: Layout | None, *, lazy: bool = True) -> Any:
        from jupyter_argo.executors._namespace import MountNamespace

        with self._lock:
            sandbox = self._sandboxes.get(sid)
        if sandbox is not None:
            return sandbox
        if layout is None:
            raise BackendError("the sandbox was cleaned up before its process started")
        if self._adapt:
            layout, _ = _adapt(layout, [])
        sandbox = MountNamespace(layout, lazy=lazy)
        with self._lock:
            self._sandboxes[sid] = sandbox
        return sandbox

    def _spawn(self, request: tuple[Any, ...], fds: list[int]) -> tuple[bytes, int]:
        from jupyter_argo.executors._process import spawn_here

        _, sid, layout, argv, env, cwd, _cid = request
        sandbox = self._sandbox(sid, layout)
        stdout, stderr = fds[0], fds[1]
        stdin = fds[2] if len(fds) > 2 else -1
        child = sandbox.spawn(
            lambda: spawn_here(argv, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr)
        )
        return b"p" + _INT.pack(child.pid), os.pidfd_open(child.pid)

    # Reaping

    def _watch(self, pidfd: int, cid: int) -> None:
        self._live[pidfd] = cid
        self._poll.register(pidfd, 1)  # EPOLLIN: it has exited

    def reap(self) -> None:
        while True:
            events = self._poll.poll()
            out = bytearray()
            for pidfd, _ in events:
                cid = self._live.pop(pidfd, None)
                self._poll.unregister(pidfd)
                try:
                    info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
                finally:
                    os.close(pidfd)
                if cid is None or info is None:
                    continue
                code = info.si_status if info.si_code == _CLD_EXITED else -info.si_status
                out += _EXIT.pack(cid, code)
            for start in range(0, len(out), _EXITS_PER_MESSAGE * _EXIT.size):
                try:
                    self._status.send(out[start : start + _EXITS_PER_MESSAGE * _EXIT.size])
                except OSError:
                    os._exit(0)  # the engine is gone


def _adapt(layout: Layout, layers: list[Layer]) -> tuple[Layout, list[Layer]]:
    """`layout` (and its new `layers`) as this user namespace can mount it.

    An overlay's lower directory may hold no mount of the host below it: those mounts
    are locked here, and an overlay would show what they cover. Such a directory (WSL's
    /mnt, with /mnt/c in it) becomes the node's own directory, bound over the host's:
    the node sees its own entries there and none of the host's. Mounted before the
    volumes, which may lie inside it."""
    overlays = layout.of_kind("overlay")
    if not overlays:
        return layout, layers
    from jupyter_argo.executors._layout import Layer, is_under

    points = _mount_points()
    covered = {
        layer
        for layer in overlays
        if any(p != layer.container and is_under(p, layer.container) for p in points)
    }
    if not covered:
        return layout, layers

    def adapted(layer: Layer) -> Layer:
        return Layer(layer.container, layer.host, "shared") if layer in covered else layer

    changed = copy.copy(layout)
    own = [adapted(layer) for layer in layout.layers if layer in covered]
    changed.layers = own + [layer for layer in layout.layers if layer not in covered]
    return changed, [adapted(layer) for layer in layers]


def _mount_points() -> list[str]:
    """Where this mount namespace has mounts (mountinfo's fifth field, unescaped)."""
    points = []
    with open("/proc/self/mountinfo", "rb") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) > 4:
                points.append(_OCTAL.sub(lambda m: chr(int(m.group(1), 8)), fields[4].decode()))
    return points


_OCTAL = re.compile(r"\\([0-7]{3})")


def _fds(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return list(fds)


def _error_reply(exc: BaseException) -> bytes:
    if isinstance(exc, OSError) and exc.errno is not None:
        text = f"{exc.strerror or exc}\0{exc.filename or ''}"
        return b"o" + _INT.pack(exc.errno) + text.encode(errors="replace")
    if isinstance(exc, UnsupportedError):
        return b"u" + str(exc).encode(errors="replace")
    if isinstance(exc, BackendError):
        return b"b" + str(exc).encode(errors="replace")
    return b"b" + f"the sandbox maker failed: {type(exc).__name__}: {exc}".encode(errors="replace")
