"""Full-text search in the store (schema migration 3) and the follow edges the trust graph reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pnyx.errors import UserError
from pnyx.store import Store, schema, search
from pnyx.store.search import MAX_QUERY_CHARS, match_expression
from tests.store_helpers import NOW_MS, Feed, key, open_store


def _texts(store: Store, query: str, **kw: object) -> list[str]:
    return [m.item.message.body["text"] for m in store.search_posts(query, **kw)]  # type: ignore[arg-type]


def test_posts_match_all_words_any_case_and_accents_and_prefixes(tmp_path: Path) -> None:
    alice = Feed(key(1))
    alice.post("The Agora opens at dawn")
    alice.post("dawn in the café")
    alice.post("nothing here")
    with open_store(tmp_path) as store:
        store.ingest(alice.raws(), NOW_MS)
        assert sorted(_texts(store, "DAWN")) == ["The Agora opens at dawn", "dawn in the café"]
        assert _texts(store, "dawn agora") == ["The Agora opens at dawn"]
        assert _texts(store, "cafe") == ["dawn in the café"]
        assert _texts(store, "ago*") == ["The Agora opens at dawn"]
        assert _texts(store, "ago") == []
        assert _texts(store, "missing") == []


def test_user_text_is_never_fts_syntax(tmp_path: Path) -> None:
    feed = Feed(key(1))
    feed.post('she said "hello" (twice) AND NEAR text:nothing')
    with open_store(tmp_path) as store:
        store.ingest(feed.raws(), NOW_MS)
        for query in ('"hello', 'hello"', "(twice", "AND", "NEAR(", "text:nothing", "*hello"):
            assert len(store.search_posts(query)) == 1, query
        assert store.search_posts("!!!") == []
    assert match_expression('a"b c*') == '"a""b" "c"*'
    for bad in ("", "   ", "***", "x" * (MAX_QUERY_CHARS + 1), " ".join("w" * 17)):
        with pytest.raises(UserError):
            match_expression(bad)


def test_relevance_orders_and_author_filters(tmp_path: Path) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    alice.post("square square square talk")
    bob.post("a long post that mentions the square only once among many other words here")
    with open_store(tmp_path) as store:
        store.ingest(alice.raws() + bob.raws(), NOW_MS)
        found = store.search_posts("square")
        assert [m.item.message.author for m in found] == [alice.author, bob.author]
        assert found[0].relevance > found[1].relevance > 0
        only_bob = store.search_posts("square", author=bob.author)
        assert [m.item.message.author for m in only_bob] == [bob.author]
        assert store.search_posts("square", author=key(9).verify_key.encode()) == []
        with pytest.raises(UserError):
            store.search_posts("square", limit=0)


def test_deleted_posts_are_not_found_whichever_arrives_first(tmp_path: Path) -> None:
    alice = Feed(key(1))
    gone = alice.post("secret plans")
    alice.post("public plans")
    deletion = alice.delete(gone.id)
    with open_store(tmp_path) as store:
        store.ingest([deletion.raw], NOW_MS)  # the deletion first: a gap, then the post
        store.ingest([gone.raw, alice.messages[1].raw], NOW_MS)
        assert _texts(store, "plans") == ["public plans"]
    mallory = Feed(key(3))
    mallory.delete(alice.messages[1].id)  # not the author's own: ignored
    with open_store(tmp_path) as store:
        store.ingest(mallory.raws(), NOW_MS)
        assert _texts(store, "plans") == ["public plans"]


def test_profiles_are_found_by_name_and_bio_and_follow_updates(tmp_path: Path) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    alice.profile(name="Aspasia", bio="rhetoric teacher")
    bob.profile(name="Pericles", bio="orator, friend of Aspasia")
    with open_store(tmp_path) as store:
        store.ingest(alice.raws() + bob.raws(), NOW_MS)
        found = store.search_profiles("aspasia")
        assert [p.author for p in found] == [alice.author, bob.author]  # the name weighs more
        assert found[0].name == "Aspasia" and found[1].bio == "orator, friend of Aspasia"
        alice.profile(bio="philosopher")
        store.ingest(alice.raws(), NOW_MS)
        assert store.search_profiles("rhetoric") == []
        assert [p.author for p in store.search_profiles("philosopher")] == [alice.author]
        assert [p.author for p in store.search_profiles("aspasia", author=bob.author)] == [
            bob.author
        ]


def test_the_profile_index_holds_the_merged_profile_whatever_the_order(tmp_path: Path) -> None:
    alice = Feed(key(1))
    alice.profile(name="Aspasia", bio="old words")
    alice.profile(bio="new words")
    with open_store(tmp_path) as store:
        store.ingest([alice.messages[1].raw], NOW_MS)  # the later profile first
        store.ingest([alice.messages[0].raw], NOW_MS)
        assert [p.bio for p in store.search_profiles("aspasia")] == ["new words"]
        assert store.search_profiles("old") == []


def test_an_old_store_gets_its_index_filled_by_the_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = Feed(key(1))
    alice.profile(name="Aspasia")
    alice.post("before the index existed")
    with monkeypatch.context() as old:
        old.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        with open_store(tmp_path) as store:
            store.ingest(alice.raws(), NOW_MS)
    conn = sqlite3.connect(tmp_path / "pnyx.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'posts_fts'").fetchone() is None
    conn.close()
    with open_store(tmp_path) as store:
        assert _texts(store, "index") == ["before the index existed"]
        assert [p.name for p in store.search_profiles("aspasia")] == ["Aspasia"]
        alice.post("after the index existed")
        store.ingest(alice.raws(), NOW_MS)
        assert len(_texts(store, "index")) == 2


def test_follow_edges_are_the_current_follows_in_key_order(tmp_path: Path) -> None:
    a, b, c = Feed(key(3)), Feed(key(1)), Feed(key(2))
    a.follow(b.author)
    a.follow(c.author)
    b.follow(a.author)
    a.unfollow(c.author)
    c.follow(key(7).verify_key.encode())  # a key never seen: still an edge
    with open_store(tmp_path) as store:
        store.ingest(a.raws() + b.raws() + c.raws(), NOW_MS)
        edges = store.follow_edges()
    assert edges.keys == sorted(edges.keys)
    pairs = {
        (edges.keys[u], edges.keys[v]) for u, v in zip(edges.follower, edges.followee, strict=True)
    }
    assert pairs == {
        (a.author, b.author),
        (b.author, a.author),
        (c.author, key(7).verify_key.encode()),
    }


def test_a_word_matching_more_than_the_bound_ranks_only_the_newest_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = Feed(key(1))
    texts = [
        "agora agora agora agora dawn",  # the densest match, but the oldest
        "agora agora agora and more",
        "one agora among several other words dawn here",
        "agora agora twice here",
        "agora once in a long sentence with plenty of words",
        "agora agora agora three",
    ]
    for text in texts:
        alice.post(text)
    with open_store(tmp_path) as store:
        store.ingest(alice.raws(), NOW_MS)
        everything = {m.item.message.body["text"]: m.relevance for m in store.search_posts("agora")}
        assert _texts(store, "agora")[0] == texts[0]  # unbounded (6 <= RECENT_BOUND)
        monkeypatch.setattr(search, "RECENT_BOUND", 3)
        bounded = store.search_posts("agora")
        # only the 3 newest (texts[3:]) are ranked, by bm25: 3 of 4 words, 2 of 4, 1 of 10
        assert [m.item.message.body["text"] for m in bounded] == [texts[5], texts[3], texts[4]]
        for m in bounded:  # bm25's statistics are the whole index's: relevance unchanged
            assert m.relevance == everything[m.item.message.body["text"]]
        # a rare word (2 matches <= 3) is ranked over all its matches, old ones included
        assert _texts(store, "dawn") == [texts[0], texts[2]]
        assert _texts(store, "agora dawn") == [texts[0], texts[2]]
        assert _texts(store, "agora", author=alice.author) == [texts[5], texts[3], texts[4]]


def test_a_deleted_post_takes_no_place_in_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = Feed(key(1))
    for text in ("agora one", "agora two", "agora three"):
        alice.post(text)
    alice.delete(alice.messages[-1].id)
    monkeypatch.setattr(search, "RECENT_BOUND", 2)
    with open_store(tmp_path) as store:
        store.ingest(alice.raws(), NOW_MS)
        assert sorted(_texts(store, "agora")) == ["agora one", "agora two"]
