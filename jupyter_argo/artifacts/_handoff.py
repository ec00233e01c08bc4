"""Output files handed to the next steps of the same run at copy speed.

Argo's executor packs an output (tgz by default) and uploads it before the pod ends, and
the consumer's executor downloads and unpacks it: on one machine that is two trips
through gzip for a file that is already here. Here the producer's file is copied once,
in the kernel, to a snapshot beside the run; the next step that takes it as an input
gets its own kernel copy of the snapshot at once, while the repository's copy is packed
and stored from the snapshot in the background, at the same key and in the same archive
format Argo uses. The run waits for those stores before it ends (`drain`), so what the
workflow's status names is in the repository when anyone can read the status as final.

Only regular files stored in the local repository take this path: a directory's links
need the checks unpacking does, and a remote store may fail, which in Argo fails the
producer before any consumer runs (a local store fails only with the disk, and then the
run ends in Error naming the artifact).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jupyter_argo.artifacts._local import LocalRepository
from jupyter_argo.artifacts._passing import (
    PlannedOutput,
    load_input,
    place_file,
    plan_output,
    store_output,
)
from jupyter_argo.artifacts._repository import RepositoryConfig, location_key, location_type
from jupyter_argo.artifacts._secrets import SecretLookup
from jupyter_argo.errors import ArgoError

__all__ = ["Handoffs"]

# Packing and storing only: these jobs never wait on anything, so they cannot starve.
_STORES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="jupyter-argo-store")


class Handoffs:
    """The snapshots and background stores of one run's output files."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._lock = threading.Lock()
        self._snapshots: dict[tuple[str, str], tuple[Path, Any]] = {}  # -> (file, archive)
        self._stores: dict[tuple[str, str], Future[None]] = {}
        self._count = 0

    def save(
        self,
        artifact: Mapping[str, Any],
        src: Path,
        *,
        key_prefix: str,
        default: RepositoryConfig,
        secrets: SecretLookup,
    ) -> dict[str, Any] | None:
        """`save_output`, with a regular file stored in the background from a snapshot."""
        planned = plan_output(
            artifact, src, key_prefix=key_prefix, default=default, secrets=secrets
        )
        if planned is None:
            return None
        if (
            src.is_symlink()
            or not src.is_file()
            or not isinstance(planned.repository, LocalRepository)
        ):
            # A directory's links need unpacking's checks; a remote store can fail for
            # reasons of its own, and then, as in Argo, the producer fails, before any
            # consumer runs.
            store_output(planned, src)
            return planned.status
        with self._lock:
            self._count += 1
            snapshot = self._root / str(self._count) / planned.base
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, snapshot)  # in the kernel: copy_file_range or sendfile
        where = (planned.kind, planned.key)
        with self._lock:
            self._snapshots[where] = (snapshot, artifact.get("archive"))
            self._stores[where] = _STORES.submit(_store, planned, snapshot)
        return planned.status

    def load(
        self,
        artifact: Mapping[str, Any],
        dest: Path,
        *,
        default: RepositoryConfig,
        secrets: SecretLookup,
    ) -> None:
        """`load_input`, from the snapshot when the artifact is one of this run's files as
        its producer saved it; else from the repository, once any store of it is done."""
        found = location_type(artifact)
        key = location_key(artifact) if found is not None else ""
        where = (found[0], key) if found is not None else ("", "")
        with self._lock:
            held = self._snapshots.get(where)
            stores = [
                future
                for (kind, stored), future in self._stores.items()
                if found is not None
                and kind == found[0]
                and (key == stored or key.startswith(stored + "/"))
            ]
        if (
            held is not None
            and not artifact.get("subPath")
            and artifact.get("archive") == held[1]
            and held[0].is_file()
        ):
            place_file(artifact, held[0], dest)
            return
        for future in stores:  # a subPath or another reading of it: the repository's copy
            future.result()
        load_input(artifact, dest, default=default, secrets=secrets)

    def settle(self) -> None:
        """Until every store begun so far is done (failed or not: `drain` reports it), for
        a reader of the repository itself, as a data template's listing is."""
        with self._lock:
            stores = list(self._stores.values())
        for future in stores:
            future.exception()

    def drain(self) -> str:
        """Wait for every store; remove the snapshots. The first failure, or ""."""
        with self._lock:
            stores = list(self._stores.items())
        failure = ""
        for (_kind, key), future in stores:
            try:
                future.result()
            except ArgoError as err:
                failure = failure or f"failed to save output artifact {key}: {err}"
            except OSError as err:
                failure = failure or f"failed to save output artifact {key}: {err.strerror}"
        with self._lock:
            self._snapshots.clear()
            self._stores.clear()
        shutil.rmtree(self._root, ignore_errors=True)
        return failure


def _store(planned: PlannedOutput, snapshot: Path) -> None:
    store_output(planned, snapshot)
