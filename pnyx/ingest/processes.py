"""Validate batches in worker processes: the same results as ``ParallelValidator``, no shared GIL.

Threads verify in parallel (libsodium drops the GIL) but every decode and every store call needs
the GIL: while one thread stores, the verifying thread waits for the GIL once per message, and
each hand-over costs a thread wake-up. Measured on a 2-core machine (docs/performance.md): threads
keep about 1.7 cores busy and reach 0.93-1.02 x one core's raw verification rate; worker
processes 0.99-1.17 x (level in some runs, up to a fifth faster in others).

Each worker runs ``pnyx.core.envelope.validate`` (the same function, exactly as strict) on a
slice and sends back only the rejections. The parent then builds the ``Message`` of each valid
envelope from the very bytes the worker validated, without checking them again
(``trusted_message``: unpack, id, no canonical or signature check), as the store does when it
reads its own rows. Workers start with the ``spawn`` method (safe with threads and trio), on the
first batch; each costs an interpreter (about 20 MB) while the validator is open.

Failure modes: as ``ParallelValidator``; a worker that dies raises ``BrokenProcessPool`` from
``result()``; ``RuntimeError`` after ``close()``.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

import msgpack

from pnyx.core.envelope import Message, message_id, validate
from pnyx.core.limits import SIGNATURE_BYTES
from pnyx.core.reasons import InvalidMessage
from pnyx.ingest.validator import MAX_WORKERS, Rejection, Validated, default_workers

#: Smallest slice sent to one worker process, in messages: below it pickling and the round trip
#: (about 0.2 ms) are a noticeable share of the slice's cost (about 60 us a message).
MIN_PROCESS_SLICE_MESSAGES = 256


def rejections(raws: Sequence[bytes], first: int, now_ms: int) -> list[Rejection]:
    """Validate ``raws`` (in a worker); the rejections, indexed from ``first``."""
    out: list[Rejection] = []
    for offset, raw in enumerate(raws):
        try:
            validate(raw, now_ms)
        except InvalidMessage as exc:
            out.append((first + offset, exc.reason, exc.detail))
    return out


def trusted_message(raw: bytes) -> Message:
    """The ``Message`` of an envelope that ``validate`` accepted, without checking it again.

    Only for bytes validated already: a malformed envelope raises an arbitrary exception here.
    """
    payload = raw[SIGNATURE_BYTES:]
    _, author, seq, prev, ts, kind, body = msgpack.unpackb(payload, raw=False)
    return Message(message_id(payload), author, seq, prev, ts, kind, body, raw)


class ProcessPending:
    """The validation of one batch under way in the worker processes; ``result()`` waits."""

    def __init__(self, raws: Sequence[bytes], parts: list[Future[list[Rejection]]]) -> None:
        self._raws = raws
        self._parts = parts
        self._result: Validated | None = None

    def result(self) -> Validated:
        if self._result is None:
            rejected = [item for part in self._parts for item in part.result()]
            out = Validated(rejected=rejected)
            bad = {index for index, _, _ in rejected}
            for index, raw in enumerate(self._raws):
                if index not in bad:
                    out.messages.append(trusted_message(raw))
                    out.positions.append(index)
            self._result = out
            self._raws = []
        return self._result


class ProcessValidator:
    """Validates batches of raw envelopes in ``workers`` processes (synchronous API).

    Same interface and results as ``ParallelValidator`` (``submit``, ``validate``, ``close``,
    context manager); ``workers`` processes plus the caller, which only waits and builds messages.
    """

    def __init__(
        self, workers: int | None = None, *, min_slice: int = MIN_PROCESS_SLICE_MESSAGES
    ) -> None:
        count = default_workers() if workers is None else workers
        if not 1 <= count <= MAX_WORKERS:
            raise ValueError(f"workers must be 1..{MAX_WORKERS}, not {count}")
        if min_slice < 1:
            raise ValueError("min_slice must be at least 1 message")
        self._workers = count
        self._min_slice = min_slice
        self._closed = False
        self._pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"))

    @property
    def workers(self) -> int:
        return self._workers

    def submit(self, raws: Sequence[bytes], now_ms: int) -> ProcessPending:
        """Send ``raws`` to the workers and return at once; ``result()`` gives the outcome."""
        if self._closed:
            raise RuntimeError("the validator is closed")
        slices = max(1, min(self._workers, len(raws) // self._min_slice))
        step = -(-len(raws) // slices) if raws else 0
        parts = [
            self._pool.submit(rejections, list(raws[start : start + step]), start, now_ms)
            for start in range(0, len(raws), step or 1)
        ]
        return ProcessPending(raws, parts)

    def validate(self, raws: Sequence[bytes], now_ms: int) -> Validated:
        """Validate every envelope of ``raws`` against the clock ``now_ms`` (ms since the epoch)."""
        return self.submit(raws, now_ms).result()

    def close(self) -> None:
        """Stop the worker processes (after the work queued). Idempotent."""
        self._closed = True
        self._pool.shutdown(wait=True)

    def __enter__(self) -> ProcessValidator:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
