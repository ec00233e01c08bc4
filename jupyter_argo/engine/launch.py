"""Launching the children of one loop (a step or task expanded by withItems, withParam
or withSequence) with memory that does not grow with the loop.

Argo's controller initialises every child of a loop in one pass (steps.go
executeStepGroup, dag.go executeDAGTask) and the cluster holds their pods. Here each
child that has started waits for a pod slot as a chain of coroutines of its own, some
7-10 KB each: 100,000 of them would take about 1 GB before the first pod ran. So a loop
runs all its children at once, as before, up to `LAUNCH_WINDOW` (the default bound on a
loop's items, JUPYTER_ARGO_MAX_ITEMS); past that, the first `LAUNCH_WINDOW` start at
once and each of the others, in order, as soon as one before it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

__all__ = ["LAUNCH_WINDOW", "launch_all"]

LAUNCH_WINDOW = 10_000

_Item = TypeVar("_Item")


async def launch_all(
    run: Callable[[_Item], Awaitable[Any]],
    items: Sequence[_Item],
    window: int | None = None,
) -> None:
    """`run(item)` for every item, at most `window` at once, started in order; exactly
    `asyncio.gather` of them all when there are no more than `window`. As gather, the
    first exception propagates and the others go on. `window`: LAUNCH_WINDOW."""
    window = LAUNCH_WINDOW if window is None else window
    if len(items) <= window:
        await asyncio.gather(*(run(item) for item in items))
        return
    pending = iter(items)

    async def worker() -> None:
        for item in pending:  # shared: each item is taken by one worker, in order
            await run(item)

    await asyncio.gather(*(worker() for _ in range(window)))
