"""CronWorkflows on a real Argo v4.0.5 (the test bed's workflow-controller and `argo
server`) beside the local scheduler: the Workflow a scheduled run makes and the status
the controller writes, and `argo cron list/get` as the real argo CLI prints them beside
`jupyter-argo cron list/get/suspend/resume/delete` through the Argo Server and Kubernetes
backends."""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from k8s.envtest import NAMESPACE
from k8s.testbed import Testbed, shared_testbed

from jupyter_argo.backends.argo_server import ArgoServerBackend
from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.engine.cron import CronController
from jupyter_argo.spec.parse import parse_text

pytestmark = pytest.mark.slow

CRON = """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: NAME
  labels: {workflows.argoproj.io/creator: alice, team: data}
spec:
  schedules: ["@every 3s", "0 0 1 1 *"]
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 30
  workflowMetadata:
    labels: {kind: report}
    annotations: {owner: ops}
  workflowSpec:
    entrypoint: main
    arguments: {parameters: [{name: who, value: world}]}
    templates:
    - name: main
      container: {image: busybox, command: [sleep, "60"]}
"""


@pytest.fixture(scope="module")
def bed() -> Testbed:
    return shared_testbed()


def server_of(bed: Testbed) -> ArgoServerBackend:
    return ArgoServerBackend(
        f"127.0.0.1:{bed.argo_server_port}",
        token=bed.user_token(),
        namespace=NAMESPACE,
        secure=False,
    )


def cron_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = next(
        d.body for d in parse_text(CRON.replace("NAME", name)) if d.kind == "CronWorkflow"
    )
    return body


def keys(mapping: dict[str, Any]) -> set[str]:
    return set(mapping)


def test_a_scheduled_run_as_argo_makes_it(bed: Testbed, tmp_path: Path) -> None:
    name = f"cron-{uuid.uuid4().hex[:6]}"
    server = server_of(bed)
    try:
        server.apply(cron_body(name))
        deadline = time.monotonic() + 120
        cron: dict[str, Any] = {}
        while time.monotonic() < deadline:
            cron = server._request("GET", f"/api/v1/cron-workflows/{NAMESPACE}/{name}")
            if (cron.get("status") or {}).get("active"):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"Argo's controller started no run of {name}: {cron.get('status')}")
        server._request(
            "PUT",
            f"/api/v1/cron-workflows/{NAMESPACE}/{name}/suspend",
            body={"name": name, "namespace": NAMESPACE},
        )
        (ref,) = cron["status"]["active"]
        argo_run = server.get(ref["name"])
    finally:
        with_cleanup(server, name)
        server.close()

    local = LocalBackend(home=tmp_path / "home")
    local.apply(cron_body(name))
    start = datetime.datetime.now(datetime.timezone.utc)
    controller = CronController(local, clock=lambda: start, detach=False, sync_period=0)
    controller.tick()
    later = start + datetime.timedelta(seconds=4)
    controller.clock = lambda: later
    controller.tick()
    (local_run,) = local.list()
    local_cron = local.store.get_object("CronWorkflow", name, "default")
    assert local_cron is not None
    try:
        for made in (argo_run, local_run):
            meta = made["metadata"]
            # getChildWorkflowName: <cron>-<unix time of the schedule>, and the
            # scheduled-time annotation says the same second.
            stamp = int(meta["name"].removeprefix(f"{name}-"))
            scheduled = meta["annotations"]["workflows.argoproj.io/scheduled-time"]
            moment = datetime.datetime.fromisoformat(scheduled.replace("Z", "+00:00"))
            assert int(moment.timestamp()) == stamp
        argo_meta, local_meta = argo_run["metadata"], local_run["metadata"]
        assert "generateName" not in argo_meta
        assert "generateName" not in local_meta
        # The labels, those the controller keeps up to date aside: the same keys and
        # values, the creator label being each side's CronWorkflow's (the Argo Server
        # puts its caller's there when the CronWorkflow is created).
        changing = ("workflows.argoproj.io/phase", "workflows.argoproj.io/completed")
        creator = "workflows.argoproj.io/creator"
        assert argo_meta["labels"][creator] == cron["metadata"]["labels"][creator]
        assert local_meta["labels"][creator] == local_cron["metadata"]["labels"][creator]
        mine = {k: v for k, v in local_meta["labels"].items() if k not in (*changing, creator)}
        theirs = {k: v for k, v in argo_meta["labels"].items() if k not in (*changing, creator)}
        assert mine == theirs
        assert keys(local_meta["annotations"]) <= keys(argo_meta["annotations"])
        assert local_meta["annotations"]["owner"] == argo_meta["annotations"]["owner"]
        (argo_owner,) = argo_meta["ownerReferences"]
        (local_owner,) = local_meta["ownerReferences"]
        assert keys(local_owner) == keys(argo_owner)
        assert {k: v for k, v in local_owner.items() if k != "uid"} == {
            k: v for k, v in argo_owner.items() if k != "uid"
        }
        # The CronWorkflow's status and the annotation the controller keeps.
        argo_status, local_status = cron["status"], local_cron["status"]
        assert local_status["phase"] == argo_status["phase"] == "Active"
        (local_ref,) = local_status["active"]
        assert keys(local_ref) <= keys(ref)
        assert local_ref["kind"] == ref["kind"]
        assert local_ref["apiVersion"] == ref["apiVersion"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", local_status["lastScheduledTime"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", argo_status["lastScheduledTime"])
        annotation = "cronworkflows.argoproj.io/last-used-schedule"
        assert (
            local_cron["metadata"]["annotations"][annotation]
            == cron["metadata"]["annotations"][annotation]
        )
    finally:
        for made in local.list():
            local.terminate(made["metadata"]["name"])


def with_cleanup(server: ArgoServerBackend, name: str) -> None:
    """Delete the CronWorkflow (its runs go with it, by owner reference)."""
    with contextlib.suppress(Exception):  # cleanup must not hide the test's own failure
        server._request("DELETE", f"/api/v1/cron-workflows/{NAMESPACE}/{name}")


def argo_cli(bed: Testbed, *args: str) -> str:
    env = {
        **os.environ,
        "ARGO_SERVER": f"127.0.0.1:{bed.argo_server_port}",
        "ARGO_SECURE": "false",
        "ARGO_TOKEN": f"Bearer {bed.user_token()}",
        "ARGO_NAMESPACE": NAMESPACE,
    }
    done = subprocess.run(
        [str(bed.bin / "argo"), *args], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def ours(bed: Testbed, *args: str, kubeconfig: Path | None = None) -> str:
    """`jupyter-argo ARGS` through the Argo Server, or with `kubeconfig` through the
    Kubernetes API."""
    env = {**os.environ, "ARGO_TOKEN": f"Bearer {bed.user_token()}"}
    where = ["-s", f"127.0.0.1:{bed.argo_server_port}", "--no-secure"]
    if kubeconfig is not None:
        where = ["--backend", "kubernetes", "--kubeconfig", str(kubeconfig)]
    command = [sys.executable, "-m", "jupyter_argo.cli", *args, *where, "-n", NAMESPACE]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cron_list_and_get_print_as_the_argo_cli(bed: Testbed, tmp_path: Path) -> None:
    name = f"show-{uuid.uuid4().hex[:6]}"
    server = server_of(bed)
    body = cron_body(name)
    body["spec"]["suspend"] = True
    body["spec"]["timezone"] = "Asia/Tokyo"
    body["spec"]["schedules"] = ["0 3 * * *", "30 4 * * 1"]
    try:
        server.apply(body)
        theirs = argo_cli(bed, "cron", "get", name)
        mine = ours(bed, "cron", "get", name)
        # Relative times ("5 seconds ago") can differ by the second the two ran.
        relative = re.compile(r"\(\d+ \w+ (ago|from now)\)|\(now\)")
        assert relative.sub("(…)", mine) == relative.sub("(…)", theirs)
        kubeconfig = bed.api.kubeconfig(tmp_path / "kubeconfig")
        direct = ours(bed, "cron", "get", name, kubeconfig=kubeconfig)
        assert relative.sub("(…)", direct) == relative.sub("(…)", theirs)
        listed_theirs = [ln for ln in argo_cli(bed, "cron", "list").splitlines() if name in ln]
        listed_mine = ours(bed, "cron", "list").splitlines()
        assert listed_mine[0] == argo_cli(bed, "cron", "list").splitlines()[0] or (
            listed_mine[0].split() == argo_cli(bed, "cron", "list").splitlines()[0].split()
        )
        (mine_row,) = [ln for ln in listed_mine if name in ln]
        (their_row,) = listed_theirs
        short = re.compile(r"\b\d+[smhd]\b")
        assert short.sub("T", mine_row).split() == short.sub("T", their_row).split()
        assert ours(bed, "cron", "resume", name) == f"CronWorkflow '{name}' resumed\n"
        assert "Suspended:                     false" in argo_cli(bed, "cron", "get", name)
        assert ours(bed, "cron", "suspend", name) == f"CronWorkflow '{name}' suspended\n"
        assert "Suspended:                     true" in argo_cli(bed, "cron", "get", name)
        resumed = ours(bed, "cron", "resume", name, kubeconfig=kubeconfig)
        assert resumed == f"CronWorkflow '{name}' resumed\n"
        assert "Suspended:                     false" in argo_cli(bed, "cron", "get", name)
        listed_direct = ours(bed, "cron", "list", "-o", "name", kubeconfig=kubeconfig)
        assert name in listed_direct.splitlines()
        ours(bed, "cron", "delete", name)
        assert name not in argo_cli(bed, "cron", "list")
    finally:
        with_cleanup(server, name)
        server.close()
