"""CronWorkflows on the local engine, after Argo's workflow/cron/: `operator.go` (one
scheduled run of a CronWorkflow: its policies, the Workflow it submits, its status),
`controller.go` (the schedules kept while the controller is up, the sync of active runs
and history limits every `CRON_SYNC_PERIOD`) and `cron_facade.go` (robfig/cron's
entries: each schedule's next and previous time).

Schedules are read as robfig/cron's ParseStandard reads them: five fields, the
@descriptors, `@every DURATION`, a `CRON_TZ=`/`TZ=` prefix (`spec.timezone` adds
`CRON_TZ=`), the machine's time zone otherwise. Whether one parses is
`spec._cron.cron_problem` (robfig's rules and messages); the next time of a five-field
schedule comes from croniter.

`CronController` runs while its process is up (`jupyter-argo cron run`). As Argo's
controller after a restart, a run that fell due while nothing ran is started only when
it is the latest one missed and `startingDeadlineSeconds` has not passed since.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from jupyter_argo.backends._k8s.actions import (
    ANNOTATION_SCHEDULED_TIME,
    LABEL_CRON_WORKFLOW,
    workflow_from,
)
from jupyter_argo.errors import ArgoError, Location, NotFoundError, UserError
from jupyter_argo.status import duration_seconds, format_time, now

__all__ = [
    "CronController",
    "Schedule",
    "apply_cron",
    "next_runtime",
    "parse_schedule",
    "schedule_string",
    "schedules_with_timezone",
    "set_suspend",
]

ANNOTATION_LAST_USED_SCHEDULE = "cronworkflows.argoproj.io/last-used-schedule"
LABEL_COMPLETED = "cronworkflows.argoproj.io/completed"
# Labels of a CronWorkflow its Workflows carry (common.labelsToPropagate).
_PROPAGATED_LABELS = (
    "workflows.argoproj.io/creator",
    "workflows.argoproj.io/creator-email",
    "workflows.argoproj.io/creator-preferred-username",
)
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
SYNC_PERIOD = 10.0  # Argo's cronSyncPeriod (CRON_SYNC_PERIOD)
POLL_INTERVAL = 0.5  # how often the runner looks for applied, changed or deleted ones
_FULFILLED = ("Succeeded", "Failed", "Error")


# ---- schedules (robfig/cron) ---------------------------------------------------------------


def local_zone() -> tzinfo:
    """The machine's time zone, as Go's time.Local finds it: $TZ, else /etc/localtime."""
    import zoneinfo

    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            return zoneinfo.ZoneInfo(name)
        return timezone.utc
    try:
        with Path("/etc/localtime").open("rb") as data:
            return zoneinfo.ZoneInfo.from_file(data, key="Local")
    except (OSError, ValueError):
        return timezone.utc


@dataclass(frozen=True)
class Schedule:
    """One parsed schedule: a five-field expression in `zone`, or `@every` seconds."""

    text: str
    zone: tzinfo
    fields: str = ""
    every: float = 0.0

    def latest_before(self, before: datetime, *, after: datetime) -> datetime | None:
        """The last time of the run of times Next makes from `after` that comes before
        `before` (the loop of shouldOutstandingWorkflowsBeRun, without walking it)."""
        first = self.next(after)
        if first >= before:
            return None
        if self.every:
            steps = int((before - first).total_seconds() // self.every)
            found = first + timedelta(seconds=steps * self.every)
            return found - timedelta(seconds=self.every) if found >= before else found
        from croniter import croniter

        found_prev: datetime = croniter(self.fields, before.astimezone(self.zone)).get_prev(
            datetime
        )
        return found_prev if found_prev >= first else None

    def next(self, after: datetime) -> datetime:
        """The first time strictly after `after` (robfig's Schedule.Next)."""
        if self.every:
            return after.replace(microsecond=0) + timedelta(seconds=self.every)
        from croniter import croniter

        start = after.astimezone(self.zone)
        found: datetime = croniter(self.fields, start).get_next(datetime)
        return found


def parse_schedule(text: str, zone: tzinfo | None = None) -> Schedule:
    """robfig/cron's ParseStandard; `zone` is the default location (the machine's)."""
    from jupyter_argo.spec._cron import cron_problem

    problem = cron_problem(text)
    if problem:
        raise UserError(f"cron schedule {text} is malformed: {problem}")
    rest = text.strip()
    location = zone or local_zone()
    if rest.startswith(("CRON_TZ=", "TZ=")):
        import zoneinfo

        prefix, _, rest = rest.partition(" ")
        location = zoneinfo.ZoneInfo(prefix.split("=", 1)[1])
        rest = rest.strip()
    if rest.startswith("@every "):
        seconds = duration_seconds(rest[len("@every ") :].strip())
        # robfig's Every: at least a second, whole seconds.
        return Schedule(text, location, every=float(max(1, int(seconds))))
    return Schedule(text, location, fields=_DESCRIPTORS.get(rest, rest))


def schedules_with_timezone(spec: Mapping[str, Any]) -> list[str]:
    """CronWorkflowSpec.GetSchedulesWithTimezone."""
    zone = spec.get("timezone") or ""
    return [
        f"CRON_TZ={zone} {schedule}" if zone else str(schedule)
        for schedule in spec.get("schedules") or []
    ]


def schedule_string(spec: Mapping[str, Any], *, with_timezone: bool = False) -> str:
    """GetScheduleString / GetScheduleWithTimezoneString: the schedules joined by commas."""
    if with_timezone:
        return ",".join(schedules_with_timezone(spec))
    return ",".join(str(s) for s in spec.get("schedules") or [])


def next_runtime(cron: Mapping[str, Any], at: datetime) -> datetime | None:
    """The soonest next time of its schedules after `at` (the CLI's GetNextRuntime), or
    None when one does not parse."""
    soonest: datetime | None = None
    for text in schedules_with_timezone(cron.get("spec") or {}):
        try:
            upcoming = parse_schedule(text).next(at)
        except UserError:
            return None
        if soonest is None or upcoming < soonest:
            soonest = upcoming
    return soonest


# ---- the stored object -----------------------------------------------------------------------


def check_cron(manifest: Mapping[str, Any], label: str) -> None:
    """Refuse, with one located line, a CronWorkflow whose schedules, timezone,
    concurrencyPolicy or startingDeadlineSeconds Argo's ValidateCronWorkflow refuses."""
    import zoneinfo

    spec = manifest.get("spec") or {}
    if not isinstance(spec, Mapping):
        raise UserError("a CronWorkflow's spec is a mapping", Location(label, path="spec"))
    schedules = spec.get("schedules")
    if not isinstance(schedules, list) or not schedules:
        raise UserError(
            "cron workflow must have at least one schedule", Location(label, path="spec.schedules")
        )
    for i, text in enumerate(schedules):
        try:
            parse_schedule(str(text))
        except (UserError, zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
            raise UserError(str(err), Location(label, path=f"spec.schedules[{i}]")) from None
    zone = spec.get("timezone")
    if zone:
        try:
            zoneinfo.ZoneInfo(str(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise UserError(
                f"invalid timezone {json.dumps(str(zone))}", Location(label, path="spec.timezone")
            ) from None
    policy = spec.get("concurrencyPolicy") or ""
    if policy not in ("", "Allow", "Forbid", "Replace"):
        raise UserError(
            f"'{policy}' is not a valid concurrencyPolicy",
            Location(label, path="spec.concurrencyPolicy"),
        )
    deadline = spec.get("startingDeadlineSeconds")
    if isinstance(deadline, int) and deadline < 0:
        raise UserError(
            "startingDeadlineSeconds must be positive",
            Location(label, path="spec.startingDeadlineSeconds"),
        )


def apply_cron(store: Any, manifest: Mapping[str, Any], namespace: str) -> str:
    """Store a CronWorkflow as the API server keeps one: a new one gets a uid and its
    creation time; applied again, it keeps them, its status and the annotation and label
    the controller sets. Returns `created`, `configured` or `unchanged`."""
    meta = manifest.get("metadata") or {}
    name = str(meta.get("name") or "")
    if not name:
        raise UserError("CronWorkflow has no metadata.name")
    ns = str(meta.get("namespace") or namespace)
    check_cron(manifest, f"CronWorkflow {name}")
    result = "unchanged"

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        nonlocal result
        body = copy.deepcopy(dict(manifest))
        new_meta = body.setdefault("metadata", {})
        new_meta["namespace"] = ns
        if current is None:
            new_meta["uid"] = _uid()
            new_meta["creationTimestamp"] = format_time(now())
            result = "created"
            return body
        old_meta = current.get("metadata") or {}
        for key in ("uid", "creationTimestamp"):
            if old_meta.get(key):
                new_meta[key] = old_meta[key]
        kept = (old_meta.get("annotations") or {}).get(ANNOTATION_LAST_USED_SCHEDULE)
        if kept is not None:
            new_meta.setdefault("annotations", {})[ANNOTATION_LAST_USED_SCHEDULE] = kept
        done = (old_meta.get("labels") or {}).get(LABEL_COMPLETED)
        if done is not None:
            new_meta.setdefault("labels", {})[LABEL_COMPLETED] = done
        if current.get("status") is not None:
            body["status"] = current["status"]
        if json.dumps(body, sort_keys=True) == json.dumps(current, sort_keys=True):
            return None
        result = "configured"
        return body

    store.update_object("CronWorkflow", name, ns, change)
    return result


def set_suspend(store: Any, name: str, namespace: str, suspend: bool) -> dict[str, Any]:
    """`argo cron suspend/resume`: set spec.suspend, as the Argo server's patch does."""

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        if current is None:
            raise NotFoundError(f'cronworkflows.argoproj.io "{name}" not found')
        current.setdefault("spec", {})["suspend"] = suspend
        return current

    found: dict[str, Any] = store.update_object("CronWorkflow", name, namespace, change)
    return found


def _uid() -> str:
    import uuid

    return str(uuid.uuid4())


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 time as Kubernetes writes it, or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _rfc3339(moment: datetime) -> str:
    """Go's Format(time.RFC3339): the time in its own zone, `Z` for UTC."""
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def workflow_for(cron: Mapping[str, Any], scheduled: datetime) -> dict[str, Any]:
    """ConvertCronWorkflowToWorkflowWithProperties: the Workflow a scheduled run submits,
    named `<cron>-<unix time>`, with the creator labels of the CronWorkflow."""
    meta = cron.get("metadata") or {}
    name = str(meta.get("name"))
    made = workflow_from("CronWorkflow", name, cron)
    made_meta = made["metadata"]
    del made_meta["generateName"]
    made_meta["name"] = f"{name}-{int(scheduled.timestamp())}"
    cron_labels = meta.get("labels") or {}
    propagated = {k: cron_labels[k] for k in _PROPAGATED_LABELS if k in cron_labels}
    made_meta["labels"] = {**propagated, **made_meta["labels"]}
    made_meta["annotations"][ANNOTATION_SCHEDULED_TIME] = _rfc3339(scheduled)
    extra = (cron.get("spec") or {}).get("workflowMetadata") or {}
    made_meta["annotations"].update(extra.get("annotations") or {})
    return made


def children_of(cron: Mapping[str, Any], workflows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Workflows whose controlling owner is this CronWorkflow (groupWorkflows)."""
    uid = (cron.get("metadata") or {}).get("uid")
    found = []
    for workflow in workflows:
        for owner in (workflow.get("metadata") or {}).get("ownerReferences") or []:
            if owner.get("controller") and owner.get("kind") == "CronWorkflow":
                if uid and owner.get("uid") == uid:
                    found.append(workflow)
                break
    return found


# ---- one CronWorkflow (operator.go) ----------------------------------------------------------


def _phase(workflow: Mapping[str, Any]) -> str:
    return str((workflow.get("status") or {}).get("phase") or "")


def _finished_order(workflow: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = workflow.get("metadata") or {}
    finished = str((workflow.get("status") or {}).get("finishedAt") or "")
    return (finished, str(meta.get("creationTimestamp") or ""), str(meta.get("name") or ""))


def _upsert_condition(status: dict[str, Any], kind: str, message: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    conditions.append({"type": kind, "status": "True", "message": message})
    status["conditions"] = conditions


def _remove_condition(status: dict[str, Any], kind: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def _expression_env(cron: Mapping[str, Any]) -> dict[str, Any]:
    """operator.go's expressionEnv: what `when` and `stopStrategy.expression` see."""
    meta = cron.get("metadata") or {}
    status = cron.get("status") or {}
    labels = dict(meta.get("labels") or {})
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": labels,
        "annotations": labels,  # as Argo v4.0.5 sets it
        "failed": int(status.get("failed") or 0),
        "succeeded": int(status.get("succeeded") or 0),
        "annotations.json": json.dumps(meta.get("annotations") or {}),
        "labels.json": json.dumps(labels),
        "lastScheduledTime": parse_time(status.get("lastScheduledTime")),  # nil at first
    }


def _simple_value(value: Any) -> str:
    if isinstance(value, datetime):
        return _rfc3339(value)
    return value if isinstance(value, str) else json.dumps(value)


class CronOperator:
    """cronWfOperationCtx: acts on one CronWorkflow and writes back its status."""

    def __init__(self, engine: Any, cron: dict[str, Any], *, detach: bool, log: Any) -> None:
        self.engine = engine
        self.cron = cron
        self.detach = detach
        self.log: Callable[[str], None] = log
        meta = cron["metadata"]
        self.name = str(meta["name"])
        self.namespace = str(meta.get("namespace") or engine.namespace)
        self.status: dict[str, Any] = cron.setdefault("status", {})

    # --- run (operator.run) ---------------------------------------------------------------

    def run(self, scheduled: datetime) -> None:
        try:
            self._run(scheduled)
        finally:
            self.persist()

    def _run(self, scheduled: datetime) -> None:
        spec = self.cron.get("spec") or {}
        if self.using_new_schedule():
            annotations = self.cron["metadata"].setdefault("annotations", {})
            annotations[ANNOTATION_LAST_USED_SCHEDULE] = schedule_string(spec, with_timezone=True)
        if not self.validate():
            return
        try:
            completed = self.stopping_condition()
        except ArgoError as err:
            self.error(
                "SpecError",
                f"failed to check CronWorkflow '{self.name}' stopping condition: {err}",
            )
            return
        if completed:
            self.set_completed()
        try:
            proceed = self.runtime_policy()
        except ArgoError as err:
            self.error("SubmissionError", f"run policy error: {err}")
            return
        if not proceed:
            return
        workflow = workflow_for(self.cron, scheduled)
        run_name = workflow["metadata"]["name"]
        if self._exists(run_name):
            return  # a duplicate submission: not an error
        try:
            created = self.engine.submit(workflow, namespace=self.namespace, detach=self.detach)
        except ArgoError as err:
            if self._exists(run_name):
                return
            self.error("SubmissionError", f"Failed to submit Workflow: {err}")
            return
        meta = created["metadata"]
        active = list(self.status.get("active") or [])
        active.append(
            {
                "kind": "Workflow",
                "apiVersion": created.get("apiVersion") or "argoproj.io/v1alpha1",
                "name": meta["name"],
                "namespace": meta.get("namespace") or self.namespace,
                "uid": meta.get("uid"),
            }
        )
        self.status["active"] = active
        self.status["phase"] = "Active"
        self.status["lastScheduledTime"] = format_time(scheduled)
        _remove_condition(self.status, "SubmissionError")
        self.log(f"{self.name}: started {meta['name']} (scheduled {_rfc3339(scheduled)})")

    def _exists(self, name: str) -> bool:
        try:
            self.engine.store.get_workflow(name, self.namespace)
        except NotFoundError:
            return False
        return True

    def using_new_schedule(self) -> bool:
        """CronWorkflow.IsUsingNewSchedule."""
        annotations = self.cron["metadata"].get("annotations") or {}
        used = annotations.get(ANNOTATION_LAST_USED_SCHEDULE)
        return used is None or used != schedule_string(
            self.cron.get("spec") or {}, with_timezone=True
        )

    def validate(self) -> bool:
        try:
            check_cron(self.cron, f"CronWorkflow {self.name}")
        except UserError as err:
            self.error("SpecError", str(err))
            return False
        _remove_condition(self.status, "SpecError")
        return True

    def error(self, kind: str, message: str) -> None:
        """reportCronWorkflowError."""
        _upsert_condition(self.status, kind, message)
        if kind == "SubmissionError":
            self.status["failed"] = int(self.status.get("failed") or 0) + 1
        self.log(f"{self.name}: {kind}: {message}")

    def stopping_condition(self) -> bool:
        """checkStopingCondition: `spec.stopStrategy.expression`, in expr-lang."""
        strategy = (self.cron.get("spec") or {}).get("stopStrategy")
        if not strategy:
            return False
        from jupyter_argo.errors import ExpressionError
        from jupyter_argo.expr import evaluate

        result = evaluate(
            str(strategy.get("expression") or ""), {"cronworkflow": _expression_env(self.cron)}
        )
        if not isinstance(result, bool):
            raise ExpressionError(
                f"failed to evaluate stop expression: expected a bool, got {result!r}"
            )
        return result

    def set_completed(self) -> None:
        self.status["phase"] = "Stopped"
        self.cron["metadata"].setdefault("labels", {})[LABEL_COMPLETED] = "true"
        self.log(f"{self.name}: stopped (its stopStrategy expression is true)")

    def when(self) -> bool:
        """evalWhen: `{{cronworkflow.*}}` substituted, then evaluated as govaluate."""
        text = str((self.cron.get("spec") or {}).get("when") or "")
        if not text:
            return True
        from jupyter_argo.expr import evaluate_when, substitute

        env = _expression_env(self.cron)
        variables = {f"cronworkflow.{k}": _simple_value(v) for k, v in env.items() if v is not None}
        replaced = substitute(
            text, variables, expression_env={"cronworkflow": env}, json_escape=False
        )
        return evaluate_when(replaced)

    def runtime_policy(self) -> bool:
        """enforceRuntimePolicy: suspend, Stopped, `when`, then concurrencyPolicy."""
        spec = self.cron.get("spec") or {}
        if spec.get("suspend"):
            return False
        if self.status.get("phase") == "Stopped":
            return False
        if not self.when():
            return False
        policy = spec.get("concurrencyPolicy") or ""
        active = self.status.get("active") or []
        if policy in ("", "Allow"):
            return True
        if policy == "Forbid":
            if active:
                self.log(f"{self.name}: 'concurrencyPolicy: Forbid' and a run is active: skipped")
            return not active
        if policy == "Replace":
            for ref in active:
                with contextlib.suppress(NotFoundError):
                    try:
                        self.engine.terminate(ref["name"], ref.get("namespace") or self.namespace)
                        self.log(f"{self.name}: terminated {ref['name']} (Replace)")
                    except UserError as err:
                        if "already finished" not in str(err):
                            raise UserError(
                                f"error stopping workflow {ref['name']}: {err}"
                            ) from None
            return True
        raise UserError(f"invalid ConcurrencyPolicy: {policy}")

    # --- missed runs (shouldOutstandingWorkflowsBeRun) -------------------------------------

    def missed_run(self, at: datetime) -> datetime | None:
        if self.using_new_schedule():
            return None
        last = parse_time(self.status.get("lastScheduledTime"))
        if last is None:
            return None
        deadline = (self.cron.get("spec") or {}).get("startingDeadlineSeconds")
        for text in schedules_with_timezone(self.cron.get("spec") or {}):
            schedule = parse_schedule(text)
            missed = schedule.latest_before(at, after=last)
            if missed is not None and deadline is not None:
                if at < missed + timedelta(seconds=int(deadline)):
                    self.log(f"{self.name}: missed the run of {_rfc3339(missed)}: starting it")
                    return missed
                self.log(
                    f"{self.name}: missed the run of {_rfc3339(missed)}, past its "
                    f"startingDeadlineSeconds ({deadline}): skipped"
                )
            elif missed is not None:
                self.log(f"{self.name}: missed the run of {_rfc3339(missed)}: skipped")
        return None

    # --- sync (syncCronWorkflow) -----------------------------------------------------------

    def sync(self, workflows: list[dict[str, Any]]) -> None:
        children = children_of(self.cron, workflows)
        self.history_limit(children)
        self.reconcile_active(children)

    def history_limit(self, children: list[dict[str, Any]]) -> None:
        """enforceHistoryLimit: keep the newest successful (3) and failed (1) runs."""
        spec = self.cron.get("spec") or {}
        mine = [
            w for w in children
            if ((w.get("metadata") or {}).get("labels") or {}).get(LABEL_CRON_WORKFLOW) == self.name
        ]  # fmt: skip
        succeeded = [w for w in mine if _phase(w) == "Succeeded"]
        failed = [w for w in mine if _phase(w) in ("Failed", "Error")]
        for runs, key, default in (
            (succeeded, "successfulJobsHistoryLimit", 3),
            (failed, "failedJobsHistoryLimit", 1),
        ):
            limit = spec.get(key)
            keep = limit if isinstance(limit, int) and limit >= 0 else default
            if keep >= len(runs):
                continue
            # Newest first by finishedAt (whole seconds: ties go to the later created).
            runs.sort(key=_finished_order, reverse=True)
            for old in runs[keep:]:
                name = old["metadata"]["name"]
                try:
                    self.engine.delete(name, self.namespace)
                except NotFoundError:
                    continue
                except UserError as err:
                    self.log(f"{self.name}: could not delete {name}: {err}")
                    continue
                self.log(f"{self.name}: deleted {name} ({key})")

    def reconcile_active(self, children: list[dict[str, Any]]) -> None:
        """reconcileActiveWfs: runs that ended leave `active` and are counted."""
        updated = False
        phases: dict[Any, str] = {}
        active = list(self.status.get("active") or [])
        known = {ref.get("uid") for ref in active}
        for workflow in children:
            meta = workflow["metadata"]
            phase = _phase(workflow)
            phases[meta.get("uid")] = phase
            if meta.get("uid") not in known and phase not in _FULFILLED:
                updated = True
                active.append(
                    {
                        "kind": "Workflow",
                        "apiVersion": workflow.get("apiVersion") or "argoproj.io/v1alpha1",
                        "name": meta["name"],
                        "namespace": meta.get("namespace") or self.namespace,
                        "uid": meta.get("uid"),
                    }
                )
        kept = []
        for ref in active:
            ended = phases.get(ref.get("uid"))
            if ended is None or ended in _FULFILLED:
                updated = True
                if ended == "Succeeded":
                    self.status["succeeded"] = int(self.status.get("succeeded") or 0) + 1
                elif ended in ("Failed", "Error"):
                    self.status["failed"] = int(self.status.get("failed") or 0) + 1
                if ended is not None:
                    try:
                        completed = self.stopping_condition()
                    except ArgoError as err:
                        self.log(f"{self.name}: failed to check its stopping condition: {err}")
                        completed = False
                    if completed:
                        self.set_completed()
                continue
            kept.append(ref)
        if updated:
            self.status["active"] = kept
            if not kept:
                self.status.pop("active", None)
            self.persist()

    # --- writing back (persistUpdate) -------------------------------------------------------

    def persist(self) -> None:
        uid = self.cron["metadata"].get("uid")
        status = copy.deepcopy(self.status)
        labels = copy.deepcopy(self.cron["metadata"].get("labels"))
        annotations = copy.deepcopy(self.cron["metadata"].get("annotations"))

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            if current is None or (current.get("metadata") or {}).get("uid") != uid:
                return None  # deleted (or made anew) meanwhile
            current["status"] = status
            meta = current.setdefault("metadata", {})
            for key, value in (("labels", labels), ("annotations", annotations)):
                if value:
                    meta[key] = value
            return current

        stored = self.engine.store.update_object("CronWorkflow", self.name, self.namespace, change)
        if stored is not None:
            self.cron = stored
            self.status = stored.setdefault("status", {})


# ---- the schedules while this process is up (controller.go, cron_facade.go) -----------------


@dataclass
class _Entry:
    schedule: Schedule
    next: datetime
    prev: datetime | None = None


@dataclass
class _Scheduled:
    fingerprint: str
    entries: list[_Entry] = field(default_factory=list)


def _sync_period() -> float:
    configured = os.environ.get("CRON_SYNC_PERIOD")
    return duration_seconds(configured) if configured else SYNC_PERIOD


class CronController:
    """Starts the runs of the applied CronWorkflows as they fall due, while it is up.

    `tick()` does what is due at `clock()` and says when the next thing is due; `run`
    ticks until `stop` is set. `clock` can be replaced (tests move time on by hand).
    With `detach` each run gets a process of its own and outlives this one."""

    def __init__(
        self,
        engine: Any,
        *,
        namespace: str | None = None,
        clock: Callable[[], datetime] = now,
        detach: bool = True,
        log: Callable[[str], None] | None = None,
        sync_period: float | None = None,
    ) -> None:
        self.engine = engine
        self.namespace = namespace
        self.clock = clock
        self.detach = detach
        self.log: Callable[[str], None] = log or (lambda text: None)
        self.sync_period = _sync_period() if sync_period is None else sync_period
        self._scheduled: dict[tuple[str, str], _Scheduled] = {}
        self._last_sync: datetime | None = None

    def _operator(self, cron: dict[str, Any]) -> CronOperator:
        return CronOperator(self.engine, cron, detach=self.detach, log=self.log)

    def _crons(self) -> dict[tuple[str, str], dict[str, Any]]:
        found = {}
        for cron in self.engine.store.list_objects("CronWorkflow", self.namespace):
            meta = cron.get("metadata") or {}
            ns = str(meta.get("namespace") or self.engine.namespace)
            meta["namespace"] = ns
            found[(ns, str(meta.get("name")))] = cron
        return found

    def sync_all(self) -> None:
        """syncAll: history limits, then the active runs of each CronWorkflow."""
        workflows = self.engine.store.list_workflows(self.namespace)
        for (_, name), cron in self._crons().items():
            try:
                self._operator(cron).sync(workflows)
            except ArgoError as err:
                self.log(f"{name}: unable to sync: {err}")

    def tick(self) -> datetime | None:
        at = self.clock()
        if self._last_sync is None or (at - self._last_sync).total_seconds() >= self.sync_period:
            self._last_sync = at
            self.sync_all()
        crons = self._crons()
        for key in list(self._scheduled):
            if key not in crons:
                del self._scheduled[key]
                self.log(f"{key[1]}: deleted; no longer scheduled")
        soonest: datetime | None = None
        for key, cron in crons.items():
            try:
                upcoming = self._tick_one(key, cron, at)
            except ArgoError as err:  # one CronWorkflow's trouble stops no other
                self.log(f"{key[1]}: {err}")
                continue
            if upcoming is not None and (soonest is None or upcoming < soonest):
                soonest = upcoming
        return soonest

    def _tick_one(
        self, key: tuple[str, str], cron: dict[str, Any], at: datetime
    ) -> datetime | None:
        labels = cron["metadata"].get("labels") or {}
        if labels.get(LABEL_COMPLETED) == "true":
            self._scheduled.pop(key, None)
            return None
        fingerprint = json.dumps([cron["metadata"].get("uid"), cron.get("spec")], sort_keys=True)
        scheduled = self._scheduled.get(key)
        if scheduled is None or scheduled.fingerprint != fingerprint:
            scheduled = self._add(cron, at, fingerprint)
            cron = self._crons().get(key, cron)
        due = [e for e in scheduled.entries if e.next <= at]
        for entry in due:
            entry.prev = entry.next
            entry.next = entry.schedule.next(at)
        if due:
            last = max(e.prev for e in scheduled.entries if e.prev is not None)
            self._operator(cron).run(last)
        return min((e.next for e in scheduled.entries), default=None)

    def _add(self, cron: dict[str, Any], at: datetime, fingerprint: str) -> _Scheduled:
        """processNextCronItem: run the latest missed run if still in time, then keep
        an entry for each schedule."""
        key = (cron["metadata"]["namespace"], cron["metadata"]["name"])
        known = key in self._scheduled
        scheduled = self._scheduled[key] = _Scheduled(fingerprint)
        operator = self._operator(cron)
        if not operator.validate():
            operator.persist()
            return scheduled
        try:
            missed = operator.missed_run(at)
        except UserError as err:
            self.log(f"{key[1]}: could not run outstanding Workflow: {err}")
            missed = None
        if missed is not None:
            operator.run(missed)
        for text in schedules_with_timezone(cron.get("spec") or {}):
            schedule = parse_schedule(text)
            scheduled.entries.append(_Entry(schedule, schedule.next(at)))
        if not known:
            soonest = min(e.next for e in scheduled.entries)
            self.log(f"{key[1]}: scheduled ({schedule_string(cron.get('spec') or {})}); "
                     f"next run {_rfc3339(soonest)}")  # fmt: skip
        return scheduled

    def run(self, stop: threading.Event) -> None:
        """Tick until `stop` is set, looking for changes every POLL_INTERVAL."""
        while not stop.is_set():
            upcoming = self.tick()
            wait = POLL_INTERVAL
            if upcoming is not None:
                wait = min(wait, max(0.0, (upcoming - self.clock()).total_seconds()))
            stop.wait(wait)
