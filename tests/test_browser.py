"""JupyterLab in headless Chromium: `%%argo` cells are highlighted as YAML, and running one
shows the live graph, which turns to the succeeded colour and answers a click on a node.

Real parts only: `jupyter lab` on 127.0.0.1 with this package's extension as installed,
Debian's Chromium driven by Playwright (no browser download), the IPython kernel and the
local engine. Screenshots go to tests/artifacts/browser/ for review.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser.chromium import chromium_page, require_chromium
from browser.lab import Lab, jupyter_lab
from browser.notebook import (
    cell,
    colour_of,
    command,
    open_notebook,
    resolved_colour,
    write_notebook,
)

from jupyter_argo import __version__
from jupyter_argo.render.style import PALETTE

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "browser"
GRAPH_TIMEOUT_MS = 60_000
DONE = ("Succeeded", "Failed", "Error")

# The DAG: a diamond of script tasks; each prints SAID and its word.
WORDS = {"A": "alpha", "B": "bravo", "C": "charlie", "D": "delta"}
DEPENDS = {"B": "A", "C": "A", "D": "B && C"}
SAID = "said"
CLICKED = "B"


def _task(name: str) -> str:
    depends = f"\n            depends: {DEPENDS[name]}" if name in DEPENDS else ""
    return f"""          - name: {name}{depends}
            template: say
            arguments:
              parameters: [{{name: word, value: {WORDS[name]}}}]"""


ARGO_CELL = f"""%%argo
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: diamond-
# four tasks; B and C run side by side
spec:
  entrypoint: diamond
  templates:
    - name: diamond
      dag:
        tasks:
{chr(10).join(_task(name) for name in WORDS)}
    - name: say
      inputs:
        parameters:
          - name: word
      script:
        image: python:3.12
        command: [python]
        source: |
          print("{SAID} {{{{inputs.parameters.word}}}}")
"""
PYTHON_CELL = 'kind: str = "Workflow"'


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_chromium()
    pytest.importorskip("playwright.sync_api")
    root = tmp_path_factory.mktemp("lab-root")
    env = {
        "JUPYTER_ARGO_HOME": str(tmp_path_factory.mktemp("argo-home")),
        "JUPYTER_ARGO_BACKEND": "local",
    }
    with jupyter_lab(root, tmp_path_factory.mktemp("lab-scratch"), env=env) as server:
        yield server


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Any]:
    console: list[str] = []
    with chromium_page(console) as browser_page:
        try:
            yield browser_page
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            browser_page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    assert console == [], "errors in the browser console:\n" + "\n".join(console)


@pytest.mark.slow  # `jupyter labextension list` takes a few seconds of CPU
def test_extension_is_installed_and_enabled() -> None:
    # What `pip install` put in place, as JupyterLab itself reports it.
    listing = subprocess.run(
        [sys.executable, "-m", "jupyterlab.labextensions", "list"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NO_COLOR": "1", "JUPYTER_PLATFORM_DIRS": "1"},
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    assert re.search(rf"jupyter-argo v{re.escape(__version__)} enabled OK", text), text


@pytest.mark.slow
def test_argo_cells_are_highlighted_as_yaml(lab: Lab, page: Any) -> None:
    write_notebook(lab.root / "highlight.ipynb", [PYTHON_CELL, ARGO_CELL])
    open_notebook(page, lab, "highlight.ipynb")
    meta = resolved_colour(page, "var(--jp-mirror-editor-meta-color)")
    key = resolved_colour(page, "var(--jp-mirror-editor-atom-color)")
    comment = resolved_colour(page, "var(--jp-mirror-editor-comment-color)")
    assert len({meta, key, comment}) == 3, "the theme should tell these tokens apart"

    # The magic line, YAML keys and YAML comments, as in a .yaml file.
    assert colour_of(page, 1, "%%argo") == meta
    for name in ("apiVersion", "kind", "metadata", "generateName", "entrypoint", "tasks"):
        assert colour_of(page, 1, name) == key, name
    assert colour_of(page, 1, "# four tasks; B and C run side by side") == comment
    # A Python cell stays Python.
    assert colour_of(page, 0, "kind") != key

    # Typing the magic line makes a cell YAML at once; deleting it makes it Python again.
    editor = cell(page, 0).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("%%argo\n")
    page.wait_for_function(
        "(k) => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[0]"
        ".querySelectorAll('.cm-line span')]"
        ".some(s => s.textContent.trim() === 'kind' && getComputedStyle(s).color === k)",
        arg=key,
    )
    assert colour_of(page, 0, "%%argo") == meta
    page.keyboard.press("Control+Home")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Delete")
    page.wait_for_function(
        "() => !document.querySelectorAll('.jp-Notebook .jp-Cell')[0]"
        ".querySelector('.cm-content').textContent.includes('%%argo')"
    )
    assert colour_of(page, 0, "kind") != key


@pytest.mark.slow
def test_argo_cell_runs_and_shows_the_graph(lab: Lab, page: Any) -> None:
    write_notebook(lab.root / "run.ipynb", ["%load_ext jupyter_argo", ARGO_CELL])
    open_notebook(page, lab, "run.ipynb")
    key = resolved_colour(page, "var(--jp-mirror-editor-atom-color)")
    assert colour_of(page, 1, "apiVersion") == key
    command(page, "notebook:run-all-cells")

    view = page.locator(".argo-view")
    view.locator("g.node").first.wait_for(timeout=GRAPH_TIMEOUT_MS)
    # Until the run is over (whatever its end), then it must have succeeded.
    page.wait_for_function(
        "(ends) => ends.some(end => document.querySelector('.argo-view .argo-header .argo-badge')"
        "?.textContent.includes(end))",
        arg=list(DONE),
        timeout=GRAPH_TIMEOUT_MS,
    )
    badge = view.locator(".argo-header .argo-badge").inner_text()
    assert "Succeeded" in badge, cell(page, 1).locator(".jp-OutputArea").inner_text()

    # The workflow's nodes (the DAG and its tasks; not the legend) in the succeeded colour.
    succeeded = PALETTE["Succeeded"].fill
    nodes = page.evaluate(
        """() => [...document.querySelectorAll('.argo-view g.node[class*="phase-"]')].map(g => ({
          label: [...g.querySelectorAll('text')].map(t => t.textContent.trim()).join(' '),
          phase: (g.getAttribute('class').match(/phase-(\\S+)/) || [])[1],
          fills: [...g.querySelectorAll('path, polygon, ellipse')]
            .map(s => s.getAttribute('fill')).filter(f => f && f !== 'none'),
        }))"""
    )
    assert len(nodes) == len(WORDS) + 1, nodes
    for node in nodes:
        assert node["phase"] == "Succeeded", node
        assert node["fills"], node
        assert {fill.lower() for fill in node["fills"]} == {succeeded.lower()}, node
    labels = {node["label"].split()[-1] for node in nodes}
    assert set(WORDS) <= labels

    # A click on a task shows its details: its output is what its script printed.
    node_id = page.evaluate(
        """(name) => [...document.querySelectorAll('.argo-view g.node[class*="phase-"]')]
          .find(g => [...g.querySelectorAll('text')]
            .some(t => t.textContent.trim().split(/\\s+/).pop() === name)).id""",
        CLICKED,
    )
    view.locator(f'g.node[id="{node_id}"]').click()
    detail = view.locator(".argo-detail")
    detail.get_by_text(f"{SAID} {WORDS[CLICKED]}").first.wait_for(timeout=GRAPH_TIMEOUT_MS)
    assert detail.is_visible()
    assert CLICKED in detail.locator(".argo-detail-head").inner_text()
    assert view.locator(f'g.node.argo-selected[id="{node_id}"]').count() == 1
