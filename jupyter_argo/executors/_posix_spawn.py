"""posix_spawn through the C library, with the interpreter lock released while it runs.

`os.posix_spawn` keeps the GIL for the whole call, and the call lasts until the child
has exec'd (the C library starts it with vfork semantics): about 0.2-1 ms in which no
other thread of the engine can run any Python. Called through ctypes the lock is
released, so the output pump, the namespace worker and the clean-up thread run while a
child starts, instead of after it. The child also changes to its working directory
itself (posix_spawn_file_actions_addchdir_np, glibc 2.29 and musl 1.1.24 on), so the
spawning thread keeps its own.

Only the spawn call itself releases the lock; building its arguments (file actions,
argument and environment arrays) are short calls made with it held (PyDLL), since
each release is a chance for another thread to take the lock for a switch interval.
"""

from __future__ import annotations

import ctypes
import os
import signal
from typing import Any

# The same values in glibc and musl (spawn.h).
_SETSIGDEF = 0x04
_SETSID = 0x80

_FILE_ACTIONS_SIZE = 256  # sizeof(posix_spawn_file_actions_t): 80 in glibc, 40 in musl
_ATTR_SIZE = 1024  # sizeof(posix_spawnattr_t): 336 in glibc
_SIGSET_SIZE = 128

# Popen's restore_signals: what Python ignores, a child gets back at its default.
RESTORED = tuple(getattr(signal, n) for n in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, n))


class _Lib:
    def __init__(self) -> None:
        free = ctypes.CDLL(None, use_errno=True)  # calls release the GIL
        held = ctypes.PyDLL(None, use_errno=True)  # calls keep it
        p = ctypes.c_void_p
        self.spawn = free.posix_spawn
        self.spawn.argtypes = [
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_char_p,
            p,
            p,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.POINTER(ctypes.c_char_p),
        ]
        self.spawn.restype = ctypes.c_int
        # The same, holding the interpreter lock: nothing else of this process runs
        # between the child's exec and the caller's next step (its own /proc).
        self.spawn_held = held.posix_spawn
        self.spawn_held.argtypes = self.spawn.argtypes
        self.spawn_held.restype = ctypes.c_int
        self.init = held.posix_spawn_file_actions_init
        self.init.argtypes = [p]
        self.destroy = held.posix_spawn_file_actions_destroy
        self.destroy.argtypes = [p]
        self.dup2 = held.posix_spawn_file_actions_adddup2
        self.dup2.argtypes = [p, ctypes.c_int, ctypes.c_int]
        self.open = held.posix_spawn_file_actions_addopen
        self.open.argtypes = [p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint]
        self.chdir = held.posix_spawn_file_actions_addchdir_np  # AttributeError: too old
        self.chdir.argtypes = [p, ctypes.c_char_p]
        for function in (self.init, self.destroy, self.dup2, self.open, self.chdir):
            function.restype = ctypes.c_int
        # One set of attributes serves every spawn (posix_spawn only reads it).
        self.attr = ctypes.create_string_buffer(_ATTR_SIZE)
        sigset = ctypes.create_string_buffer(_SIGSET_SIZE)
        _check(held.posix_spawnattr_init(self.attr), "posix_spawnattr_init")
        _check(held.sigemptyset(sigset) and -1, "sigemptyset")
        for sig in RESTORED:
            _check(held.sigaddset(sigset, sig) and -1, "sigaddset")
        _check(held.posix_spawnattr_setsigdefault(self.attr, sigset), "setsigdefault")
        flags = ctypes.c_short(_SETSIGDEF | _SETSID)
        _check(held.posix_spawnattr_setflags(self.attr, flags), "setflags")


def _check(result: int, what: str) -> None:
    if result:
        code = result if result > 0 else ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


_lib: _Lib | None = None
_unavailable = False


def available() -> bool:
    """posix_spawn with a working-directory action can be called here."""
    global _lib, _unavailable
    if _lib is None and not _unavailable:
        try:
            _lib = _Lib()
        except (OSError, AttributeError):
            _unavailable = True
    return _lib is not None


def spawn(
    program: str,
    argv: list[str],
    env: dict[str, str],
    *,
    cwd: str,
    stdin: int,
    stdout: int,
    stderr: int,
    keep: tuple[int, ...] = (),
    hold: bool = False,
) -> int:
    """Start `program` (a path) in a new session with `argv`, `env` and working directory
    `cwd`, fds 0-2 from `stdin` (-1: /dev/null), `stdout` and `stderr`, the fds in `keep`
    passed on under their numbers; its pid. OSError as exec would fail (FileNotFoundError
    for a missing program or working directory). Needs `available()`. With `hold`, the
    interpreter lock is kept while the child starts."""
    lib = _lib
    if lib is None:
        raise OSError("posix_spawn is not available here")
    actions = ctypes.create_string_buffer(_FILE_ACTIONS_SIZE)
    _check(lib.init(actions), "posix_spawn_file_actions_init")
    try:
        if stdin >= 0:
            _check(lib.dup2(actions, stdin, 0), "adddup2")
        else:
            _check(lib.open(actions, 0, os.devnull.encode(), os.O_RDONLY, 0), "addopen")
        _check(lib.dup2(actions, stdout, 1), "adddup2")
        _check(lib.dup2(actions, stderr, 2), "adddup2")
        for fd in keep:  # dup2 onto itself clears close-on-exec (glibc, musl)
            _check(lib.dup2(actions, fd, fd), "adddup2")
        _check(lib.chdir(actions, os.fsencode(cwd)), "addchdir")
        args = _strings([os.fsencode(a) for a in argv])
        environ = _strings([os.fsencode(f"{k}={v}") for k, v in env.items()])
        pid = ctypes.c_int()
        call = lib.spawn_held if hold else lib.spawn
        code = call(ctypes.byref(pid), os.fsencode(program), actions, lib.attr, args, environ)
    finally:
        lib.destroy(actions)
    if code:
        raise OSError(code, os.strerror(code), program)
    return pid.value


def _strings(items: list[bytes]) -> Any:
    return (ctypes.c_char_p * (len(items) + 1))(*items, None)
