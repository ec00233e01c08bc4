"""100 steps of 0.5 s (a foreach), run with `--max-workers 20`, joined."""

import json
import os
import time

from metaflow import FlowSpec, step


class FanOut(FlowSpec):
    @step
    def start(self) -> None:
        self.items = list(range(100))
        self.next(self.sleep, foreach="items")

    @step
    def sleep(self) -> None:
        time.sleep(0.5)
        self.i = self.input
        self.next(self.join)

    @step
    def join(self, inputs: list["FanOut"]) -> None:
        self.done = ",".join(str(i) for i in sorted(task.i for task in inputs))
        self.next(self.end)

    @step
    def end(self) -> None:
        with open(os.environ.get("BENCH_PEERS_RESULT", "result.json"), "w") as f:
            json.dump(self.done, f)


if __name__ == "__main__":
    FanOut()
