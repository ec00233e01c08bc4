"""The executor's own directory: built-in programs, wrappers, PATH shims and scripts.

It lives outside /tmp (every sandbox gets a private /tmp), preferably on /dev/shm, so
every sandbox sees it at the same path as the host.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shlex
import shutil
import sys
import tempfile
import threading
import weakref
from pathlib import Path

from jupyter_argo.errors import ConfigError
from jupyter_argo.executors._images import ImageRule

_BIN = Path(__file__).with_name("_bin")
_BUILTINS = {
    "@argosay": ("argosay",),
    "@cowsay": ("cowsay",),
    "@whalesay": ("cowsay", "-f", "whale"),
}
_GLOB = set("*?[")


_PREFIX = "jupyter-argo-"


def _pick_root() -> Path:
    places = [Path("/dev/shm")]
    if os.environ.get("XDG_RUNTIME_DIR"):
        places.append(Path(os.environ["XDG_RUNTIME_DIR"]))
    home_cache = Path.home() / ".cache" / "jupyter-argo"
    with contextlib.suppress(OSError):
        home_cache.mkdir(parents=True, exist_ok=True)
    places.append(home_cache)
    prefix = f"{_PREFIX}{os.getpid()}-"
    for place in places:
        real = os.path.realpath(place)
        if real == "/tmp" or real.startswith("/tmp/"):
            continue
        if os.path.isdir(place) and os.access(place, os.W_OK):
            with contextlib.suppress(OSError):
                _remove_orphans(place)
                return Path(tempfile.mkdtemp(prefix=prefix, dir=place))
    return Path(tempfile.mkdtemp(prefix=prefix))


def _remove_orphans(place: Path) -> None:
    """Remove runtime directories left by processes that died without cleaning up."""
    for entry in os.scandir(place):
        pid = entry.name[len(_PREFIX) :].split("-", 1)[0]
        if not entry.name.startswith(_PREFIX) or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            pass


class Runtime:
    """Materialises programs for image rules. Thread-safe; removed when collected."""

    def __init__(self, host_path: str | None = None) -> None:
        self.root = _pick_root()
        self.host_path = host_path if host_path is not None else os.environ.get("PATH", os.defpath)
        self._lock = threading.RLock()
        self._shims: dict[int, tuple[ImageRule, str | None]] = {}  # id(rule) ->
        self._which: dict[str, str] = {}
        self._dirs: dict[int, tuple[ImageRule, tuple[str, ...]]] = {}
        self._scripts = itertools.count()
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.root, True)
        builtin = self.root / "builtin"
        builtin.mkdir()
        for name in ("argosay", "cowsay"):
            target = builtin / name
            shutil.copyfile(_BIN / name, target)
            target.chmod(0o755)
        (self.root / "programs").mkdir()
        (self.root / "shims").mkdir()
        (self.root / "nodes").mkdir()

    def close(self) -> None:
        self._finalizer()

    def expand(self, program: str) -> list[str] | None:
        """A program spec as an argv prefix; None when the host lacks it."""
        try:
            words = shlex.split(program)
        except ValueError as exc:
            raise ConfigError(f"program {program!r}: {exc}") from None
        if not words:
            raise ConfigError("empty program in image map")
        head, rest = words[0], words[1:]
        if head == "@python":
            return [sys.executable, *rest]
        if head in _BUILTINS:
            name, *extra = _BUILTINS[head]
            return [str(self.root / "builtin" / name), *extra, *rest]
        if head.startswith("@"):
            raise ConfigError(f"program {program!r}: unknown builtin {head!r}")
        found = self.which(head)
        return [found, *rest] if found else None

    def which(self, name: str) -> str | None:
        """`name` as an executable host path (cached: host programs rarely come and go)."""
        if name in self._which:
            return self._which[name]
        if "/" in name:
            found = name if os.access(name, os.X_OK) and not os.path.isdir(name) else None
        else:
            found = shutil.which(name, path=self.host_path)
        if found is not None:
            self._which[name] = found
        return found

    def program_dirs(self, rule: ImageRule) -> tuple[str, ...]:
        """The host directories of the programs `rule` runs by name (its commands, its
        programs' interpreters): what a container's PATH needs besides the standard ones."""
        with self._lock:
            found = self._dirs.get(id(rule))
            if found is None or found[0] is not rule:
                found = (rule, self._program_dirs(rule))
                self._dirs[id(rule)] = found
            return found[1]

    def _program_dirs(self, rule: ImageRule) -> tuple[str, ...]:
        heads = []
        programs = [*rule.programs.values(), *rule.files.values()]
        for command in (rule.entrypoint[:1], rule.cmd[:1]):
            for head in command:
                mapped = rule.program_for(head)  # `python3` in a python image is @python
                if mapped is None:
                    heads.append(head)
                else:
                    programs.append(mapped)
        for program in programs:
            with contextlib.suppress(ValueError):
                heads.extend(shlex.split(program)[:1])
        dirs: list[str] = []
        for head in heads:
            if head.startswith("@"):
                continue
            found = self.which(head)
            if found is not None and os.path.dirname(found) not in dirs:
                dirs.append(os.path.dirname(found))
        return tuple(dirs)

    def program_file(self, program: str) -> str | None:
        """One executable file that runs `program` with the arguments it is given."""
        argv = self.expand(program)
        if argv is None:
            return None
        if len(argv) == 1 and self.is_builtin_file(argv[0]):
            return argv[0]
        digest = hashlib.sha1(program.encode()).hexdigest()[:16]
        path = self.root / "programs" / digest
        with self._lock:
            if not path.exists():
                _write_executable(path, f'#!/bin/sh\nexec {shlex.join(argv)} "$@"\n')
        return str(path)

    def is_builtin_file(self, path: str) -> bool:
        return Path(path).parent == self.root / "builtin"

    def shim_dir(self, rule: ImageRule) -> str | None:
        """A directory of the rule's named programs, to put first on PATH (None if none)."""
        with self._lock:
            if id(rule) not in self._shims:
                self._shims[id(rule)] = (rule, self._make_shims(rule))
            return self._shims[id(rule)][1]

    def _make_shims(self, rule: ImageRule) -> str | None:
        names = {
            name: program
            for name, program in rule.programs.items()
            if not (_GLOB & set(name)) and "/" not in name
        }
        if not names:
            return None
        path = self.root / "shims" / str(len(self._shims))
        path.mkdir()
        for name, program in names.items():
            target = self.program_file(program)
            if target is not None:
                (path / name).symlink_to(target)
        return str(path)

    def new_script_path(self) -> Path:
        """A fresh path for a script template's source, named `script` as in Argo's
        staging directory (its directory is made; the caller creates the file)."""
        directory = self.root / "nodes" / str(next(self._scripts))
        os.mkdir(directory)
        return directory / "script"


def _write_executable(path: Path, text: str) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    partial.chmod(0o755)
    partial.replace(path)
