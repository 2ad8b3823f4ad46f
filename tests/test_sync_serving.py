"""The sync Server under re-asking and slot-holding requesters (pnyx.catchup.server), in memory and
virtual time: the attacker is cut at its budget and refused ``busy``, an honest requester is served.
The same attacks across real node processes are in tests/test_sync_amplifier_network.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path

import trio
import trio.testing

from pnyx.catchup.server import Server
from pnyx.net.triostream import TrioStream
from pnyx.sync.api import SyncSummary
from pnyx.sync.budget import BudgetLimits, ServeBudget, ServeMeter
from pnyx.sync.driver import ServeHooks, run_requester, run_responder
from pnyx.sync.errors import SyncReason
from pnyx.sync.frames import ErrorFrame, Frame, Hello, Want, WantEntry
from pnyx.sync.slots import MAX_SERVED_SESSIONS, STALL_TIMEOUT_S
from pnyx.sync.wire import FrameDecoder, encode_frame
from tests.sync_fakes import (
    FakeReport,
    FakeStore,
    Tap,
    author,
    chain_of,
    inline,
    stream_pair,
)

#: Virtual-time cap of each test, in seconds.
CAP_S = 120
#: Messages in the served feed.
FEED = 2000


class Forgetful:
    """A requester store that holds nothing: every session asks the whole feed again."""

    def heads(self, authors: Iterable[bytes] | None = None) -> Mapping[bytes, tuple[int, int]]:
        return {}

    def missing(self, author: bytes, upto: int | None = None) -> list[tuple[int, int]]:
        return []


async def discard(envelopes: list[bytes]) -> FakeReport:
    return FakeReport()


def served_store() -> FakeStore:
    return FakeStore(chain_of(1, FEED))


def feed_bytes(store: FakeStore) -> int:
    return sum(len(m.raw) for m in store.chains[author(1)].values())


async def session(server: Server, nursery: trio.Nursery, peer: str) -> SyncSummary:
    """One requester session of ``peer`` that stores nothing."""
    mine, theirs = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve, TrioStream(theirs), peer)
    return await run_requester(
        TrioStream(mine), Forgetful(), discard, authors=[author(1)], offload=inline
    )


async def stall(server: Server, nursery: trio.Nursery, peer: str) -> trio.abc.Stream:
    """HELLO and WANT everything, then never acknowledge (nor read)."""
    mine, theirs = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve, TrioStream(theirs), peer)
    await mine.send_all(encode_frame(Hello(1, 4)) + encode_frame(Want((WantEntry(author(1), 0),))))
    return mine


async def test_a_re_asking_requester_is_refused_busy_at_its_budget_and_an_honest_one_is_served(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    store = served_store()
    size = feed_bytes(store)
    budget = ServeBudget(BudgetLimits(repeat_bytes=3 * size))
    violations: list[object] = []
    server = Server(
        store,  # type: ignore[arg-type]
        inline,
        budget=budget,
        on_violation=lambda peer, error: violations.append(error),
    )
    with trio.fail_after(CAP_S):
        async with trio.open_nursery() as nursery:
            pulled, refusals = 0, 0
            for _ in range(20):
                summary = await session(server, nursery, "mallory")
                pulled += summary.received
                if summary.failure is not None:
                    assert summary.failure.reason is SyncReason.PEER_ERROR
                    assert summary.failure.detail.startswith("busy: retry after ")
                    refusals += 1
            honest = await session(server, nursery, "honest")
    assert pulled <= 4 * FEED + 128  # the first pass, 3 feeds of repeats, at most one chunk more
    assert refusals >= 15  # refused from the 5th session on, at once
    assert honest.failure is None and honest.received == FEED
    assert server.stats.sessions_over_budget >= 15
    assert server.stats.sessions_served == 5  # 4 mallory + honest
    assert violations == []  # re-asking is shed, never penalised


async def test_a_round_cut_by_the_budget_sends_what_was_charged_then_busy_in_place_of_done(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The wire as section 5.6 says: HAVE, the batches charged, then ERROR busy with
    ``retry after S s`` (S = the seconds left in the window); the requester keeps those batches."""
    store = served_store()
    budget = ServeBudget(BudgetLimits(repeat_bytes=feed_bytes(store) // 2))
    meter = budget.meter("p")
    with trio.fail_after(CAP_S):
        first = await sync_session(store, meter)
        await trio.sleep(20)
        second = await sync_session(store, meter)
        third = await sync_session(store, meter)
    assert first[0].failure is None and first[0].received == FEED
    summary, frames = second
    assert summary.failure is not None and summary.failure.reason is SyncReason.PEER_ERROR
    assert FEED // 2 - 128 <= summary.received <= FEED // 2  # whole chunks within the budget
    types = [type(frame).__name__ for frame in frames]
    assert types[0] == "Have" and types[-1] == "ErrorFrame" and "Done" not in types
    assert frames[-1] == ErrorFrame("busy", "retry after 40 s")
    assert third[0].received == 0 and third[1] == [ErrorFrame("busy", "retry after 40 s")]


class HalfClosing(TrioStream):
    """Closing sends EOF only, as a libp2p stream's close does: the peer still reads what was
    sent (the ERROR frame) and may still write (its last ACKs)."""

    async def close(self) -> None:
        assert isinstance(self.stream, trio.StapledStream)
        await self.stream.send_stream.aclose()


async def sync_session(store: FakeStore, meter: ServeMeter) -> tuple[SyncSummary, list[Frame]]:
    """One forgetful requester session against ``run_responder`` with ``meter``; the frames the
    requester received."""
    left, right = stream_pair()
    tap = Tap(left)
    responder = HalfClosing(right.stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            partial(run_responder, responder, store, offload=inline, hooks=ServeHooks(meter=meter))
        )
        summary = await run_requester(
            tap, Forgetful(), discard, authors=[author(1)], offload=inline
        )
    return summary, tap.frames("in")


async def test_four_ids_holding_two_stalled_slots_each_do_not_lock_an_honest_requester_out(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    server = Server(served_store(), inline)  # type: ignore[arg-type]
    with trio.fail_after(CAP_S):
        async with trio.open_nursery() as nursery:
            held = [
                await stall(server, nursery, f"sybil{index // 2}")
                for index in range(MAX_SERVED_SESSIONS)
            ]
            await trio.sleep(1)
            assert server.active == MAX_SERVED_SESSIONS
            started = trio.current_time()
            honest = await session(server, nursery, "honest")
            waited = trio.current_time() - started
            preempted = held[0]
            data = b""
            while chunk := await preempted.receive_some(1 << 20):
                data += chunk
            for stream in held:
                await stream.aclose()
    assert honest.failure is None and honest.received == FEED
    assert waited < 1.0  # the fair share is handed over at once
    assert server.stats.sessions_preempted >= 1
    frames = FrameDecoder().feed(data)
    assert isinstance(frames[-1], ErrorFrame) and frames[-1].reason == "busy"


async def test_eight_ids_with_one_stalled_slot_each_make_an_honest_requester_wait_a_stall(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    server = Server(served_store(), inline)  # type: ignore[arg-type]
    with trio.fail_after(CAP_S):
        async with trio.open_nursery() as nursery:
            held = [
                await stall(server, nursery, f"sybil{index}")
                for index in range(MAX_SERVED_SESSIONS)
            ]
            await trio.sleep(1)
            started = trio.current_time()
            honest = await session(server, nursery, "honest")
            waited = trio.current_time() - started
            for stream in held:
                await stream.aclose()
    assert honest.failure is None and honest.received == FEED
    assert STALL_TIMEOUT_S - 1.5 <= waited <= STALL_TIMEOUT_S + 1.0
    assert server.stats.sessions_preempted == 1


async def test_an_honest_catch_up_and_its_resume_are_not_cut_by_the_default_budget(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """A full pass, then the same feed again after a cut (every batch lost): still served."""
    server = Server(served_store(), inline)  # type: ignore[arg-type]
    with trio.fail_after(CAP_S):
        async with trio.open_nursery() as nursery:
            first = await session(server, nursery, "honest")
            again = await session(server, nursery, "honest")
    assert first.failure is None and again.failure is None
    assert first.received == again.received == FEED
