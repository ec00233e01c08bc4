"""A diamond: a = 3; b = a * 2 and c = a + 10 in parallel branches; d = b + c (19)."""

import json
import os

from metaflow import FlowSpec, step


class Diamond(FlowSpec):
    @step
    def start(self) -> None:
        self.a = 3
        self.next(self.b, self.c)

    @step
    def b(self) -> None:
        self.x = self.a * 2
        self.next(self.d)

    @step
    def c(self) -> None:
        self.x = self.a + 10
        self.next(self.d)

    @step
    def d(self, inputs: list["Diamond"]) -> None:
        self.total = inputs.b.x + inputs.c.x
        self.next(self.end)

    @step
    def end(self) -> None:
        with open(os.environ.get("BENCH_PEERS_RESULT", "result.json"), "w") as f:
            json.dump(self.total, f)


if __name__ == "__main__":
    Diamond()
