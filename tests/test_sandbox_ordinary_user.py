"""The sandbox suite again, as an ordinary user: what holds for root must hold without it.

An ordinary user cannot build the namespace mode (mount namespaces need CAP_SYS_ADMIN),
so the sandbox there is bubblewrap on an unprivileged user namespace. The test drops to
`nobody` with no capabilities and runs tests/test_sandbox.py whole, every canary
included. The checkout and the venv may sit where `nobody` cannot go (a clone under
/root, 0700), so a private mount namespace makes them reachable first.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from jupyter_argo.executors._bwrap import available as bwrap_available

NOBODY = 65534
REPO = Path(__file__).resolve().parents[1]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "already an ordinary user: test_sandbox.py itself runs as one"
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"no {tool} (util-linux)"
    if not bwrap_available():
        return "no bubblewrap (`make install` installs it as root)"
    return None


def _reachable_as_nobody(paths: list[str]) -> str:
    """Shell lines (run as root in a private mount namespace) that let `nobody` reach `paths`.

    A directory on the way that `nobody` may not enter (/root is 0700) is covered by an
    empty tmpfs, and the paths are bound back at their own places through it; the host
    keeps its modes.
    """
    lines = []
    blocked: list[str] = []
    for index, path in enumerate(paths):
        lines.append(f'mkdir "$STAGE/{index}" && mount --bind "{path}" "$STAGE/{index}"')
        parts = Path(path).parts
        for depth in range(2, len(parts) + 1):
            ancestor = str(Path(*parts[:depth]))
            if not os.stat(ancestor).st_mode & 0o001:
                if not any(Path(ancestor).is_relative_to(other) for other in blocked):
                    blocked.append(ancestor)
                break
    lines += [f'mount -t tmpfs -o mode=755 tmpfs "{ancestor}"' for ancestor in blocked]
    for index, path in sorted(enumerate(paths), key=lambda pair: len(pair[1])):
        lines.append(f'mkdir -p "{path}" && mount --bind "$STAGE/{index}" "{path}"')
    return " && ".join(lines)


@pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")
def test_the_sandbox_suite_holds_for_an_ordinary_user() -> None:
    needed = sorted({sys.prefix, sys.base_prefix, str(REPO)}, key=len)
    with tempfile.TemporaryDirectory(prefix="ja-ordinary-") as top:
        place = Path(top)
        place.chmod(0o755)
        (place / "stage").mkdir()
        home = place / "home"
        home.mkdir()
        os.chown(home, NOBODY, NOBODY)
        script = (
            f'STAGE="{place}/stage" && {_reachable_as_nobody(needed)}'
            f" && exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups"
            " --inh-caps=-all --bounding-set=-all --"
            f' env -i HOME="{home}" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8'
            f' PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="{REPO}"'
            f' "{sys.executable}" -m pytest -p no:cacheprovider -v'
            f' --basetemp="{home}/pytest" "{REPO}/tests/test_sandbox.py"'
        )
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-4000:]
    outcomes = re.findall(r"::(\S+) (PASSED|FAILED|ERROR|SKIPPED)", report)
    assert outcomes, report[-4000:]
    # Only the shadow-file canary may skip: an ordinary user cannot read /etc/shadow anyway.
    unexpected = [
        (name, outcome)
        for name, outcome in outcomes
        if outcome != "PASSED"
        and not (outcome == "SKIPPED" and "test_the_systems_own_secrets_are_masked" in name)
    ]
    assert not unexpected, report[-4000:]
    bwrap = [name for name, _ in outcomes if "[bwrap" in name or "-bwrap]" in name]
    # Every canary test of the sandbox ran under bubblewrap as `nobody`.
    assert len(bwrap) >= 12, report[-4000:]
    # Without root the namespace mode is not offered (it would fail to build).
    assert not [name for name, _ in outcomes if "namespace]" in name], report[-4000:]
