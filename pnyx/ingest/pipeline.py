"""Validate on threads, store in order: the ingest path for batches (sync, import, catch-up).

``ingest`` validates one batch with a ``ParallelValidator`` and stores the valid messages with
``store.ingest_verified`` (which places each in its author's chain, in one transaction).
``ingest_batches`` overlaps the two: while the calling thread stores batch k, the pool verifies
batch k+1 (SQLite releases the GIL while it writes), so both cores stay busy.

The reports are the store's ``IngestReport`` with ``rejected`` holding both kinds of rejection (bad
envelope, broken chain or fork) by their index in the batch, in increasing order, exactly as
``store.ingest`` reports them. Failure modes: ``StoreError`` from the store (nothing of that batch
is committed; earlier batches stay committed); bad messages never raise.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Protocol

from pnyx.core.envelope import Message
from pnyx.ingest.validator import ParallelValidator, Validated

if TYPE_CHECKING:
    from pnyx.store import IngestReport


class VerifiedSink(Protocol):
    """What the pipeline needs of a store: ``pnyx.store.Store`` has it."""

    def ingest_verified(self, messages: Sequence[Message]) -> IngestReport: ...


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch, the clock envelopes are checked against."""
    return time.time_ns() // 1_000_000


def merge(validated: Validated, report: IngestReport) -> IngestReport:
    """The store's report for ``validated.messages`` with indexes mapped back to the batch and the
    validation rejections added, all sorted by index."""
    positions = validated.positions
    stored = [(positions[index], reason, detail) for index, reason, detail in report.rejected]
    if not validated.rejected:
        rejected = stored
    elif not stored:
        rejected = list(validated.rejected)
    else:
        rejected = sorted([*validated.rejected, *stored], key=lambda item: item[0])
    return dataclasses.replace(report, rejected=rejected)


def ingest(
    store: VerifiedSink, validator: ParallelValidator, raws: Sequence[bytes], now_ms: int
) -> IngestReport:
    """Validate ``raws`` on the validator's threads, then store the valid ones (one transaction)."""
    validated = validator.validate(raws, now_ms)
    return merge(validated, store.ingest_verified(validated.messages))


def ingest_batches(
    store: VerifiedSink,
    validator: ParallelValidator,
    batches: Iterable[Sequence[bytes]],
    clock: Callable[[], int] = wall_clock_ms,
) -> Iterator[IngestReport]:
    """Ingest each batch in turn, yielding one report per batch, in order.

    Verification of the next batch overlaps the storing of the current one; at most two batches
    are held at once. Each batch is checked against ``clock()`` read when its validation starts.
    If the consumer stops early, a batch being verified is dropped, never stored.
    """
    pending: Future[Validated] | None = None
    for batch in batches:
        upcoming = validator.submit(batch, clock())
        if pending is not None:
            validated = pending.result()
            yield merge(validated, store.ingest_verified(validated.messages))
        pending = upcoming
    if pending is not None:
        validated = pending.result()
        yield merge(validated, store.ingest_verified(validated.messages))
