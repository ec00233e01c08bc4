"""The view's actions on Argo itself (issue 13 item 4): each button is its backend's own
action, so it does on Argo's controller (through the Kubernetes API, and through `argo
server` with a token) what it does locally. The resume form is read from the status
Argo's controller wrote, as the Argo UI reads it. Skips cleanly when the test bed cannot
start (see tests/k8s/testbed.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import argo_examples
from test_argo_real import Either, backend, bed, node_named, wait_for, workflow  # noqa: F401

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.widgets.actions import RunActions, available, suspended_inputs

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("answer", "deploy_prod"), [("YES", "Succeeded"), ("NO", "Skipped")])
def test_a_suspended_nodes_form_and_resume_on_argo_and_locally(
    backend: Either,  # noqa: F811
    tmp_path: Path,
    answer: str,
    deploy_prod: str,
) -> None:
    manifest = workflow((argo_examples() / "intermediate-parameters.yaml").read_text())
    finals = {}
    for side, runner in (("argo", backend), ("local", LocalBackend(home=tmp_path / "home"))):
        name = runner.submit(manifest)["metadata"]["name"]
        wait_for(
            lambda r=runner, n=name: (
                (node_named(r.get(n), "approval") or {}).get("phase") == "Running"
            )
        )
        suspended = runner.get(name)
        assert available(suspended) == ["resume", "stop", "terminate"], side
        approval = node_named(suspended, "approval")
        assert approval is not None
        # The UI's form, from the status this side wrote.
        form = suspended_inputs(approval)
        assert form == [
            {
                "name": "approve",
                "value": "NO",
                "enum": ["YES", "NO"],
                "description": "Choose YES to continue workflow and deploy to production",
            }
        ], side
        RunActions(runner, name, None)("resume", approval["id"], {"approve": answer})
        final = runner.wait(name, timeout=180)
        finals[side] = final
        assert final["status"]["phase"] == "Succeeded", (side, final["status"].get("message"))
        resumed = node_named(final, "approval")
        assert resumed is not None
        assert resumed["outputs"]["parameters"][0]["value"] == answer, side
        prod = node_named(final, "deploy-prod")
        assert prod is not None
        assert prod["phase"] == deploy_prod, side
        assert available(final) == [], side


LONG = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: actions-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: first, template: nap}
    - - {name: second, template: nap}
  - name: nap
    container: {image: busybox, command: [sleep, "4"]}
"""


@pytest.mark.parametrize("side", ["argo", "local"])
def test_suspend_resume_terminate_and_retry_buttons(
    backend: Either,  # noqa: F811
    tmp_path: Path,
    side: str,
) -> None:
    runner = backend if side == "argo" else LocalBackend(home=tmp_path / "home")
    name = runner.submit(workflow(LONG))["metadata"]["name"]

    def phase() -> str:
        return str((runner.get(name).get("status") or {}).get("phase") or "")

    act = RunActions(runner, name, None)
    wait_for(lambda: phase() == "Running")
    assert available(runner.get(name)) == ["suspend", "stop", "terminate"]
    act("suspend", "", None)
    wait_for(lambda: "resume" in available(runner.get(name)))
    assert available(runner.get(name)) == ["resume", "stop", "terminate"]
    act("resume", "", None)
    wait_for(lambda: "suspend" in available(runner.get(name)))
    act("terminate", "", None)
    final = runner.wait(name, timeout=120)
    assert final["status"]["phase"] == "Failed"
    assert final["status"]["message"] == "Stopped with strategy 'Terminate'"
    assert available(final) == ["retry"]
    retried: list[bool] = []
    RunActions(runner, name, None, retried=lambda: retried.append(True))("retry", "", None)
    assert retried == [True]
    wait_for(lambda: phase() != "Failed", every=0.1)
    again = runner.wait(name, timeout=180)
    assert again["status"]["phase"] == "Succeeded", again["status"].get("message")
