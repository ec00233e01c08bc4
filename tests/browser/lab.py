"""A real JupyterLab (or Notebook 7) server on 127.0.0.1 for browser tests, isolated from
the user's own.

Its configuration, runtime files, settings and workspaces live in a scratch directory,
it never reaches the network (no news, no update check, no PyPI extension listing), and
it exposes `window.jupyterapp` so a test can run JupyterLab commands as a user would.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_START_TIMEOUT = 60.0  # seconds for the server to answer /api/status


# The two frontends the view must work in: `jupyter lab` and `jupyter notebook` (7).
FRONTENDS = ("lab", "notebook")


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab or Notebook 7: where it listens, its token, the folder it
    serves and which frontend it is (`lab` or `notebook`)."""

    url: str
    token: str
    root: Path
    log: Path
    frontend: str = "lab"

    def open_url(self, path: str) -> str:
        """The address that opens `path` (relative to `root`) alone: in JupyterLab a fresh
        workspace, in Notebook 7 the notebook's own page."""
        if self.frontend == "notebook":
            return f"{self.url}/notebooks/{path}?token={self.token}"
        workspace = secrets.token_hex(4)
        return f"{self.url}/lab/workspaces/{workspace}/tree/{path}?reset&token={self.token}"


def frontend_error(frontend: str) -> Callable[[Any], bool] | None:
    """Which page errors come from the frontend itself, not from what a test checks.

    Notebook 7.6 raises one as it starts: its bundled shortcuts plugin (in
    notebook_core) reads the settings schema of a plugin it has not loaded (`reading
    'schema'`); it does so with this package's extension disabled too.
    """
    if frontend != "notebook":
        return None

    def known(error: Any) -> bool:
        stack = str(getattr(error, "stack", "") or "")
        first = stack.split("\n    at ", 2)[1] if "\n    at " in stack else ""
        return "(reading 'schema')" in str(error) and "/static/notebook/notebook_core." in first

    return known


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(scratch: Path) -> dict[str, object]:
    return {
        "ServerApp": {
            "ip": "127.0.0.1",
            "open_browser": False,
            "port_retries": 0,
            "allow_root": True,  # CI containers run as root; the server is bound to loopback
        },
        "LabApp": {
            "expose_app_in_browser": True,
            "news_url": None,
            "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
            "extension_manager": "readonly",
            "user_settings_dir": str(scratch / "user-settings"),
            "workspaces_dir": str(scratch / "workspaces"),
        },
        "JupyterNotebookApp": {
            "expose_app_in_browser": True,
            "user_settings_dir": str(scratch / "user-settings"),
            "workspaces_dir": str(scratch / "workspaces"),
        },
    }


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The server shuts its kernels down on SIGTERM; the group kill catches any that linger.
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _quiet_settings(user_settings: Path) -> None:
    # No "Would you like news?" toast over the notebook, and no update check.
    folder = user_settings / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    notification = {"fetchNews": "false", "checkForUpdates": False}
    (folder / "notification.jupyterlab-settings").write_text(json.dumps(notification))


@contextlib.contextmanager
def jupyter_lab(
    root: Path, scratch: Path, env: dict[str, str] | None = None, frontend: str = "lab"
) -> Iterator[Lab]:
    """Start `jupyter lab --no-browser` (or `jupyter notebook`, for `frontend="notebook"`)
    serving `root`; stop it and its kernels on exit."""
    config = scratch / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "jupyter_server_config.json").write_text(json.dumps(_config(scratch)))
    _quiet_settings(scratch / "user-settings")
    port, token = _free_port(), secrets.token_hex(16)
    variables = {
        **os.environ,
        **(env or {}),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
        "IPYTHONDIR": str(scratch / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    args = [
        sys.executable,
        "-m",
        {"lab": "jupyterlab", "notebook": "notebook"}[frontend],
        "--no-browser",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    log = scratch / f"jupyter-{frontend}.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            args,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=variables,
            cwd=root,
            start_new_session=True,  # its own process group, kernels included
        )
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not _answers(f"{url}/api/status?token={token}"):
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"jupyter {frontend} exited with {process.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter {frontend} did not answer at {url} (log: {log})")
            time.sleep(0.1)
        yield Lab(url=url, token=token, root=root, log=log, frontend=frontend)
    finally:
        _stop(process)
