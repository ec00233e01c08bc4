"""The view in a real IPython kernel: what a frontend receives while a watch thread feeds it."""

from __future__ import annotations

import base64
import json
import queue
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel
from nbconvert import HTMLExporter

FIXTURE = Path(__file__).parent / "fixtures" / "workflows" / "dag-running.json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

SETUP = """
import copy, json, time
from jupyter_argo import WorkflowView

workflow = json.load(open({path!r}))
view = WorkflowView(workflow)
display(view)

def finished(snapshot):
    snapshot = copy.deepcopy(snapshot)
    for node in snapshot["status"]["nodes"].values():
        if node["phase"] in ("Running", "Pending"):
            node["phase"] = "Succeeded"
    snapshot["status"].update(phase="Succeeded", finishedAt="2024-05-25T11:29:00Z")
    return snapshot

def watch():
    for index in range(20):
        snapshot = copy.deepcopy(workflow)
        snapshot["status"]["message"] = f"snapshot {{index}}"
        yield snapshot
        time.sleep(0.01)
    yield finished(workflow)

follower = view.follow(watch())
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[BlockingKernelClient]:
    manager: KernelManager
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute(client: BlockingKernelClient, code: str) -> list[dict[str, Any]]:
    """Run `code`; return every iopub message until the kernel is idle for it."""
    msg_id = client.execute(code)
    messages = []
    while True:
        message = client.get_iopub_msg(timeout=60)
        messages.append(message)
        parent = message["parent_header"].get("msg_id")
        if (
            parent == msg_id
            and message["msg_type"] == "status"
            and message["content"]["execution_state"] == "idle"
        ):
            break
    reply = client.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return messages


def drain(client: BlockingKernelClient) -> list[dict[str, Any]]:
    messages = []
    while True:
        try:
            messages.append(client.get_iopub_msg(timeout=0.5))
        except queue.Empty:
            return messages


def test_watch_thread_drives_the_widget_and_the_final_static_copy(
    kernel: BlockingKernelClient,
) -> None:
    workflow = json.loads(FIXTURE.read_text())
    messages = execute(kernel, textwrap.dedent(SETUP.format(path=str(FIXTURE))))
    # The kernel answers other cells while the view follows the watch.
    messages += execute(kernel, "answer = 6 * 7")
    messages += execute(kernel, "follower.join(60)")
    messages += drain(kernel)

    displays = [m for m in messages if m["msg_type"] == "display_data"]
    (shown,) = [m for m in displays if WIDGET_VIEW in m["content"]["data"]]
    data = shown["content"]["data"]
    assert {"image/svg+xml", "text/plain"} <= data.keys()
    model_id = data[WIDGET_VIEW]["model_id"]

    updates = [
        m["content"]["data"]["state"]
        for m in messages
        if m["msg_type"] == "comm_msg"
        and m["content"]["comm_id"] == model_id
        and m["content"]["data"].get("method") == "update"
    ]
    headers = [state["header"] for state in updates if "header" in state]
    assert headers[-1]["phase"] == "Succeeded"
    assert any(h["message"].startswith("snapshot") for h in headers)
    # One layout when the view was made; the watch only changed phases.
    assert [index for index, state in enumerate(updates) if "svg" in state] == [0]
    final_phases = [state["phases"] for state in updates if "phases" in state][-1]
    for node_id in workflow["status"]["nodes"]:
        assert final_phases[node_id] == "Succeeded" or workflow["status"]["nodes"][node_id][
            "phase"
        ] not in ("Running", "Pending")

    (final,) = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert final["content"]["transient"] == shown["content"]["transient"]
    assert "Succeeded" in final["content"]["data"]["text/plain"]
    assert "phase-Running" not in final["content"]["data"]["image/svg+xml"]


def test_nbconvert_html_shows_the_graph_without_widget_state() -> None:
    path = FIXTURE.with_name("exit-handler-retries-failed.json")
    workflow = json.loads(path.read_text())
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            f"import json\nfrom jupyter_argo import WorkflowView\n"
            f"WorkflowView(json.load(open({str(path)!r})))"
        )
    ]
    # JupyterLab does not save widget state by default; the static copy must carry it.
    nbclient.NotebookClient(notebook, kernel_name="python3", store_widget_state=False).execute()
    html, _ = HTMLExporter().from_notebook_node(notebook)
    (encoded,) = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    svg = base64.b64decode(encoded).decode("utf-8")
    for node_id in workflow["status"]["nodes"]:
        assert f'id="{node_id.replace("-", "&#45;")}"' in svg
    assert workflow["status"]["phase"] in svg


LIVE_CELL = """%%argo
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: live-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: quick, template: quick}
      - {name: slow, template: slow}
  - name: quick
    script: {image: python:3.11, command: [python], source: "print('quick done')"}
  - name: slow
    script:
      image: python:3.11
      command: [python]
      source: |
        import time
        for i in range(8):
            print(f"tick {i}", flush=True)
            time.sleep(0.75)
"""


@pytest.fixture
def live_kernel(tmp_path: Path) -> Iterator[BlockingKernelClient]:
    """A kernel of its own, running this checkout (not whatever is installed), with its
    own data directory."""
    import os

    env = {
        **os.environ,
        "JUPYTER_ARGO_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_a_blocking_cell_pushes_details_and_streams_running_logs(
    live_kernel: BlockingKernelClient,
) -> None:
    """While the `%%argo` cell still blocks, the kernel pushes every node's details as
    they change and the running steps' log tails about once a second, so the browser
    answers a click without asking the busy kernel (issue 13 item 1)."""
    client = live_kernel
    execute(client, "%load_ext jupyter_argo")
    cell = client.execute(LIVE_CELL)
    comm_id = ""
    names: dict[str, str] = {}
    details: dict[str, dict[str, Any]] = {}
    slow_tails: list[str] = []
    quick_tail = ""
    while True:
        message = client.get_iopub_msg(timeout=60)
        kind, content = message["msg_type"], message["content"]
        if kind == "comm_open" and "phases" in ((content.get("data") or {}).get("state") or {}):
            comm_id = content["comm_id"]
        if kind in ("comm_open", "comm_msg") and content.get("comm_id") == comm_id:
            data = content.get("data") or {}
            names.update((data.get("state") or {}).get("names") or {})
            pushed = data.get("content") or {} if data.get("method") == "custom" else {}
            by_name = {name: node_id for node_id, name in names.items()}
            for node_id, detail in (pushed.get("nodes") or {}).items():
                details[node_id] = detail
            for node_id, tail in (pushed.get("tails") or {}).items():
                if node_id == by_name.get("slow"):
                    slow_tails.append(tail)
                if node_id == by_name.get("quick"):
                    quick_tail = tail
        if (
            message["parent_header"].get("msg_id") == cell
            and kind == "status"
            and content["execution_state"] == "idle"
        ):
            break
    reply = client.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    by_name = {name: node_id for node_id, name in names.items()}
    quick = details[by_name["quick"]]
    assert quick["phase"] == "Succeeded"
    assert quick["template"] == "quick"
    assert quick["duration"]
    assert quick_tail.strip() == "quick done"
    running = [t.count("tick") for t in slow_tails if "tick" in t]
    assert len(running) >= 3, slow_tails  # about once a second over ~6 s
    assert running == sorted(running)
    # Growing while it ran (the last tail, sent as it ends, may follow the cell's end).
    assert running[0] < running[-1]
