"""Persistence for the local engine: SQLite for objects and runs, files for logs and artifacts.

Layout under the data directory (`JUPYTER_ARGO_HOME`, default the user's data dir):

    store.sqlite3                  objects (WorkflowTemplates, ConfigMaps, Secrets, ...) and
                                   the index of workflows; memoization caches are ConfigMaps
                                   here, labelled as Argo labels them (engine/cache.py); the
                                   mutexes and semaphores held and awaited (engine/sync.py)
    runs/<uid>/workflow.json       each run's Workflow object, as last saved: the record the
                                   index is rebuilt from (`jupyter-argo doctor`)
    runs/<uid>/nodes.jsonl         an offloaded run's nodes, as saved one by one (below)
    runs/<uid>/logs/<pod>/...      container logs
    runs/<uid>/pods/<pod>/...      each pod's private files while it runs
    artifacts/                     the embedded artifact repository
    reserve                        1 MiB kept free for the store: given up when the disk is
                                   full, so that a run can still record how it ended

Several processes may share one data directory: SQLite serialises writers (WAL mode
with a busy timeout), and every live run records the process that runs it, so a run
whose engine died is found and marked Error instead of showing Running forever.

The directory is made (or made again) private: 0700, the store and the run records
0600, whatever modes existed before. Applied Secrets sit in the store unencrypted, as
Kubernetes keeps them in etcd by default: a key kept beside them would protect nothing
that the file modes do not, and steps do not see this directory (their sandbox).

A run whose Workflow object grows past `MAX_WORKFLOW_SIZE` (1 MiB) has its nodes
offloaded as Argo's controller offloads them (engine/offload.py): one row per node in
`offloaded_nodes`, the object keeping `status.offloadNodeStatusVersion` instead, and
each save writes only the nodes that changed. Every read here hydrates it again (the
nodes back, the version cleared, as Argo's hydrator), so no reader sees the difference.

A store that SQLite cannot read gives one line naming `jupyter-argo doctor`, which moves
it aside and rebuilds the index from the run records; a store found empty while run
records exist (a truncated file) is rebuilt from them at once.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_argo.engine.offload import (
    VERSION_FIELD,
    NodeLedger,
    always_offload,
    max_workflow_size,
)
from jupyter_argo.errors import ConfigError, NotFoundError, StoreError, UserError
from jupyter_argo.status import format_time, now

__all__ = ["DoctorReport", "Store", "default_home", "doctor"]

STORE_FILE = "store.sqlite3"
RECORD_FILE = "workflow.json"
NODES_FILE = "nodes.jsonl"
_RESERVE_FILE = "reserve"
_RESERVE_SIZE = 1 << 20
_DEAD_OWNER = "0:rebuilt"  # no process has this token: an unfinished rebuilt run is reaped

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS workflows (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL,
    phase TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    finished TEXT,
    owner TEXT,
    version INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    PRIMARY KEY (namespace, name)
);
CREATE TABLE IF NOT EXISTS offloaded_nodes (
    uid TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (uid, id)
);
CREATE TABLE IF NOT EXISTS controls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    action TEXT NOT NULL,
    node TEXT
);
CREATE TABLE IF NOT EXISTS sync_locks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    lock TEXT NOT NULL,
    holder TEXT NOT NULL,
    uid TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    held INTEGER NOT NULL DEFAULT 0,
    UNIQUE (lock, holder)
);
"""


def default_home() -> Path:
    configured = os.environ.get("JUPYTER_ARGO_HOME")
    if configured:
        return Path(configured).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "jupyter-argo"


def _process_token(pid: int) -> str:
    """A process identity that survives PID reuse: pid plus its start time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return f"{pid}:{fields[19]}"
    except (OSError, IndexError):
        return f"{pid}:?"


def _alive(token: str | None) -> bool:
    if not token:
        return False
    pid_text = token.split(":", 1)[0]
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    return _process_token(pid) == token


def private_home(home: Path) -> Path:
    """`home`, made if missing, as a directory of this user's alone: mode 0700 whatever it
    was, its store file 0600. A shared directory (`/tmp`, a home directory) or one of
    another user is refused: its mode is not ours to change."""
    home = home.expanduser().resolve()
    shared = {Path("/")}
    with contextlib.suppress(RuntimeError, KeyError):  # no home directory known
        shared.add(Path.home().resolve())
    if home in shared or len(home.parts) <= 2:
        raise ConfigError(
            f"data directory {home} is shared with other files: set JUPYTER_ARGO_HOME to a "
            f"directory of its own (e.g. {home / 'jupyter-argo'})"
        )
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = home.stat()
    except OSError as err:
        raise ConfigError(f"data directory {home}: {err.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"data directory {home} is not a directory")
    if info.st_uid != os.getuid():
        raise ConfigError(
            f"data directory {home} belongs to another user (uid {info.st_uid}): set "
            "JUPYTER_ARGO_HOME to a directory of yours"
        )
    try:
        if stat.S_IMODE(info.st_mode) != 0o700:
            home.chmod(0o700)
        for name in (STORE_FILE, f"{STORE_FILE}-wal", f"{STORE_FILE}-shm"):
            path = home / name
            if name == STORE_FILE and not path.exists():
                # Made 0600 before SQLite opens it; its -wal and -shm files take its mode.
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            with contextlib.suppress(FileNotFoundError):
                if stat.S_IMODE(path.stat().st_mode) != 0o600:
                    path.chmod(0o600)
    except OSError as err:
        raise ConfigError(f"data directory {home}: {err.strerror}") from None
    return home


class Store:
    def __init__(self, home: Path | None = None) -> None:
        self.home = private_home(home or default_home())
        self.path = self.home / STORE_FILE
        self.owner = _process_token(os.getpid())
        self._local = threading.local()
        # Per run saved by this process: what it last wrote of the run's nodes.
        self._ledgers: dict[str, NodeLedger] = {}
        with self._errors():
            self._connection().executescript(_SCHEMA)
        self._keep_reserve()
        if self._index_empty() and self._records():
            self.reindex()  # an emptied store: the runs on disk come back

    # ---- SQLite, and what its errors mean to the user ----------------------------------

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread: sqlite3 connections are not shared across threads.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._errors():
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """sqlite3 and file errors as one StoreError line saying what to do."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as err:
            raise self.failure(str(err)) from None
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise self.failure("database or disk is full") from None
            raise

    def failure(self, text: str) -> StoreError:
        if "full" in text or "disk I/O" in text:
            return StoreError(
                f"the store in {self.home} cannot be written: {text} (free space on that "
                "disk, then retry)",
                "full",
            )
        if "locked" in text or "busy" in text:
            return StoreError(
                f"the store {self.path} is busy ({text}): another process holds it; retry",
                "busy",
            )
        return StoreError(
            f"the store {self.path} is damaged ({text}): run `jupyter-argo doctor` to "
            "rebuild it from the runs on disk",
            "damaged",
        )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        with self._errors():
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException as err:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(err, sqlite3.DatabaseError) and not isinstance(
                err, sqlite3.IntegrityError
            ):
                raise self.failure(str(err)) from None
            raise
        try:
            with self._errors():
                conn.execute("COMMIT")
        except StoreError:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, for a module that keeps a table of its own (sync.py)."""
        with self._db() as db:
            yield db

    def owner_gone(self, owner: str | None) -> bool:
        """Whether the process recorded as running a run has exited (not this one)."""
        return owner is not None and owner != self.owner and not _alive(owner)

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ---- room to record an ending on a full disk ------------------------------------------

    def _keep_reserve(self) -> None:
        path = self.home / _RESERVE_FILE
        with contextlib.suppress(OSError):
            if path.exists() and path.stat().st_size >= _RESERVE_SIZE:
                return
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, _RESERVE_SIZE)
            except OSError:
                os.close(fd)
                path.unlink()  # no room for it: no reserve, rather than a partial one
                return
            os.close(fd)

    def _give_up_reserve(self) -> bool:
        try:
            (self.home / _RESERVE_FILE).unlink()
        except OSError:
            return False
        return True

    def _saving(self, save: Any) -> None:
        """Run `save()`; on a full disk, give up the reserve and try once more."""
        try:
            save()
        except StoreError as err:
            if err.reason != "full" or not self._give_up_reserve():
                raise
            save()

    # ---- run records: runs/<uid>/workflow.json ---------------------------------------------

    def _write_record(self, uid: str, text: str) -> None:
        directory = self.home / "runs" / uid
        with self._errors():
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            temporary = directory / f".{RECORD_FILE}.{os.getpid()}.{threading.get_ident()}"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(temporary, directory / RECORD_FILE)
            except BaseException:
                with contextlib.suppress(OSError):
                    temporary.unlink()
                raise

    def _records(self) -> list[Path]:
        runs = self.home / "runs"
        try:
            return sorted(p / RECORD_FILE for p in runs.iterdir() if (p / RECORD_FILE).is_file())
        except OSError:
            return []

    def _index_empty(self) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM workflows LIMIT 1").fetchone() is None

    def reindex(self) -> tuple[int, list[str]]:
        """Add to the index every run recorded on disk that it lacks; returns how many were
        added, and the run directories whose record cannot be read."""
        with self._db() as db:
            known = {row[0] for row in db.execute("SELECT uid FROM workflows")}
        added = 0
        unreadable: list[str] = []
        for record in self._records():
            if record.parent.name in known:
                continue
            try:
                workflow = json.loads(record.read_text(encoding="utf-8"))
                meta = workflow["metadata"]
                status = workflow.get("status") or {}
                if status.get(VERSION_FIELD):
                    status["nodes"] = _read_nodes(record.parent / NODES_FILE)
                    del status[VERSION_FIELD]
                saving = self._encode(workflow, shared=False)
                self._ledgers.pop(saving.uid, None)
                row = (
                    str(meta.get("namespace") or "default"),
                    str(meta["name"]),
                    str(meta["uid"]),
                    str(status.get("phase") or ""),
                    str(meta.get("creationTimestamp") or ""),
                    status.get("finishedAt"),
                    None if status.get("finishedAt") else _DEAD_OWNER,
                    saving.body,
                )
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                unreadable.append(record.parent.name)
                continue
            with self._db() as db:
                self._write_rows(db, saving)
                cursor = db.execute(
                    "INSERT OR IGNORE INTO workflows (namespace, name, uid, phase, created,"
                    " finished, owner, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            added += cursor.rowcount
        return added, unreadable

    # ---- objects -----------------------------------------------------------------------

    def apply(self, manifest: dict[str, Any], namespace: str = "default") -> str:
        """Create or replace an object; returns `created`, `configured` or `unchanged`."""
        kind = str(manifest.get("kind", ""))
        meta = manifest.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise UserError(f"{kind} has no metadata.name")
        ns = "" if kind == "ClusterWorkflowTemplate" else str(meta.get("namespace") or namespace)
        body = json.dumps(manifest, sort_keys=True)
        with self._db() as db:
            row = db.execute(
                "SELECT body FROM objects WHERE kind=? AND namespace=? AND name=?", (kind, ns, name)
            ).fetchone()
            if row is not None and row[0] == body:
                return "unchanged"
            db.execute(
                "INSERT OR REPLACE INTO objects (kind, namespace, name, body) VALUES (?, ?, ?, ?)",
                (kind, ns, name, body),
            )
        return "configured" if row is not None else "created"

    def get_object(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        ns = "" if kind == "ClusterWorkflowTemplate" else namespace
        with self._db() as db:
            row = db.execute(
                "SELECT body FROM objects WHERE kind=? AND namespace=? AND name=?", (kind, ns, name)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def list_objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        with self._db() as db:
            if namespace is None or kind == "ClusterWorkflowTemplate":
                rows = db.execute("SELECT body FROM objects WHERE kind=? ORDER BY name", (kind,))
            else:
                rows = db.execute(
                    "SELECT body FROM objects WHERE kind=? AND namespace=? ORDER BY name",
                    (kind, namespace),
                )
            return [dict(json.loads(r[0])) for r in rows.fetchall()]

    def update_object(
        self,
        kind: str,
        name: str,
        namespace: str,
        change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
    ) -> dict[str, Any] | None:
        """Read, change and write one object in a single transaction, so that two
        processes changing it at once each see the other's write (a Kubernetes update
        with its resourceVersion checked). `change` gets the object (None when absent)
        and returns what to store, or None to leave it as it was (then it must not have
        changed it); what it raised propagates and nothing is written. Returns the
        object as stored."""
        ns = "" if kind == "ClusterWorkflowTemplate" else namespace
        with self._db() as db:
            row = db.execute(
                "SELECT body FROM objects WHERE kind=? AND namespace=? AND name=?", (kind, ns, name)
            ).fetchone()
            current = None if row is None else dict(json.loads(row[0]))
            updated = change(current)
            if updated is None:
                return current
            db.execute(
                "INSERT OR REPLACE INTO objects (kind, namespace, name, body) VALUES (?, ?, ?, ?)",
                (kind, ns, name, json.dumps(updated, sort_keys=True)),
            )
        return updated

    def delete_object(self, kind: str, name: str, namespace: str = "default") -> bool:
        ns = "" if kind == "ClusterWorkflowTemplate" else namespace
        with self._db() as db:
            cursor = db.execute(
                "DELETE FROM objects WHERE kind=? AND namespace=? AND name=?", (kind, ns, name)
            )
        return cursor.rowcount > 0

    # ---- workflows -----------------------------------------------------------------------

    def create_workflow(self, workflow: dict[str, Any], *, owned: bool = True) -> bool:
        """Insert a new run (owned by this process unless another will adopt it);
        False when the name is taken."""
        meta = workflow["metadata"]
        saving = self._encode(workflow, shared=False)
        text = saving.body
        try:
            with self._db() as db:
                self._write_rows(db, saving)
                db.execute(
                    "INSERT INTO workflows (namespace, name, uid, phase, created, owner, body)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        meta["namespace"],
                        meta["name"],
                        meta["uid"],
                        (workflow.get("status") or {}).get("phase", ""),
                        meta["creationTimestamp"],
                        self.owner if owned else None,
                        text,
                    ),
                )
        except sqlite3.IntegrityError:
            self._ledgers.pop(meta["uid"], None)
            return False
        try:
            self._write_files(saving, workflow)
        except StoreError:
            with self._db() as db:
                db.execute("DELETE FROM workflows WHERE uid=?", (meta["uid"],))
                db.execute("DELETE FROM offloaded_nodes WHERE uid=?", (meta["uid"],))
            raise
        return True

    def save_workflow(
        self, workflow: dict[str, Any], *, owned: bool = True, shared_nodes: bool = False
    ) -> None:
        """Save a run: the index, then its record on disk. On a full disk the reserve
        is given up for it; a StoreError says when even that was not enough.

        `shared_nodes`: the caller's node objects are never changed once saved (the
        engine's snapshots), so a node that is the same object as at the last save is
        not encoded again."""
        meta = workflow["metadata"]
        status = workflow.get("status") or {}
        saving = self._encode(workflow, shared=shared_nodes)
        text = saving.body

        def save() -> None:
            with self._db() as db:
                cursor = db.execute(
                    "UPDATE workflows SET phase=?, finished=?, owner=?, version=version+1,"
                    " body=? WHERE namespace=? AND name=? AND uid=?",
                    (
                        status.get("phase", ""),
                        status.get("finishedAt"),
                        self.owner if owned else None,
                        text,
                        meta["namespace"],
                        meta["name"],
                        meta["uid"],
                    ),
                )
                if cursor.rowcount:  # a deleted run gets no rows back
                    self._write_rows(db, saving)
            if cursor.rowcount:  # nor its record
                self._write_files(saving, workflow)

        try:
            self._saving(save)
        except BaseException:
            saving.ledger.synced = False  # the next save writes every node again
            raise
        if status.get("phase") in ("Succeeded", "Failed", "Error"):
            self._ledgers.pop(meta["uid"], None)  # a later save (a retry) starts afresh

    # ---- node status offloading (engine/offload.py) ---------------------------------------

    def _encode(self, workflow: dict[str, Any], *, shared: bool) -> _Saving:
        """The Workflow's row body, and which node rows change: its nodes inline while
        the whole is at most MAX_WORKFLOW_SIZE, else offloaded (Argo's Dehydrate)."""
        meta = workflow["metadata"]
        status = workflow.get("status") or {}
        nodes = status.get("nodes") or {}
        uid = str(meta["uid"])
        ledger = self._ledgers.get(uid)
        if ledger is None or not ledger.synced:
            ledger = self._ledgers[uid] = NodeLedger()
        changed, gone = ledger.update(nodes, shared=shared)
        head = {k: v for k, v in workflow.items() if k != "status"}
        head_status = {k: v for k, v in status.items() if k not in ("nodes", VERSION_FIELD)}
        if "status" in workflow:
            head["status"] = head_status
        size = len(json.dumps(head)) + (ledger.size + len(',"nodes":{}') if nodes else 0)
        offload = always_offload() or size > max_workflow_size()
        if offload:
            if ledger.synced and not ledger.offloaded:  # inline until now: all of them
                changed = dict(ledger.all_texts(nodes))
            head_status[VERSION_FIELD] = ledger.version
            head["status"] = head_status
            body = json.dumps(head)
        elif VERSION_FIELD in status:
            body = json.dumps({**workflow, "status": {**head_status, "nodes": nodes}})
        else:
            body = json.dumps(workflow)  # as it is: keys in their order
        return _Saving(uid, body, offload, ledger, changed, gone)

    @staticmethod
    def _write_rows(db: sqlite3.Connection, saving: _Saving) -> None:
        ledger = saving.ledger
        if not saving.offloaded:
            if ledger.offloaded or not ledger.synced:
                db.execute("DELETE FROM offloaded_nodes WHERE uid=?", (saving.uid,))
            return
        if not ledger.synced:  # nothing known of what the table has: all of it anew
            db.execute("DELETE FROM offloaded_nodes WHERE uid=?", (saving.uid,))
        db.executemany(
            "INSERT INTO offloaded_nodes (uid, id, body) VALUES (?, ?, ?)"
            " ON CONFLICT (uid, id) DO UPDATE SET body=excluded.body",
            [(saving.uid, nid, text) for nid, text in saving.changed.items()],
        )
        if saving.gone:
            db.executemany(
                "DELETE FROM offloaded_nodes WHERE uid=? AND id=?",
                [(saving.uid, nid) for nid in saving.gone],
            )

    def _write_files(self, saving: _Saving, workflow: dict[str, Any]) -> None:
        """The run's record: workflow.json, and an offloaded run's nodes.jsonl, a line per
        node as saved (`[id, node]`, `[id, null]` once gone; the last line of an ID
        holds), rewritten with one line per node once the run has ended."""
        ledger = saving.ledger
        directory = self.home / "runs" / saving.uid
        path = directory / NODES_FILE
        nodes = (workflow.get("status") or {}).get("nodes") or {}
        with self._errors():
            if saving.offloaded:
                directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                finished = (workflow.get("status") or {}).get("phase") in (
                    "Succeeded",
                    "Failed",
                    "Error",
                )
                if not (ledger.synced and ledger.offloaded) or finished:
                    self._write_atomic(
                        path,
                        (json.dumps([nid, node]) + "\n" for nid, node in nodes.items()),
                    )
                else:
                    lines = [f"[{json.dumps(n)}, {t}]\n" for n, t in saving.changed.items()]
                    lines += [f"[{json.dumps(n)}, null]\n" for n in saving.gone]
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                    with os.fdopen(fd, "w", encoding="utf-8") as out:
                        out.write("".join(lines))
            self._write_record(saving.uid, saving.body)
            if not saving.offloaded and ledger.offloaded:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        ledger.offloaded = saving.offloaded
        ledger.synced = True

    def _write_atomic(self, path: Path, chunks: Iterable[str]) -> None:
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.writelines(chunks)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise

    @staticmethod
    def _hydrate(db: sqlite3.Connection, workflow: dict[str, Any]) -> dict[str, Any]:
        """Argo's Hydrate: an offloaded run's nodes back in its status, the version gone."""
        status = workflow.get("status")
        if not isinstance(status, dict) or not status.get(VERSION_FIELD):
            return workflow
        rows = db.execute(
            "SELECT id, body FROM offloaded_nodes WHERE uid=? ORDER BY rowid",
            (workflow["metadata"]["uid"],),
        )
        status["nodes"] = {nid: json.loads(body) for nid, body in rows}
        del status[VERSION_FIELD]
        return workflow

    def stored_workflow(self, name: str, namespace: str = "default") -> dict[str, Any]:
        """The Workflow as its row holds it, not hydrated (what Argo's API server holds
        for an offloaded one: `status.offloadNodeStatusVersion`, no nodes)."""
        with self._db() as db:
            row = db.execute(
                "SELECT body FROM workflows WHERE namespace=? AND name=?", (namespace, name)
            ).fetchone()
        if row is None:
            raise NotFoundError(f'workflows.argoproj.io "{name}" not found')
        return dict(json.loads(row[0]))

    def offloaded_node_count(self, uid: str) -> int:
        """How many node rows an offloaded run has (0 when inline)."""
        with self._db() as db:
            row = db.execute("SELECT count(*) FROM offloaded_nodes WHERE uid=?", (uid,)).fetchone()
        return int(row[0])

    def get_workflow(self, name: str, namespace: str = "default") -> dict[str, Any]:
        with self._db() as db:
            row = db.execute(
                "SELECT body, owner, phase FROM workflows WHERE namespace=? AND name=?",
                (namespace, name),
            ).fetchone()
            if row is None:
                raise NotFoundError(f'workflows.argoproj.io "{name}" not found')
            workflow = self._hydrate(db, dict(json.loads(row[0])))
        return self._reap_orphan(workflow, row[1], row[2])

    def workflow_version(self, name: str, namespace: str = "default") -> int | None:
        with self._db() as db:
            row = db.execute(
                "SELECT version FROM workflows WHERE namespace=? AND name=?", (namespace, name)
            ).fetchone()
        return None if row is None else int(row[0])

    def newest_succeeded(self, namespace: str, label: str, value: str) -> dict[str, Any] | None:
        """The newest Succeeded workflow of the namespace labelled `label=value` (what
        Argo's estimator takes as its baseline), or None."""
        path = '$.metadata.labels."' + label.replace('"', "") + '"'
        with self._db() as db:
            row = db.execute(
                "SELECT body FROM workflows WHERE namespace=? AND phase='Succeeded' "
                "AND json_extract(body, ?)=? ORDER BY created DESC, name LIMIT 1",
                (namespace, path, value),
            ).fetchone()
            return None if row is None else self._hydrate(db, dict(json.loads(row[0])))

    def list_workflows(self, namespace: str | None = None) -> list[dict[str, Any]]:
        with self._db() as db:
            query = "SELECT body, owner, phase FROM workflows"
            args: tuple[str, ...] = ()
            if namespace is not None:
                query += " WHERE namespace=?"
                args = (namespace,)
            rows = db.execute(query + " ORDER BY created DESC, name", args).fetchall()
            found = [(self._hydrate(db, dict(json.loads(r[0]))), r[1], r[2]) for r in rows]
        return [self._reap_orphan(workflow, owner, phase) for workflow, owner, phase in found]

    def delete_workflow(self, name: str, namespace: str = "default") -> dict[str, Any]:
        workflow = self.get_workflow(name, namespace)
        # The record first: a run deleted from the index must not come back from disk.
        uid = workflow["metadata"]["uid"]
        with contextlib.suppress(FileNotFoundError):
            (self.home / "runs" / uid / RECORD_FILE).unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.home / "runs" / uid / NODES_FILE).unlink()
        with self._db() as db:
            db.execute("DELETE FROM workflows WHERE namespace=? AND name=?", (namespace, name))
            db.execute("DELETE FROM offloaded_nodes WHERE uid=?", (uid,))
            db.execute("DELETE FROM sync_locks WHERE uid=?", (uid,))
        self._ledgers.pop(uid, None)
        return workflow

    # ---- control requests from other processes (like patching spec.shutdown) -------------

    def request(self, name: str, namespace: str, action: str, node: str | None = None) -> int:
        """Ask the process that runs a workflow to stop, terminate, suspend or resume it
        (or set nodes); returns the request's ID for `wait_request`."""
        workflow = self.get_workflow(name, namespace)
        phase = (workflow.get("status") or {}).get("phase")
        if phase not in ("", "Pending", "Running"):
            raise UserError(f"workflow {name} has already finished ({phase})")
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO controls (namespace, name, action, node) VALUES (?, ?, ?, ?)",
                (namespace, name, action, node),
            )
        return int(cursor.lastrowid or 0)

    def take_requests(
        self, live: set[tuple[str, str]], taken: Collection[int] = ()
    ) -> list[tuple[int, str, str, str, str | None]]:
        """Requests for the runs this process owns, but those it has `taken` already:
        (ID, namespace, name, action, node). A request stays until `finish_requests`
        (applied and saved), so the process that asked can wait for it."""
        if not live:
            return []
        with self._db() as db:
            rows = db.execute("SELECT id, namespace, name, action, node FROM controls").fetchall()
        return [
            (r[0], r[1], r[2], r[3], r[4])
            for r in rows
            if (r[1], r[2]) in live and r[0] not in taken
        ]

    def finish_requests(self, ids: Collection[int]) -> None:
        """The requests are applied, and the status saved with them."""
        if not ids:
            return
        with self._db() as db:
            db.executemany("DELETE FROM controls WHERE id=?", [(i,) for i in ids])

    def finished_requests(self, ids: Collection[int]) -> set[int]:
        """Those of `ids` no longer queued."""
        if not ids:
            return set()
        with self._db() as db:
            rows = db.execute("SELECT id FROM controls").fetchall()
        return set(ids) - {r[0] for r in rows}

    def wait_request(self, request: int, timeout: float = 10.0) -> bool:
        """Until the request is applied and saved (True), or its run has ended without
        taking it (False, the request dropped), or `timeout` seconds (False: it stays
        queued for its run)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._db() as db:
                row = db.execute(
                    "SELECT w.phase FROM controls c LEFT JOIN workflows w"
                    " ON w.namespace = c.namespace AND w.name = c.name WHERE c.id=?",
                    (request,),
                ).fetchone()
                if row is not None and row[0] not in ("", "Pending", "Running"):
                    db.execute("DELETE FROM controls WHERE id=?", (request,))
                    return False
            if row is None:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def run_dir(self, uid: str) -> Path:
        path = self.home / "runs" / uid
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def _reap_orphan(
        self, workflow: dict[str, Any], owner: str | None, phase: str
    ) -> dict[str, Any]:
        """A run still Running whose engine process is gone will never finish: mark it Error."""
        if phase not in ("", "Pending", "Running") or owner is None or owner == self.owner:
            return workflow
        if _alive(owner):
            return workflow
        status = workflow.setdefault("status", {})
        stamp = format_time(now())
        status.pop("synchronization", None)
        status["phase"] = "Error"
        status["message"] = (
            f"the engine running this workflow stopped (process {owner.split(':')[0]} "
            "exited); its logs and outputs so far are kept"
        )
        status.setdefault("finishedAt", stamp)
        for node in (status.get("nodes") or {}).values():
            if node.get("phase") in ("Pending", "Running"):
                node["phase"] = "Error"
                node["message"] = "the engine running this node stopped"
                node.setdefault("finishedAt", stamp)
            node.pop("synchronizationStatus", None)
        # Best effort: a store that cannot be written now is told the same next time.
        with contextlib.suppress(StoreError):
            self.save_workflow(workflow, owned=False)
        # Its mutexes and semaphores go with it, as Argo's ReleaseAll for a finished run.
        with contextlib.suppress(StoreError), self._db() as db:
            db.execute("DELETE FROM sync_locks WHERE uid=?", (workflow["metadata"]["uid"],))
        return workflow


@dataclass
class _Saving:
    """One save, encoded: the row's body, and the node rows it writes and deletes."""

    uid: str
    body: str
    offloaded: bool
    ledger: NodeLedger
    changed: dict[str, str]
    gone: list[str]


@dataclass
class DoctorReport:
    """What `doctor` found and did, one line each."""

    lines: list[str] = field(default_factory=list)
    healthy: bool = True


def doctor(home: Path | None = None) -> DoctorReport:
    """Check the store and mend it: a damaged store file is moved aside (its objects
    copied out where SQLite can still read them) and the index rebuilt from the runs
    recorded on disk; a sound store gets back any run it lacks."""
    report = DoctorReport()
    root = private_home(home or default_home())
    path = root / STORE_FILE
    problem = _check(path)
    salvaged: list[tuple[str, str, str, str]] = []
    if problem:
        report.healthy = False
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = path.with_name(f"{STORE_FILE}.damaged-{stamp}")
        salvaged = _salvage_objects(path)
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{path}{suffix}", f"{aside}{suffix}")
        report.lines.append(f"{path}: damaged ({problem}); moved to {aside.name}")
    store = Store(root)
    if salvaged:
        with store._db() as db:
            db.executemany(
                "INSERT OR IGNORE INTO objects (kind, namespace, name, body) VALUES (?, ?, ?, ?)",
                salvaged,
            )
        report.lines.append(f"{len(salvaged)} applied objects copied from the damaged store")
    elif problem:
        report.lines.append(
            "no applied object could be read from it: apply your WorkflowTemplates, "
            "ConfigMaps and Secrets again"
        )
    added, unreadable = store.reindex()
    if added:
        report.healthy = report.healthy and not problem
        report.lines.append(f"{added} runs added to the index from their records on disk")
    for uid in unreadable:
        report.healthy = False
        report.lines.append(f"runs/{uid}: its {RECORD_FILE} cannot be read; left as it is")
    with store._db() as db:
        count = db.execute("SELECT count(*) FROM workflows").fetchone()[0]
    bare = [
        p.name
        for p in sorted((root / "runs").glob("*"))
        if p.is_dir() and not (p / RECORD_FILE).exists()
    ]
    if bare:
        report.lines.append(
            f"{len(bare)} run directories have no {RECORD_FILE} (made before it was kept, or "
            "being deleted): their logs stay on disk, they are not listed"
        )
    store.close()
    verdict = "rebuilt from the runs on disk" if problem else "ok"
    report.lines.append(f"{path}: {verdict}, {count} runs")
    return report


def _read_nodes(path: Path) -> dict[str, Any]:
    """An offloaded run's nodes from its nodes.jsonl: the last line of each ID holds (a
    null one: gone); a torn last line (the process killed as it wrote) is left out."""
    nodes: dict[str, Any] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                nid, node = json.loads(line)
            except ValueError:
                if line.endswith("\n"):
                    raise
                break
            if node is None:
                nodes.pop(nid, None)
            else:
                nodes[nid] = node
    return nodes


def _check(path: Path) -> str:
    """Why SQLite cannot use the store file, or "" when it can."""
    if not path.exists():
        return ""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
            conn.execute("SELECT count(*) FROM workflows").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        if "no such table" in str(err):
            return ""  # an empty (new, or truncated) store: rebuilt by reindex
        return str(err)
    if rows != [("ok",)]:
        return "; ".join(str(r[0]) for r in rows[:3])
    return ""


def _salvage_objects(path: Path) -> list[tuple[str, str, str, str]]:
    """The applied objects SQLite can still read from a damaged store, row by row."""
    out: list[tuple[str, str, str, str]] = []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return out
    try:
        cursor = conn.execute("SELECT kind, namespace, name, body FROM objects")
        while True:
            try:
                row = cursor.fetchone()
            except sqlite3.DatabaseError:
                break
            if row is None:
                break
            with contextlib.suppress(ValueError, TypeError):
                json.loads(row[3])
                out.append((str(row[0]), str(row[1]), str(row[2]), str(row[3])))
    except sqlite3.DatabaseError:
        pass
    finally:
        conn.close()
    return out
