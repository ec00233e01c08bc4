"""Browser -> kernel messages answered while a cell blocks the kernel.

A comm message from the browser waits behind the running cell: the kernel's main shell
handles one request at a time, and a blocking `%%argo` cell holds it until the run ends.
ipykernel 7 has kernel subshells (JEP 91): threads with shell loops of their own, and its
shell channel thread sends a comm's messages to the subshell the comm's
`_reply_subshell_for` names. `route_custom_messages` gives a comm that hook for its
*custom* messages (the view's actions), so their handlers run on a subshell thread while
the main thread waits in the cell, which is never re-entered. The subshell is made once
per kernel, through the kernel's own control channel (`create_subshell_request`, the
public protocol), by a short-lived client in this process.

Anything missing (another kernel, an older ipykernel, no connection file) leaves the comm
as it is: its messages are then handled when the cell ends, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["kernel_subshell", "route_custom_messages"]

_TIMEOUT = 5.0  # seconds for the control channel's reply
_lock = threading.Lock()
_made: dict[int, str | None] = {}  # id(kernel) -> its subshell (None: none can be made)


def kernel_subshell() -> str | None:
    """The ID of this kernel's subshell for the view's messages, made on first use."""
    kernel = _kernel()
    if kernel is None or not getattr(kernel, "_supports_kernel_subshells", False):
        return None
    with _lock:
        if id(kernel) not in _made:
            _made[id(kernel)] = _create()
        return _made[id(kernel)]


def route_custom_messages(comm: Any) -> bool:
    """Have `comm`'s custom messages handled on the subshell; True if they will be."""
    original: Callable[[Any, str | None], str | None] | None = getattr(
        comm, "_reply_subshell_for", None
    )
    if original is None:
        return False
    subshell = kernel_subshell()
    if subshell is None:
        return False

    def route(data: Any, default: str | None) -> str | None:
        if isinstance(data, dict) and data.get("method") == "custom":
            return subshell
        return original(data, default)

    comm._reply_subshell_for = route
    return True


def _kernel() -> Any:
    try:
        from ipykernel.kernelbase import Kernel
    except ImportError:
        return None
    return Kernel.instance() if Kernel.initialized() else None


def _create() -> str | None:
    """A new subshell of this kernel, asked for on its control channel."""
    try:
        from ipykernel.connect import get_connection_file
        from jupyter_client.blocking.client import BlockingKernelClient

        client = BlockingKernelClient(connection_file=get_connection_file())
        client.load_connection_file()
    except Exception:  # no connection file: an embedded or in-process kernel
        return None
    try:
        client.start_channels(shell=False, iopub=False, stdin=False, hb=False, control=True)
        request = client.session.msg("create_subshell_request", {})
        client.control_channel.send(request)
        while True:
            reply = client.control_channel.get_msg(timeout=_TIMEOUT)
            if reply["parent_header"].get("msg_id") == request["header"]["msg_id"]:
                break
        content = reply["content"]
        found = content.get("subshell_id") if content.get("status") == "ok" else None
        return str(found) if found else None
    except Exception:  # no reply in time, or a kernel that refuses: no subshell
        return None
    finally:
        client.stop_channels()
