"""One step: Metaflow's smallest flow (start -> end), the work in start."""

import json
import os

from metaflow import FlowSpec, step


class OneStep(FlowSpec):
    @step
    def start(self) -> None:
        with open(os.environ.get("BENCH_PEERS_RESULT", "result.json"), "w") as f:
            json.dump("hello", f)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    OneStep()
