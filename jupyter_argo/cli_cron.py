"""`jupyter-argo cron`: CronWorkflows as `argo cron` shows and changes them
(cmd/argo/commands/cron), kept by the local store, an Argo Server or a cluster; and
`cron run`, the local backend's scheduler, which starts their runs while it is up
(jupyter_argo.engine.cron)."""

from __future__ import annotations

import argparse
import datetime
import json
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import Any

import yaml

from jupyter_argo.cli_runs import add_backend_flags, backend_for
from jupyter_argo.errors import NotFoundError, UserError

__all__ = ["register"]

_DIVISIONS = (  # go-humanize's defaultMagnitudes: (below seconds, format, divisor)
    (1, "now", 1),
    (2, "1 second {s}", 1),
    (60, "{d} seconds {s}", 1),
    (120, "1 minute {s}", 1),
    (3600, "{d} minutes {s}", 60),
    (7200, "1 hour {s}", 1),
    (86400, "{d} hours {s}", 3600),
    (172800, "1 day {s}", 1),
    (604800, "{d} days {s}", 86400),
    (1209600, "1 week {s}", 1),
    (2592000, "{d} weeks {s}", 604800),
    (5184000, "1 month {s}", 1),
    (31104000, "{d} months {s}", 2592000),
    (46656000, "1 year {s}", 1),
    (62208000, "2 years {s}", 1),
    (1150848000, "{d} years {s}", 31104000),
)


def _local(backend: Any) -> Any:
    """The local backend, or one line saying `cron run` is for it only."""
    if backend.name != "local":
        raise UserError(
            f"cron run: the {backend.name} backend has Argo's own controller to schedule "
            "CronWorkflows; `cron run` schedules those of the local backend"
        )
    return backend


class _Crons:
    """The CronWorkflows of a backend: its store (local), the Argo Server's
    CronWorkflowService, or the cluster's cronworkflows resource."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def list(self, namespace: str | None) -> list[dict[str, Any]]:
        name = self.backend.name
        if name == "local":
            found: list[dict[str, Any]] = self.backend.store.list_objects("CronWorkflow", namespace)
            return found
        if name == "argo-server":
            answer = self.backend._request("GET", f"/api/v1/cron-workflows/{namespace or ''}")
        else:
            answer = self.backend.cluster.request("list", _kind(), namespace or None)
        return sorted(answer.get("items") or [], key=lambda c: c["metadata"]["name"])

    def get(self, name: str, namespace: str) -> dict[str, Any]:
        kind = self.backend.name
        if kind == "local":
            found: dict[str, Any] | None = self.backend.store.get_object(
                "CronWorkflow", name, namespace
            )
            if found is None:
                raise NotFoundError(f'cronworkflows.argoproj.io "{name}" not found')
            return found
        if kind == "argo-server":
            got: dict[str, Any] = self.backend._request(
                "GET", f"/api/v1/cron-workflows/{namespace}/{name}"
            )
            return got
        got = self.backend.cluster.request("get", _kind(), namespace, name)
        return got

    def suspend(self, name: str, namespace: str, suspend: bool) -> None:
        kind = self.backend.name
        if kind == "local":
            from jupyter_argo.engine.cron import set_suspend

            set_suspend(self.backend.store, name, namespace, suspend)
        elif kind == "argo-server":
            verb = "suspend" if suspend else "resume"
            body = {"name": name, "namespace": namespace}
            self.backend._request(
                "PUT", f"/api/v1/cron-workflows/{namespace}/{name}/{verb}", body=body
            )
        else:
            patch = {"spec": {"suspend": suspend}}
            self.backend.cluster.request("patch", _kind(), namespace, name, body=patch)

    def delete(self, name: str, namespace: str) -> None:
        kind = self.backend.name
        if kind == "local":
            if not self.backend.store.delete_object("CronWorkflow", name, namespace):
                raise NotFoundError(f'cronworkflows.argoproj.io "{name}" not found')
        elif kind == "argo-server":
            self.backend._request("DELETE", f"/api/v1/cron-workflows/{namespace}/{name}")
        else:
            self.backend.cluster.request("delete", _kind(), namespace, name)


def _kind() -> Any:
    from jupyter_argo.backends._k8s.cluster import KINDS

    return KINDS["CronWorkflow"]


def _moment(text: Any) -> datetime.datetime | None:
    from jupyter_argo.engine.cron import parse_time

    return parse_time(text)


def _relative(then: datetime.datetime, now: datetime.datetime) -> str:
    """go-humanize's Time: `5 minutes ago`, `3 hours from now`."""
    label = "ago" if then <= now else "from now"
    seconds = abs((now - then).total_seconds())
    for below, text, divisor in _DIVISIONS:
        if seconds < below:
            return text.format(d=int(seconds // divisor), s=label)
    return f"a long while {label}"


def _timestamp(moment: datetime.datetime, now: datetime.datetime) -> str:
    """Argo's humanize.Timestamp, in the machine's time zone as the argo CLI shows it."""
    local = moment.astimezone()
    offset = local.strftime("%z")
    return f"{local.strftime('%a %b %d %H:%M:%S')} {offset} ({_relative(moment, now)})"


def _crons(args: argparse.Namespace) -> tuple[_Crons, str]:
    backend = backend_for(args)
    return _Crons(backend), args.namespace or backend.namespace


# ---- list and get -------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from jupyter_argo.cli_runs import _selected, _selector

    backend, namespace = _crons(args)
    crons = backend.list(None if args.all_namespaces else namespace)
    if args.selector:
        wanted = _selector(args.selector)
        crons = [
            c for c in crons if _selected((c.get("metadata") or {}).get("labels") or {}, wanted)
        ]
    if args.output == "name":
        for cron in crons:
            print(cron["metadata"]["name"])
        return 0
    print(table(crons, all_namespaces=args.all_namespaces), end="")
    return 0


def table(crons: list[dict[str, Any]], *, all_namespaces: bool = False) -> str:
    """`argo cron list`'s table (printTable) through Go's tabwriter: padding 3, the
    last cell unpadded."""
    from jupyter_argo.cli_runs import _short_duration
    from jupyter_argo.engine.cron import next_runtime, schedule_string

    now = datetime.datetime.now(datetime.timezone.utc)
    rows = [["NAME", "AGE", "LAST RUN", "NEXT RUN", "SCHEDULES", "TIMEZONE", "SUSPENDED"]]
    if all_namespaces:
        rows[0].insert(0, "NAMESPACE")
    for cron in crons:
        meta = cron.get("metadata") or {}
        spec = cron.get("spec") or {}
        last = _moment((cron.get("status") or {}).get("lastScheduledTime"))
        upcoming = next_runtime(cron, now)
        row = [
            str(meta.get("name", "")),
            _short_duration(_moment(meta.get("creationTimestamp")), now, now),
            "N/A" if last is None else _short_duration(last, now, now),
            "N/A" if upcoming is None else _short_duration(upcoming, now, now),
            schedule_string(spec),
            str(spec.get("timezone") or ""),
            "true" if spec.get("suspend") else "false",
        ]
        if all_namespaces:
            row.insert(0, str(meta.get("namespace") or ""))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) + 3 for i in range(len(rows[0]) - 1)]
    return "".join(
        "".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + row[-1] + "\n"
        for row in rows
    )


def cron_names(backend: Any, namespace: str) -> list[str]:
    """The names of the CronWorkflows in `namespace` (for `%argo cron` completion)."""
    return [str(c["metadata"]["name"]) for c in _Crons(backend).list(namespace)]


def line_verb(backend: Any, namespace: str, verb: str, names: list[str]) -> str:
    """`%argo cron VERB [NAME...]`: what the `cron` command prints for list, get,
    suspend, resume and delete."""
    crons = _Crons(backend)
    if verb == "list":
        return table(crons.list(namespace))
    if verb not in ("get", "suspend", "resume", "delete"):
        raise UserError(f"%argo cron {verb}: use list, get, suspend, resume or delete")
    if not names:
        raise UserError(f"%argo cron {verb}: give a CronWorkflow name")
    out = []
    for name in names:
        if verb == "get":
            out.append(describe(crons.get(name, namespace)))
        elif verb == "delete":
            crons.delete(name, namespace)
            out.append(f"CronWorkflow '{name}' deleted\n")
        else:
            crons.suspend(name, namespace, verb == "suspend")
            out.append(f"CronWorkflow '{name}' {verb}{'ed' if verb == 'suspend' else 'd'}\n")
    return "".join(out)


def describe(cron: Mapping[str, Any], now: datetime.datetime | None = None) -> str:
    """`argo cron get`'s text (getCronWorkflowGet): one `%-30s %v` line per field."""
    from jupyter_argo.engine.cron import next_runtime, schedule_string

    now = now or datetime.datetime.now(datetime.timezone.utc)
    meta = cron.get("metadata") or {}
    spec = cron.get("spec") or {}
    status = cron.get("status") or {}
    lines: list[tuple[str, Any]] = [
        ("Name:", meta.get("name", "")),
        ("Namespace:", meta.get("namespace", "")),
    ]
    created = _moment(meta.get("creationTimestamp"))
    lines.append(("Created:", _timestamp(created, now) if created else ""))
    lines.append(("Schedules:", schedule_string(spec)))
    lines.append(("Suspended:", "true" if spec.get("suspend") else "false"))
    if spec.get("timezone"):
        lines.append(("Timezone:", spec["timezone"]))
    if spec.get("startingDeadlineSeconds") is not None:
        lines.append(("StartingDeadlineSeconds:", spec["startingDeadlineSeconds"]))
    if spec.get("concurrencyPolicy"):
        lines.append(("ConcurrencyPolicy:", spec["concurrencyPolicy"]))
    last = _moment(status.get("lastScheduledTime"))
    if last is not None:
        lines.append(("LastScheduledTime:", _timestamp(last, now)))
    upcoming = next_runtime(cron, now)
    if upcoming is not None:
        text = _timestamp(upcoming, now) + " (assumes workflow-controller is in UTC)"
        lines.append(("NextScheduledTime:", text))
    active = [str(ref.get("name")) for ref in status.get("active") or []]
    if active:
        lines.append(("Active Workflows:", ", ".join(active)))
    out = [f"{label:<30} {value}" for label, value in lines]
    conditions = status.get("conditions") or []
    if conditions:  # Conditions.DisplayString, SubmissionError marked ✖
        out.append(f"{'Conditions:':<30} ")
        for condition in conditions:
            kind = str(condition.get("type") or "")
            prefix = f"{'✖' if kind == 'SubmissionError' else ''} {kind}"
            text = condition.get("message") or condition.get("status") or ""
            out.append(f"{prefix:<30} {text}")
    parameters = ((spec.get("workflowSpec") or {}).get("arguments") or {}).get("parameters")
    if parameters:
        out.append(f"{'Workflow Parameters:':<30} ")
        for parameter in parameters:  # Parameter.HasValue, GetValue
            if all(parameter.get(k) is None for k in ("value", "default", "valueFrom")):
                continue
            value = parameter.get("value")
            value = parameter.get("default") if value is None else value
            name = f"  {parameter.get('name')}:"
            out.append(f"{name:<30} {'' if value is None else value}")
    return "".join(line + "\n" for line in out)


def _print(cron: Mapping[str, Any], output: str | None) -> None:
    if output == "name":
        print(cron["metadata"]["name"])
    elif output == "json":
        print(json.dumps(cron, indent=4))
    elif output == "yaml":
        print(yaml.safe_dump(dict(cron), sort_keys=False), end="")
    else:
        print(describe(cron), end="")


def cmd_get(args: argparse.Namespace) -> int:
    backend, namespace = _crons(args)
    for name in args.names:
        _print(backend.get(name, namespace), args.output)
    return 0


# ---- create, suspend, resume, delete ------------------------------------------------------------


def cmd_create(args: argparse.Namespace) -> int:
    """`argo cron create FILE...`: check them all, then store them and show each."""
    from jupyter_argo.cli_runs import check_and_apply

    crons, namespace = _crons(args)
    applied = check_and_apply(crons.backend, args.paths, kinds=("CronWorkflow",))
    if not applied:
        raise UserError("No CronWorkflows found in given files")
    for _, name, _ in applied:
        _print(crons.get(name, namespace), args.output)
    return 0


def _suspend(suspend: bool) -> Any:
    def run(args: argparse.Namespace) -> int:
        crons, namespace = _crons(args)
        for name in args.names:
            crons.suspend(name, namespace, suspend)
            print(f"CronWorkflow '{name}' {'suspended' if suspend else 'resumed'}")
        return 0

    return run


def cmd_delete(args: argparse.Namespace) -> int:
    crons, namespace = _crons(args)
    names = list(args.names)
    if args.all:
        names += [c["metadata"]["name"] for c in crons.list(namespace)]
    elif not names:
        raise UserError("cron delete: give CRON_WORKFLOW names, or --all")
    for name in names:
        crons.delete(name, namespace)
    return 0


# ---- run: the scheduler -------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Start the runs of the applied CronWorkflows on schedule until Ctrl-C (or SIGTERM)."""
    from jupyter_argo.engine.cron import CronController

    backend = _local(backend_for(args))
    namespace = None if args.all_namespaces else (args.namespace or backend.namespace)

    def log(text: str) -> None:
        stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
        print(f"{stamp} {text}", flush=True)

    controller = CronController(backend, namespace=namespace, log=log)
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, stopping)
    where = "all namespaces" if namespace is None else f"namespace {namespace}"
    log(f"scheduling the CronWorkflows of {where} (Ctrl-C stops)")
    try:
        controller.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    log("stopped; the runs it started go on")
    sys.stdout.flush()
    return 0


def register(commands: Any, wanted: Any = lambda name: True) -> None:
    """Adds `cron` and its verbs to the `jupyter-argo` parser."""
    if not wanted("cron"):
        return
    cron = commands.add_parser(
        "cron",
        help="CronWorkflows: list, get, create, suspend, resume, delete, and run the scheduler",
        description="CronWorkflows, as `argo cron` shows and changes them, on any backend. "
        "Apply them with `jupyter-argo apply` (or `cron create`); on the local backend "
        "`cron run` starts their runs on schedule while it runs.",
    )
    verbs = cron.add_subparsers(dest="verb", required=True, metavar="VERB")

    def add(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = verbs.add_parser(name, help=help_text)
        add_backend_flags(parser)
        parser.set_defaults(func=func)
        return parser

    listing = add("list", "list cron workflows", cmd_list)
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    listing.add_argument("-o", "--output", choices=("wide", "name"))
    listing.add_argument("-l", "--selector", metavar="SELECTOR", help="only these labels")
    get = add("get", "show cron workflows", cmd_get)
    get.add_argument("names", nargs="+", metavar="CRON_WORKFLOW")
    get.add_argument("-o", "--output", choices=("name", "json", "yaml", "wide"))
    create = add("create", "store cron workflows from files and show them", cmd_create)
    create.add_argument("paths", nargs="+", metavar="FILE")
    create.add_argument("-o", "--output", choices=("name", "json", "yaml", "wide"))
    for verb, flag in (("suspend", True), ("resume", False)):
        parser = add(verb, f"{verb} cron workflows", _suspend(flag))
        parser.add_argument("names", nargs="+", metavar="CRON_WORKFLOW")
    delete = add("delete", "delete cron workflows", cmd_delete)
    delete.add_argument("names", nargs="*", metavar="CRON_WORKFLOW")
    delete.add_argument("--all", action="store_true", help="delete all cron workflows")
    run = add(
        "run",
        "start the runs of the CronWorkflows on schedule while this runs (Ctrl-C stops)",
        cmd_run,
    )
    run.add_argument("-A", "--all-namespaces", action="store_true")
