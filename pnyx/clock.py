"""The wall clock, in the unit every message timestamp uses.

The one definition of "now" for messages; components take a ``clock_ms`` callable defaulting to
``wall_clock_ms`` so that tests can inject another.
"""

from __future__ import annotations

import time


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch (the clock messages are checked against)."""
    return time.time_ns() // 1_000_000
