"""The request guard: checks every request makes before any route sees it (docs/web.md).

A local web server can be reached by any page the user's browser opens, so ``Guard`` (plain ASGI
middleware) refuses:

* a ``Host`` header outside the allowlist (``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT``
  and, with ``--ui-public``, the bound address): 403. This defeats DNS rebinding, where an
  attacker's name resolves to 127.0.0.1 but the browser still sends the attacker's host name;
* on every method but GET and HEAD: an ``Origin`` that is not ``http://`` + an allowed host, or a
  ``Sec-Fetch-Site`` of ``cross-site``: 403 (a missing Origin is allowed: curl and scripts send
  none, and they still need a token or a session with its CSRF token);
* a JSON API write whose body is not ``application/json``: 415 (no "simple" content type, so no
  cross-site form can reach the API without a CORS preflight, which gets no CORS headers);
* a request body over ``MAX_BODY_BYTES``: 413.

Every response gets the strict ``CONTENT_SECURITY_POLICY``, ``X-Content-Type-Options: nosniff``,
``X-Frame-Options: DENY``, ``Referrer-Policy: same-origin`` (a login link never leaves in a
Referer; ``no-referrer`` would make browsers send ``Origin: null`` on the UI's own form posts)
and ``Cache-Control: no-store``. The
guard never adds CORS headers. It never raises: refusals are JSON ``{"error": ...}`` answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The Content-Security-Policy of every response: no inline script, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
#: Largest request body accepted, in bytes (a post is at most a few KiB of JSON or form data).
MAX_BODY_BYTES = 64 * 1024
#: Methods that change nothing and so need no Origin check.
SAFE_METHODS = frozenset({"GET", "HEAD"})

_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # not no-referrer: with it browsers send "Origin: null" on same-origin form posts
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


def loopback_hosts(port: int) -> frozenset[str]:
    """The Host header values a loopback server on ``port`` answers."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"})


class Guard:
    """ASGI middleware around the app (module docstring). ``allowed_hosts`` is asked on every
    request, so it can follow the port the server bound."""

    def __init__(self, app: ASGIApp, allowed_hosts: Callable[[], frozenset[str]]) -> None:
        self._app = app
        self._allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {h for h, _ in _SECURITY_HEADERS}
                ]
                message = {**message, "headers": headers + _SECURITY_HEADERS}
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            status, text = refusal
            await _answer(send_secured, status, text)
            return
        await self._app(scope, _limited(receive), send_secured)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = _headers(scope)
        allowed = self._allowed_hosts()
        if headers.get("host", "").lower() not in allowed:
            return 403, "this server answers only to its own address (Host header refused)"
        method = scope["method"]
        if method in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None and (
            not origin.startswith("http://")
            or origin.removeprefix("http://").lower() not in allowed
        ):
            return 403, "cross-origin request refused (Origin header)"
        if headers.get("sec-fetch-site") == "cross-site":
            return 403, "cross-site request refused (Sec-Fetch-Site header)"
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return 413, f"request bodies are at most {MAX_BODY_BYTES} bytes"
        if scope["path"].startswith("/api/") and method != "DELETE":
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return 415, "the API accepts only application/json bodies"
        return None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _limited(receive: Receive) -> Receive:
    """``receive`` that stops a body (chunked, with no Content-Length) past ``MAX_BODY_BYTES``."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                return {"type": "http.disconnect"}
        return message

    return limited


async def _answer(send: Callable[[Message], Any], status: int, text: str) -> None:
    body = json.dumps({"error": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
