"""``Store.append_own``: the local user's chain, durable commits, and refused messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx.core import envelope
from pnyx.core.limits import MAX_TEXT_BYTES
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.errors import NotFoundError, StoreError, UserError
from pnyx.store import Store
from tests.store_helpers import NOW_MS, Feed, ids, key, open_store, pub


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as opened:
        yield opened


def _synchronous(store: Store) -> int:
    value: int = store._conn.execute("PRAGMA synchronous").fetchone()[0]
    return value


def test_append_own_builds_a_valid_chain(store: Store) -> None:
    me = key(1)
    first = store.append_own(me, "post", {"text": "one"}, NOW_MS)
    second = store.append_own(me, "follow", {"key": pub(key(2))}, NOW_MS + 1)
    third = store.append_own(me, "post", {"text": "three"}, NOW_MS - 50)  # ts = now_ms as given
    assert [m.seq for m in (first, second, third)] == [1, 2, 3]
    assert (first.prev, second.prev, third.prev) == (None, first.id, second.id)
    assert third.ts == NOW_MS - 50 and third.author == pub(me)
    for message in (first, second, third):
        assert envelope.validate(message.raw, NOW_MS) == message
    assert store.heads() == {pub(me): (3, 3)}
    assert store.following(pub(me)) == [pub(key(2))]
    assert _synchronous(store) == 1  # back to NORMAL after the durable (FULL) commit


def test_append_own_continues_a_feed_received_from_elsewhere(store: Store) -> None:
    old = Feed(key(1))
    for n in range(3):
        old.post(f"old {n}")
    store.ingest(old.raws(), NOW_MS)
    message = store.append_own(key(1), "post", {"text": "new"}, NOW_MS)
    assert message.seq == 4 and message.prev == old.messages[-1].id
    assert store.heads()[old.author] == (4, 4) and not store.is_forked(old.author)


def test_the_durable_commit_uses_synchronous_full(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    store._conn.set_trace_callback(seen.append)
    store.append_own(key(1), "post", {"text": "durable"}, NOW_MS)
    store.ingest([Feed(key(2)).post("ordinary").raw], NOW_MS)
    store._conn.set_trace_callback(None)
    full = seen.index("PRAGMA synchronous = FULL")
    commits = [i for i, s in enumerate(seen) if s == "COMMIT"]
    normal = seen.index("PRAGMA synchronous = NORMAL")
    assert full < commits[0] < normal < commits[1]
    assert seen.count("PRAGMA synchronous = FULL") == 1


def test_invalid_own_messages_are_refused_and_nothing_is_stored(store: Store) -> None:
    me = key(1)
    with pytest.raises(InvalidMessage) as info:
        store.append_own(me, "post", {"text": "x" * (MAX_TEXT_BYTES + 1)}, NOW_MS)
    assert info.value.reason is Reason.OVERSIZED
    with pytest.raises(InvalidMessage):
        store.append_own(me, "follow", {"key": b"short"}, NOW_MS)
    assert store.counts()["messages"] == 0 and store.heads() == {}
    assert store.append_own(me, "post", {"text": "ok"}, NOW_MS).seq == 1


def test_delete_only_of_ones_own_post(store: Store) -> None:
    me, other = key(1), Feed(key(2))
    theirs = other.post("theirs")
    store.ingest(other.raws(), NOW_MS)
    mine = store.append_own(me, "post", {"text": "mine"}, NOW_MS)
    follow = store.append_own(me, "follow", {"key": other.author}, NOW_MS)
    with pytest.raises(UserError, match="not yours"):
        store.append_own(me, "delete", {"id": theirs.id}, NOW_MS)
    with pytest.raises(UserError, match="a follow: it cannot be deleted"):
        store.append_own(me, "delete", {"id": follow.id}, NOW_MS)
    with pytest.raises(NotFoundError, match="no message"):
        store.append_own(me, "delete", {"id": b"\x05" * 32}, NOW_MS)
    assert store.heads()[pub(me)] == (2, 2)  # none of the refused deletes was stored
    delete = store.append_own(me, "delete", {"id": mine.id}, NOW_MS)
    assert delete.seq == 3
    assert ids(store.timeline(pub(me)).items) == [theirs.id]


def test_append_own_on_a_closed_store_raises_store_error(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.close()
    store.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        store.append_own(key(1), "post", {"text": "late"}, NOW_MS)
    with pytest.raises(StoreError, match="closed"):
        store.heads()
