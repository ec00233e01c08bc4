"""One connection to a Kubernetes API server, and its failures as errors users can act on.

The `kubernetes` client supplies configuration (kubeconfig contexts, in-cluster service
accounts, token refresh) and its HTTP pool; requests go out as plain JSON through
`ApiClient.call_api`, so every object stays the dict Argo's API returns.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_argo.errors import ArgoError, BackendError, ConfigError, NotFoundError, UserError

__all__ = [
    "KINDS",
    "PODS",
    "WORKFLOWS",
    "Cluster",
    "Conflict",
    "Kind",
    "NotServed",
    "ServerError",
    "Unreachable",
    "connect",
]

INSTALL_DOCS = "https://argo-workflows.readthedocs.io/en/latest/installation/"
_IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_METHODS = {
    "get": "GET",
    "list": "GET",
    "watch": "GET",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
}
_PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}
# The RBAC authorizer's words: `User "alice" cannot create resource "workflows" ...`.
_RBAC_DENIAL = re.compile(r'(User|ServiceAccount|Group) "([^"]*)" cannot|cannot \S+ resource')
_USER = re.compile(r'User "([^"]*)"')
DEFAULT_TIMEOUT = (5.0, 60.0)  # (connect, read) seconds for one ordinary request


@dataclass(frozen=True)
class Kind:
    """A resource type as the API serves it."""

    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool = True

    @property
    def resource(self) -> str:
        """The name RBAC and kubectl use: `workflows.argoproj.io`, `configmaps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None, name: str | None = None, sub: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if sub:
            base += f"/{sub}"
        return base


WORKFLOWS = Kind("argoproj.io", "v1alpha1", "workflows")
PODS = Kind("", "v1", "pods")
KINDS: dict[str, Kind] = {
    "Workflow": WORKFLOWS,
    "WorkflowTemplate": Kind("argoproj.io", "v1alpha1", "workflowtemplates"),
    "ClusterWorkflowTemplate": Kind(
        "argoproj.io", "v1alpha1", "clusterworkflowtemplates", namespaced=False
    ),
    "CronWorkflow": Kind("argoproj.io", "v1alpha1", "cronworkflows"),
    "ConfigMap": Kind("", "v1", "configmaps"),
    "Secret": Kind("", "v1", "secrets"),
}


class Unreachable(ConfigError):
    """The API server cannot be reached: down, restarting, wrong address, TLS mismatch."""


class Conflict(UserError):
    """409: the object exists already, or changed since it was read."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # AlreadyExists or Conflict


class NotServed(ConfigError):
    """The API server does not serve this resource type: its CRD is not installed (or,
    just after an API server restart, not served again yet)."""


class ServerError(BackendError):
    """The API server answered but could not serve now (410 Gone, 429, 5xx): try again."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Cluster:
    """An API server, the credentials for it, and the namespace used when none is given."""

    api: Any  # kubernetes.client.ApiClient
    namespace: str
    server: str
    source: str  # where the credentials came from, for messages

    def request(
        self,
        verb: str,
        kind: Kind,
        namespace: str | None = None,
        name: str | None = None,
        *,
        sub: str = "",
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        patch: str = "merge",
        timeout: float | tuple[float, float | None] | None = DEFAULT_TIMEOUT,
        stream: bool = False,
    ) -> Any:
        """One API call: the decoded JSON answer, or with `stream` the open response
        (the caller reads and closes it). Failures become `ArgoError`s."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": "application/json"}
        authorization = self._authorization()
        if authorization:
            headers["Authorization"] = authorization
        if verb == "patch":
            headers["Content-Type"] = _PATCH_TYPES[patch]
        path = kind.path(namespace, name, sub)
        try:
            response = self.api.call_api(
                path,
                _METHODS[verb],
                query_params=[(k, v) for k, v in (query or {}).items() if v is not None],
                header_params=headers,
                body=body,
                auth_settings=[],
                _preload_content=False,
                _request_timeout=timeout,
            )
        except ApiException as err:
            raise self._translate(err, verb, kind, namespace, name, sub) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise self.unreachable(err) from None
        if stream:
            return response
        try:
            data = response.data
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise self.unreachable(err) from None
        finally:
            response.release_conn()
        return json.loads(data) if data else {}

    def _authorization(self) -> str | None:
        # The kubeconfig and in-cluster loaders store the bearer token as "authorization"
        # (with a refresh hook for exec plugins and expiring tokens); some client versions
        # look only for "BearerToken" when sending it, so it is sent here explicitly.
        configuration = self.api.configuration
        for key in ("authorization", "BearerToken"):
            if configuration.api_key.get(key):
                value = configuration.get_api_key_with_prefix(key)
                return str(value) if value else None
        return None

    def unreachable(self, err: BaseException) -> Unreachable:
        return Unreachable(
            f"cannot reach the Kubernetes API server at {self.server} ({self.source}): "
            f"{_reason(err)}"
        )

    def _translate(
        self,
        err: Any,
        verb: str,
        kind: Kind,
        namespace: str | None,
        name: str | None,
        sub: str,
    ) -> ArgoError:
        status = int(err.status or 0)
        body = _json_body(err.body)
        message = str(body.get("message") or _text(err.body) or err.reason or "").strip()
        resource = kind.resource + (f"/{sub}" if sub else "")
        where = f' in namespace "{namespace}"' if namespace and kind.namespaced else ""
        if status == 0:  # the client's own failure, e.g. TLS
            return self.unreachable(RuntimeError(str(err.reason or message).splitlines()[-1]))
        if status == 401:
            return ConfigError(
                f"the Kubernetes API server at {self.server} rejected the credentials of "
                f"{self.source} (401 Unauthorized); log in again or renew the token"
            )
        if status == 403 and _RBAC_DENIAL.search(message):
            found = _USER.search(message)
            who = f'user "{found.group(1)}"' if found else "you"
            return ConfigError(
                f"forbidden: {who} cannot {verb} {resource}{where} (RBAC); ask a cluster "
                f'admin for a Role granting "{verb}" on {resource}'
            )
        if status == 404:
            details = body.get("details") or {}
            if details.get("kind") == "namespaces":
                return NotFoundError(f'namespace "{details.get("name") or namespace}" not found')
            if body.get("kind") != "Status" or not details.get("name"):
                # No such API at all: the path, not an object, is unknown.
                if kind.group == "argoproj.io":
                    return NotServed(
                        "Argo Workflows is not installed in this cluster (the API server "
                        f"does not serve {kind.resource}); install it: {INSTALL_DOCS}"
                    )
                return NotFoundError(message or f"{resource} not found")
            missing = details.get("name") or name
            return NotFoundError(f'{kind.resource} "{missing}" not found{where}')
        if status in (410, 429) or status >= 500:
            return ServerError(f"{verb} {resource}: {message or err.reason}", status)
        if status == 409:
            return Conflict(message, str(body.get("reason") or "Conflict"))
        if status in (400, 403, 422):
            return UserError(f"the Kubernetes API server refused to {verb} {resource}: {message}")
        return BackendError(f"{verb} {resource}{where}: {status} {message or err.reason}")


def connect(
    context: str | None = None, kubeconfig: str | os.PathLike[str] | None = None
) -> Cluster:
    """The cluster of a kubeconfig context (the current one unless `context` is given),
    else of the in-cluster service account. Reads files only: no request is made."""
    from kubernetes import client

    configuration, namespace, source = _configure(context, kubeconfig)
    return Cluster(client.ApiClient(configuration), namespace, str(configuration.host), source)


def _configure(
    context: str | None, kubeconfig: str | os.PathLike[str] | None
) -> tuple[Any, str, str]:
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    paths = _kubeconfig_paths(kubeconfig)
    found = [p for p in paths if p.is_file()]
    if found:
        joined = os.pathsep.join(str(p) for p in found)
        try:
            contexts, active = config.list_kube_config_contexts(config_file=joined)
        except (ConfigException, OSError, ValueError) as err:
            raise ConfigError(f"cannot read kubeconfig {joined}: {_first_line(err)}") from None
        names = [c.get("name") for c in contexts or []]
        if context is not None and context not in names:
            raise ConfigError(
                f'context "{context}" is not in kubeconfig {joined} '
                f"(contexts: {', '.join(str(n) for n in names) or 'none'})"
            )
        chosen = next((c for c in contexts if c.get("name") == context), active)
        if not chosen:
            raise ConfigError(
                f"kubeconfig {joined} has no current context; pick one with --context "
                f"(contexts: {', '.join(str(n) for n in names) or 'none'})"
            )
        try:
            config.load_kube_config(
                config_file=joined,
                context=chosen["name"],
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError, ValueError) as err:
            raise ConfigError(f"cannot use kubeconfig {joined}: {_first_line(err)}") from None
        namespace = str((chosen.get("context") or {}).get("namespace") or "default")
        source = f'context "{chosen["name"]}" of {joined}'
        return configuration, namespace, source
    if context is not None:
        raise ConfigError(
            f'context "{context}" given, but there is no kubeconfig ({_looked(paths)})'
        )
    if os.environ.get("KUBERNETES_SERVICE_HOST") and (_IN_CLUSTER_DIR / "token").is_file():
        try:
            config.load_incluster_config(client_configuration=configuration)
        except ConfigException as err:
            raise ConfigError(f"cannot use the in-cluster service account: {err}") from None
        ns_file = _IN_CLUSTER_DIR / "namespace"
        namespace = ns_file.read_text().strip() if ns_file.is_file() else "default"
        return configuration, namespace, "the in-cluster service account"
    raise ConfigError(
        f"no kubeconfig ({_looked(paths)}) and not running in a cluster; point $KUBECONFIG "
        "at your cluster's kubeconfig, or use --backend local"
    )


def _kubeconfig_paths(kubeconfig: str | os.PathLike[str] | None) -> list[Path]:
    if kubeconfig is not None:
        return [Path(kubeconfig).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def _looked(paths: list[Path]) -> str:
    return "looked at " + ", ".join(str(p) for p in paths)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _json_body(body: Any) -> dict[str, Any]:
    text = _text(body)
    if not text.startswith("{"):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _text(body: Any) -> str:
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace").strip()
    return str(body or "").strip()


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^')\"]+)")
_TLS = re.compile(
    r"(certificate verify failed: [^(')\"]+|wrong version number|hostname mismatch[^(')\"]*)"
)


def _reason(err: BaseException) -> str:
    """A short cause: `connection refused`, `timed out`, a TLS complaint."""
    text = str(getattr(err, "reason", None) or err)
    found = _ERRNO.search(text)
    if found:
        return found.group(1).strip().lower()
    if "timed out" in text.lower():
        return "timed out"
    found = _TLS.search(text)
    if found:
        return f"TLS: {found.group(1).strip()} (is the kubeconfig's certificate-authority right?)"
    if "ssl" in text.lower():
        return "TLS failed"
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the connection was closed"
    return _first_line(err)
