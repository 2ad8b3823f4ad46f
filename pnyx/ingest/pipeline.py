"""Validate on threads, store in order: the ingest path for batches (sync, import, catch-up).

``ingest`` validates one batch with a ``ParallelValidator`` and stores the valid messages with
``store.ingest_verified`` (which places each in its author's chain, in one transaction).
``ingest_batches`` overlaps the two and groups batches: while the calling thread stores a group of
batches in one transaction, the pool verifies the next ones (SQLite releases the GIL while it
writes), so both cores stay busy.

The reports are the store's ``IngestReport`` with ``rejected`` holding both kinds of rejection (bad
envelope, broken chain or fork) by their index in the batch, in increasing order, exactly as
``store.ingest`` reports them. Failure modes: ``StoreError`` from the store (nothing of that
transaction is committed; earlier ones stay committed); bad messages never raise.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from pnyx.clock import wall_clock_ms
from pnyx.core.envelope import Message
from pnyx.ingest.validator import Rejection, Validated

if TYPE_CHECKING:
    from pnyx.store import IngestReport

#: Most messages ``ingest_batches`` stores in one transaction, a count. A transaction rewrites
#: every index page it touches; grouping batches touches each page once for more messages
#: (measured in docs/performance.md).
GROUP_MESSAGES = 16384


class PendingResult(Protocol):
    """A batch being validated (``Pending``, ``ProcessPending``)."""

    def result(self) -> Validated: ...


class Validator(Protocol):
    """What the pipeline needs of a validator: ``ParallelValidator`` and ``ProcessValidator``."""

    def submit(self, raws: Sequence[bytes], now_ms: int) -> PendingResult: ...

    def validate(self, raws: Sequence[bytes], now_ms: int) -> Validated: ...


class VerifiedSink(Protocol):
    """What the pipeline needs of a store: ``pnyx.store.Store`` has it."""

    def ingest_verified(self, messages: Sequence[Message]) -> IngestReport: ...


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
    store: VerifiedSink, validator: Validator, raws: Sequence[bytes], now_ms: int
) -> IngestReport:
    """Validate ``raws`` on the validator's threads, then store the valid ones (one transaction)."""
    validated = validator.validate(raws, now_ms)
    return merge(validated, store.ingest_verified(validated.messages))


def ingest_batches(
    store: VerifiedSink,
    validator: Validator,
    batches: Iterable[Sequence[bytes]],
    clock: Callable[[], int] = wall_clock_ms,
    *,
    group: int = GROUP_MESSAGES,
) -> Generator[IngestReport, None, None]:
    """Ingest each batch in turn, yielding one report per input batch, in order.

    Consecutive batches are stored together, in one transaction of at most ``group`` messages
    (a single larger batch alone); verification runs ahead of the store by up to ``2 * group``
    messages, so memory stays bounded. Each batch is checked against ``clock()`` read when its
    validation starts. If the consumer stops early, batches not yet reported are never stored.
    """
    if group < 1:
        raise ValueError("group must be at least 1 message")
    source = iter(batches)
    queue: deque[tuple[int, PendingResult]] = deque()
    queued = 0
    exhausted = False
    while True:
        while not exhausted and queued < 2 * group:
            batch = next(source, None)
            if batch is None:
                exhausted = True
                break
            queue.append((len(batch), validator.submit(batch, clock())))
            queued += len(batch)
        if not queue:
            return
        parts: list[Validated] = []
        count = 0
        while queue and (not parts or count + queue[0][0] <= group):
            size, pending = queue.popleft()
            parts.append(pending.result())
            count += size
            queued -= size
        messages = parts[0].messages if len(parts) == 1 else [m for p in parts for m in p.messages]
        yield from split(parts, store.ingest_verified(messages))


def split(parts: Sequence[Validated], report: IngestReport) -> list[IngestReport]:
    """Per-batch reports from ``report``, the store's report for all of ``parts``' messages
    stored together (each part's indexes are positions in its own batch)."""
    if len(parts) == 1:
        return [merge(parts[0], report)]
    starts: list[int] = []
    total = 0
    for part in parts:
        starts.append(total)
        total += len(part.messages)
    owner = [number for number, part in enumerate(parts) for _ in part.messages]
    authors = [m.author for part in parts for m in part.messages]
    rejected: list[list[Rejection]] = [[] for _ in parts]
    first_fork: dict[bytes, int] = {}  # author -> part holding its first fork rejection
    for index, reason, detail in sorted(report.rejected, key=lambda item: item[0]):
        number = owner[index]
        rejected[number].append((index - starts[number], reason, detail))
        first_fork.setdefault(authors[index], number)
    accepted = report.accepted
    taken = 0  # accepted messages assigned so far (they are in input order)
    out: list[IngestReport] = []
    for number, part in enumerate(parts):
        mine: list[Message] = []
        for message in part.messages:
            if taken < len(accepted) and accepted[taken].id == message.id:
                mine.append(message)
                taken += 1
        piece = dataclasses.replace(
            report,
            accepted=mine,
            duplicates=len(part.messages) - len(mine) - len(rejected[number]),
            rejected=rejected[number],
            forks=[a for a in report.forks if first_fork.get(a, len(parts) - 1) == number],
        )
        out.append(merge(part, piece))
    return out
