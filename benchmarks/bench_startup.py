"""Start-up near the floor (issue 16 item 1): what a command costs on top of its work.

`jupyter-argo run` of a one-step workflow (a container `echo hello`): target at most
150 ms of wall time on top of the step itself. The command is started as its console
script starts it (`from jupyter_argo.cli import main; sys.exit(main())`, the package found
on PYTHONPATH, with its bytecode cached as an installed package has it, from a directory
of its own) and waited for to exit, with a data directory of its own made by a first,
unmeasured run. The step's own
cost is a bare spawn of the same command (`echo hello`, started and waited for from
here), so everything else counts: the interpreter (`python -c pass`, also shown), imports,
parse, lint, the engine's threads and store, the step's sandbox (the default isolation),
watching, printing and exit. The three are interleaved round by round, so a busy machine
slows each alike; the value is the difference of the medians.

`%load_ext jupyter_argo`: target at most 30 ms, timed inside a fresh IPython (a new
interpreter each time, IPython itself already imported): just the `load_ext` call.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._result import Result

REPETITIONS = 15
RUN_TARGET_MS = 150.0
LOAD_EXT_TARGET_MS = 30.0
REPO = Path(__file__).resolve().parent.parent

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: one-step-
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine
      command: [echo, hello]
"""
STEP = ["echo", "hello"]
# What the `jupyter-argo` console script runs.
CONSOLE_SCRIPT = "import sys; from jupyter_argo.cli import main; sys.exit(main())"
LOAD_EXT = (
    "import time\n"
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "shell = InteractiveShell.instance()\n"
    "begin = time.perf_counter()\n"
    "shell.run_line_magic('load_ext', 'jupyter_argo')\n"
    "print(time.perf_counter() - begin)\n"
    "assert 'argo' in shell.magics_manager.magics['cell']\n"
)


def _environment(home: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "JUPYTER_ARGO_HOME": home}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode
    return env


def _wall(command: list[str], env: dict[str, str], cwd: str) -> float:
    begin = time.perf_counter()
    subprocess.run(
        command,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        # A directory of its own: not the checkout (nothing found by accident), and not
        # the shared temporary directory, which `-c` would put first on sys.path, where
        # every import and the schema's version lookup list it (thousands of entries on
        # a busy machine). The console script has its own bin directory there instead.
        cwd=cwd,
    )
    return time.perf_counter() - begin


def _one_step_run() -> Result:
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        env = _environment(str(Path(tmp) / "home"))
        manifest = Path(tmp) / "one-step.yaml"
        manifest.write_text(WORKFLOW)
        command = [sys.executable, "-c", CONSOLE_SCRIPT, "run", str(manifest)]
        _wall(command, env, tmp)  # the data directory, the field table cache, bytecode
        runs: list[float] = []
        steps: list[float] = []
        floors: list[float] = []
        for _ in range(REPETITIONS):
            runs.append(_wall(command, env, tmp))
            steps.append(_wall(STEP, env, tmp))
            floors.append(_wall([sys.executable, "-c", "pass"], env, tmp))
    run, step, floor = (statistics.median(v) * 1000 for v in (runs, steps, floors))
    isolation = os.environ.get("JUPYTER_ARGO_ISOLATION") or "auto"
    detail = (
        f"run {run:.0f} ms (fastest {min(runs) * 1000:.0f}), the step alone {step:.1f} ms, "
        f"python -c pass {floor:.0f} ms, isolation {isolation}; medians of {REPETITIONS}"
    )
    return Result(
        "jupyter-argo run, one step, above the step", run - step, "ms", RUN_TARGET_MS, detail=detail
    )


def _load_ext() -> Result:
    home = tempfile.mkdtemp(prefix="bench-load-ext-")
    env = _environment(home)
    times: list[float] = []
    for _ in range(REPETITIONS):
        done = subprocess.run(
            [sys.executable, "-c", LOAD_EXT],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            cwd=home,  # as a notebook's own directory (see _wall)
        )
        times.append(float(done.stdout) * 1000)
    value = statistics.median(times)
    detail = f"fastest {min(times):.0f} ms; median of {REPETITIONS} fresh IPython shells"
    return Result("%load_ext jupyter_argo", value, "ms", LOAD_EXT_TARGET_MS, detail=detail)


def run() -> list[Result]:
    return [_one_step_run(), _load_ext()]
