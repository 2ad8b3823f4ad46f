"""Whole sync sessions between two fake stores over trio memory streams (in-process)."""

from __future__ import annotations

import hashlib

import pytest
import trio

from pnyx.core.envelope import sign
from pnyx.core.limits import MIN_TIMESTAMP_MS
from pnyx.errors import StoreError
from pnyx.net.contracts import ByteStream
from pnyx.net.errors import StreamClosedError
from pnyx.sync.api import ServeSummary, SyncSummary
from pnyx.sync.driver import run_requester, run_responder
from pnyx.sync.errors import SyncReason
from pnyx.sync.frames import Ack, Batch, Want
from pnyx.sync.limits import (
    INGEST_GROUP_MESSAGES,
    MAX_BATCH_MESSAGES,
    MAX_INFLIGHT_BATCHES,
    MAX_WANT_AUTHORS,
)
from tests.sync_fakes import (
    FakeReport,
    FakeStore,
    Tap,
    author,
    chain_of,
    ingest_into,
    inline,
    key,
    stream_pair,
    sync_once,
)

A, B = author(1), author(2)


async def test_full_catch_up_of_2000_messages_from_20_authors() -> None:
    theirs = FakeStore(m for i in range(1, 21) for m in chain_of(i, 100))
    mine = FakeStore()
    progress: list[tuple[int, int | None]] = []
    with trio.fail_after(60):
        summary, served = await sync_once(
            mine,
            theirs,
            [author(i) for i in range(1, 21)],
            on_progress=lambda got, total: progress.append((got, total)),
        )
    assert summary.failure is None
    assert summary.complete
    assert (summary.fetched, summary.duplicates, summary.rejected) == (2000, 0, 0)
    assert summary.authors == 20
    assert mine.heads() == theirs.heads() == {author(i): (100, 100) for i in range(1, 21)}
    assert served.complete
    assert served.messages == 2000
    assert summary.batches == served.batches == -(-2000 // MAX_BATCH_MESSAGES)
    assert progress[-1] == (2000, 2000)
    assert [got for got, _ in progress] == sorted(got for got, _ in progress)


async def test_only_the_missing_part_is_transferred() -> None:
    everything = [m for i in range(1, 6) for m in chain_of(i, 1000)]
    lacking = {(A, 999), (A, 1000), (B, 1), (B, 2)} | {
        (author(i), s) for i in (3, 4, 5) for s in (17, 500)
    }
    theirs = FakeStore(everything)
    mine = FakeStore(m for m in everything if (m.author, m.seq) not in lacking)
    assert theirs.count() == 5000 and mine.count() == 4990
    with trio.fail_after(60):
        summary, served = await sync_once(mine, theirs, [author(i) for i in range(1, 6)])
    assert summary.complete
    assert summary.fetched == served.messages == 10
    assert served.batches == 1
    assert theirs.envelopes_read == 10  # the responder read only the missing ranges
    assert summary.bytes_received < 10 * 400 + 1000
    assert mine.heads() == theirs.heads()


async def test_gaps_and_tail_are_filled() -> None:
    messages = chain_of(1, 150)
    holes = set(range(10, 21)) | {50}
    theirs = FakeStore(messages)
    mine = FakeStore(m for m in messages[:100] if m.seq not in holes)
    summary, served = await sync_once(mine, theirs, [A])
    assert summary.complete
    assert summary.fetched == served.messages == len(holes) + 50
    assert theirs.envelopes_read == len(holes) + 50
    assert mine.heads() == {A: (150, 150)}


async def test_what_the_responder_lacks_is_reported_in_peer_heads() -> None:
    theirs = FakeStore(m for m in chain_of(2, 50) if not 20 <= m.seq <= 30)
    mine = FakeStore()
    summary, _ = await sync_once(mine, theirs, [A, B])
    assert summary.complete
    assert summary.fetched == 39
    assert summary.peer_heads == {B: (19, 50)}
    assert mine.missing(B) == [(20, 30)]


async def test_too_many_gaps_are_fetched_over_several_sessions() -> None:
    messages = chain_of(1, 40)
    holes = set(range(3, 39, 3))  # 12 single-seq gaps, more than MAX_WANT_RANGES (8)
    theirs = FakeStore(messages)
    mine = FakeStore(m for m in messages if m.seq not in holes)
    first, _ = await sync_once(mine, theirs, [A])
    assert not first.complete
    assert first.failure is None
    assert first.fetched == 8
    second, _ = await sync_once(mine, theirs, [A])
    assert second.complete
    assert second.fetched == 4
    assert mine.heads() == {A: (40, 40)}


async def test_forks_reach_the_ingest_step_as_evidence() -> None:
    ours = chain_of(1, 7)
    fork6 = sign(
        key(1), seq=6, prev=ours[4].id, ts=MIN_TIMESTAMP_MS, kind="post", body={"text": "x"}
    )
    theirs = FakeStore([*ours[:5], fork6])
    mine = FakeStore([*ours[:5], ours[6]])  # holds 1..5 and 7, lacks 6
    summary, served = await sync_once(mine, theirs, [A])
    assert served.messages == 1
    assert (summary.fetched, summary.rejected) == (0, 1)
    assert mine.fork_evidence == [fork6]
    assert summary.complete


async def test_nothing_to_fetch_costs_one_round_and_no_batches() -> None:
    theirs = FakeStore(chain_of(1, 300))
    mine = FakeStore(chain_of(1, 300))
    summary, served = await sync_once(mine, theirs, [A, B])
    assert summary.complete
    assert (summary.fetched, summary.batches, summary.rounds) == (0, 0, 1)
    assert (served.messages, theirs.envelopes_read) == (0, 0)


async def test_no_authors_means_hello_and_bye_only() -> None:
    summary, served = await sync_once(FakeStore(), FakeStore(chain_of(1, 3)), [])
    assert summary.complete and served.complete
    assert summary.rounds == served.rounds == 0


async def test_many_authors_are_asked_in_rounds_of_max_want_authors() -> None:
    strangers = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2497)]
    theirs = FakeStore(m for i in (1, 2, 3) for m in chain_of(i, 5))
    mine = FakeStore()
    taps: list[Tap] = []

    def tap(stream: ByteStream) -> ByteStream:
        taps.append(Tap(stream))
        return taps[-1]

    with trio.fail_after(60):
        summary, served = await sync_once(
            mine, theirs, [A, B, author(3), *strangers], wrap_requester=tap
        )
    wants = [frame for frame in taps[0].frames("out") if isinstance(frame, Want)]
    assert [len(w.entries) for w in wants] == [MAX_WANT_AUTHORS, MAX_WANT_AUTHORS, 500]
    assert summary.rounds == served.rounds == 3
    assert served.authors_requested == 2500
    assert summary.complete
    assert summary.fetched == 15
    assert summary.authors == 3


@pytest.mark.parametrize("cut", ["before-ack", "after-ack"])
async def test_interrupted_session_resumes_without_resending_stored_messages(cut: str) -> None:
    total = 1000
    theirs = FakeStore(chain_of(1, total))
    mine = FakeStore()
    ingested = 0

    async def ingest(raws: list[bytes]) -> FakeReport:
        nonlocal ingested
        ingested += 1
        return mine.ingest(raws)

    class Cut:
        """Breaks the requester's stream once three batches are stored."""

        def __init__(self, inner: ByteStream) -> None:
            self.inner = inner

        async def receive_some(self, max_bytes: int) -> bytes:
            if cut == "after-ack" and ingested >= 3:
                raise StreamClosedError("cable pulled")
            return await self.inner.receive_some(max_bytes)

        async def send_all(self, data: bytes) -> None:
            if cut == "before-ack" and ingested >= 3:
                raise StreamClosedError("cable pulled")
            await self.inner.send_all(data)

        async def send_eof(self) -> None:
            await self.inner.send_eof()

        async def close(self) -> None:
            await self.inner.close()

    first, served1 = await sync_once(mine, theirs, [A], wrap_requester=Cut, ingest=ingest)
    assert first.failure is not None
    assert first.failure.reason is SyncReason.CONNECTION_LOST
    assert not first.complete
    stored = mine.count()
    assert stored == first.fetched >= 3 * MAX_BATCH_MESSAGES
    assert served1.failure is not None  # the responder saw the requester vanish
    in_flight = served1.messages - stored  # sent but never stored: the only part sent twice
    assert 0 <= in_flight <= MAX_INFLIGHT_BATCHES * MAX_BATCH_MESSAGES

    theirs.range_calls.clear()
    second, served2 = await sync_once(mine, theirs, [A])
    assert second.complete
    assert second.duplicates == 0
    assert second.fetched == served2.messages == total - stored
    assert theirs.range_calls[0][1] == stored + 1  # reading resumed right after what we hold
    assert mine.heads() == {A: (total, total)}


@pytest.mark.parametrize("window", [1, 2, MAX_INFLIGHT_BATCHES])
async def test_responder_never_runs_more_than_the_window_ahead_of_acks(
    autojump_clock: trio.abc.Clock, window: int
) -> None:
    theirs = FakeStore(chain_of(1, 1500))
    mine = FakeStore()
    taps: list[Tap] = []

    async def slow_ingest(raws: list[bytes]) -> FakeReport:
        await trio.sleep(1)  # a slow disk: the responder must wait for acks
        return mine.ingest(raws)

    def tap(stream: ByteStream) -> ByteStream:
        taps.append(Tap(stream))
        return taps[-1]

    summary, served = await sync_once(
        mine, theirs, [A], window=window, wrap_responder=tap, ingest=slow_ingest
    )
    assert summary.complete and summary.fetched == 1500
    sent = acked = peak = 0
    for direction, frame in taps[0].log:
        if direction == "out" and isinstance(frame, Batch):
            sent += 1
            peak = max(peak, sent - acked)
        elif direction == "in" and isinstance(frame, Ack):
            acked = frame.total
    assert sent == served.batches == -(-1500 // MAX_BATCH_MESSAGES)
    assert peak == window


async def test_a_slow_store_gets_everything_buffered_in_one_ingest_call(
    autojump_clock: trio.abc.Clock,
) -> None:
    theirs = FakeStore(chain_of(1, 3000))
    mine = FakeStore()
    calls: list[int] = []

    async def slow_ingest(raws: list[bytes]) -> FakeReport:
        calls.append(len(raws))
        await trio.sleep(1)  # meanwhile the next batches arrive, are acked and buffered
        return mine.ingest(raws)

    summary, served = await sync_once(mine, theirs, [A], ingest=slow_ingest)
    assert summary.complete and summary.fetched == 3000
    assert sum(calls) == 3000
    assert calls[0] == MAX_BATCH_MESSAGES  # the first batch is ingested as soon as it arrives
    assert MAX_BATCH_MESSAGES < max(calls) <= INGEST_GROUP_MESSAGES
    assert len(calls) < served.batches
    assert mine.heads() == {A: (3000, 3000)}


async def test_lockstep_streams_do_not_deadlock() -> None:
    theirs = FakeStore(m for i in (1, 2) for m in chain_of(i, 400))
    mine = FakeStore()
    with trio.fail_after(60):
        summary, served = await sync_once(mine, theirs, [A, B], lockstep=True, window=1)
    assert summary.complete and served.complete
    assert summary.fetched == 800


async def test_default_drivers_run_store_calls_in_threads() -> None:
    theirs = FakeStore(chain_of(1, 300))
    mine = FakeStore(chain_of(1, 100))
    left, right = stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_responder, right, theirs)
        with trio.fail_after(60):
            summary = await run_requester(left, mine, ingest_into(mine), authors=[A])
    assert summary.complete
    assert summary.fetched == 200
    assert mine.heads() == {A: (300, 300)}


class BrokenDisk(FakeStore):
    def range(
        self, author: bytes, first_seq: int, last_seq: int, *, limit: int = 1000
    ) -> list[bytes]:
        raise StoreError("disk I/O error")


async def test_local_store_failures_abort_the_session_and_raise() -> None:
    mine = FakeStore()

    async def failing_ingest(raws: list[bytes]) -> FakeReport:
        raise StoreError("database is locked")

    left, right = stream_pair()
    async with trio.open_nursery() as nursery:
        served: list[object] = []

        async def serve() -> None:
            served.append(await run_responder(right, FakeStore(chain_of(1, 10)), offload=inline))

        nursery.start_soon(serve)
        with pytest.raises(StoreError, match="locked"):
            await run_requester(left, mine, failing_ingest, authors=[A], offload=inline)
    assert isinstance(served[0], ServeSummary)
    assert served[0].failure is not None  # the requester closed its end


async def test_responder_store_failure_raises_store_error_not_a_group() -> None:
    left, right = stream_pair()
    async with trio.open_nursery() as nursery:
        results: list[SyncSummary] = []

        async def fetch() -> None:
            mine = FakeStore()
            results.append(
                await run_requester(left, mine, ingest_into(mine), authors=[A], offload=inline)
            )

        nursery.start_soon(fetch)
        with pytest.raises(StoreError, match="disk"):
            await run_responder(right, BrokenDisk(chain_of(1, 10)), offload=inline)
    assert results[0].failure is not None
    assert results[0].failure.reason is SyncReason.CLOSED
