from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Result:
    """One measured number against its target."""

    name: str
    value: float
    unit: str
    target: float
    higher_is_better: bool = False
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def line(self) -> str:
        op = ">=" if self.higher_is_better else "<="
        mark = "ok  " if self.ok else "MISS"
        extra = f"  ({self.detail})" if self.detail else ""
        target = f"(target {op} {self.target:g})"
        return f"{mark} {self.name}: {self.value:.3g} {self.unit} {target}{extra}"


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def use_test_helpers() -> None:
    """Make the test suite's helpers (tests/k8s, tests/servers.py) importable."""
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parent.parent / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
