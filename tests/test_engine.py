"""The local engine against Argo's semantics: node graph, phases, variables, outputs."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import pytest

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.spec.parse import parse_text
from jupyter_argo.status import node_id


@pytest.fixture
def engine() -> LocalBackend:
    return LocalBackend()


def run(engine: LocalBackend, text: str, **kwargs: Any) -> dict[str, Any]:
    (doc,) = [d for d in parse_text(text) if d.kind == "Workflow"]
    created = engine.submit(doc.body, **kwargs)
    return engine.wait(created["metadata"]["name"], timeout=60)


def by_display(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in workflow["status"].get("nodes", {}).values()}


def params(node: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p.get("value") for p in (node.get("outputs") or {}).get("parameters", [])}


SEED_OUTPUT_PARAMETER = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: output-parameter-
spec:
  entrypoint: output-parameter
  templates:
    - name: output-parameter
      steps:
        - - name: generate-parameter
            template: argosay
        - - name: consume-parameter
            template: print-message
            arguments:
              parameters:
                - name: message
                  value: "{{steps.generate-parameter.outputs.parameters.hello-param}}"
    - name: argosay
      container:
        image: yky8/argosay:v2
        command: [ sh, -c ]
        args: [ "echo -n hello world > /tmp/hello_world.txt" ]
      outputs:
        parameters:
          - name: hello-param
            valueFrom:
              path: /tmp/hello_world.txt
    - name: print-message
      inputs:
        parameters:
          - name: message
      container:
        image: yky8/argosay:v2
        command: [ "/usr/local/bin/argosay" ]
        args: [ "echo","{{inputs.parameters.message}}" ]
"""


def test_seed_output_parameter(engine: LocalBackend) -> None:
    wf = run(engine, SEED_OUTPUT_PARAMETER)
    name = wf["metadata"]["name"]
    assert wf["status"]["phase"] == "Succeeded"
    nodes = by_display(wf)
    assert params(nodes["generate-parameter"]) == {"hello-param": "hello world"}
    consume = nodes["consume-parameter"]
    assert consume["inputs"]["parameters"] == [{"name": "message", "value": "hello world"}]
    assert consume["outputs"]["result"] == "hello world"
    logs = list(engine.logs(name, node=consume["id"]))
    assert [line for _, line in logs] == ["hello world"]
    # Argo's graph: root Steps -> [0] -> generate -> [1] -> consume
    root = wf["status"]["nodes"][name]
    assert root["type"] == "Steps"
    group0 = wf["status"]["nodes"][node_id(name, f"{name}[0]")]
    assert group0["displayName"] == "[0]"
    assert group0["children"] == [nodes["generate-parameter"]["id"]]
    assert nodes["generate-parameter"]["children"] == [node_id(name, f"{name}[1]")]
    assert root["outboundNodes"] == [consume["id"]]
    assert wf["status"]["progress"] == "2/2"


DIAMOND = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: dag-diamond-}
spec:
  entrypoint: diamond
  templates:
  - name: echo
    inputs: {parameters: [{name: message}]}
    container: {image: alpine:3.7, command: [echo, "{{inputs.parameters.message}}"]}
  - name: diamond
    dag:
      tasks:
      - {name: A, template: echo, arguments: {parameters: [{name: message, value: A}]}}
      - name: B
        depends: "A"
        template: echo
        arguments: {parameters: [{name: message, value: B}]}
      - name: C
        depends: "A"
        template: echo
        arguments: {parameters: [{name: message, value: C}]}
      - name: D
        depends: "B && C"
        template: echo
        arguments: {parameters: [{name: message, value: D}]}
"""


def test_dag_diamond_graph(engine: LocalBackend) -> None:
    wf = run(engine, DIAMOND)
    name = wf["metadata"]["name"]
    nodes = by_display(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert nodes["A"]["name"] == f"{name}.A"
    assert sorted(nodes["A"]["children"]) == sorted([nodes["B"]["id"], nodes["C"]["id"]])
    assert nodes["B"]["children"] == [nodes["D"]["id"]]
    assert wf["status"]["nodes"][name]["outboundNodes"] == [nodes["D"]["id"]]
    assert nodes["D"]["outputs"]["result"] == "D"


def test_failure_propagates_with_argo_messages(engine: LocalBackend) -> None:
    wf = run(
        engine,
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: fail-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: boom, template: boom}
  - name: boom
    container: {image: alpine, command: [sh, -c, "echo oops >&2; exit 3"]}
""",
    )
    nodes = by_display(wf)
    assert wf["status"]["phase"] == "Failed"
    assert nodes["boom"]["message"] == "main: Error (exit code 3)"
    assert nodes["boom"]["outputs"]["exitCode"] == "3"
    group = nodes["[0]"]
    assert group["message"] == f"child '{nodes['boom']['id']}' failed"
    assert wf["status"]["message"] == group["message"]


def test_loops_aggregate_and_name_children(engine: LocalBackend) -> None:
    wf = run(
        engine,
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: loops-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: gen
        template: square
        arguments: {parameters: [{name: n, value: "{{item}}"}]}
        withItems: [1, 2, 3]
    - - name: total
        template: show
        arguments: {parameters: [{name: v, value: "{{steps.gen.outputs.result}}"}]}
    - - name: seq
        template: show
        arguments: {parameters: [{name: v, value: "{{item}}"}]}
        withSequence: {count: "2", start: "5", format: "x%02d"}
  - name: square
    inputs: {parameters: [{name: n}]}
    script: {image: python:3, command: [python], source: "print({{inputs.parameters.n}} ** 2)"}
  - name: show
    inputs: {parameters: [{name: v}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.v}}"]}
""",
    )
    nodes = by_display(wf)
    assert wf["status"]["phase"] == "Succeeded"
    results = [nodes[f"gen({i}:{i + 1})"]["outputs"]["result"] for i in range(3)]
    assert results == ["1", "4", "9"]
    assert nodes["total"]["outputs"]["result"] == "[1,4,9]"
    assert nodes["seq(0:x05)"]["outputs"]["result"] == "x05"
    assert nodes["seq(1:x06)"]["outputs"]["result"] == "x06"


def test_when_skips_with_argo_message(engine: LocalBackend) -> None:
    wf = run(
        engine,
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: when-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: side, value: heads}]}
  templates:
  - name: main
    steps:
    - - {name: heads, template: say, when: "{{workflow.parameters.side}} == heads"}
      - {name: tails, template: say, when: "{{workflow.parameters.side}} == tails"}
  - name: say
    container: {image: alpine, command: [echo, hi]}
""",
        parameters={"side": "tails"},
    )
    nodes = by_display(wf)
    assert nodes["heads"]["phase"] == "Skipped"
    assert nodes["heads"]["type"] == "Skipped"
    assert nodes["heads"]["message"] == "when 'tails == heads' evaluated false"
    assert nodes["tails"]["phase"] == "Succeeded"


def test_retries_create_numbered_children(engine: LocalBackend) -> None:
    wf = run(
        engine,
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: retry-}
spec:
  entrypoint: flaky
  templates:
  - name: flaky
    retryStrategy: {limit: "2"}
    container: {image: alpine, command: [sh, -c, "exit 1"]}
""",
    )
    name = wf["metadata"]["name"]
    nodes = wf["status"]["nodes"]
    root = nodes[name]
    assert root["type"] == "Retry"
    assert root["phase"] == "Failed"
    assert root["message"] == "No more retries left"
    assert [nodes[c]["name"] for c in root["children"]] == [
        f"{name}(0)",
        f"{name}(1)",
        f"{name}(2)",
    ]


def test_exit_handler_sees_status(engine: LocalBackend) -> None:
    wf = run(
        engine,
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: exit-}
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    container: {image: alpine, command: [sh, -c, "exit 1"]}
  - name: bye
    container: {image: alpine, command: [echo, "status={{workflow.status}}"]}
""",
    )
    name = wf["metadata"]["name"]
    handler = wf["status"]["nodes"][node_id(name, f"{name}.onExit")]
    assert handler["outputs"]["result"] == "status=Failed"
    assert handler["nodeFlag"] == {"hooked": True}
    assert wf["status"]["phase"] == "Failed"


def test_missing_parameter_is_one_clear_error(engine: LocalBackend) -> None:
    wf = run(
        engine,
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: missing-}
spec:
  entrypoint: main
  templates:
  - name: main
    inputs: {parameters: [{name: message}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.message}}"]}
""",
    )
    assert wf["status"]["phase"] == "Error"
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert root["message"] == "inputs.parameters.message was not supplied"


def test_runs_persist_across_engines(engine: LocalBackend) -> None:
    wf = run(engine, DIAMOND)
    again = LocalBackend()
    stored = again.get(wf["metadata"]["name"])
    assert stored["status"]["phase"] == "Succeeded"
    assert stored["status"]["nodes"].keys() == wf["status"]["nodes"].keys()
    assert [w["metadata"]["name"] for w in again.list()] == [wf["metadata"]["name"]]


def _pids_running(marker: str) -> list[int]:
    import os

    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    cmdline = handle.read()
                with open(f"/proc/{entry}/stat") as handle:
                    state = handle.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if marker.encode() in cmdline and state != "Z":  # a zombie has ended
                found.append(int(entry))
    return found


def test_terminate_ends_the_whole_process_tree(engine: LocalBackend) -> None:
    import time

    # A sleep length no other process uses, to find these processes again.
    marker = f"sleep {300 + time.monotonic_ns() % 10_000 / 10_000:.4f}"
    (doc,) = parse_text(
        f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: tree-}}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c, "(setsid {marker} &); {marker} & echo up; wait"]
"""
    )
    name = engine.submit(doc.body)["metadata"]["name"]
    deadline = time.monotonic() + 20
    while not _pids_running(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pids_running(marker)
    engine.terminate(name)
    final = engine.wait(name, timeout=30)
    assert final["status"]["phase"] == "Failed"
    assert final["status"]["message"] == "Stopped with strategy 'Terminate'"
    deadline = time.monotonic() + 5  # the kernel delivers SIGKILL asynchronously
    while _pids_running(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pids_running(marker) == []


def test_suspend_node_waits_for_resume(engine: LocalBackend) -> None:
    (doc,) = parse_text(
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: approve-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: approve, template: approve}
    - - {name: after, template: say}
  - name: approve
    suspend: {}
  - name: say
    container: {image: alpine, command: [echo, approved]}
"""
    )
    name = engine.submit(doc.body)["metadata"]["name"]
    for snapshot in engine.watch(name, timeout=20):
        nodes = by_display(snapshot)
        if nodes.get("approve", {}).get("phase") == "Running":
            assert "after" not in nodes
            engine.resume(name)
    final = engine.wait(name, timeout=20)
    nodes = by_display(final)
    assert nodes["approve"]["type"] == "Suspend"
    assert nodes["approve"]["phase"] == "Succeeded"
    assert nodes["after"]["outputs"]["result"] == "approved"


def test_artifacts_pass_between_dag_tasks_and_globals(engine: LocalBackend) -> None:
    wf = run(
        engine,
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: arts-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: make, template: make}
      - name: use
        depends: make
        template: use
        arguments:
          artifacts: [{name: data, from: "{{tasks.make.outputs.artifacts.out}}"}]
  - name: make
    container: {image: alpine, command: [sh, -c, "mkdir -p /out && echo 42 > /out/n.txt"]}
    outputs:
      artifacts: [{name: out, path: /out, globalName: answer}]
      parameters:
      - {name: n, valueFrom: {path: /out/n.txt}, globalName: n}
  - name: use
    inputs:
      artifacts: [{name: data, path: /in}]
    container: {image: alpine, command: [cat, /in/n.txt]}
""",
    )
    assert wf["status"]["phase"] == "Succeeded"
    nodes = by_display(wf)
    assert nodes["use"]["outputs"]["result"] == "42"
    outputs = wf["status"]["outputs"]
    assert outputs["parameters"] == [{"name": "n", "value": "42"}]
    assert [a["name"] for a in outputs["artifacts"]] == ["answer"]


SILENT_AND_TIMESTAMPED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: silent-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: quiet
            template: quiet
        - - name: stamp
            template: stamp
    - name: quiet
      container:
        image: alpine
        command: [sh, -c, "true"]
    - name: stamp
      container:
        image: alpine
        command: [echo, "{{workflow.creationTimestamp.Y}} {{workflow.creationTimestamp.b}}"]
"""


def test_silent_step_has_an_empty_result_and_no_log_lines(engine: LocalBackend) -> None:
    from datetime import datetime

    done = run(engine, SILENT_AND_TIMESTAMPED)
    assert done["status"]["phase"] == "Succeeded"
    nodes = by_display(done)
    assert nodes["quiet"]["outputs"]["result"] == ""
    name = done["metadata"]["name"]
    assert [pod for pod, _ in engine.logs(name, node="quiet")] == []
    created = datetime.strptime(done["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert nodes["stamp"]["outputs"]["result"] == created.strftime("%Y %b")


def _mount_namespaces_held() -> int:
    held = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            held += os.readlink(f"/proc/self/fd/{fd}").startswith("mnt:")
    return held


def test_finished_pods_leave_nothing_behind(engine: LocalBackend) -> None:
    chain = SILENT_AND_TIMESTAMPED.replace("generateName: silent-", "generateName: chain-")
    run(engine, chain)  # warm: the executor keeps a few namespaces and sandboxes ready
    time.sleep(0.5)
    before = _mount_namespaces_held()
    done = run(engine, chain)
    assert done["status"]["phase"] == "Succeeded"
    scratch = engine._runs[("default", done["metadata"]["name"])].operator.host.pods.scratch_dir
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (scratch.exists() or _mount_namespaces_held() > before):
        time.sleep(0.05)
    assert not scratch.exists()
    assert _mount_namespaces_held() <= before


MISSING_REPOSITORY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: missing-repository-}
spec:
  entrypoint: main
  artifactRepositoryRef: {configMap: no-such-repositories, key: my-key}
  templates:
  - name: main
    container: {image: argoproj/argosay:v2, args: [echo, never runs]}
"""


def test_an_artifact_repository_ref_that_resolves_nowhere_errors_the_run(
    engine: LocalBackend,
) -> None:
    """Found by `make fuzz`: the run stayed Pending forever with a traceback. Argo's
    `operate` errors the workflow before any node starts ("failed to resolve artifact
    repository: ...")."""
    body = next(d.body for d in parse_text(MISSING_REPOSITORY) if d.kind == "Workflow")
    name = engine.submit(body)["metadata"]["name"]
    final = engine.wait(name, timeout=20)
    status = final["status"]
    assert status["phase"] == "Error"
    assert status["message"].startswith("failed to resolve artifact repository: ")
    assert "no-such-repositories" in status["message"]
    assert not status.get("nodes")
    assert engine.get(name)["status"]["phase"] == "Error"  # stored so, not only shown


SCHEMELESS_URL = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: schemeless-}
spec:
  entrypoint: main
  templates:
  - name: main
    http: {url: "not-a-url"}
"""


def test_an_http_template_with_a_url_without_scheme_fails_its_node(engine: LocalBackend) -> None:
    """Found by `make fuzz`: urllib's ValueError escaped as an internal error of the engine."""
    body = next(d.body for d in parse_text(SCHEMELESS_URL) if d.kind == "Workflow")
    name = engine.submit(body)["metadata"]["name"]
    final = engine.wait(name, timeout=20)
    status = final["status"]
    assert status["phase"] in ("Failed", "Error"), status
    assert "internal error" not in str(status.get("message"))
    node = status["nodes"][name]
    assert "not-a-url" in node["message"]
    assert "\n" not in node["message"]


RETRIED_WITH_EXIT_HANDLER = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: retried-with-exit-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: gen
            template: gen
            onExit: bye
        - - name: show
            template: show
            arguments:
              parameters:
                - name: v
                  value: "{{steps.gen.outputs.result}}"
        - - name: dag
            template: dag
    - name: dag
      dag:
        tasks:
          - name: gen
            template: gen
            onExit: bye
          - name: show
            depends: gen
            template: show
            arguments:
              parameters:
                - name: v
                  value: "{{tasks.gen.outputs.result}}"
    - name: gen
      retryStrategy:
        limit: 1
      script:
        image: alpine
        command: [sh]
        source: echo from-gen
    - name: bye
      script:
        image: alpine
        command: [sh]
        source: echo from-exit
    - name: show
      inputs:
        parameters:
          - name: v
      container:
        image: alpine
        command: [sh, -c, "echo {{inputs.parameters.v}}"]
"""


def test_a_retried_step_s_outputs_come_from_its_attempt_not_its_exit_handler(
    engine: LocalBackend,
) -> None:
    """The exit handler of a retried step is a child of its Retry node, after the
    attempts; Argo's possiblyGetRetryChildNode (operator.go) takes the last child that is
    not hooked, so `steps.gen.outputs.result` is the attempt's."""
    wf = run(engine, RETRIED_WITH_EXIT_HANDLER)
    assert wf["status"]["phase"] == "Succeeded"
    nodes = wf["status"]["nodes"]
    by_name = {n["name"][len(wf["metadata"]["name"]) :]: n for n in nodes.values()}
    for retry, shown in (("[0].gen", "[1].show"), ("[2].dag.gen", "[2].dag.show")):
        assert by_name[retry]["type"] == "Retry"
        exit_node = by_name[f"{retry}.onExit"]
        assert exit_node["id"] in by_name[retry]["children"]
        assert exit_node["nodeFlag"] == {"hooked": True}
        assert by_name[shown]["inputs"]["parameters"] == [{"name": "v", "value": "from-gen"}]


PARALLELISM_ZERO = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: parallelism-zero-}
spec:
  entrypoint: main
  templates:
    - name: main
      parallelism: 0
      steps:
        - - name: echo
            template: echo
            withItems: [1, 2, 3]
    - name: echo
      container: {image: alpine:3.23, command: [echo, hi]}
"""


def test_a_templates_parallelism_of_0_is_no_limit(engine: LocalBackend) -> None:
    # Argo's Template.HasParallelism: a limit counts only when above 0.
    wf = run(engine, PARALLELISM_ZERO)
    assert wf["status"]["phase"] == "Succeeded"
    assert sum(n["type"] == "Pod" for n in wf["status"]["nodes"].values()) == 3


def test_a_workflow_held_at_parallelism_0_still_ends_when_terminated(engine: LocalBackend) -> None:
    # The workflow's own limit holds whatever it is (checkParallelism: activePods >= 0),
    # so nothing starts; terminate must still end the run, as Argo's shutdown does.
    text = PARALLELISM_ZERO.replace("spec:\n", "spec:\n  parallelism: 0\n", 1)
    (doc,) = parse_text(text)
    name = engine.submit(doc.body)["metadata"]["name"]
    deadline = time.monotonic() + 10
    while engine.get(name)["status"]["phase"] == "Pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.wait(name, timeout=1)["status"]["phase"] == "Running"
    engine.terminate(name)
    started = time.monotonic()
    wf = engine.wait(name, timeout=10)
    assert time.monotonic() - started < 5
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == "Stopped with strategy 'Terminate'"


STOPPED_AT_ONCE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: at-once-}
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    container: {image: alpine, command: [sleep, "60"]}
  - name: bye
    container: {image: alpine, command: [echo, bye]}
"""


@pytest.mark.parametrize("strategy", ["stop", "terminate"])
def test_a_stop_or_terminate_right_after_submit_ends_the_step_that_was_starting(
    engine: LocalBackend, strategy: str
) -> None:
    """Steps start on spawning threads: a stop that comes while a step's process is
    being started (before it is counted as running) must still end it, as Argo ends a pod
    it is creating. Five times, since the window is a race (before the fix, 7 in 10
    stop-at-once runs went on for the whole 60 s)."""
    import time

    (doc,) = parse_text(STOPPED_AT_ONCE)
    for _ in range(5):
        name = engine.submit(doc.body)["metadata"]["name"]
        getattr(engine, strategy)(name)
        began = time.monotonic()
        final = engine.wait(name, timeout=20)
        assert time.monotonic() - began < 15
        assert final["status"]["phase"] == "Failed"
        nodes = by_display(final)
        main = nodes[final["metadata"]["name"]]
        assert main["phase"] == "Failed"
        assert main["message"] == f"Stopped with strategy '{strategy.title()}'"
        # Stop lets the exit handler run; Terminate does not.
        bye = nodes.get(f"{final['metadata']['name']}.onExit")
        assert (bye is not None and bye["phase"] == "Succeeded") == (strategy == "stop")


OUTPUT_FILES = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: output-files-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: loud, template: loud}
          - {name: quiet, template: quiet}
          - {name: set, template: set}
    - name: loud
      container: {image: alpine, command: [sh, -c, "echo hello; echo warning >&2"]}
    - name: quiet
      container: {image: alpine, command: ["true"]}
    - name: set
      containerSet:
        containers:
          - {name: first, image: alpine, command: [sh, -c, "echo from first"]}
          - {name: main, image: alpine, command: [sh, -c, "echo from main"],
             dependencies: [first]}
"""


def test_a_pods_stdout_files_go_once_it_is_done_its_logs_stay(engine: LocalBackend) -> None:
    """outputs.result is the main container's stdout (empty when it printed nothing);
    each container's stdout file serves only that and is gone once the pod is done, its
    log (stdout and stderr) stays."""
    done = run(engine, OUTPUT_FILES)
    assert done["status"]["phase"] == "Succeeded"
    nodes = by_display(done)
    assert nodes["loud"]["outputs"]["result"] == "hello"
    assert nodes["quiet"]["outputs"]["result"] == ""
    assert nodes["set"]["outputs"]["result"] == "from main"
    logs = engine.store.home / "runs" / done["metadata"]["uid"] / "logs"
    left = sorted(str(path.relative_to(logs)).split("/", 1)[1] for path in logs.rglob("*.*"))
    assert left == ["first.log", "main.log", "main.log"]
    name = done["metadata"]["name"]
    assert [line for _, line in engine.logs(name, node="loud")] == ["hello", "warning"]
