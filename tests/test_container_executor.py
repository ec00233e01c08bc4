"""The container executor with a real engine (docker, or podman) and a real image.

No registry is reachable from CI, so the image is a Debian minbase root filesystem built
by scripts/test-image.sh, which also installs and starts the engine when it runs as root
(`make container-engine` does the same ahead of time). Elsewhere these tests skip and
say why, unless JUPYTER_ARGO_CONTAINERS=required (as under `make test`): then they fail.
JUPYTER_ARGO_CONTAINER_ENGINE=podman runs them with podman.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from conftest import REPO, printed

from jupyter_argo.errors import ConfigError
from jupyter_argo.executors import ContainerExecutor, ContainerSpec, Process, SandboxSpec
from jupyter_argo.executors._container import LABEL, ContainerSandbox

ENGINE = os.environ.get("JUPYTER_ARGO_CONTAINER_ENGINE", "docker")
SCRIPT = REPO / "scripts" / "test-image.sh"


def _unavailable(reason: str) -> NoReturn:
    # Under `make test` (JUPYTER_ARGO_CONTAINERS=required) a missing engine is a failure.
    if os.environ.get("JUPYTER_ARGO_CONTAINERS") == "required":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def image() -> str:
    """The test image, built and loaded (once per machine) by scripts/test-image.sh."""
    if sys.platform != "linux":
        _unavailable("container engines run Linux images; this is not Linux")
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            env={**os.environ, "JUPYTER_ARGO_CONTAINER_ENGINE": ENGINE},
        )
    except subprocess.TimeoutExpired:
        _unavailable(f"{SCRIPT.name} took more than 15 minutes")
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-3:] or [f"exit code {done.returncode}"]
        _unavailable(f"no {ENGINE} engine with the test image here: {' / '.join(why)}")
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Node:
    executor: ContainerExecutor
    sandbox: ContainerSandbox
    image: str
    home: Path
    runs: int = 0

    def start(self, command: list[str], args: list[str] | None = None, **extra: object) -> Process:
        self.runs += 1
        name = str(extra.pop("name", "main"))
        env = extra.pop("env", {})
        spec = ContainerSpec(name, self.image, command, args or [], env, **extra)  # type: ignore[arg-type]
        return self.executor.start(
            spec,
            self.sandbox,
            stdout_path=self.home / f"stdout{self.runs}",
            log_path=self.home / f"log{self.runs}",
        )

    def run(
        self, command: list[str], args: list[str] | None = None, **extra: object
    ) -> tuple[int | None, str, str]:
        code = self.start(command, args, **extra).wait(60)
        return code, self.stdout(), self.log()

    def stdout(self) -> str:
        return printed(self.home / f"stdout{self.runs}")

    def log(self) -> str:
        return printed(self.home / f"log{self.runs}")


def containers_of(sandbox: ContainerSandbox) -> list[str]:
    listed = subprocess.run(
        [ENGINE, "ps", "--all", "--quiet", "--filter", f"label={LABEL}={sandbox.token}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


@pytest.fixture
def executor() -> ContainerExecutor:
    return ContainerExecutor(ENGINE, pull="never")


@pytest.fixture
def node(image: str, executor: ContainerExecutor, tmp_path: Path) -> Iterator[Node]:
    declared = ["/tmp/in.txt", "/data/in", "/etc/out.txt", "/work/out", "/work/out/result"]
    spec = SandboxSpec(tmp_path / "node", declared, {"/shared": tmp_path / "volume"})
    sandbox = executor.prepare(spec)
    yield Node(executor, sandbox, image, tmp_path)
    sandbox.cleanup(wait=True)


def test_stdout_stderr_and_exit_code(node: Node) -> None:
    code, stdout, log = node.run(["sh", "-c"], ["echo out; echo err >&2; exit 3"])
    assert code == 3
    assert stdout == "out\n"
    assert sorted(log.splitlines()) == ["err", "out"]


def test_environment_and_working_directory(node: Node) -> None:
    if ENGINE == "podman":
        pytest.skip("podman 4 refuses a working directory the image does not have")
    env = {
        "PLAIN": "a value  with = and spaces ",
        "MULTI": "line one\nline two",
        "DOCKER_HOST": "tcp://127.0.0.1:1",  # for the container, not for our client
        "ARGO_NODE_ID": "wf-123",
    }
    script = 'printf "%s|" "$PLAIN" "$MULTI" "$DOCKER_HOST" "$ARGO_NODE_ID" "$PWD"'
    code, stdout, log = node.run(["sh", "-c"], [script], env=env, working_dir="/some/where")
    assert code == 0, log
    assert stdout.split("|")[:-1] == [*env.values(), "/some/where"]


def test_a_script_is_mounted_and_passed_last(node: Node) -> None:
    source = 'echo "running $0 with $# args: $*"\ncat /etc/debian_version >/dev/null\n'
    code, stdout, log = node.run(["bash"], ["-e"], script_source=source)
    assert code == 0, log
    assert stdout == "running /argo/staging/script with 0 args: \n"


def test_inputs_are_mounted_and_outputs_copied_out(node: Node) -> None:
    sandbox = node.sandbox
    sandbox.host_path("/tmp/in.txt").parent.mkdir(parents=True)
    sandbox.host_path("/tmp/in.txt").write_text("input file\n")
    (sandbox.host_path("/data/in") / "sub").mkdir(parents=True)
    (sandbox.host_path("/data/in") / "sub" / "x.txt").write_text("input dir\n")
    script = """
        cat /tmp/in.txt /data/in/sub/x.txt
        grep -c . /etc/os-release > /etc/out.txt   # next to the image's own /etc
        mkdir -p /work/out && echo answer > /work/out/result && echo more > /work/out/more
    """
    code, stdout, log = node.run(["sh", "-c"], [script])
    assert code == 0, log
    assert stdout == "input file\ninput dir\n"
    assert int(sandbox.host_path("/etc/out.txt").read_text()) > 0  # /etc was not hidden
    assert sandbox.host_path("/work/out/result").read_text() == "answer\n"
    assert sorted(p.name for p in sandbox.host_path("/work/out").iterdir()) == ["more", "result"]
    assert containers_of(sandbox) == []  # removed once its outputs were out


def test_an_output_not_written_stays_absent(node: Node) -> None:
    code, _, log = node.run(["true"])
    assert code == 0, log
    assert not node.sandbox.host_path("/etc/out.txt").exists()
    assert not node.sandbox.host_path("/work/out").exists()


def test_volumes_are_shared_and_other_containers_see_nothing_else(
    node: Node, executor: ContainerExecutor, tmp_path: Path
) -> None:
    sandbox = node.sandbox
    sandbox.host_path("/tmp/in.txt").parent.mkdir(parents=True)
    sandbox.host_path("/tmp/in.txt").write_text("for main only\n")
    script = (
        "echo from-init > /shared/note; echo x > /etc/out.txt; cat /tmp/in.txt || echo no-input"
    )
    code, stdout, log = node.run(["sh", "-c"], [script], name="init")
    assert code == 0, log
    assert stdout == "no-input\n"
    assert not sandbox.host_path("/etc/out.txt").exists()  # only main saves outputs
    assert (tmp_path / "volume" / "note").read_text() == "from-init\n"

    other = executor.prepare(SandboxSpec(tmp_path / "other", [], {"/shared": tmp_path / "volume"}))
    (tmp_path / "o").mkdir()
    try:
        code, stdout, log = Node(executor, other, node.image, tmp_path / "o").run(
            ["cat", "/shared/note"]
        )
    finally:
        other.cleanup(wait=True)
    assert code == 0, log
    assert stdout == "from-init\n"


def test_stdin(node: Node) -> None:
    code, stdout, log = node.run(["tr", "a-z", "A-Z"], stdin=b"quiet words\n")
    assert code == 0, log
    assert stdout == "QUIET WORDS\n"


def test_terminate_stops_the_container_with_sigterm(node: Node) -> None:
    process = node.start(["sh", "-c"], ["echo started; exec sleep 60"])
    _wait_for_output(node)
    process.terminate(grace=10)
    assert process.wait(30) == 143
    assert containers_of(node.sandbox) == []


def test_sigterm_ignored_means_sigkill_after_the_grace_period(node: Node) -> None:
    process = node.start(["sh", "-c"], ["trap '' TERM; echo started; while :; do sleep 1; done"])
    _wait_for_output(node)
    process.terminate(grace=0.5)
    assert process.wait(30) == 137
    assert containers_of(node.sandbox) == []


def test_a_missing_image_fails_like_a_failed_start(node: Node) -> None:
    node.image = "jupyter-argo/no-such-image:never"
    code, stdout, log = node.run(["true"])
    assert code == 125
    assert stdout == ""
    assert "no-such-image" in log


def test_a_missing_command_fails_and_says_so(node: Node) -> None:
    code, _, log = node.run(["no-such-program"])
    assert code == (127 if ENGINE == "docker" else 1)  # tini's code, catatonit's
    assert "no-such-program" in log or "No such file" in log


def test_links_out_of_an_output_are_dropped(node: Node) -> None:
    script = """
        mkdir -p /work/out/sub && echo data > /work/out/sub/file
        ln -s sub/file /work/out/inside
        ln -s /etc/shadow /work/out/absolute
        ln -s ../../etc/passwd /work/out/climbing
    """
    code, _, log = node.run(["sh", "-c"], [script])
    assert code == 0, log
    out = node.sandbox.host_path("/work/out")
    assert sorted(p.name for p in out.iterdir()) == ["inside", "sub"]
    assert (out / "inside").read_text() == "data\n"
    assert "links that lead out of it were dropped" in log
    assert "/etc/shadow" in log


def test_cleanup_kills_what_runs_and_removes_the_files(
    image: str, executor: ContainerExecutor, tmp_path: Path
) -> None:
    sandbox = executor.prepare(SandboxSpec(tmp_path / "node", ["/tmp/in.txt"]))
    sandbox.host_path("/tmp/in.txt").parent.mkdir(parents=True)
    sandbox.host_path("/tmp/in.txt").write_text("x")
    runner = Node(executor, sandbox, image, tmp_path)
    process = runner.start(["sh", "-c"], ["echo started; exec sleep 60"])
    _wait_for_output(runner)
    sandbox.cleanup(wait=True)
    assert process.wait(30) is not None
    assert containers_of(sandbox) == []
    assert not (tmp_path / "node" / "fs").exists()


def test_an_engine_that_is_not_there_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not one of docker, podman"):
        ContainerExecutor("lxc")
    missing = ContainerExecutor("docker", program=str(tmp_path / "no-such-client"))
    with pytest.raises(ConfigError, match=r"does not answer|failed"):
        missing.prepare(SandboxSpec(tmp_path / "node", []))


def test_a_workflow_runs_in_containers_through_the_local_backend(
    image: str, tmp_path: Path
) -> None:
    from jupyter_argo.backends.local import LocalBackend
    from jupyter_argo.spec.parse import parse_text

    text = f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: in-containers-}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {{name: produce, template: produce}}
    - - name: consume
        template: consume
        arguments:
          artifacts: [{{name: data, from: "{{{{steps.produce.outputs.artifacts.data}}}}"}}]
  - name: produce
    script:
      image: {image}
      command: [bash]
      source: |
        mkdir -p /work/data && echo hello > /work/data/a.txt && echo 42 > /etc/answer
        test -e /.dockerenv -o -e /run/.containerenv && echo in-a-container
    outputs:
      parameters: [{{name: answer, valueFrom: {{path: /etc/answer}}}}]
      artifacts: [{{name: data, path: /work/data}}]
  - name: consume
    inputs:
      artifacts: [{{name: data, path: /in/data}}]
    container:
      image: {image}
      command: [cat, /in/data/a.txt]
"""
    backend = LocalBackend(tmp_path, executor=ENGINE)  # type: ignore[call-arg]
    (doc,) = parse_text(text)
    created = backend.submit(doc.body)
    final = backend.wait(created["metadata"]["name"], timeout=120)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    nodes = {n["displayName"]: n for n in final["status"]["nodes"].values()}
    assert nodes["produce"]["outputs"]["result"] == "in-a-container"
    assert nodes["produce"]["outputs"]["parameters"][0]["value"] == "42"
    assert nodes["consume"]["outputs"]["result"] == "hello"


def _wait_for_output(node: Node) -> None:
    """Until the container has printed its first line: it exists and runs."""
    deadline = time.monotonic() + 30
    while not node.stdout() and time.monotonic() < deadline:
        time.sleep(0.05)
