"""Community notes on the web, in process: the thread page's notes sections (add a note, rate
one, the refusals inline and never a traceback, CSRF), escaping of a hostile note and author
name, the "Readers added context" box on the timeline, a ranked feed and the thread only for a
note helpful to the user (two camps of raters the user follows), one model fit per page, and the
API (scopes, errors, 409 for the same rating again, the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from pnyx import ops
from pnyx.clock import wall_clock_ms
from pnyx.notes.score import fit
from pnyx.ops.notes import write_note
from pnyx.web.context import WebContext
from tests.store_helpers import Feed, key, pub, rating_camps
from tests.web_kit import ORIGIN, bearer, client, ctx, login

HOSTILE = '<script>alert("x")</script>'
ME, BOB, CAROL = key(1), key(2), key(3)

__all__ = ["client", "ctx"]  # the kit's fixtures


def _post(client: TestClient, path: str, **data: str) -> Any:
    return client.post(path, data=data, headers=ORIGIN, follow_redirects=False)


def test_add_and_rate_notes_from_the_thread(ctx: WebContext, client: TestClient) -> None:
    csrf = login(ctx, client)
    pid = ops.post(ctx.store, BOB, "The moon is made of cheese.").id.hex()
    page = client.get(f"/thread/{pid}").text
    assert f'id="notes-{pid}"' in page and "No notes on this post yet." in page
    assert 'action="/notes"' in page and "Add a note" in page and 'data-max-bytes="1024"' in page
    done = _post(client, "/notes", csrf=csrf, post=pid, text="It is rock.", misleading="no")
    assert done.status_code == 303 and done.headers["location"] == f"/thread/{pid}#notes-{pid}"
    page = client.get(f"/thread/{pid}").text
    assert "It is rock." in page and "says the post is not misleading" in page
    assert "Your note: others rate it." in page and 'action="/notes"' not in page
    assert "needs more ratings" in page and "of the 5 ratings a status needs" in page
    again = _post(client, "/notes", csrf=csrf, post=pid, text="Again.")
    assert again.status_code == 400 and "already" in again.text and "Traceback" not in again.text
    assert 'role="alert"' in again.text
    mine = ops.post(ctx.store, ME, "my own claim").id.hex()
    assert 'action="/notes"' not in client.get(f"/thread/{mine}").text
    own = _post(client, "/notes", csrf=csrf, post=mine, text="about me")
    assert own.status_code == 400 and "not on your own post" in own.text
    other = ops.post(ctx.store, BOB, "another claim").id.hex()
    empty = _post(client, "/notes", csrf=csrf, post=other, text="  ")
    assert empty.status_code == 400 and "Traceback" not in empty.text
    long = _post(client, "/notes", csrf=csrf, post=other, text="kept " + "x" * 1100)
    assert long.status_code == 400 and "kept xxx" in long.text  # what was typed stays
    bad = _post(client, "/notes", csrf=csrf, post=other, text="t", misleading="maybe")
    assert bad.status_code == 400 and "misleading: yes or no" in bad.text
    forged = _post(client, "/notes", csrf="nope", post=other, text="t")
    assert forged.status_code == 403

    nid = write_note(ctx.store, CAROL, pid, "It is rock and dust.").id.hex()
    rated = _post(client, f"/notes/{nid}/rating", csrf=csrf, helpful="somewhat")
    assert rated.status_code == 303 and rated.headers["location"].endswith(f"#notes-{pid}")
    page = client.get(f"/thread/{pid}").text
    assert "You rated it: somewhat" in page and 'value="somewhat" checked' in page
    same = _post(client, f"/notes/{nid}/rating", csrf=csrf, helpful="somewhat")
    assert same.status_code == 400 and "already" in same.text and "Traceback" not in same.text
    assert _post(client, f"/notes/{nid}/rating", csrf=csrf, helpful="no").status_code == 303
    meh = _post(client, f"/notes/{nid}/rating", csrf=csrf, helpful="meh")
    assert meh.status_code == 400 and "yes, somewhat or no" in meh.text
    my_note = client.get(f"/api/v1/notes/{pid}", headers=bearer(ctx, "read")).json()["notes"]
    own_id = next(n["id"] for n in my_note if n["text"] == "It is rock.")
    self_rate = _post(client, f"/notes/{own_id}/rating", csrf=csrf, helpful="yes")
    assert self_rate.status_code == 400 and "your own note" in self_rate.text
    assert _post(client, f"/notes/{nid}/rating", csrf="x", helpful="yes").status_code == 403
    assert _post(client, f"/notes/{pid}/rating", csrf=csrf, helpful="yes").status_code == 404
    assert _post(client, f"/notes/{'ab' * 32}/rating", csrf=csrf, helpful="yes").status_code == 404
    go = client.get(f"/notes/{pid[:12]}", follow_redirects=False)
    assert go.status_code == 303 and go.headers["location"] == f"/thread/{pid}#notes-{pid}"


def test_a_hostile_note_and_name_are_escaped(ctx: WebContext, client: TestClient) -> None:
    login(ctx, client)
    ops.profile(ctx.store, CAROL, name=HOSTILE)
    pid = ops.post(ctx.store, BOB, "a claim").id.hex()
    write_note(ctx.store, CAROL, pid, HOSTILE)
    page = client.get(f"/thread/{pid}").text
    assert HOSTILE not in page and page.count("&lt;script&gt;") >= 2


def _camps(ctx: WebContext) -> str:
    """A post by bob with a "bridge" note both camps of six find helpful and sixteen partisan
    notes (tests/test_notes_store.py), every rater followed by the user: the bridge is helpful."""
    start = wall_clock_ms() - 3_600_000  # ranked feeds rank by the wall clock
    author, writer = Feed(BOB, start), Feed(CAROL, start)
    post = author.post("a claim")
    _, _, raters = rating_camps(writer, post, f"context both accept {HOSTILE}", start)
    everyone = [author, writer, *raters]
    ctx.store.ingest_verified([m for f in everyone for m in f.messages])
    ops.follow(ctx.store, ME, pub(BOB).hex())
    return post.id.hex()


def _follow_raters(ctx: WebContext) -> None:
    for i in [*range(10, 16), *range(20, 26)]:
        ops.follow(ctx.store, ME, pub(key(i)).hex())


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the model fits (``pnyx.reads.notes.fit`` calls)."""
    calls: list[int] = []
    real: Callable[..., Any] = fit

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("pnyx.reads.notes.fit", counted)
    return calls


def test_readers_added_context_only_for_a_helpful_note(
    ctx: WebContext, client: TestClient, fits: list[int]
) -> None:
    login(ctx, client)
    fits.clear()
    assert "Readers added context" not in client.get("/timeline").text
    assert fits == []  # no post of the page has a note: no fit at all
    pid = _camps(ctx)
    page = client.get("/timeline").text
    assert pid in page and "Readers added context" not in page  # nobody the user trusts rated
    _follow_raters(ctx)
    fits.clear()
    for path in ("/timeline", "/timeline?feed=for-you", f"/thread/{pid}"):
        page = client.get(path).text
        assert page.count('<aside class="context"') == 1, path
        assert "context both accept &lt;script&gt;" in page and HOSTILE not in page
        assert f'href="/thread/{pid}#notes-{pid}"' in page
    assert fits == [1, 1, 1]  # one model fit per page
    thread = client.get(f"/thread/{pid}").text
    assert thread.count('class="note status-helpful"') == 1
    assert thread.count('class="note status-needs-more-ratings"') == 16
    assert "raters who usually disagree both found it helpful" in thread


def test_the_api(ctx: WebContext, client: TestClient) -> None:
    reader = bearer(ctx, "read")
    writer = {**bearer(ctx, "write"), **ORIGIN}
    pid = ops.post(ctx.store, BOB, "a claim").id.hex()
    body = {"post": pid, "text": "Context.", "misleading": False}
    assert client.post("/api/v1/notes", json=body, headers={**reader, **ORIGIN}).status_code == 403
    assert client.post("/api/v1/notes", json=body, headers=ORIGIN).status_code == 401
    made = client.post("/api/v1/notes", json=body, headers=writer)
    assert made.status_code == 201 and made.json()["kind"] == "note"
    again = client.post("/api/v1/notes", json=body, headers=writer)
    assert again.status_code == 400 and "already" in again.json()["error"]
    for bad in ({**body, "misleading": "no"}, {**body, "text": 5}, {"text": "x"}):
        assert client.post("/api/v1/notes", json=bad, headers=writer).status_code == 400
    missing = client.post("/api/v1/notes", json={**body, "post": "ab" * 32}, headers=writer)
    assert missing.status_code == 404
    nid = write_note(ctx.store, CAROL, pid, "More context.").id.hex()
    url = f"/api/v1/notes/{nid}/rating"
    yes = {"helpful": "yes"}
    assert client.post(url, json=yes, headers={**reader, **ORIGIN}).status_code == 403
    assert client.post(url, json=yes, headers=writer).status_code == 201
    assert client.post(url, json=yes, headers=writer).status_code == 409
    assert client.post(url, json={"helpful": "meh"}, headers=writer).status_code == 400
    assert client.post(url, json={"helpful": 1}, headers=writer).status_code == 400
    own = f"/api/v1/notes/{made.json()['id']}/rating"
    assert client.post(own, json=yes, headers=writer).status_code == 400
    unknown = client.post(f"/api/v1/notes/{'ab' * 32}/rating", json=yes, headers=writer)
    assert unknown.status_code == 404
    found = client.get(f"/api/v1/notes/{pid}", headers=reader).json()
    assert found["post"] == pid and len(found["notes"]) == 2
    by_id = {n["id"]: n for n in found["notes"]}
    assert by_id[nid]["mine"] == "yes" and by_id[made.json()["id"]]["misleading"] is False
    assert client.get(f"/api/v1/notes/{pid}", headers=bearer(ctx, "write")).status_code == 403
    assert client.get(f"/api/v1/notes/{'ab' * 32}", headers=reader).status_code == 404
    assert client.get(f"/api/v1/notes/{nid}", headers=reader).status_code == 400  # not a post
    spec = client.get("/api/v1/openapi.json").json()["paths"]
    assert spec["/api/v1/notes/{id}"]["get"]["security"] == [{"bearer": ["read"]}]
    assert spec["/api/v1/notes"]["post"]["security"] == [{"bearer": ["write"]}]
    assert spec["/api/v1/notes/{id}/rating"]["post"]["security"] == [{"bearer": ["write"]}]
