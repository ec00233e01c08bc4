"""jupyter-argo: write, run and understand Argo Workflows from a notebook.

Importing this package is cheap; the IPython extension, the engine and every heavy
dependency load on first use.
"""

from __future__ import annotations

from typing import Any

from jupyter_argo._version import __version__
from jupyter_argo.errors import ArgoError

__all__ = ["ArgoError", "__version__", "load_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_argo`: registers the `%%argo` and `%argo` magics."""
    from jupyter_argo.magics import ArgoMagics

    ipython.register_magics(ArgoMagics)
