"""Issue 11, the controller is down: on a real kube-apiserver where nothing plays Argo's
controller, a submitted workflow never gets a status. Watching it says so once, after the
`pending_notice` delay, in one line, and goes on watching; a status that comes first
means no notice at all."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s.controller import Controller, manifest
from k8s.envtest import NAMESPACE, ApiServer, shared_api_server

from jupyter_argo.backends.kubernetes import KubernetesBackend


@pytest.fixture(scope="module")
def server() -> ApiServer:
    return shared_api_server()


@pytest.fixture
def controller(server: ApiServer) -> Controller:
    return Controller(server, NAMESPACE)


@pytest.fixture
def kubeconfig(server: ApiServer, tmp_path: Path) -> Path:
    path: Path = server.kubeconfig(tmp_path / "kubeconfig")
    return path


@pytest.fixture
def notices(kubeconfig: Path) -> Iterator[tuple[KubernetesBackend, list[tuple[float, str]]]]:
    """A backend with a 2 s pending notice, and the (time.monotonic(), line) it said."""
    backend = KubernetesBackend(kubeconfig=kubeconfig, pending_notice=2.0)
    said: list[tuple[float, str]] = []
    backend.notify = lambda line: said.append((time.monotonic(), line))
    yield backend, said
    backend.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def later(seconds: float, action: object) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        action()  # type: ignore[operator]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def come_later(controller: Controller, name: str, seconds: float) -> None:
    """Play a controller that starts `seconds` after workflow `name` is created."""
    for _ in range(600):
        try:
            controller.get(name)
            break
        except Exception:
            time.sleep(0.05)
    time.sleep(seconds)
    controller.write(name, {"phase": "Succeeded"})


def expected_line(name: str, seconds: str) -> str:
    return (
        f"workflow {name} (namespace {NAMESPACE}) has no status after {seconds} s: is Argo's "
        "workflow-controller running in namespace argo? (kubectl -n argo get pods; the run "
        "is kept and will start when it does)"
    )


def test_no_status_is_said_once_after_the_delay_and_the_watch_goes_on(
    notices: tuple[KubernetesBackend, list[tuple[float, str]]], controller: Controller
) -> None:
    backend, said = notices
    name = unique("no-controller")
    controller.create(manifest(name))  # nothing will write its status
    start = time.monotonic()
    snapshots = list(backend.watch(name, timeout=8))
    assert len(said) == 1, (said, time.monotonic() - start)
    at, line = said[0]
    # After the delay, not held up by the quiet stream (whose request would last 8 s).
    assert 2.0 <= at - start < 5.5
    assert line == expected_line(name, "2")
    assert "\n" not in line
    assert [s["metadata"]["name"] for s in snapshots] == [name]  # the watch did not fail
    kept = controller.get(name)  # the run is kept, still waiting for a controller
    assert not kept.get("status")

    # Once a controller comes, the same watch goes on to the end; still one notice.
    said.clear()
    other = unique("late-controller")
    controller.create(manifest(other))
    writer = later(3.0, lambda: controller.write(other, {"phase": "Running"}))
    done = later(3.5, lambda: controller.write(other, {"phase": "Succeeded"}))
    phases = [(s.get("status") or {}).get("phase") for s in backend.watch(other, timeout=30)]
    writer.join()
    done.join()
    assert phases == [None, "Running", "Succeeded"]
    assert [line for _, line in said] == [expected_line(other, "2")]


def test_no_notice_when_the_status_comes_before_the_delay(
    notices: tuple[KubernetesBackend, list[tuple[float, str]]], controller: Controller
) -> None:
    backend, said = notices
    backend.pending_notice = 3.0  # room for the write below on a loaded machine
    name = unique("controller-up")
    controller.create(manifest(name))
    stream = backend.watch(name, timeout=5)
    snapshots = [next(stream)]  # the delay runs from here
    writer = later(0.3, lambda: controller.write(name, {"phase": "Running"}))
    # Running, then a change after the delay: the watch looks again then, sees a phase.
    more = later(4.0, lambda: controller.write(name, {"phase": "Running", "progress": "0/1"}))
    snapshots += list(stream)
    writer.join()
    more.join()
    phases = [(s.get("status") or {}).get("phase") for s in snapshots]
    assert phases == [None, "Running", "Running"]
    assert said == []

    quick = unique("controller-quick")
    controller.create(manifest(quick), {"phase": "Pending"})  # Argo's first phase
    assert len(list(backend.watch(quick, timeout=4))) == 1
    assert said == []


def test_pending_notice_can_be_turned_off(kubeconfig: Path, controller: Controller) -> None:
    backend = KubernetesBackend(kubeconfig=kubeconfig, pending_notice=None)
    said: list[str] = []
    backend.notify = said.append
    try:
        name = unique("quiet-off")
        controller.create(manifest(name))
        assert len(list(backend.watch(name, timeout=2.5))) == 1
        assert said == []
    finally:
        backend.close()


def test_the_cli_says_it_on_stderr_once_with_the_default_delay(
    kubeconfig: Path, controller: Controller
) -> None:
    name = unique("cli-wait")
    controller.create(manifest(name))
    # A controller that comes after 8 s: the default 5 s notice first, then the end.
    finish = later(8.0, lambda: controller.write(name, {"phase": "Succeeded"}))
    command = [sys.executable, "-m", "jupyter_argo.cli", "wait", name, "--backend"]
    command += ["kubernetes", "--kubeconfig", str(kubeconfig), "-n", NAMESPACE]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    finish.join()
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{name} Succeeded\n"
    assert done.stderr.splitlines() == [expected_line(name, "5")]


def test_the_argo_cell_says_it_once_and_goes_on(
    kubeconfig: Path, controller: Controller, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_magics import TestingShell

    shell = TestingShell.instance()
    try:
        shell.run_cell("%load_ext jupyter_argo")
        for setting in (
            "backend = 'kubernetes'",
            f"kubeconfig = {str(kubeconfig)!r}",
            f"namespace = {NAMESPACE!r}",
            "pending_notice = 1.5",
            "view = 'text'",
        ):
            shell.run_cell(f"%config ArgoMagics.{setting}")
        name = unique("cell")
        # The controller comes 3.5 s after the workflow was created: the cell said it by then.
        finish = later(0, lambda: come_later(controller, name, 3.5))
        body = "\n".join(
            [
                "apiVersion: argoproj.io/v1alpha1",
                "kind: Workflow",
                "metadata: {generateName: cell-}",
                "spec:",
                "  entrypoint: main",
                "  templates: [{name: main, container: {image: alpine, command: ['true']}}]",
            ]
        )
        result = shell.run_cell(f"%%argo --name {name} --out run\n{body}\n")
        finish.join()
        assert result.success
        assert shell.user_ns["run"].phase == "Succeeded"
    finally:
        TestingShell.clear_instance()
    out = capsys.readouterr()
    assert out.err.splitlines() == [expected_line(name, "1.5")]
    assert f"{name}: Succeeded" in out.out  # the view went on to the end
