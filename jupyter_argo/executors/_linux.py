"""Linux namespaces without a wrapper process.

A process inherits its mount and PID namespaces from the thread that forks it, and
`unshare`/`setns` act on the calling thread only. So one dedicated thread (`Worker`)
steps into a node's mount namespace, asks for a fresh PID namespace for its next
child, spawns the child (posix_spawn: vfork and exec, no pre-exec Python), and steps
back. No helper process, no Python in the child.

A thread that does nothing else (the engine's event loop) can `dedicate_thread()`
itself and run those calls in place: a hand-off to the worker costs about 0.1 ms each
way, the same order as the namespace work itself.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import errno
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

CLONE_FS = 0x00000200
CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SLAVE = 1 << 19

AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
_SYS_MOUNT_SETATTR = 442  # the same number on every architecture (since Linux 5.12)

PR_GET_SECUREBITS = 27
PR_SET_SECUREBITS = 28
SECBIT_NOROOT = 1 << 0  # uid 0 gains no capabilities at execve

T = TypeVar("T")
log = logging.getLogger(__name__)

_BLANKS = 4  # blank mount namespaces kept ready
_BUSY_TRIES = 100  # mount_setattr tries while the mount has a writer (1 ms apart)
_BLANK_AGE = 5.0  # seconds: an older one may lack host mounts made since (if not shared)

_libc: Any = None


def _lib() -> Any:
    global _libc
    if _libc is None:
        # The C library this interpreter already links (dlopen(NULL)): the same functions
        # as find_library("c") finds, without the `ldconfig -p` it runs (a process spawn,
        # 3-10 ms, at every engine start).
        lib = ctypes.CDLL(None, use_errno=True)
        lib.mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        lib.unshare.argtypes = [ctypes.c_int]
        lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        lib.prctl.restype = ctypes.c_int
        lib.syscall.restype = ctypes.c_long
        lib.setns.argtypes = [ctypes.c_int, ctypes.c_int]
        _libc = lib
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    _check(_lib().unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_lib().setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _lib().mount(
            source.encode() if source is not None else None,
            target.encode(),
            fstype.encode() if fstype is not None else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def bind(source: str, target: str) -> None:
    mount(source, target, None, MS_BIND | MS_REC)


def tmpfs(target: str, mode: int = 0o755) -> None:
    """An empty, private, writable directory over `target`."""
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode:o}")


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def set_read_only(path: str, *, read_only: bool = True, recursive: bool = False) -> None:
    """Make the mount at `path` (and with `recursive` every mount below it) read-only or
    writable again. Only this namespace's copy changes: mount flags do not propagate."""
    attr = _MountAttr(
        MOUNT_ATTR_RDONLY if read_only else 0, 0 if read_only else MOUNT_ATTR_RDONLY, 0, 0
    )
    flags = AT_RECURSIVE if recursive else 0
    for _ in range(_BUSY_TRIES):
        result = _lib().syscall(
            _SYS_MOUNT_SETATTR,
            ctypes.c_int(-100),  # AT_FDCWD
            path.encode(),
            ctypes.c_uint(flags),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        )
        # EBUSY: a file is open for writing on it; a vfork child of another thread may
        # hold one for the instant before it execs.
        if result == 0 or not read_only or ctypes.get_errno() != errno.EBUSY:
            break
        time.sleep(0.001)
    _check(0 if result == 0 else -1, f"mount_setattr {path}")


def securebits() -> int:
    """This thread's securebits."""
    bits = int(_lib().prctl(PR_GET_SECUREBITS, 0, 0, 0))
    _check(0 if bits >= 0 else -1, "prctl(PR_GET_SECUREBITS)")
    return bits


def set_securebits(bits: int) -> None:
    """Set this thread's securebits (credentials are per thread: other threads keep theirs)."""
    _check(_lib().prctl(PR_SET_SECUREBITS, bits, 0, 0), "prctl(PR_SET_SECUREBITS)")


def without_root(start: Callable[[], T]) -> T:
    """`start()` (which spawns a process) with SECBIT_NOROOT on this thread: as uid 0 the
    process gains no capabilities at execve. A thread that starts processes and nothing
    else (`keep_noroot`) keeps the bit between starts: a credentials change is one of the
    dearer calls of a start."""
    kept = getattr(_dedicated, "noroot", None)
    if kept is None:
        bits = securebits()
        set_securebits(bits | SECBIT_NOROOT)
        try:
            return start()
        finally:
            set_securebits(bits)
    if not kept:
        set_securebits(securebits() | SECBIT_NOROOT)
        _dedicated.noroot = True
    return start()


def with_root() -> None:
    """Before a start outside a sandbox on a `keep_noroot` thread: root keeps its
    capabilities at execve again."""
    if getattr(_dedicated, "noroot", False):
        set_securebits(securebits() & ~SECBIT_NOROOT)
        _dedicated.noroot = False


def keep_noroot() -> None:
    """Let this thread (one that only starts processes) keep SECBIT_NOROOT between
    `without_root` starts; `with_root` clears it for a start that must not have it."""
    _dedicated.noroot = bool(securebits() & SECBIT_NOROOT)  # (a sandbox maker's has it)


def fd_path(fd: int) -> str:
    """A path naming what `fd` refers to, even where that thing has no path (mounted over)."""
    return f"/proc/self/fd/{fd}"


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0


class _Call:
    __slots__ = ("done", "error", "fn", "result")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class Worker:
    """A thread that owns namespace juggling: every call runs there, one at a time.

    Calls may `enter` a mount namespace and `new_pid_namespace`; the worker always
    returns to the original namespaces after each call, so a failed call cannot leak
    a namespace into the next one.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._home_mnt = -1
        self._home_pid = -1
        self.proc_fd = -1  # the host's /proc, to name a child's namespaces from anywhere
        self._blanks: collections.deque[tuple[float, int]] = collections.deque()
        self._blank_lock = threading.Lock()
        self._blanks_coming = 0
        self._asked = 0  # mount namespaces asked for (blanks are made from the second on)
        self._thread = threading.Thread(target=self._run, name="jupyter-argo-ns", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def call(self, fn: Callable[[], T]) -> T:
        if getattr(_dedicated, "yes", False):
            return self._call_here(fn)
        if not self._thread.is_alive():
            raise OSError("the namespace worker has stopped")
        job = _Call(fn)
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def background(self, fn: Callable[[], object]) -> None:
        """Run `fn` on the worker thread when it is free; nobody waits for it (errors are
        logged), and the thread returns to the original namespaces afterwards."""

        def logged() -> None:
            try:
                fn()
            except Exception:
                log.exception("jupyter-argo: namespace work in the background failed")

        self._queue.put(_Call(logged))

    def enter(self, mnt_fd: int) -> None:
        """In a call: move this thread into the mount namespace `mnt_fd` (root and cwd reset)."""
        setns(mnt_fd, CLONE_NEWNS)

    def new_mount_namespace(self) -> int:
        """In a call: move into a copy of the original mount namespace; return its fd."""
        self._asked += 1
        fd = self._take_blank()
        if fd < 0:
            return self._unshare_mount_namespace()
        try:
            setns(fd, CLONE_NEWNS)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def probe(self) -> None:
        """In a call: make what a sandbox needs once (a mount namespace, then a PID
        namespace for the next child); OSError where this process cannot. Neither taken
        from the blanks nor counted as a sandbox's."""
        os.close(self._unshare_mount_namespace())
        self.new_pid_namespace()

    def _unshare_mount_namespace(self) -> int:
        unshare(CLONE_NEWNS)
        # Mounts made here must never reach the host, while host mounts may still flow in.
        mount(None, "/", None, MS_REC | MS_SLAVE)
        return os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)

    # Blank namespaces: creating one is about 0.2 ms of kernel time, spent here ahead of
    # need (while the caller waits on a process) rather than on the way to a start. Only
    # from the second namespace asked for: a process that builds one sandbox (a one-step
    # run) makes none it would never use, nor tears them down at its exit.

    def _take_blank(self) -> int:
        while True:
            try:
                made, fd = self._blanks.popleft()
            except IndexError:
                return -1
            if time.monotonic() - made < _BLANK_AGE:
                return fd
            # Tearing a namespace down takes a while: the worker does it.
            self.background(lambda fd=fd: os.close(fd))  # type: ignore[misc]

    def _refill(self) -> None:
        if self._asked < 2:
            return
        with self._blank_lock:
            wanted = _BLANKS - len(self._blanks) - self._blanks_coming
            self._blanks_coming += max(0, wanted)
        for _ in range(wanted):
            self.background(self._make_blank)

    def _make_blank(self) -> None:
        """(Worker thread) one more blank namespace; the loop returns home afterwards."""
        try:
            fd = self._unshare_mount_namespace()
        finally:
            with self._blank_lock:
                self._blanks_coming -= 1
        self._blanks.append((time.monotonic(), fd))

    def new_pid_namespace(self) -> None:
        """In a call: the next child this thread forks is PID 1 of a new PID namespace."""
        unshare(CLONE_NEWPID)

    def _run(self) -> None:
        try:
            # A private fs_struct (root, cwd) is a prerequisite of setns(CLONE_NEWNS).
            unshare(CLONE_FS)
            self._home_mnt = os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
            self._home_pid = os.open("/proc/thread-self/ns/pid_for_children", os.O_RDONLY)
            os.set_inheritable(self._home_pid, False)
            self.proc_fd = os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except BaseException as exc:  # reported to the creator
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job.result = job.fn()
                self._refill()  # queued behind the calls already waiting
            except BaseException as exc:  # handed to the caller
                job.error = exc
            try:
                self._go_home()
            except BaseException as exc:
                # Should never happen; if it does this thread is unusable.
                job.error = job.error or exc
                job.done.set()
                return
            job.done.set()

    def _go_home(self) -> None:
        setns(self._home_pid, CLONE_NEWPID)
        setns(self._home_mnt, CLONE_NEWNS)

    def _call_here(self, fn: Callable[[], T]) -> T:
        """Run `fn` on this (dedicated) thread, then return it to the original namespaces."""
        # Threads started from this one share its root and working directory, which
        # setns(CLONE_NEWNS) refuses and chroot would move for them too: copy them first.
        unshare(CLONE_FS)
        try:
            return fn()
        finally:
            try:
                self._go_home()
            except OSError as exc:  # should never happen: stop rather than fork in a sandbox
                _dedicated.yes = False
                raise OSError(exc.errno, f"cannot leave a sandbox's namespaces: {exc}") from exc
            # setns reset this thread's working directory to "/": take the process's again
            # (a thread that uses absolute paths only need not: a path walk through /proc).
            if getattr(_dedicated, "follow_cwd", True):
                with contextlib.suppress(OSError):
                    os.chdir(f"/proc/{os.getpid()}/cwd")  # the main thread's, shared by the rest
            # Only now (the fork is done) wake the worker to make up for what was used.
            self._refill()


_worker: Worker | None = None
_worker_lock = threading.Lock()
_dedicated = threading.local()
_own_fs = threading.local()


def own_fs() -> bool:
    """Give the calling thread a root, working directory and umask of its own (unshare
    CLONE_FS, which needs no privilege), so that it may chdir to start a process without
    moving the rest of the process. False where that cannot be done (not Linux)."""
    if getattr(_own_fs, "yes", False):
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        unshare(CLONE_FS)
    except (OSError, AttributeError):
        return False
    _own_fs.yes = True
    return True


def with_own_fs(fn: Callable[[], T]) -> T:
    """Run `fn`, which may chdir, where that moves nobody else: here when this thread has
    its own working directory (a dedicated thread), else on a thread that has one. This
    thread takes the process's working directory again afterwards."""
    if not getattr(_own_fs, "yes", False):
        return _fs_thread().call(fn)
    # Threads started from this one share its working directory: copy it again first
    # (nothing to copy, and next to no cost, when none was started).
    unshare(CLONE_FS)
    try:
        return fn()
    finally:
        with contextlib.suppress(OSError):
            os.chdir(f"/proc/{os.getpid()}/cwd")  # the main thread's, shared by the rest


class _FsThread:
    """A thread with its own working directory, for callers without one."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="jupyter-argo-cwd", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[[], T]) -> T:
        job = _Call(fn)
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def _run(self) -> None:
        ready = own_fs()
        while True:
            job = self._queue.get()
            try:
                if not ready:
                    raise OSError("cannot give a thread a working directory of its own here")
                job.result = job.fn()
            except BaseException as exc:  # handed to the caller
                job.error = exc
            job.done.set()


_fs: _FsThread | None = None


def _fs_thread() -> _FsThread:
    global _fs
    with _worker_lock:
        if _fs is None or not _fs._thread.is_alive():
            _fs = _FsThread()
        return _fs


def worker() -> Worker:
    """The process-wide namespace worker, started on first use."""
    global _worker
    with _worker_lock:
        if _worker is None or not _worker._thread.is_alive():
            _worker = Worker()
        return _worker


def dedicate_thread(*, follow_cwd: bool = True) -> bool:
    """Let the calling thread make namespace calls itself instead of handing them over.

    For a thread whose work uses absolute paths only: setns needs a thread with its own
    root, working directory and umask, so this thread (and threads it starts) stop
    following os.chdir and os.umask made elsewhere; it takes the process's working
    directory again after each namespace call. Where namespaces are unavailable it returns
    False, and the thread only gets a working directory of its own (`own_fs`), to start
    processes in place. With `follow_cwd` false it does not take the process's working
    directory again (a thread that starts processes and nothing else).
    """
    _dedicated.follow_cwd = follow_cwd
    if getattr(_dedicated, "yes", False):
        return True
    if not supported():
        own_fs()  # it still starts processes in place (`with_own_fs`)
        return False
    worker()  # it opens the original namespaces that calls return to
    own_fs()
    _dedicated.yes = True
    return True
