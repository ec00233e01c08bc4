"""A `%%argo` cell's graph is kept in the saved notebook: executed by real `jupyter nbconvert`
(to a notebook and to HTML), saved through a real Jupyter server with the package's server
extension, and in a real kernel whose frontend draws the view (it keeps the live widget).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser.lab import jupyter_lab
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

REPO = Path(__file__).resolve().parent.parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STEPS = ("fetch", "train")  # names Graphviz writes as they are (no "-" to escape)

ARGO_CELL = f"""%%argo
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: kept-}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {{name: {STEPS[0]}, template: say}}
      - {{name: {STEPS[1]}, template: say}}
  - name: say
    container: {{image: alpine, command: [echo, hi]}}
"""


def _notebook(path: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_argo"),
        nbformat.v4.new_code_cell(ARGO_CELL),
    ]
    nbformat.write(notebook, path)
    return path


def _nbconvert(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _svg_images(html: str) -> list[str]:
    """The SVG images an HTML page shows (nbconvert embeds them base64 in <img>)."""
    found = re.findall(r'<img[^>]+src="data:image/svg\+xml;base64,([^"]+)"', html)
    return [base64.b64decode(encoded).decode("utf-8") for encoded in found]


def _shows_the_final_graph(svg: str) -> None:
    for step in STEPS:
        assert f">✓ {step}</text>" in svg  # the node, drawn succeeded
    assert "Succeeded" in svg


def _view_outputs(notebook: Any) -> list[Any]:
    return [o for o in notebook.cells[1].outputs if "image/svg+xml" in o.get("data", {})]


def test_nbconvert_execute_keeps_the_final_graph_in_the_notebook_and_its_html(
    tmp_path: Path,
) -> None:
    source = _notebook(tmp_path / "pipeline.ipynb")
    _nbconvert("--execute", "--to", "notebook", "--output", "executed", str(source), cwd=tmp_path)
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    (view,) = _view_outputs(executed)
    _shows_the_final_graph(view.data["image/svg+xml"])
    # No frontend drew the view: the saved output is the graph, not a widget to restore.
    assert WIDGET_VIEW not in view.data
    summary = view.data["text/plain"].splitlines()
    assert "Succeeded · 2/2" in summary[0]
    assert len(summary) <= 3

    # The executed notebook converted to HTML, and the source executed straight to HTML.
    _nbconvert("--to", "html", str(tmp_path / "executed.ipynb"), cwd=tmp_path)
    _nbconvert("--execute", "--to", "html", "--output", "direct", str(source), cwd=tmp_path)
    for page in ("executed.html", "direct.html"):
        html = (tmp_path / page).read_text()
        (svg,) = _svg_images(html)
        _shows_the_final_graph(svg)
        assert '<script type="application/vnd.jupyter.widget-view+json">' not in html


def test_a_saved_notebook_keeps_the_graph_and_drops_the_live_widget(tmp_path: Path) -> None:
    # The package's own server configuration (jupyter-config/) enables the extension.
    env = {"JUPYTER_CONFIG_PATH": str(REPO / "jupyter-config")}
    root = tmp_path / "root"
    root.mkdir()
    view = nbformat.v4.new_output(
        "display_data",
        data={
            WIDGET_VIEW: {"version_major": 2, "version_minor": 1, "model_id": "a1b2"},
            "image/svg+xml": "<svg><text>fetch</text></svg>",
            "text/plain": "✓ kept-x · Succeeded",
        },
        metadata={"jupyter-argo": {"static": "image/svg+xml"}},
    )
    other = nbformat.v4.new_output(
        "display_data",
        data={WIDGET_VIEW: {"version_major": 2, "version_minor": 1, "model_id": "c3"}},
    )
    cell = nbformat.v4.new_code_cell(ARGO_CELL, outputs=[view, other])
    notebook = nbformat.v4.new_notebook(cells=[cell])
    with jupyter_lab(root, tmp_path / "scratch", env=env) as lab:
        request = urllib.request.Request(
            f"{lab.url}/api/contents/saved.ipynb?token={lab.token}",
            data=json.dumps({"type": "notebook", "content": notebook}).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status in (200, 201)
    saved = nbformat.read(root / "saved.ipynb", as_version=4)
    kept, untouched = saved.cells[0].outputs
    assert WIDGET_VIEW not in kept.data
    assert kept.data["image/svg+xml"] == "<svg><text>fetch</text></svg>"
    assert kept.data["text/plain"] == "✓ kept-x · Succeeded"
    assert untouched.data[WIDGET_VIEW]["model_id"] == "c3"  # another widget: not ours


@pytest.fixture
def kernel() -> Iterator[BlockingKernelClient]:
    manager: KernelManager
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _run(client: BlockingKernelClient, code: str) -> list[dict[str, Any]]:
    msg_id = client.execute(code)
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
    reply = client.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return messages


def _rendered(client: BlockingKernelClient, model_id: str) -> None:
    # What the browser half (view.js) sends when it draws the view: an anywidget `send`.
    content = {"comm_id": model_id, "data": {"method": "custom", "content": {"event": "rendered"}}}
    client.shell_channel.send(client.session.msg("comm_msg", content))


def _final_display(messages: list[dict[str, Any]]) -> dict[str, Any]:
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert updates
    return dict(updates[-1]["content"]["data"])


def test_a_frontend_that_draws_the_view_keeps_the_live_widget(
    kernel: BlockingKernelClient,
) -> None:
    # A runner with no person (nbconvert, nbval: their requests do not allow input()).
    kernel.allow_stdin = False
    _run(kernel, "%load_ext jupyter_argo")
    first = _run(kernel, ARGO_CELL)
    (shown,) = [m for m in first if m["msg_type"] == "display_data"]
    model_id = shown["content"]["data"][WIDGET_VIEW]["model_id"]
    assert WIDGET_VIEW not in _final_display(first)  # the static graph alone
    # A browser draws the view after all: the live view comes back once its message is read.
    _rendered(kernel, model_id)
    back = _run(kernel, "pass")
    restored = _final_display(back)
    assert restored[WIDGET_VIEW]["model_id"] == model_id
    _shows_the_final_graph(restored["image/svg+xml"])
    # From now on this kernel knows a frontend draws views: the final output stays live.
    second = _run(kernel, ARGO_CELL)
    assert WIDGET_VIEW in _final_display(second)


def test_a_frontend_a_person_uses_keeps_the_live_widget_from_the_first_cell(
    kernel: BlockingKernelClient,
) -> None:
    # JupyterLab, Notebook 7 and VS Code send requests that allow input().
    kernel.allow_stdin = True
    _run(kernel, "%load_ext jupyter_argo")
    messages = _run(kernel, ARGO_CELL)
    final = _final_display(messages)
    assert WIDGET_VIEW in final
    _shows_the_final_graph(final["image/svg+xml"])
