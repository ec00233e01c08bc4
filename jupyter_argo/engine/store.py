"""Persistence for the local engine: SQLite for objects and runs, files for logs and artifacts.

Layout under the data directory (`JUPYTER_ARGO_HOME`, default the user's data dir):

    store.sqlite3                  objects (WorkflowTemplates, ConfigMaps, ...) and workflows
    runs/<uid>/logs/<pod>/...      container logs and stdout
    runs/<uid>/pods/<pod>/...      each pod's private files while it runs
    artifacts/                     the embedded artifact repository

Several processes may share one data directory: SQLite serialises writers (WAL mode
with a busy timeout), and every live run records the process that runs it, so a run
whose engine died is found and marked Error instead of showing Running forever.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_argo.errors import ConfigError, NotFoundError, UserError
from jupyter_argo.status import format_time, now

__all__ = ["Store", "default_home"]

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
CREATE TABLE IF NOT EXISTS controls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    action TEXT NOT NULL,
    node TEXT
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


class Store:
    def __init__(self, home: Path | None = None) -> None:
        self.home = (home or default_home()).resolve()
        try:
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as err:
            raise ConfigError(f"data directory {self.home}: {err.strerror}") from None
        self.owner = _process_token(os.getpid())
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread: sqlite3 connections are not shared across threads.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.home / "store.sqlite3", timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

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
        try:
            with self._db() as db:
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
                        json.dumps(workflow),
                    ),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def save_workflow(self, workflow: dict[str, Any], *, owned: bool = True) -> None:
        meta = workflow["metadata"]
        status = workflow.get("status") or {}
        with self._db() as db:
            db.execute(
                "UPDATE workflows SET phase=?, finished=?, owner=?, version=version+1, body=?"
                " WHERE namespace=? AND name=? AND uid=?",
                (
                    status.get("phase", ""),
                    status.get("finishedAt"),
                    self.owner if owned else None,
                    json.dumps(workflow),
                    meta["namespace"],
                    meta["name"],
                    meta["uid"],
                ),
            )

    def get_workflow(self, name: str, namespace: str = "default") -> dict[str, Any]:
        with self._db() as db:
            row = db.execute(
                "SELECT body, owner, phase FROM workflows WHERE namespace=? AND name=?",
                (namespace, name),
            ).fetchone()
        if row is None:
            raise NotFoundError(f'workflows.argoproj.io "{name}" not found')
        workflow = dict(json.loads(row[0]))
        return self._reap_orphan(workflow, row[1], row[2])

    def workflow_version(self, name: str, namespace: str = "default") -> int | None:
        with self._db() as db:
            row = db.execute(
                "SELECT version FROM workflows WHERE namespace=? AND name=?", (namespace, name)
            ).fetchone()
        return None if row is None else int(row[0])

    def list_workflows(self, namespace: str | None = None) -> list[dict[str, Any]]:
        with self._db() as db:
            query = "SELECT body, owner, phase FROM workflows"
            args: tuple[str, ...] = ()
            if namespace is not None:
                query += " WHERE namespace=?"
                args = (namespace,)
            rows = db.execute(query + " ORDER BY created DESC, name", args).fetchall()
        return [self._reap_orphan(dict(json.loads(r[0])), r[1], r[2]) for r in rows]

    def delete_workflow(self, name: str, namespace: str = "default") -> dict[str, Any]:
        workflow = self.get_workflow(name, namespace)
        with self._db() as db:
            db.execute("DELETE FROM workflows WHERE namespace=? AND name=?", (namespace, name))
        return workflow

    # ---- control requests from other processes (like patching spec.shutdown) -------------

    def request(self, name: str, namespace: str, action: str, node: str | None = None) -> None:
        """Ask the process that runs a workflow to stop, terminate, suspend or resume it."""
        workflow = self.get_workflow(name, namespace)
        phase = (workflow.get("status") or {}).get("phase")
        if phase not in ("", "Pending", "Running"):
            raise UserError(f"workflow {name} has already finished ({phase})")
        with self._db() as db:
            db.execute(
                "INSERT INTO controls (namespace, name, action, node) VALUES (?, ?, ?, ?)",
                (namespace, name, action, node),
            )

    def take_requests(self, live: set[tuple[str, str]]) -> list[tuple[str, str, str, str | None]]:
        """Requests for the runs this process owns, removed as they are taken."""
        if not live:
            return []
        with self._db() as db:
            rows = db.execute("SELECT id, namespace, name, action, node FROM controls").fetchall()
            taken = [r for r in rows if (r[1], r[2]) in live]
            for row in taken:
                db.execute("DELETE FROM controls WHERE id=?", (row[0],))
        return [(r[1], r[2], r[3], r[4]) for r in taken]

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
        self.save_workflow(workflow, owned=False)
        return workflow
