"""Personalised PageRank from one user over a ``TrustGraph`` (sans-I/O, numpy only).

One step maps a trust vector ``r`` (non-negative, summing to 1) to::

    r'[v] = (1 - RESTART) * sum over edges u->v of r[u] * weight(u->v)
    r'[user] += RESTART + (1 - RESTART) * (mass of r on identities that follow nobody)

so a random walker at each step restarts at the user with probability ``RESTART``, otherwise
follows one of the current identity's follows with probability equal to its normalised weight;
a walker at an identity that follows nobody ("dangling") returns to the user, never to the
whole graph, so trust never reaches identities the user cannot reach by follows. The vector
keeps summing to 1 (up to float rounding) and a score is the share of the user's trust.

The full compute starts from the user (``r = e_user``) and runs exactly ``ITERATIONS`` steps.
Why a fixed, small number (as SybilRank): trust spreads out one hop per step, and the few attack
edges into a sybil region are crossed late; stopping early keeps most of the mass in the region
around the user, where it belongs, while ``0.85 ** 20 = 3.9 %`` of the walk (the part longer
than 20 hops) is what is cut. It also bounds the cost: 20 sparse products, each one numpy pass
over the edges (a gather and a ``np.bincount``): 1.2-2.8 s with the BFS at 2,000,000 edges,
measured on a loaded shared machine (``bench/trust.py``, ``docs/ranking.md``).

The incremental update (``update``) after one edge ``u -> v`` changed recomputes graphs of at
most ``SMALL_GRAPH_EDGES`` edges in full (cheap there, and exact); on larger ones it does not
iterate the whole graph again. Only the out-weights of ``u`` and ``v`` changed (``v``'s if
mutuality did), so the change of the vector solves ``D = F D + d`` with
``F = (1 - RESTART) * M'`` (the new walk) and the sparse source
``d = (1 - RESTART) * (M' - M) r_old``, nonzero only around ``u`` and ``v``.
``D = d + F d + F^2 d + ...`` is summed sparsely (entries below ``PRUNE`` dropped),
each term ``1 - RESTART`` smaller, until the term's L1 mass is below ``STOP_L1`` or
``DELTA_STEPS`` terms were added. A follow far from the user touches a few hundred
identities; when the spreading term would cover more than ``DENSE_SHARE`` of the edges (a follow
by the user, or next to it) the update adds what it has and finishes with
``INCREMENTAL_ITERATIONS`` warm dense steps (``refine``). The tests measure that the result
lies within ``INCREMENTAL_TOLERANCE`` (L1) of a full recompute; ``pnyx.trust.state`` still
recomputes in full every ``REFRESH_AFTER`` changes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pnyx.trust.graph import FloatArray, IntArray, TrustGraph

BoolArray = npt.NDArray[np.bool_]

#: Probability that the walk restarts at the user at each step (dimensionless).
RESTART = 0.15
#: Steps of the full compute, from the user's unit vector (see the module docstring).
ITERATIONS = 20
#: Warm dense steps that finish an incremental update whose change spreads too wide to stay sparse.
INCREMENTAL_ITERATIONS = 3
#: Graphs with at most this many edges are recomputed in full on every change (20 steps over
#: 50,000 edges take a few milliseconds): small graphs then match a full compute exactly.
SMALL_GRAPH_EDGES = 50_000
#: Most terms of the sparse change series (one per hop the change spreads).
DELTA_STEPS = 40
#: The series stops when a term's L1 mass falls below this (a share of the unit of trust).
STOP_L1 = 1e-7
#: Entries of a term smaller than this are dropped (bounds the touched set).
PRUNE = 1e-11
#: Share of all edges a sparse term may touch before the update goes dense.
DENSE_SHARE = 0.2
#: Largest L1 distance between an incrementally updated vector and a full recompute that the
#: tests accept after a series of follows and unfollows (a share of the user's unit of trust).
#: Warm dense steps (the fallback) move the vector toward the converged PageRank, which differs
#: from the 20-step vector by the part of the walk longer than 20 hops: about 1e-3 on the test
#: graphs; the sparse series keeps that part as it was and lands much closer.
INCREMENTAL_TOLERANCE = 5e-3


def unit(n: int, user: int) -> FloatArray:
    """The vector with all trust on ``user``."""
    r = np.zeros(n, dtype=np.float64)
    r[user] = 1.0
    return r


def step(graph: TrustGraph, user: int, r: FloatArray, dangling: BoolArray) -> FloatArray:
    """One power-iteration step (see the module docstring); ``dangling`` is a boolean mask of
    identities with no out-edge (``graph.out_degree() == 0``)."""
    spread = np.bincount(graph.dst, weights=r[graph.src] * graph.weight, minlength=graph.n)
    out: FloatArray = spread.astype(np.float64, copy=False) * (1.0 - RESTART)
    out[user] += RESTART + (1.0 - RESTART) * float(r[dangling].sum())
    return out


def iterate(graph: TrustGraph, user: int, start: FloatArray, steps: int) -> FloatArray:
    """``steps`` steps from ``start`` (padded with zeros if the graph grew since)."""
    if not 0 <= user < graph.n:
        raise ValueError("user index out of range")
    r = np.zeros(graph.n, dtype=np.float64)
    r[: min(len(start), graph.n)] = start[: graph.n]
    dangling = graph.out_degree() == 0
    for _ in range(steps):
        r = step(graph, user, r, dangling)
    return r


def personalised_pagerank(graph: TrustGraph, user: int) -> FloatArray:
    """The full compute: ``ITERATIONS`` steps from the user's unit vector."""
    return iterate(graph, user, unit(graph.n, user), ITERATIONS)


def refine(graph: TrustGraph, user: int, previous: FloatArray) -> FloatArray:
    """The incremental update after a small change: ``INCREMENTAL_ITERATIONS`` warm steps."""
    return iterate(graph, user, previous, INCREMENTAL_ITERATIONS)


Row = tuple[npt.NDArray[np.int32], FloatArray]


def _source(
    graph: TrustGraph, user: int, r: FloatArray, before: dict[int, Row]
) -> tuple[IntArray, FloatArray]:
    """The sparse source ``d`` of the change: rows in ``before`` changed from the given
    (followees, weights); a row with no followee sends its walker to the user."""
    idx: list[npt.NDArray[np.int64]] = []
    val: list[FloatArray] = []
    for x, (old_dst, old_w) in before.items():
        mass = (1.0 - RESTART) * float(r[x])
        if mass == 0.0:
            continue
        new_dst, new_w = graph.row(x)
        for dst, w, sign in ((old_dst, old_w, -1.0), (new_dst, new_w, 1.0)):
            empty = len(dst) == 0
            idx.append(np.array([user]) if empty else dst.astype(np.int64))
            val.append(sign * mass * (np.ones(1) if empty else w))
    if not idx:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return _combine(np.concatenate(idx), np.concatenate(val))


def _combine(idx: IntArray, val: FloatArray) -> tuple[IntArray, FloatArray]:
    """Sum values per index, dropping entries below ``PRUNE``."""
    keys, inverse = np.unique(idx, return_inverse=True)
    sums = np.bincount(inverse, weights=val, minlength=len(keys))
    keep = np.abs(sums) >= PRUNE
    return keys[keep], sums[keep].astype(np.float64)


def update(
    graph: TrustGraph, user: int, previous: FloatArray, before: dict[int, Row]
) -> FloatArray:
    """The vector after the rows in ``before`` (index -> old followees and weights) changed
    to what ``graph`` now holds (see the module docstring)."""
    if graph.edge_count <= SMALL_GRAPH_EDGES:
        return personalised_pagerank(graph, user)
    r = np.zeros(graph.n, dtype=np.float64)
    r[: min(len(previous), graph.n)] = previous[: graph.n]
    idx, val = _source(graph, user, r, before)
    limit = DENSE_SHARE * max(1, graph.edge_count)
    for _ in range(DELTA_STEPS):
        if len(idx) == 0 or float(np.abs(val).sum()) < STOP_L1:
            break
        positions, counts = graph.edge_positions(idx)
        if len(positions) > limit:
            r[idx] += val
            return refine(graph, user, _normalised(r))
        r[idx] += val
        spread = np.repeat(val, counts) * graph.weight[positions] * (1.0 - RESTART)
        lost = val[counts == 0] * (1.0 - RESTART)  # dangling: to the user
        idx, val = _combine(
            np.concatenate([graph.dst[positions].astype(np.int64), np.full(len(lost), user)]),
            np.concatenate([spread, lost]),
        )
    r[idx] += val
    return _normalised(r)


def _normalised(r: FloatArray) -> FloatArray:
    """``r`` with no negative entry and summing to 1. The series is exact for a converged
    vector; on the 20-step vector it can overshoot where trust should vanish (an unfollowed
    identity), and pruning drops about 1e-7 of mass: both are corrected here."""
    np.maximum(r, 0.0, out=r)
    r /= r.sum()
    return r
