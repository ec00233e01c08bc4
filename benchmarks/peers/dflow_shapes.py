"""The five shapes as dflow workflows in debug mode (dflow runs them itself, without Argo).

Run in the dflow venv: `python dflow_shapes.py SHAPE WORKDIR`. Writes the shape's result
as JSON to $BENCH_PEERS_RESULT (default result.json), read back with `Workflow.query_step`
after the run, and
exits 1 unless the workflow Succeeded (debug mode records a failure but returns normally).
Steps are function OPs in `PythonOPTemplate`s; debug mode runs a sliced step's items in a
process pool of `debug_pool_workers` (the CPU count unless set), so the fan-out sets it to
20 as well as the step's `parallelism`.

No `from __future__ import annotations` here: dflow reads the OPs' annotations as types.
"""

import json
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dflow import Step, Task, Workflow, argo_range, config
from dflow.python import (
    OP,
    Artifact,
    PythonOPTemplate,
    Slices,
)

IMAGE = "python:3.11"  # not used in debug mode, which runs the venv's python3


@OP.function
def hello() -> {"msg": str}:
    return {"msg": "hello"}


@OP.function
def add_one(n: int) -> {"n": int}:
    return {"n": n + 1}


@OP.function
def sleep(i: int) -> {"i": int}:
    import time

    time.sleep(0.5)
    return {"i": i}


@OP.function
def produce() -> {"blob": Artifact(Path)}:
    path = Path("blob")
    path.write_bytes(random.Random(16).randbytes(10 * 1024 * 1024))
    return {"blob": path}


@OP.function
def consume(blob: Artifact(Path)) -> {"digest": str}:
    import hashlib

    data = blob.read_bytes()
    return {"digest": f"{len(data)} {hashlib.sha256(data).hexdigest()}"}


@OP.function
def value() -> {"x": int}:
    return {"x": 3}


@OP.function
def double(x: int) -> {"x": int}:
    return {"x": x * 2}


@OP.function
def add_ten(x: int) -> {"x": int}:
    return {"x": x + 10}


@OP.function
def add(x: int, y: int) -> {"x": int}:
    return {"x": x + y}


def template(op: Any, **kwargs: Any) -> Any:
    return PythonOPTemplate(op, image=IMAGE, **kwargs)


def one_step(wf: Any) -> tuple[str, str]:
    wf.add(Step("hello", template(hello)))
    return "hello", "msg"


def chain(wf: Any) -> tuple[str, str]:
    previous: Any = 0
    for i in range(1, 11):
        step = Step(f"s{i}", template(add_one), parameters={"n": previous})
        wf.add(step)
        previous = step.outputs.parameters["n"]
    return "s10", "n"


def fan_out(wf: Any) -> tuple[str, str]:
    config["debug_pool_workers"] = 20
    slices = Slices("{{item}}", input_parameter=["i"], output_parameter=["i"])
    step = Step(
        "sleep",
        template(sleep, slices=slices),
        parameters={"i": list(range(100))},
        with_param=argo_range(100),
        parallelism=20,
    )
    wf.add(step)
    return "sleep", "i"


def artifact(wf: Any) -> tuple[str, str]:
    producer = Step("produce", template(produce))
    consumer = Step(
        "consume", template(consume), artifacts={"blob": producer.outputs.artifacts["blob"]}
    )
    wf.add(producer)
    wf.add(consumer)
    return "consume", "digest"


def diamond(wf: Any) -> tuple[str, str]:
    a = Task("a", template(value))
    b = Task("b", template(double), parameters={"x": a.outputs.parameters["x"]})
    c = Task("c", template(add_ten), parameters={"x": a.outputs.parameters["x"]})
    d = Task(
        "d",
        template(add),
        parameters={"x": b.outputs.parameters["x"], "y": c.outputs.parameters["x"]},
    )
    wf.add([a, b, c, d])
    return "d", "x"


SHAPES: dict[str, Callable[[Any], tuple[str, str]]] = {
    "one_step": one_step,
    "chain": chain,
    "fan_out": fan_out,
    "artifact": artifact,
    "diamond": diamond,
}


def main(shape: str, workdir: str) -> int:
    config["mode"] = "debug"
    config["debug_workdir"] = workdir
    wf = Workflow(name=shape.replace("_", "-"))
    step_name, output = SHAPES[shape](wf)
    wf.submit()
    if wf.query_status() != "Succeeded":
        print(f"workflow {wf.id}: {wf.query_status()}", file=sys.stderr)
        return 1
    steps = wf.query_step(name=step_name)
    if shape == "fan_out":  # one step per slice, each output a list of {"dflow_list_item": v}
        items = [i["dflow_list_item"] for s in steps for i in s.outputs.parameters[output].value]
        result: Any = ",".join(str(i) for i in sorted(items))
    else:
        result = steps[0].outputs.parameters[output].value
    with open(os.environ.get("BENCH_PEERS_RESULT", "result.json"), "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
