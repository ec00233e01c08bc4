"""Nothing silently ignored (issue 14 item 1): every field of Argo's Workflow schema is
classified by the local engine (engine/fields.py), checked here against Argo's own schema,
and a run names, by path, every field it sets that the engine does not honour."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ARGO as SHARED

from jupyter_argo.engine.fields import REASONS, RUN, TYPES, unhonoured, warning_message

SCHEMA = SHARED / "schema.json"
ARGO = "io.argoproj.workflow.v1alpha1."
KUBERNETES = "io.k8s.api.core.v1."


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    if not SCHEMA.is_file():
        pytest.skip(f"Argo's schema is not at {SCHEMA}")
    found: dict[str, Any] = json.loads(SCHEMA.read_text())["definitions"]
    return found


def schema_name(kind: str, definitions: dict[str, Any]) -> str:
    for prefix in (ARGO, KUBERNETES):
        if prefix + kind in definitions:
            return prefix + kind
    raise AssertionError(f"{kind} is not a type of Argo's schema")


def field_type(prop: dict[str, Any]) -> str:
    """A property's type in fields.py's notation: Name, [Name], [[Name]], {Name}."""

    def name(node: dict[str, Any]) -> str:
        return str(node.get("$ref", "")).rsplit(".", 1)[-1]

    if "$ref" in prop:
        return name(prop)
    if prop.get("type") == "array":
        return f"[{name(prop['items'])}]"
    if prop.get("type") == "object" and isinstance(prop.get("additionalProperties"), dict):
        return "{" + name(prop["additionalProperties"]) + "}"
    return str(prop.get("type", ""))


def test_every_field_of_argos_schema_is_classified(definitions: dict[str, Any]) -> None:
    """Each type fields.py walks has exactly the fields Argo's schema gives it: a field
    Argo adds (or we forget) fails here instead of being dropped quietly."""
    for kind, fields in TYPES.items():
        schema = definitions[schema_name(kind, definitions)]
        assert set(fields) == set(schema.get("properties") or {}), kind


def test_walked_types_are_the_types_argo_gives_those_fields(
    definitions: dict[str, Any],
) -> None:
    steps = definitions[ARGO + "ParallelSteps"]
    assert steps["type"] == "array"
    assert steps["items"]["$ref"].endswith(".WorkflowStep")
    for kind, fields in TYPES.items():
        props = definitions[schema_name(kind, definitions)]["properties"]
        for field, verdict in fields.items():
            if verdict == RUN or verdict[0] in "~!":
                assert verdict == RUN or verdict in REASONS, (kind, field)
                continue
            declared = field_type(props[field])
            if verdict == "[[WorkflowStep]]":
                assert declared == "[ParallelSteps]", (kind, field)
            else:
                assert declared == verdict, (kind, field, declared)


def test_everything_reachable_from_workflowspec_is_walked_or_classified_whole(
    definitions: dict[str, Any],
) -> None:
    """Argo's own container, volume and template types are walked field by field, never
    waved through whole: only leaf values and Argo's small helper types are."""
    walked = set(TYPES)
    must_walk = {
        "Template",
        "Container",
        "UserContainer",
        "ScriptTemplate",
        "ContainerNode",
        "Volume",
        "VolumeMount",
        "EnvVar",
        "Outputs",
        "Inputs",
        "Artifact",
    }
    assert must_walk <= walked
    for kind, fields in TYPES.items():
        props = definitions[schema_name(kind, definitions)]["properties"]
        for field, verdict in fields.items():
            if verdict != RUN:
                continue
            inner = field_type(props[field]).strip("[]{}")
            assert inner not in must_walk, f"{kind}.{field} hides {inner}'s fields"


ALL_KINDS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: ignored-}
spec:
  entrypoint: main
  nodeSelector: {disk: ssd}
  ttlStrategy: {secondsAfterCompletion: 10}
  synchronization:
    mutexes: [{name: one}]
  templates:
  - name: main
    metrics:
      prometheus:
      - name: runs
        help: runs
        counter: {value: "1"}
    steps:
    - - name: s
        template: work
        arguments:
          parameters: [{name: x, value: "1"}]
  - name: work
    inputs:
      parameters: [{name: x}]
    volumes:
    - name: host
      hostPath: {path: /etc}
    container:
      image: alpine
      command: [sh, -c, "ls /mnt/host | wc -l; echo {{inputs.parameters.x}}"]
      resources: {limits: {memory: 1Mi}}
      livenessProbe: {exec: {command: ["true"]}}
      volumeMounts:
      - {name: host, mountPath: /mnt/host, readOnly: true}
"""


def test_fields_set_and_not_honoured_are_named_by_path_and_reason() -> None:
    findings = unhonoured(yaml.safe_load(ALL_KINDS)["spec"])
    assert [f.path for f in findings] == [
        "spec.nodeSelector",
        "spec.ttlStrategy",
        "templates.main.metrics",
        "templates.work.volumes.host.hostPath",
        "templates.work.container.resources",
        "templates.work.container.livenessProbe",
        "templates.work.container.volumeMounts.host.readOnly",
    ]
    message = warning_message(findings)
    assert message.startswith("ignored by the local engine: spec.nodeSelector (scheduling")
    assert "templates.work.container.resources (resource requests and limits" in message


def test_a_long_list_is_cut_with_a_count() -> None:
    spec = {
        "templates": [
            {"name": f"t{i}", "container": {"image": "a", "resources": {"limits": {"cpu": 1}}}}
            for i in range(30)
        ]
    }
    message = warning_message(unhonoured(spec))
    assert message.count("container.resources") == 12
    assert "and 18 more" in message


def test_inline_templates_hooks_and_template_defaults_are_walked() -> None:
    spec = yaml.safe_load(
        """
        templateDefaults: {container: {resources: {requests: {cpu: 1}}}}
        hooks:
          exit: {template: t}
        templates:
        - name: main
          dag:
            tasks:
            - name: a
              inline:
                container: {image: alpine, lifecycle: {preStop: {exec: {command: ["true"]}}}}
          steps: null
        """
    )
    assert [f.path for f in unhonoured(spec)] == [
        "spec.templateDefaults.container.resources",
        "templates.main.dag.tasks.a.inline.container.lifecycle",
    ]


def test_an_upstream_example_that_honours_everything_has_no_warning() -> None:
    path = SHARED / "examples" / "dag-diamond-steps.yaml"
    if not path.is_file():
        pytest.skip(f"the upstream examples are not at {path.parent}")
    assert unhonoured(yaml.safe_load(path.read_text())["spec"]) == []


def test_the_cli_shows_what_the_run_ignored(tmp_path: Path) -> None:
    """`jupyter-argo run` and `get` print the SpecWarning under Conditions, as `argo get`
    prints a workflow's conditions; the run itself goes on."""
    workflow = yaml.safe_load(ALL_KINDS)
    manifest = tmp_path / "wf.yaml"
    manifest.write_text(yaml.safe_dump(workflow))
    run = subprocess.run(
        [sys.executable, "-m", "jupyter_argo.cli", "run", str(manifest)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Succeeded" in run.stdout
    warning = next(line for line in run.stdout.splitlines() if "SpecWarning" in line)
    assert "templates.work.container.resources" in warning
    assert "templates.work.volumes.host.hostPath" in warning
    get = subprocess.run(
        [sys.executable, "-m", "jupyter_argo.cli", "get", "@latest"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert warning.strip() in get.stdout


# ---- fields that used to be dropped and are now honoured --------------------------------


def run_local(text: str, tmp_path: Path, *objects: str) -> dict[str, Any]:
    from jupyter_argo.backends.local import LocalBackend

    backend = LocalBackend(home=tmp_path / "home")
    for manifest in objects:
        backend.apply(yaml.safe_load(manifest))
    created = backend.submit(yaml.safe_load(text))
    final: dict[str, Any] = backend.wait(created["metadata"]["name"], timeout=60)
    return final


def node_of(wf: dict[str, Any], display: str) -> dict[str, Any]:
    return next(n for n in wf["status"]["nodes"].values() if n["displayName"] == display)


HTTP_POST = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: http-}
spec:
  entrypoint: main
  templates:
  - name: main
    http:
      url: "https://127.0.0.1:PORT/echo"
      method: POST
      insecureSkipVerify: SKIP
      bodyFrom: {bytes: "aGVsbG8gZnJvbSBieXRlcw=="}
"""


@pytest.fixture
def https_echo(tmp_path: Path) -> Any:
    """An HTTPS server with a self-signed certificate, answering a POST with its body."""
    import http.server
    import ssl
    import threading

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"got: " + body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_an_http_template_sends_body_bytes_and_can_skip_tls_checks(
    https_echo: int, tmp_path: Path
) -> None:
    """`bodyFrom.bytes` (Go's []byte, base64 in YAML) is the body; `insecureSkipVerify`
    accepts a self-signed certificate, which is refused without it (Argo's agent)."""
    text = HTTP_POST.replace("PORT", str(https_echo))
    skipped = run_local(text.replace("SKIP", "true"), tmp_path / "a")
    assert skipped["status"]["phase"] == "Succeeded", skipped["status"].get("message")
    assert node_of(skipped, skipped["metadata"]["name"])["outputs"]["result"] == (
        "got: hello from bytes"
    )
    checked = run_local(text.replace("SKIP", "false"), tmp_path / "b")
    assert checked["status"]["phase"] in ("Failed", "Error")
    assert "certificate" in node_of(checked, checked["metadata"]["name"])["message"]


CONFIG_ITEMS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: items-}
spec:
  entrypoint: main
  volumes:
  - name: config
    configMap:
      name: settings
      defaultMode: 0440
      items:
      - {key: greeting, path: nested/hello.txt}
      - {key: level, path: level, mode: 0400}
  templates:
  - name: main
    container:
      image: busybox
      command: [sh, -c]
      args:
      - >-
        cat /cfg/nested/hello.txt; echo; ls /cfg | tr '\\n' ' '; echo;
        stat -c '%a %n' /cfg/nested/hello.txt /cfg/level
      volumeMounts: [{name: config, mountPath: /cfg}]
"""

SETTINGS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hi there, level: debug, unused: not mounted}
"""


def test_configmap_items_choose_keys_paths_and_modes(tmp_path: Path) -> None:
    """`items` mounts only the keys asked for, at their paths; `mode` and `defaultMode`
    set the files' permissions, as the kubelet writes a ConfigMap volume."""
    from jupyter_argo.backends.local import LocalBackend

    wf = run_local(CONFIG_ITEMS, tmp_path, SETTINGS)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    logs = [
        line for _pod, line in LocalBackend(home=tmp_path / "home").logs(wf["metadata"]["name"])
    ]
    assert logs == ["hi there", "level nested ", "440 /cfg/nested/hello.txt", "400 /cfg/level"]


def test_a_missing_item_key_fails_the_pod_with_one_line(tmp_path: Path) -> None:
    text = CONFIG_ITEMS.replace("key: level", "key: absent")
    wf = run_local(text, tmp_path, SETTINGS)
    assert wf["status"]["phase"] in ("Error", "Failed")
    message = node_of(wf, wf["metadata"]["name"])["message"]
    assert message == "volume config: ConfigMap settings has no key absent (apply it first)"


def test_an_item_path_may_not_leave_the_volume(tmp_path: Path) -> None:
    wf = run_local(CONFIG_ITEMS.replace("nested/hello.txt", "../../x"), tmp_path, SETTINGS)
    message = node_of(wf, wf["metadata"]["name"])["message"]
    assert message == "volume config: items path '../../x': must not contain '..'"


def test_a_display_name_argo_would_refuse_errors_the_node(tmp_path: Path) -> None:
    text = """
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {generateName: display-}
    spec:
      entrypoint: main
      templates:
      - name: main
        annotations: {workflows.argoproj.io/display-name: "-bad name"}
        container: {image: busybox, command: ["true"]}
    """
    wf = run_local(textwrap.dedent(text), tmp_path)
    assert wf["status"]["phase"] == "Error"
    assert node_of(wf, wf["metadata"]["name"])["message"] == (
        "displayName must match the regex ^[a-zA-Z0-9][a-zA-Z0-9-.]{0,61}[a-zA-Z0-9]$"
    )
