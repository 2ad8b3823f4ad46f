"""How blocking work (store, signature checks) leaves the trio loop: the ``Offload`` contract."""

from __future__ import annotations

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
