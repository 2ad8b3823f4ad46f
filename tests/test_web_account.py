"""The account pages in process: the welcome walk-through (your key and fingerprint, a display
name, protecting the key file with a passphrase while the node keeps its key, a first follow
with inline errors), log out, and the sessions page."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pnyx import ops
from pnyx.core.display import fingerprint
from pnyx.crypto.keyfile import (
    PassphraseRequiredError,
    is_encrypted,
    load_identity,
    protect_identity,
    save_identity,
)
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import KeyFileError, UserError
from pnyx.web.app import build_app
from pnyx.web.context import SESSION_COOKIE, WebContext
from tests.store_helpers import key, pub
from tests.web_kit import BASE, ORIGIN, client, ctx, login

__all__ = ["client", "ctx"]  # the kit's fixtures

BOB = key(2)
FAST = {"opslimit": 1, "memlimit": 8192}


@pytest.fixture
def key_file(ctx: WebContext, tmp_path: Path) -> Path:
    assert ctx.key is not None
    path = tmp_path / "identity.key"
    save_identity(path, ctx.key, None)
    ctx.key_path = path
    return path


def _welcome(client: TestClient, csrf: str, **fields: str) -> object:
    return client.post(
        "/welcome", data={"csrf": csrf, **fields}, headers=ORIGIN, follow_redirects=False
    )


def test_welcome_shows_the_identity_and_sets_a_name(ctx: WebContext, client: TestClient) -> None:
    csrf = login(ctx, client)
    assert 'href="/welcome"' in client.get("/timeline").text  # the onboarding box links it
    page = client.get("/welcome")
    assert page.status_code == 200
    assert encode_public_key(ctx.me) in page.text and fingerprint(ctx.me) in page.text
    assert 'data-copy="welcome-key"' in page.text and "pnyx init" in page.text
    done = client.post(
        "/welcome",
        data={"csrf": csrf, "step": "name", "name": "Aspasia"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/welcome?done=name")
    profile = ctx.store.profile(ctx.me)
    assert profile is not None and profile.name == "Aspasia"
    bad = client.post(
        "/welcome", data={"csrf": csrf, "step": "name", "name": "x" * 500}, headers=ORIGIN
    )
    assert bad.status_code == 400 and 'id="name-error"' in bad.text
    forged = client.post("/welcome", data={"csrf": "nope", "step": "name", "name": "Eve"})
    assert forged.status_code == 403


def test_welcome_follows_a_first_person_with_inline_errors(
    ctx: WebContext, client: TestClient
) -> None:
    csrf = login(ctx, client)
    bad = client.post(
        "/welcome", data={"csrf": csrf, "step": "follow", "key": "pnyx1<b>nope"}, headers=ORIGIN
    )
    assert bad.status_code == 400 and 'id="follow-error"' in bad.text
    assert "pnyx1&lt;b&gt;nope" in bad.text and "<b>nope" not in bad.text  # typed, escaped
    me = client.post(
        "/welcome",
        data={"csrf": csrf, "step": "follow", "key": encode_public_key(ctx.me)},
        headers=ORIGIN,
    )
    assert me.status_code == 400 and 'id="follow-error"' in me.text
    good = client.post(
        "/welcome",
        data={"csrf": csrf, "step": "follow", "key": encode_public_key(pub(BOB))},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert good.status_code == 303 and ctx.store.following(ctx.me) == [pub(BOB)]
    assert "You follow 1 person" in client.get("/welcome?done=follow").text


def test_welcome_protects_the_key_file_and_the_node_keeps_signing(
    ctx: WebContext, client: TestClient, key_file: Path
) -> None:
    csrf = login(ctx, client)
    page = client.get("/welcome")
    assert 'name="passphrase"' in page.text and "stored unencrypted" in page.text
    differ = client.post(
        "/welcome",
        data={"csrf": csrf, "step": "passphrase", "passphrase": "a", "confirm": "b"},
        headers=ORIGIN,
    )
    assert differ.status_code == 400 and "differ" in differ.text and not is_encrypted(key_file)
    secret = "correct horse battery"
    done = client.post(
        "/welcome",
        data={"csrf": csrf, "step": "passphrase", "passphrase": secret, "confirm": secret},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert done.status_code == 303 and is_encrypted(key_file)
    assert secret not in key_file.read_text()
    with pytest.raises(PassphraseRequiredError):
        load_identity(key_file, None)
    assert ctx.key is not None and load_identity(key_file, secret.encode()).encode() == (
        ctx.key.encode()
    )
    after = client.get("/welcome?done=passphrase")
    assert "now encrypted" in after.text and 'name="passphrase"' not in after.text
    assert "protected by a passphrase" in client.get("/welcome").text
    posted = client.post("/post", data={"csrf": csrf, "text": "still signing"}, headers=ORIGIN)
    assert posted.status_code == 200  # the running node keeps the key it loaded


def test_protect_identity_refuses_another_key_and_a_second_time(tmp_path: Path) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, key(1), None)
    with pytest.raises(KeyFileError):
        protect_identity(path, key(2), b"pw", **FAST)
    with pytest.raises(UserError):
        protect_identity(path, key(1), b"", **FAST)
    protect_identity(path, key(1), b"pw", **FAST)
    with pytest.raises(UserError, match="already"):
        protect_identity(path, key(1), b"other", **FAST)
    assert load_identity(path, b"pw").encode() == key(1).encode()


def test_read_only_ui_offers_no_forms(ctx: WebContext, client: TestClient) -> None:
    ctx.key = None
    login(ctx, client)
    page = client.get("/welcome")
    assert "read-only" in page.text and 'name="passphrase"' not in page.text


def test_log_out_ends_the_session_and_clears_the_cookie(
    ctx: WebContext, client: TestClient
) -> None:
    csrf = login(ctx, client)
    assert 'action="/logout"' in client.get("/timeline").text
    assert client.post("/logout", data={"csrf": "wrong"}, headers=ORIGIN).status_code == 403
    assert client.get("/timeline").status_code == 200  # a refused log-out changed nothing
    out = client.post("/logout", data={"csrf": csrf}, headers=ORIGIN, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/logged-out"
    cookie = out.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in cookie
    assert ctx.sessions.active() == []
    assert client.get("/logged-out").status_code == 200
    assert client.get("/timeline").status_code == 401


def test_sessions_page_lists_marks_and_ends_sessions(ctx: WebContext, client: TestClient) -> None:
    ops.post(ctx.store, BOB, "hi")
    csrf = login(ctx, client)
    with TestClient(build_app(ctx), base_url=BASE, backend="trio") as other:
        login(ctx, other)
        page = client.get("/sessions")
        assert page.status_code == 200
        mine, theirs = (s.id for s in ctx.sessions.active()[::-1])
        assert page.text.count('action="/sessions/end"') == 2
        assert f"<code>{mine}</code> <strong>(this browser)</strong>" in page.text
        assert f"<code>{theirs}</code> <strong>" not in page.text
        forged = client.post("/sessions/end", data={"csrf": "x", "id": theirs}, headers=ORIGIN)
        assert forged.status_code == 403 and other.get("/timeline").status_code == 200
        ended = client.post(
            "/sessions/end",
            data={"csrf": csrf, "id": theirs},
            headers=ORIGIN,
            follow_redirects=False,
        )
        assert ended.status_code == 303 and ended.headers["location"] == "/sessions"
        assert other.get("/timeline").status_code == 401
        gone = client.post("/sessions/end", data={"csrf": csrf, "id": theirs}, headers=ORIGIN)
        assert gone.status_code == 404
    own = client.post(
        "/sessions/end", data={"csrf": csrf, "id": mine}, headers=ORIGIN, follow_redirects=False
    )
    assert own.headers["location"] == "/logged-out" and client.get("/timeline").status_code == 401
