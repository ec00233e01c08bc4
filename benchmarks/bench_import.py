"""What `import jupyter_argo` and `%load_ext jupyter_argo` add to an IPython start.

Target (issue 2): at most 150 ms over a bare IPython start. Each start is a fresh
interpreter; the two kinds alternate, and the medians of several runs are compared.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from benchmarks._result import Result

REPETITIONS = 9
TARGET_MS = 150.0

BARE = (
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "shell = InteractiveShell.instance()\n"
)
WITH_EXTENSION = BARE + (
    "import jupyter_argo\n"
    "shell.run_line_magic('load_ext', 'jupyter_argo')\n"
    "assert 'jupyter_argo' in shell.extension_manager.loaded\n"
)


def _start(code: str) -> float:
    begin = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - begin


def run() -> list[Result]:
    _start(BARE)  # warm the OS file cache and __pycache__ for both
    _start(WITH_EXTENSION)
    bare: list[float] = []
    loaded: list[float] = []
    for _ in range(REPETITIONS):
        bare.append(_start(BARE))
        loaded.append(_start(WITH_EXTENSION))
    added = (statistics.median(loaded) - statistics.median(bare)) * 1000
    detail = (
        f"bare IPython {statistics.median(bare) * 1000:.0f} ms, with jupyter_argo "
        f"{statistics.median(loaded) * 1000:.0f} ms, median of {REPETITIONS}"
    )
    return [Result("import + %load_ext jupyter_argo", added, "ms", TARGET_MS, detail=detail)]
