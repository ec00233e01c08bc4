"""`jupyter-argo cp NAME DEST`: a run's output artifacts as local files, like `argo cp`.

The artifacts are chosen as `argo cp` chooses them (Argo's `Workflow.SearchArtifacts`):
every node's output artifacts, narrowed by `--artifact-name`, `--template-name` (the
node's `templateName`) and `--node-id`. Each goes to `DEST/<--path>`, whose placeholders
`{namespace}`, `{workflowName}`, `{nodeId}`, `{templateName}` and `{artifactName}` are
filled per artifact; the default is `argo cp`'s (see --path). Unlike `argo cp`, which
writes the stored object (`x.tgz`), the artifact arrives unpacked, under the name it had
in the container (the base name of its `path`). Artifacts that artifact GC has deleted
are skipped with a note.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import posixpath
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jupyter_argo.errors import UserError

__all__ = ["DEFAULT_PATH", "register"]

DEFAULT_PATH = "{namespace}/{workflowName}/{nodeId}/outputs/{artifactName}"
_PLACEHOLDERS = ("namespace", "workflowName", "nodeId", "templateName", "artifactName")


def search_artifacts(
    workflow: Mapping[str, Any],
    *,
    artifact_name: str = "",
    template_name: str = "",
    node_id: str = "",
) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(node, artifact) for each output artifact the filters keep, as `argo cp` finds them."""
    found: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    for node in nodes.values():
        if template_name and node.get("templateName") != template_name:
            continue
        if node_id and node.get("id") != node_id:
            continue
        for artifact in (node.get("outputs") or {}).get("artifacts") or []:
            if artifact_name and artifact.get("name") != artifact_name:
                continue
            found.append((node, artifact))
    return found


def _template_of(node: Mapping[str, Any]) -> str:
    """Argo's `GetTemplateFromNode`: the template name, or the templateRef's template."""
    if node.get("templateName"):
        return str(node["templateName"])
    return str((node.get("templateRef") or {}).get("template") or "")


def destination(
    dest: str, pattern: str, values: Mapping[str, str], file_name: str
) -> tuple[Path, Path]:
    """The directory the pattern names under `dest`, and the artifact's place in it."""
    for key, value in values.items():
        if "/" in value or "\\" in value or value in (".", ".."):
            raise UserError(f"{key} {value!r} cannot be part of a path")
        pattern = pattern.replace("{" + key + "}", value)
    directory = Path(dest) / pattern
    return directory, directory / file_name


def _file_name(artifact: Mapping[str, Any]) -> str:
    """The name the artifact had in its container; for a log, the stored object's name."""
    from jupyter_argo.artifacts import location_key

    path = str(artifact.get("path") or "")
    name = posixpath.basename(posixpath.normpath(path)) if path else ""
    if not name or name in (".", "..", "/"):
        name = posixpath.basename(location_key(artifact).rstrip("/"))
    if not name or name in (".", ".."):
        name = str(artifact.get("name") or "artifact")
    return name


def _place(fetched: Path, target: Path) -> None:
    """Move the fetched copy to `target`; a directory there is merged into."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if fetched.is_dir() and target.is_dir():
        shutil.copytree(fetched, target, dirs_exist_ok=True, symlinks=True)
    elif fetched.is_dir() != target.is_dir() and target.exists():
        kind = "a directory" if target.is_dir() else "a file"
        raise UserError(f"{target} is already {kind}")
    else:
        shutil.move(str(fetched), str(target))


def cmd_cp(args: argparse.Namespace) -> int:
    from jupyter_argo.backends.local import LocalBackend
    from jupyter_argo.cli_runs import resolve_name

    backend = LocalBackend(namespace=args.namespace)
    workflow = backend.get(resolve_name(backend, args.name, args.namespace))
    name = str(workflow["metadata"]["name"])
    namespace = str(workflow["metadata"].get("namespace") or args.namespace)
    found = search_artifacts(
        workflow,
        artifact_name=args.artifact_name,
        template_name=args.template_name,
        node_id=args.node_id,
    )
    if not found:
        print(f"{name}: no output artifacts match", file=sys.stderr)
    for node, artifact in found:
        values = {
            "namespace": namespace,
            "workflowName": name,
            "nodeId": str(node.get("id") or ""),
            "templateName": _template_of(node),
            "artifactName": str(artifact.get("name") or ""),
        }
        used = {k: v for k, v in values.items() if "{" + k + "}" in args.path}
        _, target = destination(args.dest, args.path, used, _file_name(artifact))
        if artifact.get("deleted"):
            print(
                f"{values['artifactName']} ({values['nodeId']}): deleted by artifact GC, skipped",
                file=sys.stderr,
            )
            continue
        fetched = backend.open_artifact(
            artifact, namespace, workflow=workflow, node=values["nodeId"] or None
        )
        try:
            _place(fetched, target)
        finally:
            if fetched.is_dir():
                shutil.rmtree(fetched, ignore_errors=True)
            elif fetched.exists():
                fetched.unlink()
            with contextlib.suppress(OSError):
                os.rmdir(fetched.parent)  # the fetch's own temporary directory, now empty
        print(f'Created "{target}"')
    return 0


def register(commands: Any, wanted: Callable[[str], bool] = lambda name: True) -> None:
    """Adds `cp` to the `jupyter-argo` parser (if `wanted`)."""
    if not wanted("cp"):
        return
    parser: argparse.ArgumentParser = commands.add_parser(
        "cp",
        help="copy a workflow's output artifacts to a local directory (like `argo cp`)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("name", metavar="NAME", help="the workflow")
    parser.add_argument("dest", metavar="DEST", help="the local directory to copy into")
    parser.add_argument("-n", "--namespace", default="default")
    parser.add_argument("--artifact-name", default="", help="only the artifact of this name")
    parser.add_argument("--template-name", default="", help="only nodes of this template")
    parser.add_argument("--node-id", default="", help="only the node of this ID")
    parser.add_argument(
        "--path",
        default=DEFAULT_PATH,
        help="where each artifact goes under DEST; placeholders: "
        + ", ".join("{" + p + "}" for p in _PLACEHOLDERS)
        + f" (default: {DEFAULT_PATH})",
    )
    parser.set_defaults(func=cmd_cp)
