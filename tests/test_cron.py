"""CronWorkflows on the local backend: `apply` and `cron list/get/suspend/resume/delete`
as `argo cron` shows them (cmd/argo/commands/cron), `submit --from cronwf/NAME`, and the
scheduler (jupyter_argo.engine.cron) after Argo's workflow/cron/operator.go, driven by a
clock the tests move on by hand, plus `cron run` itself in its own process."""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
from test_cli_runs import cli
from test_magics import TestingShell, ip  # noqa: F401  (the shell fixture)

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.engine.cron import CronController
from jupyter_argo.errors import UserError
from jupyter_argo.spec import parse_text

UTC = datetime.timezone.utc

CRON = """\
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: nightly
  labels:
    workflows.argoproj.io/creator: alice
    team: data
spec:
  schedules:
  - "0 3 * * *"
  - "30 4 * * 1"
  timezone: Asia/Tokyo
  startingDeadlineSeconds: 120
  concurrencyPolicy: Forbid
  workflowMetadata:
    labels:
      kind: report
    annotations:
      owner: ops
  workflowSpec:
    entrypoint: main
    arguments:
      parameters:
      - name: who
        value: world
    templates:
    - name: main
      inputs:
        parameters:
        - name: who
      container:
        image: argoproj/argosay:v2
        args: [echo, "hello {{inputs.parameters.who}}"]
    - name: other
      container:
        image: argoproj/argosay:v2
        args: [echo, "other entrypoint"]
"""


def write(tmp_path: Path, text: str, name: str = "cron.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def following(
    now: datetime.datetime, hour: int, minute: int, weekday: int | None
) -> datetime.datetime:
    """The first hour:minute after `now` (on `weekday`, Monday 0, when given)."""
    moment = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    while moment <= now or (weekday is not None and moment.weekday() != weekday):
        moment += datetime.timedelta(days=1)
    return moment


def short(seconds: float) -> str:
    """Argo's shortTimeMagnitudes (util/humanize) below a day."""
    for below, text, divisor in (
        (1, "0s", 1), (2, "1s", 1), (60, "{}s", 1), (120, "1m", 1),
        (3600, "{}m", 60), (7200, "1h", 1), (86400, "{}h", 3600),
    ):  # fmt: skip
        if seconds < below:
            return text.format(int(seconds // divisor))
    return f"{int(seconds // 86400)}d"


# ---- apply, list, get, suspend, resume, delete -------------------------------------------------


def test_apply_stores_a_cron_workflow_and_list_shows_argo_columns(tmp_path: Path) -> None:
    path = write(tmp_path, CRON)
    assert cli("apply", str(path)).stdout == "cronworkflow/nightly created\n"
    assert cli("apply", str(path)).stdout == "cronworkflow/nightly unchanged\n"
    header, row = cli("cron", "list").stdout.splitlines()
    # printTable: NAME AGE LAST RUN NEXT RUN SCHEDULES TIMEZONE SUSPENDED through Go's
    # tabwriter (padding 3, the last cell unpadded); SCHEDULES is GetScheduleString.
    widths = [len("nightly") + 3, 3 + 3, 8 + 3, 8 + 3, len("0 3 * * *,30 4 * * 1") + 3, 13]
    titles = ["NAME", "AGE", "LAST RUN", "NEXT RUN", "SCHEDULES", "TIMEZONE"]
    assert header == "".join(t.ljust(w) for t, w in zip(titles, widths, strict=True)) + "SUSPENDED"
    cells, at = [], 0
    for width in widths:
        cells.append(row[at : at + width].rstrip())
        at += width
    cells.append(row[at:])
    assert cells[0] == "nightly"
    assert cells[1] in ("0s", "1s", "2s")
    assert cells[2] == "N/A"  # never run
    # The sooner of 03:00 daily and 04:30 on Mondays, Tokyo time, as
    # humanize.RelativeDurationShort puts it.
    now = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Tokyo"))
    soonest = min(following(now, 3, 0, None), following(now, 4, 30, 0))
    seconds = (soonest - now).total_seconds()
    assert cells[3] in {short(seconds), short(seconds - 2)}
    assert cells[4:] == ["0 3 * * *,30 4 * * 1", "Asia/Tokyo", "false"]
    assert cli("cron", "list", "-o", "name").stdout == "nightly\n"
    assert cli("cron", "list", "-l", "team=data", "-o", "name").stdout == "nightly\n"
    assert cli("cron", "list", "-l", "team=ml", "-o", "name").stdout == ""


def test_get_prints_argo_fields_and_json(tmp_path: Path) -> None:
    cli("apply", str(write(tmp_path, CRON)))
    text = cli("cron", "get", "nightly").stdout
    lines = text.splitlines()
    # getCronWorkflowGet: "%-30s %v" per line.
    assert lines[0] == f"{'Name:':<30} nightly"
    assert lines[1] == f"{'Namespace:':<30} default"
    assert lines[2].startswith(f"{'Created:':<30} ")
    assert lines[2].endswith(("(now)", "(1 second ago)", "(2 seconds ago)"))
    assert lines[3] == f"{'Schedules:':<30} 0 3 * * *,30 4 * * 1"
    assert lines[4] == f"{'Suspended:':<30} false"
    assert lines[5] == f"{'Timezone:':<30} Asia/Tokyo"
    assert lines[6] == f"{'StartingDeadlineSeconds:':<30} 120"
    assert lines[7] == f"{'ConcurrencyPolicy:':<30} Forbid"
    assert lines[8].startswith(f"{'NextScheduledTime:':<30} ")
    assert lines[8].endswith("from now) (assumes workflow-controller is in UTC)")
    assert lines[9:] == [f"{'Workflow Parameters:':<30} ", f"{'  who:':<30} world"]
    body = json.loads(cli("cron", "get", "nightly", "-o", "json").stdout)
    assert body["kind"] == "CronWorkflow"
    assert body["metadata"]["uid"]  # as the API server gives one
    assert body["metadata"]["creationTimestamp"].endswith("Z")
    missing = cli("cron", "get", "nope", check=False)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == 'jupyter-argo: cronworkflows.argoproj.io "nope" not found\n'


def test_suspend_resume_and_delete(tmp_path: Path) -> None:
    cli("apply", str(write(tmp_path, CRON)))
    uid = json.loads(cli("cron", "get", "nightly", "-o", "json").stdout)["metadata"]["uid"]
    assert cli("cron", "suspend", "nightly").stdout == "CronWorkflow 'nightly' suspended\n"
    assert cli("cron", "list").stdout.splitlines()[1].split()[-1] == "true"
    assert f"{'Suspended:':<30} true" in cli("cron", "get", "nightly").stdout
    assert cli("cron", "resume", "nightly").stdout == "CronWorkflow 'nightly' resumed\n"
    assert cli("cron", "list").stdout.splitlines()[1].split()[-1] == "false"
    # Applied again with a change: configured, its uid kept (as kubectl apply does).
    changed = CRON.replace("startingDeadlineSeconds: 120", "startingDeadlineSeconds: 60")
    assert cli("apply", str(write(tmp_path, changed))).stdout == "cronworkflow/nightly configured\n"
    body = json.loads(cli("cron", "get", "nightly", "-o", "json").stdout)
    assert (body["metadata"]["uid"], body["spec"]["startingDeadlineSeconds"]) == (uid, 60)
    wrong = cli("cron", "suspend", "nope", check=False)
    assert wrong.stderr == 'jupyter-argo: cronworkflows.argoproj.io "nope" not found\n'
    assert cli("cron", "delete", "nightly").stdout == ""
    assert cli("cron", "list", "-o", "name").stdout == ""


def test_a_bad_schedule_is_refused_with_one_located_line_and_nothing_stored(
    tmp_path: Path,
) -> None:
    template = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: kept-out
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: argoproj/argosay:v2
---
"""
    bad = CRON.replace('- "30 4 * * 1"', '- "30 4 * * 8"')
    path = write(tmp_path, template + bad)
    done = cli("apply", str(path), check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    # ValidateCronWorkflow's message, with robfig/cron's ParseStandard reason; located at
    # the schedule: line 22, the 12 lines of the template and its `---`, then 10 more.
    assert line.startswith(
        f"jupyter-argo: {path}:22:5: spec.schedules[1]: cron schedule 30 4 * * 8 is "
        "malformed: day of week: end of range (8) above maximum (6): 8"
    )
    assert cli("cron", "list", "-o", "name").stdout == ""
    gone = cli("submit", "--from", "workflowtemplate/kept-out", check=False)
    assert gone.returncode == 1
    assert "not found" in gone.stderr
    # Not five fields, and an unknown descriptor (robfig's own messages).
    four = write(tmp_path, CRON.replace('- "0 3 * * *"', '- "0 3 * *"'), "four.yaml")
    assert (
        "expected exactly 5 fields, found 4: [0 3 * *]"
        in cli("apply", str(four), check=False).stderr
    )
    every = write(tmp_path, CRON.replace('- "0 3 * * *"', '- "@fortnightly"'), "at.yaml")
    assert "unrecognized descriptor: @fortnightly" in cli("apply", str(every), check=False).stderr


def test_apply_through_the_python_api_refuses_a_bad_schedule_by_path() -> None:
    engine = LocalBackend()
    (doc,) = parse_text(CRON.replace('- "0 3 * * *"', '- "0 25 * * *"'))
    with pytest.raises(UserError) as caught:
        engine.apply(doc.body)
    assert str(caught.value).startswith(
        "CronWorkflow nightly: spec.schedules[0]: cron schedule 0 25 * * * is malformed: "
        "hour: end of range (25) above maximum (23): 25"
    )
    assert engine.store.list_objects("CronWorkflow") == []


# ---- submit --from cronwf/NAME and workflowtemplate/NAME -----------------------------------------


def test_submit_from_a_cron_workflow_with_parameters_and_entrypoint(tmp_path: Path) -> None:
    cli("apply", str(write(tmp_path, CRON)))
    cron = json.loads(cli("cron", "get", "nightly", "-o", "json").stdout)
    done = cli("submit", "--from", "cronwf/nightly", "-p", "who=argo", "--wait", "-o", "json")
    workflow = json.loads(done.stdout)
    meta = workflow["metadata"]
    assert workflow["status"]["phase"] == "Succeeded"
    # ConvertCronWorkflowToWorkflow: generateName "<cron>-", the cron-workflow label, the
    # workflowMetadata labels and annotations, the scheduled-time annotation and the
    # CronWorkflow as controlling owner; its own labels are not copied.
    assert meta["generateName"] == "nightly-"
    assert meta["labels"]["workflows.argoproj.io/cron-workflow"] == "nightly"
    assert meta["labels"]["kind"] == "report"
    assert "team" not in meta["labels"]
    assert meta["annotations"]["owner"] == "ops"
    assert "workflows.argoproj.io/scheduled-time" in meta["annotations"]
    (owner,) = meta["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("CronWorkflow", "nightly")
    assert (owner["uid"], owner["controller"]) == (cron["metadata"]["uid"], True)
    assert cli("logs", meta["name"]).stdout.strip().endswith("hello argo")
    other = cli(
        "submit", "--from", "cronwf/nightly", "--entrypoint", "other", "--wait", "-o", "name"
    )
    name = other.stdout.strip().splitlines()[-1]
    assert cli("logs", name).stdout.strip().endswith("other entrypoint")


# ---- the scheduler -----------------------------------------------------------------------------

QUICK = """\
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: tick
spec:
  schedules: ["* * * * *"]
  timezone: UTC
POLICY
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      container:
        image: alpine
        command: [sh, -c, "COMMAND"]
"""


class Clock:
    """A clock the test moves on by hand."""

    def __init__(self, at: datetime.datetime) -> None:
        self.at = at

    def __call__(self) -> datetime.datetime:
        return self.at

    def to(self, at: datetime.datetime) -> None:
        self.at = at


T0 = datetime.datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)  # half a minute past 10:00
MINUTE = datetime.timedelta(minutes=1)


def cron_of(policy: str = "", command: str = "echo hi") -> dict[str, Any]:
    text = QUICK.replace("POLICY", policy or "  suspend: false").replace("COMMAND", command)
    (doc,) = parse_text(text)
    return doc.body


def scheduler(engine: LocalBackend, clock: Clock, lines: list[str] | None = None) -> CronController:
    log = lines.append if lines is not None else None
    return CronController(engine, clock=clock, detach=False, sync_period=0, log=log)


def stored(engine: LocalBackend, name: str = "tick") -> dict[str, Any]:
    found = engine.store.get_object("CronWorkflow", name, "default")
    assert found is not None
    return found


def runs(engine: LocalBackend) -> list[str]:
    return sorted(w["metadata"]["name"] for w in engine.list("default"))


def unix(at: datetime.datetime) -> int:
    return int(at.timestamp())


def wait_all(engine: LocalBackend) -> None:
    for name in runs(engine):
        engine.wait(name, "default", timeout=60)


def test_a_due_schedule_starts_a_named_run_and_records_it() -> None:
    engine = LocalBackend()
    engine.apply(cron_of())
    clock = Clock(T0)
    controller = scheduler(engine, clock)
    upcoming = controller.tick()
    # robfig's Next: the first minute boundary after now.
    assert upcoming == datetime.datetime(2026, 3, 2, 10, 1, tzinfo=UTC)
    assert runs(engine) == []  # nothing is due yet
    clock.to(datetime.datetime(2026, 3, 2, 10, 1, 0, 200000, tzinfo=UTC))
    controller.tick()
    name = f"tick-{unix(datetime.datetime(2026, 3, 2, 10, 1, tzinfo=UTC))}"
    assert runs(engine) == [name]  # getChildWorkflowName: <cron>-<unix time of the schedule>
    workflow = engine.wait(name, "default", timeout=60)
    assert workflow["status"]["phase"] == "Succeeded"
    meta = workflow["metadata"]
    assert meta["labels"]["workflows.argoproj.io/cron-workflow"] == "tick"
    # The schedule's time in its location (UTC here), RFC 3339.
    assert meta["annotations"]["workflows.argoproj.io/scheduled-time"] == "2026-03-02T10:01:00Z"
    cron = stored(engine)
    assert meta["ownerReferences"][0]["uid"] == cron["metadata"]["uid"]
    status = cron["status"]
    assert status["lastScheduledTime"] == "2026-03-02T10:01:00Z"
    assert status["phase"] == "Active"
    assert [ref["name"] for ref in status["active"]] == [name]
    assert cron["metadata"]["annotations"]["cronworkflows.argoproj.io/last-used-schedule"] == (
        "CRON_TZ=UTC * * * * *"
    )
    # The next sync sees it ended: out of `active`, counted as succeeded.
    controller.tick()
    status = stored(engine)["status"]
    assert "active" not in status or not status["active"]
    assert status["succeeded"] == 1


def test_suspended_runs_nothing_and_resumed_runs_again() -> None:
    engine = LocalBackend()
    engine.apply(cron_of("  suspend: true"))
    clock = Clock(T0)
    controller = scheduler(engine, clock)
    controller.tick()
    clock.to(T0 + MINUTE)
    controller.tick()
    assert runs(engine) == []
    from jupyter_argo.engine.cron import set_suspend

    set_suspend(engine.store, "tick", "default", False)
    clock.to(T0 + 2 * MINUTE)
    controller.tick()  # re-read: scheduled from now on
    clock.to(T0 + 3 * MINUTE)
    controller.tick()
    assert runs(engine) == [f"tick-{unix(datetime.datetime(2026, 3, 2, 10, 3, tzinfo=UTC))}"]
    wait_all(engine)


@pytest.mark.parametrize("policy", ["Forbid", "Replace", "Allow"])
def test_concurrency_policy_with_a_long_running_step(policy: str) -> None:
    engine = LocalBackend()
    engine.apply(cron_of(f"  concurrencyPolicy: {policy}", command="sleep 60"))
    clock = Clock(T0)
    controller = scheduler(engine, clock)
    controller.tick()
    first_at = datetime.datetime(2026, 3, 2, 10, 1, tzinfo=UTC)
    second_at = first_at + MINUTE
    clock.to(first_at)
    controller.tick()
    first = f"tick-{unix(first_at)}"
    second = f"tick-{unix(second_at)}"
    deadline = time.monotonic() + 30
    while engine.get(first, "default")["status"].get("phase") != "Running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    clock.to(second_at)
    controller.tick()
    try:
        if policy == "Forbid":
            # enforceRuntimePolicy: an active run, so this one is not started.
            assert runs(engine) == [first]
            assert engine.get(first, "default")["status"]["phase"] == "Running"
            assert [r["name"] for r in stored(engine)["status"]["active"]] == [first]
        elif policy == "Replace":
            # The active run is terminated, then the new one starts.
            assert runs(engine) == sorted([first, second])
            ended = engine.wait(first, "default", timeout=30)
            assert ended["status"]["phase"] == "Failed"
            assert engine.get(second, "default")["status"].get("phase") in ("Pending", "Running")
        else:
            assert runs(engine) == sorted([first, second])
            assert engine.get(first, "default")["status"]["phase"] == "Running"
    finally:
        for name in runs(engine):
            if engine.get(name, "default")["status"].get("phase") in ("", "Pending", "Running"):
                engine.terminate(name, "default")
        wait_all(engine)


def test_history_limits_delete_the_oldest_finished_runs() -> None:
    engine = LocalBackend()
    policy = "  successfulJobsHistoryLimit: 2\n  failedJobsHistoryLimit: 0"
    engine.apply(cron_of(policy))
    clock = Clock(T0)
    controller = scheduler(engine, clock)
    controller.tick()
    names = []
    for i in range(1, 5):
        at = datetime.datetime(2026, 3, 2, 10, i, tzinfo=UTC)
        clock.to(at)
        controller.tick()
        names.append(f"tick-{unix(at)}")
        wait_all(engine)
    # After the 4th ran: the sync before it kept the 2 newest of the 3 then finished.
    assert runs(engine) == sorted(names[1:])
    controller.tick()  # a sync with all four finished: the 2 newest by finishedAt stay
    assert runs(engine) == sorted(names[2:])
    assert stored(engine)["status"]["succeeded"] == 4
    # failedJobsHistoryLimit 0: a failed run goes at the next sync.
    cron = cron_of(policy, command="exit 3")
    engine.apply(cron)
    at = datetime.datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
    clock.to(at)
    controller.tick()  # the changed spec is read again; scheduled from now
    clock.to(at + MINUTE)
    controller.tick()
    failed = f"tick-{unix(at + MINUTE)}"
    assert engine.wait(failed, "default", timeout=60)["status"]["phase"] == "Failed"
    controller.tick()
    assert failed not in runs(engine)
    assert stored(engine)["status"]["failed"] == 1


@pytest.mark.parametrize(
    ("deadline", "started"),
    [
        ("  startingDeadlineSeconds: 60", True),
        ("  startingDeadlineSeconds: 20", False),
        ("", False),
    ],
)
def test_a_missed_run_starts_only_within_starting_deadline_seconds(
    deadline: str, started: bool
) -> None:
    engine = LocalBackend()
    engine.apply(cron_of(deadline))
    clock = Clock(T0)
    first = scheduler(engine, clock)
    first.tick()
    clock.to(datetime.datetime(2026, 3, 2, 10, 1, tzinfo=UTC))
    first.tick()
    wait_all(engine)
    # The scheduler stops; 10:02 and 10:03 fall due while none runs. A new one starts at
    # 10:03:30: the latest missed run (10:03) is 30 s late.
    clock.to(datetime.datetime(2026, 3, 2, 10, 3, 30, tzinfo=UTC))
    second = scheduler(engine, clock)
    second.tick()
    missed = f"tick-{unix(datetime.datetime(2026, 3, 2, 10, 3, tzinfo=UTC))}"
    never = f"tick-{unix(datetime.datetime(2026, 3, 2, 10, 2, tzinfo=UTC))}"
    assert never not in runs(engine)  # only the latest missed one is ever run
    assert (missed in runs(engine)) is started
    if started:
        assert stored(engine)["status"]["lastScheduledTime"] == "2026-03-02T10:03:00Z"
    wait_all(engine)


def test_stop_strategy_stops_the_cron_workflow() -> None:
    engine = LocalBackend()
    engine.apply(cron_of("  stopStrategy:\n    expression: cronworkflow.succeeded >= 1"))
    clock = Clock(T0)
    controller = scheduler(engine, clock)
    controller.tick()
    clock.to(datetime.datetime(2026, 3, 2, 10, 1, tzinfo=UTC))
    controller.tick()
    wait_all(engine)
    controller.tick()  # the sync counts it, and the stop condition holds
    cron = stored(engine)
    assert cron["status"]["phase"] == "Stopped"
    assert cron["metadata"]["labels"]["cronworkflows.argoproj.io/completed"] == "true"
    clock.to(datetime.datetime(2026, 3, 2, 10, 2, tzinfo=UTC))
    controller.tick()
    assert len(runs(engine)) == 1


def test_a_failing_submission_is_a_condition_and_counts_as_failed() -> None:
    engine = LocalBackend()
    body = cron_of()
    body["spec"]["workflowSpec"]["workflowTemplateRef"] = {"name": "missing"}
    del body["spec"]["workflowSpec"]["templates"]
    engine.apply(body)  # its schedule is sound; what it refers to is not there
    clock = Clock(T0)
    controller = scheduler(engine, clock)
    controller.tick()
    clock.to(datetime.datetime(2026, 3, 2, 10, 1, tzinfo=UTC))
    controller.tick()
    status = stored(engine)["status"]
    (condition,) = status["conditions"]
    assert (condition["type"], condition["status"]) == ("SubmissionError", "True")
    assert condition["message"].startswith("Failed to submit Workflow: ")
    assert status["failed"] == 1
    assert runs(engine) == []
    text = subprocess.run(
        [sys.executable, "-m", "jupyter_argo.cli", "cron", "get", "tick"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{'Conditions:':<30} \n{'✖ SubmissionError':<30} Failed to submit Workflow: " in text


# ---- `jupyter-argo cron run`, in its own process ----------------------------------------------


def test_cron_run_starts_runs_every_second_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    every = QUICK.replace('["* * * * *"]', '["@every 1s"]').replace("POLICY", "  suspend: false")
    cli("apply", str(write(tmp_path, every.replace("COMMAND", "echo hi"))))
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_argo.cli", "cron", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            listed = json.loads(cli("list", "-o", "json").stdout)
            if len(listed) >= 2:
                break
            assert time.monotonic() < deadline, "no runs started"
            time.sleep(0.3)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert err == ""
    assert "tick: scheduled (@every 1s)" in out
    assert out.rstrip().endswith("stopped; the runs it started go on")
    names = [w["metadata"]["name"] for w in listed]
    for name in names:
        stamp = int(name.removeprefix("tick-"))
        assert abs(stamp - time.time()) < 60
    cron = json.loads(cli("cron", "get", "tick", "-o", "json").stdout)
    assert cron["status"]["lastScheduledTime"]
    for name in names:
        cli("wait", name)


def test_when_skips_runs_as_the_argo_docs_example_says() -> None:
    # docs/cron-workflows.md: run only when the last run is more than an hour old.
    engine = LocalBackend()
    body = cron_of()
    body["spec"]["when"] = (
        "{{= cronworkflow.lastScheduledTime == nil || "
        "(now() - cronworkflow.lastScheduledTime).Seconds() > 3600 }}"
    )
    engine.apply(body)
    start = datetime.datetime.now(UTC).replace(second=30, microsecond=0)
    clock = Clock(start)
    controller = scheduler(engine, clock)
    controller.tick()
    for minutes in (1, 2, 3):
        clock.to(start.replace(second=0) + minutes * MINUTE)
        controller.tick()
    # The first run (no lastScheduledTime yet) only: the others are minutes after it.
    assert runs(engine) == [f"tick-{unix(start.replace(second=0) + MINUTE)}"]
    wait_all(engine)


def test_the_line_magic_lists_gets_and_suspends(ip: TestingShell) -> None:  # noqa: F811
    ip.run_cell(f"%%argo\n{CRON}")
    listed = str(ip.run_line_magic("argo", "cron list"))
    assert listed.splitlines()[0].split() == [
        "NAME", "AGE", "LAST", "RUN", "NEXT", "RUN", "SCHEDULES", "TIMEZONE", "SUSPENDED"
    ]  # fmt: skip
    assert listed.splitlines()[1].startswith("nightly   ")
    assert str(ip.run_line_magic("argo", "cron suspend nightly")) == (
        "CronWorkflow 'nightly' suspended"
    )
    shown = str(ip.run_line_magic("argo", "cron get nightly"))
    assert f"{'Suspended:':<30} true" in shown.splitlines()
    assert str(ip.run_line_magic("argo", "cron resume nightly")) == "CronWorkflow 'nightly' resumed"
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        verbs = [c.text for c in ip.Completer.completions("%argo cron su", 13)]
        names = [c.text for c in ip.Completer.completions("%argo cron get ni", 17)]
    assert "suspend" in verbs
    assert "nightly" in names
    with pytest.raises(UserError, match=re.escape('cronworkflows.argoproj.io "nope" not found')):
        ip.run_line_magic("argo", "cron get nope")


REF = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: base
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: argoproj/argosay:v2
---
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: refcron
spec:
  schedules: ["@hourly"]
  workflowSpec:
    workflowTemplateRef:
      name: TEMPLATE
"""


def test_apply_checks_a_template_reference_against_the_files_and_the_store(
    tmp_path: Path,
) -> None:
    done = cli("apply", str(write(tmp_path, REF.replace("TEMPLATE", "base"))))
    assert done.stdout == "workflowtemplate/base created\ncronworkflow/refcron created\n"
    # As ValidateCronWorkflow validates the Workflow it makes: a missing reference is
    # refused, and with it the whole apply.
    missing = write(tmp_path, REF.replace("TEMPLATE", "gone").replace("refcron", "other"), "m.yaml")
    refused = cli("apply", str(missing), check=False)
    assert refused.returncode == 1
    assert 'workflowtemplates.argoproj.io "gone" not found' in refused.stderr
    assert cli("cron", "list", "-o", "name").stdout == "refcron\n"
