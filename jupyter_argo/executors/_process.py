"""Running containers: output copying, reaping and whole-tree signals.

One `Pump` thread serves every process: it copies each child's stdout to its stdout
file and to its log, stderr to the log, notices exits through pidfds and runs timers
(the SIGKILL that follows a SIGTERM after the grace period). A `Process` is done when
its main process has exited and both streams are drained.

How a tree is ended depends on the sandbox:

- PID namespace (namespace and bwrap modes): the command is PID 1 of its own PID
  namespace, so when it ends the kernel kills everything it left behind, daemons and
  `setsid` escapees included. SIGTERM goes to the command's process group, as Argo's
  executor does; PID 1 ignores signals it has no handler for, so when the command
  keeps SIGTERM's default action we stop it with SIGKILL and report 143, the code a
  plain process would have had.
- Process group (remap and none modes): signals go to the group, and processes that
  left it are found by a marker in their environment.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import heapq
import itertools
import json
import logging
import os
import secrets
import selectors
import shutil
import signal
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from jupyter_argo.executors import _posix_spawn

log = logging.getLogger(__name__)

TREE_ENV = "JUPYTER_ARGO_TREE"
# Every marker this process hands out starts so (remap and none modes).
TOKEN_PREFIX = f"{os.getpid()}-{secrets.token_hex(4)}-"
_STRAGGLER_DELAY = 0.05  # after the main process exits, before hunting escaped processes
_DRAIN_LIMIT = 5.0  # after the main process exits, before giving up on open streams


class Child(Protocol):
    """A started process as `subprocess.Popen` shows it (and `Spawned`)."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class Spawned:
    """A child started by `spawn_here`, with Popen's pid, poll and wait."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            found, status = os.waitpid(self.pid, os.WNOHANG)
            if found:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def spawn_here(
    argv: list[str],
    *,
    cwd: str,
    env: dict[str, str],
    stdin: int,
    stdout: int,
    stderr: int,
    keep: tuple[int, ...] = (),
    hold: bool = False,
) -> Spawned:
    """Start `argv` in a new session with posix_spawn: one C call, where Popen runs a
    page of Python; the child changes to `cwd` itself and inherits this thread's
    namespaces. `stdin` -1 is /dev/null. Python's own descriptors are not inheritable,
    so only stdin, stdout, stderr and the descriptors in `keep` (same numbers) reach
    the child. Where the C library cannot change a child's directory (glibc before
    2.29), only on a thread with a working directory of its own (a namespace thread, or
    in `_linux.with_own_fs`), which changes to `cwd` itself."""
    program = argv[0]
    if "/" not in program:  # Popen's search: the child's PATH, from inside the sandbox
        found = shutil.which(program, path=env.get("PATH", os.defpath))
        if found is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
        program = found
    if _posix_spawn.available():
        pid = _posix_spawn.spawn(
            program,
            argv,
            env,
            cwd=cwd,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            keep=keep,
            hold=hold,  # (the interpreter lock: see MountNamespace.spawn)
        )
        return Spawned(pid)
    os.chdir(cwd)
    actions: list[tuple[Any, ...]] = [
        (os.POSIX_SPAWN_DUP2, stdin, 0)
        if stdin >= 0
        else (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, stdout, 1),
        (os.POSIX_SPAWN_DUP2, stderr, 2),
        # dup2 onto itself clears close-on-exec (POSIX 2024; glibc and musl do so).
        *((os.POSIX_SPAWN_DUP2, fd, fd) for fd in keep),
    ]
    pid = os.posix_spawn(
        program, argv, env, file_actions=actions, setsid=True, setsigdef=_posix_spawn.RESTORED
    )
    return Spawned(pid)


class Pump:
    """The I/O, reaping and timer thread shared by all processes."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._inbox: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._thread = threading.Thread(target=self._run, name="jupyter-argo-pump", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the pump thread."""
        with self._lock:
            self._inbox.append(fn)
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"\0")

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run `fn` on the pump thread after `delay` seconds."""
        due = time.monotonic() + delay
        if threading.current_thread() is self._thread:  # no wake-up needed: it is awake
            heapq.heappush(self._timers, (due, next(self._sequence), fn))
            return
        self.submit(lambda: heapq.heappush(self._timers, (due, next(self._sequence), fn)))

    def watch(self, fd: int, callback: Callable[[], None]) -> None:
        """(Pump thread) call `callback` whenever `fd` is readable."""
        self._selector.register(fd, selectors.EVENT_READ, callback)

    def unwatch(self, fd: int) -> None:
        """(Pump thread)"""
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(fd)

    def _run(self) -> None:
        while True:
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            for key, _ in self._selector.select(timeout):
                if key.data is None:
                    self._drain_inbox()
                else:
                    _guarded(key.data)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _guarded(heapq.heappop(self._timers)[2])

    def _drain_inbox(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        with self._lock:
            jobs, self._inbox = self._inbox, []
        for job in jobs:
            _guarded(job)


def _guarded(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:
        log.exception("jupyter-argo pump: a callback failed")


_pump: Pump | None = None
_pump_lock = threading.Lock()


def pump() -> Pump:
    global _pump
    with _pump_lock:
        if _pump is None or not _pump._thread.is_alive():
            _pump = Pump()
        return _pump


class Tree:
    """How to signal a process tree; the default is its process group."""

    pid_namespace = False

    def __init__(self, popen: Child, token: str | None = None) -> None:
        self.popen = popen
        self.token = token
        self.emulated: int | None = None

    def init_pid(self) -> int | None:
        """Host PID of the tree's PID 1 (PID-namespace trees only)."""
        return None

    def signal(self, sig: int) -> None:
        group = self.popen.pid
        _signal_group(group, sig)
        if self.token:
            for pid in tagged(self.token):
                if _group_of(pid) != group:  # the group already has it; twice may be fatal
                    _signal_pid(pid, sig)

    def after_exit(self, process: Process) -> None:
        """The main process has exited: end what is left, like a container runtime."""
        _signal_group(self.popen.pid, signal.SIGKILL)
        if process._streams and self.token:  # else no process can be holding them
            pump().later(_STRAGGLER_DELAY, lambda: process._hunt(self))


class NamespaceTree(Tree):
    """The command is PID 1 of its own PID namespace."""

    pid_namespace = True

    def init_pid(self) -> int | None:
        # A sandbox maker's container is reaped by the maker, not by this process: once
        # it has been, its PID may name another process (`MakerChild.running`).
        running = getattr(self.popen, "running", None)
        if running is not None and not running():
            return None
        pid = self.popen.pid
        return pid if pid > 0 else None

    def signal(self, sig: int) -> None:
        init = self.init_pid()
        if init is None:
            return
        # Look before signalling: a handler may restore the default action on its way out.
        emulate = sig != signal.SIGKILL and _default_action(init, sig)
        _signal_group(init, sig)
        if sig == signal.SIGKILL or emulate:
            if emulate:
                self.emulated = 128 + sig
            _signal_pid(init, signal.SIGKILL)

    def after_exit(self, process: Process) -> None:
        pass  # the kernel has already killed the rest of the namespace


class BwrapTree(NamespaceTree):
    """bwrap's child is PID 1 of the sandbox; bwrap reports its host PID on `info_fd`."""

    def __init__(self, popen: Child, info_fd: int) -> None:
        super().__init__(popen)
        self._info_fd = info_fd
        self._init: int | None = None

    def init_pid(self) -> int | None:
        if self._init is None and self._info_fd >= 0:
            self._init = _read_child_pid(self._info_fd)
            os.close(self._info_fd)
            self._info_fd = -1
        return self._init

    def close(self) -> None:
        if self._info_fd >= 0:
            os.close(self._info_fd)
            self._info_fd = -1


def _read_child_pid(fd: int, limit: float = 2.0) -> int | None:
    data = b""
    deadline = time.monotonic() + limit
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    try:
        while time.monotonic() < deadline:
            if not selector.select(max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
            with contextlib.suppress(ValueError):
                pid = json.loads(data).get("child-pid")
                return pid if isinstance(pid, int) else None
    finally:
        selector.close()
    return None


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_pid(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _default_action(pid: int, sig: int) -> bool:
    """True when `pid` neither catches nor ignores `sig` (so, as PID 1, it would ignore it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    masks = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("SigIgn", "SigCgt"):
            masks[key] = int(value.strip(), 16)
    bit = 1 << (sig - 1)
    return len(masks) == 2 and not (masks["SigIgn"] | masks["SigCgt"]) & bit


def tagged(token: str) -> list[int]:
    """PIDs of the processes whose environment carries our marker for `token`."""
    marker = f"{TREE_ENV}={token}".encode()
    found: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    own = os.getpid()
    for name in entries:
        if not name.isdigit() or int(name) == own:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(name))
    return found


class OutputFile:
    """A file a process's output goes to, created (with its directory) on the first write:
    most steps print nothing, and creating a file costs more than starting one."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._fd = -1
        self.created = False  # made by a write (the file left behind is this one's)
        # The first write that failed (a full disk): the rest of the output is dropped,
        # and the engine ends the node with it, instead of a warning per chunk.
        self.error: OSError | None = None

    def write(self, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            if self._fd < 0:
                self._fd = self._open()
                self.created = True
            _write_all(self._fd, data)
        except OSError as exc:
            self.error = exc
            log.debug("cannot write process output to %s: %s", self.path, exc)
            self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        try:
            return os.open(self.path, flags, 0o644)
        except FileNotFoundError:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, flags, 0o644)


class Process:
    """One running container: its main process and every process it starts.

    Its stdout goes to `stdout`, stdout and stderr interleaved to `log`; a stream that
    stays silent leaves its file absent.
    """

    def __init__(
        self,
        popen: Child,
        tree: Tree,
        *,
        stdout: OutputFile,
        log: OutputFile,
        out_r: int,
        err_r: int,
    ) -> None:
        self.pid = popen.pid
        self._popen = popen
        self._tree = tree
        self._stdout = stdout
        self._log = log
        self._streams = {out_r: True, err_r: False}  # fd -> is stdout
        self._exited = False
        self._code: int | None = None
        self._done = threading.Event()
        self._callbacks: list[Callable[[Process], None]] = []
        self._lock = threading.Lock()
        self._pump = pump()
        _live.add(self)
        self._pump.submit(self._attach)

    @classmethod
    def failed(cls, code: int, message: str, *, log_path: Path | str) -> Process:
        """A process that could not start, reported like a shell: 126 or 127 and a message."""
        log = OutputFile(log_path)
        log.write(message.encode() + b"\n")
        log.close()
        process = cls.__new__(cls)
        process._stdout = OutputFile(Path(log_path).with_suffix(".stdout"))
        process._log = log
        process.pid = 0
        process._code = code
        process._exited = True
        process._done = threading.Event()
        process._done.set()
        process._callbacks = []
        process._lock = threading.Lock()
        return process

    def __repr__(self) -> str:
        state = "running" if self._code is None else f"exit {self._code}"
        return f"<Process pid={self.pid} {state}>"

    # Public API

    @property
    def output_error(self) -> OSError | None:
        """Why some of its output could not be stored (e.g. a full disk), or None."""
        return self._stdout.error or self._log.error

    @property
    def printed(self) -> bool:
        """Whether it wrote to stdout: else its stdout file was never made."""
        return self._stdout.created

    def poll(self) -> int | None:
        """The exit code once the process tree is done and its output written, else None."""
        return self._code if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for `poll()` to have a value; None when `timeout` passes first."""
        self._done.wait(timeout)
        return self.poll()

    def terminate(self, grace: float = 10.0) -> None:
        """SIGTERM the whole tree now, SIGKILL it after `grace` seconds. Returns at once."""
        if self._exited:
            return
        self._tree.signal(signal.SIGTERM)
        self._pump.later(grace, self._kill_if_running)

    def kill(self) -> None:
        """SIGKILL the whole tree now."""
        if not self._exited:
            self._tree.signal(signal.SIGKILL)

    def add_done_callback(self, fn: Callable[[Process], None]) -> None:
        """Call `fn(process)` once done (on the pump thread, or now if already done)."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(fn)
                return
        fn(self)

    # Pump thread

    def _attach(self) -> None:
        for fd in self._streams:
            self._pump.watch(fd, lambda fd=fd: self._read(fd))  # type: ignore[misc]
        reported = getattr(self._popen, "when_done", None)
        if reported is not None:  # reaped by the bwrap mode's sandbox maker, which says when
            reported(self._on_exit)
            return
        pidfd = _pidfd(self._popen.pid)
        if pidfd is not None:
            # Off the engine's path; until it arrives the watchdog (started before the
            # first step) still finds remap and none steps by their marker.
            _watch(self._popen.pid, pidfd, group=not self._tree.pid_namespace)
        if pidfd is None:
            threading.Thread(target=self._wait_blocking, daemon=True).start()
        else:
            self._pump.watch(pidfd, lambda: self._on_pidfd(pidfd))

    def _wait_blocking(self) -> None:
        self._popen.wait()
        self._pump.submit(self._on_exit)

    def _on_pidfd(self, pidfd: int) -> None:
        self._pump.unwatch(pidfd)
        os.close(pidfd)
        self._on_exit()

    def _on_exit(self) -> None:
        code = self._popen.poll()
        if code is None:  # not reaped yet: should not happen after a pidfd wake-up
            self._pump.later(0.01, self._on_exit)
            return
        self._exited = True
        code = 128 - code if code < 0 else code
        failure = getattr(self._popen, "failure", "")
        if failure:  # it did not end by itself (the bwrap sandbox maker stopped)
            self._log.write(f"jupyter-argo: {failure}\n".encode())
        if self._tree.emulated is not None and code == 128 + signal.SIGKILL:
            code = self._tree.emulated
        self._code = code
        if isinstance(self._tree, BwrapTree):
            self._tree.close()
        self._tree.after_exit(self)
        if self._streams:  # (most often both are closed already)
            self._pump.later(_DRAIN_LIMIT, self._give_up_streams)
        self._maybe_finish()

    def _read(self, fd: int) -> None:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_stream(fd)
            return
        if self._streams[fd]:
            self._stdout.write(data)
        self._log.write(data)

    def _close_stream(self, fd: int) -> None:
        self._pump.unwatch(fd)
        os.close(fd)
        del self._streams[fd]
        self._maybe_finish()

    def _hunt(self, tree: Tree) -> None:
        """Kill processes that escaped the group while still holding our streams."""
        if self._streams and tree.token:
            for pid in tagged(tree.token):
                _signal_pid(pid, signal.SIGKILL)

    def _give_up_streams(self) -> None:
        for fd in list(self._streams):
            log.warning("process %s: a leftover process still holds its output open", self.pid)
            self._close_stream(fd)

    def _kill_if_running(self) -> None:
        if not self._exited:
            self.kill()

    def _maybe_finish(self) -> None:
        if not self._exited or self._streams or self._done.is_set():
            return
        self._stdout.close()
        self._log.close()
        with self._lock:
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        _live.discard(self)
        for fn in callbacks:
            _guarded(lambda fn=fn: fn(self))  # type: ignore[misc]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _watch(pid: int, pidfd: int, *, group: bool) -> None:
    """Hand the container to the watchdog, which ends it should this process die."""
    from jupyter_argo.executors import _watchdog

    _watchdog.watch(pid, pidfd, group=group, marker=TOKEN_PREFIX)


def _pidfd(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:
        return None
    return fd


_live: weakref.WeakSet[Process] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    # Nothing outlives its node, not even when the notebook kernel exits.
    for process in list(_live):
        process.kill()
