"""What a start loads (issue 16 item 1): a one-step local run and `%load_ext jupyter_argo`
each in a fresh interpreter, their `sys.modules` read at the end. The heavy dependencies
(Hera and pydantic, the Kubernetes client, boto3, httpx, graphviz, the widgets) belong to
other paths; a workflow without an expression does not load the expr-lang compiler.
Timings are in `make bench` (benchmarks/bench_startup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Top-level packages no local run needs.
HEAVY = {
    "hera",
    "pydantic",
    "kubernetes",
    "boto3",
    "botocore",
    "httpx",
    "graphviz",
    "pygraphviz",
    "ipywidgets",
    "anywidget",
    "IPython",
}
EXPR_LANG = {
    "jupyter_argo.expr._expression",
    "jupyter_argo.expr._parser",
    "jupyter_argo.expr._builtins",
    "jupyter_argo.expr._sprig",
    "jupyter_argo.expr._jsonpath",
    "jupyter_argo.expr._govaluate",
}

ONE_STEP = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: one-
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine
      command: [echo, "{{workflow.name}}"]
"""

_RUN = """
import json, sys
from jupyter_argo.cli import main
code = main(["run", sys.argv[1], "-o", "json"])
with open(sys.argv[2], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""

_LOAD_EXT = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
before = set(sys.modules)
shell.run_line_magic("load_ext", "jupyter_argo")
assert "argo" in shell.magics_manager.magics["cell"]
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def _run(tmp_path: Path, manifest: str) -> tuple[dict[str, object], set[str]]:
    source = tmp_path / "workflow.yaml"
    source.write_text(manifest)
    report = tmp_path / "modules.json"
    done = _python(_RUN, str(source), str(report))
    loaded = json.loads(report.read_text())
    assert loaded["code"] == 0, done.stderr
    workflow: dict[str, object] = json.loads(done.stdout)
    return workflow, set(loaded["modules"])


def _tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_a_one_step_local_run_loads_only_the_local_path(tmp_path: Path) -> None:
    workflow, modules = _run(tmp_path, ONE_STEP)
    status = workflow["status"]
    assert isinstance(status, dict)
    assert status["phase"] == "Succeeded"
    assert _tops(modules) & HEAVY == set()
    assert modules & EXPR_LANG == set()  # no `{{= ...}}`, `when` or `depends` here
    assert {
        m for m in modules if m.startswith(("jupyter_argo.render", "jupyter_argo.widgets"))
    } == set()
    assert "importlib.metadata" not in modules  # the schema cache key reads no metadata
    assert "jupyter_argo.executors._container" not in modules  # docker/podman only
    # Nor what other commands, or other workflows, need.
    assert {
        "jupyter_argo.cli_cp",  # `cp`
        "jupyter_argo.cli_cron",  # `cron`
        "jupyter_argo.artifacts.gc",  # no node has output artifacts
        "jupyter_argo.backends._k8s.actions",  # no parameters, no suspend node
        "jupyter_argo.expr._values",  # no node failed: `workflow.failures` is "null"
    } & modules == set()


def test_the_commands_start_loads_nothing_before_the_collector_is_off() -> None:
    # What `jupyter-argo` imports before `main` turns the collector off (the console
    # script's `from jupyter_argo.cli import main`): everything else, from typing and
    # dataclasses on, is imported with the collector off (see _collector).
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "from jupyter_argo.cli import main\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    added = set(json.loads(_python(code).stdout))
    ours = {m for m in added if m.startswith("jupyter_argo")}
    assert ours == {
        "jupyter_argo",
        "jupyter_argo._version",
        "jupyter_argo._collector",
        "jupyter_argo.cli",
    }
    assert {"typing", "dataclasses", "argparse", "pathlib", "yaml"} & added == set()


def test_the_package_still_exports_argo_error() -> None:
    import jupyter_argo
    from jupyter_argo import errors

    assert jupyter_argo.ArgoError is errors.ArgoError
    assert "ArgoError" in dir(jupyter_argo)


def test_the_collector_leaves_out_what_the_start_made() -> None:
    import gc

    from jupyter_argo._collector import collector_off

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with collector_off(freeze=True):
            assert not gc.isenabled()
            made = [[i] for i in range(1000)]  # tracked objects, as the start's modules
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(made)  # no later pass walks them
        with collector_off():
            pass
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_an_expression_loads_its_language_when_used(tmp_path: Path) -> None:
    with_expression = ONE_STEP.replace('"{{workflow.name}}"', "\"{{=sprig.upper('hi')}}\"")
    workflow, modules = _run(tmp_path, with_expression)
    status = workflow["status"]
    assert isinstance(status, dict)
    assert status["phase"] == "Succeeded"
    nodes = status["nodes"]
    assert isinstance(nodes, dict)
    (node,) = nodes.values()
    assert node["outputs"]["result"] == "HI"
    assert {"jupyter_argo.expr._expression", "jupyter_argo.expr._sprig"} <= modules
    assert _tops(modules) & HEAVY == set()


def test_load_ext_loads_the_magics_only() -> None:
    added = set(json.loads(_python(_LOAD_EXT).stdout))
    assert "jupyter_argo.magics" in added
    later = {"yaml", "jupyter_argo.engine", "jupyter_argo.spec", "jupyter_argo.render"}
    assert _tops(added) & (HEAVY - {"IPython"}) == set()
    assert {m for m in added if m in later or m.startswith(tuple(f"{p}." for p in later))} == set()


def test_versions_are_read_as_importlib_metadata_reads_them() -> None:
    # The field table's cache key names the installed Hera and Kubernetes client.
    from importlib import metadata

    from jupyter_argo.spec import schema

    names = ("hera", "kubernetes", "PyYAML", "google-re2")
    assert schema._versions(*names) == {name: metadata.version(name) for name in names}
    assert schema._versions("no-such-distribution") == {"no-such-distribution": "none"}
