"""`{{...}}` substitution as Argo's util/template does it (fasttemplate + Replace*).

Argo substitutes on the JSON-marshalled template, so a simple tag's value is written
escaped as inside a JSON string (strconv.Quote without its quotes) and an expression's
result is JSON-marshalled with its quotes stripped. Unresolved tags stay literal unless
strict. A `None` value is an absent optional (the output of a skipped or omitted node):
a simple tag on it is a terminal error, while `{{= x ?? 'default'}}` can handle it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_argo.errors import ExpressionError
from jupyter_argo.expr import _ast as ast
from jupyter_argo.expr._quote import go_quote

if TYPE_CHECKING:
    from jupyter_argo.expr._expression import Expression

__all__ = ["PLACEHOLDER_PREFIX", "Tag", "find_tags", "substitute", "substitute_object"]

PLACEHOLDER_PREFIX = "__argo__internal__placeholder-"

# Variables Argo only knows late (while retrying, looping or exiting): an expression that
# needs one of them and cannot see it yet is left for a later pass.
_LATE_BINDING = frozenset(
    {
        "item",
        "retries",
        "lastRetry.exitCode",
        "lastRetry.status",
        "lastRetry.duration",
        "lastRetry.message",
        "workflow.status",
        "workflow.failures",
    }
)

Strict = bool | tuple[str, ...]


@dataclass(frozen=True)
class Tag:
    """A `{{...}}` tag: `kind` is "simple" or "expression", `body` is trimmed."""

    kind: str
    body: str
    start: int
    end: int


def _scan(text: str) -> list[tuple[int, int, str]]:
    """(start, end, raw content) of every tag, as fasttemplate splits them."""
    tags: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            return tags
        close = text.find("}}", start + 2)
        if close < 0:
            raise ExpressionError(
                f'cannot find end tag "}}}}" for the "{{{{" at offset {start}: '
                f"{_excerpt(text[start:])}"
            )
        tags.append((start, close + 2, text[start + 2 : close]))
        pos = close + 2


def _excerpt(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def find_tags(text: str) -> list[Tag]:
    """Every `{{...}}` tag in `text`, in order, as Argo's fasttemplate finds them."""
    out = []
    for start, end, content in _scan(text):
        if content.startswith("="):
            out.append(Tag("expression", content[1:].strip(), start, end))
        else:
            out.append(Tag("simple", content.strip(), start, end))
    return out


def _strict_pattern(strict: Strict) -> re.Pattern[str] | None:
    if strict is True:
        return re.compile(".*")
    if not strict:
        return None
    prefixes = [re.escape(p.rstrip(".")) for p in strict if p.rstrip(".")]
    if not prefixes:
        return None
    return re.compile("^((" + "|".join(prefixes) + r"))(\.|$)")


def _json_fix(text: str) -> str:
    # Go's json.Marshal escapes <, > and & inside strings; Argo undoes it for expressions.
    return text.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&")


class _Substitution:
    def __init__(
        self,
        variables: Mapping[str, Any],
        strict: Strict,
        expression_env: Mapping[str, Any] | None,
        json_escape: bool,
    ) -> None:
        self.variables = variables
        self.pattern = _strict_pattern(strict)
        # Only Replace(allowUnresolved=false), i.e. strict=True, is strict on artifacts too.
        self.artifacts_may_wait = strict is not True
        self.env = expression_env
        self.json_escape = json_escape
        self._placeholders: bool | None = None

    def escape(self, value: str) -> str:
        return go_quote(value) if self.json_escape else value

    # simple tags

    def simple(self, content: str) -> str:
        key = content.strip()
        variables = self.variables
        if key in variables:
            value = variables[key]
            if value is None:
                raise ExpressionError(
                    f"unable to substitute {{{{{content}}}}}: output is an absent optional "
                    "(skipped/omitted node with no default)"
                )
            if not isinstance(value, str):
                raise ExpressionError(f"failed to resolve {{{{{content}}}}} to string")
            return self.escape(value)
        index = content.rfind("{{")
        if index > 0:
            prefix, nested = content[:index], content[index + 2 :]
            if nested in variables:
                value = variables[nested]
                if value is None:
                    raise ExpressionError(
                        f"unable to substitute nested tag {{{{{content}}}}}: "
                        f'"{go_quote(nested)}" is an absent optional'
                    )
                if isinstance(value, str):
                    return "{{" + prefix + self.escape(value)
        strict = self.pattern is not None and self.pattern.match(key)
        if strict and not (self.artifacts_may_wait and ".outputs.artifacts." in key):
            raise ExpressionError(f"failed to resolve {{{{{content}}}}}")
        return "{{" + content + "}}"

    # expression tags

    def expression(self, content: str) -> str:
        # The expr-lang compiler loads with the first `{{= ...}}` evaluated, not before.
        from jupyter_argo.expr._expression import compile_expression

        text = content[1:]
        if self.env is None:
            return "{{" + content + "}}"
        if self.json_escape:
            text = _json_fix(text)
            try:
                source = json.loads('"' + text + '"')
            except ValueError as err:
                raise ExpressionError(f"failed to unmarshall JSON expression: {err}") from None
            if not isinstance(source, str):
                raise ExpressionError("failed to unmarshall JSON expression")
        else:
            source = text
        env = self.env
        try:
            program = compile_expression(source)
        except ExpressionError as err:
            if not self.placeholders():
                raise ExpressionError(f"failed to evaluate expression: {err}") from None
            return "{{=" + text + "}}"
        missing = [name for name in identifiers(program.tree) if not has_var(env, name)]
        if self.pattern is not None:
            for name in missing:
                if self.pattern.match(name):
                    raise ExpressionError(f"failed to evaluate expression: {name} is missing")
        allow = bool(missing) or self.pattern is None
        return self.evaluate(program, env, text, source, missing, allow)

    def placeholders(self) -> bool:
        if self._placeholders is None:
            self._placeholders = self.env is not None and _has_placeholder(self.env, 0)
        return self._placeholders

    def evaluate(
        self,
        program: Expression,
        env: Mapping[str, Any],
        text: str,
        source: str,
        missing: list[str],
        allow: bool,
    ) -> str:
        unresolved = "{{=" + text + "}}"
        if allow and any(name in _LATE_BINDING for name in missing):
            return unresolved
        tolerate = allow or self.placeholders()
        try:
            program.check(env)
        except ExpressionError as err:
            if tolerate:
                return unresolved
            raise ExpressionError(f"failed to evaluate expression: {err}") from None
        try:
            result = program.run(env)
        except ExpressionError as err:
            if tolerate:
                return unresolved
            raise ExpressionError(f"failed to evaluate expression: {err}") from None
        if result is None:
            if tolerate:
                return unresolved
            raise ExpressionError(f'failed to evaluate expression "{go_quote(source)}"')
        from jupyter_argo.expr._values import GoError, json_marshal  # (loaded by the program)

        try:
            marshalled = json_marshal(result)
        except GoError as err:
            if allow:
                return unresolved
            raise ExpressionError(f"failed to marshal evaluated expression: {err}") from None
        if len(marshalled) > 1 and marshalled[0] == '"' and marshalled[-1] == '"':
            if self.json_escape:
                return marshalled[1:-1]
            return str(json.loads(marshalled))
        return go_quote(marshalled) if self.json_escape else marshalled


def _has_placeholder(value: Any, depth: int) -> bool:
    if depth > 100:
        return False
    if isinstance(value, str):
        return value.startswith(PLACEHOLDER_PREFIX)
    if isinstance(value, Mapping):
        return any(_has_placeholder(v, depth + 1) for v in value.values())
    return False


def identifiers(tree: ast.Node) -> list[str]:
    """The names and member paths an expression needs (Argo's getIdentifiers).

    Paths guarded by `??` or `?.` are left out, but their base names stay, so a
    variable that does not exist yet still counts as missing.
    """
    guarded: set[int] = set()
    nodes = _postorder(tree)
    for node in nodes:
        if isinstance(node, ast.Binary) and node.op == "??":
            guarded.update(id(n) for n in _postorder(node.left) if isinstance(n, ast.Member))
        if isinstance(node, ast.Member) and node.optional and isinstance(node.node, ast.Member):
            guarded.add(id(node.node))
    names: list[str] = []
    seen: set[str] = set()
    for node in nodes:
        if id(node) in guarded:
            continue
        name: str | None = None
        if isinstance(node, ast.Ident):
            name = node.name
        elif isinstance(node, ast.Member):
            name = _member_path(node)
        if name is not None and name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _postorder(tree: ast.Node) -> list[ast.Node]:
    out: list[ast.Node] = []
    stack: list[tuple[ast.Node, bool]] = [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            out.append(node)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(ast.children(node)))
    return out


def _member_path(node: ast.Member) -> str | None:
    parts: list[str] = []
    current: ast.Node = node
    while isinstance(current, ast.Member):
        if current.optional:
            return None
        prop = current.prop
        if not isinstance(prop, ast.Const) or not isinstance(prop.value, str):
            return None
        parts.append(prop.value)
        current = current.node
    if isinstance(current, ast.Ident):
        parts.append(current.name)
        return ".".join(reversed(parts))
    return None


def has_var(env: Mapping[str, Any], path: str) -> bool:
    """Whether `path` (a name or dotted member path) exists in env; a nil leaf counts."""
    if path in env:
        return True
    parts = path.split(".")
    current: Any = env
    rest = parts
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in env:
            current, rest = env[prefix], parts[i:]
            break
    for part in rest:
        if isinstance(current, Mapping):
            if part not in current:
                return False
            current = current[part]
        else:
            fields = getattr(current, "fields", None)
            if not isinstance(fields, Mapping) or part not in fields:
                return False
            current = fields[part]
    return True


def _render(text: str, substitution: _Substitution) -> tuple[str, list[tuple[int, int, str]]]:
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    size = 0
    for start, end, content in _scan(text):
        chunk = text[pos:start]
        out.append(chunk)
        size += len(chunk)
        if content.startswith("="):
            replacement = substitution.expression(content)
        else:
            replacement = substitution.simple(content)
        out.append(replacement)
        spans.append((size, size + len(replacement), text[start:end]))
        size += len(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out), spans


def substitute(
    text: str,
    variables: Mapping[str, str | None],
    *,
    strict: Strict = False,
    expression_env: Mapping[str, Any] | None = None,
    json_escape: bool = True,
) -> str:
    """Argo's Replace / ReplaceStrict on `text`.

    `strict=True` makes every unresolved tag an error (Replace with allowUnresolved
    false); a tuple of prefixes such as ("steps", "tasks") does so only for tags under
    them (ReplaceStrict). Expression tags are evaluated when `expression_env` is given.
    With `json_escape`, `text` is JSON text and values are escaped to stay inside its
    strings; without it values are inserted as they are.
    """
    if "{{" not in text:
        return text
    rendered, _ = _render(text, _Substitution(variables, strict, expression_env, json_escape))
    return rendered


def substitute_object(
    obj: Any,
    variables: Mapping[str, str | None],
    *,
    strict: Strict = False,
    expression_env: Mapping[str, Any] | None = None,
    json_escape: bool = True,
) -> Any:
    """Substitute inside a JSON-able object the way Argo does: marshal, replace, unmarshal.

    Values are always JSON-escaped here (`json_escape` is accepted for symmetry with
    `substitute`); a result that is no longer JSON names the tag that broke it.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if "{{" not in text:
        return json.loads(text)
    substitution = _Substitution(variables, strict, expression_env, json_escape=True)
    rendered, spans = _render(text, substitution)
    try:
        return json.loads(rendered)
    except json.JSONDecodeError as err:
        culprit = _culprit(spans, err.pos)
        where = f": the value substituted for {culprit} breaks it" if culprit else ""
        raise ExpressionError(
            "cannot finish template replacement because the result was invalid JSON" + where
        ) from None


def _culprit(spans: list[tuple[int, int, str]], pos: int) -> str | None:
    best: str | None = None
    for start, end, tag in spans:
        if start <= pos <= end:
            return tag
        if start <= pos:
            best = tag
    return best
