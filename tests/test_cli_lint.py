"""`jupyter-argo lint`: output, exit codes, and bad input as one readable line."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_argo.cli import main

CLEAN = """\
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
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["lint", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_clean_file_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "wf.yaml").write_text(CLEAN)
    code, out, err = run(capsys, str(tmp_path / "wf.yaml"))
    assert code == 0
    assert out == ["1 file, 1 manifest: 0 errors, 0 warnings"]
    assert err == ""


def test_findings_exit_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(CLEAN.replace("container:", "contaner:"))
    code, out, _ = run(capsys, str(path))
    assert code == 1
    assert out[0] == (
        f"{path}:9:5: spec.templates[0].contaner: unknown field 'contaner' in Template "
        "(did you mean 'container'?)"
    )
    assert out[-1] == "1 file, 1 manifest: 1 error, 0 warnings"


def test_directories_are_searched_and_linted_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The WorkflowTemplate in one file resolves the reference in the other.
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "template.yml").write_text(
        CLEAN.replace("kind: Workflow", "kind: WorkflowTemplate").replace(
            "generateName: hello-", "name: shared"
        )
    )
    user = CLEAN.replace(
        "    container:\n      image: busybox\n",
        "    steps:\n    - - name: a\n        templateRef: {name: shared, template: main}\n",
    )
    (tmp_path / "user.yaml").write_text(user)
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text("{{{")
    code, out, _ = run(capsys, str(tmp_path))
    assert (code, out) == (0, ["2 files, 2 manifests: 0 errors, 0 warnings"])
    # Alone, the reference is only a warning: nothing says the template does not exist.
    code, out, _ = run(capsys, str(tmp_path / "user.yaml"))
    assert code == 0
    assert "warning: WorkflowTemplate 'shared' is not known here" in out[0]


def test_notes_only_with_verbose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "all.yaml"
    path.write_text(CLEAN + "---\napiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\n")
    code, out, _ = run(capsys, str(path))
    assert (code, len(out)) == (0, 1)
    code, out, _ = run(capsys, "-v", "--offline", str(path))
    assert code == 0
    assert "note: ResourceQuota 'q' is not an Argo manifest: skipped" in out[0]


def test_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope.yaml"))
    assert code == 1
    assert err == f"jupyter-argo: {tmp_path / 'nope.yaml'}: no such file or directory\n"


def _alias_bomb() -> str:
    text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    names = "abcdefghijk"
    for previous, name in itertools.pairwise(names):
        text += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    return text


BAD_INPUTS = {
    "malformed": ("a: [1, 2\nb: 3", "invalid YAML"),
    "empty": ("", "empty"),
    "scalar": ("hello", "not a manifest"),
    "garbage": (bytes(range(256)) * 8, "not UTF-8 text"),
    "python-tag": ("a: !!python/object/apply:os.system [echo hi]\n", "is not allowed"),
    "alias-bomb": (_alias_bomb(), "alias bomb"),
    "deep": ("[" * 20000 + "]" * 20000, "nest"),
    "huge": ("a: " + "x" * 50_000_000 + "\n", "too large"),
    "wrong-kind": ("apiVersion: argoproj.io/v1alpha1\nkind: Workflw\n", "did you mean Workflow"),
    "not-argo": ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", "nothing to lint"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_readable_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, expected = BAD_INPUTS[case]
    path = tmp_path / f"{case}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    code, out, err = run(capsys, str(path))
    assert code == 1
    assert err == ""
    errors = [line for line in out if ": warning: " not in line and ": note: " not in line]
    assert len(errors) == 2, out  # the finding, and the summary line
    assert errors[0].startswith(f"{path}:")
    assert expected in errors[0]
    assert errors[1].endswith("1 error, 0 warnings") or "1 warning" in errors[1]


@pytest.mark.parametrize("command", ["jupyter-argo", "jupyter"])
def test_installed_commands(command: str, tmp_path: Path) -> None:
    # `jupyter argo lint` finds `jupyter-argo` on PATH, as Jupyter does for subcommands.
    bindir = Path(sys.executable).parent
    executable = shutil.which(command, path=str(bindir))
    if executable is None:
        pytest.skip(f"{command} is not installed in {bindir}")
    path = tmp_path / "wf.yaml"
    path.write_text(CLEAN.replace("busybox", "busybox\n    script: {image: x, source: y}"))
    args = [executable, *(["argo"] if command == "jupyter" else []), "lint", str(path)]
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(Path.home())}
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "multiple template types specified: container, script" in result.stdout
    assert "Traceback" not in result.stderr
    path.write_text(CLEAN)
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
