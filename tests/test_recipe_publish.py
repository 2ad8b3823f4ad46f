"""Recipes as signed messages (kind ``recipe``): ``pnyx recipes publish NAME``, ``pnyx recipes
subscribe HASH`` (validated by ``pnyx.rank.recipe.from_canonical`` before it is installed), the
feeds list naming the publisher, ``timeline --feed NAME`` running a subscribed recipe locally, and
hostile bodies refused with a one-line error."""

from __future__ import annotations

import json
import time

import pytest

from pnyx.core.kinds.recipe import recipe_hash
from pnyx.crypto.keytext import encode_public_key
from pnyx.rank.recipe import HASH_DOMAIN, RecipeError, from_canonical, parse
from pnyx.store import Store
from tests.conftest import Cli
from tests.store_helpers import Feed, key
from tests.vectors.make_vectors import RECIPE_BYTES, RECIPE_HASH

BUZZ = """\
name = "buzz"
description = "Recent posts."
[terms.recency]
weight = 1
half_life_hours = 3
"""
HOUR_MS = 3600 * 1000


def test_the_vector_is_the_canonical_form_and_the_hash_domain_is_shared() -> None:
    recipe = parse(BUZZ)
    assert recipe.canonical() == RECIPE_BYTES and recipe.hash == RECIPE_HASH
    assert recipe_hash(RECIPE_BYTES).hex() == RECIPE_HASH and HASH_DOMAIN == b"pnyx-recipe-v1\n"
    assert from_canonical(RECIPE_BYTES) == recipe


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{" * 5000, "larger than 4096 bytes"),
        (b"\xff{}", "not UTF-8"),
        (b'name = "x"', "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (b"[" * 3000 + b"]" * 3000, "larger than"),
        (b"[" * 2000 + b"]" * 2000, "not valid JSON"),
        (RECIPE_BYTES.replace(b'"recency"', b'"paid"'), "terms.paid is not a known term"),
        (RECIPE_BYTES.replace(b'"weight":1.0', b'"weight":1e9'), "weight must be a number from"),
        (RECIPE_BYTES.replace(b'"weight":1.0', b'"weight":NaN'), "not valid JSON"),
        (RECIPE_BYTES.replace(b'"reply":1.0', b'"reply":7.0'), "modifiers.reply must be"),
        (RECIPE_BYTES.replace(b'"weight":1.0', b'"weight":1'), "not in canonical form"),
        (RECIPE_BYTES.replace(b'{"authors"', b'{ "authors"'), "not in canonical form"),
    ],
)
def test_hostile_published_bodies_are_refused(body: bytes, error: str) -> None:
    with pytest.raises(RecipeError, match=error):
        from_canonical(body, 4096)


def _ingest(cli: Cli, *feeds: Feed) -> None:
    with Store.open(cli.home / "pnyx.db") as store:
        report = store.ingest([raw for f in feeds for raw in f.raws()], time.time_ns() // 10**6)
        assert not report.rejected


def test_subscribe_installs_a_published_recipe_that_then_runs_here(cli: Cli) -> None:
    cli.ok("init")
    now = time.time_ns() // 1_000_000
    alice, mal = Feed(key(1), now - 5 * HOUR_MS), Feed(key(2), now - 5 * HOUR_MS)
    old = alice.post("old", ts=now - 4 * HOUR_MS)
    new = alice.post("new", ts=now - HOUR_MS)
    published = alice.add("recipe", {"name": "buzz", "recipe": RECIPE_BYTES})
    unknown = RECIPE_BYTES.replace(b'"recency"', b'"paid"')
    mal.add("recipe", {"name": "buzz", "recipe": unknown})
    _ingest(cli, alice, mal)
    cli.ok("follow", encode_public_key(alice.author))

    assert cli.ok("recipes", "subscribe", RECIPE_HASH).lines[0] == (
        f"subscribed to buzz {RECIPE_HASH}"
    )
    listed = [json.loads(line) for line in cli.ok("recipes", "--json").lines]
    buzz = next(f for f in listed if f["name"] == "buzz")
    assert buzz["hash"] == RECIPE_HASH and buzz["publisher"] == encode_public_key(alice.author)
    assert f"published by {encode_public_key(alice.author)}" in cli.ok("recipes").out
    rows = [json.loads(line) for line in cli.ok("timeline", "--feed", "buzz", "--json").lines]
    assert [r["id"] for r in rows] == [new.id.hex(), old.id.hex()]  # recency: newer first
    assert rows[0]["score"] == pytest.approx(0.5 ** (1 / 3), rel=1e-3)
    assert "is installed" in cli.ok("recipes", "subscribe", RECIPE_HASH).err

    # mal's body is valid as a message (shape only) but not as a recipe: refused, nothing written
    bad = cli("recipes", "subscribe", recipe_hash(unknown).hex())
    assert bad.code == 2 and "terms.paid is not a known term" in bad.err
    assert "refused" in bad.err and len(bad.err.strip().splitlines()) == 1
    missing = cli("recipes", "subscribe", "ab" * 32)
    assert missing.code != 0 and "no published recipe" in missing.err
    assert cli("recipes", "subscribe", "nothex").code == 2
    assert published.kind == "recipe"


def test_publish_signs_a_recipe_message(cli: Cli) -> None:
    cli.ok("init")
    (cli.home / "recipes").mkdir()
    (cli.home / "recipes" / "buzz.toml").write_text(BUZZ, encoding="utf-8")
    out = cli.ok("recipes", "publish", "buzz").lines
    assert out[0] == f"published the recipe buzz {RECIPE_HASH}"
    with Store.open(cli.home / "pnyx.db") as store:
        (found,) = store.published_recipes(bytes.fromhex(RECIPE_HASH))
        assert found.message.body == {"name": "buzz", "recipe": RECIPE_BYTES}
        assert found.id.hex() == out[1]
    assert cli.ok("recipes", "publish", "for-you", "--json").lines  # a built-in can be published
    assert cli("recipes", "publish", "nope").code == 2
