"""`python -m jupyter_argo.engine.runner HOME NAMESPACE NAME`: runs one stored workflow.

`jupyter-argo submit` (without `--wait`) starts this in its own session so the run
outlives the command that submitted it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_argo.engine.engine import Engine


def main(argv: list[str]) -> int:
    home, namespace, name = argv
    engine = Engine(Path(home), namespace=namespace)
    engine.adopt(name, namespace)
    final = engine.wait(name, namespace)
    return 0 if (final.get("status") or {}).get("phase") == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
