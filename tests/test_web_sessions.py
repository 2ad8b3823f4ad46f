"""Browser sessions kept in the home (``pnyx.web.sessions``): a session made by one app is
accepted by a new app on the same home (a node restart), an idle or too old one is not, the
file holds only hashes (mode 0600), and ending a session or logging out removes it from the
file."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pnyx.store import Store
from pnyx.web.app import build_app
from pnyx.web.auth import TOKEN_FILE, TokenBook
from pnyx.web.context import SESSION_COOKIE, WebContext
from pnyx.web.sessions import (
    SESSION_FILE,
    SESSION_IDLE_S,
    SESSION_MAX_AGE_S,
    SESSION_TOUCH_S,
    Sessions,
)
from tests.store_helpers import key, pub
from tests.web_kit import BASE, ORIGIN, PORT


class Node:
    """A home with a store: ``app()`` builds a fresh web app on it, as a node start does."""

    def __init__(self, home: Path, store: Store) -> None:
        self.home = home
        self.store = store
        self.now = [1_700_000_000.0]

    def app(self) -> tuple[WebContext, TestClient]:
        ctx = WebContext(
            store=self.store,
            me=pub(key(1)),
            key=key(1),
            tokens=TokenBook(self.home / TOKEN_FILE),
            port=PORT,
            sessions=Sessions(self.home / SESSION_FILE, wall=lambda: self.now[0]),
        )
        return ctx, TestClient(build_app(ctx), base_url=BASE, backend="trio")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with Store.open(tmp_path / "pnyx.db") as store:
        yield Node(tmp_path, store)


def log_in(ctx: WebContext, client: TestClient) -> str:
    response = client.get(f"/login?code={ctx.codes.issue()}", follow_redirects=False)
    assert response.status_code == 303
    cookie = str(client.cookies[SESSION_COOKIE])
    assert f"Max-Age={int(SESSION_MAX_AGE_S)}" in response.headers["set-cookie"]
    return cookie


def restarted(node: Node, cookie: str) -> TestClient:
    _, client = node.app()
    client.cookies.set(SESSION_COOKIE, cookie)
    return client


def csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_a_session_survives_a_restart_and_the_file_holds_only_hashes(node: Node) -> None:
    ctx, client = node.app()
    with client:
        cookie = log_in(ctx, client)
        old_csrf = csrf(client.get("/timeline").text)
    path = node.home / SESSION_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert cookie not in text and old_csrf not in text
    (row,) = json.loads(text)["sessions"]
    assert set(row) == {"sha256", "created_ms", "last_used_ms"}

    node.now[0] += 3600
    with restarted(node, cookie) as again:
        page = again.get("/timeline")
        assert page.status_code == 200
        fresh = csrf(page.text)
        assert fresh != old_csrf  # a loaded session gets a new CSRF token
        stale = again.post("/post", data={"csrf": old_csrf, "text": "x"}, headers=ORIGIN)
        assert stale.status_code == 403
        posted = again.post(
            "/post",
            data={"csrf": fresh, "text": "after a restart"},
            headers=ORIGIN,
            follow_redirects=False,
        )
        assert posted.status_code == 303
    with restarted(node, "not-a-session") as stranger:
        assert stranger.get("/timeline").status_code == 401


def test_idle_and_old_sessions_end_and_leave_the_file(node: Node) -> None:
    ctx, client = node.app()
    with client:
        idle = log_in(ctx, client)
    node.now[0] += SESSION_IDLE_S + 1
    with restarted(node, idle) as again:
        assert again.get("/timeline").status_code == 401
    assert json.loads((node.home / SESSION_FILE).read_text())["sessions"] == []

    ctx, client = node.app()
    with client:
        used = log_in(ctx, client)
    for _ in range(int(SESSION_MAX_AGE_S // (SESSION_IDLE_S / 2))):  # used often, never idle
        node.now[0] += SESSION_IDLE_S / 2
        with restarted(node, used) as again:
            answer = again.get("/timeline")
    assert answer.status_code == 401  # the absolute expiry, however often it was used
    node.now[0] += SESSION_TOUCH_S
    node.app()  # expired sessions are dropped at load
    assert json.loads((node.home / SESSION_FILE).read_text())["sessions"] == []


def test_ending_a_session_and_logging_out_remove_it_from_the_file(node: Node) -> None:
    ctx, client = node.app()
    other = TestClient(client.app, base_url=BASE, backend="trio")
    with client, other:
        mine = log_in(ctx, client)
        theirs = log_in(ctx, other)
        assert len(json.loads((node.home / SESSION_FILE).read_text())["sessions"]) == 2
        token = csrf(client.get("/sessions").text)
        mine_id, theirs_id = (hashlib.sha256(c.encode()).hexdigest()[:12] for c in (mine, theirs))
        ended = client.post("/sessions/end", data={"csrf": token, "id": theirs_id}, headers=ORIGIN)
        assert ended.status_code == 200
        rows = json.loads((node.home / SESSION_FILE).read_text())["sessions"]
        assert [r["sha256"][:12] for r in rows] == [mine_id]
        client.post("/logout", data={"csrf": token}, headers=ORIGIN)
        assert json.loads((node.home / SESSION_FILE).read_text())["sessions"] == []
    with restarted(node, mine) as again:
        assert again.get("/timeline").status_code == 401
