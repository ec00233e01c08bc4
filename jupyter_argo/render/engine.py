"""DOT in, SVG out: Graphviz's `dot`, or the Graphviz bundled in the pygraphviz wheel.

`dot` on PATH wins. Without it we use the pygraphviz wheel (Linux x86_64/aarch64, macOS
arm64, Windows amd64 ship Graphviz inside), in a long-lived worker process
(`_gvworker.py`): either way the layout runs in another process, so the calling thread
waits on a pipe with the GIL released and the kernel stays responsive while a view
is live. `JUPYTER_ARGO_GRAPHVIZ=dot|bundled` forces one.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from jupyter_argo.errors import BackendError, ConfigError

__all__ = ["engine_name", "layout"]

_ENV = "JUPYTER_ARGO_GRAPHVIZ"
_WORKER = Path(__file__).with_name("_gvworker.py")


def engine_name() -> str:
    """`dot` or `bundled`: the engine `layout` uses now."""
    wanted = os.environ.get(_ENV, "").strip().lower()
    if wanted not in ("", "auto", "dot", "bundled"):
        raise ConfigError(f"{_ENV}={wanted!r}: use dot, bundled or auto")
    if wanted == "dot" or (wanted in ("", "auto") and shutil.which("dot")):
        if not shutil.which("dot"):
            raise ConfigError(f"{_ENV}=dot, but Graphviz's dot is not on PATH")
        return "dot"
    if not _bundled_available():
        raise ConfigError(
            "no Graphviz: install the graphviz system package, or `pip install pygraphviz` "
            "(its wheels ship Graphviz)"
        )
    return "bundled"


def layout(source: str) -> str:
    """Lay out DOT `source` with dot and return the SVG."""
    if engine_name() == "dot":
        return _run_dot(source)
    return _worker.layout(source)


def _run_dot(source: str) -> str:
    import graphviz

    try:
        svg: str = graphviz.pipe_string("dot", "svg", source, encoding="utf-8", quiet=True)
    except graphviz.CalledProcessError as err:
        detail = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise BackendError(f"Graphviz failed: {detail[0] if detail else err}") from None
    except graphviz.ExecutableNotFound as err:
        raise ConfigError(f"Graphviz's dot is not runnable: {err}") from None
    return svg


def _bundled_available() -> bool:
    from importlib.util import find_spec

    return find_spec("pygraphviz") is not None


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


class _Worker:
    """One `_gvworker.py` process, started on first use, restarted if it dies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def layout(self, source: str) -> str:
        request = source.encode("utf-8")
        with self._lock:
            for attempt in (1, 2):
                process = self._ensure()
                try:
                    stdin, stdout = process.stdin, process.stdout
                    if stdin is None or stdout is None:
                        raise BrokenPipeError
                    stdin.write(len(request).to_bytes(4, "big") + request)
                    stdin.flush()
                    head = _read_exactly(stdout, 5)
                    if len(head) < 5:
                        raise BrokenPipeError
                    body = _read_exactly(stdout, int.from_bytes(head[1:], "big"))
                except OSError:
                    self._stop()
                    if attempt == 2:
                        raise BackendError(
                            "the bundled Graphviz worker died while laying out"
                        ) from None
                    continue
                text = body.decode("utf-8", "replace")
                if head[0] != 0:
                    raise BackendError(f"Graphviz failed: {text}")
                return text
        raise BackendError("the bundled Graphviz worker could not start")  # pragma: no cover

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is not None:
            self._stop()  # it died since last time: close its pipes
        if self._process is None:
            flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)
            self._process = subprocess.Popen(
                [sys.executable, str(_WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                creationflags=flags,
            )
        return self._process

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        with self._lock:
            self._stop()


_worker = _Worker()
atexit.register(_worker.close)
