"""Talking to the running node from the CLI: a synchronous client of its control socket.

Protocol (``pnyx.control.server`` serves it): the Unix socket ``control.sock`` in the home directory
(mode 0600, so only the owner can use it), one JSON object per line each way::

    -> {"op": "status"}                 <- {"ok": true, "result": {...}}
    -> {"op": "connect", "addr": "..."} <- {"ok": false, "kind": "connect", "error": "..."}

Operations: ``status``, ``peers``, ``connect`` (``addr``), ``notify`` (look for new own messages).
This module imports neither trio nor libp2p, so commands that use it start fast.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pnyx.errors import NodeNotRunningError, PnyxError, UserError
from pnyx.home import Home, UnsafeHomeError
from pnyx.net.errors import ConnectError

#: How long a control request may take by default, in seconds.
DEFAULT_TIMEOUT_S = 5.0
#: How long ``connect`` may take (a dial can take the full dial timeout), in seconds.
CONNECT_TIMEOUT_S = 20.0
#: How long ``notify_new_messages`` waits for the node at most, in seconds.
NOTIFY_TIMEOUT_S = 0.1
#: Largest response line read, in bytes.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
#: Longest socket path bound or dialled directly, in bytes (AF_UNIX allows 107 on Linux).
MAX_DIRECT_SOCKET_PATH = 100


@contextmanager
def socket_address(path: Path) -> Iterator[str]:
    """An AF_UNIX address for ``path``, even when the path is too long for sockaddr_un.

    Long paths go through ``/proc/self/fd/N/`` of the opened directory (Linux); elsewhere they
    raise ``UserError`` asking for a shorter home path.
    """
    if len(os.fsencode(path)) <= MAX_DIRECT_SOCKET_PATH:
        yield str(path)
        return
    if not sys.platform.startswith("linux"):
        raise UserError(f"home path too long for a control socket: {path.parent}")
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def _not_running(home: Home) -> NodeNotRunningError:
    return NodeNotRunningError(f"no node is running in {home.path} (start one with `pnyx run`)")


def request(home: Home, op: str, *, timeout: float = DEFAULT_TIMEOUT_S, **params: Any) -> Any:
    """Send one request to the node of ``home`` and return its result.

    Raises ``NodeNotRunningError`` if no node answers on the socket, ``UnsafeHomeError`` if the
    socket path is a symbolic link, ``UserError`` /
    ``ConnectError`` / ``PnyxError`` for a failure the node reports, and ``PnyxError`` if the node
    does not answer within ``timeout`` seconds.
    """
    path = home.control_socket_path
    if not _present(path):
        raise _not_running(home)
    line = json.dumps({"op": op, **params}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            try:
                with socket_address(path) as address:
                    sock.connect(address)
            except (FileNotFoundError, ConnectionRefusedError):
                raise _not_running(home) from None
            sock.sendall(line)
            reply = _read_line(sock)
    except TimeoutError:
        raise PnyxError(f"the node in {home.path} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise PnyxError(f"cannot talk to the node in {home.path}: {exc.strerror}") from None
    return _result(reply)


def _present(path: Path) -> bool:
    """Whether something is at ``path``; a symbolic link there raises ``UnsafeHomeError``
    (connecting would follow it to whatever socket it names)."""
    try:
        info = os.lstat(path)
    except OSError:  # missing, or the home cannot be searched: no node to talk to
        return False
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeHomeError(f"refusing {path}: it is a symbolic link, not the node's socket")
    return True


def _read_line(sock: socket.socket) -> bytes:
    buffer = bytearray()
    while b"\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise PnyxError("the node closed the control connection without answering")
        buffer += chunk
        if len(buffer) > MAX_RESPONSE_BYTES:
            raise PnyxError("the node's answer is too large")
    return bytes(buffer.split(b"\n", 1)[0])


def _result(reply: bytes) -> Any:
    try:
        response = json.loads(reply)
    except ValueError:
        raise PnyxError("the node's answer is not JSON") from None
    if not isinstance(response, dict):
        raise PnyxError("the node's answer is not a JSON object")
    if response.get("ok") is True:
        return response.get("result")
    message = str(response.get("error", "the node reported an unknown error"))
    kind = response.get("kind")
    if kind == "user":
        raise UserError(message)
    if kind == "connect":
        raise ConnectError(message)
    raise PnyxError(message)


def notify_new_messages(home: Home, *, interest: bool = False) -> None:
    """Tell a running node that own new messages are in the store (``interest``: also that the
    feeds it must fetch changed, a labeller subscribed to or dropped: it reloads its interest
    set). Best effort: returns quietly (within ``NOTIFY_TIMEOUT_S``) when no node runs or it does
    not answer; never raises."""
    if not home.control_socket_path.exists():
        return
    try:
        extra = {"interest": True} if interest else {}
        request(home, "notify", timeout=NOTIFY_TIMEOUT_S, **extra)
    except (PnyxError, OSError, ValueError):
        return
