"""JSONPath as Argo's `jsonpath(json, path)` evaluates it (evilmonkeyinc/jsonpath v0.8).

That library has its own tokenizer and a small string-splitting script engine for
filters (`[?(@.age > 42)]`) and scripts (`[(@.length-1)]`); its results differ from
other JSONPath dialects (a single index returns the element, a filter returns a list,
a missing key is an error). This module reproduces it token type by token type.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from jupyter_argo.expr._regex import RegexError, compile_re2
from jupyter_argo.expr._values import format_v

__all__ = ["JsonPathError", "query"]


class JsonPathError(ValueError):
    """The selector is invalid or does not apply to the data."""


_INT = re.compile(r"[+-]?[0-9]+")


def _parse_int(text: str) -> int | None:
    if _INT.fullmatch(text):
        value = int(text)
        if -(1 << 63) <= value < 1 << 63:
            return value
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "invalid"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list | tuple):
        return "slice"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return "struct"


def _kinds(kinds: tuple[str, ...]) -> str:
    return "[" + " ".join(kinds) + "]"


def _target_error(token: str, got: Any, *expected: str) -> JsonPathError:
    got_kind = "nil" if got is None else _kind(got)
    return JsonPathError(
        f"{token}: invalid token target. expected {_kinds(expected)} got [{got_kind}]"
    )


def _is_integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _sorted_items(value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return sorted(value.items(), key=lambda kv: str(kv[0]))


# --- tokens ------------------------------------------------------------------------------


class _Token:
    kind = ""

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        raise NotImplementedError


def _next(root: Any, value: Any, rest: list[_Token]) -> Any:
    return rest[0].apply(root, value, rest[1:]) if rest else value


class _Root(_Token):
    kind = "root"

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        return _next(root, root, rest)


class _Current(_Token):
    kind = "current"

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        return _next(root, current, rest)


class _Key(_Token):
    kind = "key"

    def __init__(self, key: str) -> None:
        self.key = key

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        if current is None:
            raise _target_error("key", None, "map")
        if isinstance(current, Mapping):
            for k, v in current.items():
                if str(k) == self.key:
                    return _next(root, v, rest)
            raise JsonPathError(f"key: invalid token key '{self.key}' not found")
        raise _target_error("key", current, "map")


class _Length(_Token):
    kind = "length"

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        kinds = ("array", "map", "slice", "string")
        if current is None:
            raise _target_error("length", None, *kinds)
        if isinstance(current, Mapping):
            value: Any = current["length"] if "length" in current else len(current)
        elif isinstance(current, list | tuple):
            value = len(current)
        elif isinstance(current, str):
            value = len(current.encode())
        else:
            raise _target_error("length", current, *kinds)
        return _next(root, value, rest)


class _Index(_Token):
    kind = "index"

    def __init__(self, index: int) -> None:
        self.index = index

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        if current is None:
            raise _target_error("index", None, "array", "slice")
        if not isinstance(current, list | tuple):
            raise _target_error("index", current, "array", "slice")
        index = self.index + len(current) if self.index < 0 else self.index
        if index < 0 or index >= len(current):
            raise JsonPathError("index: invalid token out of range")
        return _next(root, current[index], rest)


class _Wildcard(_Token):
    kind = "wildcard"

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        if current is None:
            raise _target_error("wildcard", None, "array", "map", "slice")
        if isinstance(current, Mapping):
            values = [v for _, v in _sorted_items(current)]
        elif isinstance(current, list | tuple):
            values = list(current)
        else:
            raise _target_error("wildcard", current, "array", "map", "slice")
        out = []
        for value in values:
            if rest:
                try:
                    value = rest[0].apply(root, value, rest[1:])
                except JsonPathError:
                    value = None
                if value is None:
                    continue
            out.append(value)
        return out


class _Recursive(_Token):
    kind = "recursive"

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        return self.walk(root, current, rest, 0)

    def walk(self, root: Any, current: Any, rest: list[_Token], depth: int) -> list[Any]:
        if depth > 500:
            raise JsonPathError("recursive: data is nested too deeply")
        out: list[Any] = []
        if current is None:
            return out
        if rest:
            try:
                result = rest[0].apply(root, current, rest[1:])
            except JsonPathError:
                result = None
            if isinstance(result, list | tuple):
                out.extend(result)
            elif result is not None:
                out.append(result)
        else:
            out.append(current)
        if isinstance(current, Mapping):
            children = [v for _, v in _sorted_items(current)]
        elif isinstance(current, list | tuple):
            children = list(current)
        else:
            children = []
        for child in children:
            out.extend(self.walk(root, child, rest, depth + 1))
        return out


def _for_each(rest: list[_Token]) -> bool:
    return bool(rest) and not isinstance(rest[0], _Index)


def _handle_next(root: Any, item: Any, rest: list[_Token]) -> tuple[Any, bool]:
    try:
        value = rest[0].apply(root, item, rest[1:])
    except JsonPathError:
        return None, False
    return value, value is not None


class _Union(_Token):
    kind = "union"

    def __init__(self, args: list[Any]) -> None:
        self.args = args

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        keys: list[str] = []
        indices: list[int] = []
        for arg in self.args:
            value = arg
            if isinstance(arg, _Token):
                try:
                    value = arg.apply(root, current, [])
                except JsonPathError as err:
                    raise JsonPathError(f"union: invalid token {err}") from None
            if value is None:
                raise JsonPathError(
                    "union: invalid token argument. expected [int string] got [nil]"
                )
            if isinstance(value, str):
                keys.append(value)
                if indices:
                    raise JsonPathError(
                        "union: invalid token argument. expected [string] got [int]"
                    )
            elif (number := _is_integer(value)) is not None:
                indices.append(number)
                if keys:
                    raise JsonPathError(
                        "union: invalid token argument. expected [int] got [string]"
                    )
            else:
                raise JsonPathError(
                    f"union: invalid token argument. expected [int string] got [{_kind(value)}]"
                )
        for_each = _for_each(rest)
        elements: list[Any] = []
        if keys:
            if current is None:
                raise _target_error("union", None, "map")
            if not isinstance(current, Mapping):
                raise _target_error("union", current, "map")
            lookup = {str(k): v for k, v in current.items()}
            for key in keys:
                if key in lookup:
                    self.add(root, lookup[key], for_each, rest, elements)
        else:
            if current is None:
                raise _target_error("union", None, "array", "slice")
            if not isinstance(current, list | tuple):
                raise _target_error("union", current, "array", "slice")
            for index in indices:
                if index < 0:
                    index += len(current)
                if 0 <= index < len(current):
                    self.add(root, current[index], for_each, rest, elements)
        if not for_each and rest:
            return rest[0].apply(root, elements, rest[1:])
        return elements

    @staticmethod
    def add(root: Any, item: Any, for_each: bool, rest: list[_Token], out: list[Any]) -> None:
        if not for_each:
            out.append(item)
            return
        value, ok = _handle_next(root, item, rest)
        if ok:
            out.append(value)


class _Range(_Token):
    kind = "range"

    def __init__(self, start: Any, stop: Any, step: Any) -> None:
        self.start, self.stop, self.step = start, stop, step

    def argument(self, root: Any, current: Any, arg: Any) -> int:
        if isinstance(arg, _Token):
            try:
                result = arg.apply(root, current, [])
            except JsonPathError as err:
                raise JsonPathError(f"range: invalid token {err}") from None
            if result is None:
                raise JsonPathError(
                    "range: invalid token unexpected expression result. expected [int] got [nil]"
                )
            number = _is_integer(result)
            if number is None:
                raise JsonPathError(
                    "range: invalid token unexpected expression result. expected [int] got "
                    f"[{_kind(result)}]"
                )
            return number
        number = _is_integer(arg)
        if number is None:
            raise JsonPathError(f"range: invalid token argument. expected [int] got [{_kind(arg)}]")
        return number

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        if current is None:
            raise _target_error("range", None, "array", "slice")
        if not isinstance(current, list | tuple):
            raise _target_error("range", current, "array", "slice")
        length = len(current)
        start = 0
        if self.start is not None:
            start = self.argument(root, current, self.start)
            start = min(max(start + length if start < 0 else start, 0), length)
        stop = length
        if self.stop is not None:
            stop = self.argument(root, current, self.stop)
            stop = min(max(stop + length if stop < 0 else stop, 0), length)
        step = 1
        if self.step is not None:
            step = self.argument(root, current, self.step)
            if step == 0:
                raise JsonPathError("range: invalid token out of range")
        indices = range(stop - 1, start - 1, step) if step < 0 else range(start, stop, step)
        for_each = _for_each(rest)
        elements: list[Any] = []
        for i in indices:
            _Union.add(root, current[i], for_each, rest, elements)
        if not for_each and rest:
            return rest[0].apply(root, elements, rest[1:])
        return elements


class _Filter(_Token):
    kind = "filter"

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.compiled = _compile_script(expression)

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        if self.expression == "":
            raise JsonPathError("invalid expression. is empty")
        if current is None:
            raise _target_error("filter", None, "array", "map", "slice")
        if isinstance(current, Mapping):
            items = [v for _, v in _sorted_items(current)]
        elif isinstance(current, list | tuple):
            items = list(current)
        else:
            raise _target_error("filter", current, "array", "map", "slice")
        elements = []
        for element in items:
            try:
                evaluation = self.compiled.evaluate(root, element)
            except JsonPathError:
                evaluation = None
            if _truthy(evaluation):
                elements.append(element)
        if rest:
            if isinstance(rest[0], _Index):
                return rest[0].apply(current, elements, rest[1:])
            results = []
            for element in elements:
                try:
                    result = rest[0].apply(root, element, rest[1:])
                except JsonPathError:
                    result = None
                if result is not None:
                    results.append(result)
            return results
        return elements


def _truthy(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, list | tuple | Mapping):
        return len(value) > 0
    if isinstance(value, str):
        text = value
        if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
            text = text[1:-1]
        return text != ""
    if isinstance(value, int | float):
        return value != 0
    return True


class _Script(_Token):
    kind = "script"

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.compiled = _compile_script(expression)

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        if self.expression == "":
            raise JsonPathError("invalid expression. is empty")
        try:
            value = self.compiled.evaluate(root, current)
        except JsonPathError as err:
            raise JsonPathError(f"invalid expression. {err}") from None
        if value is None:
            raise JsonPathError("unexpected expression result. expected [int string] got [nil]")
        if isinstance(value, str):
            return _Key(value).apply(root, current, rest)
        number = _is_integer(value)
        if number is not None:
            return _Index(number).apply(root, current, rest)
        raise JsonPathError(
            f"unexpected expression result. expected [int string] got [{_kind(value)}]"
        )


class _Expression(_Token):
    kind = "expression"

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.compiled = _compile_script(expression)

    def apply(self, root: Any, current: Any, rest: list[_Token]) -> Any:
        if self.expression == "":
            raise JsonPathError("invalid expression. is empty")
        try:
            value = self.compiled.evaluate(root, current)
        except JsonPathError as err:
            raise JsonPathError(f"invalid expression. {err}") from None
        return _next(root, value, rest)


# --- tokenizer and token parser ----------------------------------------------------------


def _tokenize(selector: str) -> list[str]:
    if selector == "":
        raise JsonPathError("unexpected token '' at index 0")
    tokens: list[str] = []
    text = ""
    quotes = open_script = close_script = open_sub = close_sub = 0
    for idx, ch in enumerate(selector):
        if text == "":
            quotes = open_script = close_script = 0
        if ch == "'":
            quotes += 1
        elif ch == "(":
            open_script += 1
        elif ch == ")":
            close_script += 1
        elif ch == "[":
            open_sub += 1
        elif ch == "]":
            close_sub += 1
        text += ch
        if idx == 0:
            if text not in ("$", "@"):
                raise JsonPathError(f"unexpected token '{ch}' at index {idx}")
            if len(selector) > 1 and selector[1] not in ".[":
                raise JsonPathError(f"unexpected token '{selector[1]}' at index {idx + 1}")
            tokens.append(text)
            text = ""
            continue
        if text == ".":
            continue
        if text == "..":
            tokens.append(text)
            text = ""
            continue
        if ch == "[":
            if text in ("[", ".["):
                continue
            if text.count("[") > 1:
                continue
            tokens.append(text[1:-1] if text[0] == "." else text[:-1])
            text = "["
            continue
        if "[" in text:
            if quotes % 2 == 1 or open_script != close_script:
                continue
            if ch == "]" and open_sub == close_sub:
                tokens.append(text[1:] if text[0] == "." else text)
                text = ""
                continue
        elif ch == ".":
            if quotes % 2 == 1 or open_script != close_script:
                continue
            tokens.append(text[1:-1] if text[0] == "." else text[:-1])
            text = "."
            continue
    if text:
        tokens.append(text[1:] if text[0] == "." else text)
    return tokens


def _is_script(token: str) -> bool:
    return len(token) > 2 and token.startswith("(") and token.endswith(")")


def _is_key(token: str) -> bool:
    quoted = (token.startswith("'") and token.endswith("'")) or (
        token.startswith('"') and token.endswith('"')
    )
    return len(token) > 1 and quoted


def _format_error(token: str) -> JsonPathError:
    return JsonPathError(f"invalid token. '{token}' does not match any token format")


def _parse_token(token: str) -> _Token:
    token = token.strip()
    if token == "":
        raise JsonPathError("invalid token. token string is empty")
    simple: dict[str, type[_Token]] = {
        "$": _Root,
        "@": _Current,
        "*": _Wildcard,
        "..": _Recursive,
    }
    if token in simple:
        return simple[token]()
    if not token.startswith("["):
        return _Length() if token == "length" else _Key(token)
    if not token.endswith("]"):
        raise _format_error(token)
    subscript = token[1:-1].strip()
    if subscript == "":
        raise _format_error(token)
    if subscript == "*":
        return _Wildcard()
    if subscript.startswith("?"):
        if not subscript.startswith("?(") or not subscript.endswith(")"):
            raise _format_error(token)
        return _Filter(subscript[2:-1].strip())
    args = _subscript_args(token, subscript)
    if len(args) == 1:
        arg = args[0]
        if isinstance(arg, str):
            if _is_key(arg):
                return _Key(arg[1:-1])
            if _is_script(arg):
                return _Script(arg[1:-1])
        elif isinstance(arg, int):
            return _Index(arg)
        raise _format_error(token)
    colons = commas = 0
    last_colon = False
    values: list[Any] = []
    for arg in args:
        if arg == ":":
            colons += 1
            if last_colon:
                values.append(None)
            last_colon = True
            continue
        if arg == ",":
            commas += 1
        else:
            values.append(arg)
        last_colon = False
    if colons and commas:
        raise _format_error(token)
    if commas:
        if commas >= len(values):
            raise _format_error(token)
        union: list[Any] = []
        for value in values:
            if isinstance(value, str) and _is_script(value):
                union.append(_Expression(value[1:-1]))
            elif isinstance(value, str) and _is_key(value):
                union.append(value[1:-1])
            elif isinstance(value, int):
                union.append(value)
            else:
                raise _format_error(token)
        return _Union(union)
    if colons:
        if colons > 2:
            raise _format_error(token)
        if colons == 1 and len(values) == 1:
            values.append(None)
        bounds: list[Any] = []
        for value in [*values, None, None, None][:3]:
            if isinstance(value, str):
                if not _is_script(value):
                    raise JsonPathError(f"invalid expression. invalid format '{value}'")
                bounds.append(_Expression(value[1:-1]))
            else:
                bounds.append(value)
        return _Range(*bounds)
    raise _format_error(token)


def _subscript_args(token: str, subscript: str) -> list[Any]:
    args: list[Any] = []
    buf = ""
    opened = closed = 0
    single = double = False
    for idx, ch in enumerate(subscript):
        buf += ch
        in_quotes = single or double
        if ch == " ":
            if not in_quotes and opened == closed:
                buf = buf.strip()
        elif ch == "(":
            if in_quotes:
                continue
            opened += 1
        elif ch == ")":
            closed += 1
            if opened == closed:
                if not _is_script(buf):
                    raise JsonPathError(f"invalid expression. invalid format '{buf}'")
                args.append(buf)
                buf = ""
        elif ch in "'\"":
            if (double if ch == "'" else single) or opened != closed:
                continue
            if len(buf) > 1 and buf[-2] == "\\":
                buf = buf[:-2] + ch
                continue
            if ch == "'":
                single = not single
                now_open = single
            else:
                double = not double
                now_open = double
            if now_open:
                if buf != ch:
                    raise _format_error(token)
            else:
                if not _is_key(buf):
                    raise _format_error(token)
                args.append(buf)
                buf = ""
        elif ch in ":,":
            if in_quotes or opened != closed:
                continue
            arg = buf[:-1]
            if arg != "":
                number = _parse_int(arg)
                if number is not None:
                    args.append(number)
                elif ch == ":":
                    raise _format_error(token)
                else:
                    args.append(arg)
            elif ch == ":" and idx == 0:
                args.append(None)
            args.append(ch)
            buf = ""
    if buf != "":
        number = _parse_int(buf)
        args.append(number if number is not None else buf)
    return args


def _compile(selector: str) -> list[_Token]:
    return [_parse_token(t) for t in _tokenize(selector)]


# --- the script engine -------------------------------------------------------------------

_OPERATORS = [
    "||",
    "&&",
    "==",
    "!=",
    "<=",
    ">=",
    "<",
    ">",
    "=~",
    "!",
    "+",
    "-",
    "**",
    "*",
    "/",
    "%",
    "not in",
    "in",
    "@",
    "$",
]


class _Unsupported(JsonPathError):
    pass


def _find_unquoted(source: str, operator: str) -> int:
    single = double = False
    square_open = square_close = round_open = round_close = 0
    for idx, ch in enumerate(source):
        in_square = square_open > square_close
        in_round = round_open > round_close
        if ch == "(":
            if single or double or in_square:
                continue
            round_open += 1
        elif ch == ")":
            if single or double or in_square:
                continue
            round_close += 1
        elif ch == "[":
            if single or double or in_round:
                continue
            square_open += 1
        elif ch == "]":
            if single or double or in_round:
                continue
            square_close += 1
        elif ch == "'":
            if double or in_square or in_round:
                continue
            single = not single
        elif ch == '"':
            if single or in_square or in_round:
                continue
            double = not double
        if single or double or square_open > square_close or round_open > round_close:
            continue
        if len(operator) > idx + 1:
            continue
        start = idx + 1 - len(operator)
        if source[start : idx + 1] == operator:
            return start
    return -1


class _Compiled:
    def __init__(self, expression: str, operator: Any) -> None:
        self.expression = expression
        self.operator = operator

    def evaluate(self, root: Any, current: Any) -> Any:
        if self.expression == "":
            raise JsonPathError("invalid expression. is empty")
        params = {"$": root, "@": current, "nil": None, "null": None}
        if self.operator is None:
            if self.expression in params:
                return params[self.expression]
            try:
                return _number(self.expression, params)
            except JsonPathError:
                pass
            try:
                return _boolean(self.expression, params)
            except JsonPathError:
                return self.expression
        return self.operator.evaluate(params)


def _compile_script(expression: str) -> _Compiled:
    return _Compiled(expression, _build(expression, _OPERATORS, 0))


def _build(expression: str, tokens: list[str], depth: int) -> Any:
    if depth > 200:
        raise JsonPathError("invalid expression. nested too deeply")
    operator = tokens[0]
    expression = expression.strip()
    if expression == "":
        return None
    if expression.startswith("(") and expression.endswith(")"):
        expression = expression[1:-1].strip()
        tokens = ["", *_OPERATORS]
    idx = _find_unquoted(expression, operator)
    if idx < 0:
        return None if len(tokens) == 1 else _build(expression, tokens[1:], depth + 1)
    right_text = expression[idx + len(operator) :].strip()
    if right_text == "" and operator not in ("$", "@"):
        return None if len(tokens) == 1 else _build(expression, tokens[1:], depth + 1)
    right = _argument(right_text, tokens, depth)
    left_text = expression[:idx].strip()
    if left_text == "" and operator not in ("$", "@", "!"):
        return None if len(tokens) == 1 else _build(expression, tokens[1:], depth + 1)
    left = _argument(left_text, tokens, depth)
    if operator in ("@", "$"):
        if left is not None:
            return None if len(tokens) == 1 else _build(expression, tokens[1:], depth + 1)
        return _Selector(expression)
    if operator == "!":
        if left is not None:
            return None if len(tokens) == 1 else _build(expression, tokens[1:], depth + 1)
        return _Op("!", None, right)
    if operator == "":
        raise _Unsupported("unsupported operator")
    return _Op(operator, left, right)


def _argument(text: str, tokens: list[str], depth: int) -> Any:
    op = _build(text, tokens, depth + 1)
    if op is not None:
        return op
    text = text.strip()
    if text == "":
        return None
    if (text.startswith("[") and text.endswith("]")) or (
        text.startswith("{") and text.endswith("}")
    ):
        try:
            value = json.loads(text)
            if isinstance(value, list | dict):
                return _normalize_json(value)
        except ValueError:
            pass
    return text


def _normalize_json(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [_normalize_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalize_json(v) for k, v in value.items()}
    return value


class _Selector:
    def __init__(self, selector: str) -> None:
        self.tokens = _compile(selector)

    def evaluate(self, params: dict[str, Any]) -> Any:
        value = self.tokens[0].apply(params["$"], params["@"], self.tokens[1:])
        if isinstance(value, str):
            if len(value) > 1 and value.startswith("'") and value.endswith("'"):
                return value
            return f"'{value}'"
        return value


def _resolve(argument: Any, params: dict[str, Any]) -> Any:
    if hasattr(argument, "evaluate"):
        argument = argument.evaluate(params)
    if isinstance(argument, str) and argument in params:
        argument = params[argument]
    return argument


_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE
)


def _number(argument: Any, params: dict[str, Any]) -> float:
    if argument is None:
        raise JsonPathError("invalid argument. is nil")
    text = format_v(_resolve(argument, params))
    if _GO_FLOAT.fullmatch(text):
        return float(text)
    raise JsonPathError("invalid argument. expected number")


def _integer(argument: Any, params: dict[str, Any]) -> int:
    if argument is None:
        raise JsonPathError("invalid argument. is nil")
    number = _parse_int(format_v(_resolve(argument, params)))
    if number is None:
        raise JsonPathError("invalid argument. expected integer")
    return number


_BOOLS = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}


def _boolean(argument: Any, params: dict[str, Any]) -> bool:
    if argument is None:
        return False
    value = _resolve(argument, params)
    if value is None:
        return False
    text = format_v(value)
    if text not in _BOOLS:
        raise JsonPathError("invalid argument. expected boolean")
    return _BOOLS[text]


def _string(argument: Any, params: dict[str, Any]) -> str:
    if argument is None:
        raise JsonPathError("invalid argument. is nil")
    if hasattr(argument, "evaluate"):
        argument = argument.evaluate(params)
    if isinstance(argument, str):
        if argument in params:
            value = params[argument]
            if isinstance(value, str):
                text = value
                if len(text) > 1:
                    if text.startswith("'") and text.endswith("'"):
                        return text
                    if text.startswith('"') and text.endswith('"'):
                        text = text[1:-1]
                return f"'{text}'"
            argument = value
        else:
            text = argument
            if len(text) > 1:
                if text.startswith("'") and text.endswith("'"):
                    return text
                if text.startswith('"') and text.endswith('"'):
                    return f"'{text[1:-1]}'"
            return text
    return format_v(argument)


def _elements(argument: Any, params: dict[str, Any]) -> list[Any]:
    if argument is None:
        raise JsonPathError("invalid argument. is nil")
    if hasattr(argument, "evaluate"):
        argument = argument.evaluate(params)
    if isinstance(argument, str):
        if argument in params:
            argument = params[argument]
        elif (argument.startswith("{") and argument.endswith("}")) or (
            argument.startswith("[") and argument.endswith("]")
        ):
            try:
                argument = _normalize_json(json.loads(argument))
            except ValueError:
                raise JsonPathError("invalid argument") from None
    if argument is None:
        raise JsonPathError("invalid argument. is nil")
    if isinstance(argument, list | tuple):
        return list(argument)
    if isinstance(argument, Mapping):
        return list(argument.values())
    raise JsonPathError("invalid argument. expected array, map, or slice")


class _Op:
    def __init__(self, op: str, left: Any, right: Any) -> None:
        self.op, self.left, self.right = op, left, right

    def evaluate(self, params: dict[str, Any]) -> Any:
        op, a, b = self.op, self.left, self.right
        if op == "!":
            return not _boolean(b, params)
        if op == "&&":
            first = _boolean(a, params)
            return _boolean(b, params) and first
        if op == "||":
            first = _boolean(a, params)
            return _boolean(b, params) or first
        if op in ("<", "<=", ">", ">="):
            x, y = _number(a, params), _number(b, params)
            return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
        if op in ("==", "!="):
            try:
                x, y = _number(a, params), _number(b, params)
                return (x == y) if op == "==" else (x != y)
            except JsonPathError:
                pass
            s, t = _string(a, params), _string(b, params)
            return (s == t) if op == "==" else (s != t)
        if op == "=~":
            text = _string(a, params)
            if len(text) > 1 and text.startswith("'") and text.endswith("'"):
                text = text[1:-1]
            pattern = _string(b, params)
            if len(pattern) > 1 and pattern.startswith("'") and pattern.endswith("'"):
                pattern = pattern[1:-1]
            try:
                return compile_re2(pattern).matches(text)
            except RegexError:
                raise JsonPathError("invalid argument. expected a valid regexp") from None
        if op in ("in", "not in"):
            item: Any = a
            try:
                item = _number(a, params)
            except JsonPathError:
                try:
                    item = _string(a, params)
                except JsonPathError:
                    try:
                        item = _boolean(a, params)
                    except JsonPathError:
                        item = a
            found = any(_same(element, item) for element in _elements(b, params))
            return found if op == "in" else not found
        if op == "%":
            x_int, y_int = _integer(a, params), _integer(b, params)
            if y_int == 0:
                raise JsonPathError("integer divide by zero")
            r = abs(x_int) % abs(y_int)
            return -r if x_int < 0 else r
        x, y = _number(a, params), _number(b, params)
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            if y == 0:
                return float("nan") if x == 0 else float("inf") * (1 if x > 0 else -1)
            return x / y
        if op == "**":
            try:
                return math.pow(x, y)
            except OverflowError:
                return math.inf
            except ValueError:
                return math.nan
        raise _Unsupported("unsupported operator")


def _same(element: Any, item: Any) -> bool:
    # Go compares interface values: same dynamic type and value.
    return type(element) is type(item) and element == item


def query(path: str, data: Any) -> Any:
    """Run `path` against already-decoded JSON `data` (jsonpath.Query)."""
    try:
        tokens = _compile(path)
    except JsonPathError as err:
        raise JsonPathError(f"invalid JSONPath selector '{path}' {err}") from None
    if not tokens:
        raise JsonPathError(f"invalid JSONPath selector '{path}'")
    return tokens[0].apply(data, data, tokens[1:])
