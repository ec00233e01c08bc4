"""The whole operator of one workflow: Argo's wfOperationCtx, put together from its files.

Argo writes the methods of one struct in operator.go, steps.go, dag.go, hooks.go and
exit_handler.go; here each of those files holds one class, and this one combines them.
"""

from __future__ import annotations

from jupyter_argo.engine.dag import DagMixin
from jupyter_argo.engine.steps import StepsMixin

__all__ = ["WorkflowOperator"]


class WorkflowOperator(StepsMixin, DagMixin):
    """Runs one Workflow (see operator.py for the run itself)."""
