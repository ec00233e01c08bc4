"""Lays out DOT with the Graphviz that the pygraphviz wheel bundles, in its own process.

Run as a script by `jupyter_argo.render.engine`. Graphviz runs in-process in pygraphviz
and holds the GIL for the whole layout, so in the kernel it would freeze every other
thread; here it only blocks this process. Protocol on stdin/stdout, repeated until EOF:
request = 4-byte big-endian length + DOT (UTF-8); reply = 1 status byte (0 ok, 1 error) +
4-byte length + SVG or error text (UTF-8). Only the standard library and pygraphviz are
imported, so the worker starts fast and does not depend on how jupyter_argo is installed.
"""

from __future__ import annotations

import os
import sys
from typing import BinaryIO


def _read(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return data
        data += chunk
    return data


def _reply(stream: BinaryIO, status: int, text: str) -> None:
    payload = text.encode("utf-8", "replace")
    stream.write(bytes([status]) + len(payload).to_bytes(4, "big") + payload)
    stream.flush()


def main() -> int:
    # The protocol owns the original stdout; anything Graphviz or a library prints to
    # fd 1 goes to stderr instead, which the parent discards (fontconfig chatter).
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    requests = sys.stdin.buffer
    import pygraphviz  # type: ignore[import-untyped]

    while True:
        header = _read(requests, 4)
        if len(header) < 4:
            return 0
        source = _read(requests, int.from_bytes(header, "big")).decode("utf-8")
        try:
            graph = pygraphviz.AGraph(string=source)
            svg = graph.draw(format="svg", prog="dot")
            graph.close()
        except Exception as err:  # reported to the parent, which raises it there
            _reply(protocol, 1, f"{type(err).__name__}: {err}")
        else:
            _reply(protocol, 0, svg.decode("utf-8") if isinstance(svg, bytes) else str(svg))


if __name__ == "__main__":
    sys.exit(main())
