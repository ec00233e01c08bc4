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
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from jupyter_argo.errors import UnsupportedError
from jupyter_argo.executors import _linux
from jupyter_argo.executors._layout import TMP, Layer, Layout, is_under
from jupyter_argo.executors._process import Child

_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_ANY = os.O_PATH | os.O_CLOEXEC


class MountNamespace:
    """The live mount namespace of one sandbox.

    With `lazy`, it is built on the way to its first process, in the same trip into
    the namespace (only for a layout that cannot fail to mount: /tmp and nothing else).
    """

    def __init__(self, layout: Layout, *, lazy: bool = False) -> None:
        self.layout = layout
        self._worker = _linux.worker()
        self._mnt_fd = -1
        self._base_fd = -1  # the node directory, as the host sees it
        self._root_fd = -1  # the node's own root, when it has one
        self._mounted: list[Layer] = []
        self._overlays = 0
        if not lazy:
            self._worker.call(self._build_guarded)

    def close(self) -> None:
        for fd in (self._mnt_fd, self._base_fd, self._root_fd):
            if fd >= 0:
                os.close(fd)
        self._mnt_fd = self._base_fd = self._root_fd = -1

    def extend(self, layers: list[Layer]) -> None:
        """Mount layers added to the layout after the namespace was built."""
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
            return start()

        return self._worker.call(inside)

    def build_here(self) -> None:
        """Build it on this thread, which must be the namespace worker (in a call) and is
        left inside the namespace."""
        self._build_guarded()

    # Worker thread

    def _build_guarded(self) -> None:
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        self._mnt_fd = self._worker.new_mount_namespace()
        self._base_fd = os.open(self.layout.base, _DIR)
        self._mount(self.layout.layers, first=True)

    def _enter_and_mount(self, layers: list[Layer]) -> None:
        self._worker.enter(self._mnt_fd)
        self._mount(layers, first=False)

    def _host(self, path: Path) -> str:
        """`path` on the host, reachable even where this sandbox's mounts cover it."""
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
                self._build_root(tmp_fd)
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
                self._mounted.append(overlay.layer)
            for layer, source in shared:
                _linux.bind(_linux.fd_path(source), self._target(layer.container, tmp_fd))
                self._mounted.append(layer)
            self._mounted.extend(layer for layer in layers if layer.kind in ("fresh", "tmp"))
            if first and self._root_fd < 0:
                _linux.bind(_linux.fd_path(tmp_fd), TMP)
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

    def _build_root(self, tmp_fd: int) -> None:
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
            _linux.bind(_linux.fd_path(tmp_fd), f"{_linux.fd_path(root_fd)}{TMP}")
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
        submounts = [m for m in _mountpoints() if m != lower and is_under(m, lower)]
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
