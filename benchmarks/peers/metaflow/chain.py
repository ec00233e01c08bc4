"""Ten steps in sequence, each adding one to the previous step's artifact (0 -> 10).

start is the first of the ten; Metaflow needs an end step, which writes the result (to
$BENCH_PEERS_RESULT, default result.json).
"""

import json
import os

from metaflow import FlowSpec, step


class Chain(FlowSpec):
    @step
    def start(self) -> None:
        self.n = 1
        self.next(self.s2)

    @step
    def s2(self) -> None:
        self.n += 1
        self.next(self.s3)

    @step
    def s3(self) -> None:
        self.n += 1
        self.next(self.s4)

    @step
    def s4(self) -> None:
        self.n += 1
        self.next(self.s5)

    @step
    def s5(self) -> None:
        self.n += 1
        self.next(self.s6)

    @step
    def s6(self) -> None:
        self.n += 1
        self.next(self.s7)

    @step
    def s7(self) -> None:
        self.n += 1
        self.next(self.s8)

    @step
    def s8(self) -> None:
        self.n += 1
        self.next(self.s9)

    @step
    def s9(self) -> None:
        self.n += 1
        self.next(self.end)

    @step
    def end(self) -> None:
        self.n += 1
        with open(os.environ.get("BENCH_PEERS_RESULT", "result.json"), "w") as f:
            json.dump(self.n, f)


if __name__ == "__main__":
    Chain()
