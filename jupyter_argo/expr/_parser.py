"""expr-lang v1.17's lexer and parser: source text to the tree of `_ast`.

It follows expr's grammar token for token (precedences, `not in`, `??` mixing rules,
predicates, pipes, `let`, `if {} else {}`), so what expr rejects fails here too, at the
same column. Nesting and size are bounded so a hostile expression cannot exhaust the
interpreter's stack.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from jupyter_argo.expr import _ast as ast

__all__ = ["MAX_DEPTH", "MAX_NODES", "ParseFailure", "parse"]

# expr's conf.DefaultMaxNodes.
MAX_NODES = 10_000
# Our own bound on nesting (parentheses, unary operators, arguments, right operands).
MAX_DEPTH = 128


class ParseFailure(Exception):
    """A syntax error at rune offset `pos`."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(frozen=True)
class Token:
    kind: str  # ident, number, string, bytes, op, bracket, eof
    value: str
    pos: int

    def describe(self) -> str:
        if self.kind == "eof":
            return "EOF"
        if self.kind == "string":
            return f"string {_quote(self.value)}"
        return f"'{self.value}'"

    def is_(self, kind: str, *values: str) -> bool:
        return self.kind == kind and (not values or self.value in values)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- lexer -------------------------------------------------------------------------------


def _is_space(c: str) -> bool:
    # Go's unicode.IsSpace; Python also counts the ASCII separators U+001C..U+001F.
    return c.isspace() and not "\x1c" <= c <= "\x1f"


def _is_alpha(c: str) -> bool:
    return c == "_" or c == "$" or c.isalpha()


def _is_alnum(c: str) -> bool:
    return _is_alpha(c) or unicodedata.category(c) == "Nd"


_WORD_OPERATORS = {"in", "or", "and", "matches", "contains", "startsWith", "endsWith", "let"}
_NEGATABLE = {"in", "matches", "contains", "startsWith", "endsWith"}
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
    "?": "?",
}


class _Lexer:
    def __init__(self, source: str) -> None:
        self.s = source
        self.n = len(source)
        self.start = 0
        self.end = 0
        self.tokens: list[Token] = []

    def error(self, message: str, at_eof: bool = False) -> ParseFailure:
        end = self.end + 1 if at_eof else self.end
        return ParseFailure(message, max(end - 1, 0))

    def peek(self) -> str:
        return self.s[self.end] if self.end < self.n else ""

    def emit(self, kind: str, value: str | None = None) -> None:
        text = self.s[self.start : self.end] if value is None else value
        self.tokens.append(Token(kind, text, self.start))
        self.start = self.end

    def run(self) -> list[Token]:
        s = self.s
        while True:
            self.start = self.end
            if self.end >= self.n:
                self.tokens.append(Token("eof", "", max(self.end - 1, 0)))
                return self.tokens
            c = s[self.end]
            self.end += 1
            if _is_space(c):
                continue
            if c in "'\"":
                self.string(c)
            elif c == "`":
                self.raw_string()
            elif c in "bB" and self.peek() in ("'", '"') and self.peek():
                quote = s[self.end]
                self.end += 1
                body = self.scan_string(quote)
                self.emit("bytes", _unescape(body, quote, self.start, as_bytes=True))
            elif c.isdigit() and c.isascii():
                self.end -= 1
                self.number()
            elif c == "?":
                if self.peek() in (".", "?") and self.peek():
                    self.end += 1
                self.emit("op")
            elif c == "/":
                if self.peek() == "/":
                    while self.end < self.n and s[self.end] != "\n":
                        self.end += 1
                elif self.peek() == "*":
                    close = s.find("*/", self.end + 1)
                    if close < 0:
                        self.end = self.n
                        raise self.error("unclosed comment", at_eof=True)
                    self.end = close + 2
                else:
                    self.emit("op")
            elif c == "#":
                if self.peek() == "#":
                    self.end += 1
                self.emit("op")
                while self.end < self.n and _is_alnum(s[self.end]):
                    self.end += 1
                if self.end > self.start:
                    self.emit("ident")
            elif c in "|:":
                if self.peek() == c:
                    self.end += 1
                self.emit("op")
            elif c in "([{)]}":
                self.emit("bracket")
            elif c in ",;%+-^":
                self.emit("op")
            elif c in "&!=*<>":
                if self.peek() in ("&", "=", "*") and self.peek():
                    self.end += 1
                self.emit("op")
            elif c == ".":
                if self.peek().isdigit() and self.peek().isascii():
                    self.end -= 1
                    self.number()
                else:
                    if self.peek() == ".":
                        self.end += 1
                    self.emit("op")
            elif _is_alnum(c):
                self.identifier()
            else:
                raise self.error(f"unrecognized character: U+{ord(c):04X} {c!r}")

    def identifier(self) -> None:
        s = self.s
        while self.end < self.n and _is_alnum(s[self.end]):
            self.end += 1
        word = s[self.start : self.end]
        if word == "not":
            self.emit("op")
            while self.end < self.n and s[self.end] == " ":
                self.end += 1
            self.start = self.end
            mark = self.end
            while self.end < self.n and _is_alnum(s[self.end]):
                self.end += 1
            if s[self.start : self.end] in _NEGATABLE:
                self.emit("op")
            else:
                self.end = mark
        elif word in _WORD_OPERATORS or word in ("if", "else"):
            self.emit("op")
        else:
            self.emit("ident")

    def number(self) -> None:
        s = self.s
        match = _NUMBER.match(s, self.end)
        self.end = match.end() if match else self.end + 1
        if self.end < self.n and _is_alnum(s[self.end]):
            self.end += 1
            raise self.error(f"bad number syntax: {_quote(s[self.start : self.end])}")
        self.emit("number")

    def scan_string(self, quote: str) -> str:
        """Validate a quoted literal like expr's scanString; returns the quoted text."""
        s = self.s
        body_start = self.end - 1
        while True:
            if self.end >= self.n:
                raise self.error("literal not terminated", at_eof=True)
            ch = s[self.end]
            self.end += 1
            if ch == quote:
                break
            if ch == "\n":
                raise self.error("literal not terminated")
            if ch == "\\":
                self.scan_escape(quote)
        return s[body_start : self.end]

    def scan_escape(self, quote: str) -> None:
        s = self.s
        if self.end >= self.n:
            raise self.error("literal not terminated", at_eof=True)
        ch = s[self.end]
        self.end += 1
        digits = {"x": (16, 2), "U": (16, 8)}
        if ch in "abfnrtv\\" or ch == quote:
            return
        if ch in "01234567":
            self.end -= 1
            self.scan_digits(8, 3)
        elif ch == "u" and self.peek() == "{":
            self.end += 1
            count = 0
            while self.peek() != "}":
                if not self.peek() or not _is_hex(self.peek()) or count >= 6:
                    raise self.error("invalid char escape")
                self.end += 1
                count += 1
            if count == 0:
                raise self.error("invalid char escape")
            self.end += 1
        elif ch == "u":
            self.scan_digits(16, 4)
        elif ch in digits:
            self.scan_digits(*digits[ch])
        else:
            raise self.error("invalid char escape")

    def scan_digits(self, base: int, count: int) -> None:
        for _ in range(count):
            c = self.peek()
            if not c or not (_is_hex(c) if base == 16 else c in "01234567"):
                self.end += 1
                raise self.error("invalid char escape")
            self.end += 1

    def string(self, quote: str) -> None:
        text = self.scan_string(quote)
        self.emit("string", _unescape(text, quote, self.start, as_bytes=False))

    def raw_string(self) -> None:
        s = self.s
        parts: list[str] = []
        while True:
            if self.end >= self.n:
                raise self.error("literal not terminated", at_eof=True)
            ch = s[self.end]
            self.end += 1
            if ch == "`":
                if self.peek() == "`":
                    parts.append("`")
                    self.end += 1
                    continue
                break
            parts.append(ch)
        self.emit("string", "".join(parts))


_NUMBER = re.compile(
    r"(?:0[xX][0-9a-fA-F_]*|0[oO][0-7_]*|0[bB][01_]*|[0-9_]*)"
    r"(?:\.(?!\.)[0-9_]*)?(?:[eE][+-]?[0-9_]*)?"
)


def _is_hex(c: str) -> bool:
    return c in "0123456789abcdefABCDEF"


def _unescape(quoted: str, quote: str, pos: int, as_bytes: bool) -> str:
    """The value of a quoted literal (expr's unescape / unescapeBytes)."""
    body = quoted[1:-1].replace("\r\n", "\n").replace("\r", "\n")
    if as_bytes:
        # Bytes literals hold UTF-8 for plain characters and raw bytes for escapes; each
        # byte is carried as one Latin-1 character until the literal becomes `bytes`.
        body = "".join(c if c == "\\" else c.encode().decode("latin-1") for c in body)
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise ParseFailure("unable to unescape string, found '\\' as last character", pos)
        e = body[i + 1]
        i += 2
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
        elif e in "xX" or (e in "uU" and not as_bytes):
            if e == "u" and i < n and body[i] == "{":
                close = body.find("}", i)
                code = int(body[i + 1 : close], 16)
                i = close + 1
            else:
                width = {"x": 2, "X": 2, "u": 4, "U": 8}[e]
                chunk = body[i : i + width]
                if len(chunk) < width or not all(_is_hex(h) for h in chunk):
                    raise ParseFailure("unable to unescape string", pos)
                code = int(chunk, 16)
                i += width
            if code > 0x10FFFF or (as_bytes and code > 0xFF):
                raise ParseFailure("unable to unescape string", pos)
            out.append(chr(code))
        elif e in "0123":
            chunk = body[i : i + 2]
            if len(chunk) < 2 or not all(d in "01234567" for d in chunk):
                raise ParseFailure("unable to unescape octal sequence in string", pos)
            code = int(e + chunk, 8)
            if as_bytes and code > 255:
                raise ParseFailure("unable to unescape string", pos)
            out.append(chr(code))
            i += 2
        else:
            raise ParseFailure("unable to unescape string", pos)
    return "".join(out)


# --- parser ------------------------------------------------------------------------------

_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_BINARY = {
    "|": (0, "L"),
    "or": (10, "L"),
    "||": (10, "L"),
    "and": (15, "L"),
    "&&": (15, "L"),
    "==": (20, "L"),
    "!=": (20, "L"),
    "<": (20, "L"),
    ">": (20, "L"),
    ">=": (20, "L"),
    "<=": (20, "L"),
    "in": (20, "L"),
    "matches": (20, "L"),
    "contains": (20, "L"),
    "startsWith": (20, "L"),
    "endsWith": (20, "L"),
    "..": (25, "L"),
    "+": (30, "L"),
    "-": (30, "L"),
    "*": (60, "L"),
    "/": (60, "L"),
    "%": (60, "L"),
    "**": (100, "R"),
    "^": (100, "R"),
    "??": (500, "L"),
}
_COMPARISONS = {"<", ">", ">=", "<="}

# The predicate builtins and their argument shapes (expr's parser.predicates).
_E, _P, _OPT = 1, 2, 128
PREDICATES: dict[str, tuple[int, ...]] = {
    "all": (_E, _P),
    "none": (_E, _P),
    "any": (_E, _P),
    "one": (_E, _P),
    "filter": (_E, _P),
    "map": (_E, _P),
    "count": (_E, _P | _OPT),
    "sum": (_E, _P | _OPT),
    "find": (_E, _P),
    "findIndex": (_E, _P),
    "findLast": (_E, _P),
    "findLastIndex": (_E, _P),
    "groupBy": (_E, _P),
    "sortBy": (_E, _P, _E | _OPT),
    "reduce": (_E, _P, _E | _OPT),
}


def _valid_identifier(text: str) -> bool:
    return bool(text) and _is_alpha(text[0]) and all(_is_alnum(c) for c in text[1:])


class _Parser:
    def __init__(
        self, tokens: list[Token], lex_error: ParseFailure | None, builtins: AbstractSet[str]
    ) -> None:
        self.tokens = tokens
        self.lex_error = lex_error
        self.builtins = builtins
        self.i = 0
        self.current = tokens[0]
        self.stash: Token | None = None
        self.depth = 0  # predicate depth, as expr's parser counts it
        self.nesting = 0
        self.nodes = 0

    # tokens

    def next(self) -> None:
        if self.stash is not None:
            self.current, self.stash = self.stash, None
            return
        if self.i + 1 < len(self.tokens):
            self.i += 1
            self.current = self.tokens[self.i]
            return
        if self.lex_error is not None:
            raise self.lex_error
        raise ParseFailure("unexpected end of expression", self.current.pos)

    def fail(self, message: str, token: Token | None = None) -> ParseFailure:
        return ParseFailure(message, (token or self.current).pos)

    def unexpected(self, token: Token | None = None) -> ParseFailure:
        return self.fail(f"unexpected token {(token or self.current).describe()}", token)

    def expect(self, kind: str, *values: str) -> None:
        if self.current.is_(kind, *values):
            self.next()
            return
        raise self.unexpected()

    def node(self, node: ast.Node) -> ast.Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail("compilation failed: expression exceeds maximum allowed nodes")
        return node

    # grammar

    def parse(self) -> ast.Node:
        node = self.sequence()
        if not self.current.is_("eof"):
            raise self.unexpected()
        return node

    def sequence(self) -> ast.Node:
        nodes = [self.expression(0)]
        while self.current.is_("op", ";"):
            self.next()
            if self.current.is_("eof"):
                break
            nodes.append(self.expression(0))
        if len(nodes) == 1:
            return nodes[0]
        return self.node(ast.Sequence(nodes[0].pos, nodes))

    def expression(self, precedence: int) -> ast.Node:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.fail(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
        try:
            return self._expression(precedence)
        finally:
            self.nesting -= 1

    def _expression(self, precedence: int) -> ast.Node:
        if precedence == 0 and self.current.is_("op", "let"):
            return self.let()
        if precedence == 0 and self.current.is_("op", "if"):
            return self.conditional_if()

        left = self.primary()
        previous = ""
        op_token = self.current
        while op_token.kind == "op":
            negate = op_token.value == "not"
            not_token = op_token
            if negate:
                backup = self.current
                self.next()
                if self.current.value in _NEGATABLE and self.current.kind == "op":
                    prec = _BINARY[self.current.value][0]
                    if prec >= precedence:
                        not_token = backup
                        op_token = self.current
                    else:
                        self.stash, self.current = self.current, backup
                        break
                else:
                    raise self.unexpected()
            spec = _BINARY.get(op_token.value)
            if spec is None or spec[0] < precedence:
                break
            prec, assoc = spec
            self.next()
            if op_token.value == "|":
                ident = self.current
                self.expect("ident")
                left = self.call(ident, [left])
                previous = op_token.value
                op_token = self.current
                continue
            if previous == "??" and op_token.value != "??":
                raise self.fail(
                    f"Operator ({op_token.value}) and coalesce expressions (??) cannot be "
                    "mixed. Wrap either by parentheses.",
                    op_token,
                )
            if op_token.value in _COMPARISONS:
                left = self.comparison(left, op_token, prec)
            else:
                right = self.expression(prec + 1 if assoc == "L" else prec)
                left = self.node(ast.Binary(op_token.pos, op_token.value, left, right))
                if negate:
                    left = self.node(ast.Unary(not_token.pos, "not", left))
            previous = op_token.value
            op_token = self.current
        if precedence == 0:
            left = self.ternary(left)
        return left

    def let(self) -> ast.Node:
        self.expect("op", "let")
        name = self.current
        self.expect("ident")
        self.expect("op", "=")
        value = self.expression(0)
        self.expect("op", ";")
        body = self.sequence()
        return self.node(ast.Let(name.pos, name.value, value, body))

    def conditional_if(self) -> ast.Node:
        start = self.current
        self.next()
        cond = self.expression(0)
        self.expect("bracket", "{")
        yes = self.sequence()
        self.expect("bracket", "}")
        self.expect("op", "else")
        if self.current.is_("op", "if"):
            no = self.conditional_if()
        else:
            self.expect("bracket", "{")
            no = self.sequence()
            self.expect("bracket", "}")
        return self.node(ast.Cond(start.pos, cond, yes, no))

    def ternary(self, node: ast.Node) -> ast.Node:
        while self.current.is_("op", "?"):
            self.next()
            if not self.current.is_("op", ":"):
                yes = self.expression(0)
                self.expect("op", ":")
                no = self.expression(0)
            else:
                self.next()
                yes = node
                no = self.expression(0)
            node = self.node(ast.Cond(self.current.pos, node, yes, no))
        return node

    def comparison(self, left: ast.Node, token: Token, precedence: int) -> ast.Node:
        root: ast.Node | None = None
        while True:
            right = self.expression(precedence + 1)
            cmp = self.node(ast.Binary(token.pos, token.value, left, right))
            root = cmp if root is None else self.node(ast.Binary(token.pos, "&&", root, cmp))
            left = right
            token = self.current
            if not (token.kind == "op" and token.value in _COMPARISONS):
                break
            self.next()
        return root

    def primary(self) -> ast.Node:
        token = self.current
        if token.kind == "op" and token.value in _UNARY:
            self.next()
            operand = self.expression(_UNARY[token.value])
            return self.postfix(self.node(ast.Unary(token.pos, token.value, operand)))
        if token.is_("bracket", "("):
            self.next()
            self.nesting += 1
            try:
                inner = self.sequence()
            finally:
                self.nesting -= 1
            self.expect("bracket", ")")
            return self.postfix(inner)
        if self.depth > 0 and (token.is_("op", "#") or token.is_("op", ".")):
            name = ""
            if token.value == "#":
                self.next()
                if self.current.kind == "ident":
                    name = self.current.value
                    self.next()
            return self.postfix(self.node(ast.Pointer(token.pos, name)))
        if token.is_("op", "::"):
            self.next()
            token = self.current
            self.expect("ident")
            return self.postfix(self.call(token, []))
        return self.secondary()

    def secondary(self) -> ast.Node:
        token = self.current
        node: ast.Node
        if token.kind == "ident":
            self.next()
            if token.value in ("true", "false"):
                return self.node(ast.Const(token.pos, token.value == "true"))
            if token.value == "nil":
                return self.node(ast.Nil(token.pos))
            if self.current.is_("bracket", "("):
                node = self.call(token, [])
            else:
                node = self.node(ast.Ident(token.pos, token.value))
        elif token.kind == "number":
            self.next()
            return self.node(ast.Const(token.pos, _number(token)))
        elif token.kind == "string":
            self.next()
            node = self.node(ast.Const(token.pos, token.value))
        elif token.kind == "bytes":
            self.next()
            node = self.node(ast.Const(token.pos, token.value.encode("latin-1")))
        elif token.is_("bracket", "["):
            node = self.array(token)
        elif token.is_("bracket", "{"):
            node = self.map(token)
        else:
            raise self.unexpected(token)
        return self.postfix(node)

    def call(self, token: Token, arguments: list[ast.Node]) -> ast.Node:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.fail(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
        try:
            return self._call(token, arguments)
        finally:
            self.nesting -= 1

    def _call(self, token: Token, arguments: list[ast.Node]) -> ast.Node:
        shape = PREDICATES.get(token.value)
        if shape is not None:
            self.expect("bracket", "(")
            for index, arg in enumerate(shape[len(arguments) :]):
                if arg & _OPT:
                    if self.current.is_("bracket", ")"):
                        break
                elif self.current.is_("bracket", ")"):
                    raise self.fail(f"expected at least {len(shape) - len(arguments)} arguments")
                if index > 0:
                    self.expect("op", ",")
                arguments.append(self.predicate() if arg & _P else self.expression(0))
            if self.current.is_("op", ","):
                self.next()
            self.expect("bracket", ")")
            return self.node(ast.Builtin(token.pos, token.value, arguments))
        if token.value in self.builtins:
            return self.node(ast.Builtin(token.pos, token.value, self.arguments(arguments)))
        callee = self.node(ast.Ident(token.pos, token.value))
        return self.node(ast.Call(token.pos, callee, self.arguments(arguments)))

    def arguments(self, arguments: list[ast.Node]) -> list[ast.Node]:
        offset = len(arguments)
        self.expect("bracket", "(")
        while not self.current.is_("bracket", ")"):
            if len(arguments) > offset:
                self.expect("op", ",")
            if self.current.is_("bracket", ")"):
                break
            arguments.append(self.expression(0))
        self.expect("bracket", ")")
        return arguments

    def predicate(self) -> ast.Node:
        start = self.current
        braces = start.is_("bracket", "{")
        if braces:
            self.next()
        self.depth += 1
        try:
            if braces:
                node = self.sequence()
            else:
                node = self.expression(0)
                if self.current.is_("op", ";"):
                    raise self.fail("wrap predicate with brackets { and }")
        finally:
            self.depth -= 1
        if braces:
            self.expect("bracket", "}")
        return self.node(ast.Predicate(start.pos, node))

    def array(self, token: Token) -> ast.Node:
        items: list[ast.Node] = []
        self.expect("bracket", "[")
        while not self.current.is_("bracket", "]"):
            if items:
                self.expect("op", ",")
                if self.current.is_("bracket", "]"):
                    break
            items.append(self.expression(0))
        self.expect("bracket", "]")
        return self.node(ast.Array(token.pos, items))

    def map(self, token: Token) -> ast.Node:
        self.expect("bracket", "{")
        pairs: list[tuple[ast.Node, ast.Node]] = []
        while not self.current.is_("bracket", "}"):
            if pairs:
                self.expect("op", ",")
                if self.current.is_("bracket", "}"):
                    break
                if self.current.is_("op", ","):
                    raise self.unexpected()
            key: ast.Node
            if self.current.kind in ("number", "string", "ident"):
                key = self.node(ast.Const(self.current.pos, self.current.value))
                self.next()
            elif self.current.is_("bracket", "("):
                key = self.expression(0)
            else:
                raise self.fail(
                    "a map key must be a quoted string, a number, a identifier, or an "
                    f"expression enclosed in parentheses (unexpected token "
                    f"{self.current.describe()})"
                )
            self.expect("op", ":")
            value = self.expression(0)
            pairs.append((key, value))
            self.nodes += 1
        self.expect("bracket", "}")
        return self.node(ast.Map(token.pos, pairs))

    def postfix(self, node: ast.Node) -> ast.Node:
        token = self.current
        while token.kind in ("op", "bracket"):
            optional = token.value == "?."
            if token.value in (".", "?."):
                self.next()
                prop_token = self.current
                if optional and prop_token.is_("bracket", "["):
                    node = self.index(node, prop_token, optional=True)
                    token = self.current
                    continue
                self.next()
                if prop_token.kind != "ident" and not (
                    prop_token.kind == "op" and _valid_identifier(prop_token.value)
                ):
                    raise self.fail("expected name")
                prop = self.node(ast.Const(prop_token.pos, prop_token.value))
                is_chain = isinstance(node, ast.Chain)
                base = node.node if isinstance(node, ast.Chain) else node
                member = ast.Member(prop_token.pos, base, prop, optional)
                self.node(member)
                if self.current.is_("bracket", "("):
                    member.method = True
                    node = self.node(ast.Call(prop_token.pos, member, self.arguments([])))
                else:
                    node = member
                if is_chain or optional:
                    node = self.node(ast.Chain(prop_token.pos, node))
            elif token.value == "[":
                node = self.index(node, token, optional=False)
            else:
                break
            token = self.current
        return node

    def index(self, node: ast.Node, token: Token, optional: bool) -> ast.Node:
        self.next()
        if self.current.is_("op", ":"):
            self.next()
            high = None if self.current.is_("bracket", "]") else self.expression(0)
            result = self.node(ast.Slice(token.pos, node, None, high))
            self.expect("bracket", "]")
            return result
        low = self.expression(0)
        if self.current.is_("op", ":"):
            self.next()
            high = None if self.current.is_("bracket", "]") else self.expression(0)
            result = self.node(ast.Slice(token.pos, node, low, high))
            self.expect("bracket", "]")
            return result
        member: ast.Node = self.node(ast.Member(token.pos, node, low, optional))
        if optional:
            member = self.node(ast.Chain(token.pos, member))
        self.expect("bracket", "]")
        return member


def _number(token: Token) -> int | float:
    text = token.value.replace("_", "")
    lower = text.lower()
    if lower.startswith("0x"):
        kind, base, digits = "hex", 16, text[2:]
    elif "." in lower or "e" in lower:
        kind, base, digits = "float", 0, text
    elif lower.startswith("0b"):
        kind, base, digits = "binary", 2, text[2:]
    elif lower.startswith("0o"):
        kind, base, digits = "octal", 8, text[2:]
    else:
        kind, base, digits = "integer", 10, text
    func = "ParseFloat" if kind == "float" else "ParseInt"
    try:
        value: int | float = float(digits) if kind == "float" else int(digits, base)
    except ValueError:
        raise ParseFailure(
            f'invalid {kind} literal: strconv.{func}: parsing "{text}": invalid syntax', token.pos
        ) from None
    if (isinstance(value, float) and value == float("inf")) or (
        isinstance(value, int) and value > (1 << 63) - 1
    ):
        raise ParseFailure(
            f'invalid {kind} literal: strconv.{func}: parsing "{text}": value out of range',
            token.pos,
        )
    return value


def parse(source: str, builtins: AbstractSet[str]) -> ast.Node:
    """Parse an expr-lang program. `builtins` are the names parsed as builtin calls."""
    lexer = _Lexer(source)
    lex_error: ParseFailure | None = None
    try:
        tokens = lexer.run()
    except ParseFailure as err:
        tokens = lexer.tokens
        lex_error = err
    if not tokens:
        raise lex_error or ParseFailure("unexpected end of expression", 0)
    return _Parser(tokens, lex_error, builtins).parse()
