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
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from ordinary_user import NOBODY, as_nobody, missing_tools

from jupyter_argo.executors._bwrap import available as bwrap_available

REPO = Path(__file__).resolve().parents[1]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "already an ordinary user: test_sandbox.py itself runs as one"
    missing = missing_tools()
    if missing:
        return missing
    if not bwrap_available():
        return "no bubblewrap (`make install` installs it as root)"
    return None


@pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")
def test_the_sandbox_suite_holds_for_an_ordinary_user() -> None:
    with tempfile.TemporaryDirectory(prefix="ja-ordinary-") as top:
        place = Path(top)
        place.chmod(0o755)
        (place / "stage").mkdir()
        home = place / "home"
        home.mkdir()
        os.chown(home, NOBODY, NOBODY)
        env = {
            "HOME": str(home),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(REPO),
        }
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v"]
        argv += [f"--basetemp={home}/pytest", f"{REPO}/tests/test_sandbox.py"]
        reach = [sys.prefix, sys.base_prefix, str(REPO)]
        done = subprocess.run(
            as_nobody(argv, reach=reach, stage=place / "stage", env=env),
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
