"""The web app in process (Starlette's TestClient, trio backend, no sockets): the request guard,
tokens and their scopes, login codes and sessions, the JSON API over a real store, and escaping."""

from __future__ import annotations

from starlette.testclient import TestClient

from pnyx.core.limits import MAX_TEXT_BYTES
from pnyx.crypto.keytext import encode_public_key
from pnyx.web.context import WebContext
from pnyx.web.guard import CONTENT_SECURITY_POLICY
from tests.store_helpers import key, pub
from tests.web_kit import ORIGIN, PORT, bearer, client, ctx, login

__all__ = ["client", "ctx"]  # the kit's fixtures


def test_no_token_is_401_and_the_error_is_json(client: TestClient) -> None:
    response = client.get("/api/v1/timeline")
    assert response.status_code == 401
    assert "error" in response.json()


def test_a_foreign_host_is_refused(ctx: WebContext, client: TestClient) -> None:
    headers = {**bearer(ctx, "read"), "Host": f"evil.example:{PORT}"}
    assert client.get("/api/v1/timeline", headers=headers).status_code == 403
    assert client.get("/timeline", headers={"Host": "127.0.0.1:9"}).status_code == 403
    for host in (f"localhost:{PORT}", f"[::1]:{PORT}"):
        assert client.get("/api/v1/timeline", headers={**headers, "Host": host}).status_code == 200


def test_a_foreign_origin_cannot_post(ctx: WebContext, client: TestClient) -> None:
    headers = {**bearer(ctx, "read", "write"), "Origin": "http://evil.example"}
    response = client.post("/api/v1/posts", json={"text": "hi"}, headers=headers)
    assert response.status_code == 403
    cross = {**bearer(ctx, "write"), "Sec-Fetch-Site": "cross-site"}
    assert client.post("/api/v1/posts", json={"text": "hi"}, headers=cross).status_code == 403
    assert ctx.store.timeline(ctx.me).items == []


def test_api_writes_must_be_json(ctx: WebContext, client: TestClient) -> None:
    headers = bearer(ctx, "write")
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = client.post(
            "/api/v1/posts",
            content=b'{"text": "hi"}',
            headers={**headers, "Content-Type": content_type},
        )
        assert response.status_code == 415, content_type
        assert "error" in response.json()


def test_post_via_api_then_the_timeline_shows_it(ctx: WebContext, client: TestClient) -> None:
    headers = {**bearer(ctx, "read", "write"), **ORIGIN}
    created = client.post("/api/v1/posts", json={"text": "hello web"}, headers=headers)
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["text"] == "hello web" and post["author"] == encode_public_key(ctx.me)
    reply = client.post(
        "/api/v1/posts", json={"text": "a reply", "reply_to": post["id"]}, headers=headers
    )
    assert reply.status_code == 201 and reply.json()["parent"] == post["id"]
    timeline = client.get("/api/v1/timeline", headers=headers).json()
    assert [item["text"] for item in timeline["items"]] == ["a reply", "hello web"]
    thread = client.get(f"/api/v1/thread/{post['id']}", headers=headers).json()["items"]
    assert [(item["text"], item["depth"]) for item in thread] == [("hello web", 0), ("a reply", 1)]
    assert client.post("/api/v1/likes", json={"id": post["id"]}, headers=headers).status_code == 201
    again = client.post("/api/v1/likes", json={"id": post["id"]}, headers=headers)
    assert again.status_code == 400 and "already liked" in again.json()["error"]
    assert (
        client.post("/api/v1/reposts", json={"id": post["id"]}, headers=headers).status_code == 201
    )
    assert client.delete(f"/api/v1/posts/{post['id']}", headers=headers).status_code == 201
    timeline = client.get("/api/v1/timeline", headers=headers).json()
    assert [item["text"] for item in timeline["items"] if item["kind"] == "post"] == ["a reply"]
    (repost,) = [item for item in timeline["items"] if item["kind"] == "repost"]
    assert repost["reposted_state"] == "deleted" and repost["reposted"] is None
    login(ctx, client)
    page = client.get("/timeline").text
    assert "reposted" in page and "a post its author deleted" in page


def test_api_errors(ctx: WebContext, client: TestClient) -> None:
    headers = bearer(ctx, "read", "write")
    too_long = client.post("/api/v1/posts", json={"text": "é" * MAX_TEXT_BYTES}, headers=headers)
    assert too_long.status_code == 400 and "bytes" in too_long.json()["error"]
    assert client.get(f"/api/v1/thread/{'ab' * 32}", headers=headers).status_code == 404
    assert client.post("/api/v1/posts", json=["text"], headers=headers).status_code == 400
    bad_key = client.post("/api/v1/follows", json={"key": "pnyx1nope"}, headers=headers)
    assert bad_key.status_code == 400
    follow = client.post(
        "/api/v1/follows", json={"key": encode_public_key(pub(key(2)))}, headers=headers
    )
    assert follow.status_code == 201 and follow.json()["kind"] == "follow"


def test_token_scopes_are_enforced(ctx: WebContext, client: TestClient) -> None:
    reader = bearer(ctx, "read")
    assert client.get("/api/v1/timeline", headers=reader).status_code == 200
    response = client.post("/api/v1/posts", json={"text": "x"}, headers=reader)
    assert response.status_code == 403 and "write" in response.json()["error"]
    writer = bearer(ctx, "write")
    assert client.get("/api/v1/timeline", headers=writer).status_code == 403
    assert client.post("/api/v1/posts", json={"text": "x"}, headers=writer).status_code == 201


def test_a_revoked_token_is_refused(ctx: WebContext, client: TestClient) -> None:
    record, token = ctx.tokens.create(("read",), "old", 0)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/timeline", headers=headers).status_code == 200
    ctx.tokens.revoke(record.id)
    assert client.get("/api/v1/timeline", headers=headers).status_code == 401
    assert (
        client.get("/api/v1/timeline", headers={"Authorization": "Bearer nope"}).status_code == 401
    )


def test_the_token_file_keeps_only_hashes(ctx: WebContext) -> None:
    _, token = ctx.tokens.create(("read",), "n", 0)
    assert token not in ctx.tokens.path.read_text()
    assert ctx.tokens.path.stat().st_mode & 0o777 == 0o600


def test_a_login_code_works_once(ctx: WebContext, client: TestClient) -> None:
    code = ctx.codes.issue()
    assert client.get(f"/login?code={code}", follow_redirects=False).status_code == 303
    client.cookies.clear()
    assert client.get(f"/login?code={code}", follow_redirects=False).status_code == 403
    assert client.get("/login?code=made-up", follow_redirects=False).status_code == 403
    assert client.get("/timeline").status_code == 401


def test_pages_escape_text_from_others_and_send_the_csp(
    ctx: WebContext, client: TestClient
) -> None:
    csrf = login(ctx, client)
    text = "<script>alert(1)</script> & <b>bold</b>"
    response = client.post(
        "/post",
        data={"csrf": csrf, "text": text, "next": "/timeline"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/timeline"
    page = client.get("/timeline")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page.text
    assert "<script>" not in page.text.replace('<script src="/static/app.js" defer></script>', "")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in page.headers
    assert (
        client.get("/static/app.js").headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    )


def test_form_posts_need_the_csrf_token(ctx: WebContext, client: TestClient) -> None:
    login(ctx, client)
    response = client.post("/post", data={"csrf": "wrong", "text": "x"}, headers=ORIGIN)
    assert response.status_code == 403
    api = client.post("/api/v1/posts", json={"text": "x"}, headers=ORIGIN)
    assert api.status_code == 403  # a session's API write needs X-CSRF-Token
    assert ctx.store.timeline(ctx.me).items == []


def test_follow_page_shows_a_bad_key_inline(ctx: WebContext, client: TestClient) -> None:
    csrf = login(ctx, client)
    response = client.post("/follow", data={"csrf": csrf, "key": "pnyx1<b>x"}, headers=ORIGIN)
    assert response.status_code == 400
    assert 'class="error"' in response.text and 'value="pnyx1&lt;b&gt;x"' in response.text
    good = encode_public_key(pub(key(3)))
    response = client.post(
        "/follow",
        data={"csrf": csrf, "key": good, "next": "/timeline"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert ctx.store.following(ctx.me) == [pub(key(3))]


def test_the_thread_page_indents_replies(ctx: WebContext, client: TestClient) -> None:
    csrf = login(ctx, client)
    client.post("/post", data={"csrf": csrf, "text": "root"}, headers=ORIGIN)
    root = ctx.store.timeline(ctx.me).items[0].message.id.hex()
    client.post("/post", data={"csrf": csrf, "text": "child", "reply_to": root}, headers=ORIGIN)
    page = client.get(f"/thread/{root}")
    assert page.status_code == 200
    assert 'class="message depth-0"' in page.text and 'class="message depth-1"' in page.text


def test_openapi_lists_every_route(client: TestClient) -> None:
    from pnyx.web.api import PREFIX, ROUTES

    spec = client.get("/api/v1/openapi.json").json()
    listed = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert listed == {(method, PREFIX + path) for method, path, _, _ in ROUTES}


def test_origin_null_and_cors_preflights_are_refused(ctx: WebContext, client: TestClient) -> None:
    headers = {**bearer(ctx, "write"), "Origin": "null"}  # a sandboxed frame, a data: page
    assert client.post("/api/v1/posts", json={"text": "x"}, headers=headers).status_code == 403
    preflight = client.options(
        "/api/v1/posts",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403
    assert not any(name.startswith("access-control-") for name in preflight.headers)


def test_a_session_writes_through_the_api_with_its_csrf_header(
    ctx: WebContext, client: TestClient
) -> None:
    csrf = login(ctx, client)
    response = client.post(
        "/api/v1/posts", json={"text": "from the page"}, headers={**ORIGIN, "X-CSRF-Token": csrf}
    )
    assert response.status_code == 201
    assert client.get("/api/v1/timeline").json()["items"][0]["text"] == "from the page"
    assert client.get("/login?code=", follow_redirects=False).status_code == 403
