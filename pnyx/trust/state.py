"""One user's web of trust: scores, hop distances, paths and the trusted set, kept up to date.

``TrustState(graph, user)`` runs the full compute (``personalised_pagerank`` and a BFS) once;
``follow``/``unfollow`` then update it incrementally (a sparse series over the changed rows,
see ``pagerank.update``; a partial BFS on a follow, a full BFS on an unfollow) instead of
recomputing. ``recompute()`` redoes the full compute, and runs by itself after
``REFRESH_AFTER`` incremental changes, so small approximation errors never pile up.

``report(key)`` answers ``pnyx trust KEY``: the score, the hop distance, up to three shortest
follow paths (as keys) and the rank. An identity the graph has never seen is reported with score
0 and no path (it is not an error: keys come from other people's messages).

**Trusted** (the set used to count engagement and mutes): the identities the user follows
directly, plus the ``TRUSTED_TOP`` identities with the highest non-zero score, the user
excluded. Ties in score are broken by node index. The definition is by rank, not by a score
threshold, because scores shrink as the graph grows while "the thousand you trust most" does not.

Failure modes: ``ValueError`` if the user key is not in the graph (the caller adds the user with
``graph.ensure`` first). No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pnyx.trust import pagerank, paths
from pnyx.trust.graph import FloatArray, IntArray, TrustGraph

#: Identities (beyond direct follows) counted as trusted: the top of the score ranking.
TRUSTED_TOP = 1_000
#: Incremental updates after which the state runs a full ``recompute()`` by itself.
REFRESH_AFTER = 1_000


@dataclass(frozen=True)
class TrustReport:
    """What ``pnyx trust KEY`` prints (``to_json`` is its ``--json`` form)."""

    key: str
    score: float
    hops: int | None
    paths: tuple[tuple[str, ...], ...]
    rank: int | None
    known: bool

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "score": self.score,
            "hops": self.hops,
            "paths": [list(p) for p in self.paths],
            "rank": self.rank,
            "known": self.known,
        }


class TrustState:
    """Trust scores and distances of every identity, seen from ``user``."""

    def __init__(self, graph: TrustGraph, user: str) -> None:
        if user not in graph.index:
            raise ValueError("the user is not in the graph")
        self.graph = graph
        self.user = user
        self.scores: FloatArray = np.zeros(0)
        self.dist: IntArray = np.zeros(0, dtype=np.int64)
        self.changes = 0
        self._trusted: frozenset[str] | None = None
        self._trusted_keys: frozenset[bytes] | None = None
        self._score_map: dict[str, float] | None = None
        self.recompute()

    def copy(self) -> TrustState:
        """An independent copy (graph and vectors): a reader may keep using this state while the
        copy is updated (copy-on-write, as ``pnyx.node.trust_keeper`` does)."""
        out = TrustState.__new__(TrustState)
        out.graph, out.user = self.graph.copy(), self.user
        out.scores, out.dist = self.scores.copy(), self.dist.copy()
        out.changes, out._trusted, out._score_map = self.changes, self._trusted, self._score_map
        out._trusted_keys = self._trusted_keys
        return out

    @property
    def user_index(self) -> int:
        return self.graph.index[self.user]

    def recompute(self) -> None:
        """The full compute: ``ITERATIONS`` power steps from the user, and a full BFS."""
        self.scores = pagerank.personalised_pagerank(self.graph, self.user_index)
        self.dist = paths.hop_distances(self.graph, self.user_index)
        self.changes = 0
        self._trusted = self._score_map = self._trusted_keys = None

    def follow(self, follower: str, followee: str) -> bool:
        """Apply one new follow incrementally; False if it changed nothing."""
        before = self._rows(follower, followee)
        if not self.graph.add_edge(follower, followee):
            return False
        u, v = self.graph.index[follower], self.graph.index[followee]
        self.scores = pagerank.update(self.graph, self.user_index, self.scores, before)
        self.dist = paths.lower_distances(self.graph, self.dist, u, v)
        self._changed()
        return True

    def unfollow(self, follower: str, followee: str) -> bool:
        """Apply one removed follow incrementally (scores warm, distances by a full BFS)."""
        before = self._rows(follower, followee)
        if not self.graph.remove_edge(follower, followee):
            return False
        self.scores = pagerank.update(self.graph, self.user_index, self.scores, before)
        self.dist = paths.hop_distances(self.graph, self.user_index)
        self._changed()
        return True

    def _rows(self, *keys: str) -> dict[int, pagerank.Row]:
        """Old rows of the known ``keys`` (a new identity has no row, so no old weight)."""
        return {
            self.graph.index[k]: self.graph.row(self.graph.index[k])
            for k in keys
            if k in self.graph.index
        }

    def _changed(self) -> None:
        self.changes += 1
        self._trusted = self._score_map = self._trusted_keys = None
        if self.changes >= REFRESH_AFTER:
            self.recompute()

    def score(self, key: str) -> float:
        i = self.graph.index.get(key)
        return 0.0 if i is None or i >= len(self.scores) else float(self.scores[i])

    def hops(self, key: str) -> int | None:
        i = self.graph.index.get(key)
        if i is None or i >= len(self.dist) or self.dist[i] == paths.UNREACHED:
            return None
        return int(self.dist[i])

    def ranking(self) -> IntArray:
        """Node indices by descending score (ties by index), the user and zeros left out."""
        order = np.argsort(-self.scores, kind="stable")
        order = order[self.scores[order] > 0]
        out: IntArray = order[order != self.user_index]
        return out

    def score_map(self) -> dict[str, float]:
        """Key -> score of every identity with a non-zero score, the user left out, in ranking
        order; cached until the next change (callers must not mutate it)."""
        if self._score_map is None:
            keys = self.graph.keys
            self._score_map = {keys[int(i)]: float(self.scores[i]) for i in self.ranking()}
        return self._score_map

    def top_score(self) -> float:
        """The highest score of anyone but the user (0 if none): the ``trust`` term's unit.
        O(1) once ``score_map`` is cached (its first value: the map is in ranking order)."""
        return next(iter(self.score_map().values()), 0.0)

    def trusted(self) -> frozenset[str]:
        """The trusted set (see the module docstring); cached until the next change."""
        if self._trusted is None:
            keys = self.graph.keys
            top = {keys[int(i)] for i in self.ranking()[:TRUSTED_TOP]}
            direct = {keys[int(i)] for i in self.graph.followees(self.user_index)}
            self._trusted = frozenset(top | direct)
        return self._trusted

    def trusted_keys(self) -> frozenset[bytes]:
        """``trusted`` as 32-byte keys; cached with it (ranked reads take it on every page)."""
        if self._trusted_keys is None:
            self._trusted_keys = frozenset(bytes.fromhex(k) for k in self.trusted())
        return self._trusted_keys

    def report(self, key: str) -> TrustReport:
        """Score, hops, up to ``paths.MAX_PATHS`` shortest paths and rank (1 = most trusted)."""
        i = self.graph.index.get(key)
        if i is None:
            return TrustReport(key, 0.0, None, (), None, known=False)
        found = paths.shortest_paths(self.graph, self.dist, i)
        as_keys = tuple(tuple(self.graph.keys[j] for j in p) for p in found)
        rank: int | None = None
        s = self.scores[i]
        if s > 0 and key != self.user:
            higher = int(np.count_nonzero(self.scores > s)) - int(self.scores[self.user_index] > s)
            ties = np.nonzero(self.scores == s)[0]
            rank = higher + int(np.count_nonzero(ties[ties != self.user_index] < i)) + 1
        return TrustReport(key, float(s), self.hops(key), as_keys, rank, known=True)
