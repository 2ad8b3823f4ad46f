"""Waiting on conditions, never on luck: the one ``eventually`` (trio time) and ``wait_until``
(real time, for code outside trio) every test uses."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import trio

#: How often a condition is looked at, in seconds (virtual under ``autojump_clock``).
POLL_S = 0.02
#: Default longest wait of ``eventually``, in seconds (virtual under ``autojump_clock``).
EVENTUALLY_S = 120.0

T = TypeVar("T")


async def eventually(
    condition: Callable[[], Any], what: str, limit_s: float = EVENTUALLY_S
) -> float:
    """Wait until ``condition()`` is true (polling every ``POLL_S`` of trio time) and return the
    seconds it took; after ``limit_s`` fail with an ``AssertionError`` naming ``what``."""
    started = trio.current_time()
    with trio.move_on_after(limit_s):
        while not condition():
            await trio.sleep(POLL_S)
        return trio.current_time() - started
    raise AssertionError(f"gave up after {limit_s:g} s waiting until {what}")


def wait_until(condition: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll ``condition`` (real time) until it returns something true and return that; fail
    after ``timeout`` seconds with an ``AssertionError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting until {what}")
        time.sleep(POLL_S)
