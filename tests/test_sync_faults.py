"""Sync sessions against scripted, misbehaving or stalled peers (autojump clock for timeouts)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio

from pnyx.core.varint import encode_uvarint
from pnyx.net.errors import StreamClosedError
from pnyx.sync.api import ServeSummary, SyncSummary
from pnyx.sync.driver import run_requester, run_responder
from pnyx.sync.errors import SyncProtocolError, SyncReason
from pnyx.sync.frames import (
    Ack,
    Batch,
    Done,
    ErrorFrame,
    Frame,
    Have,
    Head,
    Hello,
    Want,
    WantEntry,
)
from pnyx.sync.limits import (
    IDLE_TIMEOUT_S,
    MAX_BATCH_MESSAGES,
    SESSION_TIMEOUT_S,
    SYNC_VERSION,
)
from pnyx.sync.transport import FrameConnection
from pnyx.sync.wire import encode_frame
from tests.sync_fakes import (
    FakeReport,
    FakeStore,
    author,
    chain_of,
    ingest_into,
    inline,
    stream_pair,
)

A, C = author(1), author(3)
Script = Callable[[FrameConnection, list[Frame]], Awaitable[None]]
_PEER_GONE = (SyncProtocolError, StreamClosedError)


async def scripted_responder(
    script: Script,
    mine: FakeStore,
    *,
    window: int = 2,
    ingest: Callable[[list[bytes]], Awaitable[FakeReport]] | None = None,
) -> tuple[SyncSummary, list[Frame]]:
    """Run our requester against ``script``; return its summary and every frame it sent."""
    left, right = stream_pair()
    heard: list[Frame] = []

    async def peer() -> None:
        conn = FrameConnection(right, idle=10 * SESSION_TIMEOUT_S)
        try:
            heard.append(await conn.receive())  # HELLO
            heard.append(await conn.receive())  # WANT
            await script(conn, heard)
            while True:
                heard.append(await conn.receive())
        except _PEER_GONE:
            return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer)
        summary = await run_requester(
            left, mine, ingest or ingest_into(mine), authors=[A], window=window, offload=inline
        )
    return summary, heard


async def scripted_requester(script: Script, theirs: FakeStore) -> tuple[ServeSummary, list[Frame]]:
    """Run our responder against ``script``; return its summary and every frame it sent."""
    left, right = stream_pair()
    heard: list[Frame] = []

    async def peer() -> None:
        conn = FrameConnection(left, idle=10 * SESSION_TIMEOUT_S)
        try:
            await script(conn, heard)
            while True:
                heard.append(await conn.receive())
        except _PEER_GONE:
            return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer)
        served = await run_responder(right, theirs, offload=inline)
    return served, heard


def raws(index: int, seqs: list[int]) -> tuple[bytes, ...]:
    messages = chain_of(index, max(seqs))
    return tuple(messages[s - 1].raw for s in seqs)


# --- a responder that breaks the rules ----------------------------------------------------------
def sends(*frames: Frame | bytes) -> Script:
    async def script(conn: FrameConnection, heard: list[Frame]) -> None:
        for frame in frames:
            await conn.stream.send_all(frame if isinstance(frame, bytes) else encode_frame(frame))

    return script


MISBEHAVIOUR = [
    ("unrequested author", sends(Have((Head(A, 20, 20),)), Batch(raws(3, [1]))), "unrequested"),
    ("seq already held", sends(Have((Head(A, 20, 20),)), Batch(raws(1, [5]))), "unrequested"),
    ("seq above have", sends(Have((Head(A, 12, 12),)), Batch(raws(1, [11, 13]))), "unrequested"),
    ("seq twice", sends(Have((Head(A, 20, 20),)), Batch(raws(1, [11, 11]))), "unrequested"),
    ("have names others", sends(Have((Head(C, 1, 1),))), "unrequested"),
    ("batch before have", sends(Batch(raws(1, [11]))), "unexpected-frame"),
    ("garbage envelope", sends(Have((Head(A, 20, 20),)), Batch((b"\x01" * 80,))), "bad-envelope"),
    ("wrong done count", sends(Have((Head(A, 20, 20),)), Done(3)), "count-mismatch"),
    ("huge frame", sends(encode_uvarint(2**40)), "frame-too-large"),
    ("bad msgpack", sends(b"\x03\xc1\xc1\xc1"), "bad-frame"),
]


@pytest.mark.parametrize(
    ("script", "reason"), [m[1:] for m in MISBEHAVIOUR], ids=[m[0] for m in MISBEHAVIOUR]
)
async def test_requester_drops_a_misbehaving_responder_with_a_reason(
    autojump_clock: trio.abc.Clock, script: Script, reason: str
) -> None:
    mine = FakeStore(chain_of(1, 10))
    summary, heard = await scripted_responder(script, mine)
    assert summary.failure is not None
    assert summary.failure.reason.value == reason
    assert not summary.complete
    assert summary.fetched == 0
    assert mine.heads() == {A: (10, 10)}  # nothing unrequested was stored
    assert isinstance(heard[-1], ErrorFrame)  # the peer was told why
    assert heard[-1].reason == reason
    assert trio.current_time() < 1  # dropped at once, no timeout involved


async def test_requester_ends_quietly_on_a_peer_error_frame(autojump_clock: trio.abc.Clock) -> None:
    summary, heard = await scripted_responder(sends(ErrorFrame("busy", "later")), FakeStore())
    assert summary.failure is not None
    assert summary.failure.reason is SyncReason.PEER_ERROR
    assert summary.failure.detail == "busy: later"
    assert not any(isinstance(frame, ErrorFrame) for frame in heard)


async def test_requester_notices_the_responder_closing_early(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def hang_up(conn: FrameConnection, heard: list[Frame]) -> None:
        await conn.stream.send_all(encode_frame(Have((Head(A, 5, 5),)))[:-2])
        await conn.stream.close()

    summary, _ = await scripted_responder(hang_up, FakeStore())
    assert summary.failure is not None
    assert summary.failure.reason is SyncReason.CLOSED
    assert "middle of a frame" in summary.failure.detail


# --- stalled peers --------------------------------------------------------------------------------
async def test_stalled_responder_times_out(autojump_clock: trio.abc.Clock) -> None:
    summary, heard = await scripted_responder(sends(), FakeStore())  # reads, never answers
    assert summary.failure is not None
    assert summary.failure.reason is SyncReason.IDLE_TIMEOUT
    assert summary.elapsed == pytest.approx(IDLE_TIMEOUT_S)
    assert isinstance(heard[-1], ErrorFrame) and heard[-1].reason == "idle-timeout"


async def test_responder_stalling_mid_round_keeps_what_was_stored(
    autojump_clock: trio.abc.Clock,
) -> None:
    mine = FakeStore()
    script = sends(Have((Head(A, 50, 50),)), Batch(raws(1, list(range(1, 21)))))
    summary, heard = await scripted_responder(script, mine)
    assert summary.failure is not None
    assert summary.failure.reason is SyncReason.IDLE_TIMEOUT
    assert summary.fetched == 20
    assert mine.heads() == {A: (20, 20)}
    assert Ack(1) in heard


async def test_batches_buffered_before_a_protocol_error_are_still_stored(
    autojump_clock: trio.abc.Clock,
) -> None:
    mine = FakeStore()
    calls: list[int] = []

    async def slow_ingest(raws: list[bytes]) -> FakeReport:
        calls.append(len(raws))
        await trio.sleep(1)  # a slow disk: both batches are buffered (and acked) before the error
        return mine.ingest(raws)

    script = sends(
        Have((Head(A, 50, 50),)),
        Batch(raws(1, list(range(1, 21)))),
        Batch(raws(1, list(range(21, 31)))),
        Batch(raws(3, [1])),  # an author never asked for
    )
    summary, heard = await scripted_responder(script, mine, ingest=slow_ingest)
    assert summary.failure is not None
    assert summary.failure.reason is SyncReason.UNREQUESTED
    assert summary.fetched == 30
    assert mine.heads() == {A: (30, 30)}
    assert sum(calls) == 30
    assert Ack(2) in heard


async def test_trickling_responder_hits_the_session_limit(autojump_clock: trio.abc.Clock) -> None:
    async def trickle(conn: FrameConnection, heard: list[Frame]) -> None:
        await conn.stream.send_all(encode_frame(Have((Head(A, 5, 5),))))
        for byte in encode_frame(Batch(raws(1, [1, 2, 3]))):
            await trio.sleep(IDLE_TIMEOUT_S * 2 / 3)  # always just inside the idle limit
            try:
                await conn.stream.send_all(bytes([byte]))
            except StreamClosedError:
                return  # the requester gave up: go read what it said

    summary, heard = await scripted_responder(trickle, FakeStore())
    assert summary.failure is not None
    assert summary.failure.reason is SyncReason.SESSION_TIMEOUT
    assert summary.elapsed == pytest.approx(SESSION_TIMEOUT_S)
    assert isinstance(heard[-1], ErrorFrame) and heard[-1].reason == "session-timeout"


async def test_stalled_requester_times_out(autojump_clock: trio.abc.Clock) -> None:
    served, heard = await scripted_requester(sends(Hello(SYNC_VERSION, 2)), FakeStore())
    assert served.failure is not None
    assert served.failure.reason is SyncReason.IDLE_TIMEOUT
    assert served.elapsed == pytest.approx(IDLE_TIMEOUT_S)
    assert heard == [ErrorFrame("idle-timeout", f"peer idle for {IDLE_TIMEOUT_S:g} s")]


async def test_requester_that_never_acks_gets_one_window_then_a_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    theirs = FakeStore(chain_of(1, 2000))
    served, heard = await scripted_requester(
        sends(Hello(SYNC_VERSION, 2), Want((WantEntry(A, 0),))), theirs
    )
    assert served.failure is not None
    assert served.failure.reason is SyncReason.IDLE_TIMEOUT
    assert [type(f) for f in heard] == [Have, Batch, Batch, ErrorFrame]
    assert served.batches == 2
    assert theirs.envelopes_read <= 3 * MAX_BATCH_MESSAGES  # read ahead at most one batch


async def test_requester_looping_rounds_hits_the_session_limit(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def loop(conn: FrameConnection, heard: list[Frame]) -> None:
        await conn.send(Hello(SYNC_VERSION, 1))
        while True:
            await conn.send(Want((WantEntry(A, 0),)))
            heard.append(await conn.receive())  # HAVE
            heard.append(await conn.receive())  # DONE
            await trio.sleep(IDLE_TIMEOUT_S / 2)

    served, heard = await scripted_requester(loop, FakeStore())
    assert served.failure is not None
    assert served.failure.reason is SyncReason.SESSION_TIMEOUT
    assert served.rounds > 10
    assert isinstance(heard[-1], ErrorFrame)


# --- a requester that breaks the rules ----------------------------------------------------------
BAD_REQUESTS = [
    ("version 2", sends(Hello(2, 2)), "unsupported-version"),
    ("window 9", sends(Hello(SYNC_VERSION, 9)), "bad-frame"),
    ("want first", sends(Want((WantEntry(A, 0),))), "unexpected-frame"),
    ("ack unsent", sends(Hello(SYNC_VERSION, 2), Ack(1)), "bad-ack"),
    ("garbage", sends(b"\x81\x80\x00"), "bad-prefix"),
    ("unknown", sends(b"\x08\x81\xa1t\xa4ping"), "unknown-frame"),
]


@pytest.mark.parametrize(
    ("script", "reason"), [m[1:] for m in BAD_REQUESTS], ids=[m[0] for m in BAD_REQUESTS]
)
async def test_responder_drops_a_misbehaving_requester_with_a_reason(
    autojump_clock: trio.abc.Clock, script: Script, reason: str
) -> None:
    served, heard = await scripted_requester(script, FakeStore(chain_of(1, 5)))
    assert served.failure is not None
    assert served.failure.reason.value == reason
    assert served.messages == 0
    assert isinstance(heard[-1], ErrorFrame) and heard[-1].reason == reason


async def test_responder_rejects_a_second_want_mid_round(autojump_clock: trio.abc.Clock) -> None:
    theirs = FakeStore(chain_of(1, 1000))
    script = sends(Hello(SYNC_VERSION, 1), Want((WantEntry(A, 0),)), Want((WantEntry(C, 0),)))
    served, heard = await scripted_requester(script, theirs)
    assert served.failure is not None
    assert served.failure.reason is SyncReason.UNEXPECTED_FRAME
    assert served.batches == 1
    assert isinstance(heard[-1], ErrorFrame)
