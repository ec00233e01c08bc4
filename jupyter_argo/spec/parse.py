"""Text -> Argo manifests, with the source position of every value.

The YAML is read as an event stream (libyaml when present) and composed here without
recursion, so deep nesting, alias bombs and huge inputs are refused with one clear
line instead of a RecursionError, a hang or a swollen process. Only YAML's safe types
are ever constructed: a `!!python/...` tag is an error, never executed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import yaml

from jupyter_argo.errors import Location, ParseError

__all__ = [
    "ARGO_KINDS",
    "STORE_KINDS",
    "TEMPLATE_TYPES",
    "Document",
    "ManifestPath",
    "format_path",
    "parse_file",
    "parse_text",
]

ManifestPath = tuple[str | int, ...]

ARGO_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
STORE_KINDS = ("ConfigMap", "Secret")
TEMPLATE_TYPES = (
    "container",
    "containerSet",
    "dag",
    "data",
    "http",
    "plugin",
    "resource",
    "script",
    "steps",
    "suspend",
)

# Kubernetes refuses request bodies over 3 MiB; nothing larger can be a real manifest.
MAX_BYTES = 3 * 1024 * 1024
# Real manifests nest a few dozen levels; every walker downstream stays well clear of
# Python's recursion limit below this.
MAX_DEPTH = 200
# Aliases are shared, not copied, but walkers visit shared parts once per reference.
MAX_EXPANDED_NODES = 1_000_000

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Document:
    """One YAML document of a cell or file, as plain data plus where each value stands.

    `kind` is the manifest's kind (`Workflow`, `ConfigMap`, ...), `Template` for a bare
    template or a list of them, or `Other` for a Kubernetes object we do not run.
    """

    kind: str
    body: Any
    file: str
    index: int
    line: int
    positions: dict[ManifestPath, tuple[int, int]] = field(repr=False, default_factory=dict)
    key_positions: dict[ManifestPath, tuple[int, int]] = field(repr=False, default_factory=dict)
    # Findings that do not stop parsing (a duplicate key: the last value wins, as in
    # Kubernetes' YAML reader).
    warnings: list[tuple[Location, str]] = field(repr=False, default_factory=list)

    @property
    def name(self) -> str:
        if isinstance(self.body, dict):
            meta = self.body.get("metadata")
            if isinstance(meta, dict):
                return str(meta.get("name") or meta.get("generateName") or "")
            return str(self.body.get("name", ""))
        return ""

    def locate(self, path: ManifestPath, *, key: bool = False) -> Location:
        """The location of `path`; `key=True` points at the mapping key rather than its value."""
        probe = tuple(path)
        if key and probe in self.key_positions:
            line, column = self.key_positions[probe]
            return Location(self.file, line, column, format_path(path))
        while probe:
            if probe in self.positions:
                break
            probe = probe[:-1]
        line, column = self.positions.get(probe, (self.line, 1))
        return Location(self.file, line, column, format_path(path))

    def templates(self) -> Iterator[tuple[ManifestPath, dict[str, Any]]]:
        """Each template of this document with its path."""
        body = self.body
        if self.kind == "Template":
            if isinstance(body, dict):
                yield (), body
            else:
                for i, tmpl in enumerate(body):
                    if isinstance(tmpl, dict):
                        yield (i,), tmpl
            return
        spec = body.get("spec") if isinstance(body, dict) else None
        if self.kind == "CronWorkflow" and isinstance(spec, dict):
            spec = spec.get("workflowSpec")
            base: ManifestPath = ("spec", "workflowSpec", "templates")
        else:
            base = ("spec", "templates")
        if isinstance(spec, dict) and isinstance(spec.get("templates"), list):
            for i, tmpl in enumerate(spec["templates"]):
                if isinstance(tmpl, dict):
                    yield (*base, i), tmpl


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: ManifestPath) -> str:
    """`("spec", "templates", 0, "name")` -> `spec.templates[0].name`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def parse_file(path: str | FilePath) -> list[Document]:
    file = FilePath(path)
    try:
        raw = file.read_bytes()
    except OSError as err:
        raise ParseError(f"cannot read: {err.strerror}", Location(str(path))) from None
    return parse_text(raw, str(path))


def parse_text(text: str | bytes, file: str = "<cell>") -> list[Document]:
    """Every non-empty document of `text`, classified by kind. Raises ParseError."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise _too_large(len(text), file)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ParseError(
                f"not UTF-8 text (byte {err.start} is {text[err.start]:#04x}); "
                "manifests are YAML or JSON text",
                Location(file),
            ) from None
    if len(text) > MAX_BYTES:
        raise _too_large(len(text.encode("utf-8", "replace")), file)
    if not text.strip():
        raise ParseError(
            "empty: expected a Workflow, WorkflowTemplate, ClusterWorkflowTemplate, "
            "CronWorkflow, ConfigMap, Secret, or templates",
            Location(file),
        )
    documents = [d for d in _Composer(text, file).documents() if d is not None]
    if not documents:
        raise ParseError("no YAML documents (only comments or empty documents)", Location(file))
    return documents


def _too_large(size: int, file: str) -> ParseError:
    return ParseError(
        f"{size / 1e6:.1f} MB is too large: manifests are limited to "
        f"{MAX_BYTES // (1024 * 1024)} MiB (the Kubernetes API server's limit)",
        Location(file),
    )


class _Resolver(yaml.resolver.Resolver):
    """YAML 1.1 implicit types as PyYAML's SafeLoader has them, minus timestamps.

    Kubernetes reads manifests through JSON, where a date stays the string it was.
    """


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}


class _Frame:
    """A mapping or sequence being composed."""

    __slots__ = ("anchor", "container", "count", "is_map", "key", "key_mark", "path")

    def __init__(self, container: Any, path: ManifestPath, anchor: str | None) -> None:
        self.container = container
        self.is_map = isinstance(container, dict)
        self.path = path
        self.anchor = anchor
        self.key: Any = _NO_KEY
        self.key_mark: tuple[int, int] = (0, 0)
        self.count = 1


_NO_KEY = object()


class _Composer:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.resolver = _Resolver()
        self.constructor = yaml.constructor.SafeConstructor()

    def _error(self, message: str, mark: Any | None, path: ManifestPath = ()) -> ParseError:
        if mark is None:
            return ParseError(message, Location(self.file, path=format_path(path)))
        return ParseError(
            message, Location(self.file, mark.line + 1, mark.column + 1, format_path(path))
        )

    def documents(self) -> Iterator[Document | None]:
        events = yaml.parse(self.text, Loader=_Loader)
        index = 0
        try:
            for event in events:
                if isinstance(event, yaml.DocumentStartEvent):
                    doc = self._document(events, index, event.start_mark)
                    index += 1
                    yield doc
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            problem = err.problem or err.context or "invalid YAML"
            raise self._error(f"invalid YAML: {problem}", mark) from None
        except yaml.YAMLError as err:
            raise self._error(f"invalid YAML: {err}", None) from None

    def _document(self, events: Iterator[Any], index: int, start: Any) -> Document | None:
        positions: dict[ManifestPath, tuple[int, int]] = {}
        key_positions: dict[ManifestPath, tuple[int, int]] = {}
        anchors: dict[str, tuple[Any, int]] = {}
        warnings: list[tuple[Location, str]] = []
        stack: list[_Frame] = []
        root: Any = None
        root_set = False
        expanded = 0

        def place(value: Any, count: int, mark: Any) -> None:
            nonlocal root, root_set, expanded
            expanded += count
            if expanded > MAX_EXPANDED_NODES:
                raise self._error(
                    f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values "
                    "(an alias bomb?); write the values out instead",
                    mark,
                )
            if not stack:
                root, root_set = value, True
                return
            top = stack[-1]
            top.count += count
            if top.is_map:
                if top.key is _NO_KEY:
                    if isinstance(value, (dict, list)):
                        raise self._error("a mapping key must be a plain value", mark, top.path)
                    top.key = value if isinstance(value, str) else _key_text(value)
                    top.key_mark = (mark.line + 1, mark.column + 1)
                else:
                    key = top.key
                    if key in top.container:
                        warnings.append(
                            (
                                Location(
                                    self.file,
                                    top.key_mark[0],
                                    top.key_mark[1],
                                    format_path((*top.path, key)),
                                ),
                                f"duplicate key {key!r}: the last value wins (remove one)",
                            )
                        )
                    top.container[key] = value
                    key_path = (*top.path, key)
                    key_positions[key_path] = top.key_mark
                    top.key = _NO_KEY
            else:
                top.container.append(value)

        def child_path() -> ManifestPath:
            if not stack:
                return ()
            top = stack[-1]
            if top.is_map:
                return top.path if top.key is _NO_KEY else (*top.path, top.key)
            return (*top.path, len(top.container))

        def is_key_slot() -> bool:
            return bool(stack) and stack[-1].is_map and stack[-1].key is _NO_KEY

        for event in events:
            if isinstance(event, yaml.DocumentEndEvent):
                break
            mark = event.start_mark
            if isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise self._error(f"unknown alias *{event.anchor}", mark)
                value, count = anchors[event.anchor]
                if not is_key_slot():
                    positions.setdefault(child_path(), (mark.line + 1, mark.column + 1))
                place(value, count, mark)
            elif isinstance(event, yaml.ScalarEvent):
                value = self._scalar(event, child_path())
                if not is_key_slot():
                    positions[child_path()] = (mark.line + 1, mark.column + 1)
                if event.anchor:
                    anchors[event.anchor] = (value, 1)
                place(value, 1, mark)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if is_key_slot():
                    raise self._error("a mapping key must be a plain value", mark, child_path())
                self._check_tag(event, child_path())
                if len(stack) >= MAX_DEPTH:
                    raise self._error(
                        f"nested more than {MAX_DEPTH} levels deep; Argo manifests are "
                        "far shallower (is this generated by mistake?)",
                        mark,
                    )
                path = child_path()
                positions[path] = (mark.line + 1, mark.column + 1)
                container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
                stack.append(_Frame(container, path, event.anchor))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                frame = stack.pop()
                if frame.anchor:
                    anchors[frame.anchor] = (frame.container, frame.count)
                expanded -= frame.count - 1  # its children were already counted
                place(frame.container, frame.count, mark)
        if not root_set or root is None:
            return None
        line = start.line + 1
        kind = self._classify(root, index, line, positions)
        return Document(kind, root, self.file, index, line, positions, key_positions, warnings)

    def _check_tag(self, event: Any, path: ManifestPath) -> None:
        tag = event.tag
        allowed = ("map", "seq", "omap", "set")
        if tag and tag != "!" and tag not in [f"tag:yaml.org,2002:{t}" for t in allowed]:
            raise self._error(
                f"YAML tag {tag!r} is not allowed: manifests hold plain data only",
                event.start_mark,
                path,
            )

    def _scalar(self, event: Any, path: ManifestPath) -> Any:
        if event.tag and event.tag != "!" and not event.tag.startswith("tag:yaml.org,2002:"):
            raise self._error(
                f"YAML tag {event.tag!r} is not allowed: manifests hold plain data only",
                event.start_mark,
                path,
            )
        tag = event.tag
        if not tag or tag == "!":
            tag = self.resolver.resolve(  # type: ignore[no-untyped-call]
                yaml.ScalarNode, event.value, event.implicit
            )
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as err:
            problem = err.problem or "cannot read this value"
            raise self._error(f"invalid YAML: {problem}", event.start_mark, path) from None
        except (ValueError, OverflowError) as err:
            raise self._error(f"invalid value: {err}", event.start_mark, path) from None

    def _classify(
        self, root: Any, index: int, line: int, positions: dict[ManifestPath, tuple[int, int]]
    ) -> str:
        where = Location(self.file, line, 1)
        if isinstance(root, list):
            for i, item in enumerate(root):
                if not _is_template(item):
                    pos = positions.get((i,), (line, 1))
                    raise ParseError(
                        "a list must hold templates: mappings with `name` and one of "
                        + ", ".join(TEMPLATE_TYPES),
                        Location(self.file, pos[0], pos[1], f"[{i}]"),
                    )
            return "Template"
        if not isinstance(root, dict):
            raise ParseError(
                f"document {index + 1} is {_describe(root)}, not a manifest "
                "(expected a mapping with `kind`, or a template)",
                where,
            )
        kind = root.get("kind")
        if kind is None:
            if _is_template(root):
                return "Template"
            raise ParseError(
                "no `kind`, and not a template either (a template has `name` and one of "
                + ", ".join(TEMPLATE_TYPES)
                + ")",
                where,
            )
        kind_at = positions.get(("kind",), (line, 1))
        kind_where = Location(self.file, kind_at[0], kind_at[1], "kind")
        if not isinstance(kind, str):
            raise ParseError(f"`kind` must be a string, not {_describe(kind)}", kind_where)
        api = str(root.get("apiVersion", ""))
        if kind in ARGO_KINDS:
            if api and not api.startswith("argoproj.io/"):
                raise ParseError(
                    f"apiVersion {api!r} is not Argo's (use argoproj.io/v1alpha1)",
                    Location(self.file, *positions.get(("apiVersion",), (line, 1)), "apiVersion"),
                )
            return kind
        if kind in STORE_KINDS:
            return kind
        import difflib

        close = difflib.get_close_matches(kind, ARGO_KINDS + STORE_KINDS, n=1, cutoff=0.75)
        if close:
            raise ParseError(f"unknown kind {kind!r} (did you mean {close[0]}?)", kind_where)
        if not api:
            raise ParseError(
                f"unknown kind {kind!r} with no apiVersion; expected one of "
                + ", ".join(ARGO_KINDS + STORE_KINDS),
                kind_where,
            )
        return "Other"


def _is_template(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("name"), str)
        and any(t in value for t in TEMPLATE_TYPES)
    )


def _key_text(value: Any) -> str:
    # Kubernetes reads YAML through JSON, where every key is a string.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"
