"""jupyter-argo: write, run and understand Argo Workflows from a notebook.

Importing this package is cheap; the IPython extension, the engine and every heavy
dependency load on first use.
"""

from __future__ import annotations

from jupyter_argo._version import __version__

# Nothing else at import, not even `typing`: the `jupyter-argo` command imports this
# package before it can turn off the garbage collector for its start (see _collector).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from jupyter_argo.errors import ArgoError
    from jupyter_argo.render import render_svg
    from jupyter_argo.widgets import WorkflowView

__all__ = ["ArgoError", "WorkflowView", "__version__", "load_ipython_extension", "render_svg"]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_argo`: registers the `%%argo` and `%argo` magics."""
    from jupyter_argo.magics import ArgoMagics

    ipython.register_magics(ArgoMagics)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the built JupyterLab extension is (`jupyter labextension develop` reads this)."""
    return [{"src": "labextension", "dest": "jupyter-argo"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension: notebooks are saved with the view's static graph."""
    return [{"module": "jupyter_argo.server"}]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    if name == "ArgoError":
        from jupyter_argo.errors import ArgoError

        return ArgoError
    # `render_svg` and `WorkflowView` load graphviz, anywidget and ipywidgets: only on use.
    if name == "render_svg":
        from jupyter_argo.render import render_svg

        return render_svg
    if name == "WorkflowView":
        from jupyter_argo.widgets import WorkflowView

        return WorkflowView
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
