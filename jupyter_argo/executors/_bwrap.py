"""The bwrap mode: sandboxes for users who are not root, made in a user namespace.

bubblewrap (`bwrap`) starts one process per engine, the sandbox maker (`_maker`), in a
user namespace of its own where it holds every capability, and the maker builds each
node's sandbox with the namespace mode's own machinery (docs/isolation.md). bwrap runs
once, not once per container: its start costs more than the rest of a step. Using it
for that one start keeps the mode working where only bwrap may create user namespaces
(Ubuntu's AppArmor restriction of unprivileged ones).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from jupyter_argo.executors._layout import TMP, Layout, is_under

# A sandbox's own /proc comes from procfs's `pidns=` option (Linux 6.15) in the maker:
# before that its containers would see the maker's /proc (every running step of this
# engine), so there each container gets a bwrap of its own instead, whose /proc is its.
_PROC_PIDNS = (6, 15)


def per_container() -> bool:
    """Whether each container runs in a bwrap of its own rather than through the sandbox
    maker: on kernels without procfs `pidns=`, or when JUPYTER_ARGO_BWRAP_PER_CONTAINER=1."""
    if os.environ.get("JUPYTER_ARGO_BWRAP_PER_CONTAINER") == "1":
        return True
    return _kernel() < _PROC_PIDNS


@functools.cache
def _kernel() -> tuple[int, int]:
    release = os.uname().release.split("-")[0].split(".")
    try:
        return int(release[0]), int(release[1]) if len(release) > 1 else 0
    except ValueError:
        return (0, 0)


@functools.cache
def available() -> bool:
    """bwrap is installed and can start the sandbox maker here: a user namespace where it
    holds capabilities, a PID namespace (probed once per process)."""
    program = shutil.which("bwrap")
    if program is None:
        return False
    if per_container():
        command = [program, "--dev-bind", "/", "/", "--unshare-pid", "--as-pid-1", "true"]
    else:
        command = [*maker_argv(program), "--", "true"]
    try:
        probe = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def maker_argv(program: str) -> list[str]:
    """bwrap's command line for the sandbox maker, up to its own command (also what
    `available` probes).

    The maker's root is bwrap's own tmpfs with each of the host's top-level entries
    bound onto it, not a bind of the host's root: an overlay's lower directory may have
    no mounts below it that came from the host (they are locked in a user namespace),
    and the namespace mode's own root for a node (`/src`, `/result.txt`) overlays `/`.
    """
    args = [
        program,
        "--unshare-user",
        "--uid",
        "0",
        "--gid",
        "0",
        "--cap-add",
        "ALL",
        "--unshare-pid",
        "--as-pid-1",
        "--die-with-parent",
    ]
    for entry in sorted(os.scandir("/"), key=lambda entry: entry.name):
        path = entry.path
        if entry.name == "proc":
            continue
        if entry.is_symlink():
            args += ["--symlink", os.readlink(path), path]
        elif entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False):
            args += ["--dev-bind", path, path]
    # The maker's PID namespace's: it names its children's namespaces there.
    return [*args, "--proc", "/proc"]


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
