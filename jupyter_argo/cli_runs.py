"""The `jupyter-argo` subcommands that run and control workflows, named as the `argo` CLI's."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from jupyter_argo._collector import collect_from_here, collector_off
from jupyter_argo.backends import BACKENDS
from jupyter_argo.errors import UserError

__all__ = [
    "add_backend_flags",
    "backend_for",
    "closed_pipe",
    "go_booleans",
    "parameter_file",
    "register",
    "resolve_name",
]

_APPLY_KINDS = (
    "WorkflowTemplate",
    "ClusterWorkflowTemplate",
    "CronWorkflow",
    "ConfigMap",
    "Secret",
)


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
# The argo CLI's plain boolean flags: `--flag=true` is `--flag`, `--flag=false` its absence
# (or, where the default is true, its --no- form).
_GO_SWITCHES = {
    "--dry-run": None,
    "--server-dry-run": None,
    "--watch": None,
    "--log": None,
    "--wait": "--no-wait",
    "-w": "--no-wait",
    "--running": None,
    "--completed": None,
    "--resubmitted": None,
    "--no-headers": None,
    "--follow": None,
    "--timestamps": None,
    "--restart-successful": None,
    "--memoized": None,
    "--force": None,
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
        if sep and flag in _GO_SWITCHES and value.lower() in (*_GO_TRUE, *_GO_FALSE):
            off = _GO_SWITCHES[flag]
            if value.lower() in _GO_TRUE:
                out.append(flag)
            elif off is not None:
                out.append(off)
        elif name is not None and value.lower() in _GO_TRUE:
            out.append(f"--{name}")
        elif name is not None and value.lower() in _GO_FALSE:
            out.append(f"--no-{name}")
        else:
            out.append(word)
    return out


def closed_pipe(err: BrokenPipeError) -> int:
    """What the command does when what reads its output has gone (`jupyter-argo list |
    head -1`): stop without a word, as a Go program (`argo`) does, by Python's docs'
    recipe: stdout pointed at /dev/null, so the flush at exit cannot fail again. The exit
    code is the shell's for a death by SIGPIPE (141), as `argo`'s. A broken pipe that is
    not stdout's (a connection) is an error like any other."""
    try:
        stdout = sys.stdout.fileno()
        broken = _reader_gone(stdout)
    except (AttributeError, OSError, ValueError):
        broken = False
    if not broken:
        print(f"jupyter-argo: {err}", file=sys.stderr)
        return 1
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stdout)
    os.close(devnull)
    return 128 + signal.SIGPIPE


def _reader_gone(fd: int) -> bool:
    """True when `fd` is a pipe whose reading end is closed (poll reports an error)."""
    import select
    import stat

    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


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
    for kind, name, result in check_and_apply(backend_for(args), args.paths):
        print(f"{kind.lower()}/{name} {result}")
    return 0


def check_and_apply(
    backend: Any, paths: Iterable[str], kinds: tuple[str, ...] = _APPLY_KINDS
) -> list[tuple[str, str, str]]:
    """Read every file, check its CronWorkflows (their schedules above all) as Argo's
    server does before storing one, then apply what `kinds` takes: a manifest refused
    leaves nothing half-written. Returns (kind, name, result) for each applied."""
    from jupyter_argo.spec import lint, raise_for
    from jupyter_argo.spec.parse import parse_file

    documents = []
    for file in _files(paths):
        for doc in parse_file(file):
            if doc.kind in kinds:
                documents.append(doc)
                continue
            kind = doc.body.get("kind", doc.kind) if isinstance(doc.body, dict) else doc.kind
            what = f"{kind} {doc.name}" if doc.name else str(kind)
            print(f"{file}: {what} skipped (apply takes {', '.join(kinds)})", file=sys.stderr)
    crons = [d for d in documents if d.kind == "CronWorkflow"]
    if crons:  # the CronWorkflows only; their references may be in the other files
        store = getattr(backend, "template_store", None)
        applied = _AppliedTemplates(documents, store() if callable(store) else None)
        raise_for(lint(crons, templates=applied))
    return [(doc.kind, str(doc.name), backend.apply(doc.body)) for doc in documents]


class _AppliedTemplates:
    """The (Cluster)WorkflowTemplates about to be applied, then the backend's."""

    def __init__(self, documents: list[Any], store: Any) -> None:
        self._store = store
        self._here = {
            (d.kind, str(d.name)): d.body
            for d in documents
            if d.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate")
        }

    @property
    def available(self) -> bool:
        return bool(self._here) or bool(self._store is not None and self._store.available)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        found = self._here.get((kind, name))
        if found is None and self._store is not None:
            found = self._store.get(kind, name)
        return found


# ---- submit / run ---------------------------------------------------------------------------


@collector_off(freeze=True)
def cmd_run(args: argparse.Namespace) -> int:
    if args.source and args.file:
        raise UserError("cannot combine --from with file arguments")
    if not args.source and not args.file:
        raise UserError(f"{args.command}: give a FILE or --from kind/name")
    if args.command == "run" and (args.watch or args.dry_run or args.server_dry_run):
        args.wait = False  # `run` is `submit --wait`: these take its place
    parameters = _submit_parameters(args)
    labels = _labels(args.labels) if args.labels else {}
    backend = backend_for(args)
    from jupyter_argo.spec import lint, raise_for

    if args.source:
        _check_submit_options(args, 1)
        if args.dry_run or (args.server_dry_run and backend.name == "local"):
            made = [_labelled(_from_resource(backend, args), labels, args)]
            return _dry_run(made, parameters, backend, args)
        given = [
            flag
            for flag, value in (
                ("-l/--labels", labels),
                ("--serviceaccount", args.serviceaccount),
                ("--priority", args.priority),
            )
            if value is not None and value != {}
        ]
        if given:
            raise UserError(f"{given[0]}: not with --from here, but with --dry-run")
        from_options: dict[str, Any] = {"detach": not args.wait} if backend.name == "local" else {}
        if args.server_dry_run:
            from_options = {"server_dry_run": True}
        created = backend.submit_from(
            args.source,
            parameters=parameters,
            entrypoint=args.entrypoint,
            name=args.name,
            generate_name=args.generate_name,
            **from_options,
        )
        if args.server_dry_run:
            _print_workflow(created, args.output)
            return 0
        return _follow_created(backend, created, args)
    all_docs = [doc for file in args.file for doc in _read_manifests(file)]
    docs = [d for d in all_docs if d.kind == "Workflow"]
    if not docs:
        raise UserError(f"{', '.join(args.file)}: no Workflow in the given files")
    _check_submit_options(args, len(docs))
    store = getattr(backend, "template_store", None)  # without one, lint what it can
    raise_for(lint(all_docs, templates=store() if callable(store) else None))
    if args.dry_run or (args.server_dry_run and backend.name == "local"):
        made = [_labelled(d.body, labels, args) for d in docs]
        return _dry_run(made, parameters, backend, args)
    exit_code = 0
    for doc in docs:
        options: dict[str, Any] = {"detach": not args.wait} if backend.name == "local" else {}
        if args.server_dry_run:
            options = {"server_dry_run": True}
        created = backend.submit(
            _labelled(doc.body, labels, args),
            parameters=parameters,
            entrypoint=args.entrypoint,
            name=args.name,
            generate_name=args.generate_name,
            **options,
        )
        if args.server_dry_run:
            _print_workflow(created, args.output)
            continue
        code = _follow_created(backend, created, args)
        if code in (130, 141):  # interrupted, or no one reads on
            return code
        exit_code = max(exit_code, code)
    return exit_code


def _labels(text: str) -> dict[str, str]:
    """`argo submit -l a=b,c=d` (cmdutil.ParseLabels), with its messages."""
    out: dict[str, str] = {}
    for spec in text.split(","):
        parts = spec.split("=")
        problem = ""
        if len(parts) != 2:
            problem = f"unexpected label spec: {spec}"
        elif not parts[0]:
            problem = "unexpected empty label key"
        if problem:
            raise UserError(
                "expected labels of the form: NAME1=VALUE2,NAME2=VALUE2. "
                f"Received: {text}: {problem}"
            )
        out[parts[0]] = parts[1]
    return out


def _labelled(
    manifest: Mapping[str, Any], labels: Mapping[str, str], args: argparse.Namespace
) -> Mapping[str, Any]:
    """The manifest with what ApplySubmitOpts sets: `labels` over its own, and the
    --serviceaccount and --priority given; as it is when none is."""
    if not labels and args.serviceaccount is None and args.priority is None:
        return manifest
    out = dict(manifest)
    if labels:
        meta = dict(out.get("metadata") or {})
        meta["labels"] = {**(meta.get("labels") or {}), **labels}
        out["metadata"] = meta
    spec = dict(out.get("spec") or {})
    if args.serviceaccount:
        spec["serviceAccountName"] = args.serviceaccount
    if args.priority is not None:
        spec["priority"] = args.priority
    out["spec"] = spec
    return out


def _read_manifests(file: str) -> list[Any]:
    """The documents of FILE, or of standard input for `-` (`cat wf.yaml | argo submit -`)."""
    from jupyter_argo.spec.parse import MAX_BYTES, parse_file, parse_text

    if file != "-":
        return parse_file(file)
    return parse_text(sys.stdin.buffer.read(MAX_BYTES + 1), "<stdin>")


def _check_submit_options(args: argparse.Namespace, workflows: int) -> None:
    """The combinations `argo submit` refuses (`validateOptions`), with its messages."""
    dry = args.dry_run
    server_dry = args.server_dry_run
    if args.watch:
        if workflows > 1:
            raise UserError("cannot watch more than one workflow")
        if args.wait:
            raise UserError("--wait cannot be combined with --watch")
        if dry:
            raise UserError("--watch cannot be combined with --dry-run")
        if server_dry:
            raise UserError("--watch cannot be combined with --server-dry-run")
    if args.wait and dry:
        raise UserError("--wait cannot be combined with --dry-run")
    if args.wait and server_dry:
        raise UserError("--wait cannot be combined with --server-dry-run")
    if dry and not args.output:
        raise UserError("--dry-run should have an output option")
    if dry and server_dry:
        raise UserError("--dry-run cannot be combined with --server-dry-run")
    if server_dry and not args.output:
        raise UserError("--server-dry-run should have an output option")


def _dry_run(
    manifests: list[Mapping[str, Any]],
    parameters: Mapping[str, str],
    backend: Any,
    args: argparse.Namespace,
) -> int:
    """`argo submit --dry-run`: each Workflow as it would be sent, the options applied
    (parameters, entrypoint, name, namespace) and checked; nothing created, nothing run."""
    from jupyter_argo.cells import with_options

    namespace = args.namespace or getattr(backend, "namespace", None) or "default"
    for manifest in manifests:
        workflow = with_options(
            manifest,
            parameters=parameters,
            entrypoint=args.entrypoint,
            name=args.name,
            generate_name=args.generate_name,
        )
        meta = workflow.setdefault("metadata", {})
        meta.setdefault("namespace", namespace)
        _print_workflow(workflow, args.output)
    return 0


def _from_resource(backend: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The Workflow `argo submit --from kind/name --dry-run` prints, made as the Argo
    Server's SubmitWorkflow makes it, once the resource is found."""
    from jupyter_argo.backends._k8s.actions import parse_from, workflow_from
    from jupyter_argo.errors import NotFoundError

    kind, name = parse_from(args.source)
    namespace = args.namespace or getattr(backend, "namespace", None) or "default"
    if kind == "CronWorkflow" and backend.name == "argo-server":
        raise UserError(
            f"--dry-run --from {args.source}: not through an Argo Server here; use --server-dry-run"
        )
    store = getattr(backend, "template_store", None)
    source = store(namespace).get(kind, name) if callable(store) else None
    if source is None:
        raise NotFoundError(f"{kind} '{name}' not found in namespace {namespace}")
    return workflow_from(kind, name, source)


def _submit_parameters(args: argparse.Namespace) -> dict[str, str]:
    """`-p NAME=VALUE` and `--parameter-file/-f FILE`; a name given both ways takes its
    `-p` value."""
    given = _parameters(args.parameter)
    if not args.parameter_file:
        return given
    return {**parameter_file(Path(args.parameter_file)), **given}


class _ParametersLoader(yaml.SafeLoader):
    """YAML as Argo reads a parameters file (sigs.k8s.io/yaml, go-yaml v2): a date stays
    the text it is."""


_ParametersLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parameter_file(path: Path) -> dict[str, str]:
    """`argo submit --parameter-file`: a YAML or JSON mapping of names to values. A string
    is the value as it is; any other value is its JSON text, as Go marshals it (`1`,
    `true`, `[1,2]`, `{"a":1}`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file or directory") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read the parameters file ({err})") from None
    try:
        loaded = yaml.load(text, Loader=_ParametersLoader)  # a SafeLoader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{where}: the parameters file is not YAML or JSON ({problem})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        kind = "a list" if isinstance(loaded, list) else f"the {type(loaded).__name__} value"
        raise UserError(f"{path}: a parameters file maps names to values (NAME: VALUE), not {kind}")
    return {_go_text(key): _go_text(value) for key, value in loaded.items()}


def _go_text(value: Any) -> str:
    """A parameter value as Argo gets it from the file: a string as it is, anything else
    as Go's encoding/json writes it (compact, keys sorted, <, > and & escaped)."""
    if isinstance(value, str):
        return value
    return _go_json(value)


def _go_json(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_go_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted((_go_text(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_go_string(k)}:{_go_json(v)}" for k, v in items) + "}"
    return _go_string(str(value))


def _go_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        encoded = encoded.replace(char, escape)
    return encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _go_float(value: float) -> str:
    """encoding/json's float64: the shortest digits, plain unless the exponent is below
    -6 or at least 21 (then `1e-07` is written `1e-7`)."""
    import decimal

    if value != value or value in (float("inf"), float("-inf")):
        raise UserError(f"unsupported value: {value}")
    magnitude = abs(value)
    if magnitude == 0 or 1e-6 <= magnitude < 1e21:
        text = format(decimal.Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", repr(value))


def _follow_created(backend: Any, created: Mapping[str, Any], args: argparse.Namespace) -> int:
    """Print a submitted workflow, or with --wait watch it to the end: 0 if it Succeeded.
    A reader of the output gone (`run --log | head`) does not end a run this process
    runs: it goes on, quietly, to its end."""
    try:
        return _follow(backend, created, args)
    except BrokenPipeError as err:
        code = closed_pipe(err)
        if code != 1 and backend.name == "local" and args.wait:
            backend.wait(created["metadata"]["name"])
        return code


def _follow(backend: Any, created: Mapping[str, Any], args: argparse.Namespace) -> int:
    name = created["metadata"]["name"]
    if args.wait is False:
        # As `argo submit`: the created workflow, then its logs (--log) or a live view of it
        # (--watch) to the end. Neither changes the exit code: only --wait does.
        _print_workflow(created, args.output)
        if args.log:
            _follow_logs(backend, name)
        if args.watch:
            _watch(backend, name)
        return 0
    final = created
    collect_from_here()
    if args.output not in ("json", "yaml", "name") and hasattr(backend, "notify"):
        # A notice (e.g. no controller) on its own line, not after the progress line.
        backend.notify = lambda line: sys.stderr.write(f"\n{line}\n")
    try:
        if args.log:
            _follow_logs(backend, name)
        for final in backend.watch(name):
            if args.output not in ("json", "yaml", "name"):
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
    if args.output not in ("json", "yaml", "name"):
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


def _follow_logs(backend: Any, name: str) -> None:
    """`argo submit --log`: the main containers' logs, followed until the run ends."""
    for pod, line in backend.logs(name, follow=True, container="main"):
        print(f"{pod}: {line}", flush=True)


_CLEAR = "\033[H\033[2J\033[0;0H"  # as `argo submit --watch` clears the screen (on stderr)


def _watch(backend: Any, name: str) -> None:
    """`argo submit --watch`: the screen cleared (on stderr, as there) and `argo get`'s
    view printed again each time the workflow changes, until it finishes."""
    shown = ""
    for snapshot in backend.watch(name):
        text = summary(snapshot)
        if text != shown:
            sys.stderr.write(_CLEAR)
            sys.stderr.flush()
            print(text, flush=True)
            shown = text


def _print_workflow(workflow: Mapping[str, Any], output: str | None) -> None:
    if output == "name":
        print((workflow.get("metadata") or {}).get("name", ""))
    elif output == "json":
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
        f"Name:                {meta.get('name', '')}",
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


LATEST = "@latest"  # as the Argo Server resolves it: the most recently created workflow


def resolve_name(backend: Any, name: str, namespace: str | None) -> str:
    """A workflow's name, with `@latest` resolved as Argo does (`getLatestWorkflow`): the
    workflow with the latest creationTimestamp, the first listed on a tie."""
    if name != LATEST:
        return name
    latest: Mapping[str, Any] | None = None
    for workflow in backend.list(namespace):
        created = str(workflow["metadata"].get("creationTimestamp") or "")
        if latest is None or str(latest["metadata"].get("creationTimestamp") or "") < created:
            latest = workflow
    if latest is None:
        raise UserError("no workflows found")
    return str(latest["metadata"]["name"])


_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Error")
_COMPLETED = ("Succeeded", "Failed", "Error")
_SINCE = re.compile(r"^(\d+)([smhd])$")  # argoproj/pkg's ParseDuration
_SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(flag: str, text: str) -> datetime.datetime:
    """`argo list --since/--older`: now less `<number><s|m|h|d>`."""
    match = _SINCE.match(text)
    if match is None:
        raise UserError(
            f"{flag} {text}: Invalid since format '{text}'. "
            "Expected format <duration><unit> (e.g. 3h)"
        )
    seconds = int(match.group(1)) * _SINCE_UNITS[match.group(2)]
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        return now - datetime.timedelta(seconds=seconds)
    except OverflowError:
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def _moment(text: Any) -> datetime.datetime | None:
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None  # not RFC 3339: as a time never set
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


# One requirement of a Kubernetes label selector (k8s.io/apimachinery/pkg/labels.Parse):
# `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`.
_REQUIREMENT = re.compile(
    r"\s*(?:(?P<absent>!)\s*(?P<akey>[^\s=!,()]+)"
    r"|(?P<key>[^\s=!,()]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[^\s=!,()]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^()]*)\))?)\s*(?:,|$)"
)


def _selector(text: str) -> list[tuple[str, str, set[str]]]:
    """A label selector as (key, operator, values); one line naming it when it is not one."""
    out: list[tuple[str, str, set[str]]] = []
    pos = 0
    while pos < len(text):
        match = _REQUIREMENT.match(text, pos)
        if match is None or match.end() == pos:
            raise UserError(f"-l {text}: not a label selector (e.g. key=value,other!=x)")
        if match["absent"]:
            out.append((match["akey"], "!", set()))
        elif match["op"]:
            out.append((match["key"], "!=" if match["op"] == "!=" else "=", {match["value"]}))
        elif match["set"]:
            values = {v.strip() for v in match["values"].split(",")}
            out.append((match["key"], match["set"], values))
        else:
            out.append((match["key"], "exists", set()))
        pos = match.end()
    return out


def _selected(labels: Mapping[str, Any], selector: list[tuple[str, str, set[str]]]) -> bool:
    for key, op, values in selector:
        value = labels.get(key)
        has = key in labels
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
        if op in ("=", "in") and (not has or str(value) not in values):
            return False
        if op in ("!=", "notin") and has and str(value) in values:
            return False
    return True


def _listed(args: argparse.Namespace, rows: Iterable[Mapping[str, Any]]) -> list[Any]:
    """`argo list`'s filters, in its order, then its order: unfinished runs first, newest
    created first, then finished runs, latest finished first."""
    statuses = [s.strip() for value in args.status for s in value.split(",") if s.strip()]
    for status in statuses:
        if status not in _PHASES:
            raise UserError(
                f"--status {status}: not a workflow phase (one of {', '.join(_PHASES)})"
            )
    if args.completed and args.running:
        raise UserError("--completed and --running cannot be used together")
    selector = _selector(args.selector) if args.selector else []
    created_after = _since("--since", args.since) if args.since else None
    finished_before = _since("--older", args.older) if args.older else None
    out = []
    for workflow in rows:
        meta = workflow.get("metadata") or {}
        status = workflow.get("status") or {}
        phase = status.get("phase") or ""
        labels = meta.get("labels") or {}
        created = _moment(meta.get("creationTimestamp"))
        finished = _moment(status.get("finishedAt"))
        if statuses and phase not in statuses:
            continue
        if selector and not _selected(labels, selector):
            continue
        if args.completed and phase not in _COMPLETED:
            continue
        if args.running and phase in _COMPLETED:
            continue
        if args.resubmitted and "workflows.argoproj.io/resubmitted-from-workflow" not in labels:
            continue
        if not str(meta.get("name", "")).startswith(args.prefix or ""):
            continue
        if created_after is not None and not (created is not None and created > created_after):
            continue
        if finished_before is not None and not (
            finished is not None and finished < finished_before
        ):
            continue
        out.append(workflow)
    out.sort(
        key=lambda w: str((w.get("metadata") or {}).get("creationTimestamp") or ""), reverse=True
    )
    unfinished = [w for w in out if not (w.get("status") or {}).get("finishedAt")]
    finished_rows = [w for w in out if (w.get("status") or {}).get("finishedAt")]
    finished_rows.sort(key=lambda w: str(w["status"]["finishedAt"]), reverse=True)
    return unfinished + finished_rows


def cmd_list(args: argparse.Namespace) -> int:
    backend = backend_for(args)
    rows = _listed(args, backend.list(args.namespace))
    if not rows:
        print("[]" if args.output in ("json", "yaml") else "No workflows found")
        return 0
    if args.output == "name":
        for workflow in rows:
            print(workflow["metadata"]["name"])
    elif args.output == "json":
        print(json.dumps(rows, indent=2))
    elif args.output == "yaml":
        print(yaml.safe_dump(rows, sort_keys=False))
    else:
        _list_table(rows, wide=args.output == "wide", headers=not args.no_headers)
    return 0


def _list_table(rows: list[Mapping[str, Any]], *, wide: bool, headers: bool) -> None:
    """`argo list`'s table: NAME, STATUS, AGE, DURATION, PRIORITY, MESSAGE (with -o wide,
    P/R/C and PARAMETERS), columns three spaces apart as its tabwriter sets them."""
    now = datetime.datetime.now(datetime.timezone.utc)
    table: list[list[str]] = []
    if headers:
        table.append(["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"])
        if wide:
            table[0] += ["P/R/C", "PARAMETERS"]
    for workflow in rows:
        meta = workflow.get("metadata") or {}
        spec = workflow.get("spec") or {}
        status = workflow.get("status") or {}
        row = [
            str(meta.get("name", "")),
            _list_status(workflow),
            _short_duration(_moment(meta.get("creationTimestamp")), now, now),
            _short_duration(
                _moment(status.get("startedAt")), _moment(status.get("finishedAt")), now
            ),
            str(spec.get("priority") or 0),
            str(status.get("message") or ""),
        ]
        if wide:
            row += [_pending_running_completed(status), _parameter_text(spec)]
        table.append(row)
    widths = [max(len(r[i]) for r in table) + 3 for i in range(len(table[0]) - 1)]
    for row in table:
        print("".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + row[-1])


def _list_status(workflow: Mapping[str, Any]) -> str:
    """`argo list`'s STATUS: the phase, with (Suspended) or (Terminated) when it applies."""
    spec = workflow.get("spec") or {}
    status = workflow.get("status") or {}
    phase = status.get("phase") or ""
    nodes = status.get("nodes") or {}
    if phase == "Running":
        suspended = spec.get("suspend") is True or any(
            n.get("type") == "Suspend" and n.get("phase") == "Running"
            for n in nodes.values()
            if isinstance(n, Mapping)
        )
        return "Running (Suspended)" if suspended else phase
    if phase == "Failed" and spec.get("shutdown"):
        return "Failed (Terminated)"
    if phase in ("", "Pending"):
        return "Pending" if (workflow.get("metadata") or {}).get("creationTimestamp") else "Unknown"
    return str(phase)


# humanize.RelativeDurationShort's magnitudes: (below this many seconds, format, divisor).
_SHORT = (
    (1, "0s", 1),
    (2, "1s", 1),
    (60, "{}s", 1),
    (120, "1m", 1),
    (3600, "{}m", 60),
    (7200, "1h", 1),
    (86400, "{}h", 3600),
    (172800, "1d", 1),
)


def _short_duration(
    start: datetime.datetime | None, end: datetime.datetime | None, now: datetime.datetime
) -> str:
    """humanize.RelativeDurationShort: from start to end (to now if it has not ended, when
    it has started); a time not set is Go's zero time."""
    if end is None and start is not None:
        end = now
    zero = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc)
    seconds = abs(((end or zero) - (start or zero)).total_seconds())
    for below, text, divisor in _SHORT:
        if seconds < below:
            return text.format(int(seconds // divisor))
    return f"{int(seconds // 86400)}d"


def _pending_running_completed(status: Mapping[str, Any]) -> str:
    counts = [0, 0, 0]
    for node in (status.get("nodes") or {}).values():
        if not isinstance(node, Mapping) or node.get("type") != "Pod":
            continue
        phase = node.get("phase")
        if phase in (*_COMPLETED, "Skipped", "Omitted"):
            counts[2] += 1
        elif phase == "Running":
            counts[1] += 1
        else:
            counts[0] += 1
    return "/".join(map(str, counts))


def _parameter_text(spec: Mapping[str, Any]) -> str:
    """`argo list -o wide`'s PARAMETERS: name=value, long values cut in the middle."""
    shown = []
    for param in (spec.get("arguments") or {}).get("parameters") or ():
        if not isinstance(param, Mapping) or param.get("value") is None:
            continue
        value = str(param["value"])
        if len(value) > 50:
            value = value[: 50 - 3 - 15] + "..." + value[-15:]
        shown.append(f"{param.get('name')}={value}")
    return ",".join(shown)


def cmd_get(args: argparse.Namespace) -> int:
    backend = backend_for(args)
    for name in args.names:  # as `argo get WORKFLOW...`: each in turn
        workflow = backend.get(resolve_name(backend, name, args.namespace))
        _print_workflow(workflow, args.output)
    return 0


# Go's time.ParseDuration, as `argo logs --since` reads its value: [-+]? then one or more
# of a decimal number and a unit.
_GO_PART = re.compile(r"([0-9]*)(\.[0-9]*)?([^0-9.]*)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def go_duration(flag: str, text: str) -> float:
    """Seconds in a Go duration (`10s`, `1h30m`, `1.5h`, `-2m`, `0`); pflag's message
    (`invalid argument ... time: unknown unit ...`) when it is not one."""
    rest = text[1:] if text[:1] in ("-", "+") else text
    sign = -1.0 if text.startswith("-") else 1.0
    if rest == "0":
        return 0.0
    total = 0.0
    problem = f'invalid duration "{text}"' if not rest else ""
    while rest and not problem:
        match = _GO_PART.match(rest)
        whole, fraction, unit = match.groups() if match else ("", None, "")
        if not whole and (fraction is None or fraction == "."):
            problem = f'invalid duration "{text}"'
        elif not unit:
            problem = f'missing unit in duration "{text}"'
        elif unit not in _GO_UNITS:
            problem = f'unknown unit "{unit}" in duration "{text}"'
        else:
            total += float(f"{whole or 0}{fraction or ''}") * _GO_UNITS[unit]
            rest = rest[match.end() if match else len(rest) :]
    if problem:
        raise UserError(f'invalid argument "{text}" for "{flag}" flag: time: {problem}')
    return sign * total


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _since_time(text: str) -> float:
    """`argo logs --since-time`: seconds from that RFC 3339 time to now (at least 1)."""
    moment = _moment(text) if _RFC3339.match(text) else None
    if moment is None:
        raise UserError(
            f"--since-time {text}: not an RFC 3339 time (e.g. 2006-01-02T15:04:05Z07:00)"
        )
    elapsed = (datetime.datetime.now(datetime.timezone.utc) - moment).total_seconds()
    return max(1.0, elapsed)


def cmd_logs(args: argparse.Namespace) -> int:
    since = go_duration("--since", args.since) if args.since else 0.0
    if since > 0 and args.since_time:
        raise UserError("--since-time and --since cannot be used together")
    if args.since_time:
        since = _since_time(args.since_time)
    backend = backend_for(args)
    found = backend.logs(
        resolve_name(backend, args.name, args.namespace),
        node=args.node,
        follow=args.follow,
        container=args.container,
        timestamps=args.timestamps,
        since_seconds=max(1, int(since)) if since > 0 else None,  # whole seconds
        tail=args.tail if args.tail is not None and args.tail >= 0 else None,
        grep=args.grep,
    )
    for pod, line in found:
        print(f"{pod}: {line}", flush=args.follow)
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    backend = backend_for(args)
    name = resolve_name(backend, args.name, args.namespace)
    final = backend.wait(name)
    phase = (final.get("status") or {}).get("phase")
    print(f"{name} {phase}")
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
        # As `argo`: a bad selector is refused before anything is asked of anyone.
        selector = _node_selector(getattr(args, "node_field_selector", None))
        backend = backend_for(args)
        options: dict[str, Any] = {}
        if verb in ("retry", "resubmit") and args.parameter:
            options["parameters"] = _parameters(args.parameter)
        if verb == "retry":
            options["restart_successful"] = args.restart_successful
            options["node_field_selector"] = selector
        if verb == "resume" and selector:
            options["node"] = selector
        if verb == "resubmit" and args.memoized:
            options["memoized"] = True
        if verb in ("retry", "resubmit") and backend.name == "local":
            options["detach"] = True  # the run must outlive this command
        if verb == "stop":
            options = {"node_field_selector": selector, "message": args.message}
            options = {k: v for k, v in options.items() if v}
        target = resolve_name(backend, args.name, args.namespace)
        result = getattr(backend, verb)(target, **options)
        name = result["metadata"]["name"] if isinstance(result, dict) else target
        print(f"workflow {name} {_DONE[verb]}")
        return 0

    return run


def _node_selector(text: str | None) -> str | None:
    """`--node-field-selector` as `argo` sends it on (or None when not given)."""
    if not text:
        return None
    from jupyter_argo.backends._k8s.actions import node_selector_text

    return node_selector_text(text) or None


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
    selector = _node_selector(args.node_field_selector) or ""
    backend = backend_for(args)
    backend.set_node(
        resolve_name(backend, args.name, args.namespace),
        node_field_selector=selector,
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
    for given in args.names:
        name = resolve_name(backend, given, args.namespace)
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


def register(commands: Any, wanted: Callable[[str], bool] = lambda name: True) -> None:
    """Adds the run and control subcommands to the `jupyter-argo` parser: those `wanted`
    (by name), so that a command line builds only the parser it uses."""

    def add(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
        add_backend_flags(parser)
        parser.set_defaults(func=func)
        return parser

    if wanted("apply"):
        apply = add(
            "apply",
            "store WorkflowTemplates, ClusterWorkflowTemplates, CronWorkflows, ConfigMaps, Secrets",
            cmd_apply,
        )
        apply.add_argument("paths", nargs="+", metavar="PATH")

    for verb, waits in (("run", True), ("submit", False)):
        if not wanted(verb):
            continue
        run = add(
            verb,
            "submit a Workflow and wait for it (like `argo submit --wait`)"
            if waits
            else "submit a Workflow",
            cmd_run,
        )
        run.add_argument("file", metavar="FILE", nargs="*", help="- reads standard input")
        run.add_argument(
            "--from",
            dest="source",
            metavar="KIND/NAME",
            help="submit from workflowtemplate/NAME, clusterworkflowtemplate/NAME or cronwf/NAME",
        )
        run.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE")
        run.add_argument(
            "-f",
            "--parameter-file",
            metavar="FILE",
            help="a YAML or JSON file of NAME: VALUE parameters (-p wins over it)",
        )
        run.add_argument(
            "-l", "--labels", metavar="NAME=VALUE,...", help="labels to put on the workflow"
        )
        run.add_argument("--entrypoint")
        run.add_argument(
            "--serviceaccount", metavar="NAME", help="the service account of all its pods"
        )
        run.add_argument("--priority", type=int, help="the workflow's priority")
        names = run.add_mutually_exclusive_group()
        names.add_argument("--name")
        names.add_argument("--generate-name")
        run.add_argument("-o", "--output", choices=("json", "yaml", "wide", "name"))
        run.add_argument("--no-wait", dest="wait", action="store_false", default=waits)
        run.add_argument("-w", "--wait", dest="wait", action="store_true")
        run.add_argument(
            "--watch", action="store_true", help="show the workflow as it changes until it ends"
        )
        run.add_argument("--log", action="store_true", help="follow its logs until it ends")
        run.add_argument(
            "--dry-run",
            action="store_true",
            help="print the workflow as it would be submitted (with -o); create nothing",
        )
        run.add_argument(
            "--server-dry-run",
            action="store_true",
            help="as --dry-run, the backend checking and completing it (with -o)",
        )

    if wanted("list"):
        listing = add("list", "list workflows", cmd_list)
        listing.add_argument("-o", "--output", choices=("name", "json", "yaml", "wide"))
        listing.add_argument(
            "--status",
            action="append",
            default=[],
            metavar="PHASE[,PHASE]",
            help="only these phases: Pending, Running, Succeeded, Failed, Error",
        )
        listing.add_argument("--prefix", default="", help="only names starting with this")
        listing.add_argument(
            "--since", metavar="DURATION", help="only workflows created since (10m, 3h, 1d)"
        )
        listing.add_argument(
            "--older", metavar="DURATION", help="only workflows finished before (10m, 3h, 1d)"
        )
        listing.add_argument("--running", action="store_true", help="only unfinished workflows")
        listing.add_argument("--completed", action="store_true", help="only finished workflows")
        listing.add_argument(
            "--resubmitted", action="store_true", help="only resubmitted workflows"
        )
        listing.add_argument("--no-headers", action="store_true", help="no header line")
        listing.add_argument(
            "-l",
            "--selector",
            metavar="SELECTOR",
            help="only workflows whose labels match (key=value, key!=value, key in (a,b), !key)",
        )

    if wanted("get"):
        get = add("get", "show a workflow (@latest: the latest created)", cmd_get)
        get.add_argument("names", nargs="+", metavar="NAME")
        get.add_argument("-o", "--output", choices=("name", "json", "yaml", "short", "wide"))

    if wanted("logs"):
        logs = add("logs", "print a workflow's logs (@latest: the latest created)", cmd_logs)
        logs.add_argument("name")
        logs.add_argument("node", nargs="?")
        logs.add_argument("-f", "--follow", action="store_true")
        logs.add_argument(
            "-c", "--container", default="main", help="main (default), init, wait, ..."
        )
        logs.add_argument("--timestamps", action="store_true", help="show each line's time")
        logs.add_argument(
            "--since", metavar="DURATION", help="only lines newer than this Go duration (5s, 2m)"
        )
        logs.add_argument(
            "--since-time", metavar="TIME", help="only lines after this RFC 3339 time"
        )
        logs.add_argument(
            "--tail", type=int, metavar="N", help="the last N lines of each container"
        )
        logs.add_argument("--grep", metavar="REGEX", help="only lines matching this")

    if wanted("wait"):
        waiter = add("wait", "wait for a workflow to finish", cmd_wait)
        waiter.add_argument("name")

    for verb in ("stop", "terminate", "suspend", "resume", "retry", "resubmit"):
        if not wanted(verb):
            continue
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
        if verb in ("retry", "stop", "resume"):
            parser.add_argument("--node-field-selector", metavar="SELECTOR")
        if verb == "stop":
            parser.add_argument("--message", help="the message of the stopped suspend nodes")
        if verb == "resubmit":
            parser.add_argument(
                "--memoized", action="store_true", help="re-use the succeeded steps and outputs"
            )

    if wanted("node"):
        node = add("node", "set the phase, message or outputs of suspend nodes", cmd_node)
        node.add_argument("action", choices=("set",))
        node.add_argument("name")
        node.add_argument("--node-field-selector", default="", metavar="SELECTOR")
        node.add_argument("--phase", help="Succeeded, Failed or Error")
        node.add_argument("-m", "--message")
        node.add_argument(
            "-p", "--output-parameter", action="append", default=[], metavar="NAME=VALUE"
        )

    if wanted("delete"):
        delete = add(
            "delete", "delete workflows (and their artifacts as artifactGC says)", cmd_delete
        )
        delete.add_argument("names", nargs="+", metavar="NAME")
        delete.add_argument("--force", action="store_true")
