"""A loop's children start all at once up to LAUNCH_WINDOW, and past it in a window of
that many (engine/launch.py), so a 100,000-item loop does not hold 100,000 waiting
coroutine chains; every child still runs, in order, and the run's result is the same."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.engine import launch
from jupyter_argo.engine.launch import launch_all


def _record(window: int | None, count: int, fail: int | None = None) -> tuple[list[int], int]:
    started: list[int] = []
    running = most = 0

    async def run(item: int) -> None:
        nonlocal running, most
        started.append(item)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.001 * (item % 3))
        running -= 1
        if item == fail:
            raise ValueError(item)

    asyncio.run(launch_all(run, list(range(count)), window))
    return started, most


def test_all_at_once_up_to_the_window() -> None:
    started, most = _record(10, 10)
    assert started == list(range(10))
    assert most == 10


def test_past_the_window_at_most_window_at_once_in_order() -> None:
    started, most = _record(4, 50)
    assert started == list(range(50))
    assert most == 4


def test_first_error_propagates_as_gather_does() -> None:
    with pytest.raises(ValueError, match="7"):
        _record(4, 50, fail=7)


def _loop(kind: str, count: int) -> dict[str, Any]:
    step = {"name": "step", "container": {"image": "alpine", "command": ["sleep", "0.2"]}}
    loop = {"name": "n", "template": "step", "withSequence": {"count": count}}
    if kind == "steps":
        main: dict[str, Any] = {"name": "main", "steps": [[loop]]}
    else:
        main = {"name": "main", "dag": {"tasks": [loop]}}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": f"{kind}-"},
        "spec": {"entrypoint": "main", "templates": [main, step]},
    }


@pytest.mark.parametrize("kind", ["steps", "dag"])
def test_loop_past_the_window_runs_every_child(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch, "LAUNCH_WINDOW", 3)
    backend = LocalBackend(home=tmp_path / "home")
    name = backend.submit(_loop(kind, 8))["metadata"]["name"]
    most = 0
    final: dict[str, Any] = {}
    for snapshot in backend.watch(name, timeout=120):
        final = snapshot
        pods = [n for n in snapshot["status"].get("nodes", {}).values() if n["type"] == "Pod"]
        most = max(most, sum(n["phase"] in ("Pending", "Running") for n in pods))
    status = final["status"]
    assert status["phase"] == "Succeeded"
    pods = [n for n in status["nodes"].values() if n["type"] == "Pod"]
    assert sorted(n["displayName"] for n in pods) == sorted(f"n({i}:{i})" for i in range(8))
    assert all(n["phase"] == "Succeeded" for n in pods)
    assert most <= 3
    assert status["progress"] == "8/8"
