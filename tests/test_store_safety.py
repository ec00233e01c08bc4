"""Nothing lost, nothing pretended: a full disk, a damaged or emptied store, and the
modes of the data directory, through the real `jupyter-argo` command."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_argo.backends.local import LocalBackend
from jupyter_argo.engine.store import Store, doctor
from jupyter_argo.errors import ConfigError, StoreError

HELLO = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: hello-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [echo, hello]}
"""

# 8 MB of output, on a 3 MiB disk.
LOUD = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: loud-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: fill
        template: fill
    - - name: after
        template: after
  - name: fill
    container:
      image: alpine
      command: [sh, -c, "yes 0123456789012345678901234567890123456789 | head -c 8000000"]
  - name: after
    container: {image: alpine, command: [echo, never]}
"""

SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: keys}
stringData: {token: s3cr3t}
"""


def cli(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JUPYTER_ARGO_HOME": str(home)}
    command = [sys.executable, "-m", "jupyter_argo.cli", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _two_runs(home: Path, tmp_path: Path) -> list[str]:
    (tmp_path / "hello.yaml").write_text(HELLO)
    (tmp_path / "secret.yaml").write_text(SECRET)
    assert cli(home, "apply", str(tmp_path / "secret.yaml")).returncode == 0
    names = []
    for _ in range(2):
        done = cli(home, "run", str(tmp_path / "hello.yaml"), "-o", "json")
        assert done.returncode == 0, done.stderr
        names.append(json.loads(done.stdout)["metadata"]["name"])
    return names


def _listed(home: Path) -> set[str]:
    done = cli(home, "list", "-o", "json")
    assert done.returncode == 0, done.stderr
    return {w["metadata"]["name"] for w in json.loads(done.stdout)}


# ---- a full disk --------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MiB filesystem (tmpfs), or a clean skip where one cannot be mounted."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk needs a small tmpfs: mount(8) as root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_ends_the_run_error_and_everyone_agrees(
    small_disk: Path, tmp_path: Path
) -> None:
    home = small_disk / "home"
    (tmp_path / "loud.yaml").write_text(LOUD)
    env_scratch = {"JUPYTER_ARGO_SCRATCH": str(small_disk / "scratch")}
    os.environ.update(env_scratch)
    try:
        done = cli(home, "run", str(tmp_path / "loud.yaml"))
    finally:
        os.environ.pop("JUPYTER_ARGO_SCRATCH")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    # Progress lines only: no warning per chunk of output that could not be written.
    assert "cannot write" not in done.stderr
    assert "Status:              Error" in done.stdout
    message = (
        "cannot store the output of container main: No space left on device: free space "
        "under JUPYTER_ARGO_HOME, then retry the workflow"
    )
    assert f"Message:             {message}" in done.stdout
    name = done.stdout.split("Name:", 1)[1].split()[0]
    # The store says the same, from another process.
    stored = cli(home, "get", name, "-o", "json")
    assert stored.returncode == 0, stored.stderr
    workflow = json.loads(stored.stdout)
    assert workflow["status"]["phase"] == "Error"
    assert workflow["status"]["message"] == message
    nodes = {n["displayName"]: n for n in workflow["status"]["nodes"].values()}
    assert "after" not in nodes  # the run stopped there
    assert nodes["fill"]["phase"] == "Error"
    # Each log is stored once: the log, no copy of its stdout.
    logs = list((home / "runs").glob("*/logs/*/*"))
    assert [p.name for p in logs] == ["main.log"]
    assert "Traceback" not in cli(home, "list").stderr


def test_each_log_is_stored_once(home: Path, tmp_path: Path) -> None:
    (name, _) = _two_runs(home, tmp_path)
    stored = sorted(p.name for p in home.glob("runs/*/logs/*/*"))
    assert stored == ["main.log", "main.log"]
    done = cli(home, "logs", name)
    assert done.stdout.splitlines() == [f"{name}: hello"]
    workflow = json.loads(cli(home, "get", name, "-o", "json").stdout)
    (pod,) = [n for n in workflow["status"]["nodes"].values() if n["type"] == "Pod"]
    assert pod["outputs"]["result"] == "hello"  # read from stdout before it was dropped


# ---- a damaged, an emptied store --------------------------------------------------------


def test_a_damaged_store_says_what_to_do_and_doctor_rebuilds_it(home: Path, tmp_path: Path) -> None:
    names = _two_runs(home, tmp_path)
    (home / "store.sqlite3").write_bytes(b"this is not a database at all" * 200)
    for args in (("list",), ("get", names[0]), ("run", str(tmp_path / "hello.yaml"))):
        done = cli(home, *args)
        assert done.returncode == 1
        assert one_line(done.stderr) == (
            f"jupyter-argo: the store {home.resolve() / 'store.sqlite3'} is damaged (file is "
            "not a database): run `jupyter-argo doctor` to rebuild it from the runs on disk"
        )
    mended = cli(home, "doctor")
    assert mended.returncode == 1, mended.stdout + mended.stderr
    lines = mended.stdout.splitlines()
    assert lines[0].startswith(f"{home.resolve() / 'store.sqlite3'}: damaged (file is not a ")
    assert "moved to store.sqlite3.damaged-" in lines[0]
    assert lines[-1] == f"{home.resolve() / 'store.sqlite3'}: rebuilt from the runs on disk, 2 runs"
    assert _listed(home) == set(names)
    assert len(list(home.glob("store.sqlite3.damaged-*"))) == 1
    again = cli(home, "doctor")
    assert again.returncode == 0
    assert again.stdout.strip() == f"{home.resolve() / 'store.sqlite3'}: ok, 2 runs"


def test_doctor_copies_out_the_objects_a_damaged_store_still_holds(
    home: Path, tmp_path: Path
) -> None:
    (tmp_path / "settings.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {c: d}\n"
    )
    assert cli(home, "apply", str(tmp_path / "settings.yaml")).returncode == 0
    names = _two_runs(home, tmp_path)
    # Damage the pages of the workflows table only: sqlite_master says where they are.
    path = home / "store.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='workflows'").fetchone()[0]
    conn.close()
    with open(path, "r+b") as db:
        db.seek((root - 1) * page_size)
        db.write(b"\xff" * page_size)
    report = doctor(home)
    assert not report.healthy
    assert "database disk image is malformed" in report.lines[0]
    assert "2 applied objects copied from the damaged store" in report.lines
    store = Store(home)
    assert store.get_object("Secret", "keys") is not None
    assert store.get_object("ConfigMap", "settings") is not None
    assert {w["metadata"]["name"] for w in store.list_workflows()} == set(names)


def test_an_emptied_store_does_not_forget_runs(home: Path, tmp_path: Path) -> None:
    names = _two_runs(home, tmp_path)
    (home / "store.sqlite3").write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        (home / f"store.sqlite3{suffix}").unlink(missing_ok=True)
    assert _listed(home) == set(names)
    done = cli(home, "get", names[1], "-o", "json")
    assert json.loads(done.stdout)["status"]["phase"] == "Succeeded"


def test_a_deleted_run_stays_deleted_after_a_rebuild(home: Path, tmp_path: Path) -> None:
    names = _two_runs(home, tmp_path)
    assert cli(home, "delete", names[0]).returncode == 0
    (home / "store.sqlite3").write_bytes(b"")
    assert _listed(home) == {names[1]}


def test_an_unfinished_rebuilt_run_is_not_left_running(home: Path) -> None:
    store = Store(home)
    workflow = {
        "metadata": {
            "name": "half",
            "namespace": "default",
            "uid": "u-1",
            "creationTimestamp": "2024-01-01T00:00:00Z",
        },
        "status": {"phase": "Running", "nodes": {}},
    }
    store.create_workflow(workflow)
    store.close()
    (home / "store.sqlite3").write_bytes(b"")
    again = Store(home)
    got = again.get_workflow("half")
    assert got["status"]["phase"] == "Error"
    assert "the engine running this workflow stopped" in got["status"]["message"]


def test_a_run_in_a_store_that_cannot_be_written_is_one_line(home: Path) -> None:
    store = Store(home)
    store.close()
    (home / "store.sqlite3").write_bytes(b"\x00" * 100)
    with pytest.raises(StoreError) as caught:
        LocalBackend(home=home)
    assert caught.value.reason == "damaged"
    assert "run `jupyter-argo doctor`" in str(caught.value)


# ---- modes --------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_and_the_store_are_private_whatever_existed_before(
    home: Path, tmp_path: Path
) -> None:
    home.mkdir(mode=0o777)
    home.chmod(0o1777)  # a tmpfs root, or a directory made with a loose umask
    (home / "store.sqlite3").touch()
    (home / "store.sqlite3").chmod(0o644)
    (tmp_path / "secret.yaml").write_text(SECRET)
    assert cli(home, "apply", str(tmp_path / "secret.yaml")).returncode == 0
    assert _mode(home) == 0o700
    assert _mode(home / "store.sqlite3") == 0o600
    # While a connection is open, its -wal and -shm files exist with the store's mode.
    store = Store(home)
    store.get_object("Secret", "keys")
    for suffix in ("-wal", "-shm"):
        assert _mode(home / f"store.sqlite3{suffix}") == 0o600
    store.close()
    (tmp_path / "hello.yaml").write_text(HELLO)
    assert cli(home, "run", str(tmp_path / "hello.yaml")).returncode == 0
    (record,) = home.glob("runs/*/workflow.json")
    assert _mode(record) == 0o600
    assert _mode(record.parent) == 0o700


def test_a_shared_directory_is_refused_not_chmodded() -> None:
    before = _mode(Path("/tmp"))
    with pytest.raises(ConfigError) as caught:
        Store(Path("/tmp"))
    assert str(caught.value) == (
        "data directory /tmp is shared with other files: set JUPYTER_ARGO_HOME to a "
        "directory of its own (e.g. /tmp/jupyter-argo)"
    )
    assert _mode(Path("/tmp")) == before


def test_a_directory_of_another_user_is_refused(home: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    home.mkdir()
    os.chown(home, 65534, 65534)
    with pytest.raises(ConfigError, match="belongs to another user"):
        Store(home)


def test_a_shared_scratch_name_held_by_someone_else_is_not_used(tmp_path: Path) -> None:
    # /dev/shm is every user's: the engine keeps pods' scratch there only in a 0700
    # directory of its own user, and falls back to the run's directory otherwise.
    from jupyter_argo.engine.engine import _own_directory

    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    assert _own_directory(mine) == mine
    assert (mine.stat().st_mode & 0o777) == 0o700
    planted = tmp_path / "planted"
    planted.symlink_to(mine)
    assert _own_directory(planted) is None
    if os.geteuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir()
        os.chown(theirs, 65534, 65534)
        assert _own_directory(theirs) is None
