"""The five shapes as KFP pipelines, run by KFP's local runner (no docker, no cluster).

Run in the kfp venv: `python kfp_shapes.py SHAPE WORKDIR`. Writes the shape's result,
taken from the pipeline's outputs, as JSON to $BENCH_PEERS_RESULT (default result.json).
Not to stdout: KFP's local runner indents what is printed while its threads run.
Components are KFP's default lightweight Python components (`@dsl.component`), which
pip-check KFP in each step's subprocess; `--no-pip` builds them with
`install_kfp_package=False` instead.

No `from __future__ import annotations` here: KFP reads the components' annotations as
types, not strings.
"""

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from kfp import dsl, local

SIZE = 10 * 1024 * 1024


def build(no_pip: bool) -> dict[str, Callable[[], Any]]:
    component = dsl.component(install_kfp_package=False) if no_pip else dsl.component

    @component
    def hello() -> str:
        return "hello"

    @component
    def add_one(n: int) -> int:
        return n + 1

    @component
    def sleep(i: int) -> int:
        import time

        time.sleep(0.5)
        return i

    @component
    def gather(items: list[int]) -> str:
        return ",".join(str(i) for i in sorted(items))

    @component
    def produce(blob: dsl.Output[dsl.Artifact]) -> None:
        import random

        with open(blob.path, "wb") as f:
            f.write(random.Random(16).randbytes(10 * 1024 * 1024))

    @component
    def consume(blob: dsl.Input[dsl.Artifact]) -> str:
        import hashlib

        with open(blob.path, "rb") as f:
            data = f.read()
        return f"{len(data)} {hashlib.sha256(data).hexdigest()}"

    @component
    def value() -> int:
        return 3

    @component
    def double(x: int) -> int:
        return x * 2

    @component
    def add_ten(x: int) -> int:
        return x + 10

    @component
    def add(x: int, y: int) -> int:
        return x + y

    @dsl.pipeline
    def one_step() -> str:
        return hello().output

    @dsl.pipeline
    def chain() -> int:
        task = add_one(n=0)
        for _ in range(9):
            task = add_one(n=task.output)
        return task.output

    @dsl.pipeline
    def fan_out() -> str:
        with dsl.ParallelFor(items=list(range(100)), parallelism=20) as i:
            slept = sleep(i=i)
        return gather(items=dsl.Collected(slept.output)).output

    @dsl.pipeline
    def artifact() -> str:
        return consume(blob=produce().outputs["blob"]).output

    @dsl.pipeline
    def diamond() -> int:
        a = value()
        return add(x=double(x=a.output).output, y=add_ten(x=a.output).output).output

    return {
        "one_step": one_step,
        "chain": chain,
        "fan_out": fan_out,
        "artifact": artifact,
        "diamond": diamond,
    }


def main(shape: str, workdir: str, no_pip: bool) -> None:
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=f"{workdir}/outputs")
    run = build(no_pip)[shape]()
    with open(os.environ.get("BENCH_PEERS_RESULT", "result.json"), "w") as f:
        json.dump(run.output, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--no-pip" in sys.argv[3:])
