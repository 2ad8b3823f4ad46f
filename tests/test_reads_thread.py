"""``pnyx.reads.thread``: the one thread read behind ``pnyx thread`` and the web's thread page
and API: reading order and depths, a muted reply as a placeholder, a deleted root noted while
the rest shows."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from pnyx import ops
from pnyx.reads.thread import thread
from pnyx.web.context import WebContext
from tests.store_helpers import NOW_MS, Feed, key, open_store
from tests.web_kit import ORIGIN, bearer, client, ctx, login

__all__ = ["client", "ctx"]  # the kit's fixtures


def test_rows_in_reading_order_with_a_muted_reply_as_a_placeholder(tmp_path: Path) -> None:
    me, alice, mal = key(1), Feed(key(2)), Feed(key(3))
    root = alice.post("root", ts=NOW_MS - 5000)
    loud = mal.post("loud", reply_to=root, ts=NOW_MS - 4000)
    deep = alice.post("deep", reply_to=loud, ts=NOW_MS - 3000)
    late = alice.post("late", reply_to=root, ts=NOW_MS - 2000)
    with open_store(tmp_path) as store:
        store.ingest_verified(alice.messages + mal.messages)
        ops.mute(store, me, mal.author.hex(), now_ms=NOW_MS)
        view = thread(store, bytes(me.verify_key), deep.id)
        assert [(r.item.message.id, r.depth) for r in view.rows] == [
            (root.id, 0),
            (loud.id, 1),
            (deep.id, 2),
            (late.id, 1),
        ]
        assert [r.hidden is not None for r in view.rows] == [False, True, False, False]
        assert [i.message.id for i in view.shown()] == [root.id, deep.id, late.id]
        assert not view.deleted and view.forked == set()
        nobody = thread(store, None, root.id)  # no identity: nothing hidden
        assert all(r.hidden is None for r in nobody.rows)


def test_the_page_notes_a_deleted_root_and_shows_the_rest(
    ctx: WebContext, client: TestClient
) -> None:
    csrf = login(ctx, client)
    client.post("/post", data={"csrf": csrf, "text": "root"}, headers=ORIGIN)
    root = ctx.store.timeline(ctx.me).items[0].message.id.hex()
    client.post("/post", data={"csrf": csrf, "text": "child", "reply_to": root}, headers=ORIGIN)
    page = client.get(f"/thread/{root[:12]}")
    assert page.status_code == 200 and "was deleted by its author" not in page.text
    client.post("/delete", data={"csrf": csrf, "id": root}, headers=ORIGIN)
    page = client.get(f"/thread/{root}")
    assert page.status_code == 200
    assert "was deleted by its author; the rest of its thread" in page.text
    assert "child" in page.text and 'class="message depth-1"' in page.text
    api = client.get(f"/api/v1/thread/{root}", headers=bearer(ctx, "read")).json()
    assert [(i["text"], i["depth"]) for i in api["items"]] == [("child", 1)]
