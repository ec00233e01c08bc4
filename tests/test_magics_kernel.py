"""`%%argo` in a real kernel: the live view, and a kernel interrupt while a cell waits."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

SLEEPER = """%%argo --out run
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: sleeper-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: nap}
      - {name: b, template: nap}
  - name: nap
    container: {image: alpine, command: [sh, -c, "sleep 120 & sleep 120"]}
"""


@pytest.fixture
def kernel() -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def collect(client: BlockingKernelClient, msg_id: str) -> tuple[dict[str, Any], list[Any]]:
    """The execute reply of `msg_id` and every iopub message up to its idle status."""
    messages = []
    while True:
        message = client.get_iopub_msg(timeout=60)
        messages.append(message)
        if (
            message["parent_header"].get("msg_id") == msg_id
            and message["msg_type"] == "status"
            and message["content"]["execution_state"] == "idle"
        ):
            break
    while True:
        reply = client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"], messages


def run(client: BlockingKernelClient, code: str) -> tuple[dict[str, Any], list[Any]]:
    reply, messages = collect(client, client.execute(code))
    assert reply["status"] == "ok", reply
    return reply, messages


def value(client: BlockingKernelClient, expression: str) -> str:
    _, messages = run(client, expression)
    (result,) = [m for m in messages if m["msg_type"] == "execute_result"]
    return str(result["content"]["data"]["text/plain"])


def steps_of(kernel_pid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.Process(kernel_pid).children(recursive=True):
        try:
            if "sleep" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.mark.parametrize("at", ["watching", "as-soon-as-steps-run"])
def test_interrupt_terminates_the_run_and_leaves_no_process(
    kernel: tuple[KernelManager, BlockingKernelClient], at: str
) -> None:
    manager, client = kernel
    run(client, "%load_ext jupyter_argo")
    kernel_pid = int(value(client, "__import__('os').getpid()"))

    msg_id = client.execute(SLEEPER)
    early = []  # up to the view's first update: the cell is in its watch loop then
    while at == "watching" and not any(m["msg_type"] == "comm_msg" for m in early):
        message = client.get_iopub_msg(timeout=60)
        if message["msg_type"] == "display_data" or early:
            early.append(message)
    deadline = time.monotonic() + 60
    while len(steps_of(kernel_pid)) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    if len(steps_of(kernel_pid)) != 6:  # two steps, each a shell and its two sleeps
        manager.interrupt_kernel()
        pytest.fail(f"the steps did not start: {collect(client, msg_id)}")
    manager.interrupt_kernel()
    reply, messages = collect(client, msg_id)
    messages = early + messages

    assert reply["status"] == "error", reply
    assert reply["ename"] == "RunInterrupted", reply
    (line,) = reply["traceback"]  # one line, no traceback
    assert line.startswith("KeyboardInterrupt: sleeper-")
    assert steps_of(kernel_pid) == []

    _, after = run(client, "print(run.phase, '|', run.message)")
    printed = "".join(m["content"].get("text", "") for m in after if m["msg_type"] == "stream")
    assert printed.startswith("Failed | interrupted by the user")
    if at != "watching":
        return
    # The cell showed the live view, and its static copy was replaced by the final state
    # (off the cell's thread, so perhaps after the cell returned).
    messages += after
    assert any(
        WIDGET_VIEW in m["content"]["data"] for m in messages if m["msg_type"] == "display_data"
    )
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    while not updates:
        message = client.get_iopub_msg(timeout=30)
        updates = [message] if message["msg_type"] == "update_display_data" else []
    assert "Failed" in updates[-1]["content"]["data"]["text/plain"]


def test_a_cell_in_a_kernel_shows_the_view_and_binds(
    kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    _, client = kernel
    run(client, "%load_ext jupyter_argo")
    _, messages = run(client, "%%argo --bind --out r\nprint(6 * 7)\n")
    assert value(client, "result") == "'42'"
    shown = [m for m in messages if m["msg_type"] == "display_data"]
    assert {WIDGET_VIEW, "image/svg+xml", "text/plain"} <= shown[0]["content"]["data"].keys()
    (result,) = [m for m in messages if m["msg_type"] == "execute_result"]
    assert "Succeeded" in result["content"]["data"]["text/plain"]
    with pytest.raises(queue.Empty):  # nothing left running that writes to the notebook
        client.get_iopub_msg(timeout=0.5)
