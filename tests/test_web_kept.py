"""The web's remaining reads use the node's kept trust state (``pnyx.web.kept``): the ranked
timeline page, search, trust and suggest (API and pages), the profile page. In process.

The world is ``tests/test_web_rank``'s (me -> bob, c1, c2; bob -> carol). The kept state also has
me -> carol, so carol is one hop away in it and two in the store's follows. Once a kept state is
registered, the store's trust is never built: ``load_trust`` is replaced by one that fails.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from starlette.testclient import TestClient

from pnyx.clock import wall_clock_ms
from pnyx.crypto.keytext import encode_public_key
from pnyx.node.trust_keeper import TrustSnapshot
from pnyx.reads.trust import load_trust
from pnyx.web.context import WebContext
from pnyx.web.kept import keep_trust
from tests.test_web_rank import client, world
from tests.web_kit import bearer, login

__all__ = ["client", "world"]


def _no_own_trust(*_: object) -> None:
    raise AssertionError("the read built its own trust instead of the kept state")


def test_reads_use_the_kept_state(
    world: tuple[WebContext, Any], client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, w = world
    f = w["f"]
    carol = encode_public_key(f["carol"].author)
    read = bearer(ctx, "read")
    own = client.get(f"/api/v1/trust/{carol}", headers=read).json()
    assert own["hops"] == 2
    kept = load_trust(ctx.store, ctx.me).copy()
    kept.follow(ctx.me.hex(), f["carol"].author.hex())
    snapshot = TrustSnapshot(kept, wall_clock_ms(), incremental=True)
    keep_trust(ctx, lambda: snapshot)
    for module in ("pnyx.reads.trust", "pnyx.reads.search", "pnyx.reads.feed"):
        monkeypatch.setattr(sys.modules[module], "load_trust", _no_own_trust)
    assert client.get(f"/api/v1/trust/{carol}", headers=read).json()["hops"] == 1
    found = client.get("/api/v1/search?q=carol", headers=read)
    assert found.status_code == 200 and found.json()["posts"]
    assert client.get("/api/v1/suggest", headers=read).status_code == 200
    login(ctx, client)
    for page in ("/timeline?feed=for-you", "/search?q=carol", f"/u/{carol}"):
        assert client.get(page).status_code == 200, page
    assert "1 hop away" in client.get(f"/u/{carol}").text
