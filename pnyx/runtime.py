"""How blocking work (store, signature checks) leaves the trio loop: the ``Offload`` contract."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from pnyx.clock import wall_clock_ms

#: Longest a shielded clean-up may take (closing a store, a thread pool, writing a small file) once
#: its task is cancelled, in seconds.
CLEANUP_TIMEOUT_S = 5.0

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


class TrioWallClock:
    """Unix milliseconds that advance with ``trio.current_time()`` from a wall-clock start: immune
    to wall-clock jumps, and in step with virtual time in tests."""

    def __init__(self, wall_ms: Callable[[], int] = wall_clock_ms) -> None:
        self._wall0 = wall_ms()
        self._trio0 = trio.current_time()

    def __call__(self) -> int:
        return self._wall0 + int((trio.current_time() - self._trio0) * 1000)


def cleanup_scope(timeout_s: float = CLEANUP_TIMEOUT_S) -> trio.CancelScope:
    """A shielded cancel scope with a deadline, for clean-up in ``finally`` blocks: cancellation
    from outside cannot interrupt it, and it gives up after ``timeout_s`` seconds (a worker
    thread already running is waited for: ``trio.to_thread`` cannot abandon it safely)."""
    return trio.CancelScope(deadline=trio.current_time() + timeout_s, shield=True)


#: Whether ``freeze_heap`` freezes: only a long-running node process (``pnyx run`` turns it on
#: with ``freeze_long_lived_heap``), never a test process, where frozen garbage would pile up.
_FREEZING = {"on": False}


def freeze_long_lived_heap() -> None:
    """Let ``freeze_heap`` act in this process from now on (``pnyx.app.run.run_node``)."""
    _FREEZING["on"] = True


def freeze_heap() -> None:
    """Move every object alive now out of the cyclic garbage collector's reach (``gc.freeze``),
    if this process is a node (``freeze_long_lived_heap``); else nothing.

    Called once the node's long-lived state is built (after each full trust compute,
    ``pnyx.node.trust_keeper``): a full (generation 2) collection then no longer walks the
    modules, the network stack and the trust state, which otherwise showed as a 5-10 ms pause in
    about one ranked read of ten at 1,000,000 messages (docs/performance.md, "`why` within 20
    ms"). Frozen objects are still freed by reference counting; only a reference cycle among
    objects alive at the call and dropped later is never collected (bounded: full computes are
    rare: at start and after more than ``trust_keeper.INCREMENTAL_MAX`` follow changes)."""
    if _FREEZING["on"]:
        gc.freeze()
