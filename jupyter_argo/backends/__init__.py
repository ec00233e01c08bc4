"""Backends by name: `get_backend("local")` runs here, `get_backend("kubernetes")` on a cluster,
`get_backend("argo-server")` through a shared Argo Server (configured like the argo CLI).

All speak the `Backend` protocol (`base.py`) and Argo's `Workflow.status`; nothing above
this package asks which one ran a workflow. Each loads only when asked for.
"""

from __future__ import annotations

from typing import Any

from jupyter_argo.backends.base import Backend, Workflow
from jupyter_argo.errors import ConfigError

__all__ = ["BACKENDS", "Backend", "Workflow", "get_backend"]

BACKENDS = ("local", "kubernetes", "argo-server")


def get_backend(name: str, **config: Any) -> Backend:
    """A new backend `name`, built with `config` (its constructor's keyword arguments)."""
    if name == "local":
        from jupyter_argo.backends.local import LocalBackend

        return LocalBackend(**config)
    if name == "kubernetes":
        try:
            from jupyter_argo.backends.kubernetes import (  # type: ignore[import-not-found,unused-ignore]
                KubernetesBackend,
            )
        except ImportError as err:
            raise ConfigError(
                f"the kubernetes backend is not available here ({err}); "
                "use --backend local, or install jupyter-argo with its kubernetes support"
            ) from None
        backend: Backend = KubernetesBackend(**config)
        return backend
    if name == "argo-server":
        from jupyter_argo.backends.argo_server import ArgoServerBackend

        return ArgoServerBackend(**config)
    raise ConfigError(f"unknown backend {name!r} (choose one of {', '.join(BACKENDS)})")
