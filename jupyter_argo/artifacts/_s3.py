"""An S3-compatible repository (AWS, MinIO, GCS's XML API, moto...) through boto3.

Behaves like Argo's S3 driver (`workflow/artifacts/s3/s3.go`): a directory is one object
per file under `<key>/`; a key that is not an object but has objects below it is read as
a directory; transient failures (no connection, timeouts, 5xx, throttling) are retried
with Argo's executor backoff and then reported with the endpoint and bucket named. An
object is either uploaded whole or not at all (a single PUT, or a multipart upload that
is aborted on failure); a directory whose upload fails has its new objects removed.
"""

from __future__ import annotations

import functools
import io
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from jupyter_argo.artifacts._keys import check_key, go_clean, join_key, relative_part
from jupyter_argo.artifacts._retry import Backoff, RetriesExhausted, with_retries
from jupyter_argo.errors import ArtifactError, NotFoundError

__all__ = ["S3Options", "S3Repository"]

T = TypeVar("T")

_TRANSIENT_CODES = {
    "InternalError",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "500",
    "502",
    "503",
    "504",
}
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
_MULTIPART_THRESHOLD = 64 * 1024 * 1024


@dataclass(frozen=True)
class S3Options:
    """Everything needed to reach one bucket. Secret values live here, never in messages."""

    endpoint: str
    bucket: str
    region: str = ""
    insecure: bool = False
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    addressing_style: str = ""  # "", "path" or "virtual-hosted", as Argo's addressingStyle
    create_bucket: bool = False

    def __repr__(self) -> str:  # keep secrets out of reprs and tracebacks
        return f"S3Options(endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    @property
    def url(self) -> str | None:
        """The endpoint as a URL; None for AWS's default endpoint."""
        endpoint = self.endpoint.strip()
        if not endpoint:
            return None
        if "://" in endpoint:
            return endpoint
        return f"{'http' if self.insecure else 'https'}://{endpoint}"


_clients: dict[S3Options, Any] = {}
_clients_lock = threading.Lock()


def _client(options: S3Options) -> Any:
    """A boto3 client for `options`, shared: clients are thread-safe and slow to build."""
    with _clients_lock:
        client = _clients.get(options)
        if client is None:
            import boto3
            from botocore.config import Config

            style = {"path": "path", "virtual-hosted": "virtual"}.get(options.addressing_style)
            if style is None:
                # Auto: bucket-in-hostname only makes sense for real DNS names.
                style = "auto" if options.url is None else "path"
            session = boto3.session.Session(
                aws_access_key_id=options.access_key,
                aws_secret_access_key=options.secret_key,
                aws_session_token=options.session_token,
                region_name=options.region or "us-east-1",
            )
            client = session.client(
                "s3",
                endpoint_url=options.url,
                config=Config(
                    signature_version="s3v4",
                    s3={"addressing_style": style},
                    retries={"total_max_attempts": 1},  # ours are the retries that count
                    connect_timeout=10,
                    read_timeout=60,
                ),
            )
            _clients[options] = client
    return client


def _unwrap(error: BaseException) -> BaseException:
    """The botocore error inside boto3's transfer wrapper (S3UploadFailedError)."""
    from boto3.exceptions import Boto3Error

    inner = error.__context__
    if inner is not None and isinstance(error, Boto3Error):
        return inner
    return error


def _reason(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code"):
        details = response["Error"]
        message = details.get("Message") or ""
        return f"{details['Code']}: {message}" if message else str(details["Code"])
    return str(error) or type(error).__name__


def _go_reason(error: BaseException) -> str:
    """What minio-go's error says: the server's message (its code when there is none)."""
    error = _unwrap(error)
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code"):
        details = response["Error"]
        return str(details.get("Message") or f"Error response code {details['Code']}.")
    return str(error) or type(error).__name__


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status:
            return str(status)
    return ""


def _is_transient(error: BaseException) -> bool:
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectionError,
        HTTPClientError,
        ReadTimeoutError,
    )

    error = _unwrap(error)
    if isinstance(error, ClientError):
        return _error_code(error) in _TRANSIENT_CODES
    return isinstance(
        error, ConnectionError | HTTPClientError | ReadTimeoutError | ConnectionClosedError
    )


class _Body(io.RawIOBase):
    """A botocore StreamingBody as a real binary file object."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Repository:
    """Objects in one bucket of an S3-compatible service."""

    def __init__(
        self, options: S3Options, *, redact: Callable[[str], str], backoff: Backoff | None = None
    ) -> None:
        if not options.bucket:
            raise ArtifactError("s3: no bucket is configured")
        self.options = options
        self._redact = redact
        self._backoff = backoff or Backoff.from_env()
        self._bucket_checked = False

    def __repr__(self) -> str:
        return f"S3Repository(endpoint={self.options.endpoint!r}, bucket={self.options.bucket!r})"

    # -- plumbing --

    def _where(self) -> str:
        endpoint = self.options.endpoint or "s3.amazonaws.com"
        return f"s3 endpoint {endpoint} bucket {self.options.bucket}"

    def _fail(self, action: str, error: BaseException, attempts: int = 1) -> ArtifactError:
        from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

        error = _unwrap(error)
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
            # Typically an endpoint that only resolves inside the cluster (`minio:9000`).
            reason = (
                f"cannot connect to {self.options.url or self._where()} from this machine "
                "(if it is only reachable inside the cluster, port-forward it, e.g. "
                "`kubectl port-forward svc/<service> <port>`, and set the repository's "
                "endpoint to an address reachable here)"
            )
        else:
            reason = _reason(error)
        return ArtifactError(self._redact(f"{self._where()}: cannot {action}{tries}: {reason}"))

    def _call(self, action: str, key: str, attempt: Callable[[], T]) -> T:
        """`attempt()` with retries; `action` and `key` say what it was for in errors."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return with_retries(attempt, transient=_is_transient, backoff=self._backoff)
        except RetriesExhausted as exhausted:
            raise self._fail(f"{action} {key}", exhausted.last, exhausted.attempts) from None
        except (ClientError, BotoCoreError, Boto3Error) as caught:
            error = _unwrap(caught)
            if isinstance(error, NoCredentialsError):
                raise ArtifactError(
                    f"{self._where()}: cannot {action} {key}: no credentials "
                    "(set accessKeySecret and secretKeySecret)"
                ) from None
            if _error_code(error) in _NOT_FOUND_CODES:
                raise NotFoundError(self._redact(f"{self._where()}: no object {key}")) from None
            raise self._fail(f"{action} {key}", error) from None

    @property
    def _client(self) -> Any:
        return _client(self.options)

    def _ensure_bucket(self) -> None:
        if not self.options.create_bucket or self._bucket_checked:
            return
        from botocore.exceptions import ClientError

        def create() -> None:
            try:
                kwargs: dict[str, Any] = {"Bucket": self.options.bucket}
                region = self.options.region
                if region and region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
                self._client.create_bucket(**kwargs)
            except ClientError as error:
                if _error_code(error) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

        self._call("create", "the bucket", create)
        self._bucket_checked = True

    def _keys_below(self, prefix: str) -> Iterator[str]:
        """Every object key under `prefix/` (directory markers ending in `/` skipped)."""
        prefix = join_key(prefix) + "/"
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.options.bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page: dict[str, Any] = self._call(
                "list", prefix, functools.partial(self._client.list_objects_v2, **kwargs)
            )
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    yield item["Key"]
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")

    def _object_exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        def head() -> bool:
            try:
                self._client.head_object(Bucket=self.options.bucket, Key=key)
            except ClientError as error:
                if _error_code(error) in _NOT_FOUND_CODES:
                    return False
                raise
            return True

        return self._call("read", key, head)

    def _put(self, path: Path, key: str) -> None:
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=_MULTIPART_THRESHOLD, max_concurrency=4)
        self._call(
            "store",
            key,
            lambda: self._client.upload_file(str(path), self.options.bucket, key, Config=config),
        )

    def _get(self, key: str, dest: Path) -> None:
        """Download one object to `dest`, through a temporary file beside it."""
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=_MULTIPART_THRESHOLD, max_concurrency=4)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.{os.getpid()}.{threading.get_ident()}.part"
        try:
            self._call(
                "read",
                key,
                lambda: self._client.download_file(
                    self.options.bucket, key, str(tmp), Config=config
                ),
            )
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()

    # -- the Repository protocol --

    def upload(self, src: Path, key: str) -> None:
        """Store the file `src` at `key`, or each file below directory `src` at `key/<rel>`."""
        check_key(key)
        self._ensure_bucket()
        if not src.is_dir():
            self._put(src, key)
            return
        stored: list[str] = []
        try:
            for base, dirs, files in os.walk(src):
                dirs.sort()
                for name in sorted(files):
                    path = Path(base, name)
                    if not path.is_file():
                        continue
                    object_key = join_key(key, path.relative_to(src).as_posix())
                    self._put(path, object_key)
                    stored.append(object_key)
        except BaseException:
            # Leave no half directory behind that would read as a complete one.
            for object_key in stored:
                try:
                    self._client.delete_object(Bucket=self.options.bucket, Key=object_key)
                except Exception:
                    continue
            raise

    def download(self, key: str, dest: Path) -> None:
        """The object `key` as file `dest`, or every object under `key/` as directory `dest`."""
        check_key(key)
        if self._object_exists(key):
            self._get(key, dest)
            return
        keys = list(self._keys_below(key))
        if not keys:
            raise NotFoundError(self._redact(f"{self._where()}: no object {key}"))
        dest.mkdir(parents=True, exist_ok=True)
        for object_key in keys:
            rel = relative_part(object_key, join_key(key))
            self._get(object_key, dest.joinpath(*rel.split("/")))

    def delete(self, key: str) -> None:
        """Remove the object `key` and any objects under `key/`; already gone is fine."""
        check_key(key)
        bucket = self.options.bucket
        self._call("delete", key, lambda: self._client.delete_object(Bucket=bucket, Key=key))
        below = list(self._keys_below(key))
        for start in range(0, len(below), 1000):
            batch = {"Objects": [{"Key": k} for k in below[start : start + 1000]], "Quiet": True}
            remove = functools.partial(self._client.delete_objects, Bucket=bucket, Delete=batch)
            self._call("delete", f"{key}/", remove)

    def exists(self, key: str) -> bool:
        check_key(key)
        return self._object_exists(key) or next(iter(self._keys_below(key)), None) is not None

    def list_objects(self, key: str) -> list[str] | None:
        """Argo's `ListObjects` (its `listObjects`, `ListDirectory` and `KeyExists`): every
        object key under `key/` (the whole bucket for `""`), in the server's order, without
        directory markers; None (Go's nil list) when there are none but `key` is itself an
        object. Errors are worded as Argo's driver words them."""
        prefix = go_clean(key) + "/" if key else ""
        keys: list[str] = []

        def list_all() -> None:
            keys.clear()
            token: str | None = None
            while True:
                kwargs: dict[str, Any] = {"Bucket": self.options.bucket, "Prefix": prefix}
                if token:
                    kwargs["ContinuationToken"] = token
                page = self._client.list_objects_v2(**kwargs)
                keys.extend(
                    str(item["Key"])
                    for item in page.get("Contents", [])
                    if not str(item["Key"]).endswith("/")
                )
                if not page.get("IsTruncated"):
                    return
                token = page.get("NextContinuationToken")

        self._argo_call("failed to list directory", list_all)
        if keys:
            return keys
        checking = f"failed to check if key {key} exists from bucket {self.options.bucket}"
        if not key:
            # minio-go refuses an empty object name before asking the server.
            raise ArtifactError(f"{checking}: Object name cannot be empty")
        if not self._argo_call(checking, lambda: self._head_exists(key)):
            raise NotFoundError(f"no key found of name {key}")
        return None

    def _head_exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.options.bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                return False
            raise
        return True

    def _argo_call(self, what: str, attempt: Callable[[], T]) -> T:
        """`attempt()` with Argo's executor retries; errors as `what: <server's message>`,
        and `timed out waiting for the condition: ...` once transient ones run out (Argo's
        `waitutil.Backoff`)."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return with_retries(attempt, transient=_is_transient, backoff=self._backoff)
        except RetriesExhausted as exhausted:
            reason = _go_reason(exhausted.last)
            text = f"timed out waiting for the condition: {what}: {reason}"
        except (ClientError, BotoCoreError, Boto3Error) as error:
            text = f"{what}: {_go_reason(error)}"
        raise ArtifactError(self._redact(text))

    def open(self, key: str) -> BinaryIO:
        """A streaming reader of the object `key`."""
        check_key(key)
        response = self._call(
            "read", key, lambda: self._client.get_object(Bucket=self.options.bucket, Key=key)
        )
        return io.BufferedReader(_Body(response["Body"]), buffer_size=1 << 20)  # type: ignore[return-value]
