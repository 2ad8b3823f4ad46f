"""Validate batches of envelopes on several threads at once.

Ed25519 verification is the cost of ingest (docs/performance.md). PyNaCl calls libsodium through
cffi, which releases the GIL for the length of the call, so threads verify on every core at once;
decoding (pure Python) still holds the GIL, about a tenth of each message's cost.

Each envelope goes through ``pnyx.core.envelope.validate`` (the same function, so exactly as strict:
structure, clock, signature). A batch is cut into contiguous slices, one task per slice: one task
per message costs a future, a lock and a thread wake-up each (measured: it loses the gain of the
second core, see docs/performance.md). The calling thread counts as a worker: it validates the
slices no pool thread has started when it asks for the result, so a validator of N workers keeps
N threads busy, not N + 1 fighting over the GIL. Results keep the input order.

Failure modes: ``validate`` never raises for a bad envelope (it lands in ``rejected``); it raises
``RuntimeError`` after ``close()``; a bug inside the core (any other exception) propagates.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

from pnyx.core.envelope import Message, validate
from pnyx.core.reasons import InvalidMessage, Reason

#: Most worker threads a validator starts (a count of threads); more than the cores only adds
#: GIL contention.
MAX_WORKERS = 16
#: Smallest slice handed to one thread, in messages: below it the hand-off (about 20 us) is a
#: noticeable share of the slice's cost (about 60 us a message), so small batches use fewer threads.
MIN_SLICE_MESSAGES = 32

#: One rejection: (index in the batch, reason, human detail).
Rejection = tuple[int, Reason, str]


def default_workers() -> int:
    """Threads to use by default: one per core this process may run on, at most MAX_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


@dataclass(frozen=True, slots=True)
class Validated:
    """The outcome of validating one batch.

    ``messages`` are the valid envelopes decoded, in input order; ``positions[i]`` is the index in
    the batch of ``messages[i]``; ``rejected`` lists the others by increasing index.
    """

    messages: list[Message] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def validate_slice(raws: Sequence[bytes], start: int, stop: int, now_ms: int) -> Validated:
    """Validate ``raws[start:stop]`` in the calling thread (indexes are positions in ``raws``)."""
    messages: list[Message] = []
    positions: list[int] = []
    rejected: list[Rejection] = []
    check = validate
    for index in range(start, stop):
        try:
            messages.append(check(raws[index], now_ms))
        except InvalidMessage as exc:
            rejected.append((index, exc.reason, exc.detail))
        else:
            positions.append(index)
    return Validated(messages, positions, rejected)


def _join(parts: Sequence[Validated]) -> Validated:
    if len(parts) == 1:
        return parts[0]
    out = Validated()
    for part in parts:
        out.messages.extend(part.messages)
        out.positions.extend(part.positions)
        out.rejected.extend(part.rejected)
    return out


class Pending:
    """The validation of one batch, under way on the pool.

    ``result()`` waits for it, validating in the calling thread every slice no worker has started
    yet (a waiting thread is a spare core). One thread consumes a ``Pending``.
    """

    def __init__(
        self, raws: Sequence[bytes], now_ms: int, parts: list[tuple[int, int, Future[Validated]]]
    ) -> None:
        self._raws = raws
        self._now_ms = now_ms
        self._parts = parts
        self._result: Validated | None = None

    @classmethod
    def finished(cls, result: Validated) -> Pending:
        pending = cls([], 0, [])
        pending._result = result
        return pending

    def result(self) -> Validated:
        if self._result is None:
            done: dict[int, Validated] = {}
            # Steal from the back: the pool takes slices from the front.
            for number in range(len(self._parts) - 1, -1, -1):
                start, stop, future = self._parts[number]
                if future.cancel():
                    done[number] = validate_slice(self._raws, start, stop, self._now_ms)
            for number, (_, _, future) in enumerate(self._parts):
                if number not in done:
                    done[number] = future.result()  # re-raises a bug in the core
            self._result = _join([done[number] for number in range(len(self._parts))])
            self._raws = []
        return self._result


class ParallelValidator:
    """Validates batches of raw envelopes on ``workers`` threads (synchronous API).

    ``workers`` counts the calling thread: a pool of ``workers - 1`` threads starts the slices of
    each batch, and the caller validates whatever slices are still waiting when it asks for the
    result, so no core idles and no thread more than the cores competes for the GIL. With one
    worker everything runs in the calling thread. Any number of threads may submit at once (they
    share the pool). Use as a context manager or call ``close()``; async code calls ``validate``
    through ``trio.to_thread.run_sync``.
    """

    def __init__(self, workers: int | None = None, *, min_slice: int = MIN_SLICE_MESSAGES) -> None:
        count = default_workers() if workers is None else workers
        if not 1 <= count <= MAX_WORKERS:
            raise ValueError(f"workers must be 1..{MAX_WORKERS}, not {count}")
        if min_slice < 1:
            raise ValueError("min_slice must be at least 1 message")
        self._workers = count
        self._min_slice = min_slice
        self._closed = False
        self._pool = (
            ThreadPoolExecutor(max_workers=count - 1, thread_name_prefix="pnyx-verify")
            if count > 1
            else None
        )

    @property
    def workers(self) -> int:
        return self._workers

    def _bounds(self, size: int) -> list[tuple[int, int]]:
        slices = max(1, min(self._workers, size // self._min_slice))
        step, extra = divmod(size, slices)
        bounds = []
        start = 0
        for number in range(slices):
            stop = start + step + (1 if number < extra else 0)
            bounds.append((start, stop))
            start = stop
        return bounds

    def submit(self, raws: Sequence[bytes], now_ms: int) -> Pending:
        """Queue ``raws`` for validation and return at once; ``result()`` gives the outcome.

        Lets a caller store one batch while later ones are verified. With one worker (or a batch
        too small to split) the work is done before this returns.
        """
        if self._closed:
            raise RuntimeError("the validator is closed")
        if self._pool is None or len(raws) < 2 * self._min_slice:
            return Pending.finished(validate_slice(raws, 0, len(raws), now_ms))
        parts = [
            (start, stop, self._pool.submit(validate_slice, raws, start, stop, now_ms))
            for start, stop in self._bounds(len(raws))
        ]
        return Pending(raws, now_ms, parts)

    def validate(self, raws: Sequence[bytes], now_ms: int) -> Validated:
        """Validate every envelope of ``raws`` against the clock ``now_ms`` (ms since the epoch)."""
        return self.submit(raws, now_ms).result()

    def close(self) -> None:
        """Stop the threads (waiting for running work). Idempotent."""
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> ParallelValidator:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
