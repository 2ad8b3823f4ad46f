"""Small runtime pieces of the node: the wall clock and how blocking work leaves the trio loop."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

#: Runs a blocking function (store, signature checks) without blocking the trio loop:
#: ``await offload(fn, *args)`` returns ``fn(*args)``.
Offload = Callable[..., Awaitable[Any]]


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """The default ``Offload``: a trio worker thread."""
    return await trio.to_thread.run_sync(fn, *args)


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    """An ``Offload`` for tests under ``autojump_clock``: run in the trio thread, so there is no
    real wait that the virtual clock could jump over."""
    await trio.lowlevel.checkpoint()
    return fn(*args)


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch (the clock messages are checked against)."""
    return time.time_ns() // 1_000_000
