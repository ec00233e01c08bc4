"""The process executor with real processes, in every isolation mode this machine has."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import printed

from jupyter_argo.errors import BackendError
from jupyter_argo.executors import (
    ContainerSpec,
    ImageMap,
    ImageRule,
    Process,
    ProcessExecutor,
    Sandbox,
    SandboxSpec,
)
from jupyter_argo.executors._bwrap import available as bwrap_available
from jupyter_argo.executors._executor import _namespace_available

ISOLATING = []
if _namespace_available():
    ISOLATING.append("namespace")
if bwrap_available():
    ISOLATING.append("bwrap")
PRIVATE = [*ISOLATING, "remap"]  # every mode that gives each node its own paths


def _skip_unless(mode: str) -> None:
    if mode == "namespace" and not _namespace_available():
        pytest.skip("mount namespaces need Linux and root")
    if mode == "bwrap" and not bwrap_available():
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")


class Node:
    """One node: an executor, its sandbox, and helpers to run containers in it."""

    def __init__(self, executor: ProcessExecutor, sandbox: Sandbox, home: Path) -> None:
        self.executor = executor
        self.sandbox = sandbox
        self.home = home
        self.runs = 0

    def start(
        self, image: str, command: list[str], args: list[str] | None = None, **extra: object
    ) -> Process:
        self.runs += 1
        container = ContainerSpec("main", image, command, args or [], {}, **extra)  # type: ignore[arg-type]
        return self.executor.start(
            container,
            self.sandbox,
            stdout_path=self.home / f"stdout{self.runs}",
            log_path=self.home / f"log{self.runs}",
        )

    def run(
        self, image: str, command: list[str], args: list[str] | None = None, **extra: object
    ) -> tuple[int | None, str, str]:
        process = self.start(image, command, args, **extra)
        code = process.wait(30)
        stdout = printed(self.home / f"stdout{self.runs}")
        log = printed(self.home / f"log{self.runs}")
        return code, stdout, log

    def read(self, container_path: str) -> str:
        return self.sandbox.host_path(container_path).read_text()


def _node(mode: str, home: Path, declared: list[str], **extra: object) -> Node:
    _skip_unless(mode)
    executor = ProcessExecutor(isolation=mode, **extra)  # type: ignore[arg-type]
    sandbox = executor.prepare(SandboxSpec(home / "node", declared))
    home.mkdir(parents=True, exist_ok=True)
    return Node(executor, sandbox, home)


@pytest.fixture(params=PRIVATE)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def node(mode: str, tmp_path: Path) -> Iterator[Node]:
    made = _node(mode, tmp_path, ["/tmp/out.txt", "/src"])
    yield made
    made.sandbox.cleanup(wait=True)


def _running(marker: str) -> list[int]:
    """Host PIDs of live processes whose command line contains `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(name))
    return found


def _unique_sleep() -> str:
    # A sleep length no other process uses, to find the process again.
    return f"{300 + (time.monotonic_ns() % 100_000) / 100_000:.5f}"


def _eventually(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


# Output, exit codes, environment


def test_stdout_file_has_stdout_and_log_has_both(node: Node) -> None:
    code, stdout, log = node.run("busybox", ["sh", "-c"], ["echo out; echo err >&2; exit 3"])
    assert code == 3
    assert stdout == "out\n"
    assert sorted(log.splitlines()) == ["err", "out"]


def test_stdin_and_working_dir(node: Node) -> None:
    code, stdout, _ = node.run(
        "busybox",
        ["sh", "-c"],
        ["cat; pwd"],
        stdin=b"from stdin\n",
        working_dir="/src/work",
    )
    assert code == 0
    stdin_line, cwd = stdout.splitlines()
    assert stdin_line == "from stdin"
    assert cwd.endswith("/src/work")


def test_env_reaches_the_process(node: Node) -> None:
    container = ContainerSpec("main", "busybox", ["sh", "-c", 'echo "$GREETING"'], [], {})
    container.env["GREETING"] = "hello env"
    process = node.executor.start(
        container, node.sandbox, stdout_path=node.home / "o", log_path=node.home / "l"
    )
    assert process.wait(30) == 0
    assert (node.home / "o").read_text() == "hello env\n"


def test_script_source_is_the_last_argument(node: Node) -> None:
    source = "import sys\nprint(sys.argv[-1] == __file__)\nprint(open(__file__).read() == SRC)\n"
    code, stdout, log = node.run(
        "python:alpine3.23",
        ["python"],
        script_source=f"SRC = {source!r}\n{source}",
    )
    assert code == 0, log
    assert stdout.splitlines()[0] == "True"


def test_shell_script_gets_its_file_as_the_last_argument(node: Node) -> None:
    code, stdout, _ = node.run("alpine:3.23", ["sh", "-e"], script_source='echo "$0"\n')
    assert code == 0
    assert stdout.strip().endswith("/script")


def test_python_image_runs_this_interpreter(node: Node) -> None:
    code, stdout, _ = node.run(
        "python:3.12", ["python", "-c"], ["import sys; print(sys.executable)"]
    )
    assert code == 0
    assert stdout.strip() == sys.executable


def test_python_is_on_path_inside_python_images(node: Node) -> None:
    code, stdout, _ = node.run(
        "python:alpine3.23", ["sh", "-c"], ["python -c 'import sys; print(sys.prefix)'"]
    )
    assert code == 0
    assert stdout.strip() == sys.prefix


def test_missing_executable_fails_like_a_shell(node: Node) -> None:
    code, _, log = node.run("busybox", ["/src/not-there.sh"])
    assert code == 127
    assert log.endswith("/not-there.sh: No such file or directory\n"), log


# Built-in argosay and cowsay


@pytest.mark.parametrize(
    ("args", "code", "stdout"),
    [
        ([], 0, "hello argo\n"),
        (["echo"], 0, "hello argo\n"),
        (["echo", "hi there"], 0, "hi there\n"),
        (["exit", "3"], 3, ""),
        (["exit"], 0, ""),
        (["sleep", "0.01"], 0, ""),
        (["bogus"], 1, ""),
    ],
)
def test_argosay(tmp_path: Path, args: list[str], code: int, stdout: str) -> None:
    made = _node("remap", tmp_path, [])
    assert made.run("argoproj/argosay:v2", [], args)[:2] == (code, stdout)


def test_argosay_files(node: Node) -> None:
    image = "argoproj/argosay:v2"
    assert node.run(image, [], ["echo", "real-value", "/tmp/out.txt"])[0] == 0
    assert node.read("/tmp/out.txt") == "real-value\n"
    assert node.run(image, [], ["cat", "/tmp/out.txt"])[:2] == (0, "real-value\n")
    assert node.run(image, [], ["assert_contains", "/tmp/out.txt", "real"])[0] == 0
    assert node.run(image, [], ["assert_contains", "/tmp/out.txt", "fake"])[0] == 1
    assert node.run(image, [], ["cat", "/tmp/absent"])[0] == 1


def test_argosay_as_a_command_and_at_its_image_paths(node: Node) -> None:
    code, stdout, log = node.run(
        "yky8/argosay:v2",
        ["sh", "-c"],
        ["/usr/local/bin/argosay echo 'hello world' | tee /tmp/out.txt; /argosay; argosay echo x"],
    )
    assert code == 0, log
    assert stdout == "hello world\nhello argo\nx\n"
    assert node.read("/tmp/out.txt") == "hello world\n"
    assert node.run("argoproj/argosay:v2", ["/argosay"], ["echo", "direct"])[1] == "direct\n"


def test_cowsay_and_whalesay(node: Node) -> None:
    code, stdout, _ = node.run("argoproj/argosay:v1", ["sh", "-c"], ["cowsay hello"])
    assert code == 0
    assert "< hello >" in stdout
    assert "(oo)" in stdout
    code, stdout, _ = node.run("docker/whalesay:latest", ["cowsay"], ["hello world"])
    assert code == 0
    assert "< hello world >" in stdout
    assert "~~~~" in stdout
    assert "(oo)" not in stdout


def test_cowsay_wraps_long_messages(tmp_path: Path) -> None:
    made = _node("remap", tmp_path, [])
    _, stdout, _ = made.run("argoproj/argosay:v1", ["cowsay"], ["word " * 20])
    bubble = [line for line in stdout.splitlines() if line and line[0] in "/|\\"]
    assert len(bubble) == 3
    assert all(len(line) == len(bubble[0]) for line in bubble)


# Private paths


def test_twenty_parallel_nodes_writing_the_same_path_never_collide(
    mode: str, tmp_path: Path
) -> None:
    _skip_unless(mode)
    host_before = Path("/tmp/out.txt").read_bytes() if Path("/tmp/out.txt").exists() else None
    path = "/tmp/out.txt"
    nodes = [_node(mode, tmp_path / f"n{i}", [path]) for i in range(20)]
    processes = [
        made.start(
            "busybox", ["sh", "-c"], [f"echo {i} > /tmp/out.txt; sleep 0.3; cat /tmp/out.txt"]
        )
        for i, made in enumerate(nodes)
    ]
    assert [process.wait(30) for process in processes] == [0] * 20
    for i, made in enumerate(nodes):
        assert made.read("/tmp/out.txt") == f"{i}\n"
        assert (made.home / "stdout1").read_text() == f"{i}\n"
        made.sandbox.cleanup(wait=True)
    host_after = Path("/tmp/out.txt").read_bytes() if Path("/tmp/out.txt").exists() else None
    assert host_after == host_before


def test_declared_directory_outside_tmp_is_visible(node: Node) -> None:
    source = node.sandbox.host_path("/src/main.sh")
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("echo from src\n")
    code, stdout, log = node.run("debian:9.4", ["sh", "-c"], ["ls /src && sh /src/main.sh"])
    assert code == 0, log
    assert stdout == "main.sh\nfrom src\n"
    assert not Path("/src/main.sh").exists()


@pytest.mark.parametrize("mode", ISOLATING or ["namespace"])
def test_undeclared_paths_outside_tmp_appear_at_run_time(mode: str, tmp_path: Path) -> None:
    made = _node(mode, tmp_path, ["/result.txt", "/mnt/argo-test-out/part.json"])
    code, _, log = made.run(
        "busybox",
        ["sh", "-c"],
        ["echo r > /result.txt && echo p > /mnt/argo-test-out/part.json && ls /usr/bin/env"],
    )
    assert code == 0, log
    assert made.read("/result.txt") == "r\n"
    assert made.read("/mnt/argo-test-out/part.json") == "p\n"
    assert not Path("/result.txt").exists()
    assert not Path("/mnt/argo-test-out").exists()
    made.sandbox.cleanup(wait=True)


def test_volumes_are_shared_between_nodes(mode: str, tmp_path: Path) -> None:
    _skip_unless(mode)
    volume = tmp_path / "volume"
    volume.mkdir()
    executor = ProcessExecutor(isolation=mode)
    writer = executor.prepare(SandboxSpec(tmp_path / "w", [], {"/argo-test-vol": volume}))
    reader = executor.prepare(SandboxSpec(tmp_path / "r", [], {"/argo-test-vol": volume}))
    for sandbox, script in (
        (writer, "echo shared > /argo-test-vol/x"),
        (reader, "cat /argo-test-vol/x"),
    ):
        container = ContainerSpec("main", "busybox", ["sh", "-c", script], [], {})
        process = executor.start(
            container, sandbox, stdout_path=tmp_path / "o", log_path=tmp_path / "l"
        )
        assert process.wait(30) == 0, printed(tmp_path / "l")
    assert (tmp_path / "o").read_text() == "shared\n"
    assert (volume / "x").read_text() == "shared\n"
    writer.cleanup(wait=True)
    reader.cleanup(wait=True)


def test_cleanup_removes_private_files(node: Node) -> None:
    assert node.run("busybox", ["sh", "-c"], ["echo x > /tmp/out.txt"])[0] == 0
    written = node.sandbox.host_path("/tmp/out.txt")
    assert written.exists()
    node.sandbox.cleanup(wait=True)
    assert not written.exists()


# Process trees


def test_terminate_ends_the_whole_tree(node: Node) -> None:
    marker = _unique_sleep()
    process = node.start(
        "busybox", ["sh", "-c"], [f"setsid sh -c 'sleep {marker}' & (sleep {marker} &); sleep 300"]
    )
    assert _eventually(lambda: len(_running(marker)) >= 2)
    process.terminate(grace=5)
    assert process.wait(10) == 128 + signal.SIGTERM
    assert _eventually(lambda: not _running(marker))


def test_nothing_outlives_a_finished_node(node: Node) -> None:
    marker = _unique_sleep()
    code, _, _ = node.run("busybox", ["sh", "-c"], [f"setsid sleep {marker} & sleep 0.2"])
    assert code == 0
    assert _eventually(lambda: not _running(marker))


def test_terminate_lets_handlers_run(node: Node) -> None:
    # `ready` by os.write: a SIGTERM that comes while print's flush is still returning
    # would run the handler's print inside it ("reentrant call" RuntimeError, exit 1).
    script = (
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: (print('bye', flush=True), sys.exit(3)))\n"
        "os.write(1, b'ready\\n')\n"
        "time.sleep(60)\n"
    )
    process = node.start("python:3.12", ["python", "-c", script])
    assert _eventually(lambda: printed(node.home / f"stdout{node.runs}") == "ready\n")
    process.terminate(grace=10)
    assert process.wait(10) == 3
    assert printed(node.home / f"stdout{node.runs}") == "ready\nbye\n"


def test_sigkill_follows_when_sigterm_is_ignored(node: Node) -> None:
    process = node.start("busybox", ["sh", "-c"], ["trap '' TERM; echo ready; sleep 60"])
    assert _eventually(lambda: printed(node.home / f"stdout{node.runs}") == "ready\n")
    process.terminate(grace=0.2)
    assert process.wait(10) == 128 + signal.SIGKILL


def test_kill_and_poll(node: Node) -> None:
    process = node.start("busybox", ["sleep"], ["60"])
    assert process.poll() is None
    assert process.wait(0.05) is None
    process.kill()
    assert process.wait(10) == 128 + signal.SIGKILL
    assert process.poll() == 128 + signal.SIGKILL


def test_done_callback_runs_once(node: Node) -> None:
    seen: list[int | None] = []
    done = threading.Event()
    process = node.start("busybox", ["true"])
    process.add_done_callback(lambda p: (seen.append(p.poll()), done.set()))
    assert done.wait(10)
    process.add_done_callback(lambda p: seen.append(p.poll()))
    assert seen == [0, 0]


def test_cleanup_kills_what_still_runs(node: Node) -> None:
    marker = _unique_sleep()
    process = node.start("busybox", ["sleep"], [marker])
    assert _eventually(lambda: bool(_running(marker)))
    node.sandbox.cleanup(wait=True)
    assert process.poll() == 128 + signal.SIGKILL
    assert not _running(marker)


def test_none_mode_runs_on_the_host(tmp_path: Path) -> None:
    made = _node("none", tmp_path, [str(tmp_path / "plain.txt")])
    assert made.sandbox.host_path(str(tmp_path / "plain.txt")) == tmp_path / "plain.txt"
    assert made.run("busybox", ["sh", "-c"], [f"echo plain > {tmp_path}/plain.txt"])[0] == 0
    assert (tmp_path / "plain.txt").read_text() == "plain\n"


def test_custom_rule_maps_a_private_image(tmp_path: Path) -> None:
    images = ImageMap.default().with_rules(
        ImageRule(match="acme/tool", programs={"tool": "@python -c"}, host_programs=False)
    )
    made = _node("remap", tmp_path, [], images=images)
    assert made.run("acme/tool:1.0", ["tool"], ["print(6 * 7)"])[:2] == (0, "42\n")


def test_large_output_arrives_whole(node: Node) -> None:
    code, stdout, log = node.run(
        "busybox", ["sh", "-c"], ["head -c 3000000 /dev/zero | tr '\\0' a; echo; echo done >&2"]
    )
    assert code == 0
    assert len(stdout) == 3_000_001
    assert set(stdout[:-1]) == {"a"}
    assert len(log) == len(stdout) + len("done\n")


def test_undeclared_working_dir_is_created_privately(mode: str, tmp_path: Path) -> None:
    made = _node(mode, tmp_path, [])
    code, stdout, log = made.run(
        "busybox", ["sh", "-c"], ["pwd; echo w > here.txt"], working_dir="/argo-test-wd/sub"
    )
    assert code == 0, log
    assert stdout.strip().endswith("/argo-test-wd/sub")
    assert made.read("/argo-test-wd/sub/here.txt") == "w\n"
    assert not Path("/argo-test-wd").exists()
    made.sandbox.cleanup(wait=True)


@pytest.mark.parametrize("isolating", ISOLATING)
def test_a_python_installed_under_tmp_stays_visible(
    isolating: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkout (and its .venv) under /tmp: the node's private /tmp must not hide it.
    prefix = tmp_path / "venv"
    prefix.mkdir()
    (prefix / "marker").write_text("here\n")
    assert str(prefix).startswith("/tmp/")
    from jupyter_argo.executors._executor import _runtime_under_tmp

    monkeypatch.setattr(sys, "prefix", str(prefix))
    _runtime_under_tmp.cache_clear()  # it is computed once per process
    made = _node(isolating, tmp_path / "home", ["/tmp/out.txt"])
    try:
        code, stdout, _ = made.run("alpine", ["cat", f"{prefix}/marker"])
        assert (code, stdout) == (0, "here\n")
    finally:
        made.sandbox.cleanup(wait=True)
        monkeypatch.undo()
        _runtime_under_tmp.cache_clear()


def test_a_silent_process_leaves_no_output_files(node: Node) -> None:
    process = node.start("alpine", ["sh", "-c", "true"])
    assert process.wait(30) == 0
    assert not (node.home / f"stdout{node.runs}").exists()
    assert not (node.home / f"log{node.runs}").exists()
    process = node.start("alpine", ["sh", "-c", "echo err >&2"])
    assert process.wait(30) == 0
    assert not (node.home / f"stdout{node.runs}").exists()
    assert (node.home / f"log{node.runs}").read_text() == "err\n"


def test_broken_pipes_kill_by_default_as_in_a_container(node: Node) -> None:
    # Python ignores SIGPIPE; a container's processes get it back at its default.
    # With SIGPIPE ignored, `yes` would report "Broken pipe" on stderr and exit 1.
    code, stdout, log = node.run("alpine", ["sh", "-c", "yes | head -n 2"])
    assert (code, stdout, log) == (0, "y\ny\n", "y\ny\n")


def test_a_dedicated_thread_makes_namespace_calls_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _skip_unless("namespace")
    from jupyter_argo.executors import _linux, dedicate_thread

    monkeypatch.chdir(tmp_path)
    home_ns = os.readlink("/proc/thread-self/ns/mnt")
    seen: dict[str, object] = {}

    def dedicated() -> None:
        assert dedicate_thread()
        worker = _linux.worker()

        def inside() -> tuple[int, str]:
            fd = worker.new_mount_namespace()
            os.close(fd)
            return threading.get_ident(), os.readlink("/proc/thread-self/ns/mnt")

        seen["ran_on"], seen["inside_ns"] = worker.call(inside)
        seen["after_ns"] = os.readlink("/proc/thread-self/ns/mnt")
        seen["cwd"] = os.getcwd()
        seen["me"] = threading.get_ident()

    thread = threading.Thread(target=dedicated)
    thread.start()
    thread.join(30)
    assert seen["ran_on"] == seen["me"]  # no hand-off to the worker thread
    assert seen["inside_ns"] != home_ns
    assert seen["after_ns"] == home_ns  # back home afterwards
    assert seen["cwd"] == str(tmp_path)  # and in the process's working directory


@pytest.mark.parametrize("maker_mode", ["bwrap", "namespace"])
def test_a_dead_sandbox_maker_fails_its_steps_and_the_next_sandbox_gets_a_new_one(
    maker_mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_argo.executors import _maker

    monkeypatch.setenv("JUPYTER_ARGO_SANDBOX_MAKER", "1")  # the namespace mode's from the first
    node = _node(maker_mode, tmp_path, ["/tmp/out.txt"])
    assert node.sandbox.in_maker
    marker = _unique_sleep()
    process = node.start("busybox", ["sleep"], [marker])
    assert _eventually(lambda: bool(_running(marker)))
    first = _maker.maker(maker_mode)
    children = Path(f"/proc/{first.pid}/task/{first.pid}/children").read_text().split()
    assert len(children) == 1  # its child: the maker, PID 1 of the steps' namespaces
    os.kill(int(children[0]), signal.SIGKILL)
    # The step died with it (its PID namespace's init did), and says why in one line.
    assert process.wait(10) == 128 + signal.SIGKILL
    log = printed(node.home / f"log{node.runs}")
    title = f"the {maker_mode} sandbox maker stopped"
    assert log.startswith(f"jupyter-argo: {title} (killed by signal 9"), log
    assert len(log.splitlines()) == 1
    assert _eventually(lambda: not _running(marker))
    # Its sandbox is gone with it: a start there fails with one line, never unconfined.
    with pytest.raises(BackendError, match=title):
        node.start("busybox", ["true"])
    # The next sandbox starts a new maker.
    again = _node(maker_mode, tmp_path / "again", ["/tmp/out.txt"])
    assert again.run("busybox", ["sh", "-c", "echo hi > /tmp/out.txt; cat /tmp/out.txt"]) == (
        0,
        "hi\n",
        "hi\n",
    )
    assert _maker.maker(maker_mode) is not first


def test_a_sandbox_maker_that_cannot_start_says_why_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_argo.executors import _maker

    _skip_unless("bwrap")
    monkeypatch.setattr(_maker, "_makers", {})
    monkeypatch.setattr(_maker, "maker_argv", lambda program: [program, "--no-such-option"])
    node = _node("bwrap", tmp_path, ["/tmp/out.txt"])
    with pytest.raises(BackendError) as raised:
        node.start("busybox", ["true"])
    message = str(raised.value)
    assert message.startswith("the bwrap sandbox maker stopped: exit code 1: bwrap:"), message
    assert "--no-such-option" in message
    assert "\n" not in message


def test_a_maker_container_that_has_been_reaped_is_never_signalled_by_its_old_pid() -> None:
    # The maker, not the engine, reaps its containers: once it has, the PID may name
    # another process, here one of ours that must not receive the container's SIGKILL.
    import subprocess

    from jupyter_argo.executors._maker import MakerChild, _host_pid
    from jupyter_argo.executors._process import NamespaceTree

    ended = subprocess.Popen(["true"])
    pidfd = os.pidfd_open(ended.pid)
    ended.wait()  # reaped: the pidfd now refers to a process that is gone
    assert _host_pid(pidfd) == 0
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        child = MakerChild()
        child.pid, child.pidfd = bystander.pid, pidfd  # as if the PID had been reused
        assert not child.running()
        tree = NamespaceTree(child)
        assert tree.init_pid() is None
        tree.signal(signal.SIGKILL)
        assert bystander.poll() is None  # untouched
        child._finish(0)
        assert child.pidfd == -1  # closed with its end
    finally:
        bystander.kill()
        bystander.wait()


def test_a_layout_sent_to_a_sandbox_maker_arrives_whole(tmp_path: Path) -> None:
    # `Layout.__reduce__` sends paths as text: what arrives is the same layout, Paths and all.
    import pickle

    from jupyter_argo.executors._layout import Confinement, Layout

    confinement = Confinement(hidden=("/root",), kept=("/root/.pyenv",), homes=("/root",))
    layout = Layout(
        "namespace",
        tmp_path / "node",
        {"/data": tmp_path / "data"},
        confinement=confinement,
        read_only=["/data"],
    )
    layout.add(["/tmp/in", "/mnt/in/file.txt"])
    layout.add(["/mnt/out/result.txt"], outputs=True)
    arrived = pickle.loads(pickle.dumps(layout, pickle.HIGHEST_PROTOCOL))
    assert arrived.__dict__ == layout.__dict__
    assert [type(layer.host) for layer in arrived.layers] == [
        type(layer.host) for layer in layout.layers
    ]
    assert type(arrived.base) is type(layout.base)
    assert arrived.host_path("/mnt/in/file.txt") == layout.host_path("/mnt/in/file.txt")
