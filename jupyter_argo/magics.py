"""The `%%argo` cell magic and `%argo` line magic.

The magic is thin: it reads its options and runs the pipeline
cell -> parse -> validate -> submit -> watch -> render -> bind, one module per step.
"""

from __future__ import annotations

from IPython.core.magic import Magics, magics_class

__all__ = ["ArgoMagics"]


@magics_class
class ArgoMagics(Magics):  # type: ignore[misc]
    """Argo Workflows in the notebook. The magics themselves arrive with the magics issue."""
