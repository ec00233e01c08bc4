"""`%%argo` in a real kernel: the live view, and a kernel interrupt while a cell waits."""

from __future__ import annotations

import queue
import re
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
    data = result["content"]["data"]
    # A notebook shows one line for the Run (the view is above it), the tree one click
    # away; the whole tree is the text/plain, for terminals.
    run_name = value(client, "r.name").strip("'")
    summary = f"<code>Run</code> <strong>{run_name}</strong> · ✓ Succeeded · 1/1 · "
    assert data["text/html"].startswith(f"<details class='argo-run'><summary>{summary}")
    assert data["text/plain"].startswith(f"Name:                {run_name}\n")
    assert "Status:              Succeeded" in data["text/plain"]
    printed = [m["content"]["text"] for m in messages if m["msg_type"] == "stream"]
    assert printed[-1] == "--bind: bound result\n"
    with pytest.raises(queue.Empty):  # nothing left running that writes to the notebook
        client.get_iopub_msg(timeout=0.5)


FAILING = """%%argo --out run{options}
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: breaks-}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {{name: prepare, template: fine}}
    - - {{name: crunch, template: broken}}
  - name: fine
    container: {{image: alpine, command: [echo, ready]}}
  - name: broken
    container:
      image: alpine
      command: [sh, -c, "echo reading input; echo bad row 7; echo giving up; exit 3"]
"""


def test_a_failed_run_fails_the_cell_in_one_line_with_its_step_message_and_log(
    kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    _, client = kernel
    run(client, "%load_ext jupyter_argo")
    reply, messages = collect(client, client.execute(FAILING.format(options="")))

    assert reply["status"] == "error", reply
    assert reply["ename"] == "WorkflowFailed"
    (line,) = reply["traceback"]  # one line, no traceback
    assert "\n" not in line
    assert line.startswith("WorkflowFailed: breaks-")
    # Argo's message for a container that exits 3 is "main: Error (exit code 3)".
    assert " Failed at step crunch: main: Error (exit code 3) | log: " in line
    assert line.endswith("reading input ⏎ bad row 7 ⏎ giving up")
    # The view's header carried the failure before anyone clicked.
    headers = [
        m["content"]["data"]["state"]["header"]
        for m in messages
        if m["msg_type"] == "comm_msg" and "header" in m["content"]["data"].get("state", {})
    ]
    failure = headers[-1]["failure"]
    assert (failure["name"], failure["phase"]) == ("crunch", "Failed")
    assert failure["message"] == "main: Error (exit code 3)"
    assert failure["log"] == "reading input\nbad row 7\ngiving up"
    (final,) = [m for m in messages if m["msg_type"] == "update_display_data"]
    plain = final["content"]["data"]["text/plain"]
    assert plain.endswith(
        "last lines of crunch's log:\n    reading input\n    bad row 7\n    giving up"
    )
    # --out was bound before the cell failed.
    assert value(client, "run.phase") == "'Failed'"

    reply, _ = collect(client, client.execute(FAILING.format(options=" --no-raise")))
    assert reply["status"] == "ok", reply
    assert value(client, "run.phase") == "'Failed'"
    run(client, "%config ArgoMagics.raise_on_failure = False")
    reply, _ = collect(client, client.execute(FAILING.format(options="")))
    assert reply["status"] == "ok", reply


def test_an_async_cell_shows_no_phase_that_goes_stale(
    kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    _, client = kernel
    run(client, "%load_ext jupyter_argo")
    _, messages = run(client, "%%argo --async --out later\nimport time\ntime.sleep(2)\n")
    (result,) = [m for m in messages if m["msg_type"] == "execute_result"]
    html = result["content"]["data"]["text/html"]
    assert "not finished when shown" in html
    assert "Pending" not in html
    assert "Running" not in html
    run(client, "later.wait(60)")
    assert "✓ Succeeded" in value(client, "later._repr_html_()")


def test_an_error_names_the_cell_by_the_number_the_frontend_shows(
    kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    _, client = kernel
    run(client, "%load_ext jupyter_argo")
    run(client, "x = 1")
    body = "%%argo\nkind: Workflow\napiVersion: argoproj.io/v1alpha1\nmetadata: {name: [1]}\n"
    reply, messages = collect(client, client.execute(body))
    (shown,) = [m for m in messages if m["msg_type"] == "execute_input"]
    number = shown["content"]["execution_count"]  # the frontend's [N]
    assert reply["execution_count"] == number
    (shown_error,) = reply["traceback"]
    assert shown_error.startswith(f"LintError: In[{number}]:")
    # Every finding (entrypoint missing, a list for a name) points into this cell.
    assert re.findall(r"In\[(\d+)\]:(\d+)", shown_error) == [(str(number), "2"), (str(number), "4")]


SALES_CELLS = [
    """%%argo script make-csv --output-artifact table=/tmp/out/sales.csv
import os
os.makedirs("/tmp/out", exist_ok=True)
with open("/tmp/out/sales.csv", "w") as f:
    f.write("region,amount\\nnorth,10\\nsouth,32\\nnorth,5\\n")
""",
    """%%argo script by-region --input-artifact table=/tmp/i.csv --output-artifact totals=/tmp/t.csv
import pandas as pd
pd.read_csv("/tmp/i.csv").groupby("region")["amount"].sum().to_csv("/tmp/t.csv")
""",
    """%%argo script report --input-artifact totals=/tmp/totals.csv
import pandas as pd
totals = pd.read_csv("/tmp/totals.csv", index_col="region")["amount"]
print(";".join(f"{region}={amount}" for region, amount in totals.items()))
""",
]

SALES = """%%argo --bind
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: sales-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: make, template: make-csv}
    - - name: group
        template: by-region
        arguments:
          artifacts: [{name: table, from: "{{steps.make.outputs.artifacts.table}}"}]
    - - name: show
        template: report
        arguments:
          artifacts: [{name: totals, from: "{{steps.group.outputs.artifacts.totals}}"}]
    outputs:
      parameters:
      - name: totals
        valueFrom: {parameter: "{{steps.show.outputs.result}}"}
"""


def test_a_csv_to_pandas_pipeline_of_script_cells_binds_its_result(
    kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    _, client = kernel
    run(client, "%load_ext jupyter_argo")
    for script in SALES_CELLS:
        run(client, script)
    _, messages = run(client, SALES)
    assert value(client, "totals") == "'north=15;south=32'"
    # The view's header says once that the python images ran this kernel's Python.
    python = value(client, "'python:%d.%d' % __import__('sys').version_info[:2]").strip("'")
    headers = [
        m["content"]["data"]["state"]["header"]
        for m in messages
        if m["msg_type"] in ("comm_open", "comm_msg")
        and m["content"]["data"].get("state", {}).get("header")
    ]
    assert headers
    for header in headers:
        notes = [w for w in header["warnings"] if "this kernel's Python" in w]
        assert len(notes) == 1, header["warnings"]
        assert notes[0].count("this kernel's Python") == 1
        assert f"{python} runs this kernel's Python" in notes[0]
    # A flag that is wrong fails the cell in one line naming the cell and its %%argo line.
    reply, _ = collect(client, client.execute(SALES_CELLS[2].replace("=/tmp/totals.csv", "", 1)))
    assert reply["status"] == "error", reply
    (line,) = reply["traceback"]
    assert re.fullmatch(
        r"UserError: In\[\d+\]:1: --input-artifact 'totals': expected NAME=PATH, PATH absolute "
        r"\(where the script reads the file or directory\)",
        line,
    ), line
