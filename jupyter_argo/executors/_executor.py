"""The process executor: container and script templates run as local processes."""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import functools
import itertools
import logging
import os
import posixpath
import queue
import re
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_argo.errors import BackendError, ConfigError, UnsupportedError
from jupyter_argo.executors import _bwrap, _linux, _posix_spawn, _watchdog
from jupyter_argo.executors._images import ImageMap, ImageRule, split_image
from jupyter_argo.executors._inbox import inbox
from jupyter_argo.executors._layout import TMP, Confinement, Layout, contain_links, is_under
from jupyter_argo.executors._process import (
    TOKEN_PREFIX,
    TREE_ENV,
    BwrapTree,
    Child,
    NamespaceTree,
    OutputFile,
    Process,
    Tree,
    spawn_here,
)
from jupyter_argo.executors._runtime import Runtime
from jupyter_argo.executors._starting import Starting

if TYPE_CHECKING:
    from jupyter_argo.executors._maker import MakerSandbox
    from jupyter_argo.executors._namespace import MountNamespace

log = logging.getLogger(__name__)

ISOLATION_MODES = ("auto", "namespace", "bwrap", "remap", "none")

_token_numbers = itertools.count()


@dataclass
class ContainerSpec:
    """One container of a node, after {{...}} substitution."""

    name: str  # "main", or a sidecar/containerSet container name
    image: str
    command: list[str]  # may be empty: then the image's entrypoint
    args: list[str]
    env: dict[str, str]
    working_dir: str | None = None
    script_source: str | None = None  # script templates
    stdin: bytes | None = None


@dataclass
class SandboxSpec:
    """What a node needs private: the absolute container paths it reads or writes."""

    node_dir: Path  # a private, empty-or-new directory for this node
    declared_paths: list[str]  # input artifact, volume-mount and working-dir paths
    shared_mounts: dict[str, Path] = field(default_factory=dict)  # container -> host dir
    # Paths the node writes (output artifacts and parameters): private like the others,
    # but their directories are not made for it, as in a container (a step that runs
    # `mkdir /mnt/out` must not find it there already).
    output_paths: list[str] = field(default_factory=list)


class Sandbox:
    """A node's private view of the filesystem (made by `ProcessExecutor.prepare`)."""

    def __init__(
        self,
        layout: Layout,
        namespace: MountNamespace | MakerSandbox | None = None,
        bwrap: _bwrap.BwrapPlan | None = None,
        *,
        in_maker: bool = False,
    ) -> None:
        self.mode = layout.mode
        self._layout = layout
        self._namespace = namespace
        self.in_maker = in_maker  # its namespace is a sandbox maker's (`_maker`)
        self._bwrap = bwrap  # a bwrap per container (no sandbox maker on this kernel)
        self._processes: list[Process] = []
        self._scratch: list[Path] = []  # removed in order when cleaned up
        self._lock = threading.Lock()
        self._closed = False
        # Without namespaces (none, remap) the node's directories are made when first
        # needed: by the thread that starts its first process, unless inputs come first.
        self._unmade = False

    def __repr__(self) -> str:
        state = " (cleaned up)" if self._closed else ""
        return f"<Sandbox {self.mode} {self._layout.base}{state}>"

    def host_path(self, container_path: str) -> Path:
        """Where `container_path` lives on the host: put inputs there before start, read
        outputs there after exit. Paths the sandbox does not make private map to themselves."""
        if self._unmade:
            self._make()
        return self._layout.host_path(container_path)

    def in_view(self, container_path: str) -> Path | None:
        """Where the container saw `container_path`, links followed in its view (None:
        nothing there for it). Read outputs through this: see Layout.in_view."""
        if self._unmade:
            self._make()
        return self._layout.in_view(container_path)

    def contain_links(self, container_path: str, limit: int) -> None:
        """See _layout.contain_links (nothing to do without a sandbox)."""
        if self._layout.isolating:
            contain_links(container_path, limit, self._layout.resolve_in_view)

    def cleanup(self, *, wait: bool = False, here: bool = False) -> None:
        """Kill what still runs and remove the node's private files.

        The removal finishes on the background clean-up thread (deleting is slow on some
        disks, closing a namespace waits on the kernel, and nothing reads these files
        afterwards) unless `wait` is true. `here` is for a caller that cleans up in the
        shadow of a process it has just started: a sandbox whose processes have all
        ended then costs it no system call at all, everything goes to the background.
        """
        _discard(self._take_apart(here), wait)

    def _take_apart(self, here: bool) -> Callable[[], None]:
        """`cleanup` but for the removal, which it returns."""
        self._closed = True
        processes, self._processes = self._processes, []
        namespace, self._namespace = self._namespace, None
        layout, scratch = self._layout, list(self._scratch)
        if not (here and all(process.poll() is not None for process in processes)):
            for process in processes:
                process.kill()

        def remove() -> None:  # what to remove, too, is worked out on the clean-up thread
            made = sorted(map(str, layout.directories()), key=len, reverse=True)
            base = layout.base
            paths = [base / name for name in ("fs", "upper", "work", "root")] + scratch
            for process in processes:
                process.wait(10)
            if namespace is not None:
                namespace.close()
            for tree in _remove_quickly(made, paths):
                shutil.rmtree(tree, ignore_errors=True)

        return remove

    def _make(self) -> None:
        """The node's directory and the layout's directories (once)."""
        with self._lock:
            if self._unmade:
                _make_sandbox_directories(self._layout)
                self._unmade = False

    def _add_paths(self, paths: Iterable[str], *, outputs: bool = False) -> None:
        if self._unmade:
            self._make()
        with self._lock:
            added = self._layout.add(paths, outputs=outputs)
            _make_directories(self._layout)
            if self._namespace is not None:
                self._namespace.extend(added)


@dataclass
class _Launch:
    """A container's command, resolved: what to spawn, with which environment, where."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    token: str | None


class ProcessExecutor:
    """Runs containers as local processes, each node in its own sandbox.

    `isolation` is "auto" (namespace when root on Linux, else bwrap when installed,
    else remap), or one of "namespace", "bwrap", "remap", "none"; see docs/isolation.md.
    """

    def __init__(
        self,
        images: ImageMap | None = None,
        isolation: str = "auto",
        *,
        hide: Iterable[Path | str] = (),
    ) -> None:
        if isolation not in ISOLATION_MODES:
            raise ConfigError(f"isolation {isolation!r} is not one of {', '.join(ISOLATION_MODES)}")
        self.images = images if images is not None else ImageMap.default()
        self.isolation = isolation
        self._hide = tuple(str(path) for path in hide)  # besides home, checkout, data directory
        self._confinement: Confinement | None = None
        self._watchdog: _watchdog.Watchdog | None = None
        self._mode: str | None = None
        self._runtime: Runtime | None = None
        self._warm: _WarmSandboxes | None = None
        self._maker = _MakerStart()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ProcessExecutor isolation={self.isolation}>"

    @property
    def mode(self) -> str:
        """The isolation mode sandboxes get (what "auto" stands for here)."""
        with self._lock:
            if self._mode is None:
                self._mode = _choose_mode(self.isolation)
            return self._mode

    @property
    def warning(self) -> str:
        """What a user must know about the sandbox runs get ("" when it is a boundary)."""
        mode = self.mode
        if mode in ("namespace", "bwrap"):
            return ""
        return (
            f"isolation {mode!r} is no sandbox: steps can read and write what you can (your"
            " home, keys, other runs); use it for workflows you trust (docs/isolation.md)"
        )

    def python_note(self, spec: Mapping[str, Any]) -> str:
        """One line when a container of `spec`'s templates runs this kernel's Python for its
        python image ("" otherwise): what imports there finds is this environment's."""
        images = sorted({c[0] for c in _containers(spec) if self._runs_kernel_python(c)})
        if not images:
            return ""
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return (
            f"{', '.join(images)} {'runs' if len(images) == 1 else 'run'} this kernel's Python"
            f" {version} here: a module it imports may be missing from the image on a cluster"
        )

    def _runs_kernel_python(self, container: tuple[str, tuple[str, ...]]) -> bool:
        image, argv = container
        rule = self.images.rule_for(image)
        if rule is None:
            return False
        argv = argv or tuple(rule.default_argv([]))
        program = rule.program_for(argv[0]) if argv else None
        return program is not None and program.split()[0] == "@python"

    @property
    def _runtime_dir(self) -> Runtime:
        with self._lock:
            if self._runtime is None:
                self._runtime = Runtime()
            return self._runtime

    @property
    def confinement(self) -> Confinement:
        """What namespace and bwrap sandboxes hide of the host and show again (worked out
        once per executor)."""
        runtime = self._runtime_dir
        with self._lock:
            if self._confinement is None:
                self._confinement = _confinement(self._hide, runtime, self.images)
            return self._confinement

    def prepare(self, sandbox: SandboxSpec) -> Sandbox:
        mode = self.mode
        if self._watchdog is None:  # ready before the first step starts
            self._watchdog = _watchdog.start(TOKEN_PREFIX)
        # Only /tmp private (the paths a step declares mostly live there): a sandbox made
        # ahead fits, its namespace and confinement already built.
        confinement = self.confinement if mode in ("namespace", "bwrap") else None
        in_maker = mode == "bwrap" or (mode == "namespace" and self._maker.ready())
        if (
            mode == "namespace"
            and not in_maker
            and not sandbox.shared_mounts
            and _under_tmp([*sandbox.declared_paths, *sandbox.output_paths])
        ):
            if self._warm is None:
                assert confinement is not None
                self._warm = _WarmSandboxes(self._runtime_dir.root / "sandboxes", confinement)
            warm = self._warm.take()
            if warm is not None:
                if sandbox.declared_paths:
                    warm._add_paths(sandbox.declared_paths)
                if sandbox.output_paths:
                    warm._add_paths(sandbox.output_paths, outputs=True)
                return warm
        node_dir = _path(sandbox.node_dir)
        # The parent (a run's scratch directory) is resolved once, not once per node.
        parent_text, _, name = str(node_dir).rpartition("/")
        if parent_text.startswith("/"):  # (by its text: no Path made or compared per node)
            real_text = _real_parent_text(parent_text)
            base = node_dir if real_text is None else Path(real_text) / name
        else:
            parent = node_dir.parent
            real = _real_parent(parent)
            base = node_dir if real == parent else real / node_dir.name
        if mode in ("none", "remap"):  # its directories made off this thread (`_make`)
            made = _prepare(sandbox, mode, base, confinement, make=False)
            made._unmade = True
            return made
        try:
            return _prepare(sandbox, mode, base, confinement, in_maker=in_maker)
        except OSError as exc:
            raise _unprepared(mode, base, exc) from exc

    def cleanup_all(self, sandboxes: Iterable[Sandbox], *, here: bool = False) -> None:
        """`cleanup` of each sandbox, their removals one job of the clean-up thread (one
        wake-up of it for the sandboxes of many finished steps)."""
        removals = [sandbox._take_apart(here) for sandbox in sandboxes]
        if removals:
            _discard(functools.partial(_remove_all, removals), False)

    def start(
        self,
        container: ContainerSpec,
        sandbox: Sandbox,
        *,
        stdout_path: Path | str,
        log_path: Path | str,
    ) -> Process:
        """Start `container` in `sandbox`. stdout goes to `stdout_path`; stdout and stderr,
        interleaved as they come, to `log_path`."""
        if sandbox._closed:
            raise BackendError(f"{sandbox!r}: cannot start {container.name!r} after clean-up")
        launch = self._launch(container, sandbox)
        if sandbox._unmade:
            sandbox._make()
        process = _spawn(launch, container.stdin, sandbox, stdout_path, log_path)
        if self._warm is not None:
            self._warm.refill()  # now that the start is done
        return process

    async def start_async(
        self,
        container: ContainerSpec,
        sandbox: Sandbox,
        *,
        stdout_path: Path | str,
        log_path: Path | str,
    ) -> Process:
        """`start` for an event loop: the command is resolved here, the process started
        on a spawning thread (`_Spawner`), so that this thread goes on with other steps
        while the C library waits for the child to exec (and, in the namespace mode,
        while that thread enters the sandbox and makes its PID namespace)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Process] = loop.create_future()
        settle = inbox(loop).call  # with the other news for the loop: one wake-up for all
        self._start_on_spawner(
            container,
            sandbox,
            stdout_path,
            log_path,
            lambda process, error: settle(_settle, future, process, error),
        )
        return await future

    def start_soon(
        self,
        container: ContainerSpec,
        sandbox: Sandbox,
        *,
        stdout_path: Path | str,
        log_path: Path | str,
    ) -> Starting:
        """`start_async` for a caller that waits for the process to end, not to start: the
        process it returns at once is started on a spawning thread, and ends with
        `start_error` set if it could not be (a command that cannot be resolved is refused
        here, as by `start_async`)."""
        starting = Starting()
        self._start_on_spawner(container, sandbox, stdout_path, log_path, starting.settle)
        return starting

    def _start_on_spawner(
        self,
        container: ContainerSpec,
        sandbox: Sandbox,
        stdout_path: Path | str,
        log_path: Path | str,
        settle: Callable[[Process | None, BaseException | None], None],
    ) -> None:
        """Resolve the command here, start it on a spawning thread, which calls `settle`."""
        if sandbox._closed:
            raise BackendError(f"{sandbox!r}: cannot start {container.name!r} after clean-up")
        launch = self._launch(container, sandbox)
        stdin = container.stdin

        def spawn() -> None:  # (spawning thread)
            try:
                if sandbox._closed:  # stopped while this start waited its turn
                    raise BackendError(f"{sandbox!r}: cleaned up before {container.name!r} started")
                if sandbox._unmade:
                    sandbox._make()
                process = _spawn(launch, stdin, sandbox, stdout_path, log_path)
                if sandbox._closed:  # cleaned up while it started: it may have missed it
                    process.kill()
            except BaseException as exc:
                settle(None, exc)
            else:
                settle(process, None)
            if self._warm is not None and not sandbox.in_maker:
                self._warm.refill()

        _spawner(_MAKER_SPAWNERS if sandbox.in_maker else _SPAWNERS).submit(spawn)

    # Resolution: image -> argv, env, cwd

    def _launch(self, container: ContainerSpec, sandbox: Sandbox) -> _Launch:
        rule = self.images.rule_for(container.image)
        runtime = self._runtime or self._runtime_dir
        layout = sandbox._layout
        argv = list(container.command) + list(container.args)
        if not container.command:
            if rule is None:  # the args alone would run as a command: the image's is unknown
                raise _no_entrypoint(container.image)
            argv = rule.default_argv(list(container.args))
        if not argv:
            raise _no_entrypoint(container.image)
        script = container.script_source
        script_path = None
        if script is not None:
            script_path = runtime.new_script_path()
            sandbox._scratch += [script_path, script_path.parent]  # removed in this order
            argv.append(str(script_path))
        program, own = self._program(container.image, rule, argv[0], layout)
        user_env = dict(container.env)
        files = (
            rule.referenced_files([*argv[1:], *(script or "",), *user_env.values()])
            if rule and rule.files
            else {}
        )
        if layout.isolating:
            for path, spec in files.items():
                _provide(sandbox, runtime, path, spec)

        def remap(text: str) -> str:
            for path, spec in files.items():
                target = runtime.program_file(spec)
                if target is not None:
                    text = _replace_path(text, path, target)
            return layout.rewrite(text)

        rest = argv[1:]
        if not layout.isolating and (files or layout.layers):  # else nothing to remap
            rest = [remap(arg) for arg in rest]
            program = program if own else [remap(program[0]), *program[1:]]
            script = remap(script) if script is not None else None
            user_env = {key: remap(value) for key, value in user_env.items()}
        if script_path is not None:
            # Executable, as Argo stages it: `command: [sh, -c]` runs the file by its path.
            _write_new(script_path, (script or "").encode(), 0o755)
        env = _base_env(layout, runtime.program_dirs(rule) if rule else ())
        env.update(user_env)
        shims = runtime.shim_dir(rule) if rule else None
        if shims:
            env["PATH"] = shims + os.pathsep + env.get("PATH", os.defpath)
        token = None
        if not layout.isolating:
            # Marks the processes of this container in their environment.
            token = f"{TOKEN_PREFIX}{next(_token_numbers)}"
            env[TREE_ENV] = token
            if layout.mode == "remap" and "TMPDIR" not in user_env:
                env["TMPDIR"] = str(layout.host_path(TMP))
        cwd = _working_dir(container.working_dir, sandbox)
        return _Launch([*program, *rest], env, cwd, token)

    def _program(
        self, image: str, rule: ImageRule | None, argv0: str, layout: Layout
    ) -> tuple[list[str], bool]:
        """argv[0] as a local program; True when it is one of ours (never rewritten)."""
        if rule is None:
            name, _ = split_image(image)
            raise _refusal(image, argv0, f"no image rule matches {name!r}")
        spec = rule.program_for(argv0)
        runtime = self._runtime or self._runtime_dir
        if spec is not None:
            expanded = runtime.expand(spec)
            if expanded is None:
                raise _refusal(image, argv0, f"{spec.split()[0]!r} is not installed here")
            return expanded, True
        if not rule.host_programs:
            raise _refusal(image, argv0, "the image rule allows only the programs it names")
        if argv0.startswith("/"):
            inside = layout.layer_of(layout.resolve(argv0)) is not None
            if inside or runtime.which(argv0):
                return [argv0], False
            found = runtime.which(posixpath.basename(argv0))
        else:
            found = runtime.which(argv0) and argv0
        if not found:
            raise _refusal(image, argv0, "it is not installed here")
        return [found], False


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(image, command) of every container the templates of `spec` declare."""
    for template in spec.get("templates") or ():
        if not isinstance(template, Mapping):
            continue
        found = [template.get("container"), template.get("script")]
        for key in ("initContainers", "sidecars"):
            found.extend(template.get(key) or ())
        container_set = template.get("containerSet")
        if isinstance(container_set, Mapping):
            found.extend(container_set.get("containers") or ())
        for container in found:
            if isinstance(container, Mapping) and isinstance(container.get("image"), str):
                command = container.get("command") or ()
                yield container["image"], tuple(str(c) for c in command)


def _under_tmp(paths: Iterable[str]) -> bool:
    return all(p.startswith("/") and is_under(posixpath.normpath(p), TMP) for p in paths)


_WARM = 4  # plain namespace sandboxes kept ready
_WARM_AGE = 5.0  # seconds, as for blank namespaces (host mounts made since may be missing)


class _WarmSandboxes:
    """Plain namespace sandboxes (only /tmp private, the most common node), made ahead by
    the namespace worker while the engine waits on processes: directories, namespace and
    /tmp mount are off the path from one step to the next. Made from the second one
    taken on: a one-step run builds its sandbox on its way and none besides."""

    def __init__(self, root: Path, confinement: Confinement) -> None:
        root.mkdir(exist_ok=True)
        self._root = root
        self._confinement = confinement
        self._ready: collections.deque[tuple[float, Sandbox]] = collections.deque()
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._coming = 0
        self._taken = 0

    def take(self) -> Sandbox | None:
        self._taken += 1
        while True:
            try:
                made, sandbox = self._ready.popleft()
            except IndexError:
                return None
            if time.monotonic() - made < _WARM_AGE:
                return sandbox
            sandbox.cleanup()

    def refill(self) -> None:
        if self._taken < 2:
            return
        with self._lock:
            wanted = _WARM - len(self._ready) - self._coming
            self._coming += max(0, wanted)
        worker = _linux.worker()
        for _ in range(wanted):
            worker.background(self._make)

    def _make(self) -> None:
        """(Namespace worker thread)"""
        from jupyter_argo.executors._namespace import MountNamespace

        try:
            base = self._root / str(next(self._numbers))
            os.mkdir(base)
            layout = Layout(
                "namespace",
                base,
                dict(_runtime_under_tmp()),
                confinement=self._confinement,
                read_only=_runtime_under_tmp(),
            )
            _make_directories(layout)
            namespace = MountNamespace(layout, lazy=True)
            namespace.build_here()
            sandbox = Sandbox(layout, namespace=namespace)
            sandbox._scratch.append(base)  # its directory is its own, unlike a caller's
        finally:
            with self._lock:
                self._coming -= 1
        self._ready.append((time.monotonic(), sandbox))


# The namespace mode's sandbox maker (`_maker`) takes a sandbox's namespace work off
# this process's interpreter lock: from about 1.5 to 1.0 ms per step above the spawn
# floor at 1,000 parallel steps (benchmarks/bench_steps.py). It takes 50-150 ms to
# start, more than a short run takes: it starts in the background at the eighth sandbox
# (a run going wide), and sandboxes are made in this process until it answers.
# JUPYTER_ARGO_SANDBOX_MAKER "1" starts it with the first sandbox and waits for it, "0"
# never does.
_MAKER_FROM = 8


class _MakerStart:
    """Whether the namespace mode's sandboxes are made by its sandbox maker yet."""

    def __init__(self) -> None:
        self._asked = 0
        self._state = "off"  # "starting", "ready", "failed"
        self._lock = threading.Lock()

    def ready(self) -> bool:
        if self._state == "ready":
            return True
        choice = os.environ.get("JUPYTER_ARGO_SANDBOX_MAKER", "")
        if choice == "0":
            return False
        self._asked += 1
        if self._state == "off" and (choice == "1" or self._asked >= _MAKER_FROM):
            with self._lock:
                if self._state != "off":
                    return False
                self._state = "starting"
            if choice == "1":
                self._start()
                return self._state == "ready"
            threading.Thread(target=self._start, name="jupyter-argo-maker", daemon=True).start()
        return False

    def _start(self) -> None:
        from jupyter_argo.executors import _maker

        try:
            _maker.maker("namespace").call(("ping",))
        except (OSError, BackendError) as exc:
            log.info("namespace sandboxes are made in this process: %s", exc)
            self._state = "failed"
        else:
            self._state = "ready"


def _settle(
    future: asyncio.Future[Process], process: Process | None, error: BaseException | None
) -> None:
    if future.cancelled():
        if process is not None:
            process.kill()  # nobody waits for it
        return
    if error is not None:
        future.set_exception(error)
    elif process is not None:
        future.set_result(process)


# Threads starting processes for `start_async`. More than one, even on two cores: a
# start is mostly waiting (for the child to exec, for the kernel to make a PID
# namespace and mount its /proc), and others proceed meanwhile. Measured with
# benchmarks/bench_steps.py on 2 cores: 1 thread 2.0 ms per step above the spawn floor
# in the namespace mode, 2 threads 1.6 ms, 4 threads 0.7 ms.
_SPAWNERS = 4
# In the bwrap mode a spawning thread only waits while the sandbox maker, a process of
# its own, starts the process: more of them keep more starts under way (1,000 steps:
# 1.8 ms per step above the floor with 4, 1.5 with 8, on 2 loaded cores).
_MAKER_SPAWNERS = 8


class _Spawner:
    """The threads that start steps' processes for `start_async`. Each makes namespace
    calls in place (`dedicate_thread`), or, without namespaces, still has a working
    directory of its own; a sandbox's own calls are one at a time (its namespace's lock).
    """

    def __init__(self, threads: int) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._limit = threads
        self._lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self._idle = 0
        self.pid = os.getpid()
        self.ended = False  # one of its threads has ended (so `_spawner` makes new ones)
        self._add()  # the others when every one is busy: a one-step run needs one

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)
        if len(self.threads) < self._limit and not self._idle:
            with self._lock:
                if len(self.threads) < self._limit:
                    self._add()

    def _add(self) -> None:
        thread = threading.Thread(target=self._run, name="jupyter-argo-spawn", daemon=True)
        thread.start()
        self.threads.append(thread)

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self.ended = True

    def _serve(self) -> None:
        try:
            _linux.dedicate_thread(follow_cwd=False)  # absolute paths only
            _linux.keep_noroot()
        except OSError as exc:  # namespace calls are handed to the worker instead
            log.info("the spawning thread makes no namespace calls itself: %s", exc)
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
            try:
                job()
            except Exception:
                log.exception("jupyter-argo: starting a process failed")


_spawner_threads: dict[int, _Spawner] = {}
_spawner_lock = threading.Lock()


def _spawner(threads: int = _SPAWNERS) -> _Spawner:
    """The pool of (at most) `threads` spawning threads."""
    spawner = _spawner_threads.get(threads)
    if spawner is not None and not spawner.ended and spawner.pid == os.getpid():
        return spawner  # every thread of it runs: no thread ends but through `ended`
    with _spawner_lock:
        pool = _spawner_threads.get(threads)
        if pool is None or not all(t.is_alive() for t in pool.threads):
            pool = _spawner_threads[threads] = _Spawner(threads)
        return pool


_discards: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
_discarder: threading.Thread | None = None
_discard_lock = threading.Lock()


def _discard(job: Callable[[], None], wait: bool) -> None:
    """Run a clean-up job now (`wait`) or on the background clean-up thread."""
    global _discarder
    if wait:
        job()
        return
    if _discarder is not None:
        _discards.put(job)
        return
    with _discard_lock:
        if _discarder is None:
            _discarder = threading.Thread(target=_discard_forever, name="jupyter-argo-cleanup")
            _discarder.daemon = True
            _discarder.start()
            atexit.register(_discard_pending)
    _discards.put(job)


def _remove_all(removals: list[Callable[[], None]]) -> None:
    for remove in removals:
        try:
            remove()
        except Exception:
            log.exception("jupyter-argo: sandbox clean-up failed")


def remove_later(path: Path) -> None:
    """Remove the directory `path` on the clean-up thread, after the clean-ups queued
    before it (and before this process exits)."""
    _discard(functools.partial(shutil.rmtree, path, ignore_errors=True), wait=False)


def _discard_forever() -> None:
    while True:
        job = _discards.get()
        try:
            job()
        except Exception:
            log.exception("jupyter-argo: sandbox clean-up failed")


def _discard_pending() -> None:
    # At exit, finish what the background thread has not reached.
    while True:
        try:
            job = _discards.get_nowait()
        except queue.Empty:
            return
        with contextlib.suppress(Exception):
            job()


def _choose_mode(isolation: str) -> str:
    if isolation == "namespace":
        if not _namespace_available():
            raise ConfigError(
                "isolation 'namespace' needs Linux and root; use 'bwrap' or 'remap' instead"
            )
        return isolation
    if isolation == "bwrap":
        if not _bwrap.available():
            raise ConfigError(
                "isolation 'bwrap' needs bubblewrap (apt-get install bubblewrap) and user"
                " namespaces"
            )
        return isolation
    if isolation != "auto":
        return isolation  # no sandbox: each run says so (ProcessExecutor.warning)
    if _namespace_available():
        return "namespace"
    if _bwrap.available():
        return "bwrap"
    installed = shutil.which("bwrap") is not None
    why = (
        "bubblewrap is installed but cannot create user namespaces here"
        if installed
        else "not root, and bubblewrap is not installed (apt-get install bubblewrap)"
    )
    raise ConfigError(
        f"no sandbox for local steps can be built here: {why}; to run steps without one"
        " (they can read your files and keys), choose isolation 'remap' or 'none'"
        " explicitly (JUPYTER_ARGO_ISOLATION=remap)"
    )


_namespace_probe: bool | None = None


def _namespace_available() -> bool:
    global _namespace_probe
    if _namespace_probe is None:
        _namespace_probe = False
        if _linux.supported():
            try:
                worker = _linux.worker()

                worker.call(worker.probe)
                _namespace_probe = True
            except OSError as exc:
                log.info("mount namespaces are not available: %s", exc)
    return _namespace_probe


def _prepare(
    spec: SandboxSpec,
    mode: str,
    base: Path,
    confinement: Confinement | None,
    *,
    make: bool = True,
    in_maker: bool = False,
) -> Sandbox:
    shared = {key: Path(value) for key, value in spec.shared_mounts.items()}
    read_only: tuple[str, ...] = ()
    if mode in ("namespace", "bwrap"):
        # The node's /tmp is private; what the node runs from must stay visible in it.
        shared = {**_runtime_under_tmp(), **shared}  # computed once per process
        read_only = tuple(key for key in _runtime_under_tmp() if key not in spec.shared_mounts)
    layout = Layout(mode, base, shared, confinement=confinement, read_only=read_only)
    layout.add(spec.declared_paths)
    layout.add(spec.output_paths, outputs=True)
    layout.add_mountpoints()
    only_tmp = all(layer.kind == "tmp" for layer in layout.layers)
    in_maker = in_maker and not (mode == "bwrap" and _bwrap.per_container())
    if in_maker and only_tmp:
        from jupyter_argo.executors._maker import MakerSandbox

        # The maker builds it with its first process: its directories are made then too,
        # by the spawning thread, not by the engine's.
        made = Sandbox(layout, namespace=MakerSandbox(layout, lazy=True), in_maker=True)
        made._unmade = True
        return made
    if make:
        _make_node_directory(base)
        _make_directories(layout)
    if mode == "bwrap" and _bwrap.per_container():
        return Sandbox(layout, bwrap=_bwrap.BwrapPlan(layout))
    if in_maker:
        from jupyter_argo.executors._maker import MakerSandbox

        return Sandbox(layout, namespace=MakerSandbox(layout), in_maker=True)
    if mode == "namespace":
        from jupyter_argo.executors._namespace import MountNamespace

        return Sandbox(layout, namespace=MountNamespace(layout, lazy=only_tmp))
    return Sandbox(layout)


@functools.cache
def _runtime_under_tmp() -> dict[str, Path]:
    """This Python's installation when it lives under /tmp (a virtual environment in a
    checkout under /tmp): mounted back, read-only, into the node's private /tmp. Only the
    installation itself: the rest of the checkout stays out of sight."""
    found: dict[str, Path] = {}
    places = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    for real in sorted(places, key=len):
        if is_under(real, TMP) and real != TMP and not any(is_under(real, f) for f in found):
            found[real] = Path(real)
    return found


# Never hidden: the system itself (a step sees it read-only, as a pod sees its image).
_SYSTEM = frozenset(
    [
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/var",
    ]
)


def _confinement(extra: Iterable[str], runtime: Runtime, images: ImageMap) -> Confinement:
    """What sandboxes hide: the user's home and /root, other users' homes, the current
    directory and the checkout jupyter_argo runs from, the engine's data and scratch
    directories, /run (sockets: a container engine's is root on the host); and what they
    show again, read-only: this Python's installation, the programs the image map runs,
    the executor's runtime directory, the resolver's configuration."""
    import pwd

    import jupyter_argo
    from jupyter_argo.engine.store import default_home

    places: list[str] = [os.path.expanduser("~"), "/root", "/home", "/run"]
    with contextlib.suppress(KeyError):
        places.append(pwd.getpwuid(os.geteuid()).pw_dir)
    with contextlib.suppress(OSError):
        places.append(os.getcwd())
    package = Path(jupyter_argo.__file__).resolve().parent.parent
    if (package / "pyproject.toml").is_file() or (package / ".git").exists():
        places.append(str(package))  # a checkout, not site-packages
    places.append(str(default_home()))
    if os.environ.get("JUPYTER_ARGO_SCRATCH"):
        places.append(os.environ["JUPYTER_ARGO_SCRATCH"])
    places.extend(extra)
    # Only what this user could read: an ordinary user's bwrap pays nothing for them.
    places.extend(d for d in _SYSTEM_SECRET_DIRS if os.access(d, os.R_OK | os.X_OK))
    hidden: list[str] = []
    for place in sorted({os.path.realpath(p) for p in places if p}, key=len):
        if place in _SYSTEM or is_under(place, TMP) or is_under(place, "/dev/shm"):
            continue  # the system, or already private
        if not os.path.isdir(place) or any(is_under(place, h) for h in hidden):
            continue
        hidden.append(place)
    wanted = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    wanted += [os.path.dirname(os.path.realpath(sys.executable)), str(runtime.root)]
    for rule in images.rules:
        wanted += runtime.program_dirs(rule)
    if os.path.exists("/etc/resolv.conf"):
        wanted.append("/etc/resolv.conf")  # often a link into /run: name resolution works
    kept: list[str] = []
    for place in sorted({os.path.realpath(p) for p in wanted}, key=len):
        covered = any(is_under(place, h) for h in hidden) or is_under(place, "/dev/shm")
        reachable = os.access(place, os.R_OK)  # bwrap refuses to bind what it cannot read
        if covered and reachable and not any(is_under(place, k) for k in kept):
            kept.append(place)
    homes = {os.path.realpath(p) for p in places[:2]}
    writable = [h for h in hidden if h in homes or any(is_under(k, h) and k != h for k in kept)]
    empty = runtime.root / "empty"
    with contextlib.suppress(FileExistsError):
        empty.mkdir(mode=0o555)
    empty_file = runtime.root / "empty-file"
    if not empty_file.exists():
        _write_new(empty_file, b"", 0o444)
    masked = [path for path in _system_secret_files() if not any(is_under(path, h) for h in hidden)]
    return Confinement(
        tuple(hidden),
        tuple(kept),
        tuple(writable),
        str(empty),
        tuple(masked),
        str(empty_file),
        tuple(h for h in hidden if h in homes),
    )


# The host system's own secrets, which a step running as root could read where the rest
# of the system is shown: a pod has its image's instead. Directories are hidden, files
# that only their owner or group may read are masked by an empty file.
_SYSTEM_SECRET_DIRS = (
    "/etc/kubernetes",
    "/etc/rancher",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/rancher",
)


def _system_secret_files() -> list[str]:
    import glob

    found = []
    candidates = ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"]
    candidates += sorted(glob.glob("/etc/ssh/ssh_host_*_key"))
    for path in candidates:
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            continue
        private = stat.S_ISREG(st.st_mode) and not st.st_mode & stat.S_IROTH
        if private and os.access(path, os.R_OK):
            found.append(path)
    return found


def _remove_quickly(made: list[str], paths: list[Path]) -> list[Path]:
    """Remove the directories a sandbox made (deepest first) and `paths`, as far as they
    are empty directories or files; the paths that are trees are returned."""
    for directory in made:  # most nodes leave these empty: no tree walk then
        with contextlib.suppress(OSError):
            os.rmdir(directory)
    trees = []
    for path in paths:
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except NotADirectoryError:
            with contextlib.suppress(OSError):
                os.unlink(path)
        except OSError:
            trees.append(path)
    return trees


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # whatever the umask
        _write_fd(fd, data)
    finally:
        os.close(fd)


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@functools.lru_cache(maxsize=64)
def _real_parent(path: Path) -> Path:
    return Path(os.path.realpath(path.absolute()))


@functools.lru_cache(maxsize=64)
def _real_parent_text(path: str) -> str | None:
    """The real path of the absolute, normalised `path`; None when it is `path` itself."""
    real = os.path.realpath(path)
    return None if real == path else real


def _path(path: Path | str) -> Path:
    """`Path(path)`, without parsing it again when it is one (a few microseconds)."""
    return path if isinstance(path, Path) else Path(path)


def _make_node_directory(base: Path) -> None:
    try:
        os.mkdir(base)
    except FileExistsError:
        pass
    except FileNotFoundError:
        base.mkdir(parents=True, exist_ok=True)


def _make_sandbox_directories(layout: Layout) -> None:
    """The node's own directory (`layout.base`), then the layout's."""
    _make_node_directory(layout.base)
    try:
        _make_directories(layout)
    except OSError as exc:
        raise _unprepared(layout.mode, layout.base, exc) from exc


def _unprepared(mode: str, base: Path, exc: OSError) -> BackendError:
    # Never a silent step down to a mode that is no sandbox.
    return BackendError(
        f"cannot prepare a {mode} sandbox in {base}: {exc} (JUPYTER_ARGO_SCRATCH"
        " chooses where node directories live; isolation 'remap' runs without one)"
    )


def _make_directories(layout: Layout) -> None:
    seen: set[Path] = set()
    created: set[Path] = set()
    for directory in dict.fromkeys(layout.directories()):
        _make_directory(directory, layout.base, seen, created)
    tmp = layout.host_path(TMP) if layout.mode != "none" else None
    if tmp in created:
        os.chmod(tmp, 0o1777)


def _make_directory(directory: Path, base: Path, seen: set[Path], created: set[Path]) -> None:
    """mkdir -p. Under the node's directory it goes top down: in a new node everything
    is missing, so trying the deepest directory first would only fail."""
    try:
        parts = directory.relative_to(base).parts
    except ValueError:  # a volume's own directory, elsewhere
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            created.add(directory)
        return
    path = base
    for part in parts:
        path = path / part
        if path in seen:
            continue
        seen.add(path)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path)
            created.add(path)


def _provide(sandbox: Sandbox, runtime: Runtime, path: str, spec: str) -> None:
    """Put the program `spec` at the image path `path` inside the sandbox."""
    program = runtime.program_file(spec)
    if program is None:
        return
    sandbox._add_paths([path])
    target = sandbox.host_path(path)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if runtime.is_builtin_file(program):
        shutil.copyfile(program, target)
    else:
        target.write_text(f'#!/bin/sh\nexec "{program}" "$@"\n')
    target.chmod(0o755)


def _working_dir(working_dir: str | None, sandbox: Sandbox) -> str:
    layout = sandbox._layout
    if working_dir is None:
        if layout.isolating:
            return "/"
        # Relative writes land in the node's own directory rather than the host's root.
        fallback = layout.host_path(TMP).parent if layout.mode == "remap" else layout.base
        return str(fallback)
    path = layout.resolve(working_dir)
    if layout.mode != "none" and layout.layer_of(path) is None and not os.path.isdir(path):
        sandbox._add_paths([path])
    host = layout.host_path(path)
    if not host.is_dir():
        try:
            host.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"cannot create the working directory {working_dir}: {exc}") from exc
    return path if layout.isolating else str(host)


# A container's environment is its image's, its template's and Argo's, never the
# environment of whoever started the controller. The image part, for every image:
# Docker's default PATH, root's home and a UTF-8 locale (as the python images set).
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_CONTAINER_LANG = "C.UTF-8"
_CONTAINER_HOME = "/root"


def _base_env(layout: Layout, runtime_dirs: tuple[str, ...]) -> dict[str, str]:
    """PATH, HOME and LANG as an image sets them, nothing from this process's environment.

    PATH is the image default plus the directories of the host programs the image rule
    runs (an interpreter outside the standard directories); HOME is /root, private to
    the node where the sandbox hides the host's, and the node's own directory in the
    modes without namespaces (the host's /root is not the node's to write).
    """
    path = _container_path(runtime_dirs)
    if layout.isolating:
        home = _CONTAINER_HOME
    elif layout.mode == "remap":
        home = str(layout.host_path(TMP).parent)
    else:
        home = str(layout.base)
    return {"PATH": path, "HOME": home, "LANG": _CONTAINER_LANG}


@functools.lru_cache(maxsize=64)
def _container_path(runtime_dirs: tuple[str, ...]) -> str:
    standard = CONTAINER_PATH.split(":")
    return ":".join([*(d for d in runtime_dirs if d not in standard), *standard])


def _replace_path(text: str, path: str, replacement: str) -> str:
    return re.sub(rf"(?<![\w./-]){re.escape(path)}(?![\w.-])", lambda _: replacement, text)


def _refusal(image: str, argv0: str, reason: str) -> UnsupportedError:
    name, _ = split_image(image)
    key = posixpath.basename(argv0) or argv0
    program = shutil.which(key) or "<program>"
    return UnsupportedError(
        f"image {image!r}: no local program for command {argv0!r} ({reason}; map it with"
        f" {_config_hint({'match': name, 'programs': {key: program}})})"
    )


def _no_entrypoint(image: str) -> UnsupportedError:
    name, _ = split_image(image)
    return UnsupportedError(
        f"image {image!r}: no command given and no known entrypoint (give a command, or map it"
        f" with {_config_hint({'match': name, 'entrypoint': ['<program>']})})"
    )


def _config_hint(rule: Mapping[str, Any]) -> str:
    """The image rule as a line a notebook runs as it is (`<program>`, where it appears,
    is the local program to run: no such program was found here)."""
    return f"%config ArgoMagics.images = [{rule!r}]"


def _stdin_fd(data: bytes | None) -> int:
    """An fd reading `data` (an unlinked file), or -1 for no stdin."""
    if data is None:
        return -1
    fd, name = tempfile.mkstemp()
    os.unlink(name)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _spawn(
    launch: _Launch,
    stdin: bytes | None,
    sandbox: Sandbox,
    stdout_path: Path | str,
    log_path: Path | str,
) -> Process:
    stdin_fd = _stdin_fd(stdin)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()

    info_r = info_w = -1

    def start(argv: list[str], cwd: str, keep: tuple[int, ...] = ()) -> Child:
        def spawn() -> Child:
            return spawn_here(
                argv, cwd=cwd, env=launch.env, stdin=stdin_fd, stdout=out_w, stderr=err_w, keep=keep
            )

        # posix_spawn, as in the namespace mode; the child changes to `cwd` itself, or
        # else this thread does, when its working directory is its own (a hand-off if not).
        _linux.with_root()  # (a spawning thread may still hold a sandbox's SECBIT_NOROOT)
        return spawn() if _posix_spawn.available() else _linux.with_own_fs(spawn)

    tree: Tree
    popen: Child
    namespace = sandbox._namespace
    try:
        if sandbox._bwrap is not None:
            info_r, info_w = os.pipe()
            popen = start(sandbox._bwrap.argv(launch.argv, launch.cwd, info_w), "/", (info_w,))
            tree = BwrapTree(popen, info_r)
            info_r = -1
        elif sandbox.in_maker:
            from jupyter_argo.executors._maker import MakerSandbox

            if not isinstance(namespace, MakerSandbox):  # cleaned up meanwhile: never unconfined
                raise BackendError(f"{sandbox!r}: cleaned up before its process started")
            popen = namespace.spawn(
                launch.argv,
                cwd=launch.cwd,
                env=launch.env,
                stdin=stdin_fd,
                stdout=out_w,
                stderr=err_w,
            )
            tree = NamespaceTree(popen)
        elif sandbox.mode == "namespace":
            from jupyter_argo.executors._namespace import MountNamespace

            if not isinstance(namespace, MountNamespace):  # cleaned up meanwhile
                raise BackendError(f"{sandbox!r}: cleaned up before its process started")
            popen = namespace.spawn(
                lambda: spawn_here(
                    launch.argv,
                    cwd=launch.cwd,
                    env=launch.env,
                    stdin=stdin_fd,
                    stdout=out_w,
                    stderr=err_w,
                    hold=True,
                )
            )
            tree = NamespaceTree(popen)
        else:
            popen = start(launch.argv, launch.cwd)
            tree = Tree(popen, launch.token)
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        # exec failed (the child reports it): a shell would say 127 or 126.
        for fd in (out_r, err_r, info_r):
            if fd >= 0:
                os.close(fd)
        code = 126 if isinstance(exc, PermissionError) else 127
        reason = exc.strerror or str(exc)
        return Process.failed(code, f"{launch.argv[0]}: {reason}", log_path=log_path)
    except BaseException:
        for fd in (out_r, err_r, info_r):
            if fd >= 0:
                os.close(fd)
        raise
    finally:
        for fd in (out_w, err_w, info_w, stdin_fd):
            if fd >= 0:
                os.close(fd)
    process = Process(
        popen,
        tree,
        stdout=OutputFile(stdout_path),
        log=OutputFile(log_path),
        out_r=out_r,
        err_r=err_r,
    )
    sandbox._processes.append(process)
    return process
