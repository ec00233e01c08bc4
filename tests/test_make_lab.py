"""`make lab` starts JupyterLab, also as root (Jupyter refuses root without --allow-root),
and Notebook 7 comes with it. Runs the Makefile's real recipe against this interpreter's
environment, with its install step taken as done."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return int(err.code), ""
    except (urllib.error.URLError, OSError):
        return 0, ""


def test_make_lab_starts_jupyterlab_and_notebook_7(tmp_path: Path) -> None:
    port, token = _free_port(), secrets.token_hex(8)
    lab_args = (
        f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} "
        f"--ServerApp.port_retries=0 --IdentityProvider.token={token} "
        "--LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    log = tmp_path / "lab.log"
    command = ["make", "-s", "-o", "install", "lab", f"VENV={sys.prefix}", f"LAB_ARGS={lab_args}"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        url = f"http://127.0.0.1:{port}"
        while _get(f"{url}/api/status?token={token}")[0] != 200:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        status, page = _get(f"{url}/lab?token={token}")
        assert status == 200
        assert "JupyterLab" in page
        # Notebook 7's own page (its server extension is installed alongside).
        status, page = _get(f"{url}/tree?token={token}")
        assert status == 200
        assert '"appName": "Jupyter Notebook"' in page
        if os.geteuid() == 0:
            assert "Running as root is not recommended" not in log.read_text(errors="replace")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
