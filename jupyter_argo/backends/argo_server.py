"""The Argo Server backend: a shared Argo installation reached as the `argo` CLI reaches it.

Every call goes to the Argo Server's REST API (Argo's `server/workflow/workflow_server.go`,
`server/artifacts/artifact_server.go`, `api/openapi-spec/swagger.json`) with a bearer
token, so no Kubernetes credentials are needed: the server hydrates offloaded nodes,
serves logs and artifacts with its own credentials. Watching follows
`/api/v1/workflow-events/{ns}` (newline-delimited JSON, resumed from the last
resourceVersion after a dropped connection), logs stream from `.../log`.

Settings are the argo CLI's (`cmd/argo/commands/client/conn.go`): ARGO_SERVER (host:port),
ARGO_TOKEN ("Bearer ..." or the bare token), ARGO_NAMESPACE, ARGO_SECURE (default true),
ARGO_INSECURE_SKIP_VERIFY, ARGO_BASE_HREF, ARGO_HTTP1, ARGO_INSTANCEID; constructor
arguments win. Ours alone: ARGO_TOKEN_FILE, a file holding the token (read when the
backend is made), so the token need not be in the environment or a notebook.
The token never appears in `repr`, errors or logs. Nothing connects until the first call.
"""

from __future__ import annotations

import html.parser
import json
import os
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_argo.backends.base import last_snapshot
from jupyter_argo.errors import (
    BackendError,
    ConfigError,
    NotFoundError,
    UnsupportedError,
    UserError,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["ArgoServerBackend"]

FINAL_PHASES = ("Succeeded", "Failed", "Error")
_APPLY_PATHS = {
    "WorkflowTemplate": ("/api/v1/workflow-templates/{ns}", "template"),
    "ClusterWorkflowTemplate": ("/api/v1/cluster-workflow-templates", "template"),
    "CronWorkflow": ("/api/v1/cron-workflows/{ns}", "cronWorkflow"),
}
_SETTINGS = (
    "server, token, token_file, namespace, secure, insecure_skip_verify, base_href, http1, "
    "instance_id, ca_file, timeout, reconnect_for"
)
_LINT_PATHS = {
    "Workflow": ("/api/v1/workflows/{ns}/lint", "workflow"),
    "WorkflowTemplate": ("/api/v1/workflow-templates/{ns}/lint", "template"),
    "ClusterWorkflowTemplate": ("/api/v1/cluster-workflow-templates/lint", "template"),
    "CronWorkflow": ("/api/v1/cron-workflows/{ns}/lint", "cronWorkflow"),
}
_TEMPLATE_PATHS = {
    "WorkflowTemplate": "/api/v1/workflow-templates/{ns}/{name}",
    "ClusterWorkflowTemplate": "/api/v1/cluster-workflow-templates/{name}",
}
# A directory artifact is walked through the server's listings: bounded, as an archive is.
_MAX_DIRECTORY_FILES = 10_000
_MAX_DIRECTORY_DEPTH = 32


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() == "true"


def _read_token(path: str | os.PathLike[str], origin: str) -> str:
    """The token in the file `path` (`origin` names the setting, for the message)."""
    file = Path(path).expanduser()
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise ConfigError(f"{origin} {file}: cannot read the token ({reason})") from None


def _configured_token(token: str | None, token_file: str | os.PathLike[str] | None) -> str:
    """The bearer token: `token`, else `token_file`'s content, else $ARGO_TOKEN (set at all,
    as the argo CLI reads it), else $ARGO_TOKEN_FILE's content, else none."""
    if token is not None:
        return token
    if token_file:
        return _read_token(token_file, "token file")
    if "ARGO_TOKEN" in os.environ:
        return os.environ["ARGO_TOKEN"]
    if os.environ.get("ARGO_TOKEN_FILE"):
        return _read_token(os.environ["ARGO_TOKEN_FILE"], "ARGO_TOKEN_FILE")
    return ""


class ArgoServerBackend:
    """Runs workflows through an Argo Server (the UI's API, usually port 2746).

    Settings: `server` (host:port, or a URL whose http/https scheme overrides `secure`;
    default `$ARGO_SERVER`), `token` (default `$ARGO_TOKEN`), `token_file` (a file holding
    the token, read now; default `$ARGO_TOKEN_FILE` when `$ARGO_TOKEN` is not set),
    `namespace` (default `$ARGO_NAMESPACE`, else `default`), `secure` (https; default
    `$ARGO_SECURE`, true unless "false"), `insecure_skip_verify` (default
    `$ARGO_INSECURE_SKIP_VERIFY`), `base_href` (a path prefix; default `$ARGO_BASE_HREF`),
    `http1` (default `$ARGO_HTTP1`: streams as `text/event-stream`, as the argo CLI's
    HTTP/1 client asks for them; otherwise newline-delimited JSON, grpc-gateway's own form;
    either way over HTTP/1.1), `instance_id` (default `$ARGO_INSTANCEID`), `ca_file` (a CA
    bundle for the server's certificate), `timeout` (seconds for one plain request),
    `reconnect_for` (seconds a watch keeps retrying while the server is unreachable)."""

    name = "argo-server"

    def __init__(
        self,
        server: str | None = None,
        token: str | None = None,
        namespace: str | None = None,
        *,
        token_file: str | os.PathLike[str] | None = None,
        secure: bool | None = None,
        insecure_skip_verify: bool | None = None,
        base_href: str | None = None,
        http1: bool | None = None,
        instance_id: str | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        reconnect_for: float = 300.0,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise ConfigError(
                f"unknown argo-server backend setting(s): {', '.join(sorted(unknown))} "
                f"(known: {_SETTINGS})"
            )
        server = server or os.environ.get("ARGO_SERVER") or ""
        if not server:
            raise ConfigError(
                "the argo-server backend needs the server's host:port: set ARGO_SERVER "
                "(e.g. localhost:2746) or pass server="
            )
        if secure is None:  # as the argo CLI: secure unless ARGO_SECURE is "false"
            secure = os.environ.get("ARGO_SECURE", "").strip().lower() != "false"
        if insecure_skip_verify is None:
            insecure_skip_verify = _env_flag("ARGO_INSECURE_SKIP_VERIFY", False)
        if base_href is None:
            base_href = os.environ.get("ARGO_BASE_HREF", "")
        if http1 is None:
            http1 = _env_flag("ARGO_HTTP1", False)
        self.http1 = http1
        if "://" in server:
            scheme, _, server = server.partition("://")
            secure = scheme == "https"
        base = "/" + base_href.strip("/") if base_href.strip("/") else ""
        self.url = f"{'https' if secure else 'http'}://{server.rstrip('/')}{base}"
        self.secure = secure
        self.insecure_skip_verify = insecure_skip_verify
        self._namespace = namespace or os.environ.get("ARGO_NAMESPACE") or "default"
        self.instance_id = instance_id or os.environ.get("ARGO_INSTANCEID") or None
        self.ca_file = ca_file
        self.timeout = timeout
        self.reconnect_for = reconnect_for
        raw = _configured_token(token, token_file).strip()
        self.__token = raw.removeprefix("Bearer ").strip()
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        token = "set" if self.__token else "none"
        return f"<ArgoServerBackend {self.url} namespace={self._namespace} token={token}>"

    @property
    def namespace(self) -> str:
        return self._namespace

    def _ns(self, namespace: str | None) -> str:
        return namespace or self._namespace

    # ---- HTTP ----------------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        """The connection pool (made on first use)."""
        import httpx

        with self._lock:
            if self._client is None:
                verify: Any = True
                if self.insecure_skip_verify:
                    verify = False
                elif self.ca_file:
                    import ssl

                    verify = ssl.create_default_context(cafile=os.fspath(self.ca_file))
                headers = {"Accept": "application/json"}
                if self.__token:
                    headers["Authorization"] = f"Bearer {self.__token}"
                self._client = httpx.Client(
                    base_url=self.url,
                    headers=headers,
                    verify=verify,
                    timeout=self.timeout,
                    follow_redirects=False,
                )
            return self._client

    def close(self) -> None:
        """Close the connections (a later call opens new ones)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _scrub(self, text: str) -> str:
        return text.replace(self.__token, "***") if self.__token else text

    def _unreachable(self, err: Exception) -> ConfigError:
        """One line for a connection that could not be made (TLS or network)."""
        detail = self._scrub(str(err) or type(err).__name__)
        lowered = detail.lower()
        if "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
            if "wrong version number" in lowered or "record layer" in lowered:
                hint = "the server may speak plain http: set ARGO_SECURE=false"
            else:
                hint = (
                    "set ARGO_INSECURE_SKIP_VERIFY=true to skip the certificate check, or "
                    "give the server's CA (ca_file=, or SSL_CERT_FILE)"
                )
            return ConfigError(f"TLS with the Argo Server at {self.url} failed ({detail}): {hint}")
        return ConfigError(
            f"cannot reach the Argo Server at {self.url} ({detail}): is ARGO_SERVER right "
            "and the server running?"
        )

    def _message(self, body: bytes) -> str:
        """The server's message in an error answer, on one line, without the token."""
        message = ""
        try:
            decoded = json.loads(body)
            if isinstance(decoded, Mapping):
                inner = decoded.get("error", decoded)
                message = str(inner.get("message") or "") if isinstance(inner, Mapping) else ""
        except ValueError:
            message = body.decode("utf-8", "replace").strip()
        return self._scrub(" ".join(message.split()))[:500]

    def _refused(self, status: int, body: bytes, what: str) -> Exception:
        """The error for an HTTP answer >= 400 (`what`: the request, for the message)."""
        message = self._message(body)
        if status == 401:
            why = (
                "ARGO_TOKEN is missing (or give a token file; in a notebook, %argo login)"
                if not self.__token
                else "the token is wrong or expired"
            )
            return ConfigError(
                f"the Argo Server at {self.url} refused {what} (401 Unauthorized): {why}"
            )
        if status == 403:
            return ConfigError(
                f"the Argo Server at {self.url} denied {what} (403 Forbidden): "
                f"{message or 'the token may not do this'}"
            )
        if status == 404:
            return NotFoundError(message or f"{what}: not found")
        if status >= 500 and "not found" in message.lower():
            return NotFoundError(message)
        if status == 400 and "http request to an https server" in message.lower():
            return ConfigError(
                f"the Argo Server at {self.url} speaks https: do not set ARGO_SECURE=false "
                "(or give an https:// address)"
            )
        if status < 500:
            return UserError(f"{what}: {message or f'HTTP {status}'}")
        return BackendError(f"the Argo Server failed on {what} (HTTP {status}): {message}")

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        what: str = "",
        raw: bool = False,
    ) -> Any:
        """The decoded JSON answer (`raw`: its bytes) of one request."""
        import httpx

        what = what or f"{method} {path}"
        try:
            answer = self.client.request(method, path, params=params, json=body)
        except httpx.TransportError as err:
            raise self._unreachable(err) from None
        if answer.status_code >= 400:
            raise self._refused(answer.status_code, answer.content, what) from None
        if raw:
            return answer.content
        if not answer.content:
            return {}
        return answer.json()

    def _stream(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        what: str,
        read_timeout: float | None,
    ) -> Iterator[Mapping[str, Any]]:
        """The `result`s of a newline-delimited JSON stream (grpc-gateway's form); an
        `error` in the stream is raised. Transport errors pass through (httpx's), so a
        watch can tell a dropped connection from a refusal."""
        import httpx

        timeout = httpx.Timeout(self.timeout, read=read_timeout)
        accept = "text/event-stream" if self.http1 else "application/json"
        with self.client.stream(
            "GET", path, params=params, timeout=timeout, headers={"Accept": accept}
        ) as answer:
            if answer.status_code >= 400:
                raise self._refused(answer.status_code, answer.read(), what)
            for line in answer.iter_lines():
                if not line.strip():
                    continue
                if line.startswith("data:"):  # text/event-stream: `data: {"result": ...}`
                    line = line[5:]
                elif not line.lstrip().startswith("{"):
                    continue  # an event stream's other fields (event:, id:, comments)
                item = json.loads(line)
                if "error" in item and "result" not in item:
                    error = item["error"] or {}
                    code = int(error.get("http_code") or error.get("httpCode") or 500)
                    raise self._refused(code, json.dumps(error).encode(), what)
                result = item.get("result")
                if isinstance(result, Mapping):
                    yield result

    # ---- objects -------------------------------------------------------------------------

    def apply(self, manifest: Mapping[str, Any], namespace: str | None = None) -> str:
        """Create or replace a WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow;
        returns `created` or `configured`."""
        kind = str(manifest.get("kind", ""))
        if kind not in _APPLY_PATHS:
            raise UnsupportedError(
                f"{kind or 'this document'} cannot be applied through the Argo Server "
                f"(only {', '.join(_APPLY_PATHS)})"
            )
        collection, field = _APPLY_PATHS[kind]
        body = json.loads(json.dumps(dict(manifest)))
        meta = body.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            raise UserError(f"{kind} has no metadata.name")
        ns = str(meta.get("namespace") or self._ns(namespace))
        if kind != "ClusterWorkflowTemplate":
            meta["namespace"] = ns
        path = collection.format(ns=ns)
        try:
            self._request("POST", path, body={field: body}, what=f"create {kind} {name}")
            return "created"
        except UserError as err:
            if "already exists" not in str(err):
                raise
        existing = self._request("GET", f"{path}/{name}", what=f"get {kind} {name}")
        meta["resourceVersion"] = existing["metadata"]["resourceVersion"]
        self._request("PUT", f"{path}/{name}", body={field: body}, what=f"update {kind} {name}")
        return "configured"

    # ---- workflows -----------------------------------------------------------------------

    def submit(
        self,
        manifest: Mapping[str, Any],
        *,
        namespace: str | None = None,
        parameters: Mapping[str, str] | None = None,
        entrypoint: str | None = None,
        name: str | None = None,
        generate_name: str | None = None,
        server_dry_run: bool = False,
    ) -> dict[str, Any]:
        """POST /api/v1/workflows/{ns}: the server creates the Workflow; returns it."""
        from jupyter_argo.backends._k8s.actions import override_parameters

        if manifest.get("kind") not in ("Workflow", None):
            raise UserError(f"only a Workflow can be submitted, not a {manifest.get('kind')}")
        workflow = json.loads(json.dumps(dict(manifest)))
        workflow["apiVersion"] = "argoproj.io/v1alpha1"
        workflow["kind"] = "Workflow"
        meta = workflow.setdefault("metadata", {})
        ns = str(namespace or meta.get("namespace") or self._namespace)
        meta["namespace"] = ns
        if name:
            meta["name"] = name
            meta.pop("generateName", None)
        elif generate_name:
            meta["generateName"] = generate_name
            meta.pop("name", None)
        if entrypoint:
            workflow.setdefault("spec", {})["entrypoint"] = entrypoint
        workflow.pop("status", None)
        if parameters:
            override_parameters(workflow, parameters)
        request: dict[str, Any] = {"namespace": ns, "workflow": workflow}
        if server_dry_run:
            request["serverDryRun"] = True
        if self.instance_id:
            request["instanceID"] = self.instance_id
        created: dict[str, Any] = self._request(
            "POST", f"/api/v1/workflows/{ns}", body=request, what="submit the workflow"
        )
        return created

    def submit_from(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        parameters: Mapping[str, str] | None = None,
        entrypoint: str | None = None,
        name: str | None = None,
        generate_name: str | None = None,
        server_dry_run: bool = False,
    ) -> dict[str, Any]:
        """`argo submit --from kind/name`, made by the server's SubmitWorkflow."""
        from jupyter_argo.backends._k8s.actions import parse_from

        kind, source = parse_from(resource)
        ns = self._ns(namespace)
        options: dict[str, Any] = {}
        if parameters:
            options["parameters"] = [f"{k}={v}" for k, v in parameters.items()]
        if entrypoint:
            options["entryPoint"] = entrypoint
        if name:
            options["name"] = name
        if generate_name:
            options["generateName"] = generate_name
        if server_dry_run:
            options["serverDryRun"] = True
        request = {
            "namespace": ns,
            "resourceKind": kind,
            "resourceName": source,
            "submitOptions": options,
        }
        created: dict[str, Any] = self._request(
            "POST", f"/api/v1/workflows/{ns}/submit", body=request, what=f"submit {resource}"
        )
        return created

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        ns = self._ns(namespace)
        found: dict[str, Any] = self._request(
            "GET", f"/api/v1/workflows/{ns}/{name}", what=f"get workflow {name}"
        )
        return found

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """The namespace's Workflows, newest first."""
        ns = self._ns(namespace)
        listing = self._request("GET", f"/api/v1/workflows/{ns}", what="list workflows")
        items: list[dict[str, Any]] = list(listing.get("items") or [])
        items.sort(key=lambda w: w["metadata"].get("name", ""))
        items.sort(key=lambda w: w["metadata"].get("creationTimestamp", ""), reverse=True)
        return items

    def watch(
        self, name: str, namespace: str | None = None, *, timeout: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """The Workflow now and after every change the server pushes through
        `/api/v1/workflow-events`, until its phase is final (or `timeout` seconds pass).
        A dropped connection is resumed from the last resourceVersion seen, so no change
        (the final one least of all) is missed; when that version is too old, the watch
        starts again from the workflow as it is."""
        import httpx

        deadline = None if timeout is None else time.monotonic() + timeout
        ns = self._ns(namespace)
        path = f"/api/v1/workflow-events/{ns}"
        version: str | None = None
        failing_since: float | None = None
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            params = {"listOptions.fieldSelector": f"metadata.name={name}"}
            if version:
                params["listOptions.resourceVersion"] = version
            read_timeout = 60.0 if remaining is None else min(remaining, 60.0)
            try:
                for event in self._stream(
                    path, params, what=f"watch workflow {name}", read_timeout=read_timeout
                ):
                    failing_since = None
                    kind = event.get("type")
                    workflow = event.get("object")
                    if not isinstance(workflow, dict):
                        continue
                    if kind == "DELETED":
                        raise NotFoundError(f"workflow {name} was deleted while watched")
                    if kind not in ("ADDED", "MODIFIED"):
                        continue
                    version = (workflow.get("metadata") or {}).get("resourceVersion") or version
                    yield workflow
                    if (workflow.get("status") or {}).get("phase") in FINAL_PHASES:
                        return
                    if deadline is not None and time.monotonic() >= deadline:
                        return
            except httpx.ReadTimeout:
                continue  # quiet for a while: ask again from where we were
            except httpx.TransportError as err:
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > self.reconnect_for:
                    raise self._unreachable(err) from None
                time.sleep(0.2)
            except BackendError as err:
                if version and ("too old" in str(err) or "410" in str(err)):
                    version = None  # expired: start again from the workflow as it is
                    continue
                raise

    def wait(
        self, name: str, namespace: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        return last_snapshot(
            self.watch(name, namespace, timeout=timeout), lambda: self.get(name, namespace)
        )

    def logs(
        self,
        name: str,
        namespace: str | None = None,
        *,
        node: str | None = None,
        follow: bool = False,
        container: str = "main",
        timestamps: bool = False,
        since_seconds: float | None = None,
        tail: int | None = None,
        grep: str | None = None,
    ) -> Iterator[tuple[str, str]]:
        """(pod name, line) streamed from `/api/v1/workflows/{ns}/{name}/log`, merged by
        time by the server as `argo logs` prints them. `node` is a node ID, name, display
        name or node field selector; only its pod's lines come."""
        import httpx

        ns = self._ns(namespace)
        params: dict[str, Any] = {"logOptions.container": container}
        if node:
            params["podName"] = self._pod_of(name, ns, node)
        if follow:
            params["logOptions.follow"] = "true"
        if timestamps:
            params["logOptions.timestamps"] = "true"
        if since_seconds is not None:
            params["logOptions.sinceSeconds"] = str(int(since_seconds))
        if tail is not None:
            params["logOptions.tailLines"] = str(tail)
        if grep:
            params["grep"] = grep
        path = f"/api/v1/workflows/{ns}/{name}/log"
        streamed = 0
        try:
            for entry in self._stream(
                path,
                params,
                what=f"read the logs of workflow {name}",
                read_timeout=None if follow else 120.0,
            ):
                streamed += 1
                yield str(entry.get("podName") or ""), str(entry.get("content") or "")
        except httpx.TransportError as err:
            raise self._unreachable(err) from None
        except NotFoundError:
            # Gone from the cluster: the server reads logs from pods only, so an archived
            # run's come from its archived `main-logs` (get() finds it in the archive).
            if container != "main":
                raise
        if not streamed and container == "main" and not follow:
            yield from self._archived_logs(name, ns, node, grep, tail)

    def _archived_logs(
        self, name: str, ns: str, node: str | None, grep: str | None, tail: int | None
    ) -> Iterator[tuple[str, str]]:
        """When the pods are gone (a deleted or archived run), the `main-logs` artifacts
        Argo archived for them (`archiveLogs`), node by node in start order, as the Argo
        UI shows them."""
        from jupyter_argo.backends._k8s.actions import matches_node, pod_name
        from jupyter_argo.expr._regex import RegexError, compile_re2

        workflow = self.get(name, ns)
        try:
            pattern = compile_re2(grep) if grep else None
        except RegexError as err:
            raise UserError(f"--grep {grep!r}: not a regular expression ({err})") from None
        nodes = sorted(
            ((workflow.get("status") or {}).get("nodes") or {}).values(),
            key=lambda n: (n.get("startedAt") or "", n.get("id") or ""),
        )
        for found in nodes:
            if found.get("type") != "Pod" or (node and not matches_node(node, found)):
                continue
            logs = [
                a
                for a in (found.get("outputs") or {}).get("artifacts") or []
                if a.get("name") == "main-logs"
            ]
            if not logs:
                continue
            try:
                text = self.open_artifact(logs[0], ns, workflow=workflow, node=found["id"])
            except NotFoundError:
                continue
            lines = text.read_text(errors="replace").splitlines()
            if pattern is not None:
                lines = [line for line in lines if pattern.search(line)]
            if tail is not None:
                lines = lines[-tail:] if tail > 0 else []
            pod = pod_name(workflow, found)
            for line in lines:
                yield pod, line

    def _pod_of(self, name: str, ns: str, node: str) -> str:
        from jupyter_argo.backends._k8s.actions import matches_node, pod_name

        workflow = self.get(name, ns)
        nodes = (workflow.get("status") or {}).get("nodes") or {}
        for found in nodes.values():
            if found.get("type") == "Pod" and matches_node(node, found):
                return pod_name(workflow, found)
        raise NotFoundError(f"workflow {name} has no pod node {node!r}")

    def open_artifact(
        self,
        artifact: Mapping[str, Any],
        namespace: str | None = None,
        *,
        workflow: Mapping[str, Any] | str | None = None,
        node: str | None = None,
    ) -> Path:
        """A local copy of an output (or input) artifact, unpacked, fetched through
        `/artifact-files/{ns}/workflows/{name}/{node}/{outputs|inputs}/{artifact}`: the
        server resolves the repository and reads it with its own credentials. A workflow
        gone from the cluster is read from the archive (`archived-workflows/{uid}`); a
        directory stored unarchived is walked through the server's listings."""
        from jupyter_argo.artifacts._passing import _place

        if workflow is None:
            raise UserError(
                "the argo-server backend needs the workflow (or its name) to open an artifact"
            )
        ns = self._ns(namespace)
        if isinstance(workflow, str):
            workflow = self.get(workflow, ns)
        meta = workflow.get("metadata") or {}
        wf_name = str(meta.get("name") or "")
        ns = str(meta.get("namespace") or ns)
        artifact_name = str(artifact.get("name") or "")
        node, direction = _owner(workflow, artifact, node)
        quote = urllib.parse.quote
        where = f"{quote(node)}/{direction}/{quote(artifact_name)}"
        sources = [f"/artifact-files/{quote(ns)}/workflows/{quote(wf_name)}/{where}"]
        if meta.get("uid"):
            sources.append(f"/artifact-files/{quote(ns)}/archived-workflows/{meta['uid']}/{where}")
        what = f"artifact {artifact_name} of workflow {wf_name}"
        target = Path(tempfile.mkdtemp(prefix="jupyter-argo-artifact-")) / (
            artifact_name or "artifact"
        )
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch.") as work:
            fetched = Path(work, "fetched")
            for source in sources:
                try:
                    self._download(source, fetched, f"{what} (node {node})")
                    break
                except _WorkflowGone:
                    continue
            else:
                raise NotFoundError(
                    f"{what}: the Argo Server finds workflow {wf_name} neither in the cluster "
                    "nor in its archive"
                )
            _place(artifact, fetched, target, Path(work))
        return target

    def _download(self, path: str, dest: Path, what: str, depth: int = 0) -> int:
        """`path` (a file, or a directory the server lists) into `dest`; returns the number
        of files written."""
        import httpx

        try:
            with self.client.stream("GET", path, timeout=httpx.Timeout(self.timeout)) as answer:
                if answer.status_code in (301, 302, 303, 307, 308):
                    location = answer.headers.get("location", "")
                    if location.endswith("/"):  # a directory: the server lists it there
                        dest.mkdir()
                        return self._download_tree(path + "/", dest, what, depth)
                    raise BackendError(f"the Argo Server redirected {what} to {location}")
                if answer.status_code >= 400:
                    body = answer.read()
                    if answer.status_code == 404:  # the driver's "no such key"
                        raise NotFoundError(f"{what} is not in the repository (not uploaded yet?)")
                    if answer.status_code == 500 and depth == 0:
                        # The artifact server answers a bare 500 when it cannot read the
                        # workflow (deleted, or only in the archive).
                        raise _WorkflowGone()
                    raise self._refused(answer.status_code, body, f"read {what}")
                with dest.open("wb") as out:
                    for chunk in answer.iter_bytes():
                        out.write(chunk)
                return 1
        except httpx.TransportError as err:
            raise self._unreachable(err) from None

    def _download_tree(self, path: str, dest: Path, what: str, depth: int) -> int:
        """Every file below the listing at `path` (Argo's `renderDirectoryListing`: one
        `<a href="./NAME">` per file and per first-level subdirectory, `NAME/`)."""
        if depth >= _MAX_DIRECTORY_DEPTH:
            raise BackendError(f"{what}: directories nested deeper than {_MAX_DIRECTORY_DEPTH}")
        listing = self._request("GET", path, what=f"list {what}", raw=True)
        written = 0
        for entry in _listed(listing.decode("utf-8", "replace")):
            if entry in ("..", "../"):
                continue
            # A directory may be listed with its subdirectories' paths too (`a/`, `a/b/`):
            # each is listed, and its files fetched, once.
            parts = entry.rstrip("/").split("/")
            if any(part in ("", ".", "..") or "\\" in part for part in parts):
                raise BackendError(f"{what}: the server listed an unsafe name {entry!r}")
            local = dest.joinpath(*parts)
            below = path + "/".join(urllib.parse.quote(part) for part in parts)
            if entry.endswith("/"):
                if local.exists():
                    continue
                local.mkdir(parents=True)
                written += self._download_tree(below + "/", local, what, depth + 1)
            elif not local.exists():
                local.parent.mkdir(parents=True, exist_ok=True)
                written += self._download(below, local, what, depth + 1)
            if written > _MAX_DIRECTORY_FILES:
                raise BackendError(f"{what}: more than {_MAX_DIRECTORY_FILES} files")
        return written

    # ---- lint and templates ----------------------------------------------------------------

    def server_lint(self, manifest: Mapping[str, Any], namespace: str | None = None) -> None:
        """Lint `manifest` (a Workflow, WorkflowTemplate, ClusterWorkflowTemplate or
        CronWorkflow) on the server, as `argo lint` does online: the server's answer is
        raised as one line (a LintError-like UserError), nothing is stored."""
        kind = str(manifest.get("kind") or "")
        if kind not in _LINT_PATHS:
            return  # ConfigMaps, Secrets: nothing for the server to lint
        path, field = _LINT_PATHS[kind]
        body = json.loads(json.dumps(dict(manifest)))
        meta = body.setdefault("metadata", {})
        ns = str(meta.get("namespace") or self._ns(namespace))
        if kind != "ClusterWorkflowTemplate":
            meta["namespace"] = ns
        name = meta.get("name") or meta.get("generateName") or kind
        what = f"{kind} {name}"
        import httpx

        try:
            answer = self.client.post(path.format(ns=ns), json={"namespace": ns, field: body})
        except httpx.TransportError as err:
            raise self._unreachable(err) from None
        if answer.status_code in (401, 403) or answer.status_code == 404:
            raise self._refused(answer.status_code, answer.content, f"lint {what}")
        if answer.status_code >= 400:
            # Argo answers a workflow it finds invalid with its validation error (HTTP 400
            # or 500, depending on the check).
            message = self._message(answer.content) or f"HTTP {answer.status_code}"
            raise UserError(f"{what}: the Argo Server's lint: {message}")

    def template_store(self, namespace: str | None = None) -> _TemplateStore:
        """The server's WorkflowTemplates, for lint to resolve `templateRef`s against."""
        return _TemplateStore(self, self._ns(namespace))

    # ---- actions -------------------------------------------------------------------------

    def _act(self, verb: str, name: str, ns: str, body: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._request(
            "PUT",
            f"/api/v1/workflows/{ns}/{name}/{verb}",
            body={"name": name, "namespace": ns, **body},
            what=f"{verb} workflow {name}",
        )
        return found

    def stop(
        self,
        name: str,
        namespace: str | None = None,
        *,
        node_field_selector: str | None = None,
        message: str | None = None,
    ) -> None:
        """`argo stop`: running steps end, exit handlers still run; with a node field
        selector, only the matching suspend nodes fail, with `message`."""
        body: dict[str, Any] = {}
        if node_field_selector:
            body["nodeFieldSelector"] = node_field_selector
        if message:
            body["message"] = message
        self._act("stop", name, self._ns(namespace), body)

    def terminate(
        self, name: str, namespace: str | None = None, *, message: str | None = None
    ) -> None:
        """`argo terminate`: no exit handlers. The controller writes the message."""
        self._act("terminate", name, self._ns(namespace), {})

    def suspend(self, name: str, namespace: str | None = None) -> None:
        self._act("suspend", name, self._ns(namespace), {})

    def resume(self, name: str, namespace: str | None = None, *, node: str | None = None) -> None:
        """`argo resume`; `node` (a field selector, or an ID, name or display name) limits
        it to the matching suspend nodes."""
        body = {"nodeFieldSelector": self._selector(name, namespace, node)} if node else {}
        self._act("resume", name, self._ns(namespace), body)

    def _selector(self, name: str, namespace: str | None, node: str) -> str:
        if "=" in node:
            return node
        from jupyter_argo.backends._k8s.actions import matches_node

        nodes = (self.get(name, namespace).get("status") or {}).get("nodes") or {}
        for found in nodes.values():
            if matches_node(node, found):
                return f"id={found['id']}"
        raise NotFoundError(f"workflow {name} has no node {node!r}")

    def set_node(
        self,
        name: str,
        namespace: str | None = None,
        *,
        node_field_selector: str,
        phase: str | None = None,
        message: str | None = None,
        output_parameters: Mapping[str, str] | None = None,
    ) -> None:
        """`argo node set` on the active suspend nodes matching `node_field_selector`."""
        body: dict[str, Any] = {"nodeFieldSelector": node_field_selector}
        if phase:
            body["phase"] = phase
        if message:
            body["message"] = message
        if output_parameters:
            body["outputParameters"] = json.dumps(dict(output_parameters))
        self._act("set", name, self._ns(namespace), body)

    def retry(
        self,
        name: str,
        namespace: str | None = None,
        *,
        restart_successful: bool = False,
        node_field_selector: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if restart_successful:
            body["restartSuccessful"] = True
        if node_field_selector:
            body["nodeFieldSelector"] = node_field_selector
        if parameters:
            body["parameters"] = [f"{k}={v}" for k, v in parameters.items()]
        return self._act("retry", name, self._ns(namespace), body)

    def resubmit(
        self,
        name: str,
        namespace: str | None = None,
        *,
        memoized: bool = False,
        parameters: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if memoized:
            body["memoized"] = True
        if parameters:
            body["parameters"] = [f"{k}={v}" for k, v in parameters.items()]
        return self._act("resubmit", name, self._ns(namespace), body)

    def delete(self, name: str, namespace: str | None = None, *, force: bool = False) -> None:
        """`argo delete`; `force` removes finalizers first, as `--force` does."""
        ns = self._ns(namespace)
        params = {"force": "true"} if force else None
        self._request(
            "DELETE", f"/api/v1/workflows/{ns}/{name}", params=params, what=f"delete {name}"
        )


def _owner(
    workflow: Mapping[str, Any], artifact: Mapping[str, Any], node: str | None
) -> tuple[str, str]:
    """(node ID, "outputs" or "inputs") of the node the artifact belongs to: `node` if
    given, else the node whose outputs (then inputs) hold an artifact of that name and
    location."""
    name = artifact.get("name")
    key = (artifact.get("s3") or {}).get("key") if isinstance(artifact.get("s3"), Mapping) else None
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    for direction in ("outputs", "inputs"):
        for node_id, found in nodes.items():
            if node and node_id != node:
                continue
            for candidate in ((found.get(direction) or {}).get("artifacts")) or []:
                if candidate.get("name") != name:
                    continue
                s3 = candidate.get("s3")
                if key and isinstance(s3, Mapping) and s3.get("key") not in (None, key):
                    continue
                return str(node_id), direction
    if node and node not in nodes:
        return node, "outputs"  # not in the status we have: let the server say
    owner = f"node {node}" if node else "no node"
    wf_name = (workflow.get("metadata") or {}).get("name")
    raise NotFoundError(f"{owner} of workflow {wf_name} has no artifact {name!r}")


class _WorkflowGone(Exception):
    """The artifact server could not find the workflow (it may be archived)."""


class _Listing(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.entries: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") or ""
        if tag == "a" and href.startswith("./"):
            self.entries.append(urllib.parse.unquote(href[2:]))


def _listed(page: str) -> list[str]:
    """The entries of an artifact server directory listing, unescaped."""
    parser = _Listing()
    parser.feed(page)
    return parser.entries


class _TemplateStore:
    """WorkflowTemplates and ClusterWorkflowTemplates as the server gives them."""

    available = True

    def __init__(self, backend: ArgoServerBackend, namespace: str) -> None:
        self._backend = backend
        self._namespace = namespace

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        path = _TEMPLATE_PATHS.get(kind)
        if path is None:
            return None
        try:
            found: dict[str, Any] = self._backend._request(
                "GET",
                path.format(ns=self._namespace, name=urllib.parse.quote(name)),
                what=f"get {kind} {name}",
            )
        except NotFoundError:
            return None
        return found
