"""Mutexes and semaphores shared by every run of one store: Argo's workflow/sync/.

Follows sync_manager.go (TryAcquire with prepAcquire and tryAcquireImpl, Release,
ReleaseAll, getHolderKey), lock_name.go (the lock keys `<ns>/Mutex/<name>` and
`<ns>/ConfigMap/<configmap>/<key>`), syncitems.go (allSyncItems: the `semaphores` and
`mutexes` lists, a duplicate refused), semaphore.go (checkAcquire: a free lock goes to
the front of its queue, or to another node of the front's workflow; the "Waiting for
... lock. Lock status: free/limit" message), multi_throttler.go (the queue: higher
`spec.priority` first, then the older workflow), controller.go's getSyncLimit (a
semaphore's limit is its ConfigMap's value, parsed as strconv.Atoi does, read again at
every attempt, so a re-applied ConfigMap changes it for the runs waiting) and the
SynchronizationStatus methods of workflow_types.go (LockAcquired, LockWaiting,
LockReleased), which write `status.synchronization`.

The operator (operator.py, as operator.go) takes the workflow's own locks
(`spec.synchronization`) before it starts running, the workflow Pending with the waiting
message meanwhile, and a template's before its node runs (before its memoization cache
is read), the node Pending with the message and `synchronizationStatus.waiting`; a
node's locks go back when it is fulfilled (a daemon's when it is killed), and the
engine gives back everything a run holds or awaits when it ends (ReleaseAll). A
workflow terminated while it waits for its lock ends Succeeded, as Argo's
releaseLocksForPendingShuttingdownWfs makes it.

Argo's controller keeps its locks in memory; here they are rows of the store's
`sync_locks` table (one row per lock and holder, `held` or queued), so that runs in
several processes sharing one data directory (two kernels, detached runners) share
them, each attempt one transaction. The rows of a run whose engine process died are
released when that run is marked Error (store.py's _reap_orphan), which an attempt does
for any such run it finds holding or queued for its locks.

Database ("multiple controller") locks need a synchronization database, which the local
engine has not: as an Argo controller without one, the run fails saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_argo.engine.objects import configmap_value
from jupyter_argo.errors import ArgoError, StoreError, UserError

if TYPE_CHECKING:
    from jupyter_argo.engine.store import Store

__all__ = ["Attempt", "SyncItem", "SyncManager", "holder_key", "sync_items"]

MUTEX = "Mutex"
SEMAPHORE = "Semaphore"
# How often this process looks at the queues its waiting runs and nodes are in: it wakes
# those now at the front of a lock with room (at once after a release of its own; a
# release in another process is seen within this).
POLL_INTERVAL = 0.1
# Every waiter also tries again after this (more when many wait: the store must not be
# written for each of thousands of waiting nodes several times a second), which is how
# a limit made readable again, or a run whose engine died, is found.
RETRY_INTERVAL = 1.0
_ACTIVE = ("", "Pending", "Running")
_ATOI = re.compile(r"[+-]?[0-9]+")
_NO_DATABASE = (
    " (the local engine has no synchronization database: run database locks with the "
    "kubernetes backend)"
)


@dataclass(frozen=True)
class SyncItem:
    """One lock of a `synchronization`: Argo's syncItem with its lockName."""

    kind: str  # MUTEX or SEMAPHORE
    key: str  # the lock key, e.g. default/Mutex/welcome
    path: str  # where it is written, for messages
    limit_ref: tuple[str, str, str] | None = None  # a semaphore's ConfigMap: ns, name, key


@dataclass
class _Waiter:
    """A holder of this process waiting for its locks."""

    keys: list[str]
    given_up: Callable[[], bool]
    turn: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Attempt:
    """What one try to take every lock of a holder found."""

    acquired: bool
    message: str = ""  # the first lock's waiting message
    failed: str = ""  # the first lock not available
    holders: dict[str, list[str]] = field(default_factory=dict)  # lock key -> holders now
    reap: list[tuple[str, str]] = field(default_factory=list)  # runs whose engine died


def holder_key(workflow: Mapping[str, Any], nid: str = "") -> str:
    """Argo's getHolderKey: `<ns>/<workflow>`, and `/<node ID>` for a template's lock."""
    meta = workflow["metadata"]
    key = f"{meta.get('namespace') or 'default'}/{meta['name']}"
    return f"{key}/{nid}" if nid else key


def sync_items(sync: Any, namespace: str, path: str) -> list[SyncItem]:
    """The locks of a `synchronization` (allSyncItems and lockName), semaphores first.
    A configuration Argo refuses raises UserError with Argo's message and the path."""
    if not isinstance(sync, Mapping):
        return []
    raw: list[tuple[str, Any]] = [(SEMAPHORE, s) for s in sync.get("semaphores") or []]
    raw += [(MUTEX, m) for m in sync.get("mutexes") or []]
    for i, entry in enumerate(raw):
        if entry in raw[i + 1 :]:
            raise UserError(
                f"requested configuration is invalid: duplicate synchronization item found ({path})"
            )
    items: list[SyncItem] = []
    counts = {SEMAPHORE: 0, MUTEX: 0}
    for kind, entry in raw:
        where = f"{path}.{'semaphores' if kind == SEMAPHORE else 'mutexes'}[{counts[kind]}]"
        counts[kind] += 1
        body = entry if isinstance(entry, Mapping) else {}
        ns = str(body.get("namespace") or namespace)
        if kind == SEMAPHORE:
            ref, database = body.get("configMapKeyRef"), body.get("database")
            if ref is not None and database is not None:
                problem = "invalid semaphore with both ConfigMapKeyRef and Database"
                raise UserError(f"requested configuration is invalid: {problem} ({where})")
            if database is not None:
                key = f"{ns}/Database/{(database or {}).get('key') or ''}"
                raise UserError(
                    f"database session is not available for semaphore {key}{_NO_DATABASE} ({where})"
                )
            if not isinstance(ref, Mapping):
                problem = "cannot get LockName for a Semaphore without a ConfigMapRef or Database"
                raise UserError(f"requested configuration is invalid: {problem} ({where})")
            name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
            _check_lock_name(ns, name, key, where, configmap=True)
            lock = f"{ns}/ConfigMap/{name}/{key}"
            items.append(SyncItem(SEMAPHORE, lock, where, (ns, name, key)))
        else:
            name = str(body.get("name") or "")
            if body.get("database"):
                raise UserError(
                    f"database session is not available for mutex {ns}/Database/{name}"
                    f"{_NO_DATABASE} ({where})"
                )
            _check_lock_name(ns, name, "", where, configmap=False)
            items.append(SyncItem(MUTEX, f"{ns}/Mutex/{name}", where))
    return items


def _check_lock_name(ns: str, name: str, key: str, where: str, *, configmap: bool) -> None:
    """lockName.validate, and DecodeLockName's refusal of a `/` that would split the key."""
    problem = ""
    if not name:
        problem = "Invalid lock key: ResourceName is missing"
    elif configmap and not key:
        problem = "Invalid lock key: Key is missing for ConfigMap lock"
    elif "/" in ns or (configmap and ("/" in name or "/" in key)):
        problem = "Invalid lock key: unknown format"
    if problem:
        raise UserError(f"requested configuration is invalid: {problem} ({where})")


def _same_workflow(first: str, second: str) -> bool:
    """isSameWorkflowNodeKeys: as many parts, and the same workflow name."""
    a, b = first.split("/"), second.split("/")
    return len(a) == len(b) and a[1] == b[1]


def _priority(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# ---- status.synchronization: the SynchronizationStatus methods of workflow_types.go --------


def _status_of(status: dict[str, Any], kind: str) -> dict[str, Any]:
    """ensureInit: `status.synchronization.semaphore` or `.mutex`, made when missing."""
    sync = status.setdefault("synchronization", {})
    result: dict[str, Any] = sync.setdefault("semaphore" if kind == SEMAPHORE else "mutex", {})
    return result


def _lock_waiting(status: dict[str, Any], kind: str, lock: str, holders: list[str]) -> None:
    mine = _status_of(status, kind)
    if kind == SEMAPHORE:
        waiting = mine.setdefault("waiting", [])
        entry = {"semaphore": lock}
        if holders:
            entry["holders"] = list(holders)  # type: ignore[assignment]
        for i, existing in enumerate(waiting):
            if existing.get("semaphore") == lock:
                waiting[i] = entry
                return
        waiting.append(entry)
        return
    if not holders:
        return
    waiting = mine.setdefault("waiting", [])
    for existing in waiting:
        if existing.get("mutex") == lock:
            existing["holder"] = holders[0]
            return
    waiting.append({"mutex": lock, "holder": holders[0]})


def _lock_acquired(status: dict[str, Any], kind: str, holder: str, lock: str) -> None:
    mine = _status_of(status, kind)
    holding = mine.setdefault("holding", [])
    if kind == MUTEX:
        for existing in holding:
            if existing.get("mutex") == lock:
                existing["holder"] = holder
                return
        holding.append({"mutex": lock, "holder": holder})
        return
    for existing in holding:
        if existing.get("semaphore") == lock:
            if holder not in existing.setdefault("holders", []):
                existing["holders"].append(holder)
            break
    else:
        holding.append({"semaphore": lock, "holders": [holder]})
    waiting = mine.get("waiting") or []
    for i, existing in enumerate(waiting):
        if existing.get("semaphore") == lock:
            left = [h for h in existing.get("holders") or [] if h != holder]
            if left:
                existing["holders"] = left
            else:
                del waiting[i]
            break
    if not waiting:
        mine.pop("waiting", None)


def _lock_released(status: dict[str, Any], kind: str, holder: str, lock: str) -> None:
    mine = _status_of(status, kind)
    holding = mine.get("holding") or []
    for i, existing in enumerate(holding):
        if kind == SEMAPHORE and existing.get("semaphore") == lock:
            left = [h for h in existing.get("holders") or [] if h != holder]
            if left:
                existing["holders"] = left
            else:
                existing.pop("holders", None)
            return
        if kind == MUTEX and existing.get("mutex") == lock and existing.get("holder") == holder:
            del holding[i]
            if not holding:
                mine.pop("holding", None)
            return


# ---- the lock table ---------------------------------------------------------------------


class SyncManager:
    """Argo's sync Manager over the store's lock table; one per engine."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Holders waiting in this process, and the task that wakes them (on the loop).
        self._waiters: dict[str, _Waiter] = {}
        self._poke: asyncio.Event | None = None
        self._poller: asyncio.Future[None] | None = None

    # ---- one attempt, one transaction ----------------------------------------------------

    def try_acquire(
        self, workflow: Mapping[str, Any], holder: str, items: list[SyncItem]
    ) -> Attempt:
        """TryAcquire: queue `holder` for every lock, and take them all if each is free
        for it; else nothing is taken and the first lock in the way is named. Raises
        UserError (nothing written) for a semaphore whose limit cannot be read when no
        other run uses it, as Argo's newInternalSemaphore fails."""
        meta = workflow["metadata"]
        uid = str(meta["uid"])
        priority = _priority((workflow.get("spec") or {}).get("priority"))
        created = str(meta.get("creationTimestamp") or "")
        keys = list(dict.fromkeys(item.key for item in items))
        marks = ",".join("?" * len(keys))
        try:
            with self.store.transaction() as db:
                reap = self._clear_stale(db, keys, uid)
                if reap:
                    return Attempt(False, reap=reap)
                limits: dict[str, tuple[int, str]] = {}
                for item in items:
                    if item.key in limits:
                        continue
                    limit, problem = (1, "") if item.kind == MUTEX else _limit(db, item)
                    if (
                        problem
                        and not db.execute(
                            "SELECT 1 FROM sync_locks WHERE lock=? AND holder!=? LIMIT 1",
                            (item.key, holder),
                        ).fetchone()
                    ):
                        raise UserError(
                            f"failed to initialize semaphore {item.key} with limit: {problem} "
                            f"({item.path})"
                        )
                    limits[item.key] = (limit, problem)
                for key in keys:
                    db.execute(
                        "INSERT OR IGNORE INTO sync_locks (lock, holder, uid, priority, created)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (key, holder, uid, priority, created),
                    )
                    db.execute(
                        "UPDATE sync_locks SET priority=? WHERE lock=? AND holder=? AND held=0",
                        (priority, key, holder),
                    )
                message = failed = ""
                for key in keys:
                    waiting = self._check(db, key, holder, *limits[key])
                    if waiting and not message:
                        message, failed = waiting, key
                if not message:
                    db.execute(
                        f"UPDATE sync_locks SET held=1 WHERE holder=? AND lock IN ({marks})",
                        (holder, *keys),
                    )
                holders = {key: _holders(db, key) for key in keys}
        except StoreError as err:
            raise UserError(f"the synchronization locks cannot be read: {err}") from None
        return Attempt(not message, message, failed, holders)

    @staticmethod
    def _check(db: Any, key: str, holder: str, limit: int, problem: str) -> str:
        """checkAcquire: "" when `holder` holds the lock or may take it, else why not."""
        held = _holders(db, key)
        if holder in held:
            return ""
        if problem:
            return f"Failed to get semaphore limit for {key}: {problem}"
        waiting = f"Waiting for {key} lock. Lock status: {limit - len(held)}/{limit}"
        front = db.execute(
            "SELECT holder FROM sync_locks WHERE lock=? AND held=0"
            " ORDER BY priority DESC, created, seq LIMIT 1",
            (key,),
        ).fetchone()
        if front is not None and not _same_workflow(holder, str(front[0])):
            return waiting
        return waiting if len(held) >= limit else ""

    def _clear_stale(self, db: Any, keys: list[str], uid: str) -> list[tuple[str, str]]:
        """Rows of runs deleted or finished go; runs whose engine died are returned, to
        be marked Error (which releases theirs) outside this transaction."""
        marks = ",".join("?" * len(keys))
        rows = db.execute(
            "SELECT DISTINCT s.uid, w.namespace, w.name, w.phase, w.owner FROM sync_locks s"
            f" LEFT JOIN workflows w ON w.uid = s.uid WHERE s.lock IN ({marks})",
            keys,
        ).fetchall()
        reap: list[tuple[str, str]] = []
        for other, ns, name, phase, owner in rows:
            if other == uid:
                continue
            if name is None or phase not in _ACTIVE:
                db.execute("DELETE FROM sync_locks WHERE uid=?", (other,))
            elif self.store.owner_gone(owner):
                reap.append((str(ns), str(name)))
        return reap

    def _reap(self, runs: list[tuple[str, str]]) -> None:
        for ns, name in runs:
            with contextlib.suppress(ArgoError):
                self.store.get_workflow(name, ns)  # marks it Error, releasing its locks
            with contextlib.suppress(StoreError), self.store.transaction() as db:
                # Should it have been marked already by someone else without its rows.
                row = db.execute(
                    "SELECT uid, phase FROM workflows WHERE namespace=? AND name=?", (ns, name)
                ).fetchone()
                if row is not None and row[1] not in _ACTIVE:
                    db.execute("DELETE FROM sync_locks WHERE uid=?", (row[0],))

    # ---- giving back ----------------------------------------------------------------------

    def release(self, workflow: dict[str, Any], holder: str, items: list[SyncItem]) -> None:
        """Release: the holder's locks and queue places go; status.synchronization says so."""
        keys = list(dict.fromkeys(item.key for item in items))
        if not keys:
            return
        marks = ",".join("?" * len(keys))
        with contextlib.suppress(StoreError), self.store.transaction() as db:
            db.execute(
                f"DELETE FROM sync_locks WHERE holder=? AND lock IN ({marks})", (holder, *keys)
            )
        status = workflow.setdefault("status", {})
        if status.get("synchronization") is not None:
            for item in items:
                _lock_released(status, item.kind, holder, item.key)
        self._wake()

    def release_all(self, workflow: dict[str, Any]) -> list[str]:
        """ReleaseAll: everything the run holds or awaits; its status forgets the locks.
        Returns the IDs of the nodes changed (those that were waiting)."""
        with contextlib.suppress(StoreError), self.store.transaction() as db:
            db.execute("DELETE FROM sync_locks WHERE uid=?", (workflow["metadata"]["uid"],))
        status = workflow.get("status") or {}
        status.pop("synchronization", None)
        changed = []
        for nid, node in (status.get("nodes") or {}).items():
            if node.pop("synchronizationStatus", None) is not None:
                changed.append(nid)
        self._wake()
        return changed

    def _wake(self) -> None:
        """A lock was released here: look at the queues now."""
        if self._poke is not None:
            with contextlib.suppress(RuntimeError):  # called off the loop: polling finds it
                asyncio.get_running_loop()
                self._poke.set()

    async def _pause(self, holder: str, keys: list[str], given_up: Callable[[], bool]) -> None:
        """Until `holder` may take a lock it waits for, or gives up, or RETRY_INTERVAL."""
        waiter = self._waiters[holder] = _Waiter(keys, given_up)
        if self._poke is None:
            self._poke = asyncio.Event()
        if self._poller is None or self._poller.done():
            self._poller = asyncio.ensure_future(self._poll())
        timeout = max(RETRY_INTERVAL, 0.01 * len(self._waiters))
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(waiter.turn.wait(), timeout)
        finally:
            if self._waiters.get(holder) is waiter:
                del self._waiters[holder]

    async def _poll(self) -> None:
        """One reader for every waiter of this process: wakes the waiters at the front of
        a queue whose lock has room, and those giving up."""
        assert self._poke is not None
        while self._waiters:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._poke.wait(), POLL_INTERVAL)
            self._poke.clear()
            for waiter in list(self._waiters.values()):
                if waiter.given_up():
                    waiter.turn.set()
            keys = sorted({key for w in self._waiters.values() for key in w.keys})
            try:
                turns = self._turns(keys)
            except (StoreError, ValueError):
                continue
            for holder in turns:
                first = self._waiters.get(holder)
                if first is not None:
                    first.turn.set()

    def _turns(self, keys: list[str]) -> set[str]:
        """The holders now first in line for a lock that has room."""
        turns: set[str] = set()
        if not keys:
            return turns
        with self.store.transaction() as db:
            for key in keys:
                rows = db.execute(
                    "SELECT holder, held FROM sync_locks WHERE lock=?"
                    " ORDER BY priority DESC, created, seq",
                    (key,),
                ).fetchall()
                held = sum(1 for _, h in rows if h)
                kind = key.split("/", 2)[1]
                if kind == "ConfigMap":
                    ns, _, rest = key.partition("/ConfigMap/")
                    name, _, cm_key = rest.partition("/")
                    item = SyncItem(SEMAPHORE, key, "", (ns, name, cm_key))
                    limit, problem = _limit(db, item)
                    if problem:
                        continue
                else:
                    limit = 1
                waiting = [str(h) for h, is_held in rows if not is_held]
                turns.update(waiting[: max(0, limit - held)])
        return turns

    # ---- waiting --------------------------------------------------------------------------

    async def acquire(
        self,
        workflow: dict[str, Any],
        holder: str,
        items: list[SyncItem],
        *,
        waiting: Callable[[Attempt], None],
        given_up: Callable[[], bool],
    ) -> bool:
        """Until every lock is taken (True), or `given_up()` (False: the queue places go).
        `waiting` is told each attempt that found a lock in the way."""
        status = workflow.setdefault("status", {})
        while True:
            attempt = self.try_acquire(workflow, holder, items)
            if attempt.reap:
                self._reap(attempt.reap)
                continue
            for item in items:
                _status_of(status, item.kind)
            if attempt.acquired:
                for item in items:
                    _lock_acquired(status, item.kind, holder, item.key)
                return True
            for item in items:
                _lock_waiting(status, item.kind, item.key, attempt.holders.get(item.key, []))
            waiting(attempt)
            if given_up():
                self.release(workflow, holder, items)
                return False
            await self._pause(holder, list(dict.fromkeys(i.key for i in items)), given_up)
            if given_up():
                self.release(workflow, holder, items)
                return False


def _holders(db: Any, key: str) -> list[str]:
    rows = db.execute(
        "SELECT holder FROM sync_locks WHERE lock=? AND held=1 ORDER BY seq", (key,)
    ).fetchall()
    return [str(r[0]) for r in rows]


def _limit(db: Any, item: SyncItem) -> tuple[int, str]:
    """getSyncLimit: the semaphore's limit from its ConfigMap, or 0 and why not."""
    assert item.limit_ref is not None
    ns, name, key = item.limit_ref
    row = db.execute(
        "SELECT body FROM objects WHERE kind='ConfigMap' AND namespace=? AND name=?", (ns, name)
    ).fetchone()
    if row is None:
        return 0, f'configmaps "{name}" not found in namespace {ns} (apply it first)'
    value = configmap_value(json.loads(row[0]), key)
    if value is None:
        return 0, f"Sync configuration key '{key}' not found in ConfigMap {name}"
    if not _ATOI.fullmatch(value):
        return 0, f"ConfigMap {name} key '{key}': limit '{value}' is not an integer"
    limit = int(value)
    if limit <= 0:
        return 0, f"ConfigMap {name} key '{key}': limit {limit} is not above 0"
    return limit, ""
