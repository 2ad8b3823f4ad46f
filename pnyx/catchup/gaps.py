"""When a hole in a followed feed, seen in gossip, is worth a sync (sans-I/O bookkeeping).

Frames validated in parallel, or relayed along different paths, arrive out of order: gossip fills
such gaps by itself within moments, and fetching them by sync would verify every message twice.
So a gapped author (the store's heads show contiguous < highest) becomes *due* only once its
contiguous head has stayed put for ``GAP_GRACE_S``, and at most once per ``GAP_SPACING_S``.
``pnyx.catchup.scheduler.SyncScheduler`` feeds ``GapWatch`` the authors gossip stored and the
store's heads, and fetches what it returns. Plain code: no trio, no store; time is passed in
(seconds).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TypeVar

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


class GapWatch:
    """Authors to look at, since when each gap has stood still, and when each was last fetched."""

    def __init__(self) -> None:
        self.candidates: set[bytes] = set()
        self._seen: dict[bytes, tuple[int, float]] = {}  # author -> (contiguous, since when)
        self._last: dict[bytes, float] = {}  # author -> when it was last fetched

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
            if low >= high:
                self._seen.pop(author, None)
                continue
            seen = self._seen.get(author)
            if seen is None or seen[0] != low:  # new, or gossip is filling it: wait
                self._seen[author] = (low, now)
                _trim(self._seen)
            elif (
                now - seen[1] >= GAP_GRACE_S
                and now - self._last.get(author, -math.inf) >= GAP_SPACING_S
            ):
                due.add(author)  # looked at again when gossip stores more of the author
                del self._seen[author]
                continue
            self.candidates.add(author)  # looked at again until the gap closes
        for author in due:
            self._last.pop(author, None)
            self._last[author] = now
        _trim(self._last)
        return due


def _trim(memory: dict[bytes, _V]) -> None:
    while len(memory) > MAX_GAP_MEMORY:
        del memory[next(iter(memory))]
