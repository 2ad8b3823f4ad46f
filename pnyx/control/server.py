"""The running node's control socket (server side); the protocol is in ``control_client``.

``serve_control(path, handler)`` binds ``path`` (mode 0600, set before ``listen`` so nobody else
can ever connect), answers one JSON line per request line, and removes the socket file on exit.
Any file already at ``path`` is stale: callers hold the home's node lock
(``pnyx.app.lock``), so no other node can be serving it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from pnyx.control.client import socket_address
from pnyx.errors import PnyxError, UserError
from pnyx.net.errors import ConnectError

log = logging.getLogger(__name__)

#: Largest request line, in bytes.
MAX_REQUEST_BYTES = 64 * 1024
#: A control connection idle this long is closed, in seconds.
IDLE_TIMEOUT_S = 30.0
#: Control connections served at once, a count (the listen backlog holds more).
MAX_CLIENTS = 16

#: Answers one request (a JSON object with "op"); returns a JSON-ready result or raises PnyxError.
ControlHandler = Callable[[dict[str, Any]], Awaitable[Any]]


@asynccontextmanager
async def serve_control(path: Path, handler: ControlHandler) -> AsyncIterator[None]:
    """Serve the control socket at ``path`` while the block runs."""
    path.unlink(missing_ok=True)
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
    limiter = trio.CapacityLimiter(MAX_CLIENTS)

    async def serve_one(stream: trio.SocketStream) -> None:
        async with limiter:
            await _serve_connection(stream, handler)

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


async def _serve_connection(stream: trio.SocketStream, handler: ControlHandler) -> None:
    buffer = bytearray()
    try:
        async with stream:
            while True:
                with trio.move_on_after(IDLE_TIMEOUT_S):
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    buffer += data
                    while b"\n" in buffer:
                        line, _, rest = bytes(buffer).partition(b"\n")
                        buffer = bytearray(rest)
                        answer = await answer_request(line, handler)
                        await stream.send_all(json.dumps(answer).encode() + b"\n")
                    if len(buffer) > MAX_REQUEST_BYTES:
                        error = {"ok": False, "kind": "user", "error": "request too large"}
                        await stream.send_all(json.dumps(error).encode() + b"\n")
                        return
                    continue
                return  # idle too long
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return  # the client left


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
