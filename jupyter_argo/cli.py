"""The `jupyter-argo` command (also `jupyter argo`). Subcommands mirror the `argo` CLI."""

from __future__ import annotations

import sys

from jupyter_argo._collector import collector_off
from jupyter_argo._version import __version__

# The rest loads in `main`, with the garbage collector off: its passes over what the
# start allocates would cost a one-step run several milliseconds (see _collector).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["main"]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def manifest_files(paths: Sequence[str]) -> list[Path]:
    """The files named, and every *.yaml, *.yml and *.json under the directories named."""
    from pathlib import Path

    from jupyter_argo.errors import UserError

    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.suffix in MANIFEST_SUFFIXES and child.is_file() and not hidden:
                    found.setdefault(child, None)
        elif path.exists():
            found.setdefault(path, None)
        else:
            raise UserError(f"{raw}: no such file or directory")
    return list(found)


def _lint(args: argparse.Namespace) -> int:
    from jupyter_argo.errors import Location, ParseError, UserError
    from jupyter_argo.spec.lint import Diagnostic, lint
    from jupyter_argo.spec.parse import Document, parse_file

    files = manifest_files(args.paths)
    if not files:
        raise UserError("no manifests found (looked for *.yaml, *.yml and *.json)")
    documents: list[Document] = []
    unreadable: list[Diagnostic] = []
    for file in files:
        try:
            documents.extend(parse_file(file))
        except ParseError as err:
            location = err.location or Location(str(file))
            unreadable.append(Diagnostic("error", location, err.message))
    if documents and all(d.kind == "Other" for d in documents):
        # As `argo lint`: a run that found nothing to check fails.
        unreadable.append(
            Diagnostic(
                "error",
                documents[0].locate(("kind",)),
                "nothing to lint: no Workflow, WorkflowTemplate, ClusterWorkflowTemplate, "
                "CronWorkflow, ConfigMap, Secret or template here",
            )
        )
    # As `argo lint` without --offline: with a backend named (`--backend`, `-s`), its
    # WorkflowTemplates resolve references, and an Argo Server lints each manifest too.
    backend = None
    if not args.offline and (args.backend or args.argo_server):
        from jupyter_argo.cli_runs import backend_for

        backend = backend_for(args)
    store = getattr(backend, "template_store", None)
    templates = store(args.namespace) if callable(store) else None
    # One call, so WorkflowTemplates in one file resolve references from another.
    diagnostics = unreadable + lint(documents, strict=args.strict, templates=templates)
    server_lint = getattr(backend, "server_lint", None)
    if callable(server_lint) and not any(d.severity == "error" for d in diagnostics):
        for document in documents:
            try:
                server_lint(document.body, args.namespace)
            except UserError as err:
                location = document.locate(())
                diagnostics.append(Diagnostic("error", location, str(err)))
    order = {str(file): i for i, file in enumerate(files)}
    diagnostics.sort(key=lambda d: order.get(d.location.file, len(order)))
    shown = [d for d in diagnostics if args.verbose or d.severity != "note"]
    for diagnostic in shown:
        print(diagnostic)
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = sum(d.severity == "warning" for d in diagnostics)
    print(
        f"{_count(len(files), 'file')}, {_count(len(documents), 'manifest')}: "
        f"{_count(errors, 'error')}, {_count(warnings, 'warning')}"
    )
    return 1 if errors else 0


def _doctor(args: argparse.Namespace) -> int:
    """Check the local store and mend it (see `jupyter_argo.engine.store.doctor`)."""
    from pathlib import Path

    from jupyter_argo.engine.store import doctor

    report = doctor(Path(args.home) if args.home else None)
    for line in report.lines:
        print(line)
    return 0 if report.healthy else 1


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `jupyter-argo` parser; with `command`, one that knows that subcommand only (what
    `main` parses a command line with: building all twenty costs more than the rest of a
    short command's start), or the whole parser if there is no such subcommand."""
    import argparse

    from jupyter_argo.cli_runs import add_backend_flags
    from jupyter_argo.cli_runs import register as register_run_commands

    parser = argparse.ArgumentParser(prog="jupyter-argo", description=__doc__)
    parser.add_argument("--version", action="version", version=f"jupyter-argo {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    built: list[str] = []

    def wanted(name: str) -> bool:
        if command is not None and name != command:
            return False
        built.append(name)
        return True

    if wanted("lint"):
        lint = commands.add_parser(
            "lint",
            help="check manifests as strictly as `argo lint --strict`",
            description="Check Argo manifests: files, or directories searched for *.yaml, "
            "*.yml and *.json. Exits 0 when there are no errors, 1 otherwise.",
        )
        lint.add_argument("paths", nargs="+", metavar="PATH")
        lint.add_argument(
            "--strict",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="unknown fields are errors (default); --no-strict makes them warnings",
        )
        lint.add_argument(
            "--offline",
            action="store_true",
            help="as `argo lint --offline`: with a --backend, lint here only",
        )
        add_backend_flags(lint)
        lint.add_argument(
            "-v", "--verbose", action="store_true", help="also show notes (e.g. skipped objects)"
        )
        lint.set_defaults(func=_lint)
    if wanted("doctor"):
        doctor = commands.add_parser(
            "doctor",
            help="check the local store and rebuild its index from the runs on disk",
            description="Check the local engine's store (JUPYTER_ARGO_HOME). A damaged "
            "store.sqlite3 is moved aside (the applied objects it still holds are copied out) "
            "and the index of runs rebuilt from each run's workflow.json; a sound store gets "
            "back any run it lacks. Exits 0 when the store was sound, 1 when it was mended.",
        )
        doctor.add_argument(
            "--home", help="the data directory (default: $JUPYTER_ARGO_HOME, else the user's)"
        )
        doctor.set_defaults(func=_doctor)
    register_run_commands(commands, wanted)
    # `cp` and `cron` have modules of their own, loaded for their command only.
    if command in (None, "cp"):
        from jupyter_argo.cli_cp import register as register_cp_command

        register_cp_command(commands, wanted)
    if command in (None, "cron"):
        from jupyter_argo.cli_cron import register as register_cron_command

        register_cron_command(commands, wanted)
    if command is not None and not built:
        return build_parser()  # no such subcommand: the whole parser says so, listing all
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Parsing imports the command's modules; they live until exit (see _collector).
    with collector_off(freeze=True):
        from jupyter_argo.cli_runs import go_booleans
        from jupyter_argo.errors import ArgoError

        words = go_booleans(sys.argv[1:] if argv is None else argv)
        # The subcommand is the first word that is no option (the parser has none that
        # takes a value).
        command = next((word for word in words if not word.startswith("-")), None)
        args = build_parser(command).parse_args(words)
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # here, so a reader gone is seen here, not at exit
    except ArgoError as err:
        print(f"jupyter-argo: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError as err:
        from jupyter_argo.cli_runs import closed_pipe

        return closed_pipe(err)
    return code


if __name__ == "__main__":
    sys.exit(main())
