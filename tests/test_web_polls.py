"""Polls on the web, in process: the polls page (ask form, cards with bars and counts, the
user's vote marked), asking and voting through the forms (refusals inline, 400), the poll's page
with its "why" lines, escaping of a hostile question, CSRF, and the API (scopes, errors, 409 for
the same vote again, the OpenAPI document)."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from pnyx import ops
from pnyx.clock import wall_clock_ms
from pnyx.ops.polls import create_poll, vote
from pnyx.web.context import WebContext
from tests.store_helpers import key
from tests.web_kit import ORIGIN, bearer, client, ctx, login

HOSTILE = '<script>alert("x")</script>'
BOB = key(2)

__all__ = ["client", "ctx"]  # the kit's fixtures


def _ask(client: TestClient, csrf: str, question: str, *options: str, **extra: str) -> Any:
    form = {"csrf": csrf, "question": question, "open_for": "1d", **extra}
    for i, option in enumerate(options):
        form[f"option{i}"] = option
    return client.post("/polls", data=form, headers=ORIGIN, follow_redirects=False)


def test_ask_vote_and_see_the_bar(ctx: WebContext, client: TestClient) -> None:
    csrf = login(ctx, client)
    page = client.get("/polls")
    assert page.status_code == 200 and 'href="/polls"' in page.text and "No polls held" in page.text
    done = _ask(client, csrf, "Tea or coffee?", "tea", "", "coffee")
    assert done.status_code == 303
    where = done.headers["location"]
    poll_id = where.rsplit("/", 1)[1]
    page = client.get("/polls")
    assert "Tea or coffee?" in page.text and 'type="radio"' in page.text
    assert page.text.count('name="choice"') == 2  # the empty option left out
    assert "0 for you · 0 everyone" in page.text and "open until" in page.text
    voted = client.post(
        f"/polls/{poll_id}/vote",
        data={"csrf": csrf, "choice": "1", "next": "/polls"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert voted.status_code == 303 and voted.headers["location"] == "/polls"
    page = client.get("/polls").text
    assert "1 for you · 1 everyone" in page and "your vote" in page
    assert '<meter min="0" max="1" value="1.0"' in page and " style=" not in page
    again = client.post(
        f"/polls/{poll_id}/vote", data={"csrf": csrf, "choice": "1"}, headers=ORIGIN
    )
    assert again.status_code == 400 and "already voted" in again.text
    assert "Traceback" not in again.text
    one = client.get(where)
    assert one.status_code == 200 and "1 voter counted" in one.text
    assert f'href="/api/v1/polls/{poll_id}"' in one.text


def test_refusals_are_inline(ctx: WebContext, client: TestClient) -> None:
    csrf = login(ctx, client)
    few = _ask(client, csrf, "Only one?", "yes")
    assert few.status_code == 400
    text = few.text
    assert "2 to 12 options" in text and "Only one?" in text and 'value="yes"' in text
    bad = _ask(client, csrf, "When?", "a", "b", open_for="9y")
    assert bad.status_code == 400 and "open for one of" in bad.text
    same = _ask(client, csrf, "Same?", "a", "a")
    assert same.status_code == 400 and "the same" in same.text
    forged = client.post(
        "/polls",
        data={"csrf": "nope", "question": "q", "option0": "a", "option1": "b"},
        headers=ORIGIN,
    )
    assert forged.status_code == 403
    poll = create_poll(ctx.store, key(1), "one choice", ["a", "b"])
    pid = poll.id.hex()
    for data, words in (
        ({}, "choose an option"),
        ({"choice": ["0", "1"]}, "one choice"),
        ({"choice": "7"}, "options 1 to 2"),
        ({"choice": "x"}, "number of an option"),
    ):
        refused = client.post(f"/polls/{pid}/vote", data={"csrf": csrf, **data}, headers=ORIGIN)
        assert refused.status_code == 400 and words in refused.text, (data, refused.text)
    hour_ago = wall_clock_ms() - 3_600_000
    closed = create_poll(ctx.store, BOB, "closed", ["a", "b"], open_ms=60_000, now_ms=hour_ago)
    page = client.get(f"/polls/{closed.id.hex()}").text
    assert "closed" in page and 'name="choice"' not in page
    late = client.post(
        f"/polls/{closed.id.hex()}/vote", data={"csrf": csrf, "choice": "0"}, headers=ORIGIN
    )
    assert late.status_code == 400 and "is closed" in late.text
    assert client.get("/polls/" + "ab" * 32).status_code == 404


def test_multiple_choice_and_escaping(ctx: WebContext, client: TestClient) -> None:
    ops.profile(ctx.store, BOB, name=HOSTILE)
    poll = create_poll(ctx.store, BOB, HOSTILE, [HOSTILE, "b", "c"], multiple=True)
    csrf = login(ctx, client)
    page = client.get("/polls").text
    assert HOSTILE not in page and "&lt;script&gt;" in page and 'type="checkbox"' in page
    done = client.post(
        f"/polls/{poll.id.hex()}/vote",
        data={"csrf": csrf, "choice": ["0", "2"]},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get(f"/polls/{poll.id.hex()}").text
    assert HOSTILE not in page
    assert len(re.findall(r'value="(\d)" checked', page)) == 2


def test_the_api(ctx: WebContext, client: TestClient) -> None:
    reader = bearer(ctx, "read")
    writer = {**bearer(ctx, "write"), **ORIGIN}
    body = {"question": "Q?", "options": ["a", "b"], "multiple": False, "open_for": "3d"}
    assert client.post("/api/v1/polls", json=body, headers={**reader, **ORIGIN}).status_code == 403
    assert client.post("/api/v1/polls", json=body, headers=ORIGIN).status_code == 401
    made = client.post("/api/v1/polls", json=body, headers=writer)
    assert made.status_code == 201 and made.json()["kind"] == "poll"
    pid = made.json()["id"]
    for bad in (
        {**body, "options": "a"},
        {**body, "multiple": "yes"},
        {**body, "open_for": "soon"},
        {**body, "options": ["a"]},
    ):
        refused = client.post("/api/v1/polls", json=bad, headers=writer)
        assert refused.status_code == 400 and "error" in refused.json()
    url = f"/api/v1/polls/{pid}/vote"
    assert client.post(url, json={"choices": [1]}, headers={**reader, **ORIGIN}).status_code == 403
    assert client.post(url, json={"choices": [1]}, headers=writer).status_code == 201
    assert client.post(url, json={"choices": [1]}, headers=writer).status_code == 409
    assert client.post(url, json={"choices": [5]}, headers=writer).status_code == 400
    assert client.post(url, json={"choices": [True]}, headers=writer).status_code == 400
    assert client.post(url, json={"choices": "1"}, headers=writer).status_code == 400
    vote(ctx.store, BOB, pid, [0])
    one = client.get(f"/api/v1/polls/{pid}", headers=reader).json()
    assert one["mine"] == [1] and one["voters"] == 2 and one["options"][1]["for_you"] == 1
    assert one["options"][0]["everyone"] == 1 and one["why"]
    listed = client.get("/api/v1/polls", headers=reader).json()
    assert [p["id"] for p in listed["polls"]] == [pid] and listed["next"] is None
    assert client.get("/api/v1/polls", headers=bearer(ctx, "write")).status_code == 403
    assert client.get("/api/v1/polls/" + "ab" * 32, headers=reader).status_code == 404
    spec = client.get("/api/v1/openapi.json").json()["paths"]
    assert spec["/api/v1/polls"]["get"]["security"] == [{"bearer": ["read"]}]
    assert spec["/api/v1/polls"]["post"]["security"] == [{"bearer": ["write"]}]
    assert spec["/api/v1/polls/{id}/vote"]["post"]["security"] == [{"bearer": ["write"]}]
