"""Go (RE2) regular expressions, run with Python's `re`.

`matches`, `=~`, sprig's regex functions and jsonpath filters all use Go's regexp,
which is RE2: no backreferences or lookaround, ASCII `\\d \\w \\s \\b`, `$` only at the
very end unless `(?m)`. `compile_re2` translates the syntax both share into an
equivalent Python pattern and refuses, with Go's error wording, what RE2 rejects or
what Python cannot do the same way.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["RegexError", "compile_re2", "expand_template"]


class RegexError(ValueError):
    """The pattern is not valid RE2 (or not one we can run identically)."""


_ASCII_CLASSES = {
    "d": "0-9",
    "w": "0-9A-Za-z_",
    "s": "\\t\\n\\f\\r ",
}
_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_WORD = "[0-9A-Za-z_]"
_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_NOT_BOUNDARY = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"
_MAX_REPEAT = 1000
_SIMPLE_ESCAPES = set("afnrtv")


def _err(message: str, fragment: str) -> RegexError:
    return RegexError(f"error parsing regexp: {message}: `{fragment}`")


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        # One entry per open group: how many extra "(?flags:" we opened inside it, and
        # whether multi-line mode is on there.
        self.groups: list[tuple[int, bool]] = [(0, False)]

    @property
    def multiline(self) -> bool:
        return self.groups[-1][1]

    def run(self) -> str:
        p = self.p
        while self.i < len(p):
            c = p[self.i]
            if c == "\\":
                self.out.append(self.escape(in_class=False))
            elif c == "[":
                self.out.append(self.char_class())
            elif c == "(":
                self.open_group()
            elif c == ")":
                if len(self.groups) == 1:
                    raise _err("unexpected )", p)
                extra, _ = self.groups.pop()
                self.out.append(")" * (extra + 1))
                self.i += 1
            elif c == "$":
                self.out.append("$" if self.multiline else "\\Z")
                self.i += 1
            elif c == "{":
                self.repeat()
            elif c in "*+?":
                self.out.append(c)
                self.i += 1
                if self.i < len(p) and p[self.i] == "?":
                    self.out.append("?")
                    self.i += 1
                if self.i < len(p) and p[self.i] in "*+":
                    raise _err("invalid nested repetition operator", p[self.i - 1 : self.i + 1])
            else:
                self.out.append(c)
                self.i += 1
        if len(self.groups) != 1:
            raise _err("missing closing )", p)
        extra, _ = self.groups[0]
        return "".join(self.out) + ")" * extra

    def repeat(self) -> None:
        match = re.compile(r"\{(\d+)(,(\d*))?\}").match(self.p, self.i)
        if not match:
            self.out.append("\\{")  # RE2 reads a brace that starts no repeat literally
            self.i += 1
            return
        low = int(match.group(1))
        high = int(match.group(3)) if match.group(3) else low
        if low > _MAX_REPEAT or high > _MAX_REPEAT or (match.group(3) and high < low):
            raise _err("invalid repeat count", match.group(0))
        self.out.append(match.group(0))
        self.i = match.end()
        if self.i < len(self.p) and self.p[self.i] == "?":
            self.out.append("?")
            self.i += 1

    def open_group(self) -> None:
        p = self.p
        rest = p[self.i :]
        if not rest.startswith("(?"):
            self.groups.append((0, self.multiline))
            self.out.append("(")
            self.i += 1
            return
        named = re.match(r"\(\?P?<([A-Za-z0-9_]+)>", rest)
        if named:
            self.groups.append((0, self.multiline))
            self.out.append(f"(?P<{named.group(1)}>")
            self.i += named.end()
            return
        flags = re.match(r"\(\?([imsU]*)(?:-([imsU]*))?([:)])", rest)
        if not flags:
            raise _err("invalid or unsupported Perl syntax", rest[:3])
        on, off, end = flags.group(1), flags.group(2) or "", flags.group(3)
        if "U" in on or "U" in off:
            raise _err("ungreedy mode (?U) is not supported here", flags.group(0))
        multiline = ("m" in on) or (self.multiline and "m" not in off)
        spec = on + ("-" + off if off else "")
        self.i += flags.end()
        if end == ":":
            self.groups.append((0, multiline))
            self.out.append(f"(?{spec}:" if spec and spec != "-" else "(?:")
        else:
            # (?flags) applies to the rest of the enclosing group: open a scoped group
            # that closes with it.
            extra, _ = self.groups[-1]
            self.groups[-1] = (extra + 1, multiline)
            self.out.append(f"(?{spec}:" if spec and spec != "-" else "(?:")

    def escape(self, in_class: bool) -> str:
        p = self.p
        if self.i + 1 >= len(p):
            raise _err("trailing backslash at end of expression", "")
        c = p[self.i + 1]
        self.i += 2
        if c in _ASCII_CLASSES:
            return _ASCII_CLASSES[c] if in_class else f"[{_ASCII_CLASSES[c]}]"
        if c in "DWS":
            if in_class:
                raise _err("negated class escapes inside a class are not supported", "\\" + c)
            return f"[^{_ASCII_CLASSES[c.lower()]}]"
        if c == "b" and not in_class:
            return _BOUNDARY
        if c == "B" and not in_class:
            return _NOT_BOUNDARY
        if c == "A" and not in_class:
            return "\\A"
        if c == "z" and not in_class:
            return "\\Z"
        if c == "Q":
            end = p.find("\\E", self.i)
            literal = p[self.i :] if end < 0 else p[self.i : end]
            self.i = len(p) if end < 0 else end + 2
            return "".join(_escape_char(ch, in_class) for ch in literal)
        if c in _SIMPLE_ESCAPES:
            return "\\" + c
        if c == "x":
            match = re.compile(r"\{([0-9A-Fa-f]{1,6})\}|([0-9A-Fa-f]{2})").match(p, self.i)
            if not match:
                raise _err("invalid escape sequence", p[self.i - 2 : self.i + 2])
            self.i = match.end()
            code = int(match.group(1) or match.group(2), 16)
            if code > 0x10FFFF:
                raise _err("invalid escape sequence", match.group(0))
            return _escape_char(chr(code), in_class)
        if c in "01234567":
            match = re.compile(r"[0-7]{0,2}").match(p, self.i)
            digits = c + (match.group(0) if match else "")
            if c != "0" and len(digits) == 1:
                raise _err("invalid escape sequence", "\\" + c)
            self.i += len(digits) - 1
            return _escape_char(chr(int(digits, 8)), in_class)
        if c in "pP":
            raise _err("Unicode classes are not supported here", "\\" + c)
        if not c.isalnum():
            return "\\" + c
        raise _err("invalid escape sequence", "\\" + c)

    def char_class(self) -> str:
        p = self.p
        start = self.i
        self.i += 1
        parts = ["["]
        if self.i < len(p) and p[self.i] == "^":
            parts.append("^")
            self.i += 1
        first = True
        while True:
            if self.i >= len(p):
                raise _err("missing closing ]", p[start:])
            c = p[self.i]
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            posix = re.compile(r"\[:(\^?)([a-z]+):\]").match(p, self.i)
            if posix:
                if posix.group(2) not in _POSIX:
                    raise _err("invalid character class range", posix.group(0))
                if posix.group(1):
                    raise _err("negated POSIX classes are not supported here", posix.group(0))
                parts.append(_POSIX[posix.group(2)])
                self.i = posix.end()
                continue
            if c == "\\":
                parts.append(self.escape(in_class=True))
                continue
            if c == "-" and len(parts) > 1 and self.i + 1 < len(p) and p[self.i + 1] != "]":
                parts.append("-")
                self.i += 1
                continue
            parts.append(_escape_char(c, in_class=True))
            self.i += 1
        parts.append("]")
        return "".join(parts)


def _escape_char(ch: str, in_class: bool) -> str:
    if ch.isalnum() or ch == "_" or (ord(ch) > 127 and ch.isprintable()):
        return ch
    if ord(ch) < 32 or ord(ch) == 127:
        return f"\\x{ord(ch):02x}"
    return "\\" + ch


@lru_cache(maxsize=512)
def compile_re2(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern to an equivalent Python one (cached)."""
    translated = _Translator(pattern).run()
    try:
        return re.compile(translated)
    except re.error as err:
        raise RegexError(f"error parsing regexp: {err}: `{pattern}`") from None


def expand_template(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`; `$$` is a dollar sign."""
    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        c = template[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = template.find("}", i + 2)
            name = template[i + 2 : end] if end > 0 else ""
            if end < 0 or not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                out.append(c)
                i += 1
                continue
            i = end + 1
        else:
            word = re.compile(r"[A-Za-z0-9_]+").match(template, i + 1)
            if not word:
                out.append(c)
                i += 1
                continue
            name = word.group(0)
            i = word.end()
        out.append(_group(match, name))
    return "".join(out)


def _group(match: re.Match[str], name: str) -> str:
    try:
        return match.group(int(name) if name.isdigit() else name) or ""
    except IndexError:
        return ""  # Go expands an unknown group to nothing
