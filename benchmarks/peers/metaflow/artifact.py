"""A 10 MiB bytes artifact (seeded random bytes) from one step to the next.

Metaflow's idiom for data between steps is an artifact (`self.blob`), which its datastore
pickles and stores; the consumer prints its size and SHA-256.
"""

import hashlib
import json
import os
import random

from metaflow import FlowSpec, step


class Artifact(FlowSpec):
    @step
    def start(self) -> None:
        self.blob = random.Random(16).randbytes(10 * 1024 * 1024)
        self.next(self.end)

    @step
    def end(self) -> None:
        digest = hashlib.sha256(self.blob).hexdigest()
        with open(os.environ.get("BENCH_PEERS_RESULT", "result.json"), "w") as f:
            json.dump(f"{len(self.blob)} {digest}", f)


if __name__ == "__main__":
    Artifact()
