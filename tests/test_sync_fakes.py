"""Shared helpers of the sync tests (no tests here): signed chains, a fake store, stream taps.

FakeStore implements the store contract methods sync uses (heads, missing, range) plus an
``ingest`` that validates every envelope with pnyx.core.envelope.validate and places it with
pnyx.core.chain.place, like the real store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import nacl.signing
import trio
import trio.testing

from pnyx.core import chain
from pnyx.core.envelope import Message, sign, validate
from pnyx.core.limits import MIN_TIMESTAMP_MS
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.sync.api import ByteStream, ServeSummary, SyncSummary
from pnyx.sync.driver import run_requester, run_responder
from pnyx.sync.frames import Frame
from pnyx.sync.limits import MAX_INFLIGHT_BATCHES
from pnyx.sync.transport import TrioByteStream
from pnyx.sync.wire import FrameDecoder

_T = TypeVar("_T")

#: The receiving clock of every test ingest (2033), after every test timestamp.
NOW_MS = 2_000_000_000_000
_CHAINS: dict[tuple[int, str], list[Message]] = {}


def key(index: int) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(bytes([index]) * 32)


def author(index: int) -> bytes:
    return bytes(key(index).verify_key)


def chain_of(index: int, count: int, *, variant: str = "") -> list[Message]:
    """Messages 1..count of author ``index`` (cached); ``variant`` makes a different chain."""
    messages = _CHAINS.setdefault((index, variant), [])
    signer = key(index)
    while len(messages) < count:
        seq = len(messages) + 1
        prev = messages[-1].id if messages else None
        messages.append(
            sign(
                signer,
                seq=seq,
                prev=prev,
                ts=MIN_TIMESTAMP_MS + seq * 1000,
                kind="post",
                body={"text": f"{variant}author {index} message {seq}"},
            )
        )
    return messages[:count]


@dataclass
class FakeReport:
    accepted: list[Message] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[tuple[int, Reason, str]] = field(default_factory=list)


class FakeStore:
    """In-memory stand-in for pnyx.store.Store (the replication methods only)."""

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        self.chains: dict[bytes, dict[int, Message]] = {}
        self.fork_evidence: list[Message] = []
        self.range_calls: list[tuple[bytes, int, int, int]] = []
        self.envelopes_read = 0
        self.add(messages)

    def add(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self.chains.setdefault(message.author, {})[message.seq] = message

    def count(self) -> int:
        return sum(len(held) for held in self.chains.values())

    def heads(self, authors: Iterable[bytes] | None = None) -> dict[bytes, tuple[int, int]]:
        wanted = self.chains if authors is None else authors
        out: dict[bytes, tuple[int, int]] = {}
        for who in wanted:
            held = self.chains.get(who)
            if held:
                contiguous = 0
                while contiguous + 1 in held:
                    contiguous += 1
                out[who] = (contiguous, max(held))
        return out

    def missing(self, author: bytes, upto: int | None = None) -> list[tuple[int, int]]:
        return chain.missing_ranges(self.chains.get(author, {}), upto)

    def range(
        self, author: bytes, first_seq: int, last_seq: int, *, limit: int = 1000
    ) -> list[bytes]:
        self.range_calls.append((author, first_seq, last_seq, limit))
        held = self.chains.get(author, {})
        seqs = sorted(seq for seq in held if first_seq <= seq <= last_seq)[:limit]
        self.envelopes_read += len(seqs)
        return [held[seq].raw for seq in seqs]

    def ingest(self, raws: Sequence[bytes], now_ms: int = NOW_MS) -> FakeReport:
        report = FakeReport()
        for index, raw in enumerate(raws):
            try:
                message = validate(raw, now_ms)
            except InvalidMessage as exc:
                report.rejected.append((index, exc.reason, exc.detail))
                continue
            held = self.chains.setdefault(message.author, {})
            same, before, after = (held.get(message.seq + d) for d in (0, -1, 1))
            verdict = chain.place(
                message,
                chain.Neighbours(
                    same_id=same.id if same else None,
                    before_id=before.id if before else None,
                    after_prev=after.prev if after else None,
                ),
            )
            if verdict.placement is chain.Placement.DUPLICATE:
                report.duplicates += 1
            elif verdict.placement is chain.Placement.FORK:
                assert verdict.reason is not None
                self.fork_evidence.append(message)
                report.rejected.append((index, verdict.reason, verdict.detail))
            else:
                held[message.seq] = message
                report.accepted.append(message)
        return report


def ingest_into(store: FakeStore) -> Callable[[list[bytes]], Awaitable[FakeReport]]:
    async def ingest(raws: list[bytes]) -> FakeReport:
        return store.ingest(raws)

    return ingest


async def inline(fn: Callable[[], _T]) -> _T:
    """Offload that runs store calls on the trio thread: keeps autojump_clock deterministic."""
    return fn()


class Tap:
    """A ByteStream wrapper that decodes and records the frames passing in each direction."""

    def __init__(self, inner: ByteStream) -> None:
        self.inner = inner
        self.log: list[tuple[str, Frame]] = []
        self._out = FrameDecoder()
        self._in = FrameDecoder()

    async def receive_some(self, max_bytes: int) -> bytes:
        data = await self.inner.receive_some(max_bytes)
        self.log.extend(("in", frame) for frame in self._in.feed(data))
        return data

    async def send_all(self, data: bytes) -> None:
        await self.inner.send_all(data)
        self.log.extend(("out", frame) for frame in self._out.feed(data))

    async def close(self) -> None:
        await self.inner.close()

    def frames(self, direction: str) -> list[Frame]:
        return [frame for way, frame in self.log if way == direction]


def stream_pair(*, lockstep: bool = False) -> tuple[TrioByteStream, TrioByteStream]:
    make = trio.testing.lockstep_stream_pair if lockstep else trio.testing.memory_stream_pair
    left, right = make()
    return TrioByteStream(left), TrioByteStream(right)


async def sync_once(
    mine: FakeStore,
    theirs: FakeStore,
    authors: Iterable[bytes],
    *,
    window: int = MAX_INFLIGHT_BATCHES,
    lockstep: bool = False,
    wrap_requester: Callable[[ByteStream], ByteStream] = lambda s: s,
    wrap_responder: Callable[[ByteStream], ByteStream] = lambda s: s,
    ingest: Callable[[list[bytes]], Awaitable[FakeReport]] | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> tuple[SyncSummary, ServeSummary]:
    """One session between a requester over ``mine`` and a responder over ``theirs``."""
    left, right = stream_pair(lockstep=lockstep)
    served: list[ServeSummary] = []

    async def serve() -> None:
        served.append(await run_responder(wrap_responder(right), theirs, offload=inline))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        summary = await run_requester(
            wrap_requester(left),
            mine,
            ingest or ingest_into(mine),
            authors=list(authors),
            window=window,
            on_progress=on_progress,
            offload=inline,
        )
    return summary, served[0]
