"""Labels on the web, in process: the Labels page (subscribe with actions, refusals inline,
remove), the thread page's "Label" form (a label and its retraction, CSRF), a warned post behind
a <details> "Warning: VALUE (by NAME)" on the thread and timeline (names escaped), and the API
(scopes, 409, OpenAPI)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from pnyx import ops
from pnyx.crypto.keytext import encode_public_key
from pnyx.web.context import WebContext
from tests.store_helpers import key, pub
from tests.web_kit import ORIGIN, bearer, client, ctx, login

HOSTILE = '<script>alert("x")</script>'
BOB, CAROL = key(2), key(3)

__all__ = ["client", "ctx"]  # the kit's fixtures


def text_of(k: Any) -> str:
    return encode_public_key(pub(k))


def test_the_labels_page_subscribes_and_removes(ctx: WebContext, client: TestClient) -> None:
    refreshed: list[int] = []

    async def refresh() -> None:  # the node reloads its interest set: the labeller is fetched
        refreshed.append(1)

    ctx.refresh_interest = refresh
    ops.profile(ctx.store, CAROL, name=HOSTILE)
    csrf = login(ctx, client)
    page = client.get("/labels")
    assert page.status_code == 200 and "You subscribe to no labeller" in page.text
    assert 'href="/labels"' in client.get("/mutes").text
    form = {"csrf": csrf, "key": text_of(CAROL), "hide": "nsfw", "warn": "", "ignore": "spam"}
    done = client.post("/labellers", data=form, headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/labels"
    assert refreshed == [1]
    page = client.get("/labels").text
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert "<code>nsfw</code>: hide" in page and "<code>spam</code>: ignore" in page
    bad = client.post("/labellers", data={**form, "key": "pnyx1nope"}, headers=ORIGIN)
    assert (
        bad.status_code == 400 and 'value="pnyx1nope"' in bad.text and 'class="error"' in bad.text
    )
    me = client.post("/labellers", data={**form, "key": text_of(key(1))}, headers=ORIGIN)
    assert me.status_code == 400 and "your own labeller" in me.text
    action = client.post("/labellers", data={**form, "hide": "Bad Value!"}, headers=ORIGIN)
    assert action.status_code == 400
    forged = client.post("/labellers", data={**form, "csrf": "x"}, headers=ORIGIN)
    assert forged.status_code == 403
    gone = client.post(
        "/labellers/remove",
        data={"csrf": csrf, "key": text_of(CAROL)},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert gone.status_code == 303 and refreshed == [1, 1]
    assert "You subscribe to no labeller" in client.get("/labels").text


def test_label_form_and_warnings(ctx: WebContext, client: TestClient) -> None:
    ops.follow(ctx.store, key(1), text_of(BOB))
    post = ops.post(ctx.store, BOB, "a dubious claim").id.hex()
    ops.profile(ctx.store, CAROL, name=HOSTILE)
    ops.label(ctx.store, CAROL, post, "misleading")
    csrf = login(ctx, client)
    thread = client.get(f"/thread/{post}").text
    assert 'action="/label"' in thread and '<option value="!hide">' in thread
    assert '<details class="warned">' not in thread  # Carol is not subscribed to
    ops.subscribe_labeller(ctx.store, pub(key(1)), text_of(CAROL))
    thread = client.get(f"/thread/{post}").text
    assert '<details class="warned">' in thread and "Warning: misleading" in thread
    assert HOSTILE not in thread and "&lt;script&gt;" in thread
    timeline = client.get("/timeline?feed=following").text
    assert '<details class="warned">' in timeline and "a dubious claim" in timeline
    form = {"csrf": csrf, "subject": post, "value": "nsfw", "next": f"/thread/{post}"}
    done = client.post("/label", data=form, headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/thread/{post}"
    thread = client.get(f"/thread/{post}").text
    assert "nsfw (by <bdi>you</bdi>)" in thread
    again = client.post("/label", data=form, headers=ORIGIN, follow_redirects=False)
    assert again.status_code == 303  # labelled so already: just back
    undone = client.post(
        "/label", data={**form, "retract": "on"}, headers=ORIGIN, follow_redirects=False
    )
    assert undone.status_code == 303
    assert "by <bdi>you</bdi>" not in client.get(f"/thread/{post}").text
    bad = client.post("/label", data={**form, "value": "Not A Value"}, headers=ORIGIN)
    assert bad.status_code == 400 and "not a label value" in bad.text
    assert client.post("/label", data={**form, "csrf": "x"}, headers=ORIGIN).status_code == 403


def test_the_api(ctx: WebContext, client: TestClient) -> None:
    reader, writer = bearer(ctx, "read"), {**bearer(ctx, "write"), **ORIGIN}
    moderator = {**bearer(ctx, "moderate"), **ORIGIN}
    body = {"key": text_of(CAROL), "actions": {"nsfw": "hide"}}
    assert client.post("/api/v1/labellers", json=body, headers=writer).status_code == 403
    made = client.post("/api/v1/labellers", json=body, headers=moderator)
    assert made.status_code == 201 and made.json()["actions"]["nsfw"] == "hide"
    listed = client.get("/api/v1/labellers", headers=reader).json()["items"]
    assert [e["key"] for e in listed] == [text_of(CAROL)]
    bad = client.post("/api/v1/labellers", json={**body, "actions": [1]}, headers=moderator)
    assert bad.status_code == 400
    url = f"/api/v1/labellers/{text_of(CAROL)}"
    assert client.delete(url, headers=writer).status_code == 403
    assert client.delete(url, headers=moderator).status_code == 201
    assert client.delete(url, headers=moderator).status_code == 409
    post = ops.post(ctx.store, BOB, "x").id.hex()
    label = {"subject": post, "value": "spam"}
    assert client.post("/api/v1/labels", json=label, headers=writer).status_code == 403
    done = client.post("/api/v1/labels", json=label, headers=moderator)
    assert done.status_code == 201 and done.json()["kind"] == "label"
    assert client.post("/api/v1/labels", json=label, headers=moderator).status_code == 409
    retract = client.post("/api/v1/labels", json={**label, "retract": True}, headers=moderator)
    assert retract.status_code == 201
    wrong = client.post("/api/v1/labels", json={**label, "retract": "y"}, headers=moderator)
    assert wrong.status_code == 400
    spec = client.get("/api/v1/openapi.json").json()["paths"]
    assert spec["/api/v1/labels"]["post"]["security"] == [{"bearer": ["moderate"]}]
    assert spec["/api/v1/labellers"]["get"]["security"] == [{"bearer": ["read"]}]
    assert spec["/api/v1/labellers/{key}"]["delete"]["security"] == [{"bearer": ["moderate"]}]
