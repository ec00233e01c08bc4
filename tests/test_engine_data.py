"""Data templates (docs/data-sourcing-and-transformation.md) on the local engine, against
Argo's workflow/data/data.go (and its data_test.go), workflow/executor/data.go and the S3
driver's ListObjects: the source's object keys, each transformation in order, the result
as Go's json.Marshal writes it in `outputs.result`, the node a Pod; a failure as the
controller reports argoexec's (exit code 64, its error as the termination message)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import argo_examples
from servers import S3Server, s3_server

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.spec.parse import parse_file, parse_text

CRED = "my-minio-cred"
ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
# What the controller makes of a failed `argoexec data` (inferFailedReason).
FAILED = "main: Error (exit code 64): unable to process data template: "


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def engine(home: Path) -> LocalBackend:
    return LocalBackend(home=home)


def run(engine: LocalBackend, text: str) -> dict[str, Any]:
    (doc,) = [d for d in parse_text(text) if d.kind == "Workflow"]
    return run_body(engine, doc.body)


def run_body(engine: LocalBackend, body: dict[str, Any]) -> dict[str, Any]:
    created = engine.submit(body)
    return engine.wait(created["metadata"]["name"], timeout=90)


def by_display_name(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in workflow["status"]["nodes"].values()}


def objects(root: Path, keys: list[str]) -> None:
    """Objects already in the repository (as a user's bucket holds them), each holding
    its own key."""
    for key in keys:
        path = root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {key}\n")


def one_data_template(data: str) -> str:
    if "transformation" not in data:
        data += "\n      transformation: []"  # Argo's CRD requires the field
    return f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: data-}}
spec:
  entrypoint: list
  templates:
  - name: list
    data:
{data}
"""


# ---- the local artifact repository ---------------------------------------------------------

PASSING = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: data-passing-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: make, template: make}
    - - {name: list-log-files, template: list-log-files}
    - - name: process-logs
        template: process-logs
        withParam: "{{steps.list-log-files.outputs.result}}"
        arguments:
          artifacts: [{name: file, s3: {key: "{{item}}"}}]
          parameters: [{name: file-name, value: "{{item}}"}]
  - name: make
    script:
      image: alpine
      command: [sh]
      source: |
        mkdir -p /out/a /out/b
        echo one > /out/a/main.log
        echo two > /out/a/init.log
        echo three > /out/b/main.log
    outputs:
      artifacts:
      - {name: logs, path: /out, archive: {none: {}}, s3: {key: "logs/{{workflow.name}}"}}
  - name: list-log-files
    data:
      source:
        artifactPaths: {name: logs, s3: {bucket: my-bucket, key: "logs/{{workflow.name}}"}}
      transformation:
      - expression: 'filter(data, {# endsWith "main.log"})'
  - name: process-logs
    inputs:
      parameters: [{name: file-name}]
      artifacts: [{name: file, path: /file}]
    container:
      image: alpine
      command: [sh, -c]
      args: ["echo {{inputs.parameters.file-name}}; head /file"]
"""


def test_the_documented_flow_through_the_local_repository(engine: LocalBackend) -> None:
    """A step's outputs listed by key prefix, filtered, and fed to a withParam loop whose
    items are the keys of input artifacts (examples/data-transformations.yaml's shape)."""
    final = run(engine, PASSING)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    name = final["metadata"]["name"]
    nodes = by_display_name(final)
    listed = nodes["list-log-files"]
    assert listed["type"] == "Pod"
    assert listed["templateName"] == "list-log-files"
    main_logs = [f"logs/{name}/a/main.log", f"logs/{name}/b/main.log"]
    # Go's json.Marshal of the []interface{} expr's filter returns: compact, in order.
    assert listed["outputs"] == {
        "result": json.dumps(main_logs, separators=(",", ":")),
        "exitCode": "0",
    }
    shown = {
        n["inputs"]["parameters"][0]["value"]: n["outputs"]["result"]
        for n in nodes.values()
        if n["displayName"].startswith("process-logs(")
    }
    assert shown == {main_logs[0]: f"{main_logs[0]}\none", main_logs[1]: f"{main_logs[1]}\nthree"}


# Argo's data_test.go: its file list and its transformations, with the results it expects.
# The repository lists in S3's order (by key), where the test's fake source kept its own.
FILES = ["foo.py", "bar.pdf", "goo/foo.py", "moo/bar.pdf"]
TRANSFORMATIONS = {
    "none": ([], ["bar.pdf", "foo.py", "goo/foo.py", "moo/bar.pdf"]),
    "py": (["filter(data, {# endsWith '.py'})"], ["foo.py", "goo/foo.py"]),
    "nested": (["filter(data, {# contains '/'})"], ["goo/foo.py", "moo/bar.pdf"]),
    "chained": (
        ["filter(data, {# contains '/'})", "filter(data, {# contains 'foo'})"],
        ["goo/foo.py"],
    ),
    "top": (["filter(data, {not(# contains '/')})"], ["bar.pdf", "foo.py"]),
    "mapped": (
        ["map(data, {# + '.processed'})"],
        ["bar.pdf.processed", "foo.py.processed", "goo/foo.py.processed", "moo/bar.pdf.processed"],
    ),
    "filtered-then-mapped": (
        ["filter(data, {not(# contains '/')})", "map(data, {# + '.processed'})"],
        ["bar.pdf.processed", "foo.py.processed"],
    ),
    # A step without an expression changes nothing.
    "empty-step": (
        ["filter(data, {not(# contains '/')})", "map(data, {# + '.processed'})", ""],
        ["bar.pdf.processed", "foo.py.processed"],
    ),
    "nothing-left": (["filter(data, {# endsWith '.md'})"], []),
}


def test_transformations_filter_and_map_as_argos_data_test(
    engine: LocalBackend, home: Path
) -> None:
    objects(home / "artifacts", FILES)
    templates: list[dict[str, Any]] = [
        {
            "name": "main",
            "dag": {"tasks": [{"name": label, "template": label} for label in TRANSFORMATIONS]},
        }
    ]
    for label, (steps, _) in TRANSFORMATIONS.items():
        # The documented source: a bucket without a key is relocated into the repository
        # (Relocate keeps only the key), so the whole repository is listed.
        templates.append(
            {
                "name": label,
                "data": {
                    "source": {"artifactPaths": {"name": "all", "s3": {"bucket": "my-bucket"}}},
                    "transformation": [{"expression": e} for e in steps],
                },
            }
        )
    body = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "data-transformations-"},
        "spec": {"entrypoint": "main", "templates": templates},
    }
    final = run_body(engine, body)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    nodes = by_display_name(final)
    for label, (_, expected) in TRANSFORMATIONS.items():
        assert json.loads(nodes[label]["outputs"]["result"]) == expected, label
    assert nodes["nothing-left"]["outputs"]["result"] == "[]"


def test_result_is_go_json(engine: LocalBackend, home: Path) -> None:
    """json.Marshal escapes <, > and & (HTML-safe) and keeps other text as it is."""
    objects(home / "artifacts", ["r/a&b<c>.txt", "r/é.txt"])
    final = run(
        engine,
        one_data_template("      source: {artifactPaths: {name: r, s3: {bucket: b, key: r}}}"),
    )
    result = by_display_name(final)[final["metadata"]["name"]]["outputs"]["result"]
    assert result == '["r/a\\u0026b\\u003cc\\u003e.txt","r/é.txt"]'


def test_a_key_that_is_one_object_lists_as_null(engine: LocalBackend, home: Path) -> None:
    """S3's listObjects: nothing under `key/` but `key` exists: Go's nil []string, which
    json.Marshal writes `null`; through expr's filter it becomes an empty array."""
    objects(home / "artifacts", ["one/file.txt"])
    source = "      source: {artifactPaths: {name: f, s3: {bucket: b, key: one/file.txt}}}"
    final = run(engine, one_data_template(source))
    node = by_display_name(final)[final["metadata"]["name"]]
    assert node["phase"] == "Succeeded", node.get("message")
    assert node["outputs"]["result"] == "null"
    filtered = source + "\n      transformation: [{expression: 'filter(data, {# != \"\"})'}]"
    final = run(engine, one_data_template(filtered))
    assert by_display_name(final)[final["metadata"]["name"]]["outputs"]["result"] == "[]"


# ---- failures -------------------------------------------------------------------------------


def failed_node(final: dict[str, Any]) -> dict[str, Any]:
    assert final["status"]["phase"] == "Failed"
    node = by_display_name(final)[final["metadata"]["name"]]
    assert node["type"] == "Pod"
    assert node["phase"] == "Failed"
    assert node["outputs"] == {"exitCode": "64"}
    return node


def test_a_bad_expression_is_one_located_line(engine: LocalBackend, home: Path) -> None:
    """data_test.go's unclosed call: the run fails at that step, with its index and column."""
    objects(home / "artifacts", FILES)
    text = one_data_template(
        "      source: {artifactPaths: {name: all, s3: {bucket: b}}}\n"
        "      transformation:\n"
        "      - expression: 'filter(data, {# endsWith \".py\"})'\n"
        "      - expression: \"map(data, {# + '.processed'}\"\n"
    )
    message = failed_node(run(engine, text))["message"]
    prefix = FAILED + "unable to process data transformation: error processing data step 1: "
    assert message.startswith(prefix + "col ")
    assert "\n" not in message


def test_a_type_error_names_the_step(engine: LocalBackend, home: Path) -> None:
    """expr compiles against the data's Go type ([]string): a predicate that is not boolean
    is refused before it runs, as expr.Compile refuses it ("predicate should return
    boolean (got string)" at the closure, column 14)."""
    objects(home / "artifacts", FILES)
    text = one_data_template(
        "      source: {artifactPaths: {name: all, s3: {bucket: b}}}\n"
        "      transformation: [{expression: 'filter(data, {# + \"x\"})'}]\n"
    )
    message = failed_node(run(engine, text))["message"]
    assert message == (
        FAILED + "unable to process data transformation: error processing data step 0: "
        "col 14: predicate should return boolean (got string)"
    )


@pytest.mark.parametrize(
    ("source", "error"),
    [
        # S3's listObjects: nothing under the key and no object of that name.
        (
            "{artifactPaths: {name: a, s3: {bucket: b, key: missing}}}",
            "no key found of name missing",
        ),
        # The bucket listed is the artifact's own, and minio-go needs one.
        (
            "{artifactPaths: {name: a, s3: {key: logs}}}",
            "failed to list directory: Bucket name cannot be empty",
        ),
        # HTTP, Git and raw drivers cannot list.
        (
            "{artifactPaths: {name: a, http: {url: 'http://127.0.0.1:9/x'}}}",
            "ListObjects is currently not supported for this artifact type, "
            "but it will be in a future version",
        ),
        (
            "{artifactPaths: {name: a, raw: {data: x}}}",
            "ListObjects is currently not supported for this artifact type, "
            "but it will be in a future version",
        ),
        (
            "{artifactPaths: {name: a}}",
            "artifact storage is not configured; see the docs for setup instructions: "
            "https://argo-workflows.readthedocs.io/en/latest/configure-artifact-repository/",
        ),
    ],
)
def test_a_source_that_cannot_be_listed_fails_as_in_argo(
    engine: LocalBackend, source: str, error: str
) -> None:
    message = failed_node(run(engine, one_data_template(f"      source: {source}")))["message"]
    assert message == (
        FAILED + "unable to process data source: unable to source artifact paths: " + error
    )


def test_no_source(engine: LocalBackend) -> None:
    message = failed_node(run(engine, one_data_template("      source: {}")))["message"]
    assert (
        message
        == FAILED + "unable to process data source: no valid source is used for data template"
    )


# ---- a real S3-compatible server -----------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_STEPS", "2")
    monkeypatch.setenv("EXECUTOR_RETRY_BACKOFF_DURATION", "1ms")


def s3_repository(engine: LocalBackend, s3: S3Server, bucket: str) -> None:
    """The namespace's default artifact repository: `bucket` on the S3 server."""
    engine.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": CRED},
            "stringData": {"accesskey": s3.access_key, "secretkey": s3.secret_key},
        }
    )
    block = {
        "endpoint": s3.endpoint,
        "bucket": bucket,
        "insecure": True,
        "accessKeySecret": {"name": CRED, "key": "accesskey"},
        "secretKeySecret": {"name": CRED, "key": "secretkey"},
    }
    engine.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "artifact-repositories", "annotations": {ANNOTATION: "s3"}},
            "data": {"s3": yaml.safe_dump({"s3": block})},
        }
    )


def test_the_upstream_example_against_s3(engine: LocalBackend, s3: S3Server) -> None:
    """examples/data-transformations.yaml as it is, with `my-bucket` as the repository's
    bucket: the bucket listed (through the repository's endpoint and credentials), its
    `main.log` files selected and each processed by a pod that reads it as an input
    artifact (a key-only artifact, so from the repository)."""
    bucket = "my-bucket"
    client = s3.client()
    client.create_bucket(Bucket=bucket)
    stored = {
        "run-1/step-a/main.log": b"a says hello\n",
        "run-1/step-a/init.log": b"init\n",
        "run-1/step-b/main.log": b"b says hello\n",
        "run-2/main.log": b"two\n",
        "run-2/dir/": b"",  # a console-made folder marker: skipped
        "summary.txt": b"not a log\n",
    }
    for key, content in stored.items():
        client.put_object(Bucket=bucket, Key=key, Body=content)
    s3_repository(engine, s3, bucket)
    (body,) = [
        d.body
        for d in parse_file(argo_examples() / "data-transformations.yaml")
        if d.kind == "Workflow"
    ]
    final = run_body(engine, body)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    nodes = by_display_name(final)
    expected = ["run-1/step-a/main.log", "run-1/step-b/main.log", "run-2/main.log"]
    assert nodes["list-log-files"]["type"] == "Pod"
    assert nodes["list-log-files"]["outputs"]["result"] == json.dumps(
        expected, separators=(",", ":")
    )
    processed = {
        n["inputs"]["parameters"][0]["value"]: n["outputs"]["result"]
        for n in nodes.values()
        if n["displayName"].startswith("process-logs(")
    }
    assert processed == {key: f"{key}\n{stored[key].decode().strip()}" for key in expected}


def test_the_artifacts_own_bucket_is_listed(engine: LocalBackend, s3: S3Server) -> None:
    """Relocation gives the driver (endpoint, credentials); the bucket and key listed stay
    the artifact's (ListObjects is handed the artifact as written)."""
    other = f"other-{uuid.uuid4().hex[:8]}"
    s3.client().create_bucket(Bucket=other)
    s3.client().put_object(Bucket=other, Key="in/x.txt", Body=b"x")
    s3_repository(engine, s3, s3.bucket)
    text = one_data_template(
        f"      source: {{artifactPaths: {{name: a, s3: {{bucket: {other}}}}}}}"
    )
    final = run(engine, text)
    assert by_display_name(final)[final["metadata"]["name"]]["outputs"]["result"] == '["in/x.txt"]'


def test_a_bucket_that_does_not_exist(engine: LocalBackend, s3: S3Server) -> None:
    """The S3 driver's listing error, with the server's message (as minio-go reports it;
    Argo's own test bed reports the same for a bucket it lacks)."""
    s3_repository(engine, s3, s3.bucket)
    absent = f"absent-{uuid.uuid4().hex[:8]}"
    text = one_data_template(
        f"      source: {{artifactPaths: {{name: a, s3: {{bucket: {absent}}}}}}}"
    )
    message = failed_node(run(engine, text))["message"]
    assert message == (
        FAILED + "unable to process data source: unable to source artifact paths: "
        "failed to list directory: The specified bucket does not exist"
    )


def test_an_empty_bucket_listed_whole(engine: LocalBackend, s3: S3Server) -> None:
    """Nothing under the empty prefix: Argo's driver then asks whether the key itself is an
    object, and minio-go refuses the empty name."""
    bucket = f"empty-{uuid.uuid4().hex[:8]}"
    s3.client().create_bucket(Bucket=bucket)
    s3_repository(engine, s3, s3.bucket)
    text = one_data_template(
        f"      source: {{artifactPaths: {{name: a, s3: {{bucket: {bucket}}}}}}}"
    )
    message = failed_node(run(engine, text))["message"]
    assert message == (
        FAILED + "unable to process data source: unable to source artifact paths: "
        f"failed to check if key  exists from bucket {bucket}: Object name cannot be empty"
    )


def test_a_complete_s3_location_is_listed_where_it_says(s3: S3Server) -> None:
    """Endpoint, bucket and key given: no relocation; ListDirectory cleans the key
    (filepath.Clean) and lists everything below `<key>/`, folder markers skipped."""
    from jupyter_argo.artifacts import embedded_repository, list_objects

    bucket = f"own-{uuid.uuid4().hex[:8]}"
    client = s3.client()
    client.create_bucket(Bucket=bucket)
    for key in ("in/a.txt", "in/sub/b.txt", "in/sub/", "inside.txt", "in.txt"):
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    values = {(CRED, "accesskey"): s3.access_key, (CRED, "secretkey"): s3.secret_key}
    block = {
        "endpoint": s3.endpoint,
        "bucket": bucket,
        "insecure": True,
        "accessKeySecret": {"name": CRED, "key": "accesskey"},
        "secretKeySecret": {"name": CRED, "key": "secretkey"},
    }

    def listed(key: str) -> list[str] | None:
        return list_objects(
            {"name": "a", "s3": {**block, "key": key}},
            default=embedded_repository(Path("/nonexistent")),
            secrets=lambda name, k: values.get((name, k)),
        )

    assert listed("in") == ["in/a.txt", "in/sub/b.txt"]
    assert listed("./in//sub/") == ["in/sub/b.txt"]
    assert listed("in.txt") is None  # an object, nothing below it: Go's nil list


@pytest.fixture(scope="module")
def gcs_url() -> Iterator[str]:
    pytest.importorskip("google.cloud.storage", reason="google-cloud-storage is optional")
    from servers import gcs_emulator

    with gcs_emulator() as url:
        yield url


def test_gcs_lists_by_raw_prefix(gcs_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """gcs.go's listByPrefix: the key is a plain prefix (no `/` added), folder-like names
    are skipped, an object named exactly the key is the whole answer, and no match is an
    empty (not nil) list."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from jupyter_argo.artifacts import embedded_repository, list_objects

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_url)
    client = storage.Client(project="t", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    bucket = client.create_bucket("data-listing")
    for name in ("logs/a.txt", "logs/dir/", "logs/dir/b.txt", "logsbook.txt", "other.txt"):
        bucket.blob(name).upload_from_string(b"x")

    def listed(key: str) -> list[str] | None:
        return list_objects(
            {"name": "a", "gcs": {"bucket": "data-listing", "key": key}},
            default=embedded_repository(Path("/nonexistent")),
            secrets=lambda name, k: None,
        )

    assert listed("logs") == ["logs/a.txt", "logs/dir/b.txt", "logsbook.txt"]
    assert listed("logs/") == ["logs/a.txt", "logs/dir/b.txt"]
    assert listed("logs/a.txt") == ["logs/a.txt"]
    assert listed("nothing") == []
