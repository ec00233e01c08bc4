"""The text tree of a run (`Run.tree()`, `jupyter-argo get`, a terminal's `Run`) nests as
`argo get` does: under its step group or boundary, never under the node before it."""

from __future__ import annotations

import yaml
from conftest import written_by_argo

from jupyter_argo.backends import get_backend
from jupyter_argo.cli_runs import summary
from jupyter_argo.run import Run


def _rows(text: str) -> list[str]:
    """The STEP column of the tree's rows."""
    rows = text.split("\nSTEP", 1)[1].splitlines()[1:]
    return [row[:40].rstrip() for row in rows]


def test_the_items_of_a_loop_are_siblings_in_argos_order() -> None:
    # Argo's own `argo get` test (cmd/argo/commands/common/get_test.go, IndexOrdering):
    # the 13 items of one step group side by side, by start time, then by item index
    # (9, 10, 11 in that order, not as text).
    workflow = written_by_argo("cmd_argo_commands_common_get_test.go__4.0__many-items-z26lj.json")
    rows = _rows(summary(workflow))
    assert rows[0] == "✔ many-items-z26lj"
    items = [row.split("sleep(", 1)[1] for row in rows[1:]]
    assert [int(item.split(":")[0]) for item in items] == list(range(13))
    assert rows[1].startswith("└─┬─")  # the group's first item opens the bracket
    assert all(row.startswith("  ├─") for row in rows[2:-1])
    assert rows[-1].startswith("  └─")
    assert rows[10].endswith(" sleep(9:nine)")
    assert rows[11].endswith(" sleep(10:ten)")


PIPELINE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: tree-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: fetch, template: say}
      - {name: clean, template: say}
    - - {name: train, template: grid}
    - - {name: report, template: say}
  - name: grid
    dag:
      tasks:
      - {name: split, template: say}
      - {name: small, template: say, depends: split}
      - {name: large, template: say, depends: split}
  - name: say
    container: {image: alpine, command: [echo, hi]}
"""


def test_parallel_steps_sit_side_by_side_and_each_group_under_its_steps() -> None:
    backend = get_backend("local")
    created = backend.submit(yaml.safe_load(PIPELINE), namespace="default")
    run = Run(backend, created, "default").wait(60)
    assert run.phase == "Succeeded"
    rows = _rows(run.tree())
    # Each step group is a child of the steps node: the second group is not nested under
    # the first group's first step; a DAG's tasks sit at one level under the DAG.
    assert rows[0].endswith(f"✔ {run.name}")
    rows = rows[1:]
    assert rows[0] == "├─┬─✔ fetch" or rows[0] == "├─┬─✔ clean"
    assert {rows[0][4:], rows[1][4:]} == {"✔ fetch", "✔ clean"}
    assert rows[1].startswith("│ └─")
    assert rows[2] == "├───✔ train"
    # A DAG's tasks are one level under it, in Argo's order: start time, then name.
    started = {n.display_name: n.started_at for n in run.nodes()}
    tasks = sorted(["split", "small", "large"], key=lambda name: (started[name], name))
    assert rows[3:6] == [f"│   ├─✔ {tasks[0]}", f"│   ├─✔ {tasks[1]}", f"│   └─✔ {tasks[2]}"]
    assert rows[6] == "└───✔ report"
    assert len(rows) == 7
