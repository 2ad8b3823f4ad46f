"""The candidates of a ranked feed read as columns (``Store.candidate_posts``), with the aids of
the authors asked for kept by the store between calls."""

from __future__ import annotations

from pathlib import Path

from tests.store_helpers import NOW_MS, Feed, key, open_store


def test_candidates_carry_the_post_columns_and_decode_to_the_message(tmp_path: Path) -> None:
    alice = Feed(key(1))
    first = alice.post("hello")
    reply = alice.post("and a reply", reply_to=first)
    with open_store(tmp_path) as store:
        store.ingest(alice.raws(), NOW_MS)
        found = store.candidate_posts([alice.author], limit=10)
        assert [c.id for c in found] == [reply.id, first.id]
        assert (found[0].parent, found[0].root) == (first.id, first.id)
        assert (found[1].parent, found[1].root) == (None, None)
        assert found[0].author == alice.author and found[0].ts == reply.ts
        assert found[0].item() == store.get(reply.id)


def test_an_author_held_only_later_is_found_on_a_later_call(tmp_path: Path) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    alice.post("from alice")
    bob.post("from bob")
    with open_store(tmp_path) as store:
        store.ingest(alice.raws(), NOW_MS)
        wanted = [alice.author, bob.author]
        assert [c.author for c in store.candidate_posts(wanted, limit=10)] == [alice.author]
        assert store.candidate_posts([bob.author], limit=10) == []
        store.ingest(bob.raws(), NOW_MS)
        authors = {c.author for c in store.candidate_posts(wanted, limit=10)}
        assert authors == {alice.author, bob.author}
        excluded = store.candidate_posts(None, limit=10, exclude=[bob.author])
        assert [c.author for c in excluded] == [alice.author]
