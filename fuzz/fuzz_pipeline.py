"""`make fuzz`: coverage-guided fuzzing (atheris, libFuzzer) of parse -> lint -> submit.

Every input is YAML text: parsed as a cell is, linted, and every Workflow in it submitted
to a local backend as the Python API does (no lint in between) and followed to its end.
A finding is anything a user must never see: an exception that is not one of our one-line
errors (`ArgoError`), a run that ends in an "internal error", or a run still going after
its time and a terminate. A hang is libFuzzer's `-timeout`. The corpus is kept under
~/.cache/jupyter-argo/fuzz-corpus (seeded with Argo's upstream examples from ../shared when
present) so each session starts where the last one stopped; what it finds goes to
~/.cache/jupyter-argo/fuzz-findings (replay one: `fuzz/fuzz_pipeline.py FILE`).

    .venv/bin/python fuzz/fuzz_pipeline.py [libFuzzer flags]   # default: 10 minutes
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from jupyter_argo.backends.local import LocalBackend
    from jupyter_argo.errors import ArgoError
    from jupyter_argo.spec.lint import lint
    from jupyter_argo.spec.parse import parse_text

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO.parent / "shared" / "argo" / "examples"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jupyter-argo"
CORPUS = CACHE / "fuzz-corpus"
FINDINGS = CACHE / "fuzz-findings"  # crash-*, timeout-*, slow-unit-* inputs
RUN_SECONDS = 5.0  # a run's time before it is terminated (the examples sleep)
END_SECONDS = 10.0  # a terminated run's time to end

_home = Path(tempfile.mkdtemp(prefix="jupyter-argo-fuzz-"))
_backend = LocalBackend(home=_home / "store")


class Finding(Exception):
    """What the fuzzer reports: a behaviour no input may cause."""


def one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        documents = parse_text(text, "fuzz.yaml")
    except ArgoError:
        return  # refused with one located line: what a user should get
    with contextlib.suppress(ArgoError):  # findings are for the user; crashes are ours
        lint(documents)
    for document in documents:
        if document.kind != "Workflow":
            continue
        try:
            created = _backend.submit(document.body)
        except ArgoError:
            continue
        name = created["metadata"]["name"]
        final = _backend.wait(name, timeout=RUN_SECONDS)
        status = final.get("status") or {}
        if status.get("phase") not in ("Succeeded", "Failed", "Error"):
            _backend.terminate(name)
            status = _backend.wait(name, timeout=END_SECONDS).get("status") or {}
            if status.get("phase") not in ("Succeeded", "Failed", "Error"):
                raise Finding(f"{name} still {status.get('phase')} after terminate")
        message = str(status.get("message") or "")
        if "internal error" in message:
            raise Finding(f"{name}: {message}")
        _backend.delete(name, force=True)


def _seed() -> None:
    CORPUS.mkdir(parents=True, exist_ok=True)
    if any(CORPUS.iterdir()) or not EXAMPLES.is_dir():
        return
    for i, example in enumerate(sorted(EXAMPLES.rglob("*.yaml"))):
        shutil.copyfile(example, CORPUS / f"example-{i:04d}.yaml")


def main() -> None:
    _seed()
    FINDINGS.mkdir(parents=True, exist_ok=True)
    given = sys.argv[1:]
    if given and all(Path(a).is_file() for a in given):
        atheris.Setup([sys.argv[0], *given], one_input)  # replay these inputs
    else:
        flags = given or ["-max_total_time=600", "-timeout=60", "-rss_limit_mb=4096"]
        flags = [f"-artifact_prefix={FINDINGS}/", *flags]
        atheris.Setup([sys.argv[0], str(CORPUS), *flags], one_input)
    try:
        atheris.Fuzz()
    finally:
        shutil.rmtree(_home, ignore_errors=True)


if __name__ == "__main__":
    main()
