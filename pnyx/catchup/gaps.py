"""When a hole in a followed feed, seen in gossip, is worth a sync (sans-I/O bookkeeping).

Frames validated in parallel, or relayed along different paths, arrive out of order: gossip fills
such gaps by itself within moments, and fetching them by sync would verify every message twice.
So a gapped author (the store's heads show contiguous < highest) becomes *due* only once its
contiguous head has stayed put for ``GAP_GRACE_S``, and at most once per ``GAP_SPACING_S``.

Bounds (robustness; docs/protocol.md, "When a node syncs"): a gap claiming more than
``MAX_GAP_SEQS`` seqs (highest - contiguous) is never fetched by this trigger; a gap that the
fetches did not shrink is fetched again only after a doubling wait (``GAP_SPACING_S``, 2x, ...,
at most ``GAP_RETRY_MAX_S``), and after ``GAP_MAX_TRIES`` fetches with the contiguous head where
it was the author is given up until that head moves (new evidence: some peer had a missing
message). Periodic and on-connect syncs still ask for every gap, so nothing is lost by giving up.
``pnyx.catchup.scheduler.SyncScheduler`` feeds ``GapWatch`` the authors gossip stored and the
store's heads, and fetches what it returns. Plain code: no trio, no store; time is passed in
(seconds).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TypeVar

from pnyx.core.limits import MAX_SEQ_AHEAD

_V = TypeVar("_V")

#: Shortest time between two gap-triggered syncs of one author, in seconds.
GAP_SPACING_S = 5.0
#: How long a gap must last, with the author's contiguous head not advancing, before it is fetched
#: by sync, in seconds (gossip that arrives out of order fills its own gaps well within this).
GAP_GRACE_S = 2.0
#: Shortest time between two looks at the store's heads by the gap trigger, in seconds (gossip
#: stores a batch every few milliseconds under load; one look covers all of them).
GAP_CHECK_S = 0.5
#: Most authors remembered for the grace and the spacing, a count (the oldest are forgotten first).
MAX_GAP_MEMORY = 10_000
#: Largest gap the trigger fetches, in seqs (highest - contiguous). The store keeps no message
#: further ahead than this (``MAX_SEQ_AHEAD``); larger gaps exist only in stores written before.
MAX_GAP_SEQS = MAX_SEQ_AHEAD
#: Gap-triggered fetches of one author while its contiguous head stays put, a count; then the
#: author is given up until the head moves.
GAP_MAX_TRIES = 4
#: Longest wait between two gap-triggered fetches of one author that did not shrink the gap, in
#: seconds (the wait doubles from ``GAP_SPACING_S`` per fetch).
GAP_RETRY_MAX_S = 60.0


class GapWatch:
    """Authors to look at, since when each gap has stood still, and when each was last fetched."""

    def __init__(self) -> None:
        self.candidates: set[bytes] = set()
        self._seen: dict[bytes, tuple[int, float]] = {}  # author -> (contiguous, since when)
        self._last: dict[bytes, float] = {}  # author -> when it was last fetched
        self._tries: dict[bytes, tuple[int, int]] = {}  # author -> (contiguous, fetches at it)
        self.given_up = 0
        """Authors given up (``GAP_MAX_TRIES`` fetches did not move the head), a count."""
        self.too_large = 0
        """Looks at gaps over ``MAX_GAP_SEQS``, never fetched, a count."""

    def stored(self, authors: Iterable[bytes]) -> None:
        """Gossip stored messages of ``authors``: look at their heads at the next check."""
        self.candidates.update(authors)

    def take(self) -> set[bytes]:
        """The authors to look at now (the caller reads their heads and calls ``due``)."""
        taken, self.candidates = self.candidates, set()
        return taken

    def due(
        self, looked_at: Iterable[bytes], heads: Mapping[bytes, tuple[int, int]], now: float
    ) -> set[bytes]:
        """Of ``looked_at`` (with the store's ``heads``: author -> (contiguous, highest)), the
        authors whose gap has lasted ``GAP_GRACE_S`` and may be fetched now; those still gapped
        stay candidates. Marks the returned authors as fetched at ``now``."""
        due: set[bytes] = set()
        for author in looked_at:
            low, high = heads.get(author, (0, 0))
            tries = self._tries_at(author, low)
            if low >= high or high - low > MAX_GAP_SEQS or tries >= GAP_MAX_TRIES:
                self.too_large += high - low > MAX_GAP_SEQS
                self._seen.pop(author, None)  # closed, absurd, or given up: not a candidate
                continue
            seen = self._seen.get(author)
            since_fetch = now - self._last.get(author, -math.inf)
            if seen is None or seen[0] != low:  # new, or gossip is filling it: wait
                self._seen[author] = (low, now)
                _trim(self._seen)
            elif now - seen[1] >= GAP_GRACE_S and since_fetch >= retry_wait(tries):
                due.add(author)  # looked at again when gossip stores more of the author
                del self._seen[author]
                self._tries.pop(author, None)
                self._tries[author] = (low, tries + 1)
                self.given_up += tries + 1 == GAP_MAX_TRIES
                continue
            self.candidates.add(author)  # looked at again until the gap closes
        for author in due:
            self._last.pop(author, None)
            self._last[author] = now
        _trim(self._last)
        _trim(self._tries)
        return due

    def _tries_at(self, author: bytes, contiguous: int) -> int:
        """Gap fetches of ``author`` since its contiguous head was last seen to move."""
        tried = self._tries.get(author)
        if tried is None:
            return 0
        if tried[0] != contiguous:  # the head moved since: new evidence, start afresh
            del self._tries[author]
            return 0
        return tried[1]


def retry_wait(tries: int) -> float:
    """Shortest wait before the next gap fetch of an author fetched ``tries`` times at its
    current contiguous head, in seconds: ``GAP_SPACING_S`` doubling, at most
    ``GAP_RETRY_MAX_S``."""
    if tries == 0:
        return GAP_SPACING_S
    return float(min(GAP_SPACING_S * 2 ** (tries - 1), GAP_RETRY_MAX_S))


def _trim(memory: dict[bytes, _V]) -> None:
    while len(memory) > MAX_GAP_MEMORY:
        del memory[next(iter(memory))]
