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
