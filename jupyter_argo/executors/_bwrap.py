"""The bwrap mode: the same layout, built by bubblewrap for users who are not root.

bubblewrap 0.8 has no overlays, so an existing host directory that a node adds to is
mirrored instead: its private directory is mounted over it and each host entry is
mounted back inside. New files are then private; changes to existing host entries are
not (see docs/isolation.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from jupyter_argo.executors._layout import TMP, Layout


def available() -> bool:
    """bwrap is installed and can make a PID namespace here."""
    program = shutil.which("bwrap")
    if program is None:
        return False
    try:
        probe = subprocess.run(
            [program, "--dev-bind", "/", "/", "--unshare-pid", "--as-pid-1", "true"],
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
            "--info-fd",
            str(info_fd),
        ]
        if layout.needs_root:
            args += ["--bind", str(layout.root), "/"]
            own = {layer.container.lstrip("/") for layer in layout.of_kind("fresh")} | {"tmp"}
            args += _mirror("/", layout.root, sorted(set(os.listdir("/")) - own))
        else:
            args += ["--dev-bind", "/", "/", "--bind", str(layout.host_path(TMP)), TMP]
        for layer in layout.of_kind("overlay"):
            if layer.container not in self._mirrored:
                # Decided once: afterwards the upper dir also holds the host entries' mount points.
                private = set(os.listdir(layer.host)) if layer.host.is_dir() else set()
                self._mirrored[layer.container] = sorted(set(os.listdir(layer.container)) - private)
            args += ["--bind", str(layer.host), layer.container]
            args += _mirror(layer.container, layer.host, self._mirrored[layer.container])
        for layer in layout.of_kind("shared"):
            args += ["--bind", str(layer.host), layer.container]
        return [*args, "--chdir", cwd, "--", *command]


def _mirror(directory: str, private: Path, names: list[str]) -> list[str]:
    """Options mounting the host's `directory/name` entries back over `private`'s."""
    options: list[str] = []
    for name in names:
        path = os.path.join(directory, name)
        if os.path.islink(path):
            if not os.path.lexists(private / name):  # made by an earlier run
                options += ["--symlink", os.readlink(path), path]
        elif os.path.lexists(path):
            options += ["--dev-bind", path, path]
    return options
