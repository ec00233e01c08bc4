"""Namespace sandboxes made as copies of one template (issue 16, per step near the spawn
floor): what every sandbox shares is built once, read-only; what each has to itself
(its directory, /tmp, /dev/shm, its home) stays its own, also for steps started at once."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import printed

from jupyter_argo.executors import (
    ContainerSpec,
    Process,
    ProcessExecutor,
    Sandbox,
    SandboxSpec,
    _namespace,
)
from jupyter_argo.executors._executor import _namespace_available

pytestmark = pytest.mark.skipif(
    not _namespace_available(), reason="the namespace mode needs Linux and root"
)


def _run_at_once(
    executor: ProcessExecutor, scripts: list[str], tmp_path: Path
) -> tuple[list[str], list[Sandbox]]:
    """Start one step per script at once, as the engine does; their exit codes must be 0."""
    sandboxes = []
    for i in range(len(scripts)):
        (tmp_path / f"h{i}").mkdir(parents=True)
        sandboxes.append(executor.prepare(SandboxSpec(tmp_path / f"h{i}" / "node", [])))

    async def main() -> list[Process]:
        return list(
            await asyncio.gather(
                *(
                    executor.start_async(
                        ContainerSpec("main", "busybox", ["sh", "-c", script], [], {}),
                        sandbox,
                        stdout_path=tmp_path / f"h{i}" / "stdout",
                        log_path=tmp_path / f"h{i}" / "log",
                    )
                    for i, (script, sandbox) in enumerate(zip(scripts, sandboxes, strict=True))
                )
            )
        )

    processes = asyncio.run(main())
    codes = [process.wait(60) for process in processes]
    logs = [printed(tmp_path / f"h{i}" / "log") for i in range(len(scripts))]
    assert codes == [0] * len(scripts), logs
    return [printed(tmp_path / f"h{i}" / "stdout") for i in range(len(scripts))], sandboxes


def test_steps_started_together_keep_their_own_dev_shm_home_and_tmp(tmp_path: Path) -> None:
    # Each writes a mark in each private place, waits until all have, then lists them:
    # a place shared through the template would show the others' marks.
    count = 8
    script = (
        "for d in /dev/shm $HOME /tmp; do echo x > $d/mark-{i}; done; sleep 1;"
        " for d in /dev/shm $HOME /tmp; do echo $d: $(ls -a $d | grep mark); done"
    )
    executor = ProcessExecutor(isolation="namespace")
    seen, sandboxes = _run_at_once(executor, [script.format(i=i) for i in range(count)], tmp_path)
    for i, out in enumerate(seen):
        assert out == f"/dev/shm: mark-{i}\n/root: mark-{i}\n/tmp: mark-{i}\n"
    assert executor.confinement in _namespace._templates  # they were copies of it
    for sandbox in sandboxes:
        sandbox.cleanup(wait=True)


def test_what_the_copies_share_is_read_only(tmp_path: Path) -> None:
    # /dev (a pod's devices), the hidden places' stand-ins and the host are one file
    # system for every copy: none of them can be written, the devices still work, and
    # the runtime shown again under the home still runs.
    executor = ProcessExecutor(isolation="namespace")
    hidden = [p for p in executor.confinement.hidden if p not in executor.confinement.homes]
    targets = ["/dev/new", "/usr/new", *(f"{place}/new" for place in hidden)]
    script = "".join(f"touch {t} 2>/dev/null && echo wrote {t};" for t in targets)
    script += " echo x > /dev/null && echo devices; head -c 4 /dev/zero | wc -c"
    (out,), sandboxes = _run_at_once(executor, [script], tmp_path)
    assert out == "devices\n4\n"
    sandboxes[0].cleanup(wait=True)
    for target in targets:
        assert not Path(target).exists()


def test_a_template_renewed_while_steps_start_leaves_them_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Renewed at every sandbox (host mounts made since show up), the old ones closed at
    # once: steps starting meanwhile on other threads still get a whole copy.
    monkeypatch.setattr(_namespace, "_TEMPLATE_AGE", 0.0)
    monkeypatch.setattr(_namespace, "_RETIRED_AGE", 0.0)
    executor = ProcessExecutor(isolation="namespace")
    script = "echo x > /tmp/f; ls /dev/null /tmp/f; touch /usr/new 2>/dev/null || echo ro"
    seen, sandboxes = _run_at_once(executor, [script] * 12, tmp_path)
    assert seen == ["/dev/null\n/tmp/f\nro\n"] * 12
    for sandbox in sandboxes:
        sandbox.cleanup(wait=True)


def test_a_node_directory_in_a_hidden_place_gets_the_whole_confinement(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # The template hides the place, so a copy could not reach the node's directory: this
    # sandbox is built whole, and is as confined (the hidden place's files stay hidden).
    hidden = Path(tempfile.mkdtemp(prefix="jupyter-argo-hidden-", dir="/var/tmp"))  # not /tmp
    request.addfinalizer(lambda: shutil.rmtree(hidden, ignore_errors=True))
    (hidden / "secret").write_text("s")
    executor = ProcessExecutor(isolation="namespace", hide=[hidden])
    script = f"echo in > /tmp/f; cat /tmp/f; ls {hidden}; touch /dev/new 2>/dev/null || echo ro"
    sandbox = executor.prepare(SandboxSpec(hidden / "node", ["/tmp/f"]))
    assert sandbox._namespace is not None
    assert not sandbox._namespace._from_template()
    process = executor.start(
        ContainerSpec("main", "busybox", ["sh", "-c", script], [], {}),
        sandbox,
        stdout_path=tmp_path / "stdout",
        log_path=tmp_path / "log",
    )
    assert process.wait(60) == 0, printed(tmp_path / "log")
    assert printed(tmp_path / "stdout") == "in\nro\n"
    assert sandbox.host_path("/tmp/f").read_text() == "in\n"
    sandbox.cleanup(wait=True)


def test_spawning_threads_keep_no_root_privilege_for_sandboxes_only(tmp_path: Path) -> None:
    # A spawning thread keeps SECBIT_NOROOT between sandboxed starts; a step without a
    # sandbox started on the same threads afterwards has root's capabilities again.
    script = "grep CapEff /proc/self/status"
    boxed, sandboxes = _run_at_once(
        ProcessExecutor(isolation="namespace"), [script] * 8, tmp_path / "boxed"
    )
    assert set(boxed) == {"CapEff:\t0000000000000000\n"}
    bare, more = _run_at_once(ProcessExecutor(isolation="none"), [script] * 8, tmp_path / "bare")
    assert all(int(line.split()[1], 16) != 0 for line in bare), bare
    for sandbox in [*sandboxes, *more]:
        sandbox.cleanup(wait=True)
