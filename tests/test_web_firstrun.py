"""The first-run app (``pnyx.web.firstrun``) in process: the login code and session, the
guard's refusals, the CSRF check, the passphrase's inline refusals (nothing written), and the
key file it writes (encrypted with a passphrase, plain without, mode 0600); and ``pnyx run``
without the UI and without an identity still says to run ``pnyx init``."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from pnyx.crypto.keyfile import is_encrypted, load_identity, read_public_key
from pnyx.web.firstrun import (
    MAX_PASSPHRASE_BYTES,
    FirstRunContext,
    build_first_run_app,
    checked_passphrase,
)
from pnyx.web.sessions import SESSION_FILE, Sessions
from tests.netharness import cli

PORT = 4718
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def ctx(tmp_path: Path) -> FirstRunContext:
    return FirstRunContext(
        key_path=tmp_path / "identity.key", sessions=Sessions(tmp_path / SESSION_FILE), port=PORT
    )


@pytest.fixture
def client(ctx: FirstRunContext) -> Iterator[TestClient]:
    with TestClient(build_first_run_app(ctx), base_url=BASE, backend="trio") as test_client:
        yield test_client


def login(ctx: FirstRunContext, client: TestClient) -> str:
    """Log in with a fresh code; returns the create page's CSRF token."""
    response = client.get(f"/login?code={ctx.codes.issue()}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/first-run"
    assert "HttpOnly" in response.headers["set-cookie"]
    page = client.get("/first-run")
    assert page.status_code == 200 and "Create your identity" in page.text
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def create(client: TestClient, csrf: str, passphrase: str, confirm: str) -> httpx.Response:
    response: httpx.Response = client.post(
        "/first-run",
        data={"csrf": csrf, "passphrase": passphrase, "confirm": confirm},
        headers={"Origin": BASE},
    )
    return response


def test_without_a_session_the_pages_answer_401(client: TestClient) -> None:
    assert client.get("/first-run").status_code == 401
    assert client.post("/first-run", data={"csrf": "x"}).status_code == 401
    assert client.get("/welcome", follow_redirects=False).status_code == 303


def test_a_wrong_login_code_is_refused_and_a_code_works_once(
    ctx: FirstRunContext, client: TestClient
) -> None:
    assert client.get("/login?code=nope").status_code == 403
    code = ctx.codes.issue()
    assert client.get(f"/login?code={code}", follow_redirects=False).status_code == 303
    assert client.get(f"/login?code={code}", follow_redirects=False).status_code == 403


def test_a_foreign_host_or_origin_and_a_wrong_csrf_token_are_refused(
    ctx: FirstRunContext, client: TestClient
) -> None:
    csrf = login(ctx, client)
    assert client.get("/first-run", headers={"Host": "evil.example:4718"}).status_code == 403
    refused = client.post(
        "/first-run",
        data={"csrf": csrf, "passphrase": "", "confirm": ""},
        headers={"Origin": "http://evil.example"},
    )
    assert refused.status_code == 403
    wrong = client.post("/first-run", data={"csrf": "wrong", "passphrase": "", "confirm": ""})
    assert wrong.status_code == 403
    assert not ctx.key_path.exists()
    page = client.get("/first-run")
    assert "script-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("passphrase", "confirm", "shown"),
    [
        ("secret-one", "secret-two", "differ"),
        ("", "secret-two", "type a passphrase"),
        ("x" * (MAX_PASSPHRASE_BYTES + 1),) * 2 + ("at most",),
    ],
)
def test_a_refused_passphrase_is_shown_inline_and_nothing_is_written(
    ctx: FirstRunContext, client: TestClient, passphrase: str, confirm: str, shown: str
) -> None:
    csrf = login(ctx, client)
    response = create(client, csrf, passphrase, confirm)
    assert response.status_code == 400
    text: str = response.text
    assert shown in text and 'aria-invalid="true"' in text
    assert "secret-" not in text and "x" * MAX_PASSPHRASE_BYTES not in text  # never echoed
    assert not ctx.key_path.exists() and ctx.key is None and not ctx.done.is_set()


def test_a_passphrase_encrypts_the_new_key_file(ctx: FirstRunContext, client: TestClient) -> None:
    csrf = login(ctx, client)
    response = create(client, csrf, "olive grove", "olive grove")
    assert response.status_code == 200
    assert "Starting your node" in response.text
    assert 'data-wait-for="/welcome"' in response.text
    assert ctx.key is not None and not ctx.done.is_set()
    assert is_encrypted(ctx.key_path)
    assert stat.S_IMODE(ctx.key_path.stat().st_mode) == 0o600
    loaded = load_identity(ctx.key_path, b"olive grove")
    assert bytes(loaded) == bytes(ctx.key)
    waiting = client.get("/welcome")
    assert waiting.status_code == 503 and "Starting your node" in waiting.text
    assert ctx.done.is_set()  # the page's script asks: the node may take over
    again = create(client, csrf, "", "")  # a second click changes nothing
    assert again.status_code == 503
    assert bytes(load_identity(ctx.key_path, b"olive grove")) == bytes(ctx.key)


def test_no_passphrase_stores_the_key_plainly(ctx: FirstRunContext, client: TestClient) -> None:
    csrf = login(ctx, client)
    assert create(client, csrf, "", "").status_code == 200
    assert not is_encrypted(ctx.key_path)
    assert stat.S_IMODE(ctx.key_path.stat().st_mode) == 0o600
    assert ctx.key is not None and read_public_key(ctx.key_path) == bytes(ctx.key.verify_key)


def test_an_identity_made_meanwhile_is_kept(ctx: FirstRunContext, client: TestClient) -> None:
    csrf = login(ctx, client)
    code, _, err = cli(ctx.key_path.parent, "init")
    assert code == 0, err
    before = ctx.key_path.read_bytes()
    assert create(client, csrf, "", "").status_code == 200
    assert ctx.key is None and ctx.created  # the node loads the file made elsewhere
    assert ctx.key_path.read_bytes() == before


def test_the_session_is_in_the_home_for_the_node_to_find(
    ctx: FirstRunContext, client: TestClient, tmp_path: Path
) -> None:
    login(ctx, client)
    cookie = client.cookies["pnyx_session"]
    assert Sessions(tmp_path / SESSION_FILE).get(cookie) is not None
    assert cookie not in (tmp_path / SESSION_FILE).read_text()


def test_checked_passphrase() -> None:
    assert checked_passphrase("", "", optional=True) is None
    assert checked_passphrase("é", "é", optional=False) == "é".encode()
    with pytest.raises(Exception, match="type a passphrase"):
        checked_passphrase("", "", optional=False)


def test_run_without_the_ui_and_without_an_identity_says_to_run_init(tmp_path: Path) -> None:
    code, _, err = cli(tmp_path / "home", "run", "--no-ui")
    assert code != 0 and "pnyx init" in err, err
    assert not (tmp_path / "home" / "identity.key").exists()
    code, out, err = cli(tmp_path / "home", "init", "--json")
    assert code == 0 and json.loads(out)["created"] is True, err
