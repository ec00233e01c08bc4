"""JupyterLab (and Notebook 7) in headless Chromium: `%%argo` cells are highlighted as
YAML, or as Python when they hold a script; running one shows the live graph, which turns
to the succeeded colour and answers a click on a node; a failed run shows its failed step
up front and fails its cell in one line; the saved notebook, reopened with the kernel
gone, shows the graph.

The view's key checks (live while a cell blocks, a wide loop folded and navigable,
artifact previews, a failed run, the saved notebook) run in both frontends: each test
that takes the `frontend` fixture runs once in JupyterLab and once in Notebook 7.

Real parts only: `jupyter lab` and `jupyter notebook` on 127.0.0.1 with this package's
extension as installed, Debian's Chromium driven by Playwright (no browser download), the
IPython kernel and the local engine. Screenshots go to tests/artifacts/browser/ for review.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser.chromium import chromium_page, require_chromium
from browser.lab import FRONTENDS, Lab, frontend_error, jupyter_lab
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

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts" / "browser"
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


def _server(tmp_path_factory: pytest.TempPathFactory, frontend: str) -> Any:
    require_chromium()
    pytest.importorskip("playwright.sync_api")
    root = tmp_path_factory.mktemp(f"{frontend}-root")
    env = {
        "JUPYTER_ARGO_HOME": str(tmp_path_factory.mktemp("argo-home")),
        "JUPYTER_ARGO_BACKEND": "local",
        # The package's server extension (saves the view's static graph), from this checkout.
        "JUPYTER_CONFIG_PATH": str(REPO / "jupyter-config"),
    }
    scratch = tmp_path_factory.mktemp(f"{frontend}-scratch")
    return jupyter_lab(root, scratch, env=env, frontend=frontend)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with _server(tmp_path_factory, "lab") as server:
        yield server


@pytest.fixture(scope="module", params=FRONTENDS)
def frontend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    """JupyterLab (the same server as `lab`), then Notebook 7."""
    if request.param == "lab":
        yield request.getfixturevalue("lab")
        return
    with _server(tmp_path_factory, request.param) as server:
        yield server


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Any]:
    console: list[str] = []
    which = (
        request.getfixturevalue("frontend").frontend
        if "frontend" in request.fixturenames
        else "lab"
    )
    with chromium_page(console, known=frontend_error(which)) as browser_page:
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


SCRIPT_CELL = """%%argo script greet --input name
def greet(name):
    return "hello " + name  # a Python comment
print(greet("{{inputs.parameters.name}}"))
"""
PYTHON_BODY_CELL = """%%argo -p n=3 --bind
import math
print(math.isqrt(int("{{inputs.parameters.n}}")))
"""


@pytest.mark.slow
def test_python_argo_cells_are_highlighted_as_python(lab: Lab, page: Any) -> None:
    write_notebook(
        lab.root / "python-cells.ipynb", [SCRIPT_CELL, PYTHON_BODY_CELL, ARGO_CELL, "%%argo\n"]
    )
    open_notebook(page, lab, "python-cells.ipynb")
    keyword = resolved_colour(page, "var(--jp-mirror-editor-keyword-color)")
    string = resolved_colour(page, "var(--jp-mirror-editor-string-color)")
    meta = resolved_colour(page, "var(--jp-mirror-editor-meta-color)")
    key = resolved_colour(page, "var(--jp-mirror-editor-atom-color)")
    comment = resolved_colour(page, "var(--jp-mirror-editor-comment-color)")
    assert len({keyword, string, meta, key, comment}) == 5, "the theme should tell these apart"

    # `%%argo script NAME`: the magic line as always, the body as Python.
    assert colour_of(page, 0, "%%argo") == meta
    assert colour_of(page, 0, "def") == keyword
    assert colour_of(page, 0, "return") == keyword
    assert colour_of(page, 0, '"hello "') == string
    assert colour_of(page, 0, "# a Python comment") == comment
    # A body that is not a manifest (the kernel runs it as a script): Python too.
    assert colour_of(page, 1, "import") == keyword
    assert colour_of(page, 1, "math") != key
    # A manifest stays YAML: keys in the key colour, no Python keywords.
    assert colour_of(page, 2, "kind") == key
    assert colour_of(page, 2, "apiVersion") == key
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "python-argo-cells.png"))

    # Typing Python into an empty `%%argo` cell makes it Python at once.
    editor = cell(page, 3).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("from os import path")
    page.wait_for_function(
        "(k) => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[3]"
        ".querySelectorAll('.cm-line span')]"
        ".some(s => s.textContent.trim() === 'from' && getComputedStyle(s).color === k)",
        arg=keyword,
    )
    assert colour_of(page, 3, "import") == keyword
    # ... and a YAML key in its place makes it YAML again.
    page.keyboard.press("Shift+Home")
    page.keyboard.type("kind: Workflow")
    page.wait_for_function(
        "(k) => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[3]"
        ".querySelectorAll('.cm-line span')]"
        ".some(s => s.textContent.trim() === 'kind' && getComputedStyle(s).color === k)",
        arg=key,
    )


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
    # One output, not two: below the view, the Run in one line (its tree folded away).
    result = cell(page, 1).locator(".jp-OutputArea-executeResult .jp-OutputArea-output")
    result.locator("summary").wait_for(timeout=GRAPH_TIMEOUT_MS)
    shown = result.inner_text().strip()
    assert re.fullmatch(r"Run diamond-\w+ · ✓ Succeeded · 4/4 · \d+s", shown), shown

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


FAILING_CELL = """%%argo
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: breaks-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: prepare, template: fine}
    - - {name: crunch, template: broken}
  - name: fine
    container: {image: alpine, command: [echo, ready]}
  - name: broken
    container: {image: alpine, command: [sh, -c, "echo reading input; echo bad row 7; exit 3"]}
"""
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _shut_down_kernels(lab: Lab) -> None:
    with urllib.request.urlopen(f"{lab.url}/api/sessions?token={lab.token}") as response:
        sessions = json.load(response)
    for session in sessions:
        request = urllib.request.Request(
            f"{lab.url}/api/sessions/{session['id']}?token={lab.token}", method="DELETE"
        )
        urllib.request.urlopen(request).close()


@pytest.mark.slow
def test_a_failed_run_is_shown_up_front_and_the_saved_notebook_keeps_the_graph(
    frontend: Lab, page: Any
) -> None:
    path = frontend.root / "fails.ipynb"
    write_notebook(path, ["%load_ext jupyter_argo", FAILING_CELL, "after = 1"])
    open_notebook(page, frontend, "fails.ipynb")
    command(page, "notebook:run-all-cells")

    # The failed step, its message and its log's last lines, with no click.
    view = page.locator(".argo-view")
    failure = view.locator(".argo-failure")
    failure.locator(".argo-failure-name", has_text="crunch").wait_for(timeout=GRAPH_TIMEOUT_MS)
    assert "main: Error (exit code 3)" in failure.inner_text()
    assert failure.locator("pre").inner_text() == "reading input\nbad row 7"
    assert view.locator("g.node.argo-failed-first").count() == 1
    # The cell failed in one line, and Run All stopped there.
    error = cell(page, 1).locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    error.wait_for(timeout=GRAPH_TIMEOUT_MS)
    shown = error.inner_text().strip()
    assert shown.startswith("WorkflowFailed: breaks-"), shown
    assert "\n" not in shown
    assert shown.endswith(
        "Failed at step crunch: main: Error (exit code 3) | log: reading input ⏎ bad row 7"
    )
    assert cell(page, 2).locator(".jp-InputPrompt").inner_text().strip() == "[ ]:"
    _shot(page, "failed-run-up-front", frontend.frontend)

    # Saved: the file holds the graph, not the widget.
    command(page, "docmanager:save")
    deadline = time.monotonic() + 30
    while True:
        saved = json.loads(path.read_text())
        outputs = saved["cells"][1]["outputs"]
        views = [o for o in outputs if "image/svg+xml" in o.get("data", {})]
        if views and "Failed" in "".join(views[0]["data"]["text/plain"]):
            break
        assert time.monotonic() < deadline, outputs
        time.sleep(0.2)
    assert WIDGET_VIEW not in views[0]["data"]

    # Reopened with the kernel gone (a fresh one starts): the graph, no "model not found".
    _shut_down_kernels(frontend)
    open_notebook(page, frontend, "fails.ipynb")
    image = cell(page, 1).locator('img[src^="data:image/svg+xml"]')
    image.wait_for(timeout=GRAPH_TIMEOUT_MS)
    drawn = page.evaluate("(img) => decodeURIComponent(img.src)", image.element_handle())
    assert "crunch" in drawn
    assert "phase-Failed" in drawn
    assert "model not found" not in page.locator(".jp-Notebook").inner_text()
    image.scroll_into_view_if_needed()
    _shot(page, "saved-notebook-reopened", frontend.frontend)


# Readable at any size: a 200-item loop folds, its failed item is findable, zoom and pan.
BAD_ITEM = 117
FAN_OUT_CELL = f"""%%argo --no-raise
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: wide-}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: work
        template: work
        arguments: {{parameters: [{{name: i, value: "{{{{item}}}}"}}]}}
        withSequence: {{count: "200"}}
  - name: work
    inputs: {{parameters: [{{name: i}}]}}
    container:
      image: alpine
      command:
      - sh
      - -c
      - >-
        test {{{{inputs.parameters.i}}}} -ne {BAD_ITEM} ||
        {{ echo "item {BAD_ITEM} is bad"; exit 2; }}
"""


def _view_box(page: Any) -> list[float]:
    raw = page.evaluate(
        "() => document.querySelector('.argo-view svg.argo-svg').getAttribute('viewBox')"
    )
    return [float(v) for v in str(raw).split()]


def _shot_path(name: str, frontend: str = "lab") -> str:
    """Where the screenshot `name` goes: JupyterLab's as `name`.png, Notebook 7's beside it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / (f"{name}.png" if frontend == "lab" else f"notebook7-{name}.png"))


def _shot(page: Any, name: str, frontend: str = "lab") -> None:
    page.screenshot(path=_shot_path(name, frontend))


def _element_shot(locator: Any, path: str) -> None:
    """A screenshot of what `locator` finds. The view redraws a node's panel when a new
    snapshot comes: the element found may be replaced before it is shot, and then the
    locator finds the new one."""
    from playwright.sync_api import Error

    for attempt in range(10):
        try:
            locator.screenshot(path=path)
            return
        except Error as exc:
            if "not attached" not in str(exc) or attempt == 9:
                raise


@pytest.mark.slow
def test_a_wide_loop_folds_with_counts_its_failure_is_findable_and_the_view_zooms_and_pans(
    frontend: Lab, page: Any
) -> None:
    write_notebook(frontend.root / "wide.ipynb", ["%load_ext jupyter_argo", FAN_OUT_CELL])
    open_notebook(page, frontend, "wide.ipynb")
    command(page, "notebook:run-all-cells")
    view = page.locator(".argo-view")
    page.wait_for_function(
        "() => document.querySelector('.argo-view .argo-header .argo-badge')"
        "?.textContent.includes('Failed')",
        timeout=GRAPH_TIMEOUT_MS,
    )
    bad = f"work({BAD_ITEM}:{BAD_ITEM})"

    # Folded: the first and last items, and one group for the 198 between, with counts.
    group = view.locator("g.node.Group")
    assert group.count() == 1
    assert "198 more" in (group.text_content() or "")
    assert "1 failed" in (group.text_content() or "")
    items = page.evaluate(
        "() => [...document.querySelectorAll('.argo-view g.node.Pod')]"
        ".map(g => [...g.querySelectorAll('text')].map(t => t.textContent).join(' '))"
    )
    assert len(items) == 2, items
    row = view.locator(".argo-groups .argo-group").first
    counts = {
        c.get_attribute("data-phase"): c.inner_text() for c in row.locator(".argo-count").all()
    }
    assert counts == {"Succeeded": "✓ 197 Succeeded", "Failed": "✗ 1 Failed"}, counts
    # The phase filter counts every item, folded or not.
    chips = {
        c.get_attribute("data-phase"): c.inner_text() for c in view.locator(".argo-chip").all()
    }
    assert chips["Failed"].endswith(" 1")
    assert chips["Succeeded"].endswith(" 199")
    _shot(page, "wide-loop-folded", frontend.frontend)

    # The group's failed list names the failed item; a click shows its details.
    failed = row.locator(".argo-items-Failed a")
    assert failed.all_inner_texts() == [bad]
    failed.click()
    detail = view.locator(".argo-detail")
    detail.get_by_text(f"item {BAD_ITEM} is bad").first.wait_for(timeout=GRAPH_TIMEOUT_MS)
    assert bad in detail.locator(".argo-detail-head").inner_text()
    assert "exit code 2" in detail.inner_text()
    assert view.locator("g.node.Group.argo-selected").count() == 1  # where it is folded

    # Search by name finds it too, folded.
    search = view.locator(".argo-search")
    search.fill(str(BAD_ITEM))
    results = view.locator(".argo-results a")
    results.first.wait_for()
    assert results.all_inner_texts() == [f"{bad} (folded in work)"]
    assert "0 drawn, 1 folded" in view.locator(".argo-found").inner_text()
    assert view.locator("g.node.Group.argo-match").count() == 1
    _shot(page, "wide-loop-search", frontend.frontend)
    search.fill("")
    # The filter: only failed nodes stand out; the group holds one, so it stays.
    view.locator('.argo-chip[data-phase="Failed"]').click()
    # The first and last items succeeded: dimmed; the failed Steps node and the group stay.
    assert view.locator("g.node.Pod.argo-dim").count() == 2
    assert view.locator("g.node.argo-dim").count() == 2
    assert view.locator("g.node.Group.argo-dim").count() == 0
    _shot(page, "wide-loop-filter-failed", frontend.frontend)
    view.locator('.argo-chip[data-phase="Failed"]').click()
    assert view.locator("g.node.argo-dim").count() == 0

    # Zoom with the buttons and with Ctrl + wheel, pan by dragging: the visible area moves.
    before = _view_box(page)
    view.locator(".argo-zoom-in").click()
    zoomed = _view_box(page)
    assert zoomed[2] == pytest.approx(before[2] / 1.25, rel=0.01)
    view.locator(".argo-graph").scroll_into_view_if_needed()  # the mouse acts on screen
    box = view.locator(".argo-graph").bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*centre)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -200)
    page.keyboard.up("Control")
    page.wait_for_function(
        "(w) => +document.querySelector('.argo-view svg.argo-svg').getAttribute('viewBox')"
        ".split(' ')[2] < w",
        arg=zoomed[2] * 0.9,
    )
    wheeled = _view_box(page)
    page.mouse.move(*centre)
    page.mouse.down()
    page.mouse.move(centre[0] - 120, centre[1] - 40, steps=6)
    page.mouse.up()
    panned = _view_box(page)
    assert panned[2:] == wheeled[2:]
    scale = box["width"] / wheeled[2]
    assert panned[0] - wheeled[0] == pytest.approx(120 / scale, rel=0.05)
    assert panned[1] - wheeled[1] == pytest.approx(40 / scale, rel=0.05)
    assert view.locator(".argo-detail").is_visible()  # a drag is not a click
    _shot(page, "wide-loop-zoomed-panned", frontend.frontend)
    view.locator(".argo-fit").click()
    assert _view_box(page)[2] >= before[2] * 0.99

    # Unfold from the group (a click), fold again from the panel: the same view each way.
    view.locator(".argo-close").click()
    group.click()
    page.wait_for_function(
        "() => document.querySelectorAll('.argo-view g.node.Pod').length === 200",
        timeout=GRAPH_TIMEOUT_MS,
    )
    assert view.locator("g.node.Group").count() == 0
    unfolded = view.locator(".argo-groups .argo-unfolded")
    assert "200 items unfolded" in unfolded.inner_text()
    # The failed item is drawn now, and the search finds it in the graph.
    search.fill(bad)
    view.locator(".argo-results a").first.wait_for()
    assert "1 drawn, 0 folded" in view.locator(".argo-found").inner_text()
    search.press("Enter")
    match = view.locator("g.node.argo-match")
    assert match.count() == 1
    assert "117" in (match.text_content() or "")
    _shot(page, "wide-loop-unfolded", frontend.frontend)
    search.fill("")
    unfolded.locator(".argo-fold").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.argo-view g.node.Group').length === 1",
        timeout=GRAPH_TIMEOUT_MS,
    )
    assert view.locator("g.node.Pod").count() == 2
    assert view.locator("g.argo-fold-mark").count() == 0
    # Both ways again, on the graph itself: click the group, then the fold mark beside the
    # fan-out's parent.
    group.click()
    mark = view.locator("g.argo-fold-mark")
    mark.wait_for(timeout=GRAPH_TIMEOUT_MS)
    assert "fold 200" in (mark.text_content() or "")
    search.fill("[0]")  # the step group the items hang from, by its name
    search.press("Enter")
    _shot(page, "wide-loop-unfolded-fold-mark", frontend.frontend)
    search.fill("")
    mark.click()
    page.wait_for_function(
        "() => document.querySelectorAll('.argo-view g.node.Group').length === 1",
        timeout=GRAPH_TIMEOUT_MS,
    )
    assert view.locator("g.node.Pod").count() == 2


DAG_CELL = """from jupyter_argo import WorkflowView
from jupyter_argo.render._samples import dag_workflow
view = WorkflowView(dag_workflow(1000))
view"""
# The same run later: its last task failed. A phase-only update, as a watch delivers it.
DAG_UPDATE_CELL = """import copy
later = copy.deepcopy(view.workflow)
last = next(n for n in later["status"]["nodes"].values() if n["displayName"] == "t999")
last["phase"] = "Failed"
view.update(later)
view.layouts"""


@pytest.mark.slow
def test_a_thousand_task_dag_is_drawn_in_full_and_navigable(lab: Lab, page: Any) -> None:
    write_notebook(lab.root / "big.ipynb", [DAG_CELL, DAG_UPDATE_CELL])
    open_notebook(page, lab, "big.ipynb")
    cell(page, 0).click()
    command(page, "notebook:run-cell")
    view = page.locator(".argo-view")
    view.locator("g.node").first.wait_for(timeout=GRAPH_TIMEOUT_MS)
    assert view.locator("g.node.Pod").count() == 1000
    assert view.locator("g.node.Group").count() == 0
    # Fit: all of it in the viewport, no minimap; zoomed in: the minimap shows where.
    minimap = view.locator(".argo-minimap")
    assert not minimap.is_visible()
    _shot(page, "dag-1000-fit")
    search = view.locator(".argo-search")
    search.fill("t999")
    search.press("Enter")
    target = view.locator("g.node.argo-match")
    assert target.count() == 1
    # Centred on it, at a readable size.
    graph_box = view.locator(".argo-graph").bounding_box()
    node_box = target.bounding_box()
    assert abs(node_box["x"] + node_box["width"] / 2 - graph_box["x"] - graph_box["width"] / 2) < 2
    assert (
        abs(node_box["y"] + node_box["height"] / 2 - graph_box["y"] - graph_box["height"] / 2) < 2
    )
    assert node_box["height"] >= 15
    assert minimap.is_visible()
    view.locator(".argo-detail").get_by_text("t999").first.wait_for(timeout=GRAPH_TIMEOUT_MS)
    assert "phase-Succeeded" in (target.get_attribute("class") or "")
    _shot(page, "dag-1000-found")

    # The keyboard, on the focused graph: + zooms in, an arrow pans, 0 fits.
    before = _view_box(page)
    view.locator(".argo-graph").focus()
    page.keyboard.press("+")
    zoomed = _view_box(page)
    assert zoomed[2] == pytest.approx(before[2] / 1.25, rel=0.01)
    page.keyboard.press("ArrowLeft")
    moved = _view_box(page)
    assert moved[0] == pytest.approx(zoomed[0] - zoomed[2] / 4, rel=0.01)
    assert moved[1:] == zoomed[1:]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("-")
    assert _view_box(page) == pytest.approx(before, abs=0.05)

    # A phase-only update from the kernel repaints the node where the user is looking.
    where = _view_box(page)
    node_id = target.get_attribute("id")
    cell(page, 1).click()
    command(page, "notebook:run-cell")
    page.wait_for_function(
        "(id) => document.getElementById(id)?.getAttribute('class').includes('phase-Failed')",
        arg=node_id,
        timeout=GRAPH_TIMEOUT_MS,
    )
    assert _view_box(page) == where
    assert view.locator("g.node.argo-match").count() == 1
    result = cell(page, 1).locator(".jp-OutputArea-executeResult .jp-OutputArea-output")
    assert result.inner_text().strip() == "1"  # layouts: still the first one
    _shot(page, "dag-1000-updated")


BAD_INPUT_CELL = """from jupyter_argo import WorkflowView
from jupyter_argo.render._samples import fan_out_workflow
broken = fan_out_workflow(3)
broken["status"]["nodes"][broken["metadata"]["name"]]["children"].append("gone-404")
display(WorkflowView({"metadata": {"name": "fresh-x1"}}), WorkflowView(broken))"""


@pytest.mark.slow
def test_bad_input_shows_what_it_can_and_says_what_it_cannot(lab: Lab, page: Any) -> None:
    write_notebook(lab.root / "bad.ipynb", [BAD_INPUT_CELL])
    open_notebook(page, lab, "bad.ipynb")
    command(page, "notebook:run-all-cells")
    views = page.locator(".argo-view")
    views.nth(1).locator("g.node").first.wait_for(timeout=GRAPH_TIMEOUT_MS)
    fresh, broken = views.nth(0), views.nth(1)
    assert "no status yet" in fresh.locator(".argo-problems").inner_text()
    assert fresh.locator(".argo-graph g.node").count() == 1  # the placeholder, named
    said = broken.locator(".argo-problems").inner_text()
    assert "1 child missing from status.nodes" in said
    assert "gone-404" in said
    assert broken.locator("g.node.Pod").count() == 4  # the rest: 3 items, summarise
    assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
    _shot(page, "bad-input")


_VIEW_COLOURS = """() => {
  const view = document.querySelector('.argo-view');
  const colour = (el, property) => el ? getComputedStyle(el)[property] : '';
  const sample = view.querySelector('.argo-legend g.node.argo-on-paper');
  return {
    graph: colour(view.querySelector('.argo-graph'), 'backgroundColor'),
    paper: colour(view.querySelector('.argo-graph svg .argo-paper'), 'fill'),
    legendPaper: colour(view.querySelector('.argo-legend svg .argo-paper'), 'fill'),
    sample: colour(sample?.querySelector('path, polygon, ellipse'), 'fill'),
    sampleText: colour(sample?.querySelector('text'), 'fill'),
    text: colour(view, 'color'),
    succeeded: colour(
      view.querySelector('.argo-graph g.node.phase-Succeeded path, '
        + '.argo-graph g.node.phase-Succeeded polygon'), 'fill'),
  };
}"""


def _luminance(css: str) -> float:
    """The relative luminance (0 black to 1 white) of a computed `rgb(...)` colour."""
    numbers = re.findall(r"[\d.]+", css)
    assert len(numbers) >= 3, css
    linear = [
        c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
        for c in (float(n) / 255 for n in numbers[:3])
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _rgb(hex_colour: str) -> str:
    value = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i : i + 2], 16) for i in (0, 2, 4)))


def _change_theme(page: Any, theme: str, light: bool) -> None:
    command(page, "apputils:change-theme", {"theme": theme})
    page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === String(light)"
        " && getComputedStyle(document.body).getPropertyValue('--jp-layout-color0') !== ''"
        # JupyterLab covers the page with its splash while the theme loads.
        " && !document.querySelector('#jupyterlab-splash')",
        arg=light,
    )


@pytest.mark.slow
def test_the_view_follows_the_light_and_dark_themes(lab: Lab, page: Any) -> None:
    write_notebook(lab.root / "themes.ipynb", ["%load_ext jupyter_argo", ARGO_CELL])
    open_notebook(page, lab, "themes.ipynb")
    command(page, "notebook:run-all-cells")
    view = page.locator(".argo-view")
    page.wait_for_function(
        "() => document.querySelector('.argo-view .argo-header .argo-badge')"
        "?.textContent.includes('Succeeded')",
        timeout=GRAPH_TIMEOUT_MS,
    )
    succeeded = _rgb(PALETTE["Succeeded"].fill)

    # Light: the graph on a light paper, dark text.
    light = page.evaluate(_VIEW_COLOURS)
    for part in ("graph", "paper", "legendPaper", "sample"):
        assert _luminance(light[part]) > 0.8, (part, light)
    for part in ("sampleText", "text"):
        assert _luminance(light[part]) < 0.2, (part, light)
    assert light["succeeded"] == succeeded, light
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    view.screenshot(path=str(ARTIFACTS / "view-light.png"))
    fit = view.locator(".argo-graph svg.argo-svg").get_attribute("viewBox")

    try:
        # Dark: no white box; the paper, the legend's samples and the text turn with the
        # theme, and the phase colours stay what they are.
        _change_theme(page, "JupyterLab Dark", light=False)
        page.wait_for_function(
            "(before) => getComputedStyle(document.querySelector('.argo-view .argo-graph'))"
            ".backgroundColor !== before",
            arg=light["graph"],
        )
        dark = page.evaluate(_VIEW_COLOURS)
        for part in ("graph", "paper", "legendPaper", "sample"):
            assert _luminance(dark[part]) < 0.1, (part, dark)
        for part in ("sampleText", "text"):
            assert _luminance(dark[part]) > 0.4, (part, dark)
        assert dark["succeeded"] == succeeded, dark
        # The graph still fits its box: JupyterLab hides the page while the theme loads,
        # and the view must not fit itself to a hidden (sizeless) box meanwhile (it did,
        # a few frames after the splash went; so: a second later).
        page.wait_for_timeout(1000)
        assert view.locator(".argo-graph svg.argo-svg").get_attribute("viewBox") == fit
        view.screenshot(path=str(ARTIFACTS / "view-dark.png"))
        # Zoomed in, the minimap shows: on the theme's background too.
        for _ in range(3):
            view.locator(".argo-zooms button", has_text="+").click()
        minimap = view.locator(".argo-minimap")
        minimap.wait_for(state="visible")
        background = minimap.evaluate("(m) => getComputedStyle(m).backgroundColor")
        assert _luminance(background) < 0.1, background
        view.screenshot(path=str(ARTIFACTS / "view-dark-zoomed.png"))
    finally:
        _change_theme(page, "JupyterLab Light", light=True)


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
    script: {image: python:3.12, command: [python], source: "print('quick done')"}
  - name: slow
    script:
      image: python:3.12
      command: [python]
      source: |
        import time
        for i in range(12):
            print(f"tick {i}", flush=True)
            time.sleep(1)
"""


def _node_id(page: Any, name: str) -> str:
    found: str = page.evaluate(
        """(name) => ([...document.querySelectorAll('.argo-view g.node[class*="phase-"]')]
          .find(g => [...g.querySelectorAll('text')]
            .some(t => t.textContent.trim().split(/\\s+/).pop() === name)) || {}).id || ''""",
        name,
    )
    return found


@pytest.mark.slow
def test_a_blocking_cell_answers_clicks_and_streams_the_running_log(
    frontend: Lab, page: Any
) -> None:
    """While a blocking `%%argo` cell runs (the kernel busy), a click on a finished node
    shows its panel, and a running node's log tail advances (issue 13 item 1)."""
    write_notebook(frontend.root / "live.ipynb", ["%load_ext jupyter_argo", LIVE_CELL])
    open_notebook(page, frontend, "live.ipynb")
    # Started, not awaited (`command` waits for the cells to finish).
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    view = page.locator(".argo-view")
    view.locator("g.node").first.wait_for(timeout=GRAPH_TIMEOUT_MS)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.argo-view g.node.phase-Succeeded text')]
          .some(t => t.textContent.trim().endsWith('quick'))""",
        timeout=GRAPH_TIMEOUT_MS,
    )
    busy = cell(page, 1).locator(".jp-InputPrompt").inner_text()
    assert "*" in busy, busy  # the cell is still running
    view.locator(f'g.node[id="{_node_id(page, "quick")}"]').click()
    detail = view.locator(".argo-detail")
    detail.get_by_text("quick done").first.wait_for(timeout=10_000)
    assert "Succeeded" in detail.locator(".argo-detail-head").inner_text()
    detail.scroll_into_view_if_needed()
    _shot(page, "live-finished-node-while-the-cell-blocks", frontend.frontend)

    view.locator(f'g.node[id="{_node_id(page, "slow")}"]').click()
    log = detail.locator("pre.argo-log")
    log.wait_for(timeout=10_000)
    first = log.inner_text().count("tick")
    page.wait_for_function(
        "(n) => (document.querySelector('.argo-view .argo-detail pre.argo-log')"
        "?.textContent.match(/tick/g) || []).length >= n + 2",
        arg=first,
        timeout=10_000,
    )
    assert "*" in cell(page, 1).locator(".jp-InputPrompt").inner_text()
    assert not detail.locator(".argo-detail-head").inner_text().endswith(" 0s")
    detail.scroll_into_view_if_needed()
    _shot(page, "live-running-log-while-the-cell-blocks", frontend.frontend)


# One task writing a CSV table and a PNG (a 48×24 gradient, made with zlib alone), then
# one that keeps the run (and so the cell, and the kernel) busy for a while.
HOLD_SECONDS = 30
ARTIFACTS_CELL = """%%argo
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: report-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: report, template: report}
      - {name: hold, template: hold, depends: report}
  - name: hold
    script:
      image: python:3.12
      command: [python]
      source: import time; time.sleep(HOLD_SECONDS)
  - name: report
    script:
      image: python:3.12
      command: [python]
      source: |
        import struct, zlib
        with open("/tmp/scores.csv", "w") as f:
            f.write("team,score\\n" + "".join(f"team-{i},{i * 7}\\n" for i in range(80)))
        def chunk(kind, body):
            crc = zlib.crc32(kind + body) & 0xFFFFFFFF
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
        w, h = 48, 24
        raw = b"".join(
            b"\\x00" + b"".join(bytes((x * 5, y * 10, 160)) for x in range(w)) for y in range(h)
        )
        header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header)
        with open("/tmp/chart.png", "wb") as f:
            f.write(png + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    outputs:
      artifacts:
      - {name: scores, path: /tmp/scores.csv}
      - {name: chart, path: /tmp/chart.png}
""".replace("HOLD_SECONDS", str(HOLD_SECONDS))


@pytest.mark.slow
def test_a_nodes_artifacts_are_previewed_in_the_panel(frontend: Lab, page: Any) -> None:
    write_notebook(frontend.root / "artifacts.ipynb", ["%load_ext jupyter_argo", ARTIFACTS_CELL])
    open_notebook(page, frontend, "artifacts.ipynb")
    # Not awaited: the command's promise settles only when the cells are done.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    view = page.locator(".argo-view")
    # While the cell still runs (the kernel busy, the run holding), the report is done:
    # a click shows its artifacts, from the updates and the server, not the kernel.
    report = view.locator("g.node.Pod.phase-Succeeded").filter(has_text="report")
    report.wait_for(timeout=GRAPH_TIMEOUT_MS)
    report.click()
    detail = view.locator(".argo-artifacts")
    table = detail.locator(".argo-artifact-table")
    table.wait_for(timeout=GRAPH_TIMEOUT_MS)
    assert table.locator("th").all_inner_texts() == ["team", "score"]
    assert table.locator("tbody tr").first.locator("td").all_inner_texts() == ["team-0", "0"]
    assert table.locator("tbody tr").count() == 50
    assert "the first 50 rows" in detail.inner_text()
    image = detail.locator("img.argo-artifact-image")
    image.wait_for(timeout=GRAPH_TIMEOUT_MS)
    page.wait_for_function(
        "() => document.querySelector('.argo-artifact-image')?.naturalWidth === 48",
        timeout=GRAPH_TIMEOUT_MS,
    )
    assert "Running" in view.locator(".argo-header .argo-badge").inner_text()
    assert cell(page, 1).locator(".jp-InputPrompt").inner_text().strip() == "[*]:"
    text = detail.inner_text()
    assert "Artifacts of report" in text
    assert ".outputs.artifacts['scores'].to_pandas()" in text
    assert ".outputs.artifacts['chart'].bytes()" in text
    assert detail.locator("a.argo-artifact-download").count() == 2
    assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
    _element_shot(detail, _shot_path("artifacts-panel-busy", frontend.frontend))
    # Once the run is over, the same panel sits in the node's details.
    page.wait_for_function(
        "(ends) => ends.some(end => document.querySelector('.argo-view .argo-header .argo-badge')"
        "?.textContent.includes(end))",
        arg=list(DONE),
        timeout=GRAPH_TIMEOUT_MS + HOLD_SECONDS * 1000,
    )
    assert "Succeeded" in view.locator(".argo-header .argo-badge").inner_text()
    view.locator(".argo-detail .argo-artifacts .argo-artifact-table").wait_for(
        timeout=GRAPH_TIMEOUT_MS
    )
    _element_shot(view.locator(".argo-detail"), _shot_path("artifacts-panel", frontend.frontend))


# Argo's intermediate-parameters pattern: an approval node whose `approve` input (an enum,
# NO by default) the person resuming it chooses; deploy runs only on YES.
APPROVAL_CELL = """%%argo
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: approve-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: approval, template: approval}
    - - name: deploy
        template: deploy
        when: "{{steps.approval.outputs.parameters.approve}} == YES"
  - name: approval
    suspend: {}
    inputs:
      parameters:
      - {name: approve, default: 'NO', enum: ['YES', 'NO'], description: Deploy?}
    outputs:
      parameters:
      - name: approve
        valueFrom: {supplied: {}}
  - name: deploy
    container: {image: alpine, command: [echo, deploying]}
"""


@pytest.mark.slow
def test_actions_resume_a_suspended_node_with_its_values_while_the_cell_blocks(
    frontend: Lab, page: Any
) -> None:
    """The header offers the Argo UI's actions; a suspended node's panel has its resume
    form. Chosen and resumed while the `%%argo` cell blocks the kernel, the value is the
    node's output and the run goes on (issue 13 item 4)."""
    write_notebook(frontend.root / "actions.ipynb", ["%load_ext jupyter_argo", APPROVAL_CELL])
    open_notebook(page, frontend, "actions.ipynb")
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    view = page.locator(".argo-view")
    view.locator(".argo-actions .argo-action-resume").wait_for(timeout=GRAPH_TIMEOUT_MS)
    offered = view.locator(".argo-actions button").all_inner_texts()
    assert offered == ["Resume", "Stop", "Terminate"], offered
    assert "*" in cell(page, 1).locator(".jp-InputPrompt").inner_text()
    view.locator(f'g.node[id="{_node_id(page, "approval")}"]').click()
    form = view.locator(".argo-detail form.argo-resume")
    form.wait_for(timeout=10_000)
    choice = form.locator("select[name=approve]")
    assert choice.input_value() == "NO"  # the enum starts at its default, as in the UI
    choice.select_option("YES")
    view.scroll_into_view_if_needed()
    _shot(page, "actions-resume-form-while-the-cell-blocks", frontend.frontend)
    form.locator("button.argo-resume-node").click()
    page.wait_for_function(
        "() => document.querySelector('.argo-view .argo-header .argo-badge')"
        "?.textContent.includes('Succeeded')",
        timeout=GRAPH_TIMEOUT_MS,
    )
    deploy = view.locator(f'g.node[id="{_node_id(page, "deploy")}"]')
    assert "phase-Succeeded" in (deploy.get_attribute("class") or "")
    assert view.locator(".argo-actions button").count() == 0  # nothing to do once done
    page.wait_for_function(
        "() => !document.querySelectorAll('.jp-Cell')[1]"
        "?.querySelector('.jp-InputPrompt')?.textContent.includes('*')",
        timeout=GRAPH_TIMEOUT_MS,
    )
    # Still selected: its panel now shows the output the form supplied.
    outputs = view.locator(".argo-detail .argo-section").nth(1)
    outputs.get_by_text("YES", exact=True).wait_for(timeout=10_000)
    assert "resumed approval" in view.locator(".argo-action-note").inner_text()
    view.scroll_into_view_if_needed()
    _shot(page, "actions-resumed", frontend.frontend)


RETRY_CELL = """%%argo --no-raise
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: flaky-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [sh, -c, "sleep 2; echo no luck; exit 3"]}
"""


@pytest.mark.slow
def test_retry_reruns_a_failed_run_in_the_same_view(frontend: Lab, page: Any) -> None:
    """Once a run has failed, the header offers Retry only (as the Argo UI does); a click
    runs it again and the same view follows it to its new end (issue 13 item 4)."""
    write_notebook(frontend.root / "retry.ipynb", ["%load_ext jupyter_argo", RETRY_CELL])
    open_notebook(page, frontend, "retry.ipynb")
    command(page, "notebook:run-all-cells")
    view = page.locator(".argo-view")
    badge = view.locator(".argo-header .argo-badge").first
    page.wait_for_function(
        "() => document.querySelector('.argo-view .argo-header .argo-badge')"
        "?.textContent.includes('Failed')",
        timeout=GRAPH_TIMEOUT_MS,
    )
    assert view.locator(".argo-actions button").all_inner_texts() == ["Retry"]
    view.locator(".argo-actions .argo-action-retry").click()
    page.wait_for_function(
        "() => document.querySelector('.argo-view .argo-header .argo-badge')"
        "?.textContent.includes('Running')",
        timeout=GRAPH_TIMEOUT_MS,
    )
    assert "retrying" in view.locator(".argo-action-note").inner_text()
    view.scroll_into_view_if_needed()
    _shot(page, "actions-retried-and-running", frontend.frontend)
    page.wait_for_function(
        "() => document.querySelector('.argo-view .argo-header .argo-badge')"
        "?.textContent.includes('Failed')",
        timeout=GRAPH_TIMEOUT_MS,
    )
    assert "Failed" in badge.inner_text()
    assert view.locator(".argo-actions button").all_inner_texts() == ["Retry"]
