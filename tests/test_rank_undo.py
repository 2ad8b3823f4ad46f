"""An undone like or repost stops counting in ranking: ``pnyx.store.rankq.actions`` skips
reactions and reposts their author deleted (``ops.unlike``/``ops.unrepost``), through the
``deletions`` primary key, as deleted posts are skipped (no scan)."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from pnyx import ops
from pnyx.reads import why
from pnyx.store import Store, queries, rankq
from tests.store_helpers import NOW_MS, Feed, key, open_store

HOUR_MS = 3600 * 1000
LIKES = 'name = "likes"\nauthors = "trusted"\n[terms.engagement]\nweight = 1\n'


def _engagement(store: Store, me: bytes, post: bytes, recipes: Path, now: int) -> float:
    view = why(store, me, post, "likes", recipes_dir=recipes, now_ms=now)
    (term,) = [t for t in view.explanation.terms if t.name == "engagement"]
    return term.value


def test_like_counts_until_unliked_and_a_repost_until_unreposted(tmp_path: Path) -> None:
    me, alice = key(1), Feed(key(2))
    post = alice.post("worth ranking", ts=NOW_MS - HOUR_MS)
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "likes.toml").write_text(LIKES, encoding="utf-8")
    with open_store(tmp_path) as store:
        store.ingest_verified(alice.messages)
        mine = bytes(me.verify_key)
        ops.follow(store, me, alice.author.hex(), now_ms=NOW_MS - 50)
        assert _engagement(store, mine, post.id, recipes, NOW_MS) == 0.0
        ops.like(store, me, post.id.hex(), now_ms=NOW_MS - 40)
        assert _engagement(store, mine, post.id, recipes, NOW_MS) == 1.0  # log2(1 + 1)
        ops.unlike(store, me, post.id.hex(), now_ms=NOW_MS - 30)
        assert _engagement(store, mine, post.id, recipes, NOW_MS) == 0.0
        ops.repost(store, me, post.id.hex(), now_ms=NOW_MS - 20)
        assert _engagement(store, mine, post.id, recipes, NOW_MS) == math.log2(1 + 2)
        ops.unrepost(store, me, post.id.hex(), now_ms=NOW_MS - 10)
        assert _engagement(store, mine, post.id, recipes, NOW_MS) == 0.0
        # both lookups: the recent window (since 0) and the older ones by target
        for since in (0, NOW_MS):
            assert store.actions([post.id], since_ms=since) == []


def test_the_deletion_check_uses_the_primary_key(tmp_path: Path) -> None:
    with open_store(tmp_path):
        pass
    conn = sqlite3.connect(tmp_path / "pnyx.db")
    for index, where in (
        ("messages_actions_by_time", f"{rankq._ACTIVE} AND m.ts >= 0"),
        ("messages_by_target", f"m.target IN (x'00') AND {rankq._ACTIVE} AND m.ts < 1"),
    ):
        plan = conn.execute(
            f"""EXPLAIN QUERY PLAN SELECT m.n FROM messages AS m INDEXED BY {index}
            WHERE {where} AND {queries._VISIBLE}"""
        ).fetchall()
        text = " | ".join(str(row[-1]) for row in plan)
        assert "SCAN m" not in text and "SCAN d" not in text, text
        assert "SEARCH d USING PRIMARY KEY" in text, text
    conn.close()
