"""The live channel on every page (``GET /events``): each page with the header names it (app.js
opens it and recounts the unread badge on each ``arrived`` or ``notify``), it streams to a
session and is refused without one, as is the count route it triggers."""

from __future__ import annotations

from pathlib import Path

import trio
from starlette.testclient import TestClient

from pnyx.store import Store
from pnyx.web.app import build_app
from pnyx.web.auth import TOKEN_FILE, TokenBook
from pnyx.web.context import SESSION_COOKIE, WebContext
from tests.store_helpers import key, pub
from tests.web_kit import PORT, bearer, client, ctx, login

__all__ = ["client", "ctx"]


def test_every_page_with_the_header_names_the_live_channel(
    ctx: WebContext, client: TestClient
) -> None:
    assert client.get("/events").status_code == 401
    assert client.get("/notifications/unread").status_code == 401
    assert client.get("/events", headers=bearer(ctx, "read")).status_code == 401  # pages only
    login(ctx, client)
    for path in ("/timeline", "/notifications", "/search", "/mutes", "/sessions", "/follow"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert '<nav data-events="/events">' in page.text, path
    assert client.get("/notifications/unread").json() == {"unread": 0}
    assert "data-events" not in client.get("/logged-out").text  # no session, no channel


async def _stream(app: object, cookie: str | None, ctx: WebContext) -> tuple[int, list[str]]:
    """GET /events on the ASGI app directly (a test client would wait for the endless body):
    the status and the chunks until the client goes away."""
    headers = [(b"host", f"127.0.0.1:{PORT}".encode())]
    if cookie is not None:
        headers.append((b"cookie", f"{SESSION_COOKIE}={cookie}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.1"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/events",
        "raw_path": b"/events",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", PORT),
    }
    gone = trio.Event()
    status: list[int] = []
    chunks: list[str] = []

    async def receive() -> dict[str, object]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))  # type: ignore[call-overload]
        elif message.get("body"):
            chunks.append(bytes(message["body"]).decode())  # type: ignore[call-overload]
            if len(chunks) == 1:
                ctx.arrivals.notify()  # a follower: "notify"
                ctx.arrivals.publish(2)  # two posts: "arrived"
            if len(chunks) == 3:
                gone.set()

    with trio.fail_after(10):
        await app(scope, receive, send)  # type: ignore[operator]
    return status[0], chunks


async def test_the_live_channel_streams_to_a_session_only(tmp_path: Path) -> None:
    with Store.open(tmp_path / "pnyx.db") as store:
        ctx = WebContext(
            store=store, me=pub(key(1)), key=key(1), tokens=TokenBook(tmp_path / TOKEN_FILE)
        )
        ctx.port = PORT
        app = build_app(ctx)
        status, chunks = await _stream(app, None, ctx)
        assert status == 401
        sid, _ = ctx.sessions.create()
        status, chunks = await _stream(app, sid, ctx)
        assert status == 200
        assert chunks == [": live\n\n", "event: notify\ndata: 0\n\n", "event: arrived\ndata: 2\n\n"]
