"""Which local program runs a container's image.

An `ImageMap` is an ordered list of `ImageRule`s; the first rule whose `match` fits
the image decides. A rule names the image's entrypoint and default command (Docker's
ENTRYPOINT and CMD), the programs that stand in for the image's own (`programs`,
matched against argv[0] and its basename) and the files the image carries at fixed
paths (`files`, such as `/usr/local/bin/argosay`). A program is written as a command
line: a host program (`node`, `/opt/go/bin/go -v`) or a builtin:

    @python    the interpreter running jupyter-argo (`sys.executable`)
    @argosay   the built-in argosay (argoproj/argosay:v2)
    @cowsay    the built-in cowsay (a cow)
    @whalesay  the built-in cowsay drawing a whale (docker/whalesay)

Plain data (`ImageMap.from_config`, e.g. from YAML) has the same fields:

    - match: [golang, "golang:*"]        # globs over the image name, tag optional
      programs: {go: /usr/local/go/bin/go}
      cmd: [bash]                        # used when the container gives no command
      host_programs: true                # any other command found on the host runs
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jupyter_argo.errors import ConfigError

__all__ = ["ImageMap", "ImageRule", "split_image"]

_DOCKER_HUB = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")


def split_image(image: str) -> tuple[str, str]:
    """`docker.io/library/python:3.12@sha256:...` -> (`python`, `3.12`); tag defaults to latest."""
    name = image.strip().split("@", 1)[0]
    tag = "latest"
    head, sep, tail = name.rpartition(":")
    if sep and "/" not in tail:
        name, tag = head, tail
    for prefix in _DOCKER_HUB:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    name = name.removeprefix("library/")
    return name, tag


_GLOB_CHARACTERS = frozenset("*?[")


def glob_match(subject: str, pattern: str) -> bool:
    """`fnmatch.fnmatchcase(subject, pattern)`, without compiling the patterns most rules
    have (a name, `*/name`) to regular expressions: the default rules' cost a short run
    most of a millisecond."""
    if not _GLOB_CHARACTERS.intersection(pattern):
        return subject == pattern
    if pattern[0] == "*" and not _GLOB_CHARACTERS.intersection(pattern[1:]):
        return subject.endswith(pattern[1:])
    return fnmatch.fnmatchcase(subject, pattern)


@dataclass(frozen=True, eq=False)
class ImageRule:
    """How the images matching `match` run as local processes."""

    match: tuple[str, ...]
    programs: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    host_programs: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.match, str):
            object.__setattr__(self, "match", (self.match,))
        for path in self.files:
            if not path.startswith("/"):
                raise ConfigError(f"image rule {self.match[0]!r}: file {path!r} is not absolute")
        # `program_for` of the commands met so far (a rule is immutable): every step of a
        # loop runs the same command, and matching it against the patterns costs more
        # than the rest of resolving it.
        object.__setattr__(self, "_program_of", {})

    def matches(self, image: str) -> bool:
        name, tag = split_image(image)
        for pattern in self.match:
            subject = f"{name}:{tag}" if ":" in pattern else name
            if glob_match(subject, pattern):
                return True
        return False

    def program_for(self, argv0: str) -> str | None:
        """The local program standing in for `argv0`, if the rule names one."""
        known: dict[str, str | None] = self._program_of  # type: ignore[attr-defined]
        try:
            return known[argv0]
        except KeyError:
            found = self._program_for(argv0)
        if len(known) < 1024:
            known[argv0] = found
        return found

    def _program_for(self, argv0: str) -> str | None:
        if argv0 in self.files:
            return self.files[argv0]
        base = posixpath.basename(argv0)
        for pattern, program in self.programs.items():
            if glob_match(argv0, pattern) or glob_match(base, pattern):
                return program
        return None

    def default_argv(self, args: list[str]) -> list[str]:
        """argv when the container gives no command: ENTRYPOINT + (args, else CMD)."""
        return [*self.entrypoint, *(args if args else self.cmd)]

    def referenced_files(self, texts: Iterable[str]) -> dict[str, str]:
        """The image files that `texts` (args, script, env) name literally."""
        if not self.files:
            return {}
        found: dict[str, str] = {}
        joined = "\0".join(texts)
        for path, program in self.files.items():
            if re.search(rf"(?<![\w./-]){re.escape(path)}(?![\w.-])", joined):
                found[path] = program
        return found


_PYTHON = ImageRule(
    match=("python", "*/python", "pypy", "*/pypy"),
    programs={
        "python": "@python",
        "python3": "@python",
        "python3.*": "@python",
        "pip": "@python -m pip",
        "pip3": "@python -m pip",
    },
    cmd=("python3",),
)
_NODE = ImageRule(match=("node", "*/node"), programs={"nodejs": "node"}, cmd=("node",))
_ARGOSAY_V1 = ImageRule(
    match=("argoproj/argosay:v1",),
    programs={"cowsay": "@cowsay"},
    files={"/usr/games/cowsay": "@cowsay"},
    cmd=("cowsay",),
)
_ARGOSAY = ImageRule(
    match=("argoproj/argosay", "*/argosay"),
    programs={"argosay": "@argosay", "cowsay": "@cowsay"},
    files={
        "/argosay": "@argosay",
        "/usr/local/bin/argosay": "@argosay",
        "/usr/games/cowsay": "@cowsay",
    },
    entrypoint=("/argosay",),
)
_WHALESAY = ImageRule(
    match=("docker/whalesay",),
    programs={"cowsay": "@whalesay"},
    files={"/usr/local/bin/cowsay": "@whalesay"},
    cmd=("bash",),
)
_ALPINE_LIKE = ImageRule(
    match=("alpine", "busybox", "*/alpine", "*/busybox"),
    programs={"ash": "sh"},
    cmd=("sh",),
)
_DISTROS = ImageRule(
    match=(
        "debian",
        "ubuntu",
        "centos",
        "fedora",
        "rockylinux",
        "almalinux",
        "amazonlinux",
        "oraclelinux",
        "archlinux",
        "bash",
        "*/debian",
        "*/ubuntu",
    ),
    cmd=("bash",),
)
_JQ = ImageRule(match=("stedolan/jq", "*/jq"), entrypoint=("jq",))
_CURL = ImageRule(match=("curlimages/curl",), entrypoint=("curl",))

DEFAULT_RULES: tuple[ImageRule, ...] = (
    _PYTHON,
    _NODE,
    _ARGOSAY_V1,
    _ARGOSAY,
    _WHALESAY,
    _ALPINE_LIKE,
    _DISTROS,
    _JQ,
    _CURL,
)


class ImageMap:
    """Image -> local program rules: yours first, then (unless `defaults=False`) ours."""

    def __init__(self, rules: Iterable[ImageRule] = (), *, defaults: bool = True) -> None:
        self.rules: tuple[ImageRule, ...] = (*rules, *(DEFAULT_RULES if defaults else ()))
        self._rule_of: dict[str, ImageRule | None] = {}  # the rules are immutable

    @classmethod
    def default(cls) -> ImageMap:
        return cls()

    def with_rules(self, *rules: ImageRule) -> ImageMap:
        """A new map in which `rules` come before this map's rules."""
        return ImageMap((*rules, *self.rules), defaults=False)

    def rule_for(self, image: str) -> ImageRule | None:
        try:
            return self._rule_of[image]
        except KeyError:
            found = next((rule for rule in self.rules if rule.matches(image)), None)
            if len(self._rule_of) < 1024:
                self._rule_of[image] = found
            return found

    @classmethod
    def from_config(cls, data: Any) -> ImageMap:
        """Rules from plain data: a list of rule mappings (or `ImageRule`s), or
        {rules: [...], defaults: bool}."""
        defaults = True
        if isinstance(data, Mapping):
            defaults = bool(data.get("defaults", True))
            data = data.get("rules", [])
        if not isinstance(data, list):
            raise ConfigError("image map: expected a list of rules")
        return cls([_rule_from(item, i) for i, item in enumerate(data)], defaults=defaults)

    def __repr__(self) -> str:
        return f"ImageMap({len(self.rules)} rules)"


_RULE_KEYS = {"match", "programs", "files", "entrypoint", "cmd", "host_programs"}


def _rule_from(item: Any, index: int) -> ImageRule:
    if isinstance(item, ImageRule):
        return item
    where = f"image map rule {index}"
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(item) - _RULE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(_RULE_KEYS)})")
    match = item.get("match")
    if isinstance(match, str):
        match = [match]
    if not match or not all(isinstance(m, str) for m in match):
        raise ConfigError(f"{where}: 'match' must be a glob or a list of globs")

    def strings(key: str) -> tuple[str, ...]:
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: {key!r} must be a list of strings")
        return tuple(value)

    def table(key: str) -> dict[str, str]:
        value = item.get(key, {})
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigError(f"{where}: {key!r} must map strings to strings")
        return dict(value)

    return ImageRule(
        match=tuple(match),
        programs=table("programs"),
        files=table("files"),
        entrypoint=strings("entrypoint"),
        cmd=strings("cmd"),
        host_programs=bool(item.get("host_programs", True)),
    )
