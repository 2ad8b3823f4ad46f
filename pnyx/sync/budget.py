"""Per-peer serve budget of a sync responder (sans-I/O: plain data, time passed in).

A responder serves every feed it holds to any peer, so a requester that asks the same ranges again
and again (from seq 0, say) turns one cheap WANT into megabytes of store reads and sends: sync as
an amplifier. The budget limits what is *re-served*, not what is served: the first time a message
goes to a peer within ``SERVE_WINDOW_S`` is free (an honest catch-up of any store fits), every
further time is a repeat, and a peer gets at most ``SERVE_REPEAT_BYTES_PER_WINDOW`` of repeats and
``SERVE_REASKS_PER_WINDOW`` rounds with a repeat per window. ``SERVE_BYTES_PER_WINDOW`` caps all
bytes served to one peer per window as a backstop for what is not tracked (see below).

Windows are fixed: a peer's window starts at its first charge and lasts ``SERVE_WINDOW_S``; then
its counters and what it was served are forgotten. A peer over budget is refused (the responder
sends ERROR ``busy`` with ``retry after S s``, docs/protocol.md section 5.6) until its window ends;
re-asking is not invalid data, so nothing here penalises the peer.

Memory is bounded: at most ``MAX_BUDGET_PEERS`` peers (the least recently charged is forgotten),
``MAX_TRACKED_AUTHORS`` authors per peer (messages of further authors count only against the total
cap) and ``MAX_TRACKED_RANGES`` seq ranges per author (over it the two closest merge, so a seq
between them counts as a repeat: the error is on the side of refusing, never of amplifying).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

#: Length of one peer's budget window, in seconds.
SERVE_WINDOW_S = 60.0
#: Bytes of envelopes re-served to one peer per window (already sent to it in the window), in bytes
#: (16 MiB: a cut session's buffered batches or rate-limited drops asked again fit several times).
SERVE_REPEAT_BYTES_PER_WINDOW = 16 * 1024 * 1024
#: Rounds (WANT frames) per peer per window that re-serve at least one message, a count.
SERVE_REASKS_PER_WINDOW = 16
#: All bytes of envelopes served to one peer per window, in bytes (1 GiB: about three million
#: messages, beyond any first pass; a backstop for authors past MAX_TRACKED_AUTHORS).
SERVE_BYTES_PER_WINDOW = 1024 * 1024 * 1024
#: Peers whose window is remembered, a count (the least recently charged one is forgotten).
MAX_BUDGET_PEERS = 64
#: Authors whose served ranges are remembered per peer and window, a count.
MAX_TRACKED_AUTHORS = 2048
#: Disjoint seq ranges remembered per author, a count (more: the two closest are merged).
MAX_TRACKED_RANGES = 8


@dataclass
class _Window:
    """What one peer was served in its current window."""

    start: float
    served: dict[bytes, list[list[int]]] = field(default_factory=dict)
    """Per author, disjoint ascending inclusive ranges ``[first, last]`` of seqs sent."""
    bytes: int = 0
    repeat_bytes: int = 0
    reasks: int = 0
    exhausted: bool = False


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """The numbers of one budget (defaults: the module constants)."""

    window_s: float = SERVE_WINDOW_S
    repeat_bytes: int = SERVE_REPEAT_BYTES_PER_WINDOW
    reasks: int = SERVE_REASKS_PER_WINDOW
    total_bytes: int = SERVE_BYTES_PER_WINDOW
    max_peers: int = MAX_BUDGET_PEERS
    max_authors: int = MAX_TRACKED_AUTHORS
    max_ranges: int = MAX_TRACKED_RANGES


def _overlap(ranges: list[list[int]], first: int, last: int) -> int:
    """How many seqs of ``first..last`` are already in ``ranges``."""
    return sum(max(0, min(hi, last) - max(lo, first) + 1) for lo, hi in ranges)


def _add(ranges: list[list[int]], first: int, last: int, max_ranges: int) -> None:
    """Record ``first..last`` in ``ranges`` (kept disjoint, ascending, merged when adjacent); at
    most ``max_ranges`` kept (over it the two closest merge)."""
    if ranges and ranges[-1][0] <= first <= ranges[-1][1] + 1:  # the common case: the chain goes on
        ranges[-1][1] = max(ranges[-1][1], last)
        return
    merged = [first, last]
    kept: list[list[int]] = []
    for lo, hi in ranges:
        if hi + 1 < merged[0] or lo > merged[1] + 1:
            kept.append([lo, hi])
        else:
            merged = [min(lo, merged[0]), max(hi, merged[1])]
    kept.append(merged)
    kept.sort()
    while len(kept) > max_ranges:
        gaps = [kept[i + 1][0] - kept[i][1] for i in range(len(kept) - 1)]
        close = gaps.index(min(gaps))
        kept[close][1] = kept.pop(close + 1)[1]
    ranges[:] = kept


class ServeBudget:
    """The serve budgets of all peers of one responder. ``meter(peer)`` gives one session's view."""

    def __init__(self, limits: BudgetLimits | None = None) -> None:
        self.limits = limits or BudgetLimits()
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self.refusals = 0
        """Times a peer was found over budget (a session refused or cut), a count."""

    def _window(self, peer: str, now: float) -> _Window:
        window = self._windows.get(peer)
        if window is None or now - window.start >= self.limits.window_s:
            window = _Window(now)
            self._windows[peer] = window
            if len(self._windows) > self.limits.max_peers:
                self._windows.popitem(last=False)
        self._windows.move_to_end(peer)
        return window

    def retry_after(self, peer: str, now: float) -> int | None:
        """None if ``peer`` may be served now, else whole seconds (>= 1) until its window ends."""
        window = self._windows.get(peer)
        if window is None or not window.exhausted:
            return None
        left = window.start + self.limits.window_s - now
        if left <= 0:
            return None
        return max(1, math.ceil(left))

    def usage(self, peer: str) -> tuple[int, int, int]:
        """(bytes, repeat bytes, re-asks) charged to ``peer`` in its current window."""
        window = self._windows.get(peer)
        return (window.bytes, window.repeat_bytes, window.reasks) if window else (0, 0, 0)

    def meter(self, peer: str) -> ServeMeter:
        return ServeMeter(self, peer)

    def _charge(
        self, peer: str, author: bytes, seqs: tuple[int, int], size: int, now: float, first: bool
    ) -> int:
        """0: serve it; 1: serve it, and it is this round's first repeat; -1: over budget."""
        limits = self.limits
        window = self._window(peer, now)
        if window.exhausted or window.bytes + size > limits.total_bytes:
            return self._exhaust(window)
        ranges = window.served.get(author)
        if ranges is None and len(window.served) < limits.max_authors:
            ranges = window.served[author] = []
        low, high = seqs
        repeated = _overlap(ranges, low, high) if ranges else 0
        repeat = size * repeated // (high - low + 1)
        if repeated:
            if window.repeat_bytes + repeat > limits.repeat_bytes:
                return self._exhaust(window)
            if first and window.reasks >= limits.reasks:
                return self._exhaust(window)
        if ranges is not None:
            _add(ranges, low, high, limits.max_ranges)
        window.bytes += size
        if not repeated:
            return 0
        window.repeat_bytes += repeat
        if first:
            window.reasks += 1
        return 1

    def _exhaust(self, window: _Window) -> int:
        if not window.exhausted:
            self.refusals += 1
        window.exhausted = True
        return -1


class ServeMeter:
    """One session's view of its peer's budget: ``begin_round`` at each WANT, then ``charge``
    each chunk of envelopes read from the store before it is packed into batches."""

    def __init__(self, budget: ServeBudget, peer: str) -> None:
        self.budget = budget
        self.peer = peer
        self._repeated = False

    def begin_round(self) -> None:
        self._repeated = False

    def charge(self, author: bytes, first: int, last: int, size: int, now: float) -> bool:
        """Account for sending ``size`` bytes: the envelopes ``author`` has in seqs
        ``first..last``. False if the peer is over budget (nothing charged: the session stops
        before sending them). A range partly sent before counts as a repeat pro rata."""
        verdict = self.budget._charge(
            self.peer, author, (first, last), size, now, not self._repeated
        )
        if verdict == 1:
            self._repeated = True
        return verdict >= 0

    def retry_after(self, now: float) -> int | None:
        return self.budget.retry_after(self.peer, now)
