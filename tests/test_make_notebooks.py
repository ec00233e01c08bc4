"""`make notebooks` (part of `make test`) runs the shipped tutorials only."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    shutil.which("make") is None or not (REPO / ".git").exists(), reason="no make or git"
)
def test_a_notebook_the_user_saved_beside_the_tutorials_is_not_run() -> None:
    saved = REPO / "notebooks" / "Untitled-jupyter-argo-test.ipynb"
    saved.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    try:
        planned = subprocess.run(
            ["make", "-n", "-o", "install", "notebooks"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        saved.unlink()
    shipped = subprocess.run(
        ["git", "ls-files", "notebooks/*.ipynb"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shipped, "no tutorials tracked"
    assert saved.name not in planned
    for tutorial in shipped:
        assert tutorial in planned
