"""The namespace mode: one private mount namespace per sandbox, one PID namespace per container.

The mount namespace is built once (when the sandbox is prepared) by the namespace
worker and kept alive by a file descriptor; each container's process is forked from
inside it. Host directories are named through file descriptors opened before any
mount (/proc/self/fd/N/...), so a mount never lands on, or reads from, a path that an
earlier mount of the same sandbox covers (the private /tmp covers a node directory
under /tmp, an overlay on /work covers one under /work).

A node that needs new top-level entries (/src, /result.txt) gets its own root: an
overlay of the host's root directory with base/fs as its upper layer, so new entries
land in base/fs, with every host top-level directory mounted back on top (no overlay
cost below the root) and /tmp replaced by the private one.

Confinement, before any layer is mounted: the node directory becomes a mount of its
own (it stays writable), then every host mount turns read-only in this namespace
(mount_setattr, recursive; the host's mounts keep their flags), /dev/shm and the
hidden directories (home, checkout, data directory, /run) get empty private tmpfs
mounts, and the runtimes under them are mounted back read-only. The container's
process starts with SECBIT_NOROOT on the spawning thread: as uid 0 it gains no
capabilities at execve, so it can neither unmount nor remount nor chroot its way out.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

from jupyter_argo.errors import BackendError, UnsupportedError
from jupyter_argo.executors import _linux
from jupyter_argo.executors._layout import TMP, Confinement, Layer, Layout, is_under
from jupyter_argo.executors._process import Child

_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_proc_unsupported = False
log = logging.getLogger(__name__)
_ANY = os.O_PATH | os.O_CLOEXEC


# What a container runtime puts in a pod's /dev (runc's default devices), and no more:
# no disks, consoles, kernel log or virtual terminals of the host.
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_DEV_LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
)


def _own_dev() -> None:
    """A pod's /dev over the host's: a tmpfs with the usual devices bound in (the caller
    makes it read-only: in the template it is every sandbox's)."""
    nodes = {}
    for name in _DEVICES:
        with contextlib.suppress(OSError):
            nodes[name] = os.open(f"/dev/{name}", _ANY)
    try:
        _linux.tmpfs("/dev", 0o755)
        for name, fd in nodes.items():
            _mount_point_file(f"/dev/{name}", 0o666)
            _linux.bind(_linux.fd_path(fd), f"/dev/{name}")
    finally:
        for fd in nodes.values():
            os.close(fd)
    for name, target in _DEV_LINKS:
        os.symlink(target, f"/dev/{name}")
    for name in ("shm", "pts"):
        os.mkdir(f"/dev/{name}", 0o755)


class MountNamespace:
    """The live mount namespace of one sandbox.

    With `lazy`, it is built on the way to its first process, in the same trip into
    the namespace (only for a layout that cannot fail to mount: /tmp and nothing else).
    """

    def __init__(self, layout: Layout, *, lazy: bool = False) -> None:
        self.layout = layout
        self._worker = _linux.worker()
        # Containers of one sandbox start on the spawning thread while the engine may add
        # paths to it (a sidecar's program): one of them at a time builds or mounts.
        self._lock = threading.RLock()
        self._closed = False  # by clean-up: no process starts in it any more
        self._mnt_fd = -1
        self._base_fd = -1  # the node directory, as the host sees it
        self._root_fd = -1  # the node's own root, when it has one
        self._mounted: list[Layer] = []
        self._overlays = 0
        self._sources: dict[str, int] = {}  # volume sources opened before the host was hidden
        self._kept: list[tuple[str, int]] = []  # runtimes to mount back over hidden places
        self._kept_later = False  # opened when first needed (in a copy of the template)
        self._empty_fd = -1
        if not lazy:
            self._worker.call(self._build_guarded)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self, *, final: bool = True) -> None:
        self._closed = final
        for fd in (self._mnt_fd, self._base_fd, self._root_fd, self._empty_fd):
            if fd >= 0:
                os.close(fd)
        self._mnt_fd = self._base_fd = self._root_fd = self._empty_fd = -1
        for fd in [*self._sources.values(), *(fd for _, fd in self._kept)]:
            os.close(fd)
        self._sources = {}
        self._kept = []

    def extend(self, layers: list[Layer]) -> None:
        """Mount layers added to the layout after the namespace was built."""
        with self._lock:
            self._extend(layers)

    def _extend(self, layers: list[Layer]) -> None:
        if self._mnt_fd < 0:
            self._worker.call(self._build_guarded)  # the new layers could fail to mount
            return
        gone = [layer for layer in self._mounted if layer not in self.layout.layers]
        if gone:
            raise UnsupportedError(
                f"cannot widen the private path {gone[0].container!r} of a running sandbox"
            )
        if layers:
            self._worker.call(lambda: self._enter_and_mount(layers))

    def spawn(self, start: Callable[[], Child]) -> Child:
        """Run `start` (which forks the container) inside the sandbox, in a new PID namespace."""

        def inside() -> Child:
            if self._mnt_fd < 0:
                self._build_guarded()  # leaves this thread inside it
            else:
                self._worker.enter(self._mnt_fd)
            if self._root_fd >= 0:
                os.fchdir(self._root_fd)
                os.chroot(".")
            self._worker.new_pid_namespace()
            # Its /proc is mounted right after it starts: a PID namespace's /proc cannot
            # be made before its first process exists, and meanwhile it sees the /proc
            # below (docs/isolation.md, a known gap). In the engine's own process `start`
            # keeps the interpreter lock while the child starts (`hold`): no other thread
            # runs Python in between, which halves how often a step sees the host's. (A
            # sandbox maker does not: its starts would take turns, 1.3 ms per step.)
            os.fchdir(self._worker.proc_fd)  # (where `_own_proc` names its namespace)
            child = _linux.without_root(start)
            self._own_proc(child.pid)
            return child

        with self._lock:
            if self._closed:
                raise BackendError("the sandbox was cleaned up before its process started")
            return self._worker.call(inside)

    def _own_proc(self, pid: int) -> None:
        """A /proc of the container's own PID namespace over the host's (Linux 6.15's
        procfs `pidns=`), read-only as /proc/sys is in a pod: `ps` shows the container's
        processes only. Mounted as soon as the child exists; a kernel without the option
        leaves the host's /proc, read-only."""
        global _proc_unsupported
        if _proc_unsupported:
            return
        # Named from the host's /proc, this thread's working directory (`spawn`).
        flags = _linux.MS_NOSUID | _linux.MS_NODEV | _linux.MS_NOEXEC | _linux.MS_RDONLY
        try:
            _linux.mount("proc", "/proc", "proc", flags, f"pidns={pid}/ns/pid")
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ESRCH):
                return  # the child has already exited: nothing to show it
            if exc.errno in (errno.EINVAL, errno.EPERM):
                _proc_unsupported = True
                log.info("the host's /proc stays visible in sandboxes: %s", exc)
                return
            raise

    def build_here(self) -> None:
        """Build it on this thread, which must be the namespace worker (in a call) and is
        left inside the namespace."""
        self._build_guarded()

    # Worker thread

    def _build_guarded(self) -> None:
        try:
            self._build()
        except BaseException:
            self._close(final=False)
            raise

    def _build(self) -> None:
        if self._from_template():
            self._mnt_fd, own = _copy_of_template(self._worker, self.layout.confinement)
            base = str(self.layout.base)
            _linux.bind(base, base)  # the copy's host is read-only: this one is not
            _linux.set_read_only(base, read_only=False)
            self._base_fd = os.open(base, _DIR)
            self._confine_own(own)
            self._kept_later = True
        else:
            self._mnt_fd = self._worker.new_mount_namespace()
            base = str(self.layout.base)
            # Its own mount, so that it stays writable when the rest turns read-only.
            _linux.bind(base, base)
            self._base_fd = os.open(base, _DIR)
            self._confine()
        self._mount(self.layout.layers, first=True)

    def _from_template(self) -> bool:
        """Whether a copy of the shared template sees all this sandbox mounts from: its
        directory and its volumes' sources on /dev/shm (the template shows the host's,
        read-only) or anywhere not hidden."""
        confinement = self.layout.confinement

        def visible(path: Path) -> bool:
            return is_under(str(path), "/dev/shm") or not confinement.is_hidden(str(path))

        sources = [layer.host for layer in self.layout.of_kind("shared")]
        return all(visible(path) for path in [self.layout.base, *sources])

    def _confine_own(self, own: _Own) -> None:
        """In a copy of the template: what each sandbox has to itself, a tmpfs of its own
        for /dev/shm and for the home, with the kept runtimes under them mounted back."""
        for layer in self.layout.of_kind("shared"):
            if not is_under(str(layer.host), str(self.layout.base)):
                self._sources[str(layer.host)] = os.open(layer.host, _DIR)
        shown = []
        try:
            for kept, made, is_dir in own.shown:
                with contextlib.suppress(OSError):  # gone since: nothing to show
                    shown.append((os.open(kept, _ANY), kept, made, is_dir))
            for place, mode in own.places:
                _linux.tmpfs(place, mode)
            for fd, kept, made, is_dir in shown:
                for directory in made:
                    os.mkdir(directory)
                if not is_dir:
                    _mount_point_file(kept, 0o644)
                _linux.bind(_linux.fd_path(fd), kept)
        finally:
            for fd, *_ in shown:
                os.close(fd)

    def _confine(self) -> None:
        """Read-only host, private /dev/shm, hidden home, checkout and data directory."""
        confinement = self.layout.confinement
        for layer in self.layout.of_kind("shared"):
            if not is_under(str(layer.host), str(self.layout.base)):
                self._sources[str(layer.host)] = os.open(layer.host, _DIR)
        for kept in confinement.kept:
            with contextlib.suppress(OSError):  # gone since: nothing to show
                self._kept.append((kept, os.open(kept, _ANY)))
        if confinement.empty:
            self._empty_fd = os.open(confinement.empty, _DIR)  # before /dev/shm is covered
        empty_file = os.open(confinement.empty_file, _ANY) if confinement.masked else -1
        _linux.set_read_only("/", recursive=True)
        _linux.set_read_only(_linux.fd_path(self._base_fd), read_only=False)
        if os.path.isdir("/dev"):
            _own_dev()
            _linux.set_read_only("/dev")  # as in a copy of the template
        if os.path.isdir("/dev/shm"):
            _linux.tmpfs("/dev/shm", 0o1777)
        for hidden in confinement.hidden:
            self._hide(hidden, hidden)
        if empty_file >= 0:
            try:
                for masked in confinement.masked:
                    with contextlib.suppress(FileNotFoundError):
                        _linux.bind(_linux.fd_path(empty_file), masked)
            finally:
                os.close(empty_file)
        self._show_kept("/")

    def _hide(self, hidden: str, target: str) -> None:
        """An empty directory over `target` (the hidden place `hidden`): a private tmpfs
        where the step may write or runtimes must be shown again, else the read-only empty
        directory (a bind costs less than a file system)."""
        if not os.path.isdir(hidden):
            return
        if hidden in self.layout.confinement.writable or self._empty_fd < 0:
            _linux.tmpfs(target, 0o700)
        else:
            _linux.bind(_linux.fd_path(self._empty_fd), target)  # read-only: cloned from ro

    def _show_kept(self, top: str, root: str = "") -> None:
        """Mount the kept runtimes that a hidden place (or /dev/shm) covers, below `top`."""
        confinement = self.layout.confinement
        if self._kept_later:  # a copy of the template shows them all where they belong
            self._kept_later = False
            for kept in confinement.kept:
                with contextlib.suppress(OSError):
                    self._kept.append((kept, os.open(kept, _ANY)))
        for kept, fd in self._kept:
            covered = confinement.is_hidden(kept) or is_under(kept, "/dev/shm")
            if not covered or not is_under(kept, top) or kept == top:
                continue
            _show(fd, root + kept)

    def _enter_and_mount(self, layers: list[Layer]) -> None:
        self._worker.enter(self._mnt_fd)
        self._mount(layers, first=False)

    def _host(self, path: Path) -> str:
        """`path` on the host, reachable even where this sandbox's mounts cover it."""
        source = self._sources.get(str(path))
        if source is not None:
            return _linux.fd_path(source)
        try:
            rest = path.relative_to(self.layout.base)
        except ValueError:
            return str(path)
        if rest == Path():
            return _linux.fd_path(self._base_fd)
        return f"{_linux.fd_path(self._base_fd)}/{rest}"

    def _mount(self, layers: list[Layer], *, first: bool) -> None:
        opened: list[int] = []

        def open_fd(path: Path | str, flags: int = _DIR) -> int:
            fd = os.open(path, flags)
            opened.append(fd)
            return fd

        try:
            tmp_fd = open_fd(self._host(self.layout.host_path(TMP)))
            if self.layout.needs_root and self._root_fd < 0:
                self._build_root()
            # Open every source first: later mounts may cover their paths.
            overlays = [
                self._overlay(layer, open_fd) for layer in layers if layer.kind == "overlay"
            ]
            shared = [
                (layer, open_fd(self._host(layer.host)))
                for layer in layers
                if layer.kind == "shared"
            ]
            for overlay in overlays:
                overlay()
                # Hidden places inside the overlaid directory stay hidden.
                lower = overlay.layer.container
                for hidden in self.layout.confinement.hidden:
                    if hidden != lower and is_under(hidden, lower):
                        self._hide(hidden, self._in_root(hidden))
                self._show_kept(overlay.layer.container, self._in_root(""))
                self._mounted.append(overlay.layer)
            for layer, source in shared:
                target = self._target(layer.container, tmp_fd)
                _linux.bind(_linux.fd_path(source), target)
                if layer.container not in self.layout.read_only:
                    _linux.set_read_only(target, read_only=False)  # a volume: writable
                self._mounted.append(layer)
            self._mounted.extend(layer for layer in layers if layer.kind in ("fresh", "tmp"))
            if first:
                # Last, and recursive: volumes under /tmp (a Python installed there) come along.
                _linux.bind(_linux.fd_path(tmp_fd), self._in_root(TMP))
        finally:
            for fd in opened:
                os.close(fd)

    def _target(self, container: str, tmp_fd: int) -> str:
        """Where to mount onto `container`, as seen from this (unchrooted) thread."""
        if is_under(container, TMP):
            return _linux.fd_path(tmp_fd) + container[len(TMP) :]
        return self._in_root(container)

    def _in_root(self, container: str) -> str:
        if self._root_fd >= 0:
            return _linux.fd_path(self._root_fd) + container
        return container

    def _build_root(self) -> None:
        base = self.layout.base
        work = base / "work" / "root"
        for directory in (base / "root", base / "work", work):
            with contextlib.suppress(FileExistsError):
                os.mkdir(self._host(directory))
        upper = os.open(self._host(self.layout.root), _DIR)
        workdir = os.open(self._host(work), _DIR)
        try:
            _linux.mount(
                "overlay",
                self._host(base / "root"),
                "overlay",
                0,
                f"lowerdir=/,upperdir={_linux.fd_path(upper)},workdir={_linux.fd_path(workdir)}"
                ",volatile",
            )
        finally:
            os.close(upper)
            os.close(workdir)
        root_fd = os.open(self._host(base / "root"), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for entry in os.scandir("/"):
                if entry.name != "tmp" and entry.is_dir(follow_symlinks=False):
                    _linux.bind(entry.path, f"{_linux.fd_path(root_fd)}/{entry.name}")
        except BaseException:
            os.close(root_fd)
            raise
        self._root_fd = root_fd

    def _overlay(self, layer: Layer, open_fd: Callable[[Path | str, int], int]) -> _Overlay:
        lower = layer.container
        if any(c in lower for c in ",:\\"):
            raise UnsupportedError(f"cannot make {lower!r} private: ',', ':' or '\\' in its path")
        work = self.layout.base / "work" / str(self._overlays)
        self._overlays += 1
        for directory in (work.parent, work):
            with contextlib.suppress(FileExistsError):
                os.mkdir(self._host(directory))
        hidden = self.layout.confinement.is_hidden
        if hidden(lower):  # the node adds to a place it cannot see: it starts empty
            os.makedirs(lower, exist_ok=True)
        submounts = [
            m for m in _mountpoints() if m != lower and is_under(m, lower) and not hidden(m)
        ]
        upper = _linux.fd_path(open_fd(self._host(layer.host), _DIR))
        workdir = _linux.fd_path(open_fd(self._host(work), _DIR))
        return _Overlay(
            layer=layer,
            target=self._in_root(lower),
            options=f"lowerdir={lower},upperdir={upper},workdir={workdir},volatile",
            submounts=[(open_fd(m, _ANY), self._in_root(m)) for m in submounts],
        )


class _Overlay:
    """One overlay mount, with the host's mounts inside its lower directory put back on top."""

    def __init__(
        self, layer: Layer, target: str, options: str, submounts: list[tuple[int, str]]
    ) -> None:
        self.layer = layer
        self.target = target
        self.options = options
        self.submounts = submounts

    def __call__(self) -> None:
        _linux.mount("overlay", self.target, "overlay", 0, self.options)
        for fd, where in self.submounts:
            _linux.bind(_linux.fd_path(fd), where)


def _mount_point_file(path: str, mode: int) -> None:
    """An empty file to mount a file on. Made with mknod, never opened: a file open for
    writing, even for an instant, is a writer on its mount, which a vfork child started
    meanwhile on another thread holds until it execs, and a mount with a writer cannot
    turn read-only (EBUSY) as the template's do."""
    os.mknod(path, stat.S_IFREG | mode)


def _show(fd: int, target: str) -> None:
    """Mount what `fd` names (a kept runtime) at `target`, making the mount point."""
    if os.path.isdir(_linux.fd_path(fd)):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            _mount_point_file(target, 0o644)
    _linux.bind(_linux.fd_path(fd), target)


# ---- the template ----------------------------------------------------------------------
#
# Most of a sandbox is the same for every sandbox of an executor: the host read-only, a
# pod's /dev, the hidden places, the masked secrets, the runtimes shown again. Building
# that takes some 25 mounts; a copy of a namespace where it is built already (unshare
# from inside it) takes one. So it is built once, as a template, and each sandbox is a
# copy of it plus what it has to itself: its directory, /tmp, /dev/shm and home.
#
# What is shared must be read-only: the template's /dev tmpfs and the hidden places'
# tmpfs mounts are one file system for every copy, so they turn read-only once built.
# The host's /dev/shm is shown, read-only, where the template's own /dev would cover
# it: node directories live there, and a copy binds its own before covering /dev/shm.

_TEMPLATE_AGE = 5.0  # seconds, as for blank namespaces: host mounts made since may be missing
_RETIRED_AGE = 30.0  # an older template is closed once no thread can still be entering it


class _Own:
    """What a copy of the template makes its own, worked out once per template: `places`,
    a tmpfs each (with its mode), and `shown`, the kept runtimes under them to mount back
    (with the directories to make for them, outermost first, and whether each is one)."""

    __slots__ = ("places", "shown")

    def __init__(self, confinement: Confinement) -> None:
        places = [(home, 0o700) for home in confinement.homes if os.path.isdir(home)]
        if os.path.isdir("/dev/shm"):
            places.append(("/dev/shm", 0o1777))
        self.places = tuple(places)
        shown = []
        for kept in confinement.kept:
            place = next((p for p, _ in places if is_under(kept, p) and kept != p), None)
            if place is None or not os.path.lexists(kept):
                continue
            is_dir = os.path.isdir(kept)
            parts = os.path.relpath(kept if is_dir else os.path.dirname(kept), place)
            made, here = [], place
            for part in parts.split("/") if parts != "." else ():
                here = os.path.join(here, part)
                made.append(here)
            shown.append((kept, tuple(made), is_dir))
        self.shown = tuple(shown)


class _Template:
    __slots__ = ("fd", "made", "own")

    def __init__(self, fd: int, made: float, own: _Own) -> None:
        self.fd = fd
        self.made = made
        self.own = own


_templates: dict[Confinement, _Template] = {}
_retired: list[tuple[float, int]] = []
_templates_lock = threading.Lock()


def _copy_of_template(worker: _linux.Worker, confinement: Confinement) -> tuple[int, _Own]:
    """In a call: move this thread into a new copy of `confinement`'s template (built or
    renewed first when needed); return the copy's fd and what it is to make its own."""
    now = time.monotonic()
    with _templates_lock:
        template = _templates.get(confinement)
        if template is None or now - template.made > _TEMPLATE_AGE:
            fd = worker.new_mount_namespace()  # this thread is now inside it
            try:
                _build_template(confinement)
            except BaseException:
                os.close(fd)
                raise
            if template is not None:
                _retired.append((now, template.fd))
            own = template.own if template is not None else _Own(confinement)
            template = _templates[confinement] = _Template(fd, now, own)
            while _retired and now - _retired[0][0] > _RETIRED_AGE:
                _, old = _retired.pop(0)
                worker.background(functools.partial(os.close, old))
        else:
            worker.enter(template.fd)
    _linux.unshare(_linux.CLONE_NEWNS)  # (a retired template stays open a while)
    return os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC), template.own


def _build_template(confinement: Confinement) -> None:
    """(In a fresh copy of the host's mount namespace) the confinement every sandbox shares."""
    kept: list[tuple[str, int]] = []
    opened: list[int] = []

    def open_fd(path: str, flags: int) -> int:
        fd = os.open(path, flags)
        opened.append(fd)
        return fd

    try:
        for place in confinement.kept:
            with contextlib.suppress(OSError):
                kept.append((place, open_fd(place, _ANY)))
        empty = open_fd(confinement.empty, _DIR) if confinement.empty else -1
        empty_file = open_fd(confinement.empty_file, _ANY) if confinement.masked else -1
        shm = open_fd("/dev/shm", _DIR) if os.path.isdir("/dev/shm") else -1
        _linux.set_read_only("/", recursive=True)
        if os.path.isdir("/dev"):
            _own_dev()
            if shm >= 0:
                _linux.bind(_linux.fd_path(shm), "/dev/shm")
            _linux.set_read_only("/dev")
        shared_tmpfs = []
        for hidden in confinement.hidden:
            if not os.path.isdir(hidden):
                continue
            if hidden in confinement.writable or empty < 0:
                _linux.tmpfs(hidden, 0o700)
                shared_tmpfs.append(hidden)
            else:
                _linux.bind(_linux.fd_path(empty), hidden)
        for masked in confinement.masked:
            with contextlib.suppress(FileNotFoundError):
                _linux.bind(_linux.fd_path(empty_file), masked)
        for place, fd in kept:
            if confinement.is_hidden(place):
                _show(fd, place)
        for hidden in shared_tmpfs:
            _linux.set_read_only(hidden)
    finally:
        for fd in opened:
            os.close(fd)


def _mountpoints() -> list[str]:
    points = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) > 4:
                points.append(_unescape(fields[4]))
    return points


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(field):
        code = field[i + 1 : i + 4]
        if field[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)
