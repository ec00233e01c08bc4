"""The view's actions (issue 13 item 4): the Argo UI's buttons, answered while a cell blocks.

Which actions a workflow offers is the Argo UI's rule (`ui/src/shared/workflow-operations-
map.ts`), checked on Workflow objects Argo's own controller wrote. The buttons are then
driven in a real IPython kernel exactly as the browser drives them: a comm message on the
view's comm, sent while the `%%argo` cell still blocks the kernel, answered before the cell
ends (on a kernel subshell) and acting through the backend.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import start_new_kernel

from jupyter_argo.widgets.actions import available, suspended_inputs

SHARED = Path(__file__).resolve().parents[2] / "shared" / "argo"
WRITTEN = SHARED / "written-by-argo"
EXAMPLES = SHARED / "examples"


# ---- which actions, as the Argo UI offers them ------------------------------------------


def _written() -> list[tuple[str, dict[str, Any]]]:
    if not WRITTEN.is_dir():
        return []
    return [(p.name, json.loads(p.read_text())) for p in sorted(WRITTEN.glob("*.json"))]


@pytest.mark.skipif(not WRITTEN.is_dir(), reason="../shared/argo/written-by-argo is absent")
def test_actions_offered_follow_the_argo_ui_on_workflows_argo_wrote() -> None:
    seen: set[str] = set()
    for name, workflow in _written():
        status = workflow.get("status") or {}
        phase = status.get("phase")
        suspend_running = any(
            n.get("type") == "Suspend" and n.get("phase") == "Running"
            for n in (status.get("nodes") or {}).values()
        )
        offered = available(workflow)
        seen.update(offered)
        # The UI's rules, one by one (workflow-operations-map.ts).
        # Retry by phase alone; the others need a spec (`isWorkflowRunning` and
        # `isWorkflowSuspended` answer false without one).
        spec = workflow.get("spec")
        assert ("retry" in offered) == (phase in ("Failed", "Error")), name
        assert ("stop" in offered) == (spec is not None and phase == "Running"), name
        assert ("terminate" in offered) == (spec is not None and phase == "Running"), name
        suspended = spec is not None and (bool(spec.get("suspend")) or suspend_running)
        assert ("resume" in offered) == suspended, name
        running = spec is not None and phase == "Running"
        assert ("suspend" in offered) == (running and not suspended), name
    # The objects cover every action at least once.
    assert seen == {"retry", "suspend", "resume", "stop", "terminate"}


def test_a_workflow_without_a_spec_offers_only_retry() -> None:
    assert available({"status": {"phase": "Running"}}) == []
    assert available({"status": {"phase": "Error"}}) == ["retry"]
    assert available({"spec": {"suspend": True}, "status": {"phase": "Running"}}) == [
        "resume",
        "stop",
        "terminate",
    ]


def test_a_suspended_nodes_form_is_its_input_parameters_an_enum_starting_at_its_default() -> None:
    # As intermediate-parameters.yaml's approval node is in status (Argo's UI form).
    node = {
        "type": "Suspend",
        "phase": "Running",
        "inputs": {
            "parameters": [
                {"name": "approve", "default": "NO", "enum": ["YES", "NO"], "description": "?"},
                {"name": "note", "value": "hello", "default": "x"},
                {"name": "other", "default": "d"},
            ]
        },
    }
    assert suspended_inputs(node) == [
        {"name": "approve", "value": "NO", "enum": ["YES", "NO"], "description": "?"},
        {"name": "note", "value": "hello", "enum": [], "description": ""},
        {"name": "other", "value": "d", "enum": [], "description": ""},
    ]
    assert suspended_inputs(dict(node, phase="Succeeded")) is None
    assert suspended_inputs({"type": "Pod", "phase": "Running"}) is None
    assert suspended_inputs({"type": "Suspend", "phase": "Running"}) == []


# ---- the buttons in a real kernel, while the cell blocks ---------------------------------


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[BlockingKernelClient]:
    env = {
        **os.environ,
        "JUPYTER_ARGO_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    try:
        client.execute_interactive("%load_ext jupyter_argo", timeout=60)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


class Frontend:
    """What a browser does with the view's comm: reads its state and pushed messages, and
    sends the buttons' messages (`comm_msg`, method custom), as view.js does."""

    def __init__(self, client: BlockingKernelClient) -> None:
        self.client = client
        self.comm_id = ""
        self.header: dict[str, Any] = {}
        self.names: dict[str, str] = {}
        self.details: dict[str, dict[str, Any]] = {}
        self.answers: dict[str, tuple[float, dict[str, Any]]] = {}
        self.headers: list[dict[str, Any]] = []

    def click(self, action: str, node: str = "", parameters: dict[str, str] | None = None) -> str:
        ident = f"{action}-{len(self.answers)}-{time.monotonic()}"
        content = {
            "event": "action",
            "id": ident,
            "action": action,
            "node": node,
            "parameters": parameters or {},
        }
        message = self.client.session.msg(
            "comm_msg",
            {"comm_id": self.comm_id, "data": {"method": "custom", "content": content}},
        )
        self.client.shell_channel.send(message)
        return ident

    def node_id(self, display_name: str) -> str:
        return {name: node_id for node_id, name in self.names.items()}[display_name]

    def read(self, message: dict[str, Any]) -> None:
        kind, content = message["msg_type"], message["content"]
        if kind == "comm_open" and "phases" in ((content.get("data") or {}).get("state") or {}):
            self.comm_id = content["comm_id"]
        if kind not in ("comm_open", "comm_msg") or content.get("comm_id") != self.comm_id:
            return
        data = content.get("data") or {}
        state = data.get("state") or {}
        self.names.update(state.get("names") or {})
        if "header" in state:
            self.header = state["header"]
            self.headers.append(state["header"])
        pushed = (data.get("content") or {}) if data.get("method") == "custom" else {}
        self.details.update(pushed.get("nodes") or {})
        if pushed.get("type") == "action":
            self.answers[pushed["id"]] = (time.monotonic(), pushed)

    def run_cell(
        self, code: str, react: Callable[[Frontend], None], *, timeout: float = 120
    ) -> tuple[dict[str, Any], float]:
        """Run `code`, calling `react` on each message until the cell's kernel is idle;
        returns the execute reply and when the cell ended."""
        cell = self.client.execute(code)
        deadline = time.monotonic() + timeout
        while True:
            message = self.client.get_iopub_msg(timeout=max(1.0, deadline - time.monotonic()))
            self.read(message)
            react(self)
            if (
                message["parent_header"].get("msg_id") == cell
                and message["msg_type"] == "status"
                and message["content"]["execution_state"] == "idle"
            ):
                ended = time.monotonic()
                break
        while True:
            reply = self.client.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == cell:
                return reply, ended

    def drain(self, until: Callable[[Frontend], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not until(self):
            self.read(self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic())))


SUSPENDED = """%%argo --bind
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wait-for-me}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: hold, template: hold}
    - - {name: after, template: after}
  - name: hold
    suspend: {}
  - name: after
    container: {image: alpine, command: [echo, resumed]}
"""


def test_resume_button_resumes_a_suspended_run_while_the_cell_blocks(
    kernel: BlockingKernelClient,
) -> None:
    frontend = Frontend(kernel)
    clicked: list[str] = []

    def react(f: Frontend) -> None:
        if not clicked and "resume" in (f.header.get("actions") or ()):
            clicked.append(f.click("resume"))

    reply, ended = frontend.run_cell(SUSPENDED, react)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert clicked, "the view never offered resume"
    answered, answer = frontend.answers[clicked[0]]
    assert answer["ok"], answer
    assert answered < ended  # answered while the cell still blocked
    assert frontend.header["phase"] == "Succeeded"
    # The header offered what the UI offers while suspended, and nothing once done.
    assert any(h.get("actions") == ["resume", "stop", "terminate"] for h in frontend.headers)
    assert frontend.header["actions"] == []


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="../shared/argo/examples is absent")
@pytest.mark.parametrize(("answer", "deploy_prod"), [("YES", "Succeeded"), ("NO", "Skipped")])
def test_a_suspended_nodes_resume_supplies_its_values_as_argo_intermediate_parameters(
    kernel: BlockingKernelClient, answer: str, deploy_prod: str
) -> None:
    """Argo's intermediate-parameters example: the approval node's form (its `approve`
    input, an enum defaulting to NO); resumed with a value, that value is the node's
    output and decides whether deploy-prod runs (Argo's intermediate-inputs docs)."""
    source = (EXAMPLES / "intermediate-parameters.yaml").read_text()
    frontend = Frontend(kernel)
    clicked: list[str] = []

    def react(f: Frontend) -> None:
        if clicked or "resume" not in (f.header.get("actions") or ()):
            return
        approval = next((d for d in f.details.values() if d.get("displayName") == "approval"), None)
        if approval is None or approval.get("resume") is None:
            return
        assert approval["resume"] == [
            {
                "name": "approve",
                "value": "NO",
                "enum": ["YES", "NO"],
                "description": "Choose YES to continue workflow and deploy to production",
            }
        ]
        clicked.append(f.click("resume", approval["id"], {"approve": answer}))

    reply, ended = frontend.run_cell("%%argo --no-raise\n" + source, react)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert clicked
    answered, result = frontend.answers[clicked[0]]
    assert result["ok"], result
    assert answered < ended
    frontend.drain(lambda f: f.header.get("phase") == "Succeeded")
    approval = next(d for d in frontend.details.values() if d["displayName"] == "approval")
    assert ["approve", answer] in approval["outputs"]["parameters"]
    prod = next(d for d in frontend.details.values() if d["displayName"] == "deploy-prod")
    assert prod["phase"] == deploy_prod


STOPPABLE = """%%argo --no-raise
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: stop-me}
spec:
  entrypoint: main
  onExit: goodbye
  templates:
  - name: main
    container: {image: alpine, command: [sleep, "60"]}
  - name: goodbye
    container: {image: alpine, command: [echo, bye]}
"""


@pytest.mark.parametrize(("action", "runs_exit_handler"), [("stop", True), ("terminate", False)])
def test_stop_and_terminate_end_a_blocking_run_as_argo_does(
    kernel: BlockingKernelClient, action: str, runs_exit_handler: bool
) -> None:
    frontend = Frontend(kernel)
    clicked: list[str] = []
    started = time.monotonic()

    def react(f: Frontend) -> None:
        running = any(
            d.get("type") == "Pod" and d.get("phase") == "Running" for d in f.details.values()
        )
        if not clicked and running and action in (f.header.get("actions") or ()):
            clicked.append(f.click(action))

    reply, ended = frontend.run_cell(STOPPABLE.replace("stop-me", f"{action}-me"), react)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert clicked
    assert frontend.answers[clicked[0]][1]["ok"]
    assert ended - started < 40  # not the 60 s sleep
    assert frontend.header["phase"] == "Failed"
    ran_exit = any(
        d.get("displayName") == f"{action}-me.onExit" and d.get("phase") == "Succeeded"
        for d in frontend.details.values()
    )
    assert ran_exit == runs_exit_handler


FAILING = """%%argo --no-raise
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: fail-then-retry}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [sh, -c, "echo trying; exit 3"]}
"""


def test_retry_runs_the_failed_run_again_in_the_same_view(
    kernel: BlockingKernelClient,
) -> None:
    frontend = Frontend(kernel)
    reply, _ = frontend.run_cell(FAILING, lambda f: None)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert frontend.header["phase"] == "Failed"
    assert frontend.header["actions"] == ["retry"]
    first_start = frontend.header["startedAt"]
    before = len(frontend.headers)
    ident = frontend.click("retry")
    frontend.drain(lambda f: ident in f.answers)
    assert frontend.answers[ident][1]["ok"], frontend.answers[ident]
    # The same view follows the retried run: it runs again and fails again.
    frontend.drain(
        lambda f: (
            any(h.get("phase") == "Running" for h in f.headers[before:])
            and f.header.get("phase") == "Failed"
        )
    )
    assert frontend.header["name"] == "fail-then-retry"
    # Argo's retry starts the run anew (createNewRetryWorkflow resets startedAt).
    assert frontend.header["startedAt"] >= first_start


def test_a_bad_action_gets_one_line_and_changes_nothing(kernel: BlockingKernelClient) -> None:
    frontend = Frontend(kernel)
    reply, _ = frontend.run_cell(FAILING.replace("fail-then-retry", "bad-input"), lambda f: None)
    assert reply["content"]["status"] == "ok"
    asks = {
        frontend.click("explode"): "unknown action 'explode'",
        frontend.click("resume", "no-such-node"): "no node 'no-such-node'",
        frontend.click("suspend", "", {"x": "1"}): "only a suspended node's resume",
        frontend.click("suspend"): "",  # refused by the backend, in Argo's words
    }
    frontend.drain(lambda f: all(a in f.answers for a in asks))
    for ident, words in asks.items():
        answer = frontend.answers[ident][1]
        assert not answer["ok"], answer
        assert "\n" not in answer["message"]
        assert "Traceback" not in answer["message"]
        assert words in answer["message"]
    assert frontend.header["phase"] == "Failed"
