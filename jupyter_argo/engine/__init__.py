"""The embedded local engine: runs Argo Workflows on this machine with Argo's semantics."""

from jupyter_argo.engine.engine import Engine

__all__ = ["Engine"]
