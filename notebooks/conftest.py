"""How the tutorials run under nbval (`pytest --nbval-lax notebooks`).

Cells tagged `nbval-check-output` are compared with the saved outputs, after the
substitutions in `nbval-sanitize.cfg` (generated workflow names, execution counts);
the other cells only have to run without error.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    # Each notebook's kernel inherits this environment: the tutorials' runs, logs and
    # artifacts never mix with the user's own.
    os.environ["JUPYTER_ARGO_HOME"] = tempfile.mkdtemp(prefix="jupyter-argo-notebooks-")
    option = config.option
    if getattr(option, "nbval_sanitize_with", None) is None:
        option.nbval_sanitize_with = str(HERE / "nbval-sanitize.cfg")
    # The kernel is this interpreter, whatever kernels the machine has installed.
    option.nbval_current_env = True
