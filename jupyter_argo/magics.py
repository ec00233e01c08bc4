"""The `%%argo` cell magic and `%argo` line magic.

The magic is thin: it reads its options and runs the pipeline, one module per step:

    cell     -> cells.read         YAML documents, bare templates, or Python
    validate -> cells.check        Argo's lint, with the notebook's template library
    submit   -> backend.submit     any Backend (backends.get_backend)
    watch    -> progress.follow    the backend's watch stream
    render   -> progress.make      live WorkflowView in a kernel, text lines in a terminal
    bind     -> bind.bind, --out   Run object (run.py) and output variables

Configuration: `%config ArgoMagics.<trait> = value`, or `JUPYTER_ARGO_<TRAIT>` in the
environment (the data directory's variable is `JUPYTER_ARGO_HOME`); the Argo Server and
instance settings default to the argo CLI's variables (`ARGO_SERVER`, `ARGO_SECURE`, ...,
`ARGO_NAMESPACE`, `ARGO_INSTANCEID`). The Argo Server token is never shown: `%argo login`
asks for it and keeps it in memory, `argo_token_file` names a file holding it.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from IPython.core import magic, magic_arguments
from traitlets import Any as AnyTrait
from traitlets import Bool, Enum, Float, Int, TraitError, TraitType, Unicode, default, observe

from jupyter_argo import bind, cells, progress
from jupyter_argo.backends import BACKENDS, Backend, get_backend
from jupyter_argo.errors import (
    ArgoError,
    ConfigError,
    LintError,
    Location,
    NotFoundError,
    UserError,
    WorkflowFailed,
)
from jupyter_argo.library import TemplateLibrary, template_type
from jupyter_argo.run import Run, Text, terminate, to_yaml

__all__ = ["ArgoMagics", "RunInterrupted"]

_F = TypeVar("_F", bound=Callable[..., Any])


# IPython's magic decorators, typed: each returns the function it decorates.
def argument(*args: Any, **kwargs: Any) -> Callable[[_F], _F]:
    return magic_arguments.argument(*args, **kwargs)  # type: ignore[no-untyped-call,no-any-return]


def arguments(name: str) -> Callable[[_F], _F]:
    return magic_arguments.magic_arguments(name)  # type: ignore[no-untyped-call,no-any-return]


def cell_magic(name: str) -> Callable[[_F], _F]:
    return magic.cell_magic(name)  # type: ignore[return-value,no-any-return]


def line_magic(name: str) -> Callable[[_F], _F]:
    return magic.line_magic(name)  # type: ignore[return-value,no-any-return]


def _parse(method: Any, line: str) -> Any:
    """The options of a magic method made with `arguments`."""
    return method.parser.parse_argstring(line)


_INTERRUPTED = "interrupted by the user (kernel interrupt)"
_FINAL_WAIT = 5.0  # seconds to wait for the final status after stopping a run
_DONE = ("Succeeded", "Failed", "Error")
_LINE_COMMANDS = {
    "list": "",
    "get": "NAME",
    "logs": "NAME [NODE] [-f] [-c CONTAINER] [--timestamps] [--since D] [--tail N] [--grep RE]",
    "outputs": "NAME",
    "templates": "",
    "lint": "[FILE ...]",
    "stop": "NAME [--node-field-selector S --message M]",
    "terminate": "NAME",
    "suspend": "NAME",
    "resume": "NAME [NODE | --node-field-selector S]",
    "retry": "NAME [-p k=v] [--restart-successful --node-field-selector S]",
    "resubmit": "NAME [-p k=v] [--memoized]",
    "node": "set NAME --node-field-selector S [--phase P] [--message M] [-p k=v]",
    "delete": "NAME ... [--force]",
    "export": "NAME [-o FILE]",
    "cron": "list | get NAME | suspend NAME | resume NAME | delete NAME",
    "backend": "[NAME]",
    "login": "[HOST:PORT]",
    "logout": "",
    "submit": "VAR [%%argo options]",
}
_NAMED = {"get", "logs", "outputs", "stop", "terminate", "suspend", "resume", "retry"}
_NAMED |= {"resubmit", "delete", "export", "node"}


class RunInterrupted(KeyboardInterrupt):
    """The kernel was interrupted while a cell waited: the run was terminated."""

    def _render_traceback_(self) -> list[str]:
        return [f"KeyboardInterrupt: {self}"]


# The flags of `%%argo script NAME`, which no other cell takes (but for --image on Python).
_SCRIPT_FLAGS = ("--image", "--input", "--output", "--input-artifact", "--output-artifact")


def _env(name: str, fallback: str = "") -> str:
    return os.environ.get(f"JUPYTER_ARGO_{name}", fallback)


def _argo_env_true(name: str) -> bool:
    """An argo CLI boolean variable (`ARGO_INSECURE_SKIP_VERIFY`, ...): true when "true"."""
    return os.environ.get(name, "").strip().lower() == "true"


class _Hidden(str):
    """A secret string: the text itself wherever it is used, but a `repr` that does not
    show it (so `%config ArgoMagics`, an Out cell or a traceback's values never print it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'" if self else "''"


class Secret(TraitType[str, str]):
    """A string trait whose value is kept as `_Hidden`: `%config` shows `'<hidden>'`, and a
    wrong value's error names its type, never the value."""

    default_value = ""
    info_text = "a secret string"

    def validate(self, obj: Any, value: Any) -> str:
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise TraitError(f"{self.name}: expected text, got undecodable bytes") from None
        if not isinstance(value, str):
            raise TraitError(f"{self.name}: expected a string, not {type(value).__name__}")
        return _Hidden(value)


@magic.magics_class
class ArgoMagics(magic.Magics):  # type: ignore[misc]
    """Argo Workflows in the notebook: `%%argo` runs a cell, `%argo` manages runs."""

    backend = Unicode(help="Where workflows run: local, kubernetes or argo-server.").tag(
        config=True
    )
    namespace = Unicode(
        help="The namespace workflows go to (default $JUPYTER_ARGO_NAMESPACE, else "
        "$ARGO_NAMESPACE as for the argo CLI, else default)."
    ).tag(config=True)
    images = AnyTrait(
        help="Local backend: which program runs each container image. A YAML file of "
        "image rules, or the rules as a list (see jupyter_argo.executors.ImageMap)."
    ).tag(config=True)
    executor = Unicode(
        help="Local backend: how steps run: process (local programs), docker or podman."
    ).tag(config=True)
    isolation = Unicode(
        help="Local backend: process isolation (auto, namespace, bwrap, remap, none)."
    ).tag(config=True)
    data_dir = Unicode(help="Local backend: where runs, logs and artifacts are kept.").tag(
        config=True
    )
    parallelism = Int(help="Local backend: how many steps run at once.").tag(config=True)
    view = Enum(
        progress.MODES, help="How a running cell shows progress (auto: widget in a kernel)."
    ).tag(config=True)
    python_image = Unicode(help="The image of Python script templates.").tag(config=True)
    kube_context = Unicode(help="Kubernetes backend: the kubeconfig context.").tag(config=True)
    kubeconfig = Unicode(help="Kubernetes backend: the kubeconfig file.").tag(config=True)
    instance_id = Unicode(
        help="Kubernetes and Argo Server backends: the Argo controller's instanceID, put on "
        "submitted workflows as the workflows.argoproj.io/controller-instanceid label (like "
        "`argo --instanceid`; default $ARGO_INSTANCEID). An Argo Server labels what it "
        "creates with its own instance ID, whatever this says."
    ).tag(config=True)
    argo_server = Unicode(
        help="Argo Server backend: the server, host:port (e.g. argo.example.com:2746) or a "
        "URL whose http:// or https:// overrides argo_secure (default $ARGO_SERVER)."
    ).tag(config=True)
    argo_token = Secret(
        help="Argo Server backend: the bearer token, never shown. Empty: $ARGO_TOKEN, else "
        "argo_token_file's content. Rather than typing it into a cell, use `%argo login` "
        "(asks for it, keeps it in memory) or argo_token_file."
    ).tag(config=True)
    argo_token_file = Unicode(
        help="Argo Server backend: a file holding the token, read when the backend is made "
        "(after a change, at the next command). Empty: $ARGO_TOKEN, else $ARGO_TOKEN_FILE."
    ).tag(config=True)
    argo_secure = Bool(
        help="Argo Server backend: https (default $ARGO_SECURE: true unless it is false)."
    ).tag(config=True)
    argo_insecure_skip_verify = Bool(
        help="Argo Server backend: do not check the server's TLS certificate (default "
        "$ARGO_INSECURE_SKIP_VERIFY)."
    ).tag(config=True)
    argo_base_href = Unicode(
        help="Argo Server backend: the server's path prefix, e.g. /argo/ behind an ingress "
        "(default $ARGO_BASE_HREF)."
    ).tag(config=True)
    argo_http1 = Bool(
        help="Argo Server backend: streams (watch, logs) as text/event-stream, as the argo "
        "CLI's HTTP/1 client asks for them, else newline-delimited JSON; HTTP/1.1 either "
        "way (default $ARGO_HTTP1)."
    ).tag(config=True)
    raise_on_failure = Bool(
        True,
        help="A cell whose run ends Failed or Error fails with a one-line WorkflowFailed "
        "(the failed step, its message and log tail), so Run All stops there; False: the "
        "cell ends normally (as `%%argo --no-raise` does for one cell).",
    ).tag(config=True)
    pending_notice = Float(
        5.0,
        help="Kubernetes backend: seconds a running cell's workflow may have no status before "
        "the cell says, once, that Argo's controller seems not to be running (0: never).",
    ).tag(config=True)

    @default("backend")
    def _default_backend(self) -> str:
        return _env("BACKEND", "local")

    @default("namespace")
    def _default_namespace(self) -> str:
        return _env("NAMESPACE") or os.environ.get("ARGO_NAMESPACE") or "default"

    @default("images")
    def _default_images(self) -> Any:
        return _env("IMAGES")

    @default("executor")
    def _default_executor(self) -> str:
        return _env("EXECUTOR", "process")

    @default("isolation")
    def _default_isolation(self) -> str:
        return _env("ISOLATION", "auto")

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return _env("HOME")

    @default("parallelism")
    def _default_parallelism(self) -> int:
        text = _env("PARALLELISM", "64")
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"JUPYTER_ARGO_PARALLELISM={text!r}: expected a positive number")
        return int(text)

    @default("view")
    def _default_view(self) -> str:
        mode = _env("VIEW", "auto")
        if mode not in progress.MODES:
            raise ConfigError(f"JUPYTER_ARGO_VIEW={mode!r}: expected one of {progress.MODES}")
        return mode

    @default("kube_context")
    def _default_kube_context(self) -> str:
        return _env("KUBE_CONTEXT")

    @default("kubeconfig")
    def _default_kubeconfig(self) -> str:
        return _env("KUBECONFIG")

    @default("instance_id")
    def _default_instance_id(self) -> str:
        return os.environ.get("ARGO_INSTANCEID", "")

    @default("argo_server")
    def _default_argo_server(self) -> str:
        return os.environ.get("ARGO_SERVER", "")

    @default("argo_secure")
    def _default_argo_secure(self) -> bool:
        return os.environ.get("ARGO_SECURE", "").strip().lower() != "false"

    @default("argo_insecure_skip_verify")
    def _default_argo_insecure_skip_verify(self) -> bool:
        return _argo_env_true("ARGO_INSECURE_SKIP_VERIFY")

    @default("argo_base_href")
    def _default_argo_base_href(self) -> str:
        return os.environ.get("ARGO_BASE_HREF", "")

    @default("argo_http1")
    def _default_argo_http1(self) -> bool:
        return _argo_env_true("ARGO_HTTP1")

    @default("python_image")
    def _default_python_image(self) -> str:
        return _env("PYTHON_IMAGE", cells.default_image())

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.library = TemplateLibrary()
        self._backends: dict[str, Backend] = {}
        if shell is not None and hasattr(shell, "set_hook"):
            shell.set_hook("complete_command", self._complete, str_key="%argo")

    @property
    def _user_ns(self) -> dict[str, Any]:
        if self.shell is None:
            raise UserError("the %argo magics need an IPython shell")
        return self.shell.user_ns  # type: ignore[no-any-return]

    @observe(
        "images",
        "executor",
        "isolation",
        "data_dir",
        "parallelism",
        "namespace",
        "kube_context",
        "kubeconfig",
        "instance_id",
        "pending_notice",
        "argo_server",
        "argo_token",
        "argo_token_file",
        "argo_secure",
        "argo_insecure_skip_verify",
        "argo_base_href",
        "argo_http1",
    )
    def _config_changed(self, change: Mapping[str, Any]) -> None:
        # The next cell builds its backend with the new settings; running ones go on.
        self._backends.clear()

    # ---- the cell magic ---------------------------------------------------------------

    @arguments(name="%argo")
    @argument(
        "words",
        nargs="*",
        metavar="script NAME",
        help="register the cell's Python as script template NAME in the notebook's library "
        "(it runs where a workflow names it: `template: NAME`)",
    )
    @argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a workflow argument; $var and {expr} are expanded. In a Python cell it "
        "declares an input the script reads as {{inputs.parameters.NAME}}",
    )
    @argument("--backend", choices=BACKENDS, help="run there instead of the configured backend")
    @argument("-n", "--namespace", help="the namespace to run in")
    @argument("--name", help="the workflow's name (instead of its generateName)")
    @argument("--generate-name", help="a prefix for a generated workflow name")
    @argument("--entrypoint", help="the template to start from")
    @argument("--out", metavar="VAR", help="bind the Run object to VAR (even if the run fails)")
    @argument(
        "--bind",
        action="store_true",
        help="bind the workflow's output parameters, and the result of a one-step run, to "
        "variables of the same names (made valid Python: hello-param -> hello_param)",
    )
    @argument(
        "--async",
        dest="background",
        action="store_true",
        help="return at once; the view keeps updating and --bind binds when the run ends",
    )
    @argument(
        "--no-raise",
        action="store_true",
        help="a run that ends Failed or Error does not fail the cell (see "
        "ArgoMagics.raise_on_failure)",
    )
    @argument("--dry-run", action="store_true", help="show the manifest to submit; run nothing")
    @argument("--lint", action="store_true", help="lint the cell and show every finding")
    @argument("--no-view", action="store_true", help="show no progress")
    @argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="terminate the run if it has not finished after this long",
    )
    @argument(
        "--image", help="script NAME and Python cells: the image (default: python:<this Python>)"
    )
    @argument(
        "--input", action="append", default=[], metavar="P[=DEFAULT]", help="script NAME: input"
    )
    @argument(
        "--output",
        action="append",
        default=[],
        metavar="P=PATH",
        help="script NAME: output parameter P, read from the file PATH the script writes",
    )
    @argument(
        "--input-artifact",
        action="append",
        default=[],
        metavar="A=PATH",
        help="script NAME: input artifact A, placed at PATH before the script starts",
    )
    @argument(
        "--output-artifact",
        action="append",
        default=[],
        metavar="A=PATH",
        help="script NAME: output artifact A, the file or directory the script leaves at PATH",
    )
    @cell_magic("argo")
    def argo_cell(self, line: str, cell: str) -> Any:
        """Run Argo manifests, add templates, or run Python as a workflow step.

        A cell may hold: Workflows (submitted and run); WorkflowTemplates,
        ClusterWorkflowTemplates, CronWorkflows, ConfigMaps or Secrets (stored in the
        backend); bare templates, one or a list (added to the notebook's library, so later
        Workflow cells can call them by name); or Python, run as a one-step workflow whose
        stdout is its `result`, for example::

            %%argo -p n=3 --bind
            print(int("{{inputs.parameters.n}}") ** 2)

        binds `result = "9"`. The cell's value is the Run (`run.node(...)`,
        `run.logs()`, `run.outputs`, `run.export()`, ...).
        """
        args = _parse(self.argo_cell, line)
        if args.words:
            return self._script(args, cell)
        content = cells.read(cell, file=self._cell_file())
        self._script_flags(args, python=content.python is not None)
        return self._pipeline(content, args)

    def _script_flags(self, args: Any, *, python: bool) -> None:
        """Refuse a flag of `%%argo script NAME` on a cell it does nothing for (--image also
        suits a Python cell run as it is)."""
        for flag in _SCRIPT_FLAGS:
            if flag == "--image" and python:
                continue
            if getattr(args, flag.lstrip("-").replace("-", "_")):
                where = "`%%argo script NAME` (a Python cell run as it is takes -p NAME=VALUE)"
                if flag == "--image":
                    where = "`%%argo script NAME` and Python cells"
                raise UserError(f"{flag}: only for {where}", Location(self._cell_file(), 1))

    def _script(self, args: Any, cell: str) -> None:
        if args.words[0] != "script" or len(args.words) != 2:
            raise UserError(f"%%argo {' '.join(args.words)}: expected `%%argo script NAME`")
        cells.check_python(cell, file=self._cell_file())
        template = cells.script_template(
            args.words[1],
            cell,
            image=args.image or self.python_image,
            inputs=args.input,
            outputs=args.output,
            input_artifacts=args.input_artifact,
            output_artifacts=args.output_artifact,
            file=self._cell_file(),
        )
        content = cells.Cell(documents=[cells.document(template, file=self._cell_file())])
        self._validate(content, self._backend(args.backend), args, lint_only=args.lint)
        if not args.lint:
            self.library.add([template])
            print(f"script template {args.words[1]} added to the notebook's library")

    def _pipeline(self, content: cells.Cell, args: Any) -> Any:
        backend = self._backend(args.backend)
        namespace = args.namespace or self.namespace
        self._validate(content, backend, args, lint_only=args.lint)
        if args.lint:
            return None
        manifests, overrides = self._manifests(content, args)
        if args.dry_run:
            return self._dry_run(content, manifests, overrides, args, namespace)
        self._store(content, backend, namespace)
        mode = "none" if args.no_view else progress.choose_mode(self.view, self.shell)
        progress.prepare(mode)  # slow imports before a run starts, not while it runs
        runs: list[Run] = []
        views: dict[str, progress.Progress] = {}
        try:
            for manifest in manifests:
                runs.append(self._submit(backend, manifest, overrides, args, namespace))
            result = runs[0] if len(runs) == 1 else (runs or None)
            if args.out and result is not None:
                self._user_ns[args.out] = result  # bound first: an interrupt keeps it
            for run in runs:
                shown = progress.make(run, mode, run.workflow, quiet=args.background)
                if not args.background:
                    views[run.name] = shown  # before it shows: an interrupt closes it
                shown.show()
                self._watch(run, shown, args)
        except KeyboardInterrupt:
            # Anywhere after the first submit: no run of this cell may outlive the cell.
            ended = [self._interrupted(run, views.get(run.name)) for run in runs]
            raise RunInterrupted("; ".join(ended) or "nothing was submitted") from None
        failed = [run for run in runs if _phase(run.workflow) in ("Failed", "Error")]
        if failed and not args.background and not args.no_raise and self.raise_on_failure:
            raise workflow_failed(failed[0], others=len(failed) - 1)
        return result

    def _validate(self, content: cells.Cell, backend: Backend, args: Any, lint_only: bool) -> None:
        store = _template_store(backend, args.namespace or self.namespace)
        found = cells.check(content, self.library, store)
        errors = [d for d in found if d.severity == "error"]
        shown = found if lint_only else [d for d in found if d.severity == "warning"]
        for diagnostic in shown:
            if diagnostic.severity != "error":
                print(diagnostic, file=sys.stderr)
        if errors:
            raise LintError(list(errors))
        server_lint = getattr(backend, "server_lint", None)
        if lint_only and callable(server_lint):
            # As `argo lint` online: the Argo Server validates too (its own rules, its
            # templates); its answer is one line.
            for document in content.documents:
                server_lint(document.body, args.namespace or self.namespace)
        if lint_only:
            print(f"{content.file}: no errors" + (f", {len(shown)} findings" if shown else ""))

    def _manifests(
        self, content: cells.Cell, args: Any
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The workflows to submit, and the parameters to override in them."""
        parameters = cells.parameters(args.parameter)
        if content.python is not None:
            image = args.image or self.python_image
            workflow = cells.python_workflow(content.python, parameters, image=image)
            return [workflow], {}
        scope = self.library.copy()
        scope.add(content.templates)
        workflows = [scope.complete(d.body) for d in content.workflows]
        if parameters and not workflows:
            raise UserError("-p: this cell has no Workflow to pass parameters to")
        if args.name and len(workflows) > 1:
            raise UserError(f"--name: this cell has {len(workflows)} Workflows; use one")
        return workflows, parameters

    def _dry_run(
        self,
        content: cells.Cell,
        manifests: list[dict[str, Any]],
        overrides: Mapping[str, str],
        args: Any,
        namespace: str,
    ) -> None:
        rendered = [d.body for d in content.applied]
        rendered += [
            cells.with_options(
                manifest,
                parameters=overrides,
                entrypoint=args.entrypoint,
                name=args.name,
                generate_name=args.generate_name,
                namespace=namespace,
            )
            for manifest in manifests
        ]
        names = [t.get("name") for t in content.templates]
        if names:
            print(f"# templates for the notebook's library: {', '.join(map(str, names))}")
        print("---\n".join(to_yaml(m) for m in rendered), end="")
        if args.out:
            self._user_ns[args.out] = rendered[0] if len(rendered) == 1 else rendered

    def _store(self, content: cells.Cell, backend: Backend, namespace: str) -> None:
        for document in content.applied:
            outcome = backend.apply(document.body, namespace)
            print(f"{document.kind.lower()}/{document.name} {outcome}")
        added = self.library.add(content.templates)
        if added:
            print(f"added to the notebook's library: {', '.join(added)}")

    def _submit(
        self,
        backend: Backend,
        manifest: Mapping[str, Any],
        parameters: Mapping[str, str],
        args: Any,
        namespace: str,
    ) -> Run:
        created = backend.submit(
            manifest,
            namespace=namespace,
            parameters=parameters or None,
            entrypoint=args.entrypoint,
            name=args.name,
            generate_name=args.generate_name,
        )
        return Run(backend, created, namespace)

    def _watch(self, run: Run, shown: progress.Progress, args: Any) -> None:
        """Follow the run (watch -> render), then bind its outputs."""
        if args.background:
            finish = lambda final: self._finish(run, shown, final, args)  # noqa: E731
            progress.follow_in_background(run, shown, timeout=args.timeout, done=finish)
            if not isinstance(shown, progress.Widget):
                print(f"{run.name} submitted; it runs in the background (run.wait() waits)")
            return
        self._finish(run, shown, progress.follow(run, shown, timeout=args.timeout), args)

    def _finish(
        self, run: Run, shown: progress.Progress, final: Mapping[str, Any], args: Any
    ) -> None:
        if _phase(final) not in _DONE:  # the watch ended early: --timeout
            final = self._end(run, f"timed out after {args.timeout:g}s (--timeout)")
            print(f"{run.name}: --timeout {args.timeout:g}s reached; terminated", file=sys.stderr)
        shown.close(final)
        if args.bind:
            print(_bound(bind.bind(self._user_ns, run), run.name))

    def _interrupted(self, run: Run, shown: progress.Progress | None) -> str:
        final = run.workflow
        if _phase(final) in _DONE:
            note = f"{run.name} {_phase(final)}"
        else:
            final = self._end(run, _INTERRUPTED, interrupted=True)
            note = f"{run.name} terminated ({_phase(final) or 'still stopping'})"
        if shown is not None:  # off this thread: control returns now, whatever the view does
            threading.Thread(target=shown.close, args=(final,), daemon=True).start()
        return note

    def _end(self, run: Run, message: str, *, interrupted: bool = False) -> Mapping[str, Any]:
        interrupt = getattr(run.backend, "interrupt", None)
        if interrupted and interrupt is not None:
            # The local engine ends the run within a second, whatever it is doing.
            final: Mapping[str, Any] = interrupt(run.name, run.namespace, message=message)
            run._remember(final)
            return final
        terminate(run.backend, run.name, run.namespace, message)
        return run.wait(_FINAL_WAIT).workflow

    # ---- the line magic ---------------------------------------------------------------

    @arguments(name="argo")
    @argument(
        "command",
        choices=list(_LINE_COMMANDS),
        metavar="COMMAND",
        help=("; ".join(f"{c} {a}".strip() for c, a in _LINE_COMMANDS.items())).replace("%", "%%")
        + ". NAME may be @latest",
    )
    @argument("args", nargs="*", help="the command's arguments")
    @argument("-f", "--follow", action="store_true", help="logs: follow until the run ends")
    @argument("-c", "--container", default="main", help="logs: main (default), init, wait, ...")
    @argument("--timestamps", action="store_true", help="logs: show each line's time")
    @argument("--since", metavar="DURATION", help="logs: only lines newer than this (5m)")
    @argument("--tail", type=int, metavar="N", help="logs: the last N lines of each container")
    @argument("--grep", metavar="REGEX", help="logs: only lines matching this")
    @argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="retry/resubmit: override an argument; node set: a supplied output parameter",
    )
    @argument("--memoized", action="store_true", help="resubmit: re-use what succeeded")
    @argument(
        "--restart-successful",
        action="store_true",
        help="retry: also rerun the succeeded nodes matching --node-field-selector",
    )
    @argument(
        "--node-field-selector",
        metavar="SELECTOR",
        help="retry, stop, resume, node set: which nodes",
    )
    @argument("--message", help="stop (by node), node set: the node's message")
    @argument("--phase", help="node set: Succeeded, Failed or Error")
    @argument("--force", action="store_true", help="delete: even if artifact GC fails")
    @argument("-o", "--output", metavar="FILE", help="export: write the YAML to FILE")
    @argument("--backend", choices=BACKENDS, help="use this backend for this command")
    @argument("-n", "--namespace", help="the namespace")
    @line_magic("argo")
    def argo_line(self, line: str) -> Any:
        """Manage runs, the template library and the backend.

        `%argo submit VAR` submits a Workflow, WorkflowTemplate or template object from the
        namespace (a Hera object, or a manifest dict), taking the options of `%%argo`.
        """
        words = shlex.split(line)
        if words and words[0] == "submit":
            return self._submit_variable(words[1:])
        args = _parse(self.argo_line, line)
        handler: Callable[[Any], Any] = getattr(self, f"_cmd_{args.command}", self._cmd_action)
        if args.command in _NAMED and not args.args:
            raise UserError(f"%argo {args.command}: give a workflow name (or @latest)")
        return handler(args)

    def _backend_for(self, args: Any) -> tuple[Backend, str]:
        return self._backend(args.backend), args.namespace or self.namespace

    def _run(self, args: Any, name: str) -> Run:
        backend, namespace = self._backend_for(args)
        if name == "@latest":
            listed = backend.list(namespace)
            if not listed:
                raise NotFoundError(f"no workflows in namespace {namespace}")
            latest = max(listed, key=lambda w: w["metadata"].get("creationTimestamp") or "")
            name = latest["metadata"]["name"]
        return Run(backend, backend.get(name, namespace), namespace)

    def _cmd_list(self, args: Any) -> Text:
        backend, namespace = self._backend_for(args)
        rows = [f"{'NAME':<40} {'STATUS':<10} {'FINISHED':<21} {'PROGRESS':<9} MESSAGE"]
        for workflow in backend.list(namespace):
            status = workflow.get("status") or {}
            rows.append(
                f"{workflow['metadata']['name']:<40} {status.get('phase') or 'Pending':<10} "
                f"{status.get('finishedAt') or '':<21} {status.get('progress') or '':<9} "
                f"{status.get('message') or ''}".rstrip()
            )
        return Text("\n".join(rows))

    def _cmd_get(self, args: Any) -> Run:
        return self._run(args, args.args[0])

    def _cmd_logs(self, args: Any) -> Text | None:
        run = self._run(args, args.args[0])
        node = args.args[1] if len(args.args) > 1 else None
        if node is not None:
            node = run.node(node).id
        if args.follow or not _log_flags(args):
            text = run.logs(node=node, follow=args.follow)
            return None if args.follow else text
        from jupyter_argo.status import duration_seconds

        found = run.backend.logs(
            run.name,
            run.namespace,
            node=node,
            container=args.container,
            timestamps=args.timestamps,
            since_seconds=duration_seconds(args.since) if args.since else None,
            tail=args.tail,
            grep=args.grep,
        )
        return Text("\n".join(f"{pod}: {line}" for pod, line in found))

    def _cmd_outputs(self, args: Any) -> Text:
        run = self._run(args, args.args[0])
        lines = []
        workflow_outputs = run.outputs
        if workflow_outputs.parameters or workflow_outputs.artifacts:
            lines.append("workflow outputs")
            lines.extend(_io_lines(workflow_outputs))
        for node in run.nodes():
            body = _io_lines(node.outputs)
            if body:
                lines.append(f"{node.display_name} ({node.type}, {node.phase})")
                lines.extend(body)
        return Text("\n".join(lines) or f"{run.name} has no outputs")

    def _cmd_cron(self, args: Any) -> Text:
        from jupyter_argo.cli_cron import line_verb

        backend, namespace = self._backend_for(args)
        verb, *names = args.args or ["list"]
        return Text(line_verb(backend, namespace, verb, names).rstrip("\n"))

    def _cmd_templates(self, args: Any) -> Text:
        if not len(self.library):
            return Text("the notebook's library is empty (add templates with a %%argo cell)")
        rows = []
        for name in self.library:
            template = self.library.get(name) or {}
            ins = [p.get("name") for p in (template.get("inputs") or {}).get("parameters") or []]
            outs = [p.get("name") for p in (template.get("outputs") or {}).get("parameters") or []]
            row = f"{name:<32} {template_type(template):<10}"
            row += f" inputs: {', '.join(map(str, ins)) or '-'}"
            row += f"  outputs: {', '.join(map(str, outs)) or '-'}"
            rows.append(row)
        return Text("\n".join(rows))

    def _cmd_lint(self, args: Any) -> Text:
        from jupyter_argo.spec import lint, parse_file, raise_for

        backend, namespace = self._backend_for(args)
        store = _template_store(backend, namespace)
        if args.args:
            documents = [d for path in args.args for d in parse_file(path)]
            found = lint(documents, templates=store)
        else:
            templates = [self.library.get(n) or {} for n in self.library]
            library = cells.Cell(documents=[cells.document(templates, file="<library>")])
            found = cells.check(library, TemplateLibrary(), store) if templates else []
        raise_for(found)
        lines = [str(d) for d in found]
        return Text("\n".join(lines) if lines else "no problems found")

    def _cmd_action(self, args: Any) -> Any:
        run = self._run(args, args.args[0])
        verb = args.command
        parameters = _pairs(args.parameter)
        if verb == "resume":
            run.resume(args.node_field_selector or (args.args[1] if len(args.args) > 1 else None))
        elif verb == "retry" and (
            parameters or args.restart_successful or args.node_field_selector
        ):
            run.backend.retry(
                run.name,
                run.namespace,
                restart_successful=args.restart_successful,
                node_field_selector=args.node_field_selector,
                parameters=parameters or None,
            )
            return Run(run.backend, run.backend.get(run.name, run.namespace), run.namespace)
        elif verb == "resubmit" and (parameters or args.memoized):
            fresh = run.backend.resubmit(
                run.name, run.namespace, memoized=args.memoized, parameters=parameters or None
            )
            return Run(run.backend, fresh, run.namespace)
        elif verb in ("retry", "resubmit"):
            return getattr(run, verb)()
        elif verb == "stop" and args.node_field_selector:
            run.backend.stop(
                run.name,
                run.namespace,
                node_field_selector=args.node_field_selector,
                message=args.message,
            )
        else:
            getattr(run, verb)()
        done = {"stop": "stopped", "terminate": "terminated", "suspend": "suspended"}
        done["resume"] = "resumed"
        print(f"workflow {run.name} {done[verb]}")
        return None

    def _cmd_node(self, args: Any) -> None:
        """`%argo node set NAME --node-field-selector S [--phase] [--message] [-p k=v]`."""
        if args.args[0] != "set" or len(args.args) < 2:
            raise UserError("%argo node: use `%argo node set NAME --node-field-selector ...`")
        backend, namespace = self._backend_for(args)
        backend.set_node(
            args.args[1],
            namespace,
            node_field_selector=args.node_field_selector or "",
            phase=args.phase,
            message=args.message,
            output_parameters=_pairs(args.parameter) or None,
        )
        print("workflow values set")

    def _cmd_delete(self, args: Any) -> None:
        for name in args.args:
            run = self._run(args, name)
            run.delete(force=args.force)
            print(f"workflow {run.name} deleted")

    def _cmd_export(self, args: Any) -> Text | None:
        run = self._run(args, args.args[0])
        text = run.export()
        if args.output:
            Path(args.output).write_text(text)
            print(f"{run.name} written to {args.output}")
            return None
        return text

    def _cmd_backend(self, args: Any) -> None:
        if args.args:
            name = args.args[0]
            self._backend(name)  # fails here, not at the next cell, if it cannot work
            self.backend = name
        url = getattr(self._backend(), "url", None) if self.backend == "argo-server" else None
        where = f" at {url}" if url else ""
        print(f"backend: {self.backend}{where} (namespace {self.namespace})")

    def _cmd_login(self, args: Any) -> None:
        """`%argo login [HOST:PORT]`: ask for the Argo Server's token without echoing it
        (in a kernel, through the frontend's password box) and keep it in memory only."""
        import getpass

        from IPython.core.error import StdinNotImplementedError

        if len(args.args) > 1:
            raise UserError("%argo login: give at most the server, HOST:PORT")
        if args.args:
            self.argo_server = args.args[0]
        if not self.argo_server:
            raise ConfigError(
                "%argo login: which server? `%argo login HOST:PORT` (or set "
                "ArgoMagics.argo_server, or ARGO_SERVER)"
            )
        try:
            # Looked up now: in a kernel, ipykernel puts its own getpass there per request.
            token = getpass.getpass(f"Argo Server token for {self.argo_server}: ")
        except StdinNotImplementedError:
            raise ConfigError(
                "%argo login: this frontend cannot ask for input; put the token in a file and "
                "set ArgoMagics.argo_token_file (or ARGO_TOKEN_FILE, or ARGO_TOKEN)"
            ) from None
        token = _Hidden(token.strip())
        if not token:
            raise UserError("%argo login: no token given; nothing changed")
        previous = self.argo_token
        self.argo_token = token  # rebuilds the backend
        namespace = args.namespace or self.namespace
        backend = self._backend("argo-server")
        try:
            found = backend.list(namespace)
        except ConfigError as err:
            if "(401 Unauthorized)" in str(err):
                self.argo_token = previous  # refused: forget it
            raise
        where = getattr(backend, "url", self.argo_server)
        print(
            f"logged in to {where}: {len(found)} workflows in namespace {namespace}; the token "
            "is kept in this kernel's memory only (`%argo logout` forgets it)"
        )
        if self.backend != "argo-server":
            print("run there with `%argo backend argo-server` or `%%argo --backend argo-server`")

    def _cmd_logout(self, args: Any) -> None:
        had = bool(self.argo_token)
        self.argo_token = ""
        print(
            "the Argo Server token is forgotten"
            if had
            else "no token was kept (ARGO_TOKEN or the token file still apply)"
        )

    def _submit_variable(self, words: list[str]) -> Any:
        if not words:
            raise UserError("%argo submit: give the name of a variable holding a workflow")
        variable, options = words[0], shlex.join(words[1:])
        if variable not in self._user_ns:
            raise NotFoundError(f"%argo submit: no variable {variable!r}")
        args = _parse(self.argo_cell, options)
        content = cells.from_object(self._user_ns[variable], file=variable)
        return self._pipeline(content, args)

    # ---- backends and completion ------------------------------------------------------

    def _backend(self, name: str | None = None) -> Backend:
        name = name or self.backend
        found = self._backends.get(name)
        if found is None:
            found = get_backend(name, **self._backend_config(name))
            self._backends[name] = found
        return found

    def _backend_config(self, name: str) -> dict[str, Any]:
        if name == "kubernetes":
            config: dict[str, Any] = {"namespace": self.namespace}
            if self.kube_context:
                config["context"] = self.kube_context
            if self.kubeconfig:
                config["kubeconfig"] = self.kubeconfig
            config["instance_id"] = self.instance_id or None
            config["pending_notice"] = self.pending_notice or None
            return config
        if name == "argo-server":
            return self._server_config()
        if name != "local":
            return {}
        from jupyter_argo.executors import ImageMap

        images = self.images
        if isinstance(images, str) and images:
            import yaml

            try:
                images = yaml.safe_load(Path(images).expanduser().read_text())
            except OSError as err:
                raise ConfigError(f"images: cannot read {images}: {err.strerror}") from None
        return {
            "home": Path(self.data_dir).expanduser() if self.data_dir else None,
            "max_pods": self.parallelism,
            "images": ImageMap.from_config(images) if images else None,
            "isolation": self.isolation,
            "executor": self.executor,
            "namespace": self.namespace,
        }

    def _server_config(self) -> dict[str, Any]:
        if not self.argo_server:
            raise ConfigError(
                "the argo-server backend needs the server: `%argo login HOST:PORT`, "
                "%config ArgoMagics.argo_server = 'HOST:PORT', or ARGO_SERVER"
            )
        config: dict[str, Any] = {
            "server": self.argo_server,
            "namespace": self.namespace,
            "secure": self.argo_secure,
            "insecure_skip_verify": self.argo_insecure_skip_verify,
            "base_href": self.argo_base_href,
            "http1": self.argo_http1,
            "instance_id": self.instance_id or None,
        }
        if self.argo_token:
            config["token"] = self.argo_token
        elif self.argo_token_file:
            config["token_file"] = self.argo_token_file
        return config

    def _cell_file(self) -> str:
        """`In[N]` for the cell the frontend numbers `[N]`. The running cell's result holds
        its number; `shell.execution_count` is already the next one (IPython >= 9 counts
        the cell before running it)."""
        hook = getattr(self.shell, "displayhook", None)
        running = getattr(hook, "exec_result", None)
        count = getattr(running, "execution_count", None)
        return f"In[{count}]" if count else "<cell>"

    def _complete(self, _shell: Any, event: Any) -> list[str]:
        """Tab completion for `%argo`: commands, workflow names, nodes, variables."""
        words = event.line.split()
        position = len(words) - (0 if event.line.endswith(" ") else 1)  # the word being typed
        if position <= 1:
            return list(_LINE_COMMANDS)
        command = words[1]
        if command == "submit" and position == 2:
            return [k for k in self._user_ns if not k.startswith("_")]
        if command == "backend" and position == 2:
            return list(BACKENDS)
        if command == "cron" and position == 2:
            return ["list", "get", "suspend", "resume", "delete"]
        try:  # completion must never raise into the editor
            backend = self._backend()
            if command in _NAMED and (position == 2 or command == "delete"):
                listed = backend.list(self.namespace)
                return ["@latest", *(w["metadata"]["name"] for w in listed)]
            if command == "cron" and position >= 3 and words[2] != "list":
                from jupyter_argo.cli_cron import cron_names

                return cron_names(backend, self.namespace)
            if command in ("logs", "resume") and position == 3:
                run = Run(backend, backend.get(words[2], self.namespace), self.namespace)
                return sorted({node.display_name for node in run.nodes()})
        except Exception:
            return []
        return []


_FAILURE_LOG_LINES = 3
_FAILURE_CHARS = 600


def workflow_failed(run: Run, *, others: int = 0) -> WorkflowFailed:
    """The one-line error of a run that ended Failed or Error: its phase, the first step
    that failed (else the workflow's message), that step's message and last log lines."""
    # The render package (graphviz, the SVG writer) loads with a run, not at %load_ext.
    from jupyter_argo.render.summary import first_failure, log_tail

    workflow = run.workflow
    status = workflow.get("status") or {}
    text = f"{run.name} {_phase(workflow)}"
    failure = first_failure(workflow)
    tail: list[str] = []
    message = str(status.get("message") or "")
    # Argo's "child 'NODE-ID' failed" says less than the step itself: leave it out.
    if any(str(node) in message for node in status.get("nodes") or ()):
        message = ""
    at_step = failure is not None and failure.id != run.name  # else the run is one step
    if at_step and failure is not None:
        text += f" at {failure.describe()}"
    elif failure is not None:
        message = message or failure.message
    if message:
        text += f"{';' if at_step else ':'} {message}"
    if failure is not None:
        if failure.failed > 1:
            text += f" ({failure.failed} steps failed)"
        try:
            tail = log_tail(run.logs(node=failure.id), _FAILURE_LOG_LINES)
        except ArgoError:
            tail = []
        if tail:
            text += " | log: " + " ⏎ ".join(tail)
    if others:
        text += f" (and {others} more failed runs in this cell)"
    text = " ".join(text.split())  # one line, whatever the messages hold
    if len(text) > _FAILURE_CHARS:
        text = text[: _FAILURE_CHARS - 1] + "…"
    return WorkflowFailed(text, run=run, node=failure.name if failure else "", log="\n".join(tail))


def _bound(bound: Mapping[str, str], name: str) -> str:
    """What `--bind` says: the variables it bound, or that there was nothing to bind."""
    if not bound:
        return (
            f"--bind: nothing to bind: {name} has no output parameters (entrypoint or "
            "workflow) and is not a one-step run with a result"
        )
    shown = [v if v == argo else f"{v} (from {argo})" for v, argo in bound.items()]
    return f"--bind: bound {', '.join(shown)}"


def _log_flags(args: Any) -> bool:
    """Whether `%argo logs` was given any of `argo logs`' filtering flags."""
    return bool(
        args.container != "main" or args.timestamps or args.since or args.tail is not None
    ) or bool(args.grep)


def _pairs(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserError(f"-p {pair}: expected NAME=VALUE")
        out[name] = value
    return out


def _phase(workflow: Mapping[str, Any]) -> str:
    return str((workflow.get("status") or {}).get("phase") or "")


def _template_store(backend: Backend, namespace: str) -> Any:
    store = getattr(backend, "template_store", None)
    return store(namespace) if callable(store) else None


def _io_lines(io: Any) -> list[str]:
    lines = [f"  {name} = {value}" for name, value in io.parameters.items()]
    if io.result is not None:
        lines.append(f"  result = {io.result}")
    lines.extend(f"  artifact {a.name}: {a.location}" for a in io.artifacts.values())
    return lines
