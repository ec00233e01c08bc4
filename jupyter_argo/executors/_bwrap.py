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


@functools.cache
def available() -> bool:
    """bwrap is installed and can start the sandbox maker here: a user namespace where it
    holds capabilities, a PID namespace (probed once per process)."""
    program = shutil.which("bwrap")
    if program is None:
        return False
    try:
        probe = subprocess.run(
            [*maker_argv(program), "--", "true"],
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
