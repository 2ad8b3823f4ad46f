"""The running node's control socket (server side); the protocol is in ``control_client``.

``serve_control(path, handler)`` binds ``path`` (mode 0600, set before ``listen`` so nobody else
can ever connect), answers one JSON line per request line, and removes the socket file on exit.
A socket or file already at ``path`` is stale and removed: callers hold the home's node lock
(``pnyx.app.lock``), so no other node can be serving it; a symbolic link or a directory there is
refused (``UnsafeHomeError``) and left alone.

Clients are served concurrently, at most ``MAX_CLIENTS`` connections at once. Only the wait for a
request is timed (``IDLE_TIMEOUT_S`` from connecting, or from the previous answer, to the end of
the request line); answering takes as long as the operation needs (``pnyx sync`` through the node
can take minutes; its client waits up to 660 s). An answer the client does not read within
``SEND_TIMEOUT_S`` ends the connection. When all connections are taken, a new one closes the one
that has waited longest for its request, else the one that has been slowest to read an answer
(issue 23: 16 clients reading their answers slowly made 31 of 32 ``pnyx status`` calls answer
busy for 40 s), so neither idle nor slow-reading clients lock the user out; only when every
connection is being computed an answer does the new one get ``{"ok": false, "kind": "busy"}`` at
once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from pnyx.control.client import socket_address
from pnyx.errors import PnyxError, UserError
from pnyx.home import UnsafeHomeError
from pnyx.net.errors import ConnectError

log = logging.getLogger(__name__)

#: Largest request line, in bytes.
MAX_REQUEST_BYTES = 64 * 1024
#: Longest wait for a request line (from connecting, or from the previous answer), in seconds.
#: Answering is not timed.
IDLE_TIMEOUT_S = 30.0
#: Longest a client may take to read one answer, in seconds (a real client reads at once).
SEND_TIMEOUT_S = 5.0
#: Control connections open at once, a count (the listen backlog holds as many more).
MAX_CLIENTS = 16
#: Bytes read from a control connection at once.
_READ_BYTES = 65536

#: Answers one request (a JSON object with "op"); returns a JSON-ready result or raises PnyxError.
ControlHandler = Callable[[dict[str, Any]], Awaitable[Any]]

_BUSY = {
    "ok": False,
    "kind": "busy",
    "error": f"the node is busy answering {MAX_CLIENTS} control requests; try again shortly",
}
_TOO_LARGE = {"ok": False, "kind": "user", "error": "request too large"}


class _Clients:
    """The open connections (at most ``limit``), and which of them wait for a request."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: set[object] = set()
        self._waiting: OrderedDict[object, trio.CancelScope] = OrderedDict()
        self._sending: OrderedDict[object, trio.CancelScope] = OrderedDict()
        self.evicted_slow = 0
        """Connections closed because a new client needed the slot of a slow reader."""

    def admit(self, token: object) -> bool:
        """Take a slot for ``token``, closing the longest-waiting idle connection, else the one
        sending an answer for longest (a slow reader), if all are taken; False when every
        connection is being computed an answer."""
        if len(self._open) >= self._limit:
            if self._waiting:
                evicted, scope = self._waiting.popitem(last=False)
            elif self._sending:
                evicted, scope = self._sending.popitem(last=False)
                self.evicted_slow += 1
            else:
                return False
            self._open.discard(evicted)
            scope.cancel()
        self._open.add(token)
        return True

    def waiting(self, token: object, scope: trio.CancelScope) -> None:
        if token in self._open:
            self._waiting[token] = scope

    def sending(self, token: object, scope: trio.CancelScope) -> None:
        if token in self._open:
            self._sending[token] = scope

    def answering(self, token: object) -> None:
        self._waiting.pop(token, None)
        self._sending.pop(token, None)

    def leave(self, token: object) -> None:
        self._waiting.pop(token, None)
        self._sending.pop(token, None)
        self._open.discard(token)


@asynccontextmanager
async def serve_control(path: Path, handler: ControlHandler) -> AsyncIterator[None]:
    """Serve the control socket at ``path`` while the block runs. Raises ``UserError`` if the
    socket cannot be created, ``UnsafeHomeError`` for a link or directory at ``path``."""
    _remove_stale(path)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with socket_address(path) as address:
            await sock.bind(address)
        os.chmod(path, 0o600)
        sock.listen(MAX_CLIENTS)
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot create the control socket {path}: {exc.strerror}") from None
    listener = trio.SocketListener(sock)
    clients = _Clients(MAX_CLIENTS)

    async def serve_one(stream: trio.SocketStream) -> None:
        await _serve_connection(stream, handler, clients)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, serve_one, [listener])
            try:
                yield
            finally:
                nursery.cancel_scope.cancel()
    finally:
        sock.close()
        path.unlink(missing_ok=True)


def _remove_stale(path: Path) -> None:
    """Remove a stale socket (or file) at ``path``; refuse a link or a directory."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(f"cannot examine the control socket {path}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode) or stat.S_ISDIR(info.st_mode):
        raise UnsafeHomeError(
            f"refusing {path}: a {'symbolic link' if stat.S_ISLNK(info.st_mode) else 'directory'}"
            " where the control socket goes; remove it"
        )
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise UserError(f"cannot remove the stale control socket {path}: {exc.strerror}") from None


async def _serve_connection(
    stream: trio.SocketStream, handler: ControlHandler, clients: _Clients
) -> None:
    token = object()
    try:
        async with stream:
            if not clients.admit(token):
                with trio.move_on_after(IDLE_TIMEOUT_S):
                    await _send(stream, _BUSY)
                return
            try:
                await _converse(stream, handler, clients, token)
            finally:
                clients.leave(token)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return  # the client left


async def _converse(
    stream: trio.SocketStream, handler: ControlHandler, clients: _Clients, token: object
) -> None:
    """Request, answer, request, ... until the client leaves, idles or sends too much."""
    buffer = bytearray()
    while True:
        with trio.move_on_after(IDLE_TIMEOUT_S) as waiting:  # only the wait for a request
            clients.waiting(token, waiting)  # cancelled if a new client needs the slot
            while b"\n" not in buffer:
                if len(buffer) > MAX_REQUEST_BYTES:
                    await _send(stream, _TOO_LARGE)
                    return
                data = await stream.receive_some(_READ_BYTES)
                if not data:
                    return
                buffer += data
        clients.answering(token)
        if waiting.cancelled_caught:
            return  # idle too long, or closed for a newer client
        line, _, rest = bytes(buffer).partition(b"\n")
        buffer = bytearray(rest)
        answer = await answer_request(line, handler)  # as long as the operation needs
        with trio.move_on_after(SEND_TIMEOUT_S) as sending:
            clients.sending(token, sending)  # cancelled if a new client needs the slot
            await _send(stream, answer)
        clients.answering(token)
        if sending.cancelled_caught:
            return  # the client does not read its answers, or was closed for a newer client


async def _send(stream: trio.SocketStream, answer: dict[str, Any]) -> None:
    await stream.send_all(json.dumps(answer).encode() + b"\n")


async def answer_request(line: bytes, handler: ControlHandler) -> dict[str, Any]:
    """The response object for one request line; never raises for a bad request."""
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        return {"ok": False, "kind": "user", "error": "request is not JSON"}
    if not isinstance(request, dict) or not isinstance(request.get("op"), str):
        return {"ok": False, "kind": "user", "error": 'request needs a string "op"'}
    try:
        return {"ok": True, "result": await handler(request)}
    except UserError as exc:
        return {"ok": False, "kind": "user", "error": str(exc)}
    except ConnectError as exc:
        return {"ok": False, "kind": "connect", "error": str(exc)}
    except PnyxError as exc:
        return {"ok": False, "kind": "error", "error": str(exc)}
    except Exception as exc:  # a bug in a handler must not stop the node: log it and answer
        log.exception("control request %r failed", request.get("op"))
        return {"ok": False, "kind": "internal", "error": f"internal error: {exc!r}"}
