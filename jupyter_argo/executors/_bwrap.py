"""The bwrap mode: the same layout, built by bubblewrap for users who are not root.

bubblewrap 0.8 has no overlays, so an existing host directory that a node adds to is
mirrored instead: its private directory is mounted over it and each host entry is
mounted back inside, read-only. New files are then private; existing host entries
cannot be changed (see docs/isolation.md).

As in the namespace mode the host is read-only (`--ro-bind / /`, recursive), /dev/shm
is private, the hidden places (home, checkout, data directory, /run) are empty tmpfs
with the runtimes they hold bound back read-only, and /proc is the sandbox's own.
The sandboxed process has no capabilities (`--cap-drop ALL`: bwrap keeps root's otherwise).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from jupyter_argo.executors._layout import TMP, Layout, is_under
from jupyter_argo.executors._maker import bwrap_argv


@functools.cache
def available() -> bool:
    """bwrap is installed and can start the sandbox maker here: a user namespace where it
    holds capabilities, a PID namespace (probed once per process)."""
    program = shutil.which("bwrap")
    if program is None:
        return False
    try:
        probe = subprocess.run(
            [*bwrap_argv(program), "--", "true"],  # what the sandbox maker asks of it
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


class BwrapPlan:
    """Builds bwrap's arguments for every container of one sandbox."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._mirrored: dict[str, list[str]] = {}

    def argv(self, command: list[str], cwd: str, info_fd: int) -> list[str]:
        layout = self.layout
        args = [
            shutil.which("bwrap") or "bwrap",
            "--die-with-parent",
            "--unshare-pid",
            "--as-pid-1",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--info-fd",
            str(info_fd),
        ]
        confinement = layout.confinement
        if layout.needs_root:
            args += ["--bind", str(layout.root), "/"]
            own = {layer.container.lstrip("/") for layer in layout.of_kind("fresh")} | {"tmp"}
            hosts = sorted(set(os.listdir("/")) - own - {"dev", "proc"})
            args += _mirror("/", layout.root, hosts, "--ro-bind")
        else:
            args += ["--ro-bind", "/", "/"]
        # bwrap's --dev is a pod's /dev: null, zero, full, random, urandom, tty, pts, shm.
        args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/dev/shm"]
        for hidden in confinement.hidden:
            if os.path.isdir(hidden):
                args += ["--tmpfs", hidden]
        for kept in confinement.kept:
            args += ["--ro-bind-try", kept, kept]
        for masked in confinement.masked:
            args += ["--ro-bind", confinement.empty_file, masked]
        args += ["--bind", str(layout.host_path(TMP)), TMP]
        for layer in layout.of_kind("overlay"):
            if layer.container not in self._mirrored:
                # Decided once: afterwards the upper dir also holds the host entries' mount points.
                private = set(os.listdir(layer.host)) if layer.host.is_dir() else set()
                shown = not confinement.is_hidden(layer.container)
                host = set(os.listdir(layer.container)) if shown else set()
                self._mirrored[layer.container] = sorted(host - private)
            args += ["--bind", str(layer.host), layer.container]
            args += _mirror(
                layer.container, layer.host, self._mirrored[layer.container], "--ro-bind"
            )
            for kept in confinement.kept:  # runtimes the mirror would have covered
                if kept != layer.container and is_under(kept, layer.container):
                    args += ["--ro-bind-try", kept, kept]
        for layer in layout.of_kind("shared"):
            kind = "--ro-bind" if layer.container in layout.read_only else "--bind"
            args += [kind, str(layer.host), layer.container]
        return [*args, "--chdir", cwd, "--", *command]


def _mirror(directory: str, private: Path, names: list[str], kind: str) -> list[str]:
    """Options mounting the host's `directory/name` entries back over `private`'s."""
    options: list[str] = []
    for name in names:
        path = os.path.join(directory, name)
        if os.path.islink(path):
            if not os.path.lexists(private / name):  # made by an earlier run
                options += ["--symlink", os.readlink(path), path]
        elif os.path.lexists(path):
            options += [kind, path, path]
    return options
