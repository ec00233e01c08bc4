"""The live workflow view (an anywidget) and the coalescing that feeds it from a watch."""

from __future__ import annotations

from jupyter_argo.widgets.coalesce import Coalescer, Follower
from jupyter_argo.widgets.view import WorkflowView

__all__ = ["Coalescer", "Follower", "WorkflowView"]
