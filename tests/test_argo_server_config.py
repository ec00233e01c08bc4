"""The Argo Server backend's configuration, as the `argo` CLI's (Argo's
`cmd/argo/commands/client/conn.go`): the `jupyter-argo` flags and ARGO_* variables, the
magics' traits, the token file and `%argo login`; and the token nowhere in what users see.

The fast tests need no server. The slow ones use the test bed's real `argo server` (auth
mode client, plain http): the CLI as separate processes, the magics in real kernels, and
a notebook executed by nbclient and saved, each then searched for the token."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel
from k8s.envtest import ADMIN_TOKEN, NAMESPACE, VIEWER_TOKEN
from k8s.testbed import Testbed, shared_testbed
from nbclient import NotebookClient
from test_magics import TestingShell
from test_magics_kernel import collect, run

from jupyter_argo.backends.argo_server import ArgoServerBackend
from jupyter_argo.cli import build_parser
from jupyter_argo.cli_runs import backend_for as _backend
from jupyter_argo.cli_runs import go_booleans
from jupyter_argo.errors import ConfigError, UserError

SECRET = "s3cr3t-token-that-must-not-leak"
ARGO_VARIABLES = (
    "ARGO_SERVER",
    "ARGO_TOKEN",
    "ARGO_TOKEN_FILE",
    "ARGO_NAMESPACE",
    "ARGO_SECURE",
    "ARGO_INSECURE_SKIP_VERIFY",
    "ARGO_BASE_HREF",
    "ARGO_HTTP1",
    "ARGO_INSTANCEID",
    "JUPYTER_ARGO_BACKEND",
    "JUPYTER_ARGO_NAMESPACE",
)


@pytest.fixture(autouse=True)
def _no_argo_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ARGO_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def backend_of(*argv: str) -> Any:
    """The backend `jupyter-argo list ARGV...` would act on."""
    return _backend(build_parser().parse_args(go_booleans(["list", *argv])))


def authorization(backend: ArgoServerBackend) -> str:
    return str(backend.client.headers.get("Authorization", ""))


# ---- the command line ----------------------------------------------------------------------


def test_every_run_command_offers_the_argo_server_backend() -> None:
    parser = build_parser()
    commands = ["apply", "run", "submit", "list", "get", "logs", "wait", "stop", "terminate"]
    commands += ["suspend", "resume", "retry", "resubmit", "node", "delete"]
    for command in commands:
        sub = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
        backend = next(a for a in sub._actions if a.dest == "backend")
        assert list(backend.choices or ()) == ["local", "kubernetes", "argo-server"], command
        flags = {s for a in sub._actions for s in a.option_strings}
        # The argo CLI's names for them (conn.go: AddAPIClientFlagsToCmd).
        assert {"-s", "--argo-server", "-e", "--secure", "-k", "--insecure-skip-verify"} <= flags
        assert {"--argo-base-href", "--argo-http1", "--instanceid"} <= flags


def test_the_argo_cli_flags_and_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    # --argo-server implies the backend; the argo CLI's default is TLS.
    backend = backend_of("-s", "argo.example:2746")
    assert isinstance(backend, ArgoServerBackend)
    assert backend.url == "https://argo.example:2746"
    assert backend.namespace == "default"
    # Go's boolean spellings: --secure=false, -k=true, --argo-http1=1.
    backend = backend_of(
        "-s", "argo.example:2746", "--secure=false", "-k=true", "--argo-http1=1", "-n", "team"
    )
    assert backend.url == "http://argo.example:2746"
    assert backend.insecure_skip_verify is True
    assert backend.http1 is True
    assert backend.namespace == "team"
    assert backend_of("-s", "h:1").http1 is False
    # The variables, with --backend naming it.
    monkeypatch.setenv("ARGO_SERVER", "argo.example:443")
    monkeypatch.setenv("ARGO_NAMESPACE", "science")
    monkeypatch.setenv("ARGO_BASE_HREF", "/argo/")
    monkeypatch.setenv("ARGO_INSECURE_SKIP_VERIFY", "true")
    monkeypatch.setenv("ARGO_HTTP1", "true")
    monkeypatch.setenv("ARGO_TOKEN", f"Bearer {SECRET}")
    backend = backend_of("--backend", "argo-server")
    assert backend.url == "https://argo.example:443/argo"
    assert backend.namespace == "science"
    assert backend.insecure_skip_verify is True
    assert backend.http1 is True
    assert authorization(backend) == f"Bearer {SECRET}"
    # Flags win over variables; a URL's scheme wins over --secure.
    backend = backend_of("--backend", "argo-server", "--no-insecure-skip-verify", "-e")
    assert backend.insecure_skip_verify is False
    assert backend_of("--backend", "argo-server", "--argo-http1=false").http1 is False
    assert backend_of("-s", "http://plain:2746", "--secure").url == "http://plain:2746/argo"
    assert backend_of("-s", "https://tls:2746", "--secure=false").url == "https://tls:2746/argo"
    monkeypatch.setenv("JUPYTER_ARGO_BACKEND", "argo-server")
    assert backend_of("--argo-base-href", "").url == "https://argo.example:443"
    assert backend_of().namespace == "science"


def test_argo_secure_is_true_unless_false(monkeypatch: pytest.MonkeyPatch) -> None:
    # conn.go: `os.Getenv("ARGO_SECURE") != "false"`.
    for value, scheme in (("false", "http"), ("1", "https"), ("true", "https"), ("", "https")):
        monkeypatch.setenv("ARGO_SECURE", value)
        assert ArgoServerBackend("h:1").url == f"{scheme}://h:1", value


def test_server_flags_are_refused_with_another_backend() -> None:
    with pytest.raises(UserError) as caught:
        backend_of("-k")
    assert str(caught.value) == "--insecure-skip-verify is for --backend argo-server, not local"
    with pytest.raises(UserError) as caught:
        backend_of("--backend", "kubernetes", "-s", "h:1")
    assert str(caught.value) == "--argo-server is for --backend argo-server, not kubernetes"


def test_go_booleans_leave_everything_else_alone() -> None:
    words = ["get", "-p", "x=--secure=false", "--secure=maybe", "--", "--secure=false"]
    assert go_booleans(words) == words
    assert go_booleans(["-e=F", "--insecure-skip-verify=TRUE"]) == [
        "--no-secure",
        "--insecure-skip-verify",
    ]


# ---- the token: a file, the variables -------------------------------------------------------


def test_the_token_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"Bearer {SECRET}\n")
    assert authorization(ArgoServerBackend("h:1", token_file=token_file)) == f"Bearer {SECRET}"
    # ARGO_TOKEN_FILE when ARGO_TOKEN is not set; ARGO_TOKEN (the argo CLI's) first.
    monkeypatch.setenv("ARGO_TOKEN_FILE", str(token_file))
    assert authorization(ArgoServerBackend("h:1")) == f"Bearer {SECRET}"
    monkeypatch.setenv("ARGO_TOKEN", "from-the-variable")
    assert authorization(ArgoServerBackend("h:1")) == "Bearer from-the-variable"
    # An explicit file wins over the variables; an explicit token over everything.
    other = tmp_path / "other"
    other.write_text("from-the-file")
    assert authorization(ArgoServerBackend("h:1", token_file=other)) == "Bearer from-the-file"
    explicit = ArgoServerBackend("h:1", token="given", token_file=other)
    assert authorization(explicit) == "Bearer given"


def test_an_unreadable_token_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as caught:
        ArgoServerBackend("h:1", token_file=missing)
    reason = "No such file or directory"
    assert str(caught.value) == f"token file {missing}: cannot read the token ({reason})"
    monkeypatch.setenv("ARGO_TOKEN_FILE", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        ArgoServerBackend("h:1")
    assert str(caught.value).startswith(f"ARGO_TOKEN_FILE {tmp_path}: cannot read the token (")


# ---- the magics -----------------------------------------------------------------------------


@pytest.fixture
def shell() -> Iterator[TestingShell]:
    ip = TestingShell.instance()
    ip.run_cell("%load_ext jupyter_argo")
    yield ip
    TestingShell.clear_instance()


def magics(ip: InteractiveShell) -> Any:
    return ip.magics_manager.registry["ArgoMagics"]


def test_traits_default_to_the_argo_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGO_SERVER", "argo.example:2746")
    monkeypatch.setenv("ARGO_SECURE", "false")
    monkeypatch.setenv("ARGO_INSECURE_SKIP_VERIFY", "true")
    monkeypatch.setenv("ARGO_BASE_HREF", "/argo")
    monkeypatch.setenv("ARGO_HTTP1", "true")
    monkeypatch.setenv("ARGO_NAMESPACE", "science")
    monkeypatch.setenv("ARGO_INSTANCEID", "i1")
    ip = TestingShell.instance()
    try:
        ip.run_cell("%load_ext jupyter_argo")
        found = magics(ip)
        assert found.argo_server == "argo.example:2746"
        assert found.argo_secure is False
        assert found.argo_insecure_skip_verify is True
        assert found.argo_base_href == "/argo"
        assert found.argo_http1 is True
        assert found.namespace == "science"
        assert found.instance_id == "i1"
        ip.run_cell('%config ArgoMagics.backend = "argo-server"')
        backend = found._backend()
        assert isinstance(backend, ArgoServerBackend)
        assert backend.url == "http://argo.example:2746/argo"
        assert backend.namespace == "science"
        assert backend.instance_id == "i1"
        assert backend.http1 is True
    finally:
        TestingShell.clear_instance()


def test_config_changes_rebuild_the_backend(shell: TestingShell, tmp_path: Path) -> None:
    shell.run_cell('%config ArgoMagics.argo_server = "one.example:2746"')
    first = magics(shell)._backend("argo-server")
    assert first.url == "https://one.example:2746"
    assert authorization(first) == ""
    token_file = tmp_path / "token"
    token_file.write_text(SECRET)
    shell.run_cell(f'%config ArgoMagics.argo_token_file = "{token_file}"')
    shell.run_cell("%config ArgoMagics.argo_secure = False")
    second = magics(shell)._backend("argo-server")
    assert second is not first
    assert second.url == "http://one.example:2746"
    assert authorization(second) == f"Bearer {SECRET}"
    shell.run_cell('%config ArgoMagics.argo_token = "typed-in"')  # wins over the file
    assert authorization(magics(shell)._backend("argo-server")) == "Bearer typed-in"
    shell.run_cell('%config ArgoMagics.argo_server = "https://two.example"')  # scheme wins
    assert magics(shell)._backend("argo-server").url == "https://two.example"


def test_config_never_shows_the_token(
    shell: TestingShell, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    shell.run_cell(f'%config ArgoMagics.argo_token = "{SECRET}"')
    shell.run_cell("%config ArgoMagics")
    shown = capsys.readouterr().out
    assert "ArgoMagics.argo_token=<Secret>" in shown
    assert "Current: '<hidden>'" in shown
    assert SECRET not in shown
    value = shell.run_cell("%config ArgoMagics.argo_token").result
    assert repr(value) == "'<hidden>'"
    assert value == SECRET  # the text itself wherever it is used
    shell.run_cell("%config ArgoMagics.argo_token", store_history=True)  # shown as Out
    printed = capsys.readouterr().out
    assert "'<hidden>'" in printed
    assert SECRET not in printed
    shell.run_cell(f"%config ArgoMagics.argo_token = b'{SECRET}' * 2")
    shell.run_cell("%config ArgoMagics.argo_token = 12")  # %config logs what it refused
    assert [r.getMessage() for r in caplog.records] == ["argo_token: expected a string, not int"]


def test_the_backend_needs_a_server(
    shell: TestingShell, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        shell.run_cell("%argo backend argo-server")
    assert "%argo login HOST:PORT" in str(caught.value)
    assert "ArgoMagics.argo_server" in str(caught.value)
    capsys.readouterr()
    shell.run_cell('%config ArgoMagics.argo_server = "one.example:2746"')
    shell.run_cell("%argo backend argo-server")
    expected = "backend: argo-server at https://one.example:2746 (namespace default)\n"
    assert capsys.readouterr().out == expected


def test_a_wrong_server_is_one_line_without_the_token(shell: TestingShell, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(SECRET)
    shell.run_cell(f'%config ArgoMagics.argo_server = "127.0.0.1:{closed_port()}"')
    shell.run_cell(f'%config ArgoMagics.argo_token_file = "{token_file}"')
    with pytest.raises(ConfigError) as caught:
        shell.run_cell("%argo list --backend argo-server")
    message = str(caught.value)
    assert message.startswith("cannot reach the Argo Server at https://127.0.0.1:")
    assert SECRET not in message
    assert caught.value._render_traceback_() == [f"ConfigError: {message}"]  # type: ignore[attr-defined]


# ---- the real server: the command line --------------------------------------------------------


@pytest.fixture(scope="module")
def bed() -> Testbed:
    return shared_testbed()


HELLO = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: config-hello-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: who, value: world}]}
  templates:
  - name: main
    inputs: {parameters: [{name: who}]}
    container:
      image: argoproj/argosay:v2
      args: [echo, "hello {{inputs.parameters.who}}"]
"""

TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: NAME}
spec:
  entrypoint: main
  arguments: {parameters: [{name: who, value: template}]}
  templates:
  - name: main
    inputs: {parameters: [{name: who}]}
    container:
      image: argoproj/argosay:v2
      args: [echo, "hi {{inputs.parameters.who}}"]
"""


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without any ARGO_* variable, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if k not in ARGO_VARIABLES}
    env.update(variables)
    return env


def server_environment(bed: Testbed, token: str | None = ADMIN_TOKEN) -> dict[str, str]:
    """The argo CLI's variables for the bed's server (plain http)."""
    env = environment(
        ARGO_SERVER=f"127.0.0.1:{bed.argo_server_port}",
        ARGO_SECURE="false",
        ARGO_NAMESPACE=NAMESPACE,
    )
    if token is not None:
        env["ARGO_TOKEN"] = token
    return env


class Cli:
    """`jupyter-argo` as separate processes; keeps everything they printed."""

    def __init__(self) -> None:
        self.printed: list[str] = []

    def __call__(
        self, env: dict[str, str], *args: str, code: int = 0
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "jupyter_argo.cli", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
        self.printed += [done.stdout, done.stderr]
        if done.returncode != code:
            raise AssertionError(f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def one_line_error(self, env: dict[str, str], *args: str) -> str:
        """The error of a command that must fail: one line on stderr, nothing else."""
        done = self(env, *args, code=1)
        assert done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert line.startswith("jupyter-argo: "), line
        return line


@pytest.mark.slow
def test_the_command_line_on_a_real_argo_server(bed: Testbed, tmp_path: Path) -> None:
    cli = Cli()
    env = server_environment(bed)
    hello = tmp_path / "hello.yaml"
    hello.write_text(HELLO)
    server = ("--backend", "argo-server")

    done = cli(env, "submit", str(hello), *server, "--wait", "-p", "who=server", "-o", "json")
    workflow = json.loads(done.stdout)
    name = workflow["metadata"]["name"]
    assert workflow["status"]["phase"] == "Succeeded"
    assert workflow["metadata"]["namespace"] == NAMESPACE  # from ARGO_NAMESPACE

    shown = cli(env, "get", name, *server).stdout
    assert f"Name:                {name}\n" in shown
    assert "Status:              Succeeded\n" in shown
    assert name in cli(env, "list", *server).stdout.split()
    assert f"{name}: hello server" in cli(env, "logs", name, *server).stdout.splitlines()
    assert cli(env, "wait", name, *server).stdout == f"{name} Succeeded\n"

    # The flags alone, without the variables (the token stays in ARGO_TOKEN: argo has no flag).
    flags_only = environment(ARGO_TOKEN=ADMIN_TOKEN)
    port = str(bed.argo_server_port)
    done = cli(
        flags_only, "get", name, "-s", f"127.0.0.1:{port}", "--secure=false", "-n", NAMESPACE
    )
    assert "Status:              Succeeded\n" in done.stdout
    done = cli(flags_only, "list", "-s", f"http://127.0.0.1:{port}", "-n", NAMESPACE)
    assert name in done.stdout.split()
    # The logs streamed as text/event-stream, as the argo CLI's HTTP/1 client asks.
    done = cli(env, "logs", name, *server, "--argo-http1")
    assert f"{name}: hello server" in done.stdout.splitlines()

    # apply and submit --from.
    template_name = f"config-template-{uuid.uuid4().hex[:6]}"
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.replace("NAME", template_name))
    done = cli(env, "apply", str(template), *server)
    assert done.stdout == f"workflowtemplate/{template_name} created\n"
    assert cli(env, "apply", str(template), *server).stdout.endswith(" configured\n")
    done = cli(env, "submit", "--from", f"workflowtemplate/{template_name}", *server, "--wait")
    assert "Status:              Succeeded\n" in done.stdout
    from_template = done.stdout.split()[1]
    assert f"{from_template}: hi template" in cli(env, "logs", from_template, *server).stdout

    # An action, then delete.
    done = cli(env, "resubmit", name, *server)
    again = done.stdout.split()[1]
    assert done.stdout == f"workflow {again} resubmitted\n"
    assert again != name
    assert cli(env, "wait", again, *server).stdout == f"{again} Succeeded\n"
    for gone in (name, again, from_template):
        assert cli(env, "delete", gone, *server).stdout == f'Workflow "{gone}" deleted\n'

    everything = "".join(cli.printed)
    assert "Succeeded" in everything
    assert ADMIN_TOKEN not in everything


@pytest.mark.slow
def test_the_command_line_refusals_are_one_line_without_the_token(
    bed: Testbed, tmp_path: Path
) -> None:
    cli = Cli()
    hello = tmp_path / "hello.yaml"
    hello.write_text(HELLO)
    server = ("--backend", "argo-server")
    url = f"http://127.0.0.1:{bed.argo_server_port}"

    line = cli.one_line_error(server_environment(bed, SECRET), "list", *server)
    assert line.endswith(
        f"at {url} refused list workflows (401 Unauthorized): the token is wrong or expired"
    ), line
    line = cli.one_line_error(server_environment(bed, None), "list", *server)
    assert "(401 Unauthorized): ARGO_TOKEN is missing" in line
    line = cli.one_line_error(server_environment(bed, VIEWER_TOKEN), "submit", str(hello), *server)
    assert "(403 Forbidden)" in line

    wrong = server_environment(bed, SECRET)
    wrong["ARGO_SERVER"] = f"127.0.0.1:{closed_port()}"
    line = cli.one_line_error(wrong, "get", "anything", *server)
    assert line.startswith("jupyter-argo: cannot reach the Argo Server at http://127.0.0.1:")
    del wrong["ARGO_SECURE"]  # TLS (the argo CLI's default) to the bed's plain http
    wrong["ARGO_SERVER"] = f"127.0.0.1:{bed.argo_server_port}"
    line = cli.one_line_error(wrong, "list", *server)
    assert line.startswith("jupyter-argo: TLS with the Argo Server at https://127.0.0.1:"), line
    assert "ARGO_SECURE=false" in line
    line = cli.one_line_error(wrong, "list", "--secure=true", *server)
    assert "ARGO_SECURE=false" in line

    unreadable = server_environment(bed, None)
    unreadable["ARGO_TOKEN_FILE"] = str(tmp_path / "missing")
    line = cli.one_line_error(unreadable, "list", *server)
    assert (
        line == f"jupyter-argo: ARGO_TOKEN_FILE {tmp_path / 'missing'}: cannot read the "
        "token (No such file or directory)"
    )

    everything = "".join(cli.printed)
    assert "Traceback" not in everything
    assert SECRET not in everything
    assert VIEWER_TOKEN not in everything


# ---- the real server: the magics in real kernels ------------------------------------------------


HELLO_CELL = "%%argo --out run\n" + HELLO.replace(
    "{name: who, value: world}", "{name: who, value: kernel}"
)


@pytest.fixture
def kernel() -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    manager, client = start_new_kernel(kernel_name="python3")  # no ARGO_* (see the fixture)
    try:
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def failed(client: BlockingKernelClient, code: str, **options: Any) -> tuple[dict[str, Any], Any]:
    """The error reply of `code`, which must fail with one line and no traceback."""
    reply, messages = collect(client, client.execute(code, **options))
    assert reply["status"] == "error", reply
    assert len(reply["traceback"]) == 1, reply["traceback"]
    return reply, messages


def login(client: BlockingKernelClient, line: str, token: str) -> tuple[dict[str, Any], Any]:
    """`%argo login ...`, answering the frontend's password request with `token`."""
    msg_id = client.execute(f"%argo login {line}".strip(), allow_stdin=True)
    request = client.get_stdin_msg(timeout=60)
    assert request["msg_type"] == "input_request"
    assert request["content"]["password"] is True  # the frontend shows no echo
    client.input(token)
    return collect(client, msg_id)


@pytest.mark.slow
def test_login_in_a_kernel_keeps_the_token_in_memory_only(
    bed: Testbed, kernel: tuple[KernelManager, BlockingKernelClient]
) -> None:
    _, client = kernel
    seen: list[Any] = []
    port = bed.argo_server_port
    for code in (
        "%load_ext jupyter_argo",
        "%config ArgoMagics.argo_secure = False",
        f'%config ArgoMagics.namespace = "{NAMESPACE}"',
    ):
        seen.append(run(client, code))

    # Without a frontend that can ask, it says what to do instead.
    reply, messages = failed(client, f"%argo login 127.0.0.1:{port}", allow_stdin=False)
    seen.append((reply, messages))
    assert reply["ename"] == "ConfigError"
    assert "this frontend cannot ask for input" in reply["traceback"][0]
    assert "ArgoMagics.argo_token_file" in reply["traceback"][0]

    reply, messages = login(client, f"127.0.0.1:{port}", ADMIN_TOKEN)
    seen.append((reply, messages))
    assert reply["status"] == "ok", reply
    printed = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
    assert printed.startswith(f"logged in to http://127.0.0.1:{port}: ")
    assert "kept in this kernel's memory only" in printed
    assert "%argo backend argo-server" in printed  # the backend is still local

    _, messages = run(client, "%argo backend argo-server")
    seen.append(messages)
    printed = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
    assert printed == f"backend: argo-server at http://127.0.0.1:{port} (namespace {NAMESPACE})\n"
    _, messages = run(client, HELLO_CELL)
    seen.append(messages)
    _, messages = run(client, "print(run.phase, '|', run.logs())")
    seen.append(messages)
    printed = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
    assert printed.startswith("Succeeded | ")
    assert "hello kernel" in printed
    for code in (
        "%config ArgoMagics",
        "%config ArgoMagics.argo_token",
        "run",
        "run.backend",
        "%argo list",
        "%argo get @latest",
        "%argo logs @latest",
    ):
        seen.append(run(client, code))

    # A wrong token: refused with one line, forgotten; the good one stays.
    reply, messages = login(client, "", SECRET)
    seen.append((reply, messages))
    assert reply["status"] == "error"
    (line,) = reply["traceback"]
    assert "(401 Unauthorized): the token is wrong or expired" in line
    _, messages = run(client, "%argo list")
    assert "Succeeded" in str(messages)

    # Forgotten: back to what the environment gives, which here is nothing.
    seen.append(run(client, "%argo logout"))
    reply, messages = failed(client, "%argo list")
    seen.append((reply, messages))
    assert "ARGO_TOKEN is missing" in reply["traceback"][0]

    everything = json.dumps(seen, default=str)
    assert "hello kernel" in everything
    assert "'<hidden>'" in everything  # what %config ArgoMagics.argo_token shows
    assert ADMIN_TOKEN not in everything
    assert SECRET not in everything


def notebook_cells(bed: Testbed, token_file: Path) -> list[Any]:
    new = nbformat.v4.new_code_cell
    wrong = new('%config ArgoMagics.argo_token = "' + SECRET + '"\n%argo list')
    wrong.metadata["tags"] = ["raises-exception"]
    return [
        new("%load_ext jupyter_argo"),
        new(
            '%config ArgoMagics.backend = "argo-server"\n'
            f'%config ArgoMagics.argo_server = "127.0.0.1:{bed.argo_server_port}"\n'
            "%config ArgoMagics.argo_secure = False\n"
            f'%config ArgoMagics.namespace = "{NAMESPACE}"\n'
            f'%config ArgoMagics.argo_token_file = "{token_file}"'
        ),
        new(HELLO_CELL),
        new("run.phase, run.logs()"),
        new("run, run.backend"),
        new("%argo list"),
        new("%argo logs @latest"),
        # The token in the trait, not in the notebook: read from the file by the cell.
        new(f"%config ArgoMagics.argo_token = open({str(token_file)!r}).read()"),
        new("%config ArgoMagics"),
        new("%config ArgoMagics.argo_token"),
        new("%argo get @latest"),
        wrong,
    ]


@pytest.mark.slow
def test_a_saved_notebook_holds_no_token(bed: Testbed, tmp_path: Path) -> None:
    token_file = tmp_path / "argo-token"
    token_file.write_text(ADMIN_TOKEN + "\n")
    notebook = nbformat.v4.new_notebook(cells=notebook_cells(bed, token_file))
    NotebookClient(
        notebook, kernel_name="python3", timeout=300, resources={"metadata": {"path": tmp_path}}
    ).execute()
    saved = tmp_path / "executed.ipynb"
    nbformat.write(notebook, saved)
    text = saved.read_text()

    outputs = [cell.outputs for cell in notebook.cells]
    assert "'Succeeded'" in outputs[3][0]["data"]["text/plain"]
    assert "hello kernel" in outputs[3][0]["data"]["text/plain"]
    assert "Current: '<hidden>'" in outputs[8][0]["text"]
    assert outputs[9][0]["data"]["text/plain"] == "'<hidden>'"
    assert "Succeeded" in json.dumps(outputs[10])
    (error,) = outputs[11]
    assert error["output_type"] == "error"
    (line,) = error["traceback"]
    assert "(401 Unauthorized): the token is wrong or expired" in line
    assert ADMIN_TOKEN not in text
    # The wrong token is only where it was typed: the last cell's source.
    assert text.count(SECRET) == 1
    assert SECRET in notebook.cells[11].source
