"""Google Cloud Storage through its native API (optional: `google-cloud-storage`).

Mirrors Argo's GCS driver (`workflow/artifacts/gcs/gcs.go`): objects by key, a directory
as objects under `<key>/`, credentials from `serviceAccountKeySecret` (a service account
JSON key) or else Google's default credentials, transient failures retried. When
`STORAGE_EMULATOR_HOST` is set (Google's own convention) the emulator is used without
credentials. Without the optional client, GCS still works through its S3-compatible
XML API: an `s3` block with endpoint `storage.googleapis.com` and HMAC keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from jupyter_argo.artifacts._keys import check_key, join_key, relative_part
from jupyter_argo.artifacts._retry import Backoff, RetriesExhausted, with_retries
from jupyter_argo.errors import ArtifactError, NotFoundError, UnsupportedError

__all__ = ["GcsRepository"]

T = TypeVar("T")

_MISSING_CLIENT = (
    "gcs artifacts need the google-cloud-storage package (pip install google-cloud-storage); "
    "or use an s3 block with endpoint storage.googleapis.com and HMAC keys"
)


def _is_transient(error: BaseException) -> bool:
    from google.api_core import exceptions as api
    from requests import exceptions as http

    transient = (
        api.TooManyRequests,
        api.InternalServerError,
        api.BadGateway,
        api.ServiceUnavailable,
        api.GatewayTimeout,
        http.ConnectionError,
        http.Timeout,
    )
    return isinstance(error, transient)


class GcsRepository:
    """Objects in one GCS bucket."""

    def __init__(
        self,
        bucket: str,
        service_account_json: str | None,
        *,
        redact: Callable[[str], str] = str,
        backoff: Backoff | None = None,
    ) -> None:
        if not bucket:
            raise ArtifactError("gcs: no bucket is configured")
        try:
            from google.cloud import storage
        except ImportError:
            raise UnsupportedError(_MISSING_CLIENT) from None
        self.bucket_name = bucket
        self._redact = redact
        self._backoff = backoff or Backoff.from_env()
        try:
            if os.environ.get("STORAGE_EMULATOR_HOST"):
                from google.auth.credentials import AnonymousCredentials

                client = storage.Client(project="jupyter-argo", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
            elif service_account_json:
                client = storage.Client.from_service_account_info(json.loads(service_account_json))
            else:
                client = storage.Client()
        except ValueError as error:
            # Never echo the key: the parser's messages may quote it.
            raise ArtifactError(
                f"gcs: the service account key is not usable ({type(error).__name__})"
            ) from None
        except Exception as error:
            raise ArtifactError(redact(f"gcs: cannot create a client: {error}")) from None
        self._bucket = client.bucket(bucket)
        self._client = client

    def __repr__(self) -> str:
        return f"GcsRepository(bucket={self.bucket_name!r})"

    def _call(self, action: str, key: str, attempt: Callable[[], T]) -> T:
        from google.api_core import exceptions as api

        where = f"gcs bucket {self.bucket_name}"
        try:
            return with_retries(attempt, transient=_is_transient, backoff=self._backoff)
        except RetriesExhausted as exhausted:
            raise ArtifactError(
                self._redact(
                    f"{where}: cannot {action} {key} after {exhausted.attempts} attempts: "
                    f"{exhausted.last}"
                )
            ) from None
        except api.NotFound:
            raise NotFoundError(f"{where}: no object {key}") from None
        except Exception as error:
            raise ArtifactError(self._redact(f"{where}: cannot {action} {key}: {error}")) from None

    def _keys_below(self, key: str) -> Iterator[str]:
        prefix = join_key(key) + "/"
        names = self._call(
            "list",
            prefix,
            lambda: [b.name for b in self._client.list_blobs(self._bucket, prefix=prefix)],
        )
        return (n for n in names if not n.endswith("/"))

    def _put(self, path: Path, key: str) -> None:
        self._call("store", key, lambda: self._bucket.blob(key).upload_from_filename(str(path)))

    def _get(self, key: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.{secrets.token_hex(6)}.part"
        try:
            self._call("read", key, lambda: self._bucket.blob(key).download_to_filename(str(tmp)))
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _object_exists(self, key: str) -> bool:
        return bool(self._call("read", key, lambda: self._bucket.blob(key).exists()))

    def upload(self, src: Path, key: str) -> None:
        check_key(key)
        if not src.is_dir():
            self._put(src, key)
            return
        for base, dirs, files in os.walk(src):
            dirs.sort()
            for name in sorted(files):
                path = Path(base, name)
                if path.is_file():
                    self._put(path, join_key(key, path.relative_to(src).as_posix()))

    def download(self, key: str, dest: Path) -> None:
        check_key(key)
        if self._object_exists(key):
            self._get(key, dest)
            return
        keys = list(self._keys_below(key))
        if not keys:
            raise NotFoundError(f"gcs bucket {self.bucket_name}: no object {key}")
        dest.mkdir(parents=True, exist_ok=True)
        for object_key in keys:
            rel = relative_part(object_key, join_key(key))
            self._get(object_key, dest.joinpath(*rel.split("/")))

    def delete(self, key: str) -> None:
        from google.api_core import exceptions as api

        check_key(key)
        for object_key in [key, *self._keys_below(key)]:
            with contextlib.suppress(NotFoundError, api.NotFound):
                self._call("delete", object_key, self._bucket.blob(object_key).delete)

    def exists(self, key: str) -> bool:
        check_key(key)
        return self._object_exists(key) or next(iter(self._keys_below(key)), None) is not None

    def list_objects(self, key: str) -> list[str] | None:
        """Argo's GCS `ListObjects` (`listByPrefix`): the names starting with `key` (a raw
        prefix, no `/` added), folder-like names ending in `/` skipped; just `[key]` when
        `key` is itself an object; `[]` when nothing matches."""

        def list_all() -> list[str]:
            found: list[str] = []
            for blob in self._client.list_blobs(self._bucket, prefix=key):
                name = str(blob.name)
                if name == key:
                    return [name]
                if not name.endswith("/"):
                    found.append(name)
            return found

        try:
            return with_retries(list_all, transient=_is_transient, backoff=self._backoff)
        except RetriesExhausted as exhausted:
            text = f"timed out waiting for the condition: {exhausted.last}"
        except Exception as error:
            text = str(error)
        raise ArtifactError(self._redact(text))

    def open(self, key: str) -> BinaryIO:
        check_key(key)
        if not self._object_exists(key):
            raise NotFoundError(f"gcs bucket {self.bucket_name}: no object {key}")
        blob = self._bucket.blob(key)
        return self._call("read", key, lambda: blob.open("rb", chunk_size=1 << 20))  # type: ignore[no-any-return]
