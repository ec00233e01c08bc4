"""Artifacts in the view's panel, served by the Jupyter server extension (no kernel).

A real local run writes artifacts of each kind the Argo UI previews (text, JSON, CSV,
PNG, HTML) and some it cannot (binary, 50 MB); a real JupyterLab server with the
package's server configuration answers for them at `jupyter-argo/artifact`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser.lab import Lab, jupyter_lab

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.preview import PREVIEW_BYTES, TABLE_ROWS
from jupyter_argo.run import Run
from jupyter_argo.spec import parse_text
from jupyter_argo.widgets import WorkflowView

REPO = Path(__file__).resolve().parents[1]
BIG = 50 * 1024 * 1024

WORKFLOW = f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: preview-
spec:
  entrypoint: make
  templates:
    - name: make
      script:
        image: python:3.12
        command: [python]
        source: |
          import json, os, struct, zlib
          os.makedirs("/tmp/out", exist_ok=True)
          def out(name, data):
              with open("/tmp/out/" + name, "wb") as f:
                  f.write(data)
          out("notes.txt", "héllo, artifacts\\nsecond line\\n".encode())
          out("data.json", json.dumps({{"a": [1, 2], "b": "x"}}).encode())
          rows = ["id,name"] + [f"{{i}},row {{i}}" for i in range(100)]
          out("table.csv", ("\\n".join(rows) + "\\n").encode())
          def chunk(kind, body):
              crc = zlib.crc32(kind + body) & 0xFFFFFFFF
              return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
          header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
          pixels = zlib.compress(b"\\x00\\xff\\x00\\x00\\x00\\xff\\x00" * 2)
          png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header)
          out("pixel.png", png + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
          out("blob.bin", bytes(range(256)) * 16)
          out("page.html", b"<html><body><h1>Report</h1><script>1</script></body></html>")
          svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>1</script><rect/></svg>'
          out("shape.svg", svg.encode())
          out("rows.tsv", b"a\\tb\\n1\\t2\\n")
          os.makedirs("/tmp/out/tree/sub")
          out("tree/one.txt", b"1")
          out("tree/sub/two.txt", b"22")
          line = b"0123456789abcdef" * 4 + b"\\n"
          out("big.txt", line * ({BIG} // len(line)))
      outputs:
        artifacts:
          - {{name: notes, path: /tmp/out/notes.txt}}
          - {{name: data, path: /tmp/out/data.json}}
          - {{name: table, path: /tmp/out/table.csv}}
          - {{name: pixel, path: /tmp/out/pixel.png}}
          - {{name: blob, path: /tmp/out/blob.bin}}
          - {{name: page, path: /tmp/out/page.html, archive: {{none: {{}}}}}}
          - {{name: shape, path: /tmp/out/shape.svg}}
          - {{name: rows, path: /tmp/out/rows.tsv}}
          - {{name: tree, path: /tmp/out/tree}}
          - {{name: big, path: /tmp/out/big.txt}}
"""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect (to the login page) is the answer itself


# An input artifact whose URL holds a password, on a host that does not answer.
CREDENTIALS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: creds-}
spec:
  entrypoint: main
  templates:
  - name: main
    inputs:
      artifacts:
      - name: remote
        path: /tmp/remote.txt
        http: {url: "http://someone:s3cr3t@127.0.0.1:9/data.txt"}
    container: {image: alpine, command: [cat, /tmp/remote.txt]}
"""


@dataclass(frozen=True)
class Served:
    lab: Lab
    workflow: dict[str, Any]
    backend: LocalBackend
    creds: dict[str, Any]

    @property
    def node(self) -> str:
        (node_id,) = (k for k, n in self.workflow["status"]["nodes"].items() if n["type"] == "Pod")
        return str(node_id)

    def url(self, artifact: str, view: str = "preview", **over: str) -> str:
        query = {
            "backend": "local",
            "namespace": self.workflow["metadata"]["namespace"],
            "workflow": self.workflow["metadata"]["name"],
            "node": self.node,
            "io": "outputs",
            "artifact": artifact,
            "view": view,
            **over,
        }
        return f"{self.lab.url}/jupyter-argo/artifact?{urllib.parse.urlencode(query)}"

    def get(self, url: str, *, token: bool = True) -> tuple[int, dict[str, str], bytes]:
        headers = {"Authorization": f"token {self.lab.token}"} if token else {}
        request = urllib.request.Request(url, headers=headers)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def preview(self, artifact: str, **over: str) -> tuple[int, dict[str, Any]]:
        status, _, body = self.get(self.url(artifact, **over))
        found: dict[str, Any] = json.loads(body)
        return status, found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("preview-home")
    backend = LocalBackend(home)
    (doc,) = parse_text(WORKFLOW)
    created = backend.submit(doc.body)
    final = backend.wait(created["metadata"]["name"], timeout=120)
    assert final["status"]["phase"] == "Succeeded", final["status"].get("message")
    (doc,) = parse_text(CREDENTIALS)
    creds = backend.wait(backend.submit(doc.body)["metadata"]["name"], timeout=60)
    assert creds["status"]["phase"] == "Error"
    root = tmp_path_factory.mktemp("preview-root")
    env = {"JUPYTER_CONFIG_PATH": str(REPO / "jupyter-config"), "JUPYTER_ARGO_HOME": str(home)}
    with jupyter_lab(root, tmp_path_factory.mktemp("preview-scratch"), env=env) as lab:
        yield Served(lab, final, backend, creds)


def test_text_is_previewed_with_its_size(served: Served) -> None:
    status, found = served.preview("notes")
    text = "héllo, artifacts\nsecond line\n"
    assert status == 200
    assert found == {"kind": "text", "size": len(text.encode()), "text": text, "note": ""}


def test_json_is_previewed_pretty_printed(served: Served) -> None:
    status, found = served.preview("data")
    assert status == 200
    assert found["kind"] == "json"
    assert json.loads(found["text"]) == {"a": [1, 2], "b": "x"}
    assert found["text"].startswith('{\n  "a": [')


def test_csv_is_a_table_of_its_first_rows(served: Served) -> None:
    status, found = served.preview("table")
    assert status == 200
    assert found["kind"] == "table"
    assert found["rows"][0] == ["id", "name"]
    assert found["rows"][1] == ["0", "row 0"]
    assert len(found["rows"]) == TABLE_ROWS + 1
    assert found["rows"][-1] == [str(TABLE_ROWS - 1), f"row {TABLE_ROWS - 1}"]
    assert found["note"] == f"the first {TABLE_ROWS} rows"


def test_a_png_is_served_as_an_image(served: Served) -> None:
    status, found = served.preview("pixel")
    assert (status, found["kind"]) == (200, "image")
    status, headers, body = served.get(served.url("pixel", "raw"))
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    assert found["size"] == len(body)


def test_html_is_only_served_sandboxed(served: Served) -> None:
    status, found = served.preview("page")
    assert (status, found["kind"]) == (200, "html")
    assert "text" not in found  # never inline in the page
    status, headers, body = served.get(served.url("page", "raw"))
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Content-Security-Policy"].split(";")[0] == "sandbox"
    assert b"<h1>Report</h1>" in body


def test_svg_is_only_served_sandboxed(served: Served) -> None:
    status, found = served.preview("shape")
    assert (status, found["kind"]) == (200, "svg")
    assert "text" not in found
    status, headers, body = served.get(served.url("shape", "raw"))
    assert status == 200
    assert headers["Content-Type"] == "image/svg+xml"
    assert headers["Content-Security-Policy"].split(";")[0] == "sandbox"
    assert body.startswith(b"<svg")


def test_tsv_is_a_table_split_on_tabs(served: Served) -> None:
    status, found = served.preview("rows")
    assert status == 200
    assert found == {"kind": "table", "size": 8, "rows": [["a", "b"], ["1", "2"]], "note": ""}


def test_a_directory_lists_its_files(served: Served) -> None:
    status, found = served.preview("tree")
    assert status == 200
    assert found == {
        "kind": "directory",
        "size": 3,
        "files": ["one.txt", "sub/two.txt"],
        "note": "a directory of 2 files",
    }
    status, _, body = served.get(served.url("tree", "download"))
    assert status == 400
    assert json.loads(body) == {"error": "a directory of files: read it with .path() in Python"}


def test_binary_says_it_cannot_preview_and_downloads(served: Served) -> None:
    status, found = served.preview("blob")
    assert status == 200
    assert found["kind"] == "binary"
    assert found["size"] == 4096
    assert "no preview" in found["note"]
    assert "download" in found["note"]
    # Its raw form is a download too: nothing the browser would render.
    status, headers, body = served.get(served.url("blob", "raw"))
    assert status == 200
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == "attachment; filename*=UTF-8''blob.bin"
    assert body == bytes(range(256)) * 16


def test_a_50_mb_artifact_is_previewed_in_part(served: Served) -> None:
    status, found = served.preview("big")
    assert status == 200
    line = "0123456789abcdef" * 4 + "\n"
    size = (BIG // len(line)) * len(line)
    assert found["kind"] == "text"
    assert found["size"] == size
    assert len(found["text"].encode()) == PREVIEW_BYTES
    assert found["text"].startswith(line)
    assert found["note"] == "the first 64.0 KB of 50.0 MB; download it for the rest"
    status, headers, body = served.get(served.url("big", "download"))
    assert status == 200
    assert headers["Content-Disposition"] == "attachment; filename*=UTF-8''big.txt"
    assert len(body) == size


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"workflow": "no-such-run"}, "no workflow 'no-such-run' in namespace 'default'"),
        ({"node": "no-such-node"}, "has no node 'no-such-node'"),
        ({"artifact": "nope"}, "has no output artifact 'nope'"),
        ({"io": "inputs"}, "has no input artifact 'notes'"),
    ],
)
def test_unknown_run_node_or_artifact_is_one_line_404(
    served: Served, over: dict[str, str], message: str
) -> None:
    status, found = served.preview(over.pop("artifact", "notes"), **over)
    assert status == 404
    assert set(found) == {"error"}
    assert message in found["error"]
    assert "\n" not in found["error"]
    assert "Traceback" not in found["error"]


def test_an_unauthenticated_request_gets_nothing(served: Served) -> None:
    status, _, body = served.get(served.url("notes"), token=False)
    assert status in (302, 403)
    assert b"artifacts" not in body


def test_the_panel_names_each_artifact_with_the_python_that_reads_it(served: Served) -> None:
    view = WorkflowView(served.workflow, backend="local")
    artifacts = view.artifacts[served.node]
    assert [a["name"] for a in artifacts] == [
        "notes",
        "data",
        "table",
        "pixel",
        "blob",
        "page",
        "shape",
        "rows",
        "tree",
        "big",
    ]
    name = served.workflow["metadata"]["name"]
    notes = artifacts[0]
    assert notes["io"] == "outputs"
    assert notes["location"] == f"s3: {name}/{name}/notes.tgz"
    assert notes["python"] == f"run.node({name!r}).outputs.artifacts['notes']"
    # The line works as printed, on the Python API.
    run = Run(served.backend, served.workflow)
    assert eval(notes["python"] + ".text()", {"run": run}) == "héllo, artifacts\nsecond line\n"
    assert view.backend == "local"
    # Only nodes with artifacts are listed; the list goes with every update, so a click
    # shows it while the kernel is busy.
    assert list(view.artifacts) == [served.node]


def test_credentials_in_an_artifact_url_are_never_shown(served: Served) -> None:
    name = served.creds["metadata"]["name"]
    (node_id,) = served.creds["status"]["nodes"]
    query = {"workflow": name, "node": node_id, "io": "inputs"}
    status, _, body = served.get(served.url("remote", **query))
    assert status == 400  # the repository cannot be read: said in one line
    (error,) = json.loads(body).values()
    assert error.startswith("artifact remote: loading content from http://***@127.0.0.1:9/")
    assert "s3cr3t" not in error
    for view in ("raw", "download"):
        status, _, body = served.get(served.url("remote", view, **query))
        assert status == 400
        assert b"s3cr3t" not in body
    panel = WorkflowView(served.creds, backend="local")
    (remote,) = panel.artifacts[node_id]
    assert remote["location"] == "http: http://***@127.0.0.1:9/data.txt"
    assert "s3cr3t" not in json.dumps(panel.artifacts)
