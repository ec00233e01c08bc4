"""The container executor: container and script templates run in their real images.

`ContainerExecutor("docker")` (or `"podman"`) has the process executor's API:
`prepare(SandboxSpec)` gives a `ContainerSandbox`, `start(ContainerSpec, sandbox,
stdout_path=, log_path=)` a `Process`. Each container is one `docker run`, attached,
so its stdout and stderr reach the node's files as a process's would.

Paths, as Argo's executor handles them:

- Every container path of a node lives on the host under `node_dir/fs/<path>`
  (`host_path`), except volumes (`shared_mounts`), which are the host directories given.
- Volumes are bind mounts in every container of the node. Paths the engine filled
  before the start (input artifacts) are bind mounts in the main container, as Argo
  mounts its input-artifacts volume there.
- The other declared paths are outputs: when the main container exits they are copied
  out of the stopped container (`docker cp`), as Argo's emissary copies outputs out
  after the command ends, and only then is the `Process` done. So an output may be
  anywhere in the image: no mount hides what the image has at that place. Then the
  container is removed (a container with nothing to copy runs with `--rm`). The copy is
  unpacked as carefully as an input artifact, and links inside it that lead out of it
  (absolute, or through `..`) are dropped with a note in the log: on the host they would
  lead to this machine's files, not the image's.
- A script's source is mounted read-only at `/argo/staging/script` and passed as the
  last argument, as Argo does.

Only the container named `main` loads inputs and saves outputs, as in Argo (init
containers, sidecars and the other containers of a containerSet share volumes only).

The environment goes through a private env file, so values never appear in `ps`;
a value with a line break (which env files cannot hold) goes through the client's own
environment instead. `--init` makes a small init process PID 1, so SIGTERM ends the
command as it would end a plain process (Argo's emissary does the same), and the
containers use the host's network, so 127.0.0.1 is the pod IP the engine reports.

Podman 4 (Debian 12's) refuses a `workingDir` the image does not have; docker creates it,
as Kubernetes does.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, cast

from jupyter_argo.errors import BackendError, ConfigError, UnsupportedError
from jupyter_argo.executors._executor import ContainerSpec, SandboxSpec, _discard, _stdin_fd
from jupyter_argo.executors._layout import contain_links, follow_in_view, is_under, normalize
from jupyter_argo.executors._process import OutputFile, Process, Tree

__all__ = ["ENGINES", "ContainerExecutor", "ContainerSandbox"]

log = logging.getLogger(__name__)

ENGINES = ("docker", "podman")
SCRIPT_PATH = "/argo/staging/script"  # Argo's ExecutorScriptSourcePath
LABEL = "io.jupyter-argo.sandbox"
PULL_POLICIES = ("always", "missing", "never")

_names = itertools.count()
_NOT_RUNNING = re.compile(rb"is not running|can only kill running containers")
# Variables the docker and podman clients read themselves: a container variable of the
# same name must not reach the client's environment.
_CLIENT_VARIABLES = re.compile(
    r"(DOCKER_|CONTAINERS_|CONTAINER_|BUILDAH_|XDG_|REGISTRY_|SSL_|HTTPS?_PROXY$|NO_PROXY$"
    r"|https?_proxy$|no_proxy$|PATH$|HOME$|TMPDIR$|USER$)"
)


class ContainerSandbox:
    """A node's paths on the host, and the containers it has started."""

    mode = "container"

    def __init__(self, engine: str, program: str, spec: SandboxSpec) -> None:
        self.engine = engine
        self.base = Path(spec.node_dir).resolve()
        self.token = f"{os.getpid()}-{secrets.token_hex(6)}"
        paths = [*spec.declared_paths, *spec.output_paths]
        self.declared = list(dict.fromkeys(normalize(p) for p in paths))
        # Innermost first, so a volume inside another volume wins.
        self.volumes = sorted(
            ((normalize(target), Path(source)) for target, source in spec.shared_mounts.items()),
            key=lambda item: len(item[0]),
            reverse=True,
        )
        self.containers: list[str] = []  # names, in start order
        self._program = program
        self._processes: list[Process] = []
        self._closed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = " (cleaned up)" if self._closed else ""
        return f"<ContainerSandbox {self.engine} {self.base}{state}>"

    def host_path(self, container_path: str) -> Path:
        """Where `container_path` lives on the host: put inputs there before the start,
        read outputs there after the exit."""
        path = normalize(container_path)
        for target, source in self.volumes:
            if is_under(path, target):
                rest = path[len(target) :].lstrip("/")
                return source / rest if rest else source
        return self.base / "fs" / path.lstrip("/")

    def in_view(self, container_path: str) -> Path | None:
        """Where the container saw `container_path`, links followed in its view: only
        its mounts (declared paths, volumes) are on this machine; the image's files are
        not the engine's to read."""
        found = follow_in_view(container_path, self._seen_at)
        return None if found is None else found[1]

    def contain_links(self, container_path: str, limit: int) -> None:
        contain_links(container_path, limit, lambda p: follow_in_view(p, self._seen_at))

    def _seen_at(self, path: str) -> Path | bool:
        mounted = [*self.declared, *(target for target, _ in self.volumes)]
        if any(is_under(path, target) for target in mounted):
            return self.host_path(path)
        return any(is_under(target, path) for target in mounted)  # the image's, above one

    def in_volume(self, path: str) -> bool:
        return any(is_under(path, target) for target, _ in self.volumes)

    def cleanup(self, *, wait: bool = False, here: bool = False) -> None:
        """Stop and remove what still runs, then remove the node's private files.

        The removal finishes in the background unless `wait` is true (`here` is
        accepted as `ProcessExecutor`'s sandboxes take it; it changes nothing here)."""
        self._closed = True
        with self._lock:
            processes, self._processes = self._processes, []
            names = list(self.containers)
        for process in processes:
            process.kill()
        paths = [self.base / name for name in ("fs", "env", "scripts")]
        program = self._program

        def remove() -> None:
            for process in processes:
                process.wait(10)
            if names:
                # Each container is removed when it ends; this is for one that did not end.
                subprocess.run(
                    [program, "rm", "-f", *names],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
            for path in paths:
                shutil.rmtree(path, ignore_errors=True)

        _discard(remove, wait)


class _ContainerTree(Tree):
    """Signals go to the container through the engine, not to the local client."""

    def __init__(self, popen: subprocess.Popen[bytes], program: str, name: str) -> None:
        super().__init__(popen)
        self._program = program
        self._name = name

    def signal(self, sig: int) -> None:
        threading.Thread(
            target=self._kill, args=(sig,), name="jupyter-argo-container-kill", daemon=True
        ).start()

    def _kill(self, sig: int) -> None:
        # Until the container exists (the client may still be creating it), retry.
        deadline = time.monotonic() + 60
        while True:
            done = subprocess.run(
                [self._program, "kill", f"--signal={signal.Signals(sig).name}", self._name],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                check=False,
            )
            if done.returncode == 0 or self.popen.poll() is not None:
                return
            if _NOT_RUNNING.search(done.stderr) or time.monotonic() > deadline:
                return  # it has already exited
            time.sleep(0.1)


class _ContainerProcess(Process):
    """A `docker run` client whose outputs are copied out before it counts as done."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        tree: Tree,
        finish: Callable[[Callable[[bytes], None]], None] | None,
        *,
        stdout: OutputFile,
        log: OutputFile,
        out_r: int,
        err_r: int,
    ) -> None:
        self._finish = finish  # set before the pump thread can call _maybe_finish
        super().__init__(popen, tree, stdout=stdout, log=log, out_r=out_r, err_r=err_r)

    def _maybe_finish(self) -> None:
        if not self._exited or self._streams or self._done.is_set():
            return
        if self._finish is None:
            super()._maybe_finish()
            return
        job, self._finish = self._finish, None
        note = self._log.write

        def run() -> None:
            try:
                job(note)
            except Exception:
                log.exception("jupyter-argo: copying a container's outputs failed")
            finally:
                self._pump.submit(self._maybe_finish)

        threading.Thread(target=run, name="jupyter-argo-copy-out", daemon=True).start()


class ContainerExecutor:
    """Runs containers in their images with docker or podman, each node in a sandbox.

    `network` is the `--network` of every container (`host` by default, so the pod IP
    127.0.0.1 that the engine reports is right); `pull` is the `--pull` policy.
    """

    def __init__(
        self,
        engine: str = "docker",
        *,
        network: str = "host",
        pull: str = "missing",
        program: str | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise ConfigError(f"executor {engine!r} is not one of {', '.join(ENGINES)}")
        if pull not in PULL_POLICIES:
            raise ConfigError(f"pull policy {pull!r} is not one of {', '.join(PULL_POLICIES)}")
        self.engine = engine
        self.network = network
        self.pull = pull
        self._program = program
        self._checked: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ContainerExecutor {self.engine}>"

    @property
    def mode(self) -> str:
        return self.engine

    @property
    def program(self) -> str:
        """The engine's client program, checked once: installed, and its daemon answers."""
        with self._lock:
            if self._checked is None:
                self._checked = _check_engine(self.engine, self._program)
            return self._checked

    def prepare(self, sandbox: SandboxSpec) -> ContainerSandbox:
        made = ContainerSandbox(self.engine, self.program, sandbox)
        made.base.mkdir(parents=True, exist_ok=True)
        for _, source in made.volumes:
            source.mkdir(parents=True, exist_ok=True)
        return made

    async def start_async(
        self,
        container: ContainerSpec,
        sandbox: ContainerSandbox,
        *,
        stdout_path: Path,
        log_path: Path,
    ) -> Process:
        """`start`, for the engine's event loop (the container engine's CLI starts it)."""
        return self.start(container, sandbox, stdout_path=stdout_path, log_path=log_path)

    def start(
        self,
        container: ContainerSpec,
        sandbox: ContainerSandbox,
        *,
        stdout_path: Path,
        log_path: Path,
    ) -> Process:
        """Start `container` in `sandbox`. stdout goes to `stdout_path`; stdout and stderr,
        interleaved as they come, to `log_path`."""
        if sandbox._closed:
            raise BackendError(f"{sandbox!r}: cannot start {container.name!r} after clean-up")
        name = _container_name(container.name)
        main = container.name == "main"
        argv, client_env, copy_out = self._run_command(container, sandbox, name, main)
        with sandbox._lock:
            sandbox.containers.append(name)
        finish = None
        if copy_out:
            follow = self.engine == "docker"  # podman cp follows a link and has no -L
            finish = functools.partial(_copy_out, self.program, name, copy_out, follow=follow)
        process = _spawn(
            argv,
            client_env,
            container.stdin,
            (self.program, name),
            Path(stdout_path),
            Path(log_path),
            finish,
        )
        with sandbox._lock:
            sandbox._processes.append(process)
        return process

    def _run_command(
        self, container: ContainerSpec, sandbox: ContainerSandbox, name: str, main: bool
    ) -> tuple[list[str], dict[str, str], list[tuple[str, Path]]]:
        """The `docker run` argv, the client's environment, and the outputs to copy out."""
        argv = [self.program, "run", "--name", name, "--label", f"{LABEL}={sandbox.token}"]
        argv += ["--init", f"--network={self.network}", f"--pull={self.pull}"]
        if container.stdin is not None:
            argv.append("--interactive")
        mounts: list[tuple[Path, str, bool]] = [(src, dst, False) for dst, src in sandbox.volumes]
        copy_out: list[tuple[str, Path]] = []
        if main:
            for path in sorted(sandbox.declared, key=len):  # outer paths first
                host = sandbox.host_path(path)
                if sandbox.in_volume(path):
                    continue
                if host.exists():
                    mounts.append((host, path, False))
                elif not any(is_under(path, other) for other, _ in copy_out):
                    copy_out.append((path, host))
            for _, host in copy_out:
                host.parent.mkdir(parents=True, exist_ok=True)
        if not copy_out:
            argv.append("--rm")  # else removed once its outputs are out
        command = list(container.command)
        args = list(container.args)
        if container.script_source is not None:
            script = sandbox.base / "scripts" / name
            script.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            script.write_text(container.script_source)
            mounts.append((script, SCRIPT_PATH, True))
            args.append(SCRIPT_PATH)
        # Outer mounts first, so a mount inside another lands on top of it.
        for source, target, read_only in sorted(mounts, key=lambda m: len(m[1])):
            argv += ["--mount", _bind(source, target, read_only)]
        client_env = dict(os.environ)
        env_file = sandbox.base / "env" / f"{name}.env"
        env_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for key, value in container.env.items():
                _check_env_name(key)
                if "\n" not in value and "\r" not in value:
                    out.write(f"{key}={value}\n")
                elif _CLIENT_VARIABLES.match(key):
                    argv += ["--env", f"{key}={value}"]  # rare: both multi-line and clashing
                else:
                    client_env[key] = value
                    argv += ["--env", key]
        argv += ["--env-file", str(env_file)]
        if container.working_dir:
            argv += ["--workdir", normalize(container.working_dir)]
        if command:
            argv += ["--entrypoint", command[0]]
        argv += ["--", container.image, *command[1:], *args]
        return argv, client_env, copy_out


def _check_engine(engine: str, program: str | None) -> str:
    found = program or shutil.which(engine)
    if not found:
        package = "docker.io" if engine == "docker" else "podman"
        raise ConfigError(
            f"executor {engine!r}: {engine} is not installed (apt-get install {package}),"
            " or use the process executor"
        )
    try:
        done = subprocess.run(
            [found, "info", "--format", "{{json .}}"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"executor {engine!r}: `{engine} info` failed: {exc}") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        detail = reason[-1] if reason else f"exit code {done.returncode}"
        raise ConfigError(
            f"executor {engine!r}: the {engine} engine does not answer ({detail});"
            f" start it (e.g. scripts/test-image.sh), or use the process executor"
        )
    return found


def _container_name(container: str) -> str:
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]", "-", container)[:40]
    return f"jupyter-argo-{cleaned}-{os.getpid()}-{next(_names)}-{secrets.token_hex(3)}"


def _bind(source: Path, target: str, read_only: bool) -> str:
    for path in (str(source), target):
        if "," in path or "\n" in path or '"' in path:
            raise UnsupportedError(
                f"path {path!r} cannot be mounted into a container (it holds ',', '\"' or a"
                " line break)"
            )
    spec = f"type=bind,source={source},target={target}"
    return spec + ",readonly" if read_only else spec


def _check_env_name(name: str) -> None:
    if not name or name.startswith("#") or re.search(r"[=\s\0]", name):
        raise UnsupportedError(
            f"environment variable name {name!r} cannot be passed to a container"
        )


def _spawn(
    argv: list[str],
    env: Mapping[str, str],
    stdin: bytes | None,
    container: tuple[str, str],  # (engine program, container name)
    stdout_path: Path,
    log_path: Path,
    finish: Callable[[Callable[[bytes], None]], None] | None,
) -> Process:
    stdin_fd = _stdin_fd(stdin)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        popen = subprocess.Popen(
            argv,
            stdin=stdin_fd if stdin_fd >= 0 else subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        for fd in (out_r, err_r):
            os.close(fd)
        return Process.failed(127, f"{argv[0]}: {exc.strerror or exc}", log_path=log_path)
    finally:
        for fd in (out_w, err_w, stdin_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
    return _ContainerProcess(
        popen,
        _ContainerTree(popen, *container),
        finish,
        stdout=OutputFile(stdout_path),
        log=OutputFile(log_path),
        out_r=out_r,
        err_r=err_r,
    )


def _copy_out(
    program: str,
    name: str,
    copies: list[tuple[str, Path]],
    note: Callable[[bytes], None],
    *,
    follow: bool,
) -> None:
    """Copy each (container path, host path) out of the stopped container, then remove it.
    A path the container did not write is left absent."""
    try:
        for path, host in copies:
            problem = _copy_one(program, name, path, host, follow=follow)
            if problem:
                note(f"jupyter-argo: output {path}: {problem}\n".encode())
    finally:
        subprocess.run(
            [program, "rm", "--force", name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )


def _copy_one(program: str, name: str, path: str, host: Path, *, follow: bool) -> str:
    """Copy one output through `cp`'s tar stream; what went wrong, or ""."""
    from jupyter_argo.artifacts._archive import _Extractor, _Unsafe

    argv = [program, "cp", *(["-L"] if follow else []), f"{name}:{path}", "-"]
    with tempfile.TemporaryDirectory(dir=host.parent, prefix=f".{host.name}.") as work:
        unpacked = Path(work)
        dropped: list[str] = []
        stream = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        stdout = cast(IO[bytes], stream.stdout)  # PIPE was asked for
        try:
            extractor = _Extractor(unpacked)
            with tarfile.open(fileobj=stdout, mode="r|") as tar:
                for member in tar:
                    if member.isdir():
                        extractor.directory(member.name, member.mode)
                    elif member.isreg():
                        data = tar.extractfile(member)
                        if data is not None:
                            extractor.file(member.name, data, member.mode, member.mtime)
                    elif member.issym():
                        try:
                            extractor.symlink(member.name, member.linkname)
                        except _Unsafe:
                            dropped.append(f"{member.name} -> {member.linkname}")
                    elif member.islnk():
                        extractor.hardlink(member.name, member.linkname)
            extractor.finish()
        except tarfile.ReadError:
            return ""  # no archive at all: the container did not write this path
        except (tarfile.TarError, OSError, _Unsafe) as error:
            return f"not copied out: {error}"
        finally:
            stdout.close()
            stream.wait()
        entries = list(unpacked.iterdir())
        if stream.returncode != 0 or len(entries) != 1:
            return ""
        if host.is_dir() and not host.is_symlink():
            shutil.rmtree(host)
        elif host.exists() or host.is_symlink():
            host.unlink()
        os.replace(entries[0], host)
    if dropped:
        return "links that lead out of it were dropped: " + ", ".join(dropped)
    return ""
