"""etcd and kube-apiserver on 127.0.0.1, with static tokens, RBAC, a self-signed serving
certificate, Argo's CRDs, and kubeconfigs for an admin and for restricted users.

Binaries: `$KUBEBUILDER_ASSETS` when it holds `kube-apiserver` and `etcd`, else the
real-Argo test bed's cache, which `scripts/argo-testbed.sh` fills (Kubernetes 1.34 built
from the Go module proxy, etcd 3.5; see tests/k8s/testbed.py). In
tests, binaries that cannot be had skip the test, or fail it under `make test`
(JUPYTER_ARGO_ENVTEST=required).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from k8s.crds import all_crds

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "argo-testbed.sh"
NAMESPACE = "argo-test"  # where tests run workflows
CONTROLLER_NAMESPACE = "argo"
ADMIN_TOKEN = "admin-token-0f3c9"
# A user who may only read workflows in NAMESPACE, and one who may do nothing at all.
VIEWER, VIEWER_TOKEN = "alice", "viewer-token-7b21e"
NOBODY, NOBODY_TOKEN = "mallory", "nobody-token-92c4d"


class Unavailable(RuntimeError):
    """kube-apiserver and etcd cannot be had on this machine."""


def find_assets() -> Path:
    """The directory holding kube-apiserver and etcd, built by scripts/argo-testbed.sh if
    need be (once per machine, about half an hour)."""
    given = os.environ.get("KUBEBUILDER_ASSETS")
    if given and _has_assets(Path(given)):
        return Path(given)
    if shutil.which("bash") is None or not SCRIPT.is_file():
        raise Unavailable("no bash or no scripts/argo-testbed.sh to build kube-apiserver and etcd")
    with _test_timeout_paused():  # a first build takes minutes
        done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines and _has_assets(Path(lines[-1]) / "bin"):
        return Path(lines[-1]) / "bin"
    tail = " | ".join(done.stderr.strip().splitlines()[-3:])
    raise Unavailable(f"scripts/argo-testbed.sh could not provide kube-apiserver and etcd: {tail}")


@contextlib.contextmanager
def _test_timeout_paused() -> Iterator[None]:
    """pytest-timeout arms the real-time timer for each test; building kube-apiserver the
    first time outlasts it, so the timer is paused meanwhile (and re-armed after)."""
    main = threading.current_thread() is threading.main_thread()
    if not main or not hasattr(signal, "setitimer"):
        yield
        return
    remaining, interval = signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        yield
    finally:
        if remaining:
            signal.setitimer(signal.ITIMER_REAL, remaining, interval)


def assets_for_tests() -> Path:
    """`find_assets()`, or a skip saying why; a failure under `make test`, which sets
    JUPYTER_ARGO_ENVTEST=required so that these tests never silently vanish in CI."""
    import pytest

    try:
        return find_assets()
    except Unavailable as err:
        if os.environ.get("JUPYTER_ARGO_ENVTEST") == "required":
            pytest.fail(str(err), pytrace=False)
        pytest.skip(str(err))


def _has_assets(directory: Path) -> bool:
    return all(os.access(directory / b, os.X_OK) for b in ("kube-apiserver", "etcd"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ApiServer:
    """A running API server. `kubeconfig(...)` writes client configurations for it."""

    assets: Path
    workdir: Path
    port: int = 0
    etcd_port: int = 0
    watch_cache_size: int = 100
    service_accounts: bool = False  # True where a controller-manager makes them
    extra_args: list[str] = field(default_factory=list)  # more kube-apiserver flags
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "certs" / "apiserver.crt"

    # ---- processes ---------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.etcd_port = self.etcd_port or free_port()
        self.port = self.port or free_port()
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(
            f'{ADMIN_TOKEN},admin,uid-admin,"system:masters"\n'
            f"{VIEWER_TOKEN},{VIEWER},uid-{VIEWER}\n"
            f"{NOBODY_TOKEN},{NOBODY},uid-{NOBODY}\n"
        )
        key = self.workdir / "service-account.key"
        if not key.exists():
            subprocess.run(
                ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
            )
        self._start_etcd()
        self.start_apiserver()

    def _start_etcd(self) -> None:
        peer = free_port()
        data = self.workdir / "etcd"
        args = [
            str(self.assets / "etcd"),
            "--name=envtest",
            f"--data-dir={data}",
            f"--listen-client-urls=http://127.0.0.1:{self.etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{self.etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=envtest=http://127.0.0.1:{peer}",
            "--log-level=error",
        ]
        self.processes["etcd"] = self._spawn("etcd", args)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self._check_alive("etcd")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(
                    f"http://127.0.0.1:{self.etcd_port}/health", timeout=1
                ) as answer,
            ):
                if json.loads(answer.read()).get("health") == "true":
                    return
            time.sleep(0.05)
        raise RuntimeError("etcd did not become healthy")

    def start_apiserver(self) -> None:
        """Start (or restart) kube-apiserver on the same port and etcd."""
        key = self.workdir / "service-account.key"
        args = [
            str(self.assets / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            f"--cert-dir={self.workdir / 'certs'}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--token-auth-file={self.workdir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-account-key-file={key}",
            f"--service-account-signing-key-file={key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            "--kubelet-preferred-address-types=InternalIP",
            f"--default-watch-cache-size={self.watch_cache_size}",
            "--v=0",
        ]
        if not self.service_accounts:
            # No controller-manager creates `default` service accounts, so pods are
            # admitted without one.
            args.append("--disable-admission-plugins=ServiceAccount")
        args += self.extra_args
        self.processes["kube-apiserver"] = self._spawn("kube-apiserver", args)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self._check_alive("kube-apiserver")
            with contextlib.suppress(OSError, urllib.error.URLError):
                if self.call("GET", "/readyz") == "ok":
                    return
            time.sleep(0.1)
        raise RuntimeError("kube-apiserver did not become ready:\n" + self._log_tail())

    def stop_apiserver(self) -> None:
        self._stop("kube-apiserver")

    def stop(self) -> None:
        self._stop("kube-apiserver")
        self._stop("etcd")

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )

    def _stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            # kube-apiserver drains open watches for a long while; a restart need not wait.
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _check_alive(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}):\n{self._log_tail(name)}")

    def _log_tail(self, name: str = "kube-apiserver") -> str:
        log = self.workdir / f"{name}.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""

    # ---- raw admin requests (set-up only; the backend under test has its own client) ---

    def call(self, method: str, path: str, body: Any = None, token: str = ADMIN_TOKEN) -> Any:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token}")
        if method == "PATCH":
            request.add_header("Content-Type", "application/merge-patch+json")
        elif data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:
            text = answer.read().decode()
        try:
            return json.loads(text)
        except ValueError:
            return text

    def ensure(self, path: str, body: dict[str, Any]) -> None:
        """Create an object unless it exists."""
        try:
            self.call("POST", path, body)
        except urllib.error.HTTPError as err:
            if err.code != 409:
                raise

    def wait_for_crds(self) -> None:
        """Until every argoproj.io CRD is established and workflows can be listed."""
        crds = self.call("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        for crd in crds["items"]:
            name = crd["metadata"]["name"]
            if not name.endswith(".argoproj.io"):
                continue
            deadline = time.monotonic() + 30
            while True:
                crd = self.call(
                    "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
                )
                conditions = {
                    c["type"]: c["status"] for c in crd.get("status", {}).get("conditions", [])
                }
                if conditions.get("Established") == "True":
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"CRD {name} was not established")
                time.sleep(0.05)
        # Established is not yet served everywhere: wait until a list works.
        deadline = time.monotonic() + 30
        while True:
            try:
                self.call("GET", "/apis/argoproj.io/v1alpha1/workflows")
                break
            except urllib.error.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def install_argo(self) -> None:
        """Argo's CRDs (served once established), namespaces, and RBAC for the viewer."""
        for definition in all_crds():
            self.ensure("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", definition)
        self.wait_for_crds()
        for namespace in (NAMESPACE, CONTROLLER_NAMESPACE):
            self.ensure(
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            )
        rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}"
        self.ensure(
            f"{rbac}/roles",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "workflow-viewer", "namespace": NAMESPACE},
                "rules": [
                    {
                        "apiGroups": ["argoproj.io"],
                        "resources": ["workflows"],
                        "verbs": ["get", "list", "watch"],
                    }
                ],
            },
        )
        viewer = {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": VIEWER}
        self.bind_role(NAMESPACE, "workflow-viewer", "workflow-viewer", viewer)

    def bind_role(self, namespace: str, name: str, role: str, subject: dict[str, str]) -> None:
        """RoleBinding `name`: the Role `role` of `namespace` for `subject`."""
        self.ensure(
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                "subjects": [subject],
            },
        )

    # ---- client configuration ------------------------------------------------------------

    def kubeconfig(
        self,
        path: Path,
        *,
        token: str = ADMIN_TOKEN,
        namespace: str | None = NAMESPACE,
        server: str | None = None,
        extra_contexts: dict[str, str] | None = None,
    ) -> Path:
        """A kubeconfig whose current context `envtest` uses `token` (and `namespace`);
        `extra_contexts` adds contexts name -> namespace with the same user."""
        context: dict[str, Any] = {"cluster": "envtest", "user": "envtest-user"}
        if namespace:
            context["namespace"] = namespace
        contexts = [{"name": "envtest", "context": context}]
        for name, ns in (extra_contexts or {}).items():
            contexts.append(
                {
                    "name": name,
                    "context": {"cluster": "envtest", "user": "envtest-user", "namespace": ns},
                }
            )
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "envtest",
            "clusters": [
                {
                    "name": "envtest",
                    "cluster": {
                        "server": server or self.url,
                        "certificate-authority": str(self.ca_file),
                    },
                }
            ],
            "contexts": contexts,
            "users": [{"name": "envtest-user", "user": {"token": token}}],
        }
        path.write_text(yaml.safe_dump(config))
        return path


def _die_with_parent() -> Any:
    """A `preexec_fn` so that etcd and kube-apiserver die if the test process is killed
    outright (Linux's PR_SET_PDEATHSIG, which fires when the spawning thread ends: servers
    are started from the main thread). None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None).prctl  # looked up before fork, not in the child
    return lambda: prctl(1, signal.SIGKILL)


def _scratch() -> Path:
    # etcd's fsyncs are cheap on tmpfs.
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    return Path(tempfile.mkdtemp(prefix="jupyter-argo-envtest-", dir=base))


@contextlib.contextmanager
def api_server(
    *, install: bool = True, watch_cache_size: int = 100, assets: Path | None = None
) -> Iterator[ApiServer]:
    """A fresh etcd and kube-apiserver (about 5 s to start), stopped and removed after."""
    assets = assets or assets_for_tests()
    server = ApiServer(assets, _scratch(), watch_cache_size=watch_cache_size)
    try:
        server.start()
        if install:
            server.install_argo()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


_shared: ApiServer | None = None


def shared_api_server() -> ApiServer:
    """One API server for the whole test session, shared by every test module (started on
    first use, stopped at exit)."""
    global _shared
    if _shared is None:
        server = ApiServer(assets_for_tests(), _scratch(), watch_cache_size=20)
        try:
            server.start()
            server.install_argo()
        except BaseException:
            server.stop()
            shutil.rmtree(server.workdir, ignore_errors=True)
            raise
        _shared = server

        def stop() -> None:
            server.stop()
            shutil.rmtree(server.workdir, ignore_errors=True)

        atexit.register(stop)
    return _shared
