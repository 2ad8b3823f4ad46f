"""The web app's in-process test kit: a ``WebContext`` on a fresh store (``ctx``), a Starlette
``TestClient`` on it (``client``), bearer tokens, a logged-in session, and a node status to
feed the app. No sockets: the client drives the ASGI app directly."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pnyx.store import Store
from pnyx.web.app import build_app
from pnyx.web.auth import TOKEN_FILE, TokenBook
from pnyx.web.context import WebContext
from tests.store_helpers import key, pub

PORT = 4718
BASE = f"http://127.0.0.1:{PORT}"
ORIGIN = {"Origin": BASE}


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[WebContext]:
    with Store.open(tmp_path / "pnyx.db") as store:
        me = key(1)
        yield WebContext(
            store=store, me=pub(me), key=me, tokens=TokenBook(tmp_path / TOKEN_FILE), port=PORT
        )


@pytest.fixture
def client(ctx: WebContext) -> Iterator[TestClient]:
    with TestClient(build_app(ctx), base_url=BASE, backend="trio") as test_client:
        yield test_client


def bearer(ctx: WebContext, *scopes: str) -> dict[str, str]:
    _, token = ctx.tokens.create(scopes, "test", 0)
    return {"Authorization": f"Bearer {token}"}


def login(ctx: WebContext, client: TestClient) -> str:
    """Log the client in with a fresh code; returns the session's CSRF token."""
    response = client.get(f"/login?code={ctx.codes.issue()}", follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie, cookie
    page = client.get("/timeline")
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def status_with(peers: list[dict[str, Any]]) -> dict[str, Any]:
    """A node status as ``pnyx status --json`` prints it, with ``peers``."""
    return {
        "peer_id": "12D3KooWme",
        "public_key": "",
        "listen_addrs": ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWme"],
        "peers": peers,
        "topic_peers": [],
        "mesh_peers": [],
        "banned": [],
        "penalties": {},
        "counts": {},
        "clock": {"ahead_ms": None, "authors": 0, "future_authors": 0},
        "uptime_s": 1.0,
    }
