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
