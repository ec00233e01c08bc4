"""The Run object, its nodes and artifacts, and output binding, on the local backend."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml

from jupyter_argo.backends import get_backend
from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.bind import bind, outputs_of, python_name
from jupyter_argo.errors import ArtifactError, NotFoundError, UserError
from jupyter_argo.run import Run, to_yaml


@pytest.fixture
def backend() -> LocalBackend:
    made = get_backend("local")
    assert isinstance(made, LocalBackend)
    return made


def submit(backend: LocalBackend, text: str) -> Run:
    run = Run(backend, backend.submit(yaml.safe_load(textwrap.dedent(text))))
    return run.wait(60)


def script(source: str, **extra: Any) -> dict[str, Any]:
    return {"image": "python:3", "command": ["python"], "source": textwrap.dedent(source), **extra}


def workflow(*templates: dict[str, Any], **spec: Any) -> str:
    entry = spec.pop("entrypoint", templates[0]["name"])
    body = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "run-test-"},
        "spec": {"entrypoint": entry, "templates": list(templates), **spec},
    }
    return yaml.safe_dump(body)


DATA = {
    "name": "data",
    "script": script(
        """
        import json, os
        os.makedirs("/tmp/dir/sub", exist_ok=True)
        open("/tmp/dir/a.txt", "w").write("a")
        open("/tmp/dir/sub/b.txt", "w").write("b")
        open("/tmp/table.csv", "w").write("x,y\\n1,2\\n3,4\\n")
        open("/tmp/table.tsv", "w").write("x\\ty\\n5\\t6\\n")
        open("/tmp/rows.json", "w").write(json.dumps([{"x": 7}, {"x": 8}]))
        open("/tmp/plain.txt", "w").write("plain text")
        """
    ),
    "outputs": {
        "artifacts": [
            {"name": "dir", "path": "/tmp/dir"},
            {"name": "table", "path": "/tmp/table.csv"},
            {"name": "tsv", "path": "/tmp/table.tsv", "archive": {"none": {}}},
            {"name": "rows", "path": "/tmp/rows.json"},
            {
                "name": "plain",
                "path": "/tmp/plain.txt",
                "archive": {"tar": {"compressionLevel": 0}},
            },
        ]
    },
}


def test_artifacts_load_lazily_in_every_form(backend: LocalBackend) -> None:
    run = submit(backend, workflow(DATA))
    artifacts = run.node("data").outputs.artifacts
    plain = artifacts["plain"]
    assert "plain" in repr(plain)
    assert "bytes at" not in repr(plain)  # nothing fetched yet
    assert plain.text() == "plain text"
    assert plain.bytes() == b"plain text"
    assert "10 bytes at" in repr(plain)
    directory = artifacts["dir"].path()
    assert sorted(str(p.relative_to(directory)) for p in directory.rglob("*.txt")) == [
        "a.txt",
        "sub/b.txt",
    ]
    with pytest.raises(ArtifactError, match="directory of 2 files"):
        artifacts["dir"].text()
    assert artifacts["rows"].json() == [{"x": 7}, {"x": 8}]
    with pytest.raises(ArtifactError, match="not JSON"):
        artifacts["table"].json()


def test_artifacts_to_pandas(backend: LocalBackend) -> None:
    run = submit(backend, workflow(DATA))
    artifacts = run.node("data").outputs.artifacts
    assert artifacts["table"].to_pandas().to_dict("list") == {"x": [1, 3], "y": [2, 4]}
    assert artifacts["tsv"].to_pandas().to_dict("list") == {"x": [5], "y": [6]}
    assert artifacts["rows"].to_pandas().to_dict("list") == {"x": [7, 8]}
    assert artifacts["plain"].to_pandas(format="csv", header=None).iloc[0, 0] == "plain text"
    with pytest.raises(UserError, match="cannot tell its format"):
        artifacts["plain"].to_pandas()


def test_nodes_outputs_and_workflow_outputs(backend: LocalBackend) -> None:
    text = workflow(
        {
            "name": "main",
            "steps": [[{"name": "make", "template": "make"}]],
            "outputs": {
                "parameters": [
                    {
                        "name": "answer",
                        "valueFrom": {"parameter": "{{steps.make.outputs.parameters.n}}"},
                    }
                ]
            },
        },
        {
            "name": "make",
            "script": script("open('/tmp/n', 'w').write('42')\nprint('made it')"),
            "outputs": {
                "parameters": [
                    {"name": "n", "valueFrom": {"path": "/tmp/n"}, "globalName": "global-n"}
                ]
            },
        },
    )
    run = submit(backend, text)
    assert run.phase == "Succeeded"
    assert run.outputs.parameters == {"global-n": "42"}
    make = run.node("make")
    assert (make.type, make.phase, make.template) == ("Pod", "Succeeded", "make")
    assert make.outputs.result == "made it"
    assert make.outputs.exit_code == 0
    assert run.node(run.name).outputs.parameters == {"answer": "42"}
    assert run.node(make.id).id == make.id  # by ID as well
    assert run.nodes()[0].display_name == run.name
    assert outputs_of(run) == {"answer": "42", "global-n": "42", "n": "42", "result": "made it"}
    namespace: dict[str, Any] = {}
    assert bind(namespace, run) == {
        "answer": "answer",
        "global_n": "global-n",
        "n": "n",
        "result": "result",
    }
    assert namespace["global_n"] == "42"
    with pytest.raises(NotFoundError, match="nodes: "):
        run.node("nope")


def test_ambiguous_node_names_ask_for_an_id(backend: LocalBackend) -> None:
    echo = {"name": "echo", "container": {"image": "alpine", "command": ["echo", "hi"]}}
    twice = {
        "name": "twice",
        "steps": [
            [{"name": "a", "template": "inner"}],
            [{"name": "b", "template": "inner"}],
        ],
    }
    inner = {"name": "inner", "steps": [[{"name": "say", "template": "echo"}]]}
    run = submit(backend, workflow(twice, inner, echo))
    with pytest.raises(UserError, match="2 nodes"):
        run.node("say")
    # A result of several pods is not bound as `result`.
    assert "result" not in outputs_of(run)


def test_logs_prefix_steps_and_follow_prints(
    backend: LocalBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    run = submit(backend, workflow(DATA | {"script": script("print('one')\nprint('two')")}))
    # A one-step workflow's only node is its root, named as the workflow.
    assert run.logs() == f"{run.name}: one\n{run.name}: two"
    assert run.logs(node=run.node("data").id) == "one\ntwo"
    run.logs(follow=True)
    assert capsys.readouterr().out.count("two") == 1


def test_export_is_a_complete_manifest(backend: LocalBackend) -> None:
    backend.apply(
        yaml.safe_load(
            textwrap.dedent(
                """
                apiVersion: argoproj.io/v1alpha1
                kind: WorkflowTemplate
                metadata: {name: base}
                spec:
                  templates:
                  - name: hello
                    script:
                      image: python:3
                      command: [python]
                      source: |
                        print("hello")
                        print("again")
                """
            )
        )
    )
    run = submit(
        backend,
        """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: uses-base-}
        spec:
          entrypoint: hello
          workflowTemplateRef: {name: base}
        """,
    )
    exported = run.export()
    assert 'source: |\n        print("hello")' in exported  # readable blocks
    manifest = yaml.safe_load(exported)
    assert "workflowTemplateRef" not in manifest["spec"]
    assert manifest["metadata"] == {"generateName": "uses-base-"}
    again = Run(backend, backend.submit(manifest)).wait(60)
    assert again.node(again.name).outputs.result == "hello\nagain"


def test_retry_and_resume(backend: LocalBackend) -> None:
    failing = {"name": "failing", "script": script("import sys\nprint('no')\nsys.exit(2)")}
    run = submit(backend, workflow(failing))
    assert run.phase == "Failed"
    first = run.node("failing").started_at
    assert run.retry() is run
    assert run.wait(60).phase == "Failed"  # ran again, and failed again
    assert run.node("failing").outputs.exit_code == 2
    assert run.node("failing").started_at >= first

    pause = {
        "name": "main",
        "steps": [[{"name": "wait", "template": "pause"}], [{"name": "after", "template": "hi"}]],
    }
    hold = {"name": "pause", "suspend": {}}
    hi = {"name": "hi", "container": {"image": "alpine", "command": ["echo", "resumed"]}}
    created = backend.submit(yaml.safe_load(workflow(pause, hold, hi)))
    paused = Run(backend, created)
    for snapshot in backend.watch(paused.name, timeout=30):
        nodes = snapshot["status"].get("nodes") or {}
        if any(n.get("type") == "Suspend" and n["phase"] == "Running" for n in nodes.values()):
            break
    paused.resume()
    assert paused.wait(60).phase == "Succeeded"
    assert paused.node("after").outputs.result == "resumed"


def test_python_names() -> None:
    assert python_name("hello-param") == "hello_param"
    assert python_name("2x") == "_2x"
    assert python_name("class") == "class_"
    assert python_name("a.b c") == "a_b_c"
    assert python_name("") == "_"


def test_yaml_keeps_order_and_blocks() -> None:
    text = to_yaml({"b": 1, "a": "line one\nline two\n", "c": "trailing \nspace"})
    assert text.splitlines()[0] == "b: 1"
    assert "a: |\n  line one\n  line two\n" in text
    assert yaml.safe_load(text)["c"] == "trailing \nspace"
