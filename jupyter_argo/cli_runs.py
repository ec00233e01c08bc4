"""The `jupyter-argo` subcommands that run and control workflows, named as the `argo` CLI's."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from jupyter_argo.backends import BACKENDS
from jupyter_argo.errors import UserError

__all__ = ["add_backend_flags", "backend_for", "go_booleans", "register"]

_APPLY_KINDS = ("WorkflowTemplate", "ClusterWorkflowTemplate", "ConfigMap", "Secret")


# The argo CLI's Argo Server flags (`cmd/argo/commands/client/conn.go`): (dest, flag).
_SERVER_FLAGS = (
    ("argo_server", "--argo-server"),
    ("secure", "--secure"),
    ("insecure_skip_verify", "--insecure-skip-verify"),
    ("argo_base_href", "--argo-base-href"),
    ("argo_http1", "--argo-http1"),
)
# Go's boolean flags take `--flag=false`; argparse's spelling of that is `--no-flag`.
_GO_BOOLEANS = {
    "--secure": "secure",
    "-e": "secure",
    "--insecure-skip-verify": "insecure-skip-verify",
    "-k": "insecure-skip-verify",
    "--argo-http1": "argo-http1",
}
_GO_TRUE = ("1", "t", "true")  # strconv.ParseBool, lower-cased
_GO_FALSE = ("0", "f", "false")


def go_booleans(argv: Iterable[str]) -> list[str]:
    """`argv` with the argo CLI's `--secure=false` (`-e=false`, `-k=true`, ...) spelled as
    argparse reads them: `--no-secure`, `-k`."""
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            out.append(word)
            out.extend(words)
            break
        flag, sep, value = word.partition("=")
        name = _GO_BOOLEANS.get(flag) if sep else None
        if name is not None and value.lower() in _GO_TRUE:
            out.append(f"--{name}")
        elif name is not None and value.lower() in _GO_FALSE:
            out.append(f"--no-{name}")
        else:
            out.append(word)
    return out


def backend_for(args: argparse.Namespace) -> Any:
    """The backend the command acts on: `--backend` (else argo-server when `--argo-server`
    is given, else `$JUPYTER_ARGO_BACKEND`, else local); on Kubernetes with `--context`,
    `--kubeconfig` and `--instanceid`; on an Argo Server with the argo CLI's flags, each
    defaulting to its ARGO_* variable."""
    from jupyter_argo.backends import get_backend

    name = (
        args.backend
        or ("argo-server" if args.argo_server else None)
        or os.environ.get("JUPYTER_ARGO_BACKEND")
        or "local"
    )
    if name == "argo-server":
        config = {
            "server": args.argo_server,
            "namespace": args.namespace,
            "secure": args.secure,
            "insecure_skip_verify": args.insecure_skip_verify,
            "base_href": args.argo_base_href,
            "http1": args.argo_http1,
            "instance_id": args.instanceid,
        }
        return get_backend(name, **{k: v for k, v in config.items() if v is not None})
    given = [flag for dest, flag in _SERVER_FLAGS if getattr(args, dest) is not None]
    if given:
        raise UserError(f"{given[0]} is for --backend argo-server, not {name}")
    if name != "kubernetes":
        return get_backend(name, namespace=args.namespace or "default")
    config = {"namespace": args.namespace, "instance_id": args.instanceid}
    if args.context:
        config["context"] = args.context
    if args.kubeconfig:
        config["kubeconfig"] = args.kubeconfig
    return get_backend(name, **config)


def _parameters(pairs: Iterable[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserError(f"-p {pair}: expected NAME=VALUE")
        out[name] = value
    return out


def _files(paths: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
            )
        elif path.exists():
            found.append(path)
        else:
            raise UserError(f"{raw}: no such file or directory")
    return found


# ---- apply --------------------------------------------------------------------------------


def cmd_apply(args: argparse.Namespace) -> int:
    from jupyter_argo.spec.parse import parse_file

    backend = backend_for(args)
    for file in _files(args.paths):
        for doc in parse_file(file):
            if doc.kind not in _APPLY_KINDS:
                kind = doc.body.get("kind", doc.kind) if isinstance(doc.body, dict) else doc.kind
                what = f"{kind} {doc.name}" if doc.name else str(kind)
                print(
                    f"{file}: {what} skipped (apply takes {', '.join(_APPLY_KINDS)})",
                    file=sys.stderr,
                )
                continue
            result = backend.apply(doc.body)
            print(f"{doc.kind.lower()}/{doc.name} {result}")
    return 0


# ---- submit / run ---------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from jupyter_argo.spec.parse import parse_file

    if args.source and args.file:
        raise UserError("cannot combine --from with file arguments")
    if not args.source and not args.file:
        raise UserError(f"{args.command}: give a FILE or --from kind/name")
    backend = backend_for(args)
    from jupyter_argo.spec import lint, raise_for

    if args.source:
        options = {"detach": not args.wait} if backend.name == "local" else {}
        created = backend.submit_from(
            args.source,
            parameters=_parameters(args.parameter),
            entrypoint=args.entrypoint,
            name=args.name,
            generate_name=args.generate_name,
            **options,
        )
        return _follow_created(backend, created, args)
    all_docs = parse_file(args.file)
    docs = [d for d in all_docs if d.kind == "Workflow"]
    if not docs:
        raise UserError(f"{args.file}: no Workflow in this file")
    store = getattr(backend, "template_store", None)  # without one, lint what it can
    raise_for(lint(all_docs, templates=store() if callable(store) else None))
    exit_code = 0
    for doc in docs:
        options = {"detach": not args.wait} if backend.name == "local" else {}
        created = backend.submit(
            doc.body,
            parameters=_parameters(args.parameter),
            entrypoint=args.entrypoint,
            name=args.name,
            generate_name=args.generate_name,
            **options,
        )
        code = _follow_created(backend, created, args)
        if code == 130:
            return code
        exit_code = max(exit_code, code)
    return exit_code


def _follow_created(backend: Any, created: Mapping[str, Any], args: argparse.Namespace) -> int:
    """Print a submitted workflow, or with --wait watch it to the end: 0 if it Succeeded."""
    name = created["metadata"]["name"]
    if args.wait is False:
        _print_workflow(created, args.output)
        return 0
    final = created
    if args.output not in ("json", "yaml") and hasattr(backend, "notify"):
        # A notice (e.g. no controller) on its own line, not after the progress line.
        backend.notify = lambda line: sys.stderr.write(f"\n{line}\n")
    try:
        for final in backend.watch(name):
            if args.output not in ("json", "yaml"):
                _progress(final)
    except KeyboardInterrupt:
        if backend.name != "local":
            raise  # the cluster runs it: leave it running, as `argo submit --wait` does
        # The run lives in this process: end it cleanly rather than orphan it, within a
        # second whatever it is doing, and not half-way on a second Ctrl-C.
        with _interrupts_held():
            final = backend.interrupt(name, message=_INTERRUPTED)
        print(
            f"\n{name}: interrupted, terminated ({(final.get('status') or {}).get('phase')})",
            file=sys.stderr,
        )
        return 130
    if args.output not in ("json", "yaml"):
        sys.stderr.write("\n")
    _print_workflow(final, args.output)
    return 0 if (final.get("status") or {}).get("phase") == "Succeeded" else 1


_INTERRUPTED = "interrupted by the user (Ctrl-C)"


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT ignored for the block (about a second at most): a run being ended is ended."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _progress(workflow: Mapping[str, Any]) -> None:
    status = workflow.get("status") or {}
    phase = status.get("phase") or "Pending"
    line = f"{workflow['metadata']['name']}: {phase} {status.get('progress', '')}"
    sys.stderr.write("\r" + line.ljust(60))
    sys.stderr.flush()


def _print_workflow(workflow: Mapping[str, Any], output: str | None) -> None:
    if output == "json":
        print(json.dumps(workflow, indent=2))
    elif output == "yaml":
        print(yaml.safe_dump(dict(workflow), sort_keys=False), end="")
    else:
        print(summary(workflow, wide=output == "wide"))


def summary(workflow: Mapping[str, Any], *, wide: bool = False) -> str:
    """The text `argo get` prints: header, then the node tree."""
    meta = workflow["metadata"]
    status = workflow.get("status") or {}
    lines = [
        f"Name:                {meta['name']}",
        f"Namespace:           {meta.get('namespace', 'default')}",
        f"Status:              {status.get('phase') or 'Pending'}",
    ]
    if status.get("message"):
        lines.append(f"Message:             {status['message']}")
    conditions = [c for c in status.get("conditions") or () if isinstance(c, Mapping)]
    if conditions:
        lines.append("Conditions:")
        for condition in conditions:
            kind = str(condition.get("type") or "")
            label = f"{_CONDITION_ICONS.get(kind, '')} {kind}"
            lines.append(f"{label:<20} {condition.get('message') or condition.get('status', '')}")
    for field, label in (("startedAt", "Started"), ("finishedAt", "Finished")):
        if status.get(field):
            lines.append(f"{label + ':':<21}{status[field]}")
    if status.get("progress"):
        lines.append(f"Progress:            {status['progress']}")
    outputs = status.get("outputs") or {}
    if outputs.get("parameters"):
        lines.append("Output Parameters:")
        for param in outputs["parameters"]:
            lines.append(f"  {param['name']}: {param.get('value', '')}")
    nodes = status.get("nodes") or {}
    if isinstance(nodes, Mapping) and nodes:
        lines.append("")
        header = f"{'STEP':<40} {'TEMPLATE':<24} {'PODNAME':<40} DURATION  MESSAGE"
        lines.append(header if wide else f"{'STEP':<40} {'TEMPLATE':<24} MESSAGE")
        for prefix, node in _tree(nodes):
            lines.append(_node_line(workflow, node, prefix, wide))
    return "\n".join(lines)


# As `argo get` marks them (cmd/argo/commands/common: WorkflowConditionIconMap).
_CONDITION_ICONS = {"MetricsError": "✖", "SpecWarning": "⚠"}

_SYMBOLS = {
    "Succeeded": "✔",
    "Failed": "✖",
    "Error": "⚠",
    "Running": "●",
    "Pending": "◷",
    "Skipped": "○",
    "Omitted": "○",
}


_BOUNDARIES = ("Steps", "DAG")  # templates whose nodes carry their ID as boundaryID
_GROUPS = ("StepGroup", "Retry")  # parents whose children hang under them, not the boundary
_INDEX = re.compile(r"\((\d+):.*\)$")  # an item's display name: "sleep(8:eight)"


def _order(node: Mapping[str, Any]) -> tuple[str, int, str]:
    # As `argo get`: by start time; items of a loop by their index, others by name.
    name = str(node.get("displayName") or node.get("name") or "")
    index = _INDEX.search(name)
    return (str(node.get("startedAt") or ""), int(index.group(1)) if index else -1, name)


def _tree(nodes: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The nodes as `argo get` nests them, each with the prefix drawn before it.

    A node hangs under its group parent (a step group: the steps that run side by side,
    joined by a bracket; a retry: its attempts) or else under its boundary (the steps or
    DAG template it belongs to), never under the node before it in the graph; nodes with
    neither are roots (the workflow, its exit handler). A step group is not a line of its
    own, nor a retry that made one attempt."""
    valid = {str(k): n for k, n in nodes.items() if isinstance(n, Mapping)}
    group_of: dict[str, str] = {}
    for node_id, node in valid.items():
        if node.get("type") in _GROUPS:
            for child in node.get("children") or ():
                group_of.setdefault(str(child), node_id)
    below: dict[str, list[Mapping[str, Any]]] = {}
    roots: list[Mapping[str, Any]] = []
    for node_id, node in valid.items():
        parent = group_of.get(node_id) or str(node.get("boundaryID") or "")
        if parent and parent in valid and parent != node_id:
            below.setdefault(parent, []).append(node)
        else:
            roots.append(node)
    for children in below.values():
        children.sort(key=_order)
    roots.sort(key=_order)
    lines: list[tuple[str, Mapping[str, Any]]] = []
    seen: set[str] = set()

    def hidden(node: Mapping[str, Any]) -> bool:
        kind = node.get("type")
        single_retry = kind == "Retry" and len(node.get("children") or ()) == 1
        omitted = kind == "Skipped" and node.get("phase") == "Omitted"
        return kind == "StepGroup" or single_retry or omitted

    def draw(node: Mapping[str, Any], prefix: str, inner: str) -> None:
        node_id = str(node.get("id"))
        if node_id in seen:
            return
        seen.add(node_id)
        quiet = hidden(node)
        if not quiet:
            lines.append((prefix, node))
        children = below.get(node_id, [])
        last = len(children) - 1
        for index, child in enumerate(children):
            if quiet and node.get("type") == "StepGroup":
                # Side by side: a bracket joins the group's steps.
                mark = (
                    "──" if last == 0 else "┬─" if index == 0 else "└─" if index == last else "├─"
                )
                more = "│ " if 0 <= index < last else "  "
                draw(child, (prefix if index == 0 else inner) + mark, inner + more)
            elif quiet:
                draw(child, prefix if index == 0 else inner, inner)
            else:
                mark, more = ("└─", "  ") if index == last else ("├─", "│ ")
                draw(child, inner + mark, inner + more)

    for root in roots:
        draw(root, "", "")
    return lines


def _node_line(
    workflow: Mapping[str, Any], node: Mapping[str, Any], prefix: str, wide: bool
) -> str:
    from jupyter_argo.status import node_duration, pod_name

    symbol = _SYMBOLS.get(str(node.get("phase")), "?")
    label = f"{prefix}{symbol} {node.get('displayName', node.get('name', ''))}"
    template = node.get("templateName") or (node.get("templateRef") or {}).get("template", "")
    message = node.get("message", "")
    if not wide:
        return f"{label:<40} {template:<24} {message}".rstrip()
    pod = (
        pod_name(workflow["metadata"]["name"], node["name"], template)
        if node.get("type") == "Pod"
        else ""
    )
    duration = f"{node_duration(node):.0f}s" if node.get("startedAt") else ""
    return f"{label:<40} {template:<24} {pod:<40} {duration:<9} {message}".rstrip()


# ---- reading -------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    backend = backend_for(args)
    rows = backend.list(args.namespace)
    if args.output == "json":
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'NAME':<40} {'STATUS':<10} {'AGE/FINISHED':<22} PROGRESS  MESSAGE")
    for wf in rows:
        status = wf.get("status") or {}
        print(
            f"{wf['metadata']['name']:<40} {status.get('phase') or 'Pending':<10} "
            f"{status.get('finishedAt') or status.get('startedAt', ''):<22} "
            f"{status.get('progress', ''):<9} {status.get('message', '')}".rstrip()
        )
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    workflow = backend_for(args).get(args.name)
    _print_workflow(workflow, args.output)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from jupyter_argo.status import duration_seconds

    since = duration_seconds(args.since) if args.since else None
    found = backend_for(args).logs(
        args.name,
        node=args.node,
        follow=args.follow,
        container=args.container,
        timestamps=args.timestamps,
        since_seconds=since,
        tail=args.tail if args.tail is not None and args.tail >= 0 else None,
        grep=args.grep,
    )
    for pod, line in found:
        print(f"{pod}: {line}", flush=args.follow)
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    final = backend_for(args).wait(args.name)
    phase = (final.get("status") or {}).get("phase")
    print(f"{args.name} {phase}")
    return 0 if phase == "Succeeded" else 1


_DONE = {  # as `argo stop` and the others print it
    "stop": "stopped",
    "terminate": "terminated",
    "suspend": "suspended",
    "resume": "resumed",
    "retry": "retried",
    "resubmit": "resubmitted",
}


def _action(verb: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        backend = backend_for(args)
        options: dict[str, Any] = {}
        if verb in ("retry", "resubmit") and args.parameter:
            options["parameters"] = _parameters(args.parameter)
        if verb == "retry":
            options["restart_successful"] = args.restart_successful
            options["node_field_selector"] = args.node_field_selector or None
        if verb == "resubmit" and args.memoized:
            options["memoized"] = True
        if verb in ("retry", "resubmit") and backend.name == "local":
            options["detach"] = True  # the run must outlive this command
        if verb == "stop":
            options = {"node_field_selector": args.node_field_selector, "message": args.message}
            options = {k: v for k, v in options.items() if v}
        result = getattr(backend, verb)(args.name, **options)
        name = result["metadata"]["name"] if isinstance(result, dict) else args.name
        print(f"workflow {name} {_DONE[verb]}")
        return 0

    return run


def cmd_node(args: argparse.Namespace) -> int:
    """`argo node set WORKFLOW --node-field-selector ... [--phase] [--message] [-p k=v]`."""
    if args.action != "set":
        raise UserError(f"unknown action '{args.action}'")
    outputs = {}
    for pair in args.output_parameter:
        name, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"expected parameter of the form: NAME=VALUE. Received: {pair}")
        outputs[name] = _unquote(value)
    backend_for(args).set_node(
        args.name,
        node_field_selector=args.node_field_selector,
        phase=args.phase or None,
        message=args.message or None,
        output_parameters=outputs or None,
    )
    print("workflow values set")
    return 0


def _unquote(value: str) -> str:
    """Go's `strconv.Unquote` where it applies (a double-quoted string), as `argo node
    set` does; anything else as it is."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            unquoted = json.loads(value)
        except ValueError:
            return value
        return unquoted if isinstance(unquoted, str) else value
    return value


def cmd_delete(args: argparse.Namespace) -> int:
    backend = backend_for(args)
    for name in args.names:
        backend.delete(name, force=args.force)
        print(f'Workflow "{name}" deleted')
    return 0


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    """`-n`, `--backend` and each backend's settings (the argo CLI's own for an Argo
    Server), shared by every subcommand that talks to a backend."""
    parser.add_argument("-n", "--namespace", default=None)
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="where workflows run (default: argo-server with --argo-server, else "
        "$JUPYTER_ARGO_BACKEND, else local)",
    )
    parser.add_argument("--context", help="kubernetes: the kubeconfig context")
    parser.add_argument("--kubeconfig", help="kubernetes: the kubeconfig file")
    parser.add_argument(
        "--instanceid",
        default=os.environ.get("ARGO_INSTANCEID") or None,
        help="kubernetes: the controller's instance ID, put on submitted workflows as "
        "the workflows.argoproj.io/controller-instanceid label (default: $ARGO_INSTANCEID; "
        "an Argo Server puts its own)",
    )
    server = parser.add_argument_group(
        "argo-server",
        "as the argo CLI's; the token is $ARGO_TOKEN (or the file $ARGO_TOKEN_FILE)",
    )
    server.add_argument(
        "-s",
        "--argo-server",
        metavar="HOST:PORT",
        help="the Argo Server (default: $ARGO_SERVER); implies --backend argo-server",
    )
    server.add_argument(
        "-e",
        "--secure",
        action=argparse.BooleanOptionalAction,
        help='https (default: $ARGO_SECURE, true unless "false"; an http:// or '
        "https:// server wins)",
    )
    server.add_argument(
        "-k",
        "--insecure-skip-verify",
        action=argparse.BooleanOptionalAction,
        help="do not check the server's certificate (default: $ARGO_INSECURE_SKIP_VERIFY)",
    )
    server.add_argument(
        "--argo-base-href",
        metavar="PATH",
        help="the server's path prefix (default: $ARGO_BASE_HREF)",
    )
    server.add_argument(
        "--argo-http1",
        action=argparse.BooleanOptionalAction,
        help="streams (watch, logs) as text/event-stream, as the argo CLI's HTTP/1 "
        "client asks for them (default: $ARGO_HTTP1); HTTP/1.1 either way",
    )


def register(commands: Any) -> None:
    """Adds the run and control subcommands to the `jupyter-argo` parser."""

    def add(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
        add_backend_flags(parser)
        parser.set_defaults(func=func)
        return parser

    apply = add(
        "apply", "store WorkflowTemplates, ClusterWorkflowTemplates, ConfigMaps, Secrets", cmd_apply
    )
    apply.add_argument("paths", nargs="+", metavar="PATH")

    for verb, waits in (("run", True), ("submit", False)):
        run = add(
            verb,
            "submit a Workflow and wait for it (like `argo submit --wait`)"
            if waits
            else "submit a Workflow",
            cmd_run,
        )
        run.add_argument("file", metavar="FILE", nargs="?")
        run.add_argument(
            "--from",
            dest="source",
            metavar="KIND/NAME",
            help="submit from workflowtemplate/NAME, clusterworkflowtemplate/NAME or cronwf/NAME",
        )
        run.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE")
        run.add_argument("--entrypoint")
        names = run.add_mutually_exclusive_group()
        names.add_argument("--name")
        names.add_argument("--generate-name")
        run.add_argument("-o", "--output", choices=("json", "yaml", "wide", "name"))
        run.add_argument("--no-wait", dest="wait", action="store_false", default=waits)
        run.add_argument("--wait", dest="wait", action="store_true")

    listing = add("list", "list workflows", cmd_list)
    listing.add_argument("-o", "--output", choices=("json", "wide"))

    get = add("get", "show a workflow", cmd_get)
    get.add_argument("name")
    get.add_argument("-o", "--output", choices=("json", "yaml", "wide"))

    logs = add("logs", "print a workflow's logs", cmd_logs)
    logs.add_argument("name")
    logs.add_argument("node", nargs="?")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-c", "--container", default="main", help="main (default), init, wait, ...")
    logs.add_argument("--timestamps", action="store_true", help="show each line's time")
    logs.add_argument("--since", metavar="DURATION", help="only lines newer than this (5s, 2m)")
    logs.add_argument("--tail", type=int, metavar="N", help="the last N lines of each container")
    logs.add_argument("--grep", metavar="REGEX", help="only lines matching this")

    waiter = add("wait", "wait for a workflow to finish", cmd_wait)
    waiter.add_argument("name")

    for verb in ("stop", "terminate", "suspend", "resume", "retry", "resubmit"):
        parser = add(verb, f"{verb} a workflow", _action(verb))
        parser.add_argument("name")
        if verb in ("retry", "resubmit"):
            parser.add_argument(
                "-p", "--parameter", action="append", default=[], metavar="NAME=VALUE"
            )
        if verb == "retry":
            parser.add_argument(
                "--restart-successful",
                action="store_true",
                help="also restart the succeeded nodes matching --node-field-selector",
            )
        if verb in ("retry", "stop"):
            parser.add_argument("--node-field-selector", metavar="SELECTOR")
        if verb == "stop":
            parser.add_argument("--message", help="the message of the stopped suspend nodes")
        if verb == "resubmit":
            parser.add_argument(
                "--memoized", action="store_true", help="re-use the succeeded steps and outputs"
            )

    node = add("node", "set the phase, message or outputs of suspend nodes", cmd_node)
    node.add_argument("action", choices=("set",))
    node.add_argument("name")
    node.add_argument("--node-field-selector", default="", metavar="SELECTOR")
    node.add_argument("--phase", help="Succeeded, Failed or Error")
    node.add_argument("-m", "--message")
    node.add_argument("-p", "--output-parameter", action="append", default=[], metavar="NAME=VALUE")

    delete = add("delete", "delete workflows (and their artifacts as artifactGC says)", cmd_delete)
    delete.add_argument("names", nargs="+", metavar="NAME")
    delete.add_argument("--force", action="store_true")
