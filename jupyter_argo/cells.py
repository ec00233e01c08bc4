"""What a `%%argo` cell holds, told apart without extra syntax, and its checks.

    Workflow (one or several documents)          submitted and run
    WorkflowTemplate, ClusterWorkflowTemplate,
    CronWorkflow, ConfigMap, Secret              applied to the backend's store
    bare templates (a mapping or a list)         added to the notebook's template library
    Python                                       a script template (one step, stdout = result)

YAML is tried first: a JSON or YAML manifest is never mistaken for Python. Text that is
not a manifest but parses as Python (`ast.parse`, never run here) is a script. Line
numbers in messages count from the cell's first line, the `%%argo` line, as the editor
shows them.
"""

from __future__ import annotations

import ast
import copy
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from jupyter_argo.errors import Location, ParseError, UserError
from jupyter_argo.library import TemplateLibrary

if TYPE_CHECKING:  # the parser and linter load with the first cell, not with %load_ext
    from jupyter_argo.spec import Diagnostic, Document, TemplateStore

__all__ = [
    "APPLY_KINDS",
    "Cell",
    "check",
    "check_python",
    "document",
    "from_object",
    "python_workflow",
    "read",
    "script_template",
    "with_options",
]

APPLY_KINDS = ("WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow", "ConfigMap", "Secret")
PYTHON_TEMPLATE = "python"
_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_][-A-Za-z0-9_.]*$")
_ARTIFACT_NAME = re.compile(r"^[-A-Za-z0-9_]+$")  # as Argo's validation checks it


@dataclass(frozen=True)
class Cell:
    """The parsed content of one cell: YAML documents, or Python source."""

    documents: list[Document] = field(default_factory=list)
    python: str | None = None
    file: str = "<cell>"

    @property
    def workflows(self) -> list[Document]:
        return [d for d in self.documents if d.kind == "Workflow"]

    @property
    def applied(self) -> list[Document]:
        return [d for d in self.documents if d.kind in APPLY_KINDS]

    @property
    def templates(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for document in self.documents:
            if document.kind == "Template":
                out.extend(t for _, t in document.templates())
        return out


def read(text: str, *, file: str = "<cell>", first_line: int = 2) -> Cell:
    """Parse a cell's body, whose first line is line `first_line` of the editor's cell."""
    from jupyter_argo.spec import parse_text

    padded = "\n" * max(0, first_line - 1) + text
    try:
        documents = parse_text(padded, file)
    except ParseError:
        if _is_python(padded):
            return Cell(python=text, file=file)
        raise
    for document in documents:
        if document.kind == "Other":
            what = f"{document.body.get('kind')} {document.name!r}".rstrip(" '")
            raise UserError(
                f"{what} is not something %%argo runs or stores (Workflow, "
                f"{', '.join(APPLY_KINDS)}, or templates)",
                document.locate(("kind",)),
            )
    return Cell(documents=documents, file=file)


def _is_python(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    # `key: value` lines are valid Python (bare annotations), but they are YAML in spirit.
    return bool(tree.body) and not all(
        isinstance(s, ast.AnnAssign) and s.value is None for s in tree.body
    )


def check(
    cell: Cell, library: TemplateLibrary, store: TemplateStore | None = None
) -> list[Diagnostic]:
    """Lint the cell as it will run: workflows with the library templates they use, and
    bare templates beside the library's (so they may call those)."""
    from jupyter_argo.spec import lint

    scope = library.copy()
    scope.add(cell.templates)
    found: list[Diagnostic] = []
    others: list[Document] = []
    for document in cell.documents:
        if document.kind == "Template":
            found.extend(_check_templates(document, scope, store))
        elif document.kind == "Workflow":
            others.append(replace(document, body=scope.complete(document.body)))
        else:
            others.append(document)
    if others:
        found.extend(lint(others, templates=store))
    return found


_INDEX = re.compile(r"^\[(\d+)\]")


def _check_templates(
    document: Document, scope: TemplateLibrary, store: TemplateStore | None
) -> list[Diagnostic]:
    # One list: the document's templates, then the rest of the scope; findings in the
    # scope's part belong to cells that were checked when they ran.
    from jupyter_argo.spec import lint

    body = document.body
    own = body if isinstance(body, list) else [body]
    positions, key_positions = document.positions, document.key_positions
    if not isinstance(body, list):
        positions = {(0, *k): v for k, v in positions.items()}
        key_positions = {(0, *k): v for k, v in key_positions.items()}
    names = {t.get("name") for t in own if isinstance(t, dict)}
    extra = [scope.get(n) for n in scope if n not in names]
    combined = replace(
        document, body=[*own, *extra], positions=positions, key_positions=key_positions
    )
    out = []
    for diagnostic in lint([combined], templates=store):
        index = _INDEX.match(diagnostic.location.path)
        if index is None or int(index[1]) < len(own):
            out.append(diagnostic)
    return out


# ---- Python cells --------------------------------------------------------------------


def check_python(source: str, *, file: str = "<cell>", first_line: int = 2) -> None:
    """Raise ParseError, at the editor's line, if `source` is not Python."""
    try:
        ast.parse("\n" * max(0, first_line - 1) + source)
    except SyntaxError as err:
        raise ParseError(
            f"not valid Python: {err.msg}", Location(file, err.lineno, err.offset)
        ) from None


def default_image() -> str:
    """The Python image matching this kernel's Python (the local engine runs it here)."""
    return f"python:{sys.version_info.major}.{sys.version_info.minor}"


def _parameter(
    text: str, flag: str, where: Location | None = None, *, artifact: bool = False
) -> tuple[str, str | None]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if artifact and not _ARTIFACT_NAME.match(name):
        expected = "an artifact name (letters, digits, - _)"
    elif not _PARAMETER_NAME.match(name):
        expected = "a parameter name (letters, digits, - _ .)"
    else:
        return name, (value if sep else None)
    raise UserError(f"{flag} {text!r}: expected {expected}", where)


def script_template(
    name: str,
    source: str,
    *,
    image: str | None = None,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    input_artifacts: Sequence[str] = (),
    output_artifacts: Sequence[str] = (),
    file: str = "<cell>",
) -> dict[str, Any]:
    """A Python script template. `inputs` are `P` or `P=DEFAULT`; `outputs` are `P=PATH`
    (the parameter's value is read from the file at PATH when the script ends);
    `input_artifacts` are `A=PATH` (the artifact the caller passes is placed at PATH
    before the script starts) and `output_artifacts` `A=PATH` (the file or directory the
    script leaves at PATH is saved as artifact A). A wrong flag is an error located on the
    cell's first line, the `%%argo` line."""
    where = Location(file, 1)
    template: dict[str, Any] = {"name": name}
    declared: list[dict[str, Any]] = []
    for text in inputs:
        param, default = _parameter(text, "--input", where)
        declared.append({"name": param} if default is None else {"name": param, "value": default})
    produced: list[dict[str, Any]] = []
    for text in outputs:
        param, path = _parameter(text, "--output", where)
        if not path:
            raise UserError(
                f"--output {text!r}: expected NAME=PATH (the file holding the value)", where
            )
        produced.append({"name": param, "valueFrom": {"path": path}})
    taken = [_artifact(text, "--input-artifact", where) for text in input_artifacts]
    given = [_artifact(text, "--output-artifact", where) for text in output_artifacts]
    for flag, items in (
        ("--input", declared),
        ("--output", produced),
        ("--input-artifact", taken),
        ("--output-artifact", given),
    ):
        _unique(flag, items, where)
    inputs_section = {k: v for k, v in (("parameters", declared), ("artifacts", taken)) if v}
    outputs_section = {k: v for k, v in (("parameters", produced), ("artifacts", given)) if v}
    if inputs_section:
        template["inputs"] = inputs_section
    if outputs_section:
        template["outputs"] = outputs_section
    template["script"] = {
        "image": image or default_image(),
        "command": ["python"],
        "source": source,
    }
    return template


def _artifact(text: str, flag: str, where: Location) -> dict[str, Any]:
    name, path = _parameter(text, flag, where, artifact=True)
    if not path or not path.startswith("/"):
        raise UserError(
            f"{flag} {text!r}: expected NAME=PATH, PATH absolute (where the script "
            f"{'reads' if flag == '--input-artifact' else 'writes'} the file or directory)",
            where,
        )
    return {"name": name, "path": path}


def _unique(flag: str, items: Sequence[Mapping[str, Any]], where: Location) -> None:
    seen: set[str] = set()
    for item in items:
        if item["name"] in seen:
            raise UserError(f"{flag} {item['name']!r} is given twice: names must be unique", where)
        seen.add(item["name"])


def python_workflow(
    source: str, parameters: Mapping[str, str], *, image: str | None = None
) -> dict[str, Any]:
    """A bare Python cell as a one-step Workflow: each `-p NAME=VALUE` becomes an input
    parameter of the step, which the source reads as `{{inputs.parameters.NAME}}`."""
    template = script_template(PYTHON_TEMPLATE, source, image=image, inputs=list(parameters))
    spec: dict[str, Any] = {"entrypoint": PYTHON_TEMPLATE, "templates": [template]}
    if parameters:
        spec["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in parameters.items()]}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": f"{PYTHON_TEMPLATE}-"},
        "spec": spec,
    }


def template_workflow(template: Mapping[str, Any]) -> dict[str, Any]:
    """A Workflow running one template (`%argo submit` of a template object)."""
    name = str(template.get("name") or "main")
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": f"{name}-"},
        "spec": {"entrypoint": name, "templates": [copy.deepcopy(dict(template))]},
    }


# ---- objects from the namespace (`%argo submit VAR`) -----------------------------------


def document(body: Any, *, file: str = "<cell>") -> Document:
    """A Document for a manifest or template(s) made in Python (no source positions)."""
    from jupyter_argo.spec import Document

    if isinstance(body, list) or (isinstance(body, Mapping) and "kind" not in body):
        return Document("Template", body, file, 0, 1)
    return Document(str(body.get("kind")), dict(body), file, 0, 1)


def from_object(value: Any, *, file: str) -> Cell:
    """A cell's content from a variable: a Hera Workflow, WorkflowTemplate or template
    (a template runs as a one-step workflow), a manifest dict, or YAML text."""
    if isinstance(value, str):
        return read(value, file=file, first_line=1)
    manifest = _hera_manifest(value) if _is_hera(value) else value
    if not isinstance(manifest, Mapping):
        raise UserError(
            f"{file} is a {type(value).__name__}: expected a Hera Workflow or template, "
            "a manifest dict, or YAML text"
        )
    if "kind" not in manifest:
        if not isinstance(manifest.get("name"), str):
            raise UserError(f"{file}: a manifest needs `kind`; a template needs `name`")
        manifest = template_workflow(manifest)
    kind = manifest.get("kind")
    if kind != "Workflow" and kind not in APPLY_KINDS:
        raise UserError(f"{file} is a {kind}: %argo submit takes a Workflow or a template")
    return Cell(documents=[document(manifest, file=file)], file=file)


def _is_hera(value: Any) -> bool:
    module = getattr(type(value), "__module__", "") or ""
    wrapped = getattr(value, "wrapped_function", None)  # a Hera @script function
    return module.startswith("hera.") or (wrapped is not None and _hera_script(value) is not None)


def _hera_script(function: Any) -> Any:
    # Hera's @script keeps its Script object in the wrapper's closure, nowhere else.
    for cell in getattr(function, "__closure__", None) or ():
        contents = cell.cell_contents
        if type(contents).__module__.startswith("hera.") and hasattr(contents, "_build_template"):
            return contents
    return None


def _hera_manifest(value: Any) -> dict[str, Any]:
    if callable(getattr(value, "to_dict", None)):
        return dict(value.to_dict())
    template = value if hasattr(value, "_build_template") else _hera_script(value)
    if template is None:
        raise UserError(f"a {type(value).__name__} from Hera is not a workflow or a template")
    built = template._build_template()
    return dict(built.model_dump(exclude_none=True, by_alias=True))


# ---- options on the magic line ---------------------------------------------------------


def parameters(pairs: Iterable[str]) -> dict[str, str]:
    """`-p NAME=VALUE` options as a dict, in order."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, value = _parameter(pair, "-p")
        if value is None:
            raise UserError(f"-p {pair}: expected NAME=VALUE")
        out[name] = value
    return out


def with_options(
    manifest: Mapping[str, Any],
    *,
    parameters: Mapping[str, str] | None = None,
    entrypoint: str | None = None,
    name: str | None = None,
    generate_name: str | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    """The manifest as `argo submit` with these options would create it (for `--dry-run`)."""
    out = copy.deepcopy(dict(manifest))
    meta = out.setdefault("metadata", {})
    if namespace:
        meta["namespace"] = namespace
    if name:
        meta["name"] = name
        meta.pop("generateName", None)
    elif generate_name:
        meta["generateName"] = generate_name
        meta.pop("name", None)
    spec = out.setdefault("spec", {})
    if entrypoint:
        spec["entrypoint"] = entrypoint
    if parameters:
        declared = spec.setdefault("arguments", {}).setdefault("parameters", [])
        known = {p.get("name"): p for p in declared if isinstance(p, dict)}
        for key, value in parameters.items():
            if key in known:
                known[key]["value"] = value
                known[key].pop("valueFrom", None)
            elif spec.get("workflowTemplateRef"):
                declared.append({"name": key, "value": value})  # declared by the template
            else:
                choices = ", ".join(str(n) for n in known) or "none declared"
                raise UserError(f"parameter '{key}' is not a workflow argument (known: {choices})")
    return out
