"""Parallel ingest: verify signatures on every core, store in order (docs/performance.md).

``ParallelValidator`` validates batches of raw envelopes with ``pnyx.core.envelope.validate`` on
worker threads, ``ProcessValidator`` in worker processes (faster on two cores: no shared GIL);
``ingest``/``ingest_batches`` hand the valid messages to ``Store.ingest_verified``. Synchronous:
async callers use ``trio.to_thread.run_sync``.
"""

from pnyx.ingest.pipeline import (
    GROUP_MESSAGES,
    PendingResult,
    Validator,
    VerifiedSink,
    ingest,
    ingest_batches,
    merge,
    split,
)
from pnyx.ingest.processes import (
    MIN_PROCESS_SLICE_MESSAGES,
    ProcessPending,
    ProcessValidator,
    trusted_message,
)
from pnyx.ingest.validator import (
    MAX_WORKERS,
    MIN_SLICE_MESSAGES,
    ParallelValidator,
    Pending,
    Rejection,
    Validated,
    default_workers,
    validate_slice,
)

__all__ = [
    "GROUP_MESSAGES",
    "MIN_PROCESS_SLICE_MESSAGES",
    "MAX_WORKERS",
    "MIN_SLICE_MESSAGES",
    "ParallelValidator",
    "Pending",
    "PendingResult",
    "ProcessPending",
    "ProcessValidator",
    "Rejection",
    "Validated",
    "Validator",
    "VerifiedSink",
    "default_workers",
    "ingest",
    "ingest_batches",
    "merge",
    "split",
    "trusted_message",
    "validate_slice",
]
