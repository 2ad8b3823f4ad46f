"""Look-alike marks on the why and clusters pages and ``lookalike`` in the JSON API's messages
(as ``--json`` prints them in the CLI). The people are ``tests/test_web_lookalike``'s: the user
follows alice and bob; mallory's name is a Cyrillic "alice"; here bob also follows mallory (two
hops: on ``for-you``), and mallory and the Lisu "alice" like the same ten posts (a cluster)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from pnyx import ops
from pnyx.crypto.keytext import encode_public_key
from pnyx.web.context import WebContext
from tests.store_helpers import pub
from tests.test_web_lookalike import ALICE, BOB, LISU, MALLORY, MARK, _setup, text_of
from tests.web_kit import bearer, client, ctx, login

__all__ = ["client", "ctx"]  # the kit's fixtures

WANT = {"key": encode_public_key(pub(ALICE)), "name": "alice"}


def _messages(found: Any) -> list[dict[str, Any]]:
    if isinstance(found, list):
        return [m for item in found for m in _messages(item)]
    if not isinstance(found, dict):
        return []
    inner = [m for item in found.values() for m in _messages(item)]
    return [found, *inner] if "kind" in found and "id" in found else inner


def test_api_messages_carry_lookalike(ctx: WebContext, client: TestClient) -> None:
    ids = _setup(ctx)
    read = bearer(ctx, "read")
    mallory = encode_public_key(pub(MALLORY))
    answers = {
        "thread": client.get(f"/api/v1/thread/{ids['mine'].hex()}", headers=read).json(),
        "notifications": client.get("/api/v1/notifications", headers=read).json(),
        "profile": client.get(f"/api/v1/profiles/{mallory}", headers=read).json(),
        "search": client.get("/api/v1/search?q=fake", headers=read).json(),
    }
    for what, found in answers.items():
        by_author = {m["author"]: m for m in _messages(found)}
        assert by_author[mallory]["lookalike"] == WANT, what
    thread = _messages(answers["thread"])
    assert all("lookalike" not in m for m in thread if m["author"] != mallory)
    ops.follow(ctx.store, BOB, text_of(MALLORY))
    page = client.get("/api/v1/timeline?feed=for-you", headers=read).json()
    assert {m["author"]: m for m in page["items"]}[mallory]["lookalike"] == WANT


def test_why_and_clusters_pages_mark_lookalikes(ctx: WebContext, client: TestClient) -> None:
    ids = _setup(ctx)
    ops.follow(ctx.store, BOB, text_of(MALLORY))
    login(ctx, client)
    why = client.get(f"/why/{ids['mallory'].hex()}?feed=for-you")
    assert why.status_code == 200 and MARK in why.text
    shared = [ops.post(ctx.store, BOB, f"shared {n}").id.hex() for n in range(10)]
    alone = [ops.post(ctx.store, BOB, f"alone {n}").id.hex() for n in range(10)]
    for post in shared:
        ops.like(ctx.store, MALLORY, post)
        ops.like(ctx.store, LISU, post)
    for post in alone:
        ops.like(ctx.store, ALICE, post)
    clusters = client.get("/clusters")
    assert clusters.status_code == 200 and MARK in clusters.text
