"""Debian's Chromium, driven by Playwright: no browser download, no video, no trace.

Everything a test does in the page goes through JupyterLab's own commands
(`window.jupyterapp`, see `lab.py`) or plain DOM queries, and every wait is on a
condition in the page, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("JUPYTER_ARGO_CHROMIUM", "/usr/bin/chromium"))

# Headless, and quiet: nothing fetched or updated behind the test's back.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> Path:
    """Chromium's path, or a clean skip saying how to get it."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"no Chromium at {CHROMIUM}: `apt-get install chromium` (make install does it as root)"
        )
    return CHROMIUM


@contextlib.contextmanager
def chromium_page(
    console: list[str],
    width: int = 1280,
    height: int = 1000,
    known: Callable[[Any], bool] | None = None,
) -> Iterator[Any]:
    """A fresh page in headless Chromium; console errors and page errors land in `console`,
    except page errors that `known(error)` says belong to the frontend, not to us."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = require_chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=FLAGS, chromium_sandbox=False
        )
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()

            def on_console(message: Any) -> None:
                if message.type == "error":
                    console.append(f"console.error: {message.text}")

            page.on("console", on_console)

            def on_error(error: Any) -> None:
                if known is None or not known(error):
                    console.append(f"pageerror: {error}")

            page.on("pageerror", on_error)
            yield page
            context.close()
        finally:
            browser.close()
