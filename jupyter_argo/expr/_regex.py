"""Go's regexp, run by RE2 itself (the `google-re2` bindings): linear time, always.

`matches`, `=~`, sprig's regex functions, jsonpath filters and `logs --grep` all use
Go's regexp, which is RE2: no backreferences or lookaround, ASCII `\\d \\w \\s \\b`, `$`
only at the very end unless `(?m)`, leftmost-first matching. Go's `regexp/syntax` is a
port of RE2's parser, so RE2 accepts and refuses the same patterns; the few things C++
RE2 has and Go does not (`\\C`, non-ASCII group names) are refused here, and RE2's error
codes are worded as Go words them (`error parsing regexp: missing closing ): `(a``).

Matching works on the UTF-8 bytes, as Go does: a match never takes more time than
linear in the pattern and the text, so a pattern like `^(a+)+$` cannot hang a run (it
did with Python's backtracking `re`). `FindAll`, `ReplaceAll`, `Split` and `Expand`
follow Go's rules for empty matches and `$name` templates. The bindings are imported
on the first pattern compiled, not before.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = ["GoMatch", "GoRegexp", "RegexError", "compile_re2", "expand_template"]


class RegexError(ValueError):
    """The pattern is not valid in Go's regexp syntax."""


# RE2's error codes (re2.h, `ErrorCode`) and how Go's regexp/syntax words the same error.
_GO_WORDS = {
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
    "pattern too large - reverse compile failed": "expression too large",
}
# Room for what Go accepts (`\pL{1000}` needs about 20 MiB of program); RE2's DFA cache
# is a share of this, grown only as a pattern needs it.
_MAX_MEM = 64 << 20


def _err(code: str, fragment: str) -> RegexError:
    return RegexError(f"error parsing regexp: {code}: `{fragment}`")


def _options() -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # errors are ours to report, not RE2's to log on stderr
    options.max_mem = _MAX_MEM
    return options


def _go_only(pattern: str) -> None:
    """What C++ RE2 accepts and Go refuses, in pattern order: `\\C` (any byte)."""
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] != "\\":
            i += 1
            continue
        if i + 1 < n and pattern[i + 1] == "Q":
            end = pattern.find("\\E", i + 2)
            i = n if end < 0 else end + 2
            continue
        if i + 1 < n and pattern[i + 1] == "C":
            raise _err("invalid escape sequence", "\\C")
        i += 2


def _from_re2(message: Any) -> RegexError:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    code, sep, fragment = text.partition(": ")
    if code in _GO_WORDS:
        return _err(_GO_WORDS[code], fragment if sep else "")
    return RegexError(f"error parsing regexp: {text}")


class GoMatch:
    """One match: its groups' byte spans in the UTF-8 text (-1 where a group took no part)."""

    __slots__ = ("_data", "_regexp", "_spans")

    def __init__(self, regexp: GoRegexp, data: bytes, spans: list[tuple[int, int]]) -> None:
        self._regexp = regexp
        self._data = data
        self._spans = spans

    def start(self) -> int:
        return self._spans[0][0]

    def end(self) -> int:
        return self._spans[0][1]

    def group(self, which: int | str = 0) -> str:
        """A group's text by number or name; "" for one that did not take part."""
        index = which if isinstance(which, int) else self._regexp.group_index.get(which, -1)
        if not 0 <= index < len(self._spans):
            return ""
        lo, hi = self._spans[index]
        return _decode(self._data[lo:hi]) if lo >= 0 else ""

    def expand(self, template: str) -> str:
        """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`; `$$` is a dollar sign.
        A name is the longest run of letters, digits and `_`; an unknown one is empty."""
        out: list[str] = []
        i, n = 0, len(template)
        while i < n:
            dollar = template.find("$", i)
            if dollar < 0:
                out.append(template[i:])
                break
            out.append(template[i:dollar])
            i = dollar + 1
            if i < n and template[i] == "$":
                out.append("$")
                i += 1
                continue
            name, rest = _template_name(template, i)
            if name is None:
                out.append("$")  # malformed: the dollar sign stays as it is
                continue
            i = rest
            number = _group_number(name)
            out.append(self.group(number) if number >= 0 else self.group(name))
        return "".join(out)


def _template_name(template: str, i: int) -> tuple[str | None, int]:
    """Go's `extract`: the name after a `$` at `i`, and where the template goes on."""
    brace = i < len(template) and template[i] == "{"
    start = j = i + 1 if brace else i
    while j < len(template) and (
        template[j].isalpha() or template[j].isdecimal() or template[j] == "_"
    ):
        j += 1
    if j == start:
        return None, i
    name = template[start:j]
    if brace:
        if j >= len(template) or template[j] != "}":
            return None, i
        j += 1
    return name, j


def _group_number(name: str) -> int:
    """Go's rule: ASCII digits without a leading zero name a group by number."""
    if not name.isascii() or not name.isdigit() or (name[0] == "0" and len(name) > 1):
        return -1
    return int(name) if len(name) < 9 else -1


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def _rune_width(data: bytes, pos: int) -> int:
    """The byte width of the UTF-8 rune at `pos` (1 for a stray byte, 0 at the end)."""
    if pos >= len(data):
        return 0
    lead = data[pos]
    width = 4 if lead >= 0xF0 else 3 if lead >= 0xE0 else 2 if lead >= 0xC0 else 1
    return min(width, len(data) - pos)


class GoRegexp:
    """A compiled Go regexp: the search functions Go's Regexp has, with Go's rules."""

    __slots__ = ("_re", "group_index", "groups", "pattern")

    def __init__(self, pattern: str) -> None:
        import re2

        _go_only(pattern)
        try:
            compiled = re2.compile(pattern, _options())
        except re2.error as err:
            raise _from_re2(err.args[0] if err.args else "") from None
        except UnicodeEncodeError:
            raise _err("invalid UTF-8", pattern) from None
        names: dict[str, int] = compiled.groupindex
        for name in names:
            if not name or not all(c == "_" or (c.isascii() and c.isalnum()) for c in name):
                capture = f"(?P<{name}>" if f"(?P<{name}>" in pattern else f"(?<{name}>"
                raise _err("invalid named capture", capture)
        self.pattern = pattern
        self._re = compiled
        self.groups: int = compiled.groups
        self.group_index = names

    def __repr__(self) -> str:
        return f"GoRegexp({self.pattern!r})"

    def _spans(self, data: bytes, pos: int) -> list[tuple[int, int]] | None:
        found = self._re.search(data, pos)
        if found is None:
            return None
        return [found.span(i) for i in range(self.groups + 1)]

    def search(self, text: str) -> GoMatch | None:
        """The leftmost match (Go's FindStringSubmatchIndex), or None."""
        data = _encode(text)
        spans = self._spans(data, 0)
        return None if spans is None else GoMatch(self, data, spans)

    def matches(self, text: str) -> bool:
        """Go's MatchString."""
        return self._re.search(_encode(text)) is not None

    def find_all(self, text: str, n: int = -1) -> list[GoMatch]:
        """Go's FindAll: at most `n` (all when negative) successive non-overlapping
        matches; an empty match right after a previous match does not count."""
        data = _encode(text)
        end = len(data)
        limit = end + 1 if n < 0 else n
        out: list[GoMatch] = []
        pos, previous_end = 0, -1
        while len(out) < limit and pos <= end:
            spans = self._spans(data, pos)
            if spans is None:
                break
            lo, hi = spans[0]
            accept = True
            if hi == pos:
                accept = lo != previous_end  # no empty match right after a match
                width = _rune_width(data, pos)
                pos = pos + width if width else end + 1
            else:
                pos = hi
            previous_end = hi
            if accept:
                out.append(GoMatch(self, data, spans))
        return out

    def replace_all(self, text: str, repl: Callable[[GoMatch], str]) -> str:
        """Go's ReplaceAllString(Func): every match replaced by `repl(match)`, except an
        empty match right after a previous one."""
        data = _encode(text)
        end = len(data)
        out: list[bytes] = []
        last_end = search = 0
        while search <= end:
            spans = self._spans(data, search)
            if spans is None:
                break
            lo, hi = spans[0]
            out.append(data[last_end:lo])
            if hi > last_end or lo == 0:
                out.append(_encode(repl(GoMatch(self, data, spans))))
            last_end = hi
            width = _rune_width(data, search)
            if search + width > hi:
                search += width
            elif search + 1 > hi:
                search += 1  # at the end of the text: no rune left to step over
            else:
                search = hi
        out.append(data[last_end:])
        return _decode(b"".join(out))

    def split(self, text: str, n: int) -> list[str] | None:
        """Go's Split: the pieces between matches, at most `n` (all when negative); None
        (Go's nil) for n == 0."""
        if n == 0:
            return None
        if self.pattern and text == "":
            return [""]
        data = _encode(text)
        parts: list[str] = []
        begin = end = 0
        for match in self.find_all(text, n):
            if n > 0 and len(parts) == n - 1:
                break
            end = match.start()
            if match.end() != 0:
                parts.append(_decode(data[begin:end]))
            begin = match.end()
        if end != len(data):
            parts.append(_decode(data[begin:]))
        return parts


@lru_cache(maxsize=512)
def compile_re2(pattern: str) -> GoRegexp:
    """Compile a Go (RE2) pattern (cached); RegexError in Go's words when it is invalid."""
    return GoRegexp(pattern)


def expand_template(template: str, match: GoMatch) -> str:
    """Go's Regexp.Expand of `template` with `match`."""
    return match.expand(template)
