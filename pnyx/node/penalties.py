"""Penalty counts per peer and when a peer is due for a ban (sans-I/O).

A penalty is invalid data a peer could have checked itself (a forged or malformed frame, a broken
sync session); rate-limited or unwanted traffic is never one. ``Penalties.add`` counts one and says
whether the peer has now reached ``threshold`` penalties since its last ban. Counts are kept for at
most ``MAX_PENALISED_PEERS`` peers, the least recently penalised forgotten first (a forgotten peer
starts afresh): fresh sybil identities cannot grow this table without bound.
"""

from __future__ import annotations

#: Peers whose penalty counts are kept, a count (the least recently penalised are forgotten).
MAX_PENALISED_PEERS = 4096


class Penalties:
    """Penalty counts by peer id, bounded (see the module docstring)."""

    def __init__(self, threshold: int, limit: int = MAX_PENALISED_PEERS) -> None:
        self.threshold = threshold
        self.limit = limit
        self._counts: dict[str, int] = {}
        self._at_ban: dict[str, int] = {}

    def add(self, peer: str) -> tuple[int, bool]:
        """Count one penalty; returns the peer's total and whether it is due for a ban."""
        count = self._counts[peer] = self._counts.pop(peer, 0) + 1  # the newest last
        while len(self._counts) > self.limit:
            self._at_ban.pop(oldest := next(iter(self._counts)), None)
            del self._counts[oldest]
        return count, count - self._at_ban.get(peer, 0) >= self.threshold

    def banned(self, peer: str, count: int) -> None:
        """``peer`` was banned at ``count`` penalties: back after its ban, it starts afresh."""
        if peer in self._counts:
            self._at_ban[peer] = count

    def counts(self) -> dict[str, int]:
        """Penalties counted per peer id (a copy)."""
        return dict(self._counts)
