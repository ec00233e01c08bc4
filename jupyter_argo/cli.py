"""The `jupyter-argo` command (also `jupyter argo`). Subcommands mirror the `argo` CLI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jupyter_argo._version import __version__
from jupyter_argo.errors import ArgoError

__all__ = ["main"]


def _lint(args: argparse.Namespace) -> int:
    from jupyter_argo.spec.parse import parse_file

    for path in args.paths:
        parse_file(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jupyter-argo", description=__doc__)
    parser.add_argument("--version", action="version", version=f"jupyter-argo {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lint = commands.add_parser("lint", help="check manifests as strictly as `argo lint --strict`")
    lint.add_argument("paths", nargs="+", metavar="PATH")
    lint.set_defaults(func=_lint)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ArgoError as err:
        print(f"jupyter-argo: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
