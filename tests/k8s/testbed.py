"""A real Argo Workflows installation on this machine, for the Kubernetes backend's tests.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and a kubelet whose pods run
under containerd and runc; Argo's own workflow-controller (its pods run Argo's argoexec)
and `argo server`; an S3-compatible server as the artifact repository and an image
registry. Everything listens on 127.0.0.1 and every pod uses the host's network (set by a
mutating admission policy, `_host_network`), so no CNI, no cluster IP and no traffic
leaves the machine; Argo itself is configured as a plain installation.

Binaries and the pods' image come from `scripts/argo-testbed.sh` (built once per machine
into ~/.cache/jupyter-argo/argo-testbed). One test bed runs per machine at a time (a
kubelet owns the machine's cgroups and mounts): `start()` takes a lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from k8s.envtest import (
    CONTROLLER_NAMESPACE,
    NAMESPACE,
    ApiServer,
    Unavailable,
    _die_with_parent,
    _scratch,
    _test_timeout_paused,
    free_port,
)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "argo-testbed.sh"
NODE = "testbed"
ARGO_VERSION = "v4.0.5"
BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "workflow-controller",
    "argoexec",
    "argo",
    "crane",
)

# The names the upstream examples and the users' document give their images, each served
# from the one test image with the entrypoint/command of the real image. The controller
# is told them too (its `images` setting), as it cannot ask a registry it cannot reach.
SHELL = {"cmd": ["sh"]}
IMAGES: dict[str, dict[str, list[str]]] = {
    "argoproj/argosay:v2": {"entrypoint": ["/argosay"]},
    "argoproj/argosay:v1": {"cmd": ["cowsay"]},
    "yky8/argosay:v2": {"entrypoint": ["/argosay"]},
    "docker/whalesay": {"cmd": ["/bin/bash"]},
    "docker/whalesay:latest": {"cmd": ["/bin/bash"]},
    "busybox": SHELL,
    "busybox:latest": SHELL,
    "alpine": SHELL,
    "alpine:latest": SHELL,
    "alpine:3.7": SHELL,
    "alpine:3.23": SHELL,
    "debian": {"cmd": ["bash"]},
    "debian:latest": {"cmd": ["bash"]},
    "debian:9.4": {"cmd": ["bash"]},
    "ubuntu": {"cmd": ["bash"]},
    "python:alpine3.6": {"cmd": ["python3"]},
    "python:alpine3.23": {"cmd": ["python3"]},
    "python:3.12": {"cmd": ["python3"]},
    "node:9.1-alpine": {"cmd": ["node"]},
}
EXECUTOR_IMAGE = f"quay.io/argoproj/argoexec:{ARGO_VERSION}"


def provision() -> Path:
    """The cache directory of `scripts/argo-testbed.sh`, building what is missing."""
    if shutil.which("bash") is None or not SCRIPT.is_file():
        raise Unavailable("no bash or no scripts/argo-testbed.sh")
    if os.geteuid() != 0:
        raise Unavailable("the real-Argo test bed runs a kubelet, which needs root")
    with _test_timeout_paused():
        done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        cache = Path(lines[-1])
        if all(os.access(cache / "bin" / b, os.X_OK) for b in BINARIES):
            return cache
    tail = " | ".join(done.stderr.strip().splitlines()[-4:])
    raise Unavailable(f"scripts/argo-testbed.sh could not provide the test bed: {tail}")


def _reference(image: str) -> str:
    """`busybox` -> `library/busybox:latest`, `argoproj/argosay:v2` as it is."""
    name, _, tag = image.partition(":")
    if "/" not in name:
        name = f"library/{name}"
    return f"{name}:{tag or 'latest'}"


@dataclass
class Testbed:
    """A running Argo installation; `api` is its kube-apiserver (with `call`, `kubeconfig`)."""

    __test__ = False  # not a pytest test class

    cache: Path
    workdir: Path
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str = "artifacts"
    api: ApiServer = field(init=False)
    registry: str = ""
    argo_server_port: int = 0
    # A second `argo server`, in auth mode `server`: it acts with its own service account.
    server_auth_port: int = 0
    postgres_port: int = 0
    postgres_dir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _lock: IO[str] | None = None

    @property
    def bin(self) -> Path:
        return self.cache / "bin"

    @property
    def run_dir(self) -> Path:
        # kubelet and containerd keep their state on disk (overlay snapshots, volumes).
        return self.cache / "run"

    @property
    def argo_server_url(self) -> str:
        return f"http://127.0.0.1:{self.argo_server_port}"

    @property
    def server_auth_url(self) -> str:
        return f"http://127.0.0.1:{self.server_auth_port}"

    # ---- start and stop -------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = (self.cache / ".running").open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self._clean_run_dir()
        self.api = ApiServer(
            self.bin,
            self.workdir / "api",
            service_accounts=True,
            # Mutating admission policies (beta in 1.34, off by default): see _host_network.
            extra_args=[
                "--feature-gates=MutatingAdmissionPolicy=true",
                "--runtime-config=admissionregistration.k8s.io/v1beta1=true",
            ],
        )
        self.api.start()
        self._host_network()
        self._start_registry()
        self._start_containerd()
        self._start_kube_controllers()
        self._start_kubelet()
        self._start_postgres()
        self._install_argo()
        self._start_workflow_controller()
        self._start_argo_server()
        self._start_argo_server(auth_mode="server")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._delete_pods()
        for name in (
            "argo-server",
            "argo-server-server",
            "workflow-controller",
            "kubelet",
            "kube-scheduler",
            "postgres",
        ):
            self._stop(name)
        if self.postgres_dir is not None:
            shutil.rmtree(self.postgres_dir, ignore_errors=True)
        self._stop("kube-controller-manager")
        self._kill_containers()
        self._stop("containerd")
        self._stop("registry")
        self.api.stop()
        self._clean_run_dir()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # ---- processes ---------------------------------------------------------------------

    def _spawn(
        self,
        name: str,
        args: list[str],
        env: dict[str, str] | None = None,
        user: str | None = None,
    ) -> None:
        with (self.workdir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
                env={**os.environ, **(env or {})},
                user=user,
            )

    def _stop(self, name: str, timeout: float = 10) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_tail(self, name: str, lines: int = 20) -> str:
        log = self.workdir / f"{name}.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def _wait(self, what: str, ready: Any, timeout: float = 60, name: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes.get(name or what)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{what} exited:\n{self.log_tail(name or what)}")
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError, KeyError):
                if ready():
                    return
            time.sleep(0.1)
        raise RuntimeError(
            f"{what} was not ready in {timeout:.0f} s:\n{self.log_tail(name or what)}"
        )

    # ---- images ----------------------------------------------------------------------------

    def _host_network(self) -> None:
        """Every pod of the tests' namespace on the host's network, its in-cluster clients
        pointed at the API server on 127.0.0.1: a mutating admission policy, so Argo's
        objects (workflows, defaults, config) stay as a real installation has them, and
        the pods Argo makes itself (artifact GC, agents) are covered too. Without it a pod
        would need a CNI network and dial the `kubernetes` Service's cluster IP."""
        port = self.api.port

        def each(field: str) -> str:
            """CEL: every container of `field` with the API server's address in its env."""
            kind = f"Object.spec.{field}"
            env = (
                f'[{kind}.env{{name: "KUBERNETES_SERVICE_HOST", value: "127.0.0.1"}}, '
                f'{kind}.env{{name: "KUBERNETES_SERVICE_PORT", value: "{port}"}}]'
            )
            return f"object.spec.{field}.map(c, {kind}{{name: c.name, env: {env}}})"

        spec = 'hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet", containers: '
        spec += each("containers")
        with_init = (
            f"Object{{spec: Object.spec{{{spec}, initContainers: {each('initContainers')}}}}}"
        )
        expression = (
            f"has(object.spec.initContainers) ? {with_init} : Object{{spec: Object.spec{{{spec}}}}}"
        )
        api = "/apis/admissionregistration.k8s.io/v1beta1"
        self.api.ensure(
            f"{api}/mutatingadmissionpolicies",
            {
                "apiVersion": "admissionregistration.k8s.io/v1beta1",
                "kind": "MutatingAdmissionPolicy",
                "metadata": {"name": "testbed-host-network"},
                "spec": {
                    "matchConstraints": {
                        "resourceRules": [
                            {
                                "apiGroups": [""],
                                "apiVersions": ["v1"],
                                "operations": ["CREATE"],
                                "resources": ["pods"],
                            }
                        ]
                    },
                    "failurePolicy": "Fail",
                    "reinvocationPolicy": "Never",
                    "mutations": [
                        {
                            "patchType": "ApplyConfiguration",
                            "applyConfiguration": {"expression": expression},
                        }
                    ],
                },
            },
        )
        self.api.ensure(
            f"{api}/mutatingadmissionpolicybindings",
            {
                "apiVersion": "admissionregistration.k8s.io/v1beta1",
                "kind": "MutatingAdmissionPolicyBinding",
                "metadata": {"name": "testbed-host-network"},
                "spec": {
                    "policyName": "testbed-host-network",
                    "matchResources": {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}
                        }
                    },
                },
            },
        )

    def _start_registry(self) -> None:
        port = free_port()
        self.registry = f"127.0.0.1:{port}"
        blobs = self.cache / "registry-blobs"
        blobs.mkdir(exist_ok=True)
        self._spawn(
            "registry",
            [
                str(self.bin / "crane"),
                "registry",
                "serve",
                "--address",
                self.registry,
                "--disk",
                str(blobs),
            ],
        )

        def answers() -> bool:
            with urllib.request.urlopen(f"http://{self.registry}/v2/", timeout=1) as answer:
                return bool(answer.status == 200)

        self._wait("registry", answers, 30)
        crane = str(self.bin / "crane")
        base = f"{self.registry}/testbed/base:latest"
        image_tar = self.cache / "images" / "testbed-image.tar"
        subprocess.run([crane, "push", str(image_tar), base], check=True, capture_output=True)
        # The executor image: argoexec on the same root filesystem.
        layer = self.workdir / "argoexec-layer.tar"
        staging = self.workdir / "argoexec-layer"
        (staging / "usr" / "local" / "bin").mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.bin / "argoexec", staging / "usr" / "local" / "bin" / "argoexec")
        subprocess.run(
            ["tar", "--owner=0", "--group=0", "-C", str(staging), "-cf", str(layer), "."],
            check=True,
        )
        executor = f"{self.registry}/argoproj/argoexec:{ARGO_VERSION}"
        subprocess.run(
            [crane, "append", "-b", base, "-f", str(layer), "-t", executor],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [crane, "mutate", executor, "--entrypoint", "argoexec", "-t", executor],
            check=True,
            capture_output=True,
        )
        # The pods' sandbox ("pause") container: something that waits for ever.
        pause = [crane, "mutate", base, "--entrypoint", "/bin/sleep", "--cmd", "infinity"]
        subprocess.run(
            [*pause, "-t", f"{self.registry}/library/busybox:pause"],
            check=True,
            capture_output=True,
        )
        for image, config in IMAGES.items():
            args = [crane, "mutate", base, "-t", f"{self.registry}/{_reference(image)}"]
            for key, value in config.items():
                args += [f"--{key}", ",".join(value)]
            subprocess.run(args, check=True, capture_output=True)

    # ---- containerd and the kubelet ---------------------------------------------------------

    @property
    def containerd_socket(self) -> Path:
        return self.run_dir / "containerd.sock"

    def _start_containerd(self) -> None:
        hosts = self.run_dir / "certs.d"
        for registry in ("docker.io", "quay.io"):
            (hosts / registry).mkdir(parents=True, exist_ok=True)
            (hosts / registry / "hosts.toml").write_text(
                f'server = "http://{self.registry}"\n'
                f'[host."http://{self.registry}"]\n'
                '  capabilities = ["pull", "resolve"]\n'
            )
        cni_conf = self.run_dir / "cni"
        cni_conf.mkdir(exist_ok=True)
        # Only loopback: every pod is on the host's network; this lets the runtime report
        # its network ready.
        (cni_conf / "10-loopback.conflist").write_text(
            json.dumps(
                {
                    "cniVersion": "1.0.0",
                    "name": "testbed",
                    "plugins": [{"type": "loopback"}],
                }
            )
        )
        config = self.run_dir / "containerd.toml"
        config.write_text(
            f"""version = 2
root = "{self.run_dir / "containerd"}"
state = "{self.run_dir / "containerd-state"}"
[grpc]
  address = "{self.containerd_socket}"
[ttrpc]
  address = "{self.containerd_socket}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/library/busybox:pause"
  # Lowering a process's OOM score needs CAP_SYS_RESOURCE, which this machine's root may
  # lack: kubelet's -998 for sandboxes would fail every pod.
  restrict_oom_score_adj = true
  enable_unprivileged_ports = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{hosts}"
"""
        )
        self._spawn("containerd", ["containerd", "--config", str(config)])
        self._wait(
            "containerd",
            lambda: (
                subprocess.run(
                    ["ctr", "--address", str(self.containerd_socket), "version"],
                    capture_output=True,
                ).returncode
                == 0
            ),
            30,
        )

    def _start_kube_controllers(self) -> None:
        admin = self.api.kubeconfig(self.workdir / "admin.kubeconfig", namespace=None)
        self._spawn(
            "kube-controller-manager",
            [
                str(self.bin / "kube-controller-manager"),
                f"--kubeconfig={admin}",
                f"--authentication-kubeconfig={admin}",
                f"--authorization-kubeconfig={admin}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--leader-elect=false",
                f"--service-account-private-key-file={self.api.workdir / 'service-account.key'}",
                f"--root-ca-file={self.api.ca_file}",
                "--use-service-account-credentials=false",
                "--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle",
                "--v=0",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(self.bin / "kube-scheduler"),
                f"--kubeconfig={admin}",
                f"--authentication-kubeconfig={admin}",
                f"--authorization-kubeconfig={admin}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--leader-elect=false",
                "--v=0",
            ],
        )

    def _start_kubelet(self) -> None:
        admin = self.api.kubeconfig(self.workdir / "kubelet.kubeconfig", namespace=None)
        root = self.run_dir / "kubelet"
        root.mkdir(exist_ok=True)
        (self.run_dir / "pod-logs").mkdir(exist_ok=True)
        port = free_port()
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": "127.0.0.1",
            "port": port,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port(),
            "authentication": {
                "anonymous": {"enabled": True},
                "webhook": {"enabled": False},
            },
            "authorization": {"mode": "AlwaysAllow"},
            "cgroupDriver": "cgroupfs",
            "cgroupsPerQOS": False,
            "enforceNodeAllocatable": [],
            "failSwapOn": False,
            "failCgroupV1": False,
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "podLogsDir": str(self.run_dir / "pod-logs"),
            "evictionHard": {
                "memory.available": "1Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False,
            "syncFrequency": "5s",
            "fileCheckFrequency": "5s",
            "nodeStatusUpdateFrequency": "5s",
            "resolvConf": "/etc/resolv.conf",
            "localStorageCapacityIsolation": False,
            "registerNode": True,
        }
        config_file = self.run_dir / "kubelet.yaml"
        config_file.write_text(yaml.safe_dump(config))
        args = [
            str(self.bin / "kubelet"),
            f"--config={config_file}",
            f"--kubeconfig={admin}",
            f"--root-dir={root}",
            f"--hostname-override={NODE}",
            # kubelet refuses a loopback node IP; as an "external cloud provider" the
            # test bed sets the node's address itself (below).
            "--cloud-provider=external",
            f"--cert-dir={root / 'pki'}",
            "--v=0",
        ]
        # containerd answers before its CRI service is up ("server is not initialized
        # yet"), and kubelet exits at once on that: start it again for a while.
        deadline = time.monotonic() + 30
        while True:
            self._spawn("kubelet", args)
            try:
                self.processes["kubelet"].wait(timeout=3)
            except subprocess.TimeoutExpired:
                break
            if "not initialized yet" not in self.log_tail("kubelet", 3) or (
                time.monotonic() > deadline
            ):
                raise RuntimeError(f"kubelet exited:\n{self.log_tail('kubelet')}")
            time.sleep(0.5)

        def registered() -> bool:
            return bool(self.api.call("GET", f"/api/v1/nodes/{NODE}"))

        self._wait("kubelet", registered, 60)
        self._initialize_node()

        def node_ready() -> bool:
            node = self.api.call("GET", f"/api/v1/nodes/{NODE}")
            conditions = {c["type"]: c["status"] for c in node["status"].get("conditions", [])}
            return conditions.get("Ready") == "True"

        self._wait("kubelet", node_ready, 90)

    def _initialize_node(self) -> None:
        """What a cloud controller does for a new node: its addresses (127.0.0.1, so the API
        server reaches kubelet and host-network pods get 127.0.0.1 as their IP), then the
        end of its `uninitialized` taint."""
        path = f"/api/v1/nodes/{NODE}"
        addresses = [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": NODE},
        ]
        self.api.call("PATCH", f"{path}/status", {"status": {"addresses": addresses}})
        node = self.api.call("GET", path)
        taints = [
            t
            for t in node["spec"].get("taints", [])
            if t["key"] != "node.cloudprovider.kubernetes.io/uninitialized"
        ]
        self.api.call("PATCH", path, {"spec": {"taints": taints or None}})

    # ---- PostgreSQL: Argo's workflow archive and offloaded node status ------------------------

    def _start_postgres(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
        if not found:
            raise RuntimeError("no PostgreSQL in /usr/lib/postgresql: run scripts/argo-testbed.sh")
        bin_dir = found[-1].parent
        # PostgreSQL refuses to run as root: its own user owns its directory.
        self.postgres_dir = Path(
            tempfile.mkdtemp(prefix="jupyter-argo-postgres-", dir=self.workdir.parent)
        )
        shutil.chown(self.postgres_dir, "postgres", "postgres")
        data = self.postgres_dir / "data"
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "argo", "--no-sync"],
            user="postgres",
            capture_output=True,
            check=True,
            cwd=self.postgres_dir,
        )
        self.postgres_port = free_port()
        self._spawn(
            "postgres",
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.postgres_port),
                "-k",
                str(self.postgres_dir),
                # A throw-away database: no durability, less I/O on a shared machine.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            user="postgres",
        )

        def ready() -> bool:
            done = subprocess.run(
                [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.postgres_port)],
                capture_output=True,
            )
            return done.returncode == 0

        self._wait("postgres", ready, 30)

    def persistence(self) -> dict[str, Any]:
        """The controller's `persistence` setting (docs/workflow-archive.md): every finished
        workflow archived, node status offloaded when a workflow outgrows etcd's limit."""
        secret = "argo-postgres-config"
        return {
            "archive": True,
            "nodeStatusOffLoad": True,
            "connectionPool": {"maxIdleConns": 10, "maxOpenConns": 0},
            "postgresql": {
                "host": "127.0.0.1",
                "port": self.postgres_port,
                "database": "postgres",
                "tableName": "argo_workflows",
                "userNameSecret": {"name": secret, "key": "username"},
                "passwordSecret": {"name": secret, "key": "password"},
                "ssl": False,
            },
        }

    # ---- Argo --------------------------------------------------------------------------------

    def _install_argo(self) -> None:
        api = self.api
        for crd_file in sorted((self.cache / "crds").glob("argoproj.io_*.yaml")):
            definition = yaml.safe_load(crd_file.read_text())
            api.ensure("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", definition)
        api.wait_for_crds()
        for namespace in (NAMESPACE, CONTROLLER_NAMESPACE):
            api.ensure(
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            )
        # What Argo's docs give a workflow's service account (docs/workflow-rbac.md): the
        # executor writes WorkflowTaskResults; artifact GC pods read their tasks.
        rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}"
        api.ensure(
            f"{rbac}/roles",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "executor", "namespace": NAMESPACE},
                "rules": [
                    {
                        "apiGroups": ["argoproj.io"],
                        "resources": ["workflowtaskresults"],
                        "verbs": ["create", "patch"],
                    },
                    {
                        "apiGroups": ["argoproj.io"],
                        "resources": ["workflowartifactgctasks"],
                        "verbs": ["list", "watch"],
                    },
                    {
                        "apiGroups": ["argoproj.io"],
                        "resources": ["workflowartifactgctasks/status"],
                        "verbs": ["patch"],
                    },
                ],
            },
        )
        account = {"kind": "ServiceAccount", "name": "default", "namespace": NAMESPACE}
        api.bind_role(NAMESPACE, "executor-default", "executor", account)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s3-credentials", "namespace": NAMESPACE},
            "stringData": {"accesskey": self.s3_access_key, "secretkey": self.s3_secret_key},
        }
        api.ensure(f"/api/v1/namespaces/{NAMESPACE}/secrets", secret)
        database = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "argo-postgres-config", "namespace": CONTROLLER_NAMESPACE},
            "stringData": {"username": "argo", "password": "unused-with-trust-auth"},
        }
        api.ensure(f"/api/v1/namespaces/{CONTROLLER_NAMESPACE}/secrets", database)
        api.ensure(
            f"/api/v1/namespaces/{CONTROLLER_NAMESPACE}/configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "workflow-controller-configmap",
                    "namespace": CONTROLLER_NAMESPACE,
                },
                "data": self.controller_config(),
            },
        )

    def s3_repository(self) -> dict[str, Any]:
        return {
            "endpoint": self.s3_endpoint,
            "bucket": self.s3_bucket,
            "insecure": True,
            "accessKeySecret": {"name": "s3-credentials", "key": "accesskey"},
            "secretKeySecret": {"name": "s3-credentials", "key": "secretkey"},
        }

    def controller_config(self) -> dict[str, str]:
        """`workflow-controller-configmap`'s data, each key a YAML document as Argo reads it."""
        return {
            "executor": yaml.safe_dump({"imagePullPolicy": "IfNotPresent"}),
            "artifactRepository": yaml.safe_dump({"archiveLogs": True, "s3": self.s3_repository()}),
            "images": yaml.safe_dump(IMAGES),
            # Two cores: at most 8 workflows run at once, the rest wait Pending as Argo
            # queues them (`parallelism`).
            "parallelism": "8",
            "persistence": yaml.safe_dump(self.persistence()),
            "metricsConfig": yaml.safe_dump({"enabled": False}),
            "telemetryConfig": yaml.safe_dump({"enabled": False}),
        }

    def _start_workflow_controller(self) -> None:
        kubeconfig = self.api.kubeconfig(
            self.workdir / "controller.kubeconfig", namespace=CONTROLLER_NAMESPACE
        )
        self._spawn(
            "workflow-controller",
            [
                str(self.bin / "workflow-controller"),
                f"--kubeconfig={kubeconfig}",
                "--configmap=workflow-controller-configmap",
                f"--executor-image={EXECUTOR_IMAGE}",
                "--loglevel=info",
            ],
            # As Argo's own e2e set-up runs it (its Makefile's `start`): a 1 s requeue
            # instead of 10 s between a pod's end and the next step.
            env={
                "LEADER_ELECTION_DISABLE": "true",
                "ARGO_EXECUTOR_PLUGINS": "false",
                "DEFAULT_REQUEUE_TIME": "1s",
            },
        )

        def healthy() -> bool:
            with urllib.request.urlopen("http://127.0.0.1:6060/healthz", timeout=1) as answer:
                return bool(answer.status == 200)

        self._wait("workflow-controller", healthy, 60)

    def _start_argo_server(self, auth_mode: str = "client") -> None:
        """`argo server` in auth mode `client` (each caller's bearer token is its Kubernetes
        identity) or `server` (the server acts with its own account; no token needed)."""
        port = free_port()
        name = "argo-server" if auth_mode == "client" else f"argo-server-{auth_mode}"
        if auth_mode == "client":
            self.argo_server_port = port
        else:
            self.server_auth_port = port
        kubeconfig = self.workdir / "controller.kubeconfig"
        self._spawn(
            name,
            [
                str(self.bin / "argo"),
                "server",
                f"--kubeconfig={kubeconfig}",
                f"--port={port}",
                "--secure=false",
                f"--auth-mode={auth_mode}",
                "--namespaced=false",
                "--loglevel=warn",
            ],
            # With `--auth-mode=client` the server makes each caller's client from the
            # default loading rules (`kubeconfig.DefaultRestConfig`: $KUBECONFIG), not
            # from --kubeconfig: without this every bearer token is answered 401.
            env={"KUBECONFIG": str(kubeconfig)},
        )

        def answers() -> bool:
            # Without a token `--auth-mode=client` answers 401: it is up.
            url = f"http://127.0.0.1:{port}/api/v1/version"
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    return bool(answer.status == 200)
            except urllib.error.HTTPError as err:
                return err.code == 401

        self._wait(name, answers, 60)

    # ---- users of the Argo Server ------------------------------------------------------------

    def user_token(self, name: str = "notebook", namespace: str = NAMESPACE) -> str:
        """A service-account token (TokenRequest, one hour) for `name` in `namespace`, with
        what a user of the Argo UI is given in that namespace only: Argo's resources, pods
        (deleted by `retry`) and their logs, the artifact repository's Secret (read by the
        artifact server as the caller in auth mode `client`), events."""
        api = self.api
        api.ensure(
            f"/api/v1/namespaces/{namespace}/serviceaccounts",
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
        )
        api.ensure(
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": f"{name}-user", "namespace": namespace},
                "rules": [
                    {"apiGroups": ["argoproj.io"], "resources": ["*"], "verbs": ["*"]},
                    {
                        "apiGroups": [""],
                        "resources": ["pods/log", "events", "configmaps"],
                        "verbs": ["get", "list", "watch"],
                    },
                    # `retry` deletes the failed pods it runs again.
                    {
                        "apiGroups": [""],
                        "resources": ["pods"],
                        "verbs": ["get", "list", "watch", "delete"],
                    },
                    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
                ],
            },
        )
        account = {"kind": "ServiceAccount", "name": name, "namespace": namespace}
        api.bind_role(namespace, f"{name}-user", f"{name}-user", account)
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        }
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"
        token: str = api.call("POST", path, request)["status"]["token"]
        return token

    # ---- clean-up ----------------------------------------------------------------------------

    def _delete_pods(self) -> None:
        path = f"/api/v1/namespaces/{NAMESPACE}/pods"
        self.api.call("DELETE", f"{path}?gracePeriodSeconds=0")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.api.call("GET", path)["items"]:
            time.sleep(0.2)

    def _kill_containers(self) -> None:
        """Containers outlive containerd (their shims are on their own): end them."""
        ctr = ["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io"]
        listed = subprocess.run([*ctr, "tasks", "ls", "-q"], capture_output=True, text=True)
        for task in listed.stdout.split():
            subprocess.run([*ctr, "tasks", "kill", "-s", "SIGKILL", task], capture_output=True)
        for line in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):
                argv = line.read_bytes().split(b"\0")
                if argv[0].endswith(b"containerd-shim-runc-v2") and str(
                    self.containerd_socket
                ).encode() in b" ".join(argv):
                    os.kill(int(line.parent.name), signal.SIGKILL)

    def _clean_run_dir(self) -> None:
        """Unmount what kubelet and containerd left mounted under the run directory."""
        root = str(self.run_dir)
        mounts = [
            line.split()[1]
            for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(root + "/")
        ]
        for mount in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        for part in ("kubelet", "pod-logs", "containerd-state"):
            shutil.rmtree(self.run_dir / part, ignore_errors=True)


_shared: Testbed | None = None
_shared_stack = contextlib.ExitStack()


def shared_testbed() -> Testbed:
    """One real Argo for the whole test session (started on first use, about a minute;
    stopped at exit). Skips when it cannot be had; fails instead under `make test`
    (JUPYTER_ARGO_ENVTEST=required)."""
    global _shared
    if _shared is not None:
        return _shared
    import atexit

    import pytest
    from servers import s3_server

    try:
        cache = provision()
    except Unavailable as err:
        if os.environ.get("JUPYTER_ARGO_ENVTEST") == "required":
            pytest.fail(str(err), pytrace=False)
        pytest.skip(str(err))
    with _test_timeout_paused():
        s3 = _shared_stack.enter_context(s3_server())
        bed = Testbed(cache, _scratch(), s3.endpoint, s3.access_key, s3.secret_key, s3.bucket)
        _shared_stack.callback(shutil.rmtree, bed.workdir, ignore_errors=True)
        _shared_stack.callback(bed.stop)
        atexit.register(_shared_stack.close)
        try:
            bed.start()
        except Exception:
            _shared_stack.close()
            raise
    _shared = bed
    return bed
