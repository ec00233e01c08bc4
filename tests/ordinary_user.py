"""Running something as `nobody` (no capabilities) from root, for the sandbox's tests and
benchmark: what an ordinary user's steps get is then measured, not assumed.

The checkout, the venv and the interpreter may sit where `nobody` cannot go (a clone
under /root, 0700): a private mount namespace covers each directory on the way that
`nobody` may not enter with an empty tmpfs and binds the paths back at their own places;
the host keeps its modes.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

NOBODY = 65534


def missing_tools() -> str | None:
    """Why this cannot be done here (None: it can)."""
    if os.geteuid() != 0:
        return "not root"
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"no {tool} (util-linux)"
    return None


def as_nobody(
    argv: Sequence[str], *, reach: Sequence[str], stage: Path, env: Mapping[str, str]
) -> list[str]:
    """A command line running `argv` as nobody, with exactly `env`, the paths `reach`
    reachable; `stage` is an empty directory of root's (0755) to bind through."""
    lines = []
    blocked: list[str] = []
    paths = sorted(set(reach), key=len)
    for index, path in enumerate(paths):
        lines.append(f'mkdir "{stage}/{index}" && mount --bind "{path}" "{stage}/{index}"')
        parts = Path(path).parts
        for depth in range(2, len(parts) + 1):
            ancestor = str(Path(*parts[:depth]))
            if not os.stat(ancestor).st_mode & 0o001:
                if not any(Path(ancestor).is_relative_to(other) for other in blocked):
                    blocked.append(ancestor)
                break
    lines += [f'mount -t tmpfs -o mode=755 tmpfs "{ancestor}"' for ancestor in blocked]
    for index, path in enumerate(paths):
        lines.append(f'mkdir -p "{path}" && mount --bind "{stage}/{index}" "{path}"')
    variables = " ".join(shlex.quote(f"{key}={value}") for key, value in env.items())
    script = (
        " && ".join(lines)
        + f" && exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups"
        + f' --inh-caps=-all --bounding-set=-all -- env -i {variables} "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]
