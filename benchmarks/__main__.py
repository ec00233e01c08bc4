"""`make bench`: every speed and memory target of the issues, measured in one run.

Each benchmark module exposes `run() -> list[Result]`; this prints them as a table.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks._result import Result


def main(names: list[str]) -> int:
    here = Path(__file__).parent
    modules = [m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")]
    selected = [m for m in modules if not names or any(n in m for n in names)]
    failed = 0
    for name in sorted(selected):
        module = importlib.import_module(f"benchmarks.{name}")
        results: list[Result] = module.run()
        for result in results:
            print(result.line(), flush=True)
            failed += not result.ok
    print(f"{len(selected)} benchmark modules, {failed} targets missed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
