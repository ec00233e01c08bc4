"""The cyclic garbage collector while the `jupyter-argo` command starts.

A command's start (imports, the field table, parsing) allocates much and frees almost
nothing: the collector's passes over it would be 5-10% of a one-step `jupyter-argo run`.
`main` keeps it off while it parses its command line (which imports the command's
modules), `run` and `submit` until the workflow is submitted; then `collect_from_here`.
Each leaves what was made so far out of later passes (`gc.freeze`): the first pass after
the collector is back would otherwise walk all of it (5 ms of a one-step run).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collect_from_here", "collector_off"]


@contextlib.contextmanager
def collector_off(*, freeze: bool = False) -> Iterator[None]:
    """The collector off for the block (as it was after it); with `freeze`, what exists at
    the end of the block is left out of later passes, as by `collect_from_here`."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if collecting:
            gc.enable()


def collect_from_here() -> None:
    """The command is under way: the collector runs again, and leaves alone what the start
    made (modules, the field table), which lives until exit: later passes, and the last
    one at exit, skip it."""
    gc.freeze()
    gc.enable()
