from __future__ import annotations

import time

import pytest

from jupyter_argo.errors import ParseError
from jupyter_argo.spec.parse import MAX_DEPTH, format_path, parse_text

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: busybox
      command: [echo, hi]
"""


def test_workflow_keeps_positions() -> None:
    (doc,) = parse_text(WORKFLOW, "wf.yaml")
    assert doc.kind == "Workflow"
    assert doc.name == "hello-"
    loc = doc.locate(("spec", "templates", 0, "container", "image"))
    assert (loc.file, loc.line, loc.column) == ("wf.yaml", 10, 14)
    assert str(doc.locate(("spec", "templates", 0, "container"), key=True)).startswith(
        "wf.yaml:9:5: spec.templates[0].container"
    )
    # A path that does not exist falls back to its nearest ancestor's position.
    assert doc.locate(("spec", "templates", 0, "nope")).line == 8


def test_several_documents_and_kinds() -> None:
    text = WORKFLOW + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
    text += "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: p}\n"
    kinds = [d.kind for d in parse_text(text)]
    assert kinds == ["Workflow", "ConfigMap", "Other"]


def test_bare_templates() -> None:
    (one,) = parse_text("name: t\ncontainer: {image: alpine}\n")
    assert one.kind == "Template"
    assert [p for p, _ in one.templates()] == [()]
    (many,) = parse_text(
        "- name: a\n  script: {image: python, source: x}\n- name: b\n  steps: []\n"
    )
    assert [p for p, _ in many.templates()] == [(0,), (1,)]


def test_octal_mode_and_dates_as_argo_reads_them() -> None:
    (doc,) = parse_text("name: t\ncontainer: {image: a}\nmode: 0755\nwhen: 2024-01-01\n")
    assert doc.body["mode"] == 0o755
    assert doc.body["when"] == "2024-01-01"


def test_duplicate_key_is_a_warning_last_wins() -> None:
    (doc,) = parse_text("name: t\ncontainer: {image: a}\nname: u\n")
    assert doc.body["name"] == "u"
    ((loc, message),) = doc.warnings
    assert loc.line == 3
    assert "duplicate key 'name'" in message


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("", "empty", None),
        ("   \n# only a comment\n", "empty", None),
        ("a: [1, 2\nb: 3", "invalid YAML", 2),
        ("hello", "is a string, not a manifest", 1),
        ("- 1\n- 2\n", "a list must hold templates", 1),
        ("a: !!python/object/apply:os.system [echo hi]", "is not allowed", 1),
        ("apiVersion: argoproj.io/v1alpha1\nkind: Workflw\n", "did you mean Workflow?", 2),
        ("kind: Gadget\n", "unknown kind 'Gadget'", 1),
        ("metadata: {name: x}\n", "no `kind`", 1),
        ("apiVersion: v1\nkind: Workflow\n", "is not Argo's", 1),
    ],
)
def test_bad_input_is_one_clear_line(text: str, message: str, line: int | None) -> None:
    with pytest.raises(ParseError) as info:
        parse_text(text, "cell")
    rendered = str(info.value)
    assert message in rendered
    assert "\n" not in rendered
    assert info.value.location is not None
    assert info.value.location.line == line


def test_binary_garbage() -> None:
    with pytest.raises(ParseError, match="not UTF-8"):
        parse_text(bytes(range(256)) * 4)


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    start = time.perf_counter()
    with pytest.raises(ParseError, match="alias bomb"):
        parse_text("\n".join(lines))
    assert time.perf_counter() - start < 1.0


def test_small_aliases_still_work() -> None:
    (doc,) = parse_text("name: t\ncontainer: &c {image: a}\nx: *c\n")
    assert doc.body["x"] == {"image": "a"}


@pytest.mark.parametrize("flow", [True, False])
def test_deep_nesting_is_refused_without_recursion_error(flow: bool) -> None:
    if flow:
        text = "[" * 20_000 + "]" * 20_000
    else:
        text = "".join(" " * i + "- \n" for i in range(MAX_DEPTH + 50))
    with pytest.raises(ParseError, match="nest"):
        parse_text(text)


def test_huge_document_is_refused_at_once() -> None:
    text = b'a: "' + b"x" * (50 * 1024 * 1024) + b'"'
    start = time.perf_counter()
    with pytest.raises(ParseError, match="too large"):
        parse_text(text)
    assert time.perf_counter() - start < 1.0


def test_format_path() -> None:
    assert format_path(("spec", "templates", 0, "retryStrategy", "limit")) == (
        "spec.templates[0].retryStrategy.limit"
    )
    assert format_path(("metadata", "annotations", "a.b/c")) == "metadata.annotations['a.b/c']"
