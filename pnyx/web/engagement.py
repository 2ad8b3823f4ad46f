"""Likes and reposts on every post a page or an API answer shows, from one store query per
answer (``pnyx.store.engagement``), whichever route made it.

The ``message`` macro (``macros.html``) leaves a marker, ``<!--pnyx-engagement:ID NEXT-->`` (ID:
the post's 64 hex digits, NEXT the page its forms return to, URL-quoted; user text can never
make one, since autoescape turns every ``<`` into ``&lt;``), where the post's like and repost
buttons go. ``EngagementMiddleware`` (a pure ASGI middleware inside the guard) holds back each
``text/html`` answer, finds the markers, reads the counts of all those posts at once through the
node's ``offload``, and puts in each post's counts, "you liked this" / "you reposted this", and
Like or Unlike, Repost or Undo repost (the forms return to NEXT, at the post). It also fills in
the header's unread count (``pnyx.web.seen.fill``). On the JSON API (``/api/v1/``), every
message object of kind ``post`` in the answer gains ``"engagement": {"likes", "reposts",
"liked", "reposted"}``.

Other answers (the event stream, static files) pass through untouched. Failure modes: a store
error while counting is a ``StoreError`` (500, as any route's).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.datastructures import MutableHeaders

from pnyx.store.engagement import Engagement, engagement
from pnyx.web.context import SESSION_COOKIE

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from pnyx.web.context import WebContext

_MARKER = re.compile(r"<!--pnyx-engagement:([0-9a-f]{64}) ([^\s<>]*)-->")
_HEX_ID = re.compile(r"[0-9a-f]{64}")
_API = "/api/v1/"


def label(seen: Engagement) -> str:
    """ "3 likes, you liked this · 1 repost" as shown (and read) beside a post's buttons."""
    likes = f"{seen.likes} like{'' if seen.likes == 1 else 's'}"
    reposts = f"{seen.reposts} repost{'' if seen.reposts == 1 else 's'}"
    if seen.liked:
        likes += ", you liked this"
    if seen.reposted:
        reposts += ", you reposted this"
    return f"{likes} · {reposts}"


def _posts_in(value: Any, found: list[dict[str, Any]]) -> None:
    if isinstance(value, dict):
        post_id = value.get("id")
        if value.get("kind") == "post" and isinstance(post_id, str) and _HEX_ID.fullmatch(post_id):
            found.append(value)
        for inner in value.values():
            _posts_in(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _posts_in(inner, found)


class EngagementMiddleware:
    """Fills in the engagement of the posts in HTML pages and API answers (module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(("/static/", "/events")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def held(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                kind = MutableHeaders(raw=message["headers"]).get("content-type", "")
                if kind.startswith(("text/html", "application/json")):
                    start = message
                    return
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = await self._fill(scope, b"".join(chunks))
                    headers = MutableHeaders(raw=start["headers"])
                    headers["content-length"] = str(len(body))
                    await send(start)
                    await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, held)

    async def _fill(self, scope: Scope, body: bytes) -> bytes:
        ctx: WebContext = scope["app"].state.web
        path: str = scope.get("path", "")
        if path.startswith(_API):
            return await self._fill_json(ctx, body)
        from pnyx.web.pages import render
        from pnyx.web.seen import fill

        text = await fill(ctx, body.decode())
        ids = sorted({bytes.fromhex(found) for found, _ in _MARKER.findall(text)})
        if not ids:
            return text.encode()

        counted = await ctx.offload(engagement, ctx.store, ids, ctx.me)
        session = ctx.sessions.get(_cookie(scope, SESSION_COOKIE))

        def fragment(found: re.Match[str]) -> str:
            seen = counted[bytes.fromhex(found.group(1))]
            return render(
                "_engagement.html",
                id=found.group(1),
                seen=seen,
                text=label(seen),
                csrf=session.csrf if session else "",
                here=unquote(found.group(2)),
            )

        return _MARKER.sub(fragment, text).encode()

    async def _fill_json(self, ctx: WebContext, body: bytes) -> bytes:
        try:
            document = json.loads(body)
        except ValueError:
            return body
        posts: list[dict[str, Any]] = []
        _posts_in(document, posts)
        if not posts:
            return body
        ids = {bytes.fromhex(post["id"]) for post in posts}
        counted = await ctx.offload(engagement, ctx.store, ids, ctx.me)
        for post in posts:
            post["engagement"] = counted[bytes.fromhex(post["id"])].to_json()
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _cookie(scope: Scope, name: str) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                left, _, right = part.strip().partition("=")
                if left == name:
                    return str(right)
    return None
