"""Store bounds against hostile authors: fork evidence capped per author, absurd gaps refused.

Issue 11, items 5 and 6: a followed author sending thousands of forked envelopes made the store
keep one evidence row each (megabytes), and messages at seq 10^9 and 2^53 after seq 30 were
stored, claiming a gap no peer could ever fill.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx.core import envelope
from pnyx.core.envelope import Message
from pnyx.core.limits import MAX_SEQ, MAX_SEQ_AHEAD
from pnyx.core.reasons import Reason
from pnyx.store import Store, ingest, schema
from pnyx.store.writes import MAX_FORK_EVIDENCE
from tests.store_helpers import NOW_MS, Feed, key, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as opened:
        yield opened


def forks_at(feed: Feed, seq: int, count: int) -> list[bytes]:
    """``count`` distinct conflicting messages at ``seq`` (same prev as the held one)."""
    return [feed.other_at(seq, f"fork {seq}.{n}").raw for n in range(count)]


def fork_rows(store: Store) -> int:
    return int(store._conn.execute("SELECT count(*) FROM forks").fetchone()[0])


def test_many_forks_at_one_seq_keep_one_row_and_count_the_rest(store: Store) -> None:
    feed = Feed(key(1))
    for n in range(3):
        feed.post(f"n{n}")
    store.ingest(feed.raws(), NOW_MS)
    spam = forks_at(feed, 2, 200)
    report = store.ingest(spam[:100], NOW_MS)  # one batch
    assert report.forks == [feed.author]
    assert len(report.rejected) == 100 and {r for _, r, _ in report.rejected} == {Reason.FORK}
    report = store.ingest(spam[100:], NOW_MS)  # and later ones
    assert report.forks == [] and len(report.rejected) == 100
    [evidence] = store.forks(feed.author)
    assert evidence.other_raw == spam[0]  # the first one seen is the one kept
    assert store.forks_dropped(feed.author) == 199
    assert fork_rows(store) == 1
    counts = store.counts()
    assert (counts["forks"], counts["fork_evidence"], counts["forks_dropped"]) == (1, 1, 199)
    # the kept evidence again, in a new batch: a copy, not counted as dropped
    assert len(store.ingest([spam[0]], NOW_MS).rejected) == 1
    assert store.forks_dropped(feed.author) == 199
    assert [m.text for m in (s.message for s in store.feed(feed.author).items)] == [
        "n2",
        "n1",
        "n0",
    ]


def test_forks_at_many_seqs_keep_at_most_the_cap_per_author(store: Store) -> None:
    feed, other = Feed(key(1)), Feed(key(2))
    for n in range(40):
        feed.post(f"n{n}")
        other.post(f"o{n}")
    store.ingest(feed.raws() + other.raws(), NOW_MS)
    spam = [raw for seq in range(2, 32) for raw in forks_at(feed, seq, 3)]  # 30 seqs x 3
    store.ingest(spam, NOW_MS)
    kept = store.forks(feed.author)
    assert [e.seq for e in kept] == list(range(2, 2 + MAX_FORK_EVIDENCE))
    assert store.forks_dropped(feed.author) == len(spam) - MAX_FORK_EVIDENCE
    # the cap is per author: another author's first fork is still kept
    store.ingest([other.other_at(5).raw], NOW_MS)
    assert len(store.forks(other.author)) == 1 and store.is_forked(other.author)
    assert store.forked_among([feed.author, other.author, key(3).verify_key.encode()]) == {
        feed.author,
        other.author,
    }
    assert fork_rows(store) == MAX_FORK_EVIDENCE + 1


def test_a_store_of_schema_1_keeps_the_capped_evidence_after_migrating(tmp_path: Path) -> None:
    """A store written before the cap (version 1) with 30 evidence rows of one author (10 seqs x
    3) and 2 of another: opening it migrates to the current version, keeps the first row per
    seq, at most MAX_FORK_EVIDENCE per author, and counts the others as dropped."""
    path = tmp_path / "pnyx.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in schema.statements(schema.MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO authors VALUES (1, ?, 40, 40, 40, 40, 1, NULL, NULL)", (b"a" * 32,))
    conn.execute("INSERT INTO authors VALUES (2, ?, 9, 9, 9, 9, 1, NULL, NULL)", (b"b" * 32,))
    rows = [
        (bytes([aid, seq, n]) * 8, aid, seq, b"k" * 32, "fork", 1000 * seq + n, b"raw")
        for aid, seqs in ((1, range(1, 11)), (2, range(3, 4)))
        for seq in seqs
        for n in range(3 if aid == 1 else 2)
    ]
    conn.executemany("INSERT INTO forks VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()
    with Store.open(path) as store:
        a, b = store.forks(b"a" * 32), store.forks(b"b" * 32)
        assert [(e.seq, e.seen_ms) for e in a] == [(s, 1000 * s) for s in range(1, 9)]
        assert [(e.seq, e.seen_ms) for e in b] == [(3, 3000)]
        assert store.forks_dropped(b"a" * 32) == 30 - MAX_FORK_EVIDENCE
        assert store.forks_dropped(b"b" * 32) == 1
        counts = store.counts()
        assert (counts["fork_evidence"], counts["forks_dropped"]) == (MAX_FORK_EVIDENCE + 1, 23)
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == schema.current_version()
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def far(feed: Feed, seq: int) -> Message:
    """A validly signed message of ``feed``'s author at any ``seq``."""
    return envelope.sign(
        feed.key, seq=seq, prev=b"\x01" * 32, ts=NOW_MS - 1, kind="post", body={"text": "far"}
    )


def test_a_seq_far_beyond_the_contiguous_head_is_not_stored(store: Store) -> None:
    feed = Feed(key(1))
    for n in range(30):
        feed.post(f"n{n}")
    store.ingest(feed.raws(), NOW_MS)
    absurd = [far(feed, 10**9), far(feed, MAX_SEQ), far(feed, 30 + MAX_SEQ_AHEAD + 1)]
    report = store.ingest([m.raw for m in absurd], NOW_MS)
    assert report.accepted == []
    assert [r for _, r, _ in report.rejected] == [Reason.SEQ_TOO_FAR] * 3
    assert "beyond the contiguous 30" in report.rejected[0][2]
    assert store.heads() == {feed.author: (30, 30)} and store.missing(feed.author) == []
    # at the bound it is stored (a gap of MAX_SEQ_AHEAD - 1 that sync may fill)
    edge = far(feed, 30 + MAX_SEQ_AHEAD)
    assert store.ingest([edge.raw], NOW_MS).accepted == [edge]
    assert store.heads() == {feed.author: (30, 30 + MAX_SEQ_AHEAD)}
    # ... and nothing further ahead of the contiguous head than that, whatever is held
    assert store.ingest([far(feed, 31 + MAX_SEQ_AHEAD).raw], NOW_MS).accepted == []


def test_the_bound_counts_what_the_batch_placed_before(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed arriving in order in one batch (sync, import) moves the head as it goes."""
    monkeypatch.setattr(ingest, "MAX_SEQ_AHEAD", 5)
    feed = Feed(key(1))
    for n in range(20):
        feed.post(f"n{n}")
    assert len(store.ingest(feed.raws(), NOW_MS).accepted) == 20
    late = Feed(key(2))
    for n in range(20):
        late.post(f"n{n}")
    report = store.ingest(list(reversed(late.raws())), NOW_MS)  # newest first: 20..1
    assert sorted(m.seq for m in report.accepted) == list(range(1, 6))
    assert store.heads()[late.author] == (5, 5)


def test_a_responder_announcing_absurd_heads_costs_one_round(store: Store) -> None:
    """A peer says it holds the author up to 2^53 and sends seq 10^9: the requester takes the
    round as the protocol allows, its store refuses the envelope, and the next session asks
    exactly what it asked before (nothing loops on the peer's claim)."""
    from pnyx.sync.frames import Batch, Done, Have, Head
    from pnyx.sync.requester import BatchReceived, RoundDone, SyncRequester, want_entry

    feed = Feed(key(1))
    for n in range(30):
        feed.post(f"n{n}")
    store.ingest(feed.raws(), NOW_MS)
    entry, _ = want_entry(feed.author, store.heads()[feed.author], [])
    machine = SyncRequester()
    machine.hello()
    machine.want([entry])
    machine.receive(Have((Head(feed.author, MAX_SEQ, MAX_SEQ),)))
    batch = machine.receive(Batch((far(feed, 10**9).raw,)))
    assert isinstance(batch, BatchReceived)
    report = store.ingest(batch.envelopes, NOW_MS)
    assert [r for _, r, _ in report.rejected] == [Reason.SEQ_TOO_FAR]
    machine.ack()
    assert isinstance(machine.receive(Done(1)), RoundDone)
    assert want_entry(feed.author, store.heads()[feed.author], []) == (entry, False)
