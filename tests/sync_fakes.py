"""Shared helpers of the sync tests (no tests here): signed chains, a fake store, stream taps.

FakeStore implements the store contract methods sync uses (heads, missing, range) plus an
``ingest`` that validates every envelope with pnyx.core.envelope.validate and places it with
pnyx.core.chain.place, like the real store.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import nacl.signing
import trio
import trio.testing
from hypothesis import strategies as st

from pnyx.core import chain
from pnyx.core.envelope import Message, sign, validate
from pnyx.core.limits import MIN_TIMESTAMP_MS
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.net.contracts import ByteStream
from pnyx.net.triostream import TrioStream
from pnyx.sync.api import ServeSummary, SyncSummary
from pnyx.sync.driver import run_requester, run_responder
from pnyx.sync.frames import (
    Ack,
    Batch,
    Bye,
    Done,
    ErrorFrame,
    Frame,
    Have,
    Head,
    Hello,
    Want,
    WantEntry,
)
from pnyx.sync.limits import MAX_INFLIGHT_BATCHES, MAX_WANT_RANGES
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

    async def send_eof(self) -> None:
        await self.inner.send_eof()

    async def close(self) -> None:
        await self.inner.close()

    def frames(self, direction: str) -> list[Frame]:
        return [frame for way, frame in self.log if way == direction]


def stream_pair(*, lockstep: bool = False) -> tuple[TrioStream, TrioStream]:
    make = trio.testing.lockstep_stream_pair if lockstep else trio.testing.memory_stream_pair
    left, right = make()
    return TrioStream(left), TrioStream(right)


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


# --- hypothesis strategies for sync frames (wire and fuzz tests) ---------------------------
authors = st.binary(min_size=32, max_size=32)
seqs = st.integers(0, 2**53)


@st.composite
def want_entries(draw: st.DrawFn, author: bytes) -> WantEntry:
    after = draw(st.integers(0, 10_000))
    if after == 0:
        return WantEntry(author, 0)
    points = sorted(draw(st.sets(st.integers(1, after), max_size=2 * MAX_WANT_RANGES)))
    gaps = tuple(zip(points[0::2], points[1::2], strict=False))
    return WantEntry(author, after, gaps)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    kind = draw(st.sampled_from(["hello", "want", "have", "batch", "done", "ack", "bye", "error"]))
    if kind == "hello":
        return Hello(draw(st.integers(0, 2**32)), draw(st.integers(0, 2**32)))
    if kind == "want":
        keys = draw(st.lists(authors, min_size=1, max_size=5, unique=True))
        return Want(tuple(draw(want_entries(k)) for k in keys))
    if kind == "have":
        keys = draw(st.lists(authors, max_size=5, unique=True))
        heads = []
        for k in keys:
            highest = draw(st.integers(1, 2**53))
            heads.append(Head(k, draw(st.integers(0, highest)), highest))
        return Have(tuple(heads))
    if kind == "batch":
        return Batch(
            tuple(draw(st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=5)))
        )
    if kind == "done":
        return Done(draw(seqs))
    if kind == "ack":
        return Ack(draw(st.integers(1, 2**53)))
    if kind == "bye":
        return Bye()
    return ErrorFrame(draw(st.text(max_size=16)), draw(st.text(max_size=64)))


def feed_in_chunks(data: bytes, cuts: list[int]) -> list[Frame]:
    decoder = FrameDecoder()
    out: list[Frame] = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(points):
        out.extend(decoder.feed(data[start:end]))
    return out
