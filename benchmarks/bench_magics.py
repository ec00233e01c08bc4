"""A one-step `%%argo` cell, from executing it to its bound result (issue 5).

Target: at most 150 ms above the step's own run time. The step is a Python script
(`print(42)`); its own run time is that of `python -c "print(42)"` started directly, so
everything else (parse, lint, submit, sandbox, watch, bind) counts as overhead. The cell runs
in an in-process IPython shell with the extension loaded, after one warm-up cell (the
first loads the engine and lint's field table); medians of several runs are compared.
`%load_ext` itself is measured by bench_import.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks._result import Result

REPETITIONS = 15
TARGET_MS = 150.0
CELL = "%%argo --bind --no-view\nprint(42)\n"


def _step_alone() -> float:
    begin = time.perf_counter()
    subprocess.run([sys.executable, "-c", "print(42)"], check=True, capture_output=True)
    return time.perf_counter() - begin


def _in_kernel() -> tuple[float, float]:
    """Medians (cell, step alone) in a real kernel, where the cell shows the live view."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.execute_interactive("%load_ext jupyter_argo", timeout=60)
        cell = "%%argo --bind\nprint(42)\n"
        client.execute_interactive(cell, timeout=60, output_hook=lambda _: None)  # warm-up
        cells: list[float] = []
        steps: list[float] = []
        for _ in range(REPETITIONS):
            begin = time.perf_counter()
            reply = client.execute_interactive(cell, timeout=60, output_hook=lambda _: None)
            cells.append(time.perf_counter() - begin)
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"the cell failed: {reply['content']}")
            steps.append(_step_alone())
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return statistics.median(cells), statistics.median(steps)


def run() -> list[Result]:
    from IPython.core.interactiveshell import InteractiveShell

    previous = os.environ.get("JUPYTER_ARGO_HOME")
    os.environ["JUPYTER_ARGO_HOME"] = tempfile.mkdtemp(prefix="bench-magics-")
    shell = InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "jupyter_argo")
        cells: list[float] = []
        steps: list[float] = []
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            shell.run_cell(CELL).raise_error()  # warm-up
            for _ in range(REPETITIONS):
                shell.user_ns.pop("result", None)
                begin = time.perf_counter()
                shell.run_cell(CELL).raise_error()  # the Run's table is printed too
                cells.append(time.perf_counter() - begin)
                if shell.user_ns.get("result") != "42":
                    raise RuntimeError(f"the cell bound {shell.user_ns.get('result')!r}, not 42")
                steps.append(_step_alone())
        kernel = _in_kernel()  # started here: it inherits the bench's data directory
    finally:
        InteractiveShell.clear_instance()
        if previous is None:
            os.environ.pop("JUPYTER_ARGO_HOME", None)
        else:
            os.environ["JUPYTER_ARGO_HOME"] = previous
    results = []
    for where, (cell, step) in (
        ("terminal IPython, text progress", (statistics.median(cells), statistics.median(steps))),
        ("kernel, live view", kernel),
    ):
        detail = (
            f"cell {cell * 1000:.0f} ms, python -c alone {step * 1000:.0f} ms, "
            f"median of {REPETITIONS}"
        )
        name = f"one-step %%argo cell to bound result ({where})"
        results.append(Result(name, (cell - step) * 1000, "ms", TARGET_MS, detail=detail))
    return results
