"""Published recipes on the web, in process: the JSON API (publish, subscribe, the list, the
OpenAPI routes, scopes, a hostile body refused with the operation's words, an unknown hash 404)
and the feeds page's forms (Publish, Subscribe by hash with inline errors, CSRF), after which the
subscribed feed is in the timeline's switcher."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pnyx.clock import wall_clock_ms
from pnyx.core.kinds.recipe import recipe_hash
from pnyx.crypto.keytext import encode_public_key
from pnyx.store import Store
from pnyx.web.app import build_app
from pnyx.web.auth import TOKEN_FILE, TokenBook
from pnyx.web.context import WebContext
from tests.store_helpers import Feed, key, pub
from tests.vectors.make_vectors import RECIPE_BYTES, RECIPE_HASH
from tests.web_kit import BASE, ORIGIN, PORT, bearer, login

HOUR_MS = 3600 * 1000
#: A recipe file of the user's, to publish.
QUIET = 'name = "quiet"\n[terms.trust]\nweight = 3\n'
#: mal's published body: valid as a message, but names a term no recipe has.
HOSTILE = RECIPE_BYTES.replace(b'"recency"', b'"paid"')
HOSTILE_HASH = recipe_hash(HOSTILE).hex()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[WebContext, dict[str, Any]]]:
    now = wall_clock_ms()
    alice, mal = Feed(key(2), now - 5 * HOUR_MS), Feed(key(3), now - 5 * HOUR_MS)
    alice.post("from alice", ts=now - HOUR_MS)
    alice.add("recipe", {"name": "buzz", "recipe": RECIPE_BYTES})
    mal.add("recipe", {"name": "buzz", "recipe": HOSTILE})
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "quiet.toml").write_text(QUIET, encoding="utf-8")
    with Store.open(tmp_path / "pnyx.db") as store:
        assert not store.ingest([*alice.raws(), *mal.raws()], now).rejected
        me = key(1)
        yield (
            WebContext(
                store=store,
                me=pub(me),
                key=me,
                tokens=TokenBook(tmp_path / TOKEN_FILE),
                port=PORT,
                recipes_dir=recipes,
            ),
            {"alice": alice, "recipes": recipes},
        )


@pytest.fixture
def client(world: tuple[WebContext, Any]) -> Iterator[TestClient]:
    with TestClient(build_app(world[0]), base_url=BASE, backend="trio") as test_client:
        yield test_client


def test_the_api_publishes_subscribes_and_lists(
    world: tuple[WebContext, Any], client: TestClient
) -> None:
    ctx, w = world
    write, read = bearer(ctx, "write"), bearer(ctx, "read")
    # the writes need the write scope
    assert client.post("/api/v1/recipes/quiet/publish", json={}, headers=read).status_code == 403
    assert client.post("/api/v1/recipes/quiet/publish", json={}).status_code == 401
    refused = client.post("/api/v1/recipes/subscribe", json={"hash": RECIPE_HASH}, headers=read)
    assert refused.status_code == 403
    assert not (w["recipes"] / "buzz.toml").exists()

    published = client.post("/api/v1/recipes/quiet/publish", json={}, headers=write)
    assert published.status_code == 201, published.text
    body = published.json()
    assert body["kind"] == "recipe" and body["author"] == encode_public_key(ctx.me)
    (held,) = ctx.store.published_recipes(bytes.fromhex(body["recipe_hash"]))
    assert held.message.id.hex() == body["id"]
    unknown_feed = client.post("/api/v1/recipes/nope/publish", json={}, headers=write)
    assert unknown_feed.status_code == 400 and "no feed 'nope'" in unknown_feed.json()["error"]

    done = client.post("/api/v1/recipes/subscribe", json={"hash": RECIPE_HASH}, headers=write)
    assert done.status_code == 201, done.text
    answer = done.json()
    alice = encode_public_key(w["alice"].author)
    assert (answer["name"], answer["hash"], answer["publisher"]) == ("buzz", RECIPE_HASH, alice)
    assert (w["recipes"] / "buzz.toml").is_file()
    again = client.post("/api/v1/recipes/subscribe", json={"hash": RECIPE_HASH}, headers=write)
    assert again.status_code == 409 and "installed already" in again.json()["error"]

    # a hostile published body: 400 with the operation's words, nothing written
    hostile = client.post("/api/v1/recipes/subscribe", json={"hash": HOSTILE_HASH}, headers=write)
    assert hostile.status_code == 400
    assert hostile.json()["error"] == (
        f"published recipe {HOSTILE_HASH[:12]} is refused: "
        + hostile.json()["error"].split("is refused: ", 1)[1]
    )
    assert "terms.paid is not a known term" in hostile.json()["error"]
    missing = client.post("/api/v1/recipes/subscribe", json={"hash": "ab" * 32}, headers=write)
    assert missing.status_code == 404 and "no published recipe" in missing.json()["error"]
    for bad in ({"hash": "nothex"}, {"hash": 5}, {}):
        assert client.post("/api/v1/recipes/subscribe", json=bad, headers=write).status_code == 400
    assert sorted(p.name for p in w["recipes"].iterdir()) == [
        "buzz.toml",
        "quiet.toml",
        "subscribed.json",
    ]

    listed = client.get("/api/v1/recipes", headers=read)
    assert listed.status_code == 200
    items = {f["name"]: f for f in listed.json()["items"]}
    assert [items[n]["origin"] for n in ("following", "for-you", "quiet", "buzz")] == [
        "built in",
        "built in",
        "file",
        "subscribed",
    ]
    assert items["buzz"]["hash"] == RECIPE_HASH and items["buzz"]["publisher"] == alice
    assert items["quiet"]["publisher"] is None
    assert client.get("/api/v1/recipes").status_code == 401

    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert paths["/api/v1/recipes"]["get"]["security"] == [{"bearer": ["read"]}]
    assert paths["/api/v1/recipes/{name}/publish"]["post"]["security"] == [{"bearer": ["write"]}]
    assert paths["/api/v1/recipes/subscribe"]["post"]["security"] == [{"bearer": ["write"]}]


def _form(client: TestClient, path: str, **data: str) -> Any:
    """POST the urlencoded form ``data`` to ``path`` (redirects not followed)."""
    return client.post(path, data=data, headers=ORIGIN, follow_redirects=False)


def test_the_feeds_page_publishes_and_subscribes(
    world: tuple[WebContext, Any], client: TestClient
) -> None:
    ctx, w = world
    csrf = login(ctx, client)
    page = client.get("/feeds")
    assert page.status_code == 200
    assert page.text.count('action="/feeds/publish"') == 1  # beside quiet, the one file recipe
    assert 'name="name" value="quiet"' in page.text and 'action="/feeds/subscribe"' in page.text

    forged = _form(client, "/feeds/publish", csrf="x", name="quiet")
    assert forged.status_code == 403
    published = _form(client, "/feeds/publish", csrf=csrf, name="quiet")
    assert published.status_code == 303
    assert published.headers["location"] == "/feeds?published=quiet"
    assert "Published quiet" in client.get(published.headers["location"]).text

    hostile = _form(client, "/feeds/subscribe", csrf=csrf, hash=HOSTILE_HASH)
    assert hostile.status_code == 400
    assert 'id="hash-error"' in hostile.text and "terms.paid is not a known term" in hostile.text
    assert f'value="{HOSTILE_HASH}"' in hostile.text and 'aria-invalid="true"' in hostile.text
    missing = _form(client, "/feeds/subscribe", csrf=csrf, hash="ab" * 32)
    assert missing.status_code == 400 and "no published recipe" in missing.text
    assert 'href="/timeline?feed=buzz"' not in client.get("/timeline").text
    forged = _form(client, "/feeds/subscribe", csrf="x", hash=RECIPE_HASH)
    assert forged.status_code == 403 and not (w["recipes"] / "buzz.toml").exists()

    done = _form(client, "/feeds/subscribe", csrf=csrf, hash=RECIPE_HASH)
    assert done.status_code == 303 and done.headers["location"] == "/feeds?subscribed=buzz"
    feeds = client.get(done.headers["location"]).text
    assert "Subscribed to buzz" in feeds
    assert f"published by <code>{encode_public_key(w['alice'].author)}</code>" in feeds
    assert 'name="name" value="buzz"' not in feeds  # no Publish beside a subscribed recipe
    again = _form(client, "/feeds/subscribe", csrf=csrf, hash=RECIPE_HASH)
    assert again.status_code == 200 and "installed already" in again.text
    timeline = client.get("/timeline")
    assert 'href="/timeline?feed=buzz"' in timeline.text
    ranked = client.get("/timeline?feed=buzz")
    assert ranked.status_code == 200 and "from alice" in ranked.text
    assert re.search(r"aria-current=\"page\"[^>]*>buzz", ranked.text)
