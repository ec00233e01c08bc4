"""Lint Argo manifests as strictly as `argo lint --strict`, with a location for every finding.

Two passes per document:

1. fields: every key and value against Argo's whole API (`schema.field_table`), as Argo's
   strict decoder reads it: unknown fields and wrong JSON types are errors;
2. rules: the checks of Argo's validator (`workflow/validate/validate.go`): template
   references, entrypoint, names, template types, arguments and inputs, DAG
   dependencies and cycles, `{{...}}` variables in scope, expressions, CronWorkflow
   schedules. Where Argo has an error text, ours reads the same, plus what to do.

WorkflowTemplates and ClusterWorkflowTemplates given in the same call resolve
`templateRef`s and `workflowTemplateRef`s (as `argo lint` does with several files); a
`TemplateStore` adds those applied earlier. A reference that neither knows is an error
when the store is available, and only a warning when it is not.

The rules live in `_rules.py`, the scope of `{{...}}` variables in `_scope.py`, cron
schedules in `_cron.py`; the field table in `schema.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from jupyter_argo.errors import LintError, Location, ParseError
from jupyter_argo.spec.parse import ARGO_KINDS, Document, parse_text
from jupyter_argo.spec.schema import check_fields, field_table

__all__ = ["Diagnostic", "TemplateStore", "lint", "lint_text", "raise_for"]

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Diagnostic:
    """One finding; renders as `file:line:col: path: message (hint)`."""

    severity: Severity
    location: Location
    message: str
    hint: str = ""

    def __str__(self) -> str:
        label = "" if self.severity == "error" else f"{self.severity}: "
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.location}: {label}{self.message}{hint}"


class TemplateStore(Protocol):
    """WorkflowTemplates and ClusterWorkflowTemplates known beyond the linted documents."""

    @property
    def available(self) -> bool:
        """False when the store cannot be asked (then unknown references are warnings)."""
        ...

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """The manifest of `kind` ("WorkflowTemplate" or "ClusterWorkflowTemplate") `name`."""
        ...


def lint(
    documents: list[Document], *, templates: TemplateStore | None = None, strict: bool = True
) -> list[Diagnostic]:
    """Every finding in `documents`, in document order. `strict=False` makes unknown
    fields warnings (Argo's non-strict decoding drops them)."""
    from jupyter_argo.spec._rules import Linter

    table = field_table()
    store = _Store(documents, templates)
    out: list[Diagnostic] = []
    for document in documents:
        found: list[Diagnostic] = []
        for location, message in document.warnings:
            found.append(Diagnostic("warning", location, message))
        root = table.root(document.kind)
        if root is not None and isinstance(document.body, list):
            root = {"list": root}  # a list of bare templates
        if root is None:
            found.append(_not_checked(document))
        else:
            for problem in check_fields(document.body, root, table):
                unknown = problem.message.startswith("unknown field")
                severity: Severity = "warning" if unknown and not strict else "error"
                where = document.locate(problem.path, key=problem.at_key)
                found.append(Diagnostic(severity, where, problem.message, problem.hint))
            if document.kind != "Other":
                found.extend(Linter(document, store).run())
        found.sort(key=lambda d: (d.location.line or 0, d.location.column or 0))
        out.extend(found)
    return out


# argoproj.io kinds of Argo Workflows, Events, CD and Rollouts that are not ours to check.
_OTHER_ARGO_KINDS = frozenset(
    {
        "WorkflowEventBinding",
        "WorkflowTaskSet",
        "WorkflowTaskResult",
        "WorkflowArtifactGCTask",
        "Sensor",
        "EventSource",
        "EventBus",
        "Application",
        "ApplicationSet",
        "AppProject",
        "Rollout",
        "AnalysisTemplate",
        "ClusterAnalysisTemplate",
        "AnalysisRun",
        "Experiment",
    }
)


def _not_checked(document: Document) -> Diagnostic:
    body = document.body
    kind, api = str(body.get("kind")), str(body.get("apiVersion", ""))
    where = document.locate(("kind",))
    if api.startswith("argoproj.io/") and kind not in _OTHER_ARGO_KINDS:
        return Diagnostic(
            "warning",
            where,
            f"{api} has no kind {kind!r}: not checked",
            "Argo Workflows kinds are " + ", ".join(ARGO_KINDS),
        )
    return Diagnostic("note", where, f"{kind} {document.name!r} is not an Argo manifest: skipped")


def lint_text(
    text: str | bytes,
    file: str = "<cell>",
    *,
    templates: TemplateStore | None = None,
    strict: bool = True,
) -> list[Diagnostic]:
    """Parse and lint `text`; a text that does not parse gives one error diagnostic."""
    try:
        documents = parse_text(text, file)
    except ParseError as err:
        return [Diagnostic("error", err.location or Location(file), err.message)]
    return lint(documents, templates=templates, strict=strict)


def raise_for(diagnostics: Iterable[Diagnostic]) -> None:
    """Raise LintError carrying the errors among `diagnostics`, if there are any."""
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise LintError(list(errors))


# --- resolving WorkflowTemplates -----------------------------------------------------------


class _Store:
    """The templates of this lint call first, then the caller's store."""

    def __init__(self, documents: list[Document], templates: TemplateStore | None) -> None:
        self.local: dict[tuple[str, str], dict[str, Any]] = {}
        for document in documents:
            if document.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
                meta = document.body.get("metadata")
                name = meta.get("name") if isinstance(meta, dict) else None
                if isinstance(name, str):
                    self.local.setdefault((document.kind, name), document.body)
        self.external = templates

    @property
    def available(self) -> bool:
        return self.external is not None and bool(self.external.available)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        body = self.local.get((kind, name))
        if body is None and self.available and self.external is not None:
            found = self.external.get(kind, name)
            body = found if isinstance(found, dict) else None
        return body
