"""Manifests: parse text into documents with positions, and lint them."""

from jupyter_argo.spec.parse import Document, format_path, parse_file, parse_text

__all__ = ["Document", "format_path", "parse_file", "parse_text"]
