"""Where each private container path of a sandbox lives on the host.

Pure planning: this module decides, the namespace and bwrap modules mount. A sandbox
is a set of layers, each a container directory and the host directory behind it:

    tmp      /tmp, always private (as in a container)           base/fs/tmp
    fresh    a new top-level entry such as /src or /result.txt  base/fs/<name>
    overlay  an existing host directory the node adds to or     base/upper/<dir>
             changes privately, e.g. /usr/local/bin, /mnt
    shared   a volume: a host directory several nodes share     as given
    remap    (remap mode) a declared path, rewritten in text    base/fs/<path>

In the namespace modes a new top-level entry makes base/fs the node's root: it holds
the fresh entries and /tmp, and mount points for the host's other top-level entries.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_argo.errors import UnsupportedError

TMP = "/tmp"
_PSEUDO = ("/proc", "/sys", "/dev")


@dataclass(frozen=True)
class Layer:
    """A container path and the host directory that holds it in the sandbox."""

    container: str
    host: Path
    kind: str  # tmp | fresh | overlay | shared | remap


@dataclass(frozen=True)
class Confinement:
    """What a namespace sandbox hides of the host, and what it shows again.

    `hidden`: directories replaced by an empty private tmpfs (the user's home, /root, the
    project checkout, the engine's data directory, /run). `kept`: directories and files
    under them that are mounted back read-only, because what a step runs lives there (the
    interpreter of a virtual environment in the checkout, pyenv's Python under the home,
    the executor's runtime directory, the resolver's configuration under /run).
    Both are absolute real paths, outermost first.
    """

    hidden: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    # Hidden places a step may write (its home) or that hold kept runtimes get a tmpfs of
    # their own; the others a read-only bind of `empty`, an empty directory (cheaper).
    writable: tuple[str, ...] = ()
    empty: str = ""
    # Host secrets of the system itself (/etc/shadow, ssh host keys): an empty file over each.
    masked: tuple[str, ...] = ()
    empty_file: str = ""
    # The hidden places that are the user's home (and /root): writable and each
    # sandbox's own, where the other writable ones may be shared, read-only.
    homes: tuple[str, ...] = ()

    def is_hidden(self, path: str) -> bool:
        return any(is_under(path, hidden) for hidden in self.hidden)


_MAX_LINKS = 40  # Linux's own limit on links followed in one lookup

# What a container sees at a path, for `follow_in_view`: the host path holding it, None
# for nothing the engine may read, True for a directory only the container has (an
# image's, above a mount: gone through, never read).
SeenAt = Callable[[str], "Path | bool | None"]


def follow_in_view(container_path: str, seen_at: SeenAt) -> tuple[str, Path] | None:
    """`container_path` resolved as the container saw it: each symbolic link on the way
    followed in its view (`seen_at`), never on the host's. The container path reached
    and the host path holding it, or None where the view held nothing readable."""
    pending = normalize(container_path).split("/")[1:]
    resolved = "/"
    hops = 0
    while pending:
        name = pending.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            resolved = posixpath.dirname(resolved)
            continue
        candidate = posixpath.join(resolved, name)
        seen = seen_at(candidate)
        if seen is None or seen is False:
            return None
        if seen is True:
            resolved = candidate
            continue
        try:
            info = os.lstat(seen)
        except OSError:
            return (candidate, seen) if not pending else None  # missing: the caller says so
        if stat.S_ISLNK(info.st_mode):
            hops += 1
            if hops > _MAX_LINKS:
                return None
            target = os.readlink(seen)
            if target.startswith("/"):
                resolved = "/"
            pending = target.split("/") + pending
            continue
        resolved = candidate
    seen = seen_at(resolved)
    return (resolved, seen) if isinstance(seen, Path) else None


def contain_links(
    container_path: str, limit: int, resolve: Callable[[str], tuple[str, Path] | None]
) -> None:
    """Make the links below the directory a step left at `container_path` lead where they
    led for it, for readers that follow links (zip, unarchived uploads): a link whose
    target the host sees differently becomes a copy of what the container saw there, or
    goes when it saw nothing. At most `limit` entries are looked at."""
    found = resolve(container_path)
    if found is None:
        return
    top, host = found
    seen = 0
    for base, dirs, files in os.walk(host):
        for name in [*dirs, *files]:
            seen += 1
            if seen > limit:
                return
            entry = os.path.join(base, name)
            if not os.path.islink(entry):
                continue
            inside = resolve(posixpath.join(top, os.path.relpath(entry, host)))
            target = None if inside is None else inside[1]
            if target is not None and os.path.realpath(target) == os.path.realpath(entry):
                continue
            os.unlink(entry)
            if target is not None and target.is_file():
                shutil.copyfile(target, entry)


def normalize(path: str) -> str:
    if not path.startswith("/"):
        raise UnsupportedError(f"container path {path!r} is not absolute")
    return posixpath.normpath("/" + path.lstrip("/"))


def is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


_NO_CONFINEMENT = Confinement()  # (frozen: one for every sandbox without one)


class Layout:
    """The layers of one sandbox. `mode` is namespace, bwrap, remap or none."""

    def __init__(
        self,
        mode: str,
        base: Path,
        shared: Mapping[str, Path] | None = None,
        *,
        confinement: Confinement | None = None,
        read_only: Iterable[str] = (),
    ) -> None:
        self.mode = mode
        self.base = base
        self.confinement = confinement or _NO_CONFINEMENT
        self.read_only = frozenset(read_only)  # volumes mounted read-only (runtimes under /tmp)
        self.layers: list[Layer] = []
        self.declared: list[str] = []
        self.outputs: set[str] = set()  # declared only as outputs: no directories made
        if mode != "none":
            self.layers.append(Layer(TMP, base / "fs" / "tmp", "tmp"))
        for target, source in (shared or {}).items():
            self.layers.append(Layer(normalize(target), Path(source), "shared"))

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to a sandbox maker with each sandbox: paths as text, which unpickles in
        # half the time of a Path's own parts.
        layers = [(layer.container, str(layer.host), layer.kind) for layer in self.layers]
        state = (self.confinement, tuple(self.read_only), layers, self.declared, self.outputs)
        return (_restored_layout, (self.mode, str(self.base), *state))

    @property
    def isolating(self) -> bool:
        return self.mode in ("namespace", "bwrap")

    @property
    def root(self) -> Path:
        """The node's root directory when it has fresh top-level entries."""
        return self.base / "fs"

    @property
    def needs_root(self) -> bool:
        return any(layer.kind == "fresh" for layer in self.layers)

    def of_kind(self, kind: str) -> list[Layer]:
        return [layer for layer in self.layers if layer.kind == kind]

    def layer_of(self, path: str) -> Layer | None:
        """The innermost layer holding `path` (a volume wins over its own mount point)."""
        best: Layer | None = None
        for layer in self.layers:
            if not is_under(path, layer.container):
                continue
            if (
                best is None
                or len(layer.container) > len(best.container)
                or (layer.container == best.container and layer.kind == "shared")
            ):
                best = layer
        return best

    def resolve(self, path: str) -> str:
        """`path` with host directory symlinks outside the layers resolved
        (`/bin/x` -> `/usr/bin/x`)."""
        path = normalize(path)
        if not self.isolating:
            return path
        parts = [part for part in path.split("/") if part]
        current = "/"
        for index, part in enumerate(parts):
            candidate = posixpath.join(current, part)
            if self.layer_of(candidate) is not None:
                return posixpath.join(candidate, *parts[index + 1 :])
            # Resolve linked directories only: a declared path that is itself a host link
            # (/bin/kubectl -> ...) is replaced by the node's own file, not followed.
            if index < len(parts) - 1 and os.path.islink(candidate):
                candidate = os.path.realpath(candidate)
            current = candidate
        return current

    def in_view(self, container_path: str) -> Path | None:
        """Where the container found `container_path` on this machine, every symbolic link
        on the way followed as the container saw it; None where its view held nothing
        (a hidden place, a link leading nowhere or in circles).

        What a step leaves behind is read by the engine, outside the sandbox: a link the
        step made to `/root/.ssh/id_rsa` must read the container's (hidden, so nothing),
        never the host's. Without a sandbox (remap, none) the host's view is the step's.
        """
        found = self.resolve_in_view(container_path)
        return None if found is None else found[1]

    def resolve_in_view(self, container_path: str) -> tuple[str, Path] | None:
        """`in_view`, with the container path the links led to."""
        if not self.isolating:
            return normalize(container_path), self.host_path(container_path)
        return follow_in_view(container_path, self._seen_at)

    def _seen_at(self, container: str) -> Path | None:
        """The host path the container sees at `container` (no link followed)."""
        layer = self.layer_of(container)
        confinement = self.confinement
        if layer is not None:
            private = self.host_path_in(layer, container)
            if layer.kind != "overlay" or os.path.lexists(private):
                return private
        if container in confinement.masked:
            return Path(confinement.empty_file)
        kept = any(is_under(container, k) for k in confinement.kept)
        if confinement.is_hidden(container) and not kept:
            return None
        if is_under(container, "/dev/shm") or is_under(container, "/proc"):
            return None  # its own, gone with it
        return Path(container)

    def host_path(self, container_path: str) -> Path:
        path = self.resolve(container_path)
        layer = self.layer_of(path)
        return Path(path) if layer is None else self.host_path_in(layer, path)

    def add(self, paths: Iterable[str], *, outputs: bool = False) -> list[Layer]:
        """Make `paths` private; return the layers this adds.

        A new layer swallows the layers inside it (their host directories nest the same
        way, so nothing is lost), except volumes, which are mounted on top.
        """
        added: list[Layer] = []
        for raw in paths:
            path = self.resolve(raw)
            if path not in self.declared:
                self.declared.append(path)
                if outputs:
                    self.outputs.add(path)
            if self.mode == "none" or self.layer_of(path) is not None:
                continue
            layer = self._remap_layer(path) if self.mode == "remap" else self._layer_for(path)
            if self.layer_of(layer.container) is not None:
                continue
            self.layers = [
                other
                for other in self.layers
                if other.kind == "shared" or not is_under(other.container, layer.container)
            ]
            self.layers.append(layer)
            added.append(layer)
        return added

    def add_mountpoints(self) -> list[Layer]:
        """Make room for volumes whose mount points the host lacks."""
        added: list[Layer] = []
        if not self.isolating:
            return added
        for layer in self.of_kind("shared"):
            target = layer.container
            if self._outer_layer(target) is not None or _is_dir(target):
                continue
            parent = posixpath.dirname(target)
            if parent == "/":
                fresh = Layer(target, self.root / target.lstrip("/"), "fresh")
                self.layers.append(fresh)
                added.append(fresh)
            else:
                added.extend(self.add([parent]))
        return added

    def _remap_layer(self, path: str) -> Layer:
        return Layer(path, self.base / "fs" / path.lstrip("/"), "remap")

    def _layer_for(self, path: str) -> Layer:
        if path == "/":
            raise UnsupportedError("the container path '/' cannot be made private")
        if any(is_under(path, pseudo) for pseudo in _PSEUDO):
            raise UnsupportedError(f"container path {path!r} is on a kernel filesystem")
        anchor = path if _is_dir(path) else posixpath.dirname(path)
        while anchor != "/" and not _is_dir(anchor):
            anchor = posixpath.dirname(anchor)
        if anchor == "/":
            name = path.split("/")[1]
            return Layer("/" + name, self.root / name, "fresh")
        return Layer(anchor, self.base / "upper" / anchor.lstrip("/"), "overlay")

    def directories(self) -> list[Path]:
        """Host directories to create before mounting: layer roots, parents, mount points."""
        wanted = [layer.host for layer in self.layers if layer.kind in ("tmp", "overlay", "shared")]
        if self.needs_root:
            wanted.append(self.root)
        for path in self.declared:
            layer = self.layer_of(path)
            if layer is None or layer.kind == "shared":
                continue
            if layer.kind != "remap" and path in self.outputs:
                continue  # the node makes its output directories itself, as in a container
            if path != layer.container or layer.kind == "remap":
                wanted.append(self.host_path(path).parent)
        for layer in self.of_kind("shared"):
            outer = self._outer_layer(layer.container)
            if outer is not None:
                wanted.append(self.host_path_in(outer, layer.container))
        return wanted

    def _outer_layer(self, path: str) -> Layer | None:
        """The non-volume layer holding the mount point `path`, if any."""
        best: Layer | None = None
        for layer in self.layers:
            if layer.kind == "shared":
                continue
            if is_under(path, layer.container) and (
                best is None or len(layer.container) > len(best.container)
            ):
                best = layer
        return best

    def host_path_in(self, layer: Layer, path: str) -> Path:
        rest = path[len(layer.container) :].lstrip("/")
        return layer.host / rest if rest else layer.host

    def rewrite(self, text: str) -> str:
        """`text` with every literal layer path replaced by its host path (remap, none)."""
        if not self.layers or not text:
            return text
        if not any(layer.container in text for layer in self.layers):
            return text  # (most texts) nothing the pattern could match
        table = {layer.container: str(layer.host) for layer in self.layers}
        pattern = _pattern(tuple(sorted(table, key=len, reverse=True)))
        return pattern.sub(lambda m: table[m.group(0)], text)


_patterns: dict[tuple[str, ...], re.Pattern[str]] = {}


def _pattern(roots: tuple[str, ...]) -> re.Pattern[str]:
    found = _patterns.get(roots)
    if found is None:
        alternatives = "|".join(re.escape(root) for root in roots)
        found = re.compile(rf"(?<![\w./~-])(?:{alternatives})(?![\w.-])")
        if len(_patterns) < 256:
            _patterns[roots] = found
    return found


def _is_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def _restored_layout(
    mode: str,
    base: str,
    confinement: Confinement,
    read_only: tuple[str, ...],
    layers: list[tuple[str, str, str]],
    declared: list[str],
    outputs: set[str],
) -> Layout:
    """A pickled `Layout` (`Layout.__reduce__`)."""
    layout = Layout.__new__(Layout)
    layout.mode = mode
    layout.base = Path(base)
    layout.confinement = confinement
    layout.read_only = frozenset(read_only)
    layout.layers = [Layer(container, Path(host), kind) for container, host, kind in layers]
    layout.declared = declared
    layout.outputs = outputs
    return layout
