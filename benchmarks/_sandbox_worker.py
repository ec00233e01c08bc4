"""One side of bench_sandbox: steps of whichever jupyter_argo is first on PYTHONPATH.

Reads a count per line on stdin, answers with that many paired step-minus-spawn times
(ms) as one JSON line. A script, not a module of the package, so that the code measured
is the one PYTHONPATH names (the project's, or the tree from before the sandbox).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jupyter_argo
from jupyter_argo.executors import ContainerSpec, ProcessExecutor, SandboxSpec

SHELL = ["sh", "-c", "true"]


def main(mode: str, declared: list[str]) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-sandbox-", dir="/dev/shm"))
    executor = ProcessExecutor(isolation=mode)
    container = ContainerSpec("main", "busybox", SHELL, [], {})
    counter = iter(range(10**9))

    def step() -> None:
        node = work / f"n{next(counter)}"
        sandbox = executor.prepare(SandboxSpec(node, declared))
        process = executor.start(
            container, sandbox, stdout_path=node / "stdout", log_path=node / "log"
        )
        process.wait()
        sandbox.cleanup()

    def bare() -> None:
        subprocess.Popen(SHELL).wait()

    print(json.dumps({"package": jupyter_argo.__file__}), flush=True)
    for line in sys.stdin:
        extras = []
        for _ in range(int(line)):
            start = time.perf_counter()
            bare()
            middle = time.perf_counter()
            step()
            end = time.perf_counter()
            extras.append(((end - middle) - (middle - start)) * 1e3)
        print(json.dumps(extras), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
