"""The `jupyter-argo` flags scripts use, each run as its own process on the local backend;
expected outputs and messages are the argo CLI's (cmd/argo/commands: submit.go, list.go,
logs.go, get.go; util/printer; the Argo Server's `@latest`)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_cli_runs import cli

PARAMS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: params-
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: who, value: world}
    - {name: n, value: "0"}
    - {name: flag, value: "false"}
    - {name: items, value: "[]"}
    - {name: obj, value: "{}"}
    - {name: day, value: ""}
  templates:
  - name: main
    container:
      image: alpine
      command: [echo, "{{workflow.parameters.who}} {{workflow.parameters.n}}"]
"""

SAY = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: say-
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: code, value: "0"}
  templates:
  - name: main
    initContainers:
    - name: prep
      image: alpine
      command: [echo, preparing]
    container:
      image: alpine
      command: [sh, -c, "echo one; echo two; echo three; exit {{workflow.parameters.code}}"]
"""

HELD = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: held-
spec:
  entrypoint: main
  templates:
  - name: main
    suspend: {}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def failed_in_one_line(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode in (1, 2), done
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"jupyter-argo: {message}"]


def listed(*flags: str) -> list[str]:
    return cli("list", "-o", "name", *flags).stdout.splitlines()


def arguments(workflow: dict[str, Any]) -> dict[str, str]:
    params = workflow["spec"]["arguments"]["parameters"]
    return {p["name"]: p["value"] for p in params}


# ---- submit -f, --dry-run --------------------------------------------------------------


def test_parameter_file_values_are_read_as_argo_reads_them(tmp_path: Path) -> None:
    """util.ReadParametersFile: YAML through JSON, a string as it is (strconv.Unquote), any
    other value as Go's encoding/json writes it: compact, keys sorted, <>& escaped."""
    wf = write(tmp_path, "wf.yaml", PARAMS)
    params = write(
        tmp_path,
        "params.yaml",
        "who: from the file\nn: 3\nflag: true\nitems: [1, two, 2.5]\n"
        "obj: {b: 1, a: '<x&y>'}\nday: 2024-01-02\n",
    )
    done = cli("submit", str(wf), "-f", str(params), "--dry-run", "-o", "json")
    assert arguments(json.loads(done.stdout)) == {
        "who": "from the file",
        "n": "3",
        "flag": "true",
        "items": '[1,"two",2.5]',
        "obj": '{"a":"\\u003cx\\u0026y\\u003e","b":1}',
        "day": "2024-01-02",
    }
    # JSON is YAML too, and the long flag is --parameter-file; -p wins over the file.
    as_json = write(tmp_path, "params.json", '{"who": "json", "n": 7}')
    done = cli(
        "submit", str(wf), "--parameter-file", str(as_json), "-p", "n=8", "--dry-run", "-o", "json"
    )
    assert {k: v for k, v in arguments(json.loads(done.stdout)).items() if k in ("who", "n")} == {
        "who": "json",
        "n": "8",
    }


def test_dry_run_prints_the_workflow_with_options_applied_and_creates_nothing(
    tmp_path: Path,
) -> None:
    wf = write(tmp_path, "wf.yaml", PARAMS)
    params = write(tmp_path, "params.yaml", "who: argo\n")
    done = cli("submit", str(wf), "-f", str(params), "--dry-run", "-o", "yaml")
    workflow = yaml.safe_load(done.stdout)
    assert workflow["kind"] == "Workflow"
    assert workflow["metadata"] == {"generateName": "params-", "namespace": "default"}
    assert "status" not in workflow
    assert arguments(workflow)["who"] == "argo"
    named = cli(
        "submit", str(wf), "--dry-run", "-o", "name", "--name", "exact", "--entrypoint", "main"
    )
    assert named.stdout == "exact\n"
    # Argo's --server-dry-run takes the same route here: the local engine is the server.
    server = cli("submit", str(wf), "--server-dry-run", "-o", "json", "-p", "n=5")
    assert arguments(json.loads(server.stdout))["n"] == "5"
    assert cli("list").stdout == "No workflows found\n"
    assert json.loads(cli("list", "-o", "json").stdout) == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--dry-run"], "--dry-run should have an output option"),
        (["--server-dry-run"], "--server-dry-run should have an output option"),
        (
            ["--dry-run", "--server-dry-run", "-o", "yaml"],
            "--dry-run cannot be combined with --server-dry-run",
        ),
        (["--watch", "--wait"], "--wait cannot be combined with --watch"),
        (["--watch", "--dry-run", "-o", "json"], "--watch cannot be combined with --dry-run"),
        (["--wait", "--dry-run", "-o", "json"], "--wait cannot be combined with --dry-run"),
    ],
)  # fmt: skip
def test_submit_refuses_what_argo_submit_refuses(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    wf = write(tmp_path, "wf.yaml", PARAMS)
    failed_in_one_line(cli("submit", str(wf), *flags, check=False), message)


def test_submit_labels_as_argo_parses_them(tmp_path: Path) -> None:
    wf = write(tmp_path, "wf.yaml", PARAMS)
    done = cli("submit", str(wf), "-l", "a=1,b=", "--dry-run", "-o", "json")
    assert json.loads(done.stdout)["metadata"]["labels"] == {"a": "1", "b": ""}
    done = cli(
        "submit", str(wf), "--priority", "7", "--serviceaccount", "robot", "--dry-run", "-o", "json"
    )
    spec = json.loads(done.stdout)["spec"]
    assert (spec["priority"], spec["serviceAccountName"]) == (7, "robot")
    cli("submit", str(wf), "--name", "urgent", "--priority", "7", "--wait")
    header, row = cli("list").stdout.splitlines()
    assert row[header.index("PRIORITY") :].split()[0] == "7"  # argo list's PRIORITY column
    for text, problem in (
        ("nolabel", "unexpected label spec: nolabel"),
        ("a=1,=2", "unexpected empty label key"),
        ("a=1=2", "unexpected label spec: a=1=2"),
    ):
        failed_in_one_line(
            cli("submit", str(wf), "-l", text, check=False),
            f"expected labels of the form: NAME1=VALUE2,NAME2=VALUE2. Received: {text}: {problem}",
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- who\n- n\n", "a parameters file maps names to values (NAME: VALUE), not a list"),
        ("just words\n", "a parameters file maps names to values (NAME: VALUE), not the str value"),
        ("who: [unclosed\n", None),
        ("{who: x\n", None),
    ],
)
def test_a_parameter_file_that_is_not_a_mapping_is_one_line(
    tmp_path: Path, text: str, message: str | None
) -> None:
    wf = write(tmp_path, "wf.yaml", PARAMS)
    params = write(tmp_path, "params.yaml", text)
    done = cli("submit", str(wf), "-f", str(params), check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    if message is None:
        assert line.startswith(
            f"jupyter-argo: {params}:2:1: the parameters file is not YAML or JSON"
        )
    else:
        assert line == f"jupyter-argo: {params}: {message}"
    missing = cli("submit", str(wf), "-f", str(tmp_path / "nope.yaml"), check=False)
    failed_in_one_line(missing, f"{tmp_path / 'nope.yaml'}: no such file or directory")
    assert json.loads(cli("list", "-o", "json").stdout) == []


# ---- -o name, --log, --watch -----------------------------------------------------------


def test_submit_output_name_then_log(tmp_path: Path) -> None:
    """`-o name` prints the name alone (printWorkflow); --log follows `NAME: line` (the
    pod of a one-step workflow is named as the workflow) until the run ends."""
    wf = write(tmp_path, "say.yaml", SAY)
    done = cli("submit", str(wf), "-o", "name", "--log")
    name, *logs = done.stdout.splitlines()
    assert name.startswith("say-")
    assert logs == [f"{name}: one", f"{name}: two", f"{name}: three"]
    assert listed() == [name]
    assert cli("get", name, "-o", "name").stdout == f"{name}\n"


def test_submit_watch_redraws_until_the_end_and_exits_zero_even_when_it_failed(
    tmp_path: Path,
) -> None:
    """common.WatchWorkflow: the screen cleared on stderr, `argo get`'s view on stdout,
    until the workflow finishes; --watch returns nil, so the exit code is 0."""
    wf = write(tmp_path, "say.yaml", SAY)
    done = cli("submit", str(wf), "--watch", "-p", "code=3")
    assert done.returncode == 0
    assert "\x1b[H\x1b[2J" in done.stderr
    last = done.stdout.split("Name:")[-1]
    assert "Status:              Failed" in last
    assert "Finished:" in last


# ---- @latest ---------------------------------------------------------------------------


def test_at_latest_is_the_last_created_workflow(tmp_path: Path) -> None:
    failed_in_one_line(cli("get", "@latest", check=False), "no workflows found")
    failed_in_one_line(cli("logs", "@latest", check=False), "no workflows found")
    wf = write(tmp_path, "say.yaml", SAY)
    cli("submit", str(wf), "--name", "zz-first", "--wait")
    time.sleep(1.1)  # creationTimestamp has whole seconds
    cli("submit", str(wf), "--name", "aa-second", "--wait", "-p", "code=0")
    assert cli("get", "@latest", "-o", "name").stdout == "aa-second\n"
    assert json.loads(cli("get", "@latest", "-o", "json").stdout)["metadata"]["name"] == (
        "aa-second"
    )
    assert cli("logs", "@latest", "--tail", "1").stdout == "aa-second: three\n"
    assert cli("wait", "@latest").stdout == "aa-second Succeeded\n"
    assert cli("delete", "@latest").stdout == 'Workflow "aa-second" deleted\n'
    assert cli("get", "@latest", "-o", "name").stdout == "zz-first\n"


# ---- logs -c, --tail, --grep, --since ----------------------------------------------------


def test_logs_container_tail_grep_and_since(tmp_path: Path) -> None:
    wf = write(tmp_path, "say.yaml", SAY)
    name = cli("submit", str(wf), "-o", "name", "--wait").stdout.strip()
    assert cli("logs", name).stdout.splitlines() == [
        f"{name}: {w}" for w in ("one", "two", "three")
    ]
    assert cli("logs", name, "-c", "prep").stdout == f"{name}: preparing\n"
    assert cli("logs", name, "--container", "main", "--tail", "2").stdout.splitlines() == [
        f"{name}: two",
        f"{name}: three",
    ]
    assert cli("logs", name, "--tail", "0").stdout == ""
    assert cli("logs", name, "--grep", "^t").stdout.splitlines() == [
        f"{name}: two",
        f"{name}: three",
    ]
    assert cli("logs", name, "--grep", "o$", "--tail", "1").stdout == f"{name}: two\n"
    # --since is a Go duration (pflag's DurationVar): its own messages for a bad one.
    failed_in_one_line(
        cli("logs", name, "--since", "10x", check=False),
        'invalid argument "10x" for "--since" flag: time: unknown unit "x" in duration "10x"',
    )
    failed_in_one_line(
        cli("logs", name, "--since", "10", check=False),
        'invalid argument "10" for "--since" flag: time: missing unit in duration "10"',
    )
    failed_in_one_line(
        cli("logs", name, "--since", "5s", "--since-time", "2020-01-02T03:04:05Z", check=False),
        "--since-time and --since cannot be used together",
    )
    failed_in_one_line(
        cli("logs", name, "--since-time", "yesterday", check=False),
        "--since-time yesterday: not an RFC 3339 time (e.g. 2006-01-02T15:04:05Z07:00)",
    )
    # The local engine keeps no per-line times: refused in one line, not ignored.
    for flags in (["--since", "1h30m"], ["--since-time", "2020-01-02T03:04:05+01:00"]):
        refused = cli("logs", name, *flags, check=False)
        assert refused.returncode == 1
        assert "no per-line times" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    assert cli("logs", name, "--since", "0s").stdout.count("\n") == 3  # 0: no limit, as Go's


# ---- list ------------------------------------------------------------------------------


@pytest.fixture
def three_runs(tmp_path: Path) -> Any:
    """ok-1 Succeeded, bad-1 Failed, held-1 Running (suspended), created in that order."""
    wf = write(tmp_path, "say.yaml", SAY)
    cli("submit", str(wf), "--name", "ok-1", "--wait", "-l", "team=a,tier=gold")
    time.sleep(1.1)  # times have whole seconds: bad-1 finishes after ok-1
    cli(
        "submit",
        str(wf),
        "--name",
        "bad-1",
        "-p",
        "code=1",
        "--wait",
        "--labels",
        "team=b",
        check=False,
    )
    held = write(tmp_path, "held.yaml", HELD)
    cli("submit", str(held), "--name", "held-1")
    deadline = time.monotonic() + 30
    while "Running (Suspended)" not in cli("list").stdout:
        assert time.monotonic() < deadline, cli("list").stdout
        time.sleep(0.2)
    yield
    cli("terminate", "held-1")
    cli("wait", "held-1", check=False)


@pytest.mark.usefixtures("three_runs")
def test_list_filters_as_argo_list() -> None:
    # Unfinished first, then by finishedAt, latest first (wfv1.Workflows' order).
    assert listed() == ["held-1", "bad-1", "ok-1"]
    assert listed("--status", "Failed") == ["bad-1"]
    assert listed("--status", "Running,Failed") == ["held-1", "bad-1"]
    assert listed("--status", "Succeeded", "--status", "Failed") == ["bad-1", "ok-1"]
    assert listed("--running") == ["held-1"]
    assert listed("--completed") == ["bad-1", "ok-1"]
    assert listed("--prefix", "ok-") == ["ok-1"]
    # printer.PrintWorkflows says so even with -o name; json and yaml print [].
    assert listed("--prefix", "nothing") == ["No workflows found"]
    assert listed("--since", "1h") == ["held-1", "bad-1", "ok-1"]
    assert listed("--since", "0s") == ["No workflows found"]  # created after now: none
    assert listed("--completed", "--prefix", "b", "--since", "1d") == ["bad-1"]
    # -l: a Kubernetes label selector over the labels submit -l put on.
    assert listed("-l", "team=a") == ["ok-1"]
    assert listed("-l", "team==a,tier=gold") == ["ok-1"]
    assert listed("-l", "team") == ["bad-1", "ok-1"]
    assert listed("-l", "!team") == ["held-1"]
    assert listed("-l", "team!=a") == ["held-1", "bad-1"]  # != matches where it is absent
    assert listed("-l", "team in (a, b)") == ["bad-1", "ok-1"]
    assert listed("--selector", "team notin (a)") == ["held-1", "bad-1"]
    assert listed("-l", "workflows.argoproj.io/completed=true") == ["bad-1", "ok-1"]
    failed_in_one_line(
        cli("list", "-l", "a b", check=False),
        "-l a b: not a label selector (e.g. key=value,other!=x)",
    )
    assert cli("list", "--since", "0s").stdout == "No workflows found\n"
    assert cli("list", "--since", "0s", "-o", "yaml").stdout == "[]\n"
    failed_in_one_line(
        cli("list", "--completed", "--running", check=False),
        "--completed and --running cannot be used together",
    )
    failed_in_one_line(
        cli("list", "--since", "1h30m", check=False),
        "--since 1h30m: Invalid since format '1h30m'. Expected format <duration><unit> (e.g. 3h)",
    )
    failed_in_one_line(
        cli("list", "--status", "running", check=False),
        "--status running: not a workflow phase (one of Pending, Running, Succeeded, Failed, "
        "Error)",
    )


@pytest.mark.usefixtures("three_runs")
def test_list_table_is_argo_lists() -> None:
    """printer.printTable: NAME STATUS AGE DURATION PRIORITY MESSAGE, three spaces after
    the widest cell of each column; STATUS as printer.WorkflowStatus words it."""
    lines = cli("list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"]
    assert lines[0].index("STATUS") == len("held-1") + 3
    width = len("Running (Suspended)") + 3
    assert lines[0].index("AGE") == lines[0].index("STATUS") + width
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["held-1"][lines[0].index("STATUS") :].startswith("Running (Suspended)")
    assert rows["bad-1"][lines[0].index("STATUS") :].split()[0] == "Failed"
    for row in rows.values():
        age = row[lines[0].index("AGE") :].split()[0]
        assert age.endswith("s")  # under a minute: "12s"
        assert age[:-1].isdigit()
        assert row[lines[0].index("PRIORITY") :].split()[0] == "0"
    bare = cli("list", "--no-headers").stdout.splitlines()
    assert [line.split()[0] for line in bare] == ["held-1", "bad-1", "ok-1"]
    assert bare[0].index("Running") == len("held-1") + 3
    wide = cli("list", "-o", "wide", "--completed").stdout.splitlines()
    assert wide[0].split()[-2:] == ["P/R/C", "PARAMETERS"]
    assert wide[1].split()[0] == "bad-1"
    assert wide[1].split()[-2:] == ["0/0/1", "code=1"]


# ---- a closed pipe -----------------------------------------------------------------------


def _many_runs(count: int) -> None:
    from jupyter_argo.backends import get_backend

    backend: Any = get_backend("local")
    manifest = yaml.safe_load(SAY)
    names = [backend.submit(manifest)["metadata"]["name"] for _ in range(count)]
    for name in names:
        backend.wait(name)


def test_list_into_a_closed_pipe_ends_quietly() -> None:
    """`jupyter-argo list | head -1`: no traceback, nothing on stderr, the exit status of
    a program killed by SIGPIPE (as `argo`, a Go program, has)."""
    _many_runs(50)  # -o json: some 100 KiB, more than a pipe holds
    command = f"{sys.executable} -m jupyter_argo.cli list"
    for flags in ("-o json", "", "-o name"):
        done = subprocess.run(
            ["bash", "-c", f"{command} {flags} | head -1; exit ${{PIPESTATUS[0]}}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.stderr == "", flags
        assert done.stdout.count("\n") == 1
        assert done.returncode in (0, 141), flags
        if flags == "-o json":
            assert done.stdout == "[\n"
            assert done.returncode == 141  # it had more to write than the pipe took
    # The reader gone before the first line: the same, every time.
    with subprocess.Popen(
        [sys.executable, "-m", "jupyter_argo.cli", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        err = process.stderr.read()
        assert process.wait(timeout=60) == 141
    assert err == b""


# ---- --dry-run --from, get NAME..., cp @latest -------------------------------------------

GREETER = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: greeter
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: who, value: world}
  templates:
  - name: main
    container:
      image: alpine
      command: [echo, "hello {{workflow.parameters.who}}"]
"""


def test_dry_run_from_a_template_prints_what_the_server_would_make(tmp_path: Path) -> None:
    """SubmitWorkflow with DryRun: NewWorkflowFromWorkflowTemplate with the options applied
    (overrideParameters), returned without being created."""
    cli("apply", str(write(tmp_path, "t.yaml", GREETER)))
    params = write(tmp_path, "p.yaml", "who: dry\n")
    done = cli(
        "submit", "--from", "workflowtemplate/greeter", "-f", str(params), "--dry-run", "-o", "yaml"
    )
    workflow = yaml.safe_load(done.stdout)
    assert workflow["metadata"] == {
        "generateName": "greeter-",
        "labels": {"workflows.argoproj.io/workflow-template": "greeter"},
        "namespace": "default",
    }
    assert workflow["spec"] == {
        "workflowTemplateRef": {"name": "greeter"},
        "arguments": {"parameters": [{"name": "who", "value": "dry"}]},
    }
    assert json.loads(cli("list", "-o", "json").stdout) == []
    missing = cli("submit", "--from", "wftmpl/nope", "--dry-run", "-o", "json", check=False)
    failed_in_one_line(missing, "WorkflowTemplate 'nope' not found in namespace default")


def test_get_takes_several_names_and_cp_takes_latest(tmp_path: Path) -> None:
    wf = write(tmp_path, "say.yaml", SAY)
    cli("submit", str(wf), "--name", "one", "--wait")
    time.sleep(1.1)  # creationTimestamp has whole seconds: "two" is the latest
    cli("submit", str(wf), "--name", "two", "--wait")
    assert cli("get", "one", "two", "-o", "name").stdout == "one\ntwo\n"
    assert cli("get", "one", "@latest", "-o", "name").stdout.splitlines()[0] == "one"
    missing = cli("get", "one", "nope", "-o", "name", check=False)
    assert missing.stdout == "one\n"  # as `argo get`: up to the first it cannot get
    failed_in_one_line(missing, 'workflows.argoproj.io "nope" not found')
    empty = tmp_path / "out"
    done = cli("cp", "@latest", str(empty))
    assert done.stderr.strip() == "two: no output artifacts match"  # it looked in "two"


LOUD = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: loud
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c, "seq 1 200000; echo done"]
"""


def test_a_run_this_process_runs_outlives_a_closed_pipe(tmp_path: Path) -> None:
    """`jupyter-argo run --log | head -1`: the reader goes after one line; the run, which
    lives in the command's process, still ends Succeeded, and nothing is printed."""
    wf = write(tmp_path, "loud.yaml", LOUD)
    command = f"{sys.executable} -m jupyter_argo.cli run {wf} --log"
    done = subprocess.run(
        ["bash", "-c", f"{command} | head -1; exit ${{PIPESTATUS[0]}}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout == "loud: 1\n"
    assert done.stderr == ""
    assert done.returncode == 141
    final = json.loads(cli("get", "loud", "-o", "json").stdout)
    assert final["status"]["phase"] == "Succeeded"
    assert cli("logs", "loud", "--tail", "1").stdout == "loud: done\n"


def test_submit_reads_several_files_or_standard_input_and_go_booleans(tmp_path: Path) -> None:
    """`argo submit [FILE... | -]`; a Go boolean flag takes `=true`/`=false`."""
    one = write(tmp_path, "one.yaml", PARAMS.replace("generateName: params-", "name: from-one"))
    two = write(tmp_path, "two.yaml", PARAMS.replace("generateName: params-", "name: from-two"))
    both = cli("submit", str(one), str(two), "--dry-run=true", "-o", "name", "--watch=false")
    assert both.stdout == "from-one\nfrom-two\n"
    failed_in_one_line(
        cli("submit", str(one), str(two), "--watch", check=False),
        "cannot watch more than one workflow",
    )
    piped = subprocess.run(
        [sys.executable, "-m", "jupyter_argo.cli", "submit", "-", "-o", "name", "--wait=true"],
        input=one.read_text(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "from-one\n"
    assert json.loads(cli("get", "from-one", "-o", "json").stdout)["status"]["phase"] == "Succeeded"
    assert listed("--completed=true", "--no-headers=false") == ["from-one"]


SLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: slow
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c, "echo started; sleep 60"]
"""


def test_ctrl_c_while_run_follows_logs_ends_the_run_it_runs(tmp_path: Path) -> None:
    """`run --log` follows the logs of a run this process runs: Ctrl-C there ends the run
    cleanly (terminated, with the message), as Ctrl-C during `run`'s wait does."""
    wf = write(tmp_path, "slow.yaml", SLOW)
    with subprocess.Popen(
        [sys.executable, "-m", "jupyter_argo.cli", "run", str(wf), "--log"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline() == "slow: started\n"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "slow: interrupted, terminated" in err
    assert "Traceback" not in err
    final = json.loads(cli("get", "slow", "-o", "json").stdout)
    assert final["status"]["phase"] in ("Failed", "Error")
    assert final["status"]["message"] == "interrupted by the user (Ctrl-C)"
