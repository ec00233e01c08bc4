"""Manifests: parse text into documents with positions, and lint them."""

from jupyter_argo.spec.lint import Diagnostic, TemplateStore, lint, lint_text, raise_for
from jupyter_argo.spec.parse import Document, format_path, parse_file, parse_text

__all__ = [
    "Diagnostic",
    "Document",
    "TemplateStore",
    "format_path",
    "lint",
    "lint_text",
    "parse_file",
    "parse_text",
    "raise_for",
]
