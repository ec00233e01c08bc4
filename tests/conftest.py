"""Shared fixtures. Upstream material lives beside the repo in ../shared (never copied in)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
ARGO = SHARED / "argo"
WRITTEN_BY_ARGO = ARGO / "written-by-argo"
SEED = SHARED / "seed" / "argo-workflow-3.md"


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every test gets its own data directory: no run, template or cache leaks between tests.
    monkeypatch.setenv("JUPYTER_ARGO_HOME", str(tmp_path_factory.mktemp("argo-home")))


def argo_examples() -> Path:
    """The upstream examples, or a clean skip saying why they are not here."""
    examples = ARGO / "examples"
    if not examples.is_dir():
        pytest.skip(f"Argo's upstream examples are not at {examples} (../shared/argo absent)")
    return examples


def written_by_argo(name: str) -> dict[str, Any]:
    """One Workflow object as Argo wrote it (../shared/argo/written-by-argo), or a clean skip
    saying why it is not here."""
    path = WRITTEN_BY_ARGO / name
    if not path.is_file():
        pytest.skip(f"Argo-written workflow {name} is not at {path} (../shared/argo absent)")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def printed(path: Path) -> str:
    """What a process wrote to its output file `path` (the executor makes none for silence)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
