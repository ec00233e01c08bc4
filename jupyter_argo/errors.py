"""The errors jupyter-argo raises.

    ArgoError                     base of everything we raise on purpose
    ├── UserError                 the user can fix it; shown as one line, no traceback
    │   ├── ParseError            text is not a usable manifest (YAML, kind, size, ...)
    │   ├── LintError             the manifest parsed but breaks Argo's rules
    │   ├── ExpressionError       a {{=...}}, depends, when or valueFrom.expression is bad
    │   ├── UnsupportedError      a feature that cannot run on the chosen backend
    │   ├── NotFoundError         a workflow, template, node, artifact or object is not known
    │   ├── ConfigError           backend, data directory or repository set-up is wrong
    │   └── ArtifactError         an artifact cannot be packed, stored, fetched or unpacked
    ├── WorkflowFailed            a cell's run ended Failed or Error: the cell fails (so Run
    │                             All stops) with the failed step, its message and log tail
    ├── BackendError              the backend failed (process, store, cluster) while working
    │   └── StoreError            the local store cannot be read or written: damaged, full
    │                             or busy; its message says what to do
    └── Interrupted               work ended from outside (Ctrl-C, kernel interrupt, terminate)

Every UserError carries an optional `Location` (file, line, column, path) and renders as
`file:line:col: path: message` through `__str__`, and IPython shows only that line
because of `_render_traceback_`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_argo.run import Run

__all__ = [
    "ArgoError",
    "ArtifactError",
    "BackendError",
    "ConfigError",
    "ExpressionError",
    "Interrupted",
    "LintError",
    "Location",
    "NotFoundError",
    "ParseError",
    "StoreError",
    "UnsupportedError",
    "UserError",
    "WorkflowFailed",
]


@dataclass(frozen=True)
class Location:
    """Where something is in a source text. Lines and columns count from 1."""

    file: str = "<cell>"
    line: int | None = None
    column: int | None = None
    path: str = ""  # the manifest path, e.g. spec.templates[0].container

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        text = ":".join(parts)
        return f"{text}: {self.path}" if self.path else text


class ArgoError(Exception):
    """Base of every error jupyter-argo raises on purpose."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback.
        return [f"{type(self).__name__}: {self}"]


class UserError(ArgoError):
    """Something the user wrote or asked for is wrong; they can fix it."""


class ParseError(UserError):
    """The text cannot be read as Argo manifests."""


class LintError(UserError):
    """The manifests break Argo's rules. `diagnostics` holds every finding."""

    def __init__(self, diagnostics: list[object]) -> None:
        self.diagnostics = diagnostics
        lines = [str(d) for d in diagnostics]
        super().__init__("\n".join(lines) if lines else "lint failed")


class ExpressionError(UserError):
    """An expression does not parse or cannot be evaluated."""


class UnsupportedError(UserError):
    """A feature the chosen backend cannot run."""


class NotFoundError(UserError):
    """A named thing (workflow, template, node, artifact, ConfigMap, ...) is not known."""


class ConfigError(UserError):
    """The configuration of a backend, repository or data directory is wrong."""


class ArtifactError(UserError):
    """An artifact cannot be packed, stored, fetched or unpacked (missing path, hostile
    archive, unreachable or refusing repository). Messages never hold secret values."""


class WorkflowFailed(ArgoError):
    """A run a cell waited for ended Failed or Error (`%%argo --no-raise` lets the cell
    end normally). One line: the run, its phase, the failed step, its message, the last
    lines of its log. `run` is the `Run` (also bound by `--out`), `node` the failed step's
    display name ("" when no step failed, e.g. an invalid spec)."""

    def __init__(self, message: str, *, run: Run, node: str = "", log: str = "") -> None:
        super().__init__(message)
        self.run = run
        self.node = node
        self.log = log


class BackendError(ArgoError):
    """The backend failed while doing its work."""


class StoreError(BackendError):
    """The local store (`JUPYTER_ARGO_HOME`) cannot be read or written. `reason` is
    `damaged` (run `jupyter-argo doctor`), `full` (free space) or `busy`."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Interrupted(ArgoError):
    """Work was ended from outside before it finished: Ctrl-C, a kernel interrupt or a
    terminate while an expression was being evaluated. Not an ExpressionError, so that
    nothing which tolerates a failing expression swallows it."""
