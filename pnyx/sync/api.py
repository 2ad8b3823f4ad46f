"""What the sync drivers need from their surroundings, and what they report (no trio here).

The drivers talk over a ``pnyx.net.contracts.ByteStream`` (a libp2p stream for "/pnyx/sync/1.0.0"
in the node, ``pnyx.net.triostream.TrioStream`` over trio memory streams in tests). The store
views name the few methods of ``pnyx.store.Store`` the drivers call (synchronous; the drivers run
them in a worker thread). ``Ingest`` is how a requester
stores what it received: validation, chain placement and fork evidence are the callee's job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from pnyx.sync.errors import SyncReason

_T = TypeVar("_T")


class RequesterStore(Protocol):
    """The store methods a requester uses (see docs of ``pnyx.store.Store``)."""

    def heads(self, authors: Iterable[bytes] | None = None) -> Mapping[bytes, tuple[int, int]]:
        """author -> (contiguous, highest) for held authors among ``authors``."""
        ...

    def missing(self, author: bytes, upto: int | None = None) -> Sequence[tuple[int, int]]:
        """Inclusive seq ranges absent in 1..max(highest, upto), ascending."""
        ...


class ResponderStore(Protocol):
    """The store methods a responder uses (see docs of ``pnyx.store.Store``)."""

    def heads(self, authors: Iterable[bytes] | None = None) -> Mapping[bytes, tuple[int, int]]:
        """author -> (contiguous, highest) for held authors among ``authors``."""
        ...

    def range(
        self, author: bytes, first_seq: int, last_seq: int, *, limit: int = 1000
    ) -> Sequence[bytes]:
        """Raw envelopes with first_seq <= seq <= last_seq, ascending seq, at most ``limit``."""
        ...


class StoreView(RequesterStore, ResponderStore, Protocol):
    """Both sides' needs; ``pnyx.store.Store`` satisfies it."""


class IngestOutcome(Protocol):
    """What ingesting one batch did (``pnyx.store.IngestReport`` satisfies it)."""

    @property
    def accepted(self) -> Sequence[object]: ...

    @property
    def duplicates(self) -> int: ...

    @property
    def rejected(self) -> Sequence[object]: ...


#: Validate and store a batch of raw envelopes (e.g. ``Store.ingest`` in a worker thread). It must
#: not raise for bad envelopes (they are "rejected"); a ``StoreError`` aborts the session.
Ingest = Callable[[list[bytes]], Awaitable[IngestOutcome]]

#: Called after each ingested batch with (envelopes received so far, expected total or None).
Progress = Callable[[int, int | None], None]


class Offload(Protocol):
    """Runs a blocking store call without blocking the event loop (default: a worker thread)."""

    def __call__(self, fn: Callable[[], _T], /) -> Awaitable[_T]: ...


@dataclass(frozen=True, slots=True)
class SyncFailure:
    """Why a session ended early."""

    reason: SyncReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SyncSummary:
    """What one requester session did.

    ``fetched`` envelopes were newly stored, ``duplicates`` were already held, ``rejected`` failed
    validation or were fork evidence; ``received`` counts envelopes that arrived (their sum when the
    ingest callback accounts for each envelope once). ``authors`` = distinct authors among
    received envelopes. ``bytes_received`` counts every byte read from the stream, ``elapsed`` is in
    seconds. ``complete`` is True when the session ended cleanly (BYE) and asked for every gap
    (no author had more than MAX_WANT_RANGES): we now hold all the peer held of what we wanted.
    ``peer_heads``: the peer's (contiguous, highest) per author it holds, so the caller can tell
    which seqs exist that neither side holds.
    """

    fetched: int
    duplicates: int
    rejected: int
    received: int
    authors: int
    batches: int
    rounds: int
    bytes_received: int
    elapsed: float
    complete: bool
    failure: SyncFailure | None = None
    peer_heads: Mapping[bytes, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServeSummary:
    """What one responder session did: ``messages`` envelopes in ``batches`` BATCH frames over
    ``rounds`` rounds for ``authors_requested`` authors; ``complete`` if the requester said BYE."""

    rounds: int
    authors_requested: int
    messages: int
    batches: int
    bytes_sent: int
    elapsed: float
    complete: bool
    failure: SyncFailure | None = None
