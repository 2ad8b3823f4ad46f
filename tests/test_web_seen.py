"""The notifications "seen" mark (``pnyx.web.seen``): the header's unread count on every page,
"Mark all as seen" (form and API), the count route, and the mark kept in the home."""

from __future__ import annotations

import json
import re
from pathlib import Path

from starlette.testclient import TestClient

from pnyx import ops
from pnyx.clock import wall_clock_ms
from pnyx.crypto.keytext import encode_public_key
from pnyx.web.context import WebContext
from pnyx.web.seen import SEEN_FILE
from tests.store_helpers import key
from tests.web_kit import ORIGIN, bearer, client, ctx, login

__all__ = ["client", "ctx"]


def _badge(page: str) -> tuple[str, bool]:
    match = re.search(
        r'<span class="unread" id="unread"( hidden)?><span class="unread-n">(\d+\+?)<', page
    )
    assert match, "no unread badge in the header"
    return match.group(2), match.group(1) is None


def test_unread_count_and_mark_all_as_seen(ctx: WebContext, client: TestClient) -> None:
    assert ctx.key is not None
    mine = ops.post(ctx.store, ctx.key, "mine").id.hex()
    csrf = login(ctx, client)
    assert _badge(client.get("/timeline").text) == ("0", False)  # none: hidden
    ops.reply(ctx.store, key(2), mine, "a reply")
    ops.post(ctx.store, key(3), f"hello {encode_public_key(ctx.me)}")
    ops.follow(ctx.store, key(4), encode_public_key(ctx.me))
    for path in ("/timeline", "/notifications", "/search"):
        page = client.get(path).text
        assert _badge(page) == ("3", True), path
        assert "<!--pnyx-unread-->" not in page
    assert client.get("/notifications/unread").json() == {"unread": 3}
    page = client.get("/notifications").text
    assert 'action="/notifications/seen"' in page and "Mark all as seen" in page
    forged = client.post("/notifications/seen", data={"csrf": "x"}, headers=ORIGIN)
    assert forged.status_code == 403
    done = client.post(
        "/notifications/seen", data={"csrf": csrf}, headers=ORIGIN, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/notifications"
    assert _badge(client.get("/timeline").text) == ("0", False)
    stored = json.loads((Path(ctx.store.path).parent / SEEN_FILE).read_text())
    assert set(stored) == {"ts", "id"}
    ops.reply(ctx.store, key(5), mine, "one more")  # newer than the mark
    assert _badge(client.get("/timeline").text) == ("1", True)


def test_api_unread_and_seen(ctx: WebContext, client: TestClient) -> None:
    assert ctx.key is not None
    mine = ops.post(ctx.store, ctx.key, "mine").id.hex()
    ops.reply(ctx.store, key(2), mine, "a reply")
    reader, writer = bearer(ctx, "read"), bearer(ctx, "read", "write")
    assert client.get("/api/v1/notifications/unread", headers=reader).json() == {"unread": 1}
    refused = client.post("/api/v1/notifications/seen", json={}, headers=reader)
    assert refused.status_code == 403
    done = client.post("/api/v1/notifications/seen", json={}, headers=writer)
    assert done.status_code == 201 and done.json() == {"was_unread": 1}
    assert client.get("/api/v1/notifications/unread", headers=reader).json() == {"unread": 0}
    assert client.get("/api/v1/notifications/unread").status_code == 401
    assert client.get("/notifications/unread").status_code == 401


def test_the_page_marks_what_is_new_until_marked_seen(ctx: WebContext, client: TestClient) -> None:
    assert ctx.key is not None
    mine = ops.post(ctx.store, ctx.key, "mine").id.hex()
    old = ops.reply(ctx.store, key(2), mine, "an old reply", now_ms=wall_clock_ms() - 60_000).id
    csrf = login(ctx, client)
    client.post("/notifications/seen", data={"csrf": csrf}, headers=ORIGIN)
    page = client.get("/notifications").text
    assert 'class="notification reply new"' not in page and "new since you last" not in page
    fresh = ops.reply(ctx.store, key(3), mine, "a fresh reply").id.hex()
    page = client.get("/notifications").text
    assert page.count('class="notification reply new"') == 1
    assert page.count('<span class="sr-only">New, unread notification:</span>') == 1
    assert "1 new since you last marked them as seen." in page
    new_at = page.index('class="notification reply new"')
    assert new_at < page.index("a fresh reply") and page.index("an old reply") > new_at
    api = client.get("/api/v1/notifications", headers=bearer(ctx, "read")).json()["items"]
    assert [(n["message"]["id"], n["unread"]) for n in api] == [(fresh, True), (old.hex(), False)]
    client.post("/notifications/seen", data={"csrf": csrf}, headers=ORIGIN)
    assert 'class="notification reply new"' not in client.get("/notifications").text
