"""``pnyx.ingest.framecheck.chain_conflict``: a frame's envelopes against the chains the store
holds, read once per run of consecutive seqs (so the answers must match the per-message rules of
``pnyx.core.chain.place``)."""

from __future__ import annotations

from pathlib import Path

from pnyx.core.envelope import Message
from pnyx.core.reasons import Reason
from pnyx.ingest.framecheck import _runs, chain_conflict
from pnyx.store import Store
from tests.store_helpers import NOW_MS, Feed, key


def _feed(n: int, count: int, tag: str = "") -> Feed:
    feed = Feed(key(n))
    for i in range(count):
        feed.post(f"{tag}post {i}")
    return feed


def _store(tmp_path: Path, messages: list[Message]) -> Store:
    store = Store.open(tmp_path / "s.db")
    store.ingest([m.raw for m in messages], NOW_MS)
    return store


def test_runs_of_consecutive_seqs() -> None:
    assert _runs([]) == []
    assert _runs([1, 2, 3, 7, 9, 10]) == [(1, 3), (7, 7), (9, 10)]


def test_new_messages_after_the_stored_head_are_fine(tmp_path: Path) -> None:
    feed = _feed(1, 20)
    with _store(tmp_path, feed.messages[:5]) as store:
        assert chain_conflict(store, feed.messages[5:]) is None
        assert chain_conflict(store, feed.messages[10:]) is None  # a gap says nothing


def test_messages_already_stored_are_fine(tmp_path: Path) -> None:
    feed = _feed(1, 10)
    with _store(tmp_path, feed.messages) as store:
        assert chain_conflict(store, feed.messages[2:8]) is None
        assert chain_conflict(store, feed.messages) is None


def test_second_message_at_a_stored_seq_is_a_fork(tmp_path: Path) -> None:
    feed, other = _feed(1, 6), _feed(1, 6, tag="other ")
    with _store(tmp_path, feed.messages[:4]) as store:
        conflict = chain_conflict(store, other.messages[3:6])
        assert conflict is not None and conflict.reason is Reason.FORK


def test_prev_not_matching_the_stored_predecessor_breaks_the_chain(tmp_path: Path) -> None:
    feed, other = _feed(1, 6), _feed(1, 6, tag="other ")
    with _store(tmp_path, feed.messages[:3]) as store:
        conflict = chain_conflict(store, other.messages[3:6])  # seq 4.. points at other's 3
        assert conflict is not None and conflict.reason is Reason.BROKEN_CHAIN


def test_stored_successor_pointing_elsewhere_breaks_the_chain(tmp_path: Path) -> None:
    feed, other = _feed(1, 8), _feed(1, 8, tag="other ")
    with _store(tmp_path, [feed.messages[6]]) as store:  # seq 7 alone
        assert chain_conflict(store, feed.messages[2:6]) is None  # seq 3..6 lead to it
        conflict = chain_conflict(store, other.messages[2:6])  # other's seq 6 is not its prev
        assert conflict is not None and conflict.reason is Reason.BROKEN_CHAIN
        assert chain_conflict(store, other.messages[2:5]) is None  # not adjacent to seq 7


def test_only_the_conflicting_author_counts(tmp_path: Path) -> None:
    feed, other, bystander = _feed(1, 4), _feed(1, 4, tag="other "), _feed(2, 4)
    with _store(tmp_path, [*feed.messages, *bystander.messages[:2]]) as store:
        assert chain_conflict(store, bystander.messages[2:]) is None
        conflict = chain_conflict(store, [*bystander.messages[2:], other.messages[3]])
        assert conflict is not None and conflict.reason is Reason.FORK
