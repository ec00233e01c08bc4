"""The peers' virtual environments: one per tool, pinned, under the cache, made once.

~/.cache/jupyter-argo/peers/<name>/ (or $XDG_CACHE_HOME/...) holds a venv with the pinned
requirements below and a stamp naming them; a venv whose stamp matches is reused, any other
is rebuilt. `chart` is not a peer: it holds matplotlib for drawing the chart, so the project
itself never depends on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# Pinned: a re-run measures the same releases. KFP's local runner needs no docker with
# SubprocessRunner; dflow's debug mode runs without Argo; Metaflow's local runtime is its default.
REQUIREMENTS: dict[str, list[str]] = {
    "kfp": ["kfp==2.17.3"],
    "metaflow": ["metaflow==2.19.39"],
    "dflow": ["pydflow==1.8.134"],
    "chart": ["matplotlib==3.11.2"],
}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jupyter-argo" / "peers"


def python(name: str) -> Path:
    """The interpreter of `name`'s venv (not necessarily made yet)."""
    return cache_dir() / name / "bin" / "python"


def ensure(name: str) -> Path:
    """Make `name`'s venv when it is missing or its pins changed; its interpreter."""
    root = cache_dir() / name
    stamp = root / ".installed"
    wanted = "\n".join(REQUIREMENTS[name]) + "\n"
    if stamp.is_file() and stamp.read_text() == wanted and python(name).exists():
        return python(name)
    print(f"peers: installing {' '.join(REQUIREMENTS[name])} into {root}", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(root)], check=True)
    pip = [str(python(name)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *REQUIREMENTS[name]], check=True)
    stamp.write_text(wanted)
    return python(name)


if __name__ == "__main__":
    for tool in sys.argv[1:] or list(REQUIREMENTS):
        print(ensure(tool))
