"""Linting all of Argo's examples in one process.

Target (issue 2): under 2 s for every file after the first. The first file also pays
for loading the field table (from its cache, built beforehand if missing), reported on
its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks._result import Result

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "argo" / "examples"
TARGET_S = 2.0

_MEASURE = """
import json, sys, time
from pathlib import Path
begin = time.perf_counter()
from jupyter_argo.spec.lint import lint
from jupyter_argo.spec.parse import parse_file
files = sorted(p for p in Path(sys.argv[1]).rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
lint(parse_file(files[0]))
first = time.perf_counter() - begin
begin = time.perf_counter()
documents = 0
for file in files[1:]:
    found = parse_file(file)
    documents += len(found)
    lint(found)
rest = time.perf_counter() - begin
print(json.dumps({"first": first, "rest": rest, "files": len(files), "documents": documents}))
"""


def run() -> list[Result]:
    if not EXAMPLES.is_dir():
        print(f"skip bench_lint: Argo's examples are not at {EXAMPLES}")
        return []
    # Build the field table's cache first, so the first file only reads it.
    build = "from jupyter_argo.spec.schema import field_table; field_table()"
    subprocess.run([sys.executable, "-c", build], check=True)
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(EXAMPLES)], check=True, capture_output=True, text=True
    )
    numbers = json.loads(out.stdout)
    return [
        Result(
            "lint Argo's examples after the first file",
            numbers["rest"],
            "s",
            TARGET_S,
            detail=f"{numbers['files'] - 1} files, {numbers['documents']} manifests",
        ),
        Result(
            "lint the first file (imports, field table from cache)",
            numbers["first"],
            "s",
            1.0,
        ),
    ]
