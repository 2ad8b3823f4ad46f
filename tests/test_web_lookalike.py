"""Look-alike marks on the web pages in process: a Cyrillic or Lisu "alice" is marked as a
look-alike of the alice the user follows (and a name mixing scripts as such) on the timeline,
thread, profile, search, notifications and "Muted and blocked" pages, escaped, as the CLI marks
it (``pnyx.core.display.Names.mark``)."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from pnyx import ops
from pnyx.core.display import fingerprint
from pnyx.crypto.keytext import encode_public_key
from pnyx.web.context import WebContext
from tests.store_helpers import key, pub
from tests.web_kit import client, ctx, login

__all__ = ["client", "ctx"]  # the kit's fixtures

ALICE, MALLORY, LISU, BOB = key(2), key(3), key(4), key(5)
CYRILLIC_ALICE = "\u0430lice"  # Cyrillic small a, then Latin
LISU_ALICE = "\ua4ee\ua4e1\ua4f2\ua4da\ua4f0"  # Lisu letters shaped like A L I C E
MARK = f"[look-alike of alice ({fingerprint(pub(ALICE))})]"


def text_of(k: object) -> str:
    return encode_public_key(pub(k))  # type: ignore[arg-type]


def _article(page: str, message_id: bytes) -> str:
    found = re.search(rf'id="m-{message_id.hex()}".*?</article>', page, re.S)
    assert found, message_id.hex()
    return found.group(0)


def _setup(ctx: WebContext) -> dict[str, bytes]:
    assert ctx.key is not None
    ops.profile(ctx.store, ALICE, name="alice")
    ops.profile(ctx.store, MALLORY, name=CYRILLIC_ALICE)
    ops.profile(ctx.store, LISU, name=LISU_ALICE)
    ops.profile(ctx.store, BOB, name="bob")
    ops.follow(ctx.store, ctx.key, text_of(ALICE))
    ops.follow(ctx.store, ctx.key, text_of(BOB))
    mine = ops.post(ctx.store, ctx.key, "hello square")
    return {
        "mine": mine.id,
        "alice": ops.post(ctx.store, ALICE, "the real alice").id,
        "bob": ops.post(ctx.store, BOB, "plain bob").id,
        "mallory": ops.post(ctx.store, MALLORY, "fake alice", reply_to=mine.id.hex()).id,
        "lisu": ops.post(ctx.store, LISU, "another fake alice").id,
    }


def test_thread_and_notifications_mark_a_cyrillic_alice(
    ctx: WebContext, client: TestClient
) -> None:
    ids = _setup(ctx)
    login(ctx, client)
    thread = client.get(f"/thread/{ids['mine'].hex()}").text
    assert MARK in _article(thread, ids["mallory"])
    assert "look-alike" not in _article(thread, ids["mine"])
    notes = client.get("/notifications").text
    assert MARK in _article(notes, ids["mallory"])


def test_timeline_marks_followed_look_alikes_but_not_the_real_names(
    ctx: WebContext, client: TestClient
) -> None:
    ids = _setup(ctx)
    assert ctx.key is not None
    ops.follow(ctx.store, ctx.key, text_of(LISU))
    login(ctx, client)
    page = client.get("/timeline").text
    assert MARK in _article(page, ids["lisu"])  # the Lisu ALICE, though followed
    assert "look-alike" not in _article(page, ids["bob"])
    assert "look-alike" not in _article(page, ids["mine"])
    # the two alices the user follows look alike each other: each is marked (as the CLI does)
    assert "look-alike of" in _article(page, ids["alice"])


def test_profile_search_and_mutes_mark_the_look_alike(ctx: WebContext, client: TestClient) -> None:
    ids = _setup(ctx)
    assert ctx.key is not None
    login(ctx, client)
    profile = client.get(f"/u/{text_of(MALLORY)}").text
    head = profile.split('<section class="trust"')[0]
    assert MARK in head and MARK in _article(profile, ids["mallory"])
    assert "look-alike" not in client.get(f"/u/{text_of(ALICE)}").text.split("<h2>Posts")[0]
    found = client.get("/search", params={"q": "fake"}).text
    hits = re.findall(r'<article class="message hit">.*?</article>', found, re.S)
    assert len(hits) == 2 and all(MARK in hit for hit in hits)
    people = client.get("/search", params={"q": CYRILLIC_ALICE}).text
    cards = re.findall(r'<article class="person">.*?</article>', people, re.S)
    assert any(MARK in card and CYRILLIC_ALICE in card for card in cards), cards
    ops.mute(ctx.store, ctx.key, text_of(MALLORY))
    mutes = client.get("/mutes").text
    assert MARK in mutes


def test_a_mixed_script_name_is_marked_and_a_hostile_one_escaped(
    ctx: WebContext, client: TestClient
) -> None:
    assert ctx.key is not None
    mixed = "b\u0585b<script>"  # Latin b, Armenian oh, Latin b, markup
    ops.profile(ctx.store, MALLORY, name=mixed)
    ops.follow(ctx.store, ctx.key, text_of(MALLORY))
    post = ops.post(ctx.store, MALLORY, "hi")
    login(ctx, client)
    article = _article(client.get("/timeline").text, post.id)
    assert "[mixed scripts: " in article or "[look-alike of" in article
    assert "<script>" not in article and "&lt;script&gt;" in article
