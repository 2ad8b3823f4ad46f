"""Admission: which authors a node keeps beyond its follows, and what goes first when full.

Sans-I/O (plain code over a ``TrustState``; no trio, no store). Three decisions:

* **The horizon** (``plan_horizon``): the authors within ``hops`` follow steps of the user
  (``TrustState.hops``), the user and the authors the user follows left out (they are *pinned*),
  most trusted first (personalised PageRank score, ties by key bytes), at most
  ``max_horizon`` of them. The node stores and syncs pinned + horizon (its interest set).
* **Quotas** (``Horizon.quota``): pinned authors have none (never evicted). A horizon author may
  hold ``HORIZON_QUOTA_FLOOR_BYTES`` plus its share of the budget in proportion to its trust
  among the horizon's (``budget * score / horizon mass``), so the quota grows with trust. Any
  other author (a stranger whose replies or reactions to held posts were kept) may hold
  ``STRANGER_QUOTA_BYTES``.
* **Eviction** (``eviction_order``): when the held bytes exceed the budget, whole authors are
  dropped, never pinned ones: first those over their quota, then strangers before horizon
  authors, each group lowest trust first (ties by key), until the total fits. If the pinned
  feeds alone exceed the budget, every other author is dropped and the pinned ones stay.

Failure modes: ``ValueError`` for a config outside its bounds (``AdmissionConfig.check``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from pnyx.trust.state import TrustState

#: Default follow steps from the user whose authors the node replicates (1: follows only).
DEFAULT_HOPS = 2
#: Bounds of ``hops`` (config ``[node] hops``), in follow steps.
MIN_HOPS, MAX_HOPS = 1, 3
#: Most authors in the horizon (beyond the user's follows), a count; the most trusted are kept.
MAX_HORIZON_AUTHORS = 5_000
#: Bytes in one mebibyte (``storage_budget_mb`` is in MiB).
MIB = 1024 * 1024
#: Default total store budget, in MiB (config ``[node] storage_budget_mb``).
DEFAULT_STORAGE_BUDGET_MB = 1024
#: Bounds of ``storage_budget_mb``, in MiB.
MIN_STORAGE_BUDGET_MB, MAX_STORAGE_BUDGET_MB = 16, 1024 * 1024
#: What every horizon author may hold whatever its trust, in bytes of raw envelopes.
HORIZON_QUOTA_FLOOR_BYTES = 256 * 1024
#: What an author outside the horizon (its replies and reactions to held posts) may hold, in
#: bytes of raw envelopes (about 100 replies of 600 bytes).
STRANGER_QUOTA_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class AdmissionConfig:
    """The user's settings: ``hops`` (follow steps), the budget in bytes, the horizon cap."""

    hops: int = DEFAULT_HOPS
    budget_bytes: int = DEFAULT_STORAGE_BUDGET_MB * MIB
    max_horizon: int = MAX_HORIZON_AUTHORS

    def check(self) -> AdmissionConfig:
        """Itself, or ``ValueError`` naming the value out of bounds."""
        if not MIN_HOPS <= self.hops <= MAX_HOPS:
            raise ValueError(f"hops must be {MIN_HOPS}..{MAX_HOPS}; got {self.hops}")
        if self.budget_bytes <= 0 or self.max_horizon < 0:
            raise ValueError("the budget must be positive and the horizon cap not negative")
        return self


@dataclass(frozen=True)
class Horizon:
    """What the node keeps: ``pinned`` (the user and follows), ``horizon`` (beyond them), and
    the trust ``scores`` of every author the graph reaches (0 for the rest)."""

    pinned: frozenset[bytes]
    horizon: frozenset[bytes]
    scores: Mapping[bytes, float] = field(default_factory=dict)
    budget_bytes: int = DEFAULT_STORAGE_BUDGET_MB * MIB

    @property
    def wanted(self) -> frozenset[bytes]:
        """The interest set: pinned and horizon authors (stored, synced, looked up)."""
        return self.pinned | self.horizon

    def score(self, author: bytes) -> float:
        return self.scores.get(author, 0.0)

    def quota(self, author: bytes) -> int | None:
        """Bytes ``author`` may hold before it is first to go; None for a pinned author."""
        if author in self.pinned:
            return None
        if author not in self.horizon:
            return STRANGER_QUOTA_BYTES
        mass = sum(self.score(a) for a in self.horizon)
        share = self.score(author) / mass if mass > 0 else 0.0
        return HORIZON_QUOTA_FLOOR_BYTES + int(self.budget_bytes * share)


def plan_horizon(
    state: TrustState,
    follows: Collection[bytes],
    config: AdmissionConfig,
    *,
    excluded: Collection[bytes] = (),
    blocked: Collection[bytes] = (),
) -> Horizon:
    """The horizon of ``state.user`` (hex key) who follows ``follows``: see the module docstring.

    ``excluded`` authors (evicted for the budget since the node started) stay out of the horizon
    so they are not fetched again at once. ``blocked`` authors (the user's blocks) are neither
    pinned, even if followed (the user's own block beats the user's follow), nor in the horizon.
    Cost: one pass over the graph's nodes."""
    config.check()
    user = bytes.fromhex(state.user)
    pinned = frozenset({user, *follows}) - frozenset(blocked) | {user}
    excluded = frozenset(excluded) | frozenset(blocked)
    keys, scores, dist = state.graph.keys, state.scores, state.dist
    known: dict[bytes, float] = {}
    candidates: list[tuple[float, bytes]] = []
    for i in state.ranking():
        index = int(i)
        key = bytes.fromhex(keys[index])
        known[key] = float(scores[index])
        if key in pinned or key in excluded:
            continue
        if 0 < dist[index] <= config.hops:
            candidates.append((-known[key], key))
    candidates.sort()
    horizon = frozenset(key for _, key in candidates[: config.max_horizon])
    return Horizon(pinned, horizon, known, config.budget_bytes)


def eviction_order(usage: Mapping[bytes, int], plan: Horizon) -> list[bytes]:
    """The authors to drop (whole) so the held bytes ``usage`` (author -> bytes) fit the budget,
    in order (see the module docstring); empty when they fit already."""
    total = sum(usage.values())
    if total <= plan.budget_bytes:
        return []

    def rank(author: bytes) -> tuple[bool, bool, float, bytes]:
        quota = plan.quota(author)
        over = quota is not None and usage[author] > quota
        return (not over, author in plan.horizon, plan.score(author), author)

    order = sorted((a for a, used in usage.items() if used > 0 and a not in plan.pinned), key=rank)
    dropped: list[bytes] = []
    for author in order:
        if total <= plan.budget_bytes:
            break
        dropped.append(author)
        total -= usage[author]
    return dropped
