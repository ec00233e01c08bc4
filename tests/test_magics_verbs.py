"""`%argo node set`, `stop --node-field-selector`, `resubmit -p` and `logs --grep/--tail`
in a real InteractiveShell, on the local backend."""

from __future__ import annotations

import time
from typing import Any

from test_cli_verbs import APPROVAL
from test_magics import TestingShell, cell, ip  # noqa: F401  (the shell fixture)

from jupyter_argo.run import Run


def wait_running(run: Run, display: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        nodes = run.backend.get(run.name, run.namespace)["status"].get("nodes") or {}
        if any(n.get("displayName") == display and n["phase"] == "Running" for n in nodes.values()):
            return
        time.sleep(0.05)
    raise AssertionError(f"{run.name}: {display} never ran")


def test_node_set_and_resubmit_from_the_line_magic(ip: TestingShell) -> None:  # noqa: F811
    run: Any = cell(ip, "--async --no-view", APPROVAL)
    wait_running(run, "approve")
    ip.run_line_magic(
        "argo",
        f"node set {run.name} --node-field-selector displayName=approve "
        "--phase Succeeded -p message=shipped",
    )
    final = run.wait(30)
    assert final.phase == "Succeeded"
    assert "released: shipped" in str(ip.run_line_magic("argo", f"logs {run.name}"))
    shown = str(ip.run_line_magic("argo", f"logs {run.name} --grep released --tail 1"))
    assert shown.endswith("released: shipped")
    assert str(ip.run_line_magic("argo", f"logs {run.name} --grep nothing-like-this")) == ""

    second: Any = cell(ip, "--async --no-view", APPROVAL)
    wait_running(second, "approve")
    ip.run_line_magic(
        "argo", f"stop {second.name} --node-field-selector displayName=approve --message no"
    )
    stopped = second.wait(30)
    assert stopped.phase == "Failed"
    approve = next(n for n in stopped.nodes() if n.display_name == "approve")
    assert approve.phase == "Failed"
