"""HTTP(S) and Artifactory locations: GET to load, PUT to save, keyed by the URL's path.

As in Argo (`workflow/artifacts/http/http.go`, `HTTPArtifact.GetKey`), the key of an
HTTP location is its URL's path, so a `subPath` or a key-only artifact in an Artifactory
repository is just another path on the same host. Basic credentials are sent only to the
host named in the URL, never along a redirect.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from jupyter_argo.errors import ArtifactError, NotFoundError

__all__ = ["LIST_UNSUPPORTED", "HttpRepository", "with_path"]

LIST_UNSUPPORTED = (
    "ListObjects is currently not supported for this artifact type, "
    "but it will be in a future version"
)
"""The error of Argo's drivers that cannot list (http, artifactory, git, raw)."""

_TIMEOUT = 60.0
_SENSITIVE = {"authorization", "cookie", "proxy-authorization"}


def with_path(url: str, path: str) -> str:
    """`url` with its path replaced by `path` (Argo's `HTTPArtifact.SetKey`)."""
    parts = urllib.parse.urlsplit(url)
    if path and not path.startswith("/"):
        path = "/" + path
    return urllib.parse.urlunsplit(parts._replace(path=urllib.parse.quote(path, safe="/%")))


class HttpRepository:
    """Objects at URLs of one server; `key` is the URL path."""

    def __init__(
        self,
        url: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        username: str | None = None,
        password: str | None = None,
        redact: Callable[[str], str] = str,
        kind: str = "http",
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ArtifactError(redact(f"{kind}: {url!r} is not an http(s) URL"))
        self.url = url
        self.kind = kind
        self._headers = list(headers)
        self._auth: str | None = None
        if username is not None and password is not None and (username or password):
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._auth = f"Basic {token}"
        self._redact = redact

    def __repr__(self) -> str:
        return f"HttpRepository({self._redact(self.url)!r})"

    def _request(self, method: str, key: str, **kwargs: object) -> urllib.request.Request:
        request = urllib.request.Request(with_path(self.url, key), method=method, **kwargs)  # type: ignore[arg-type]
        for name, value in self._headers:
            if name.lower() in _SENSITIVE:
                request.add_unredirected_header(name, value)
            else:
                request.add_header(name, value)
        if self._auth is not None:
            request.add_unredirected_header("Authorization", self._auth)
        return request

    def _send(self, request: urllib.request.Request, what: str) -> BinaryIO:
        url = request.full_url
        try:
            return urllib.request.urlopen(request, timeout=_TIMEOUT)  # type: ignore[no-any-return]
        except urllib.error.HTTPError as error:
            error.close()
            status = f"{error.code} {error.reason}"
            if error.code == 404:
                raise NotFoundError(self._redact(f"{self.kind}: {url}: {status}")) from None
            raise ArtifactError(
                self._redact(f"{what} {url} failed with reason: {status}")
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", None) or error
            raise ArtifactError(self._redact(f"{what} {url} failed: {reason}")) from None

    def download(self, key: str, dest: Path) -> None:
        """GET the URL at path `key` into the file `dest`."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.{secrets.token_hex(6)}.part"
        try:
            response = self._send(self._request("GET", key), "loading content from")
            with response, open(tmp, "wb") as out:
                try:
                    shutil.copyfileobj(response, out, 1 << 20)
                except OSError as error:
                    raise ArtifactError(
                        self._redact(f"loading content from {self.url} failed: {error}")
                    ) from None
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def upload(self, src: Path, key: str) -> None:
        """PUT the file `src` at path `key`."""
        if src.is_dir():
            raise ArtifactError(
                f"{self.kind}: cannot PUT a directory; use an archive strategy other than none"
            )
        size = src.stat().st_size
        with open(src, "rb") as body:
            request = self._request("PUT", key, data=body)
            request.add_header("Content-Length", str(size))
            self._send(request, f"saving file {src} to").close()

    def delete(self, key: str) -> None:
        """DELETE the URL at path `key`; already gone is fine."""
        with contextlib.suppress(NotFoundError):
            self._send(self._request("DELETE", key), "deleting").close()

    def exists(self, key: str) -> bool:
        try:
            self._send(self._request("HEAD", key), "checking").close()
        except NotFoundError:
            return False
        return True

    def list_objects(self, key: str) -> list[str] | None:
        """Argo's HTTP and Artifactory drivers cannot list."""
        raise ArtifactError(LIST_UNSUPPORTED)

    def open(self, key: str) -> BinaryIO:
        """A streaming reader of the URL at path `key`."""
        return self._send(self._request("GET", key), "loading content from")
