"""How a cell shows a run while it goes (the watch -> render steps of `%%argo`).

- `widget`: in a kernel (ipykernel), the live `WorkflowView`, fed by the backend's watch;
  its display data also carries a static SVG and a text summary, replaced by the final
  ones when the run ends, so nbconvert, nbval and GitHub show the outcome. Nothing waits
  for a browser: without one the widget messages simply go unread.
- `text`: in a terminal IPython, one line each time the phase or progress changes.
- `none`: nothing (`--no-view`).

`follow` reads the watch until the run ends, in whichever thread calls it: the cell's
(then an interrupt arrives there) or a background one for `--async`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from jupyter_argo.run import Run, watch

__all__ = [
    "MODES",
    "Progress",
    "Widget",
    "choose_mode",
    "follow",
    "follow_in_background",
    "make",
    "prepare",
]

MODES = ("auto", "widget", "text", "none")
_LOG_LINES = 500  # of a node's log, for the view (it shows at most the last 16,000 characters)

Workflow = Mapping[str, Any]


def choose_mode(requested: str, shell: Any) -> str:
    """`auto` is `widget` in a kernel (which has a frontend, or saves outputs for one),
    else `text`; anywidget cannot tell whether a frontend really listens."""
    if requested != "auto":
        return requested
    return "widget" if getattr(shell, "kernel", None) is not None else "text"


class Progress:
    """Shows nothing; the base of the other modes."""

    def show(self) -> None:
        """Put it on screen (separate from making it, so the caller can keep it first)."""

    def update(self, workflow: Workflow) -> None:
        """A newer snapshot (called often: must not block)."""

    def close(self, workflow: Workflow) -> None:
        """The final snapshot."""


class _Text(Progress):
    def __init__(self, run: Run, *, quiet: bool) -> None:
        self._name = run.name
        self._quiet = quiet
        self._shown: tuple[str, str] | None = None

    def update(self, workflow: Workflow) -> None:
        status = workflow.get("status") or {}
        state = (str(status.get("phase") or "Pending"), str(status.get("progress") or ""))
        if state != self._shown and not self._quiet:
            self._shown = state
            print(f"{self._name}: {' '.join(filter(None, state))}", flush=True)

    def close(self, workflow: Workflow) -> None:
        self.update(workflow)


class Widget(Progress):
    """The live WorkflowView, displayed now, updated from any thread."""

    def __init__(self, run: Run, workflow: Workflow) -> None:
        from jupyter_argo.widgets import Coalescer, WorkflowView

        def logs(node_id: str) -> str:
            # The view shows a log's end: asked for by lines, a 50 MB log costs its tail.
            found = run.backend.logs(run.name, run.namespace, node=node_id, tail=_LOG_LINES)
            return "\n".join(line for _, line in found)

        from jupyter_argo.widgets.actions import RunActions

        self._run = run
        actions = RunActions(run.backend, run.name, run.namespace, retried=self._retried)
        self.view = WorkflowView(
            workflow, logs=logs, backend=str(run.backend.name), actions=actions
        )
        self._coalescer: Coalescer[Workflow] = Coalescer(self.view.update, name="argo-view")

    def show(self) -> None:
        from IPython.display import display

        display(self.view)  # type: ignore[no-untyped-call]

    def update(self, workflow: Workflow) -> None:
        self._coalescer.push(workflow)

    def close(self, workflow: Workflow) -> None:
        self._coalescer.close(flush=False, timeout=5)
        self.view.update(workflow)

    def _retried(self) -> None:
        # A retried run goes on under its name: the same view follows it again.
        from jupyter_argo.widgets import Coalescer

        self._coalescer = Coalescer(self.view.update, name="argo-view")
        follow_in_background(self._run, self, done=self.close)


def prepare(mode: str) -> None:
    """Load what `mode` needs (the widget loads anywidget and Graphviz: a second or so)."""
    if mode == "widget":
        import jupyter_argo.widgets  # noqa: F401


def make(run: Run, mode: str, workflow: Workflow, *, quiet: bool = False) -> Progress:
    """What shows `run` (whose first snapshot is `workflow`) in `mode`; `show()` it."""
    if mode == "widget":
        return Widget(run, workflow)
    if mode == "text":
        return _Text(run, quiet=quiet)
    return Progress()


def follow(run: Run, progress: Progress, *, timeout: float | None = None) -> Workflow:
    """Feed `progress` from the backend's watch until the run ends or `timeout` seconds
    pass; returns the last snapshot (not final after a timeout). Does not `close`."""
    last: Workflow | None = None
    for snapshot in watch(run, timeout=timeout):
        last = snapshot
        progress.update(snapshot)
    if last is None:
        last = run.backend.get(run.name, run.namespace)
    run._remember(last)
    return last


def follow_in_background(
    run: Run,
    progress: Progress,
    *,
    timeout: float | None = None,
    done: Callable[[Workflow], object] | None = None,
) -> threading.Thread:
    """`follow` on a daemon thread, then `done(last snapshot)`; the kernel stays free."""

    def main() -> None:
        final = follow(run, progress, timeout=timeout)
        if done is not None:
            done(final)

    thread = threading.Thread(target=main, name=f"argo-follow-{run.name}", daemon=True)
    thread.start()
    return thread
