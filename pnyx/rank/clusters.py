"""Coordinated amplification: identities that react to and repost the same posts in the same
short windows form a cluster, and a cluster's engagement counts as one voice (sans-I/O).

Method (after Community Notes' ``post_selection_similarity``):

1. Each reaction or repost ``(actor, post, at)`` becomes an **item** ``(post, window)`` with
   ``window = floor(at / WINDOW_S)``. ``N`` is the number of distinct items, ``n_i`` the number
   of items of identity ``i`` and ``n_ij`` the number of items two identities share. Replies are
   not co-actions (they carry content of their own).
2. Only identities that acted on at least ``MIN_POSTS`` distinct posts take part: fewer is too
   little evidence, and it keeps casual users out of clusters.
3. For each pair sharing an item, normalised pointwise mutual information
   ``npmi = ln(p_ij / (p_i p_j)) / -ln(p_ij)`` with ``p = n / N`` (``npmi = 1`` when
   ``p_ij = 1``). It is 1 when two identities always act together and 0 when independent.
4. Pairs with ``npmi >= NPMI_THRESHOLD`` are joined with union-find; every connected group of
   two or more is a cluster, named by its smallest key (deterministic whatever the input order).

Cost: O(sum over items of k^2) for k actors on an item. Items with more than
``MAX_ACTORS_PER_ITEM`` actors are left out of pair counting (they still count in ``n_i``):
that is organic virality more than coordination, and it bounds the work. Known limit: a
coordinated group larger than that acting within one window is not seen from that item alone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from pnyx.rank.model import Engagement

#: Width of a co-action window, in seconds (20 minutes).
WINDOW_S = 20 * 60
#: Smallest NPMI of a pair joined into one cluster (dimensionless, -1..1).
NPMI_THRESHOLD = 0.55
#: Fewest distinct posts an identity must have reacted to or reposted to be clustered.
MIN_POSTS = 10
#: Items with more actors than this are skipped when counting pairs (bounds the O(k^2) work).
MAX_ACTORS_PER_ITEM = 500


@dataclass(frozen=True)
class Clusters:
    """The clusters found: identity -> cluster id, members of each, and the joining pairs."""

    cluster_of: dict[str, str]
    members: dict[str, tuple[str, ...]]
    pairs: tuple[tuple[str, str, float], ...]  # (a, b, npmi) with a < b, npmi >= threshold

    def to_json(self) -> dict[str, object]:
        return {
            "clusters": {cid: list(m) for cid, m in sorted(self.members.items())},
            "pairs": [[a, b, v] for a, b, v in self.pairs],
        }


def npmi(n_ij: int, n_i: int, n_j: int, total: int) -> float:
    """Normalised PMI of two identities sharing ``n_ij`` of ``total`` items (see module doc)."""
    if n_ij <= 0:
        return -1.0
    if n_ij == total:
        return 1.0
    p_ij, p_i, p_j = n_ij / total, n_i / total, n_j / total
    return math.log(p_ij / (p_i * p_j)) / -math.log(p_ij)


def find_clusters(
    actions: Iterable[Engagement],
    window_s: int = WINDOW_S,
    threshold: float = NPMI_THRESHOLD,
    min_posts: int = MIN_POSTS,
) -> Clusters:
    """Clusters among the reactions and reposts in ``actions`` (replies are ignored)."""
    items: defaultdict[tuple[str, int], set[str]] = defaultdict(set)
    posts: defaultdict[str, set[str]] = defaultdict(set)
    for act in actions:
        if act.kind == "reply":
            continue
        items[(act.post, math.floor(act.at / window_s))].add(act.actor)
        posts[act.actor].add(act.post)
    total = len(items)
    eligible = {a for a, p in posts.items() if len(p) >= min_posts}
    n_items: defaultdict[str, int] = defaultdict(int)
    shared: defaultdict[tuple[str, str], int] = defaultdict(int)
    for actors in items.values():
        for a in actors:
            n_items[a] += 1
        group = sorted(actors & eligible)
        if len(actors) > MAX_ACTORS_PER_ITEM:
            continue
        for x in range(len(group)):
            for y in range(x + 1, len(group)):
                shared[(group[x], group[y])] += 1
    parent: dict[str, str] = {}

    def root(a: str) -> str:
        while parent.get(a, a) != a:
            parent[a] = parent.get(parent[a], parent[a])
            a = parent[a]
        return a

    joined: list[tuple[str, str, float]] = []
    for (a, b), n_ab in sorted(shared.items()):
        value = npmi(n_ab, n_items[a], n_items[b], total)
        if value >= threshold:
            joined.append((a, b, value))
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)  # the smallest key stays the root
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for a in {k for pair in joined for k in pair[:2]}:
        groups[root(a)].append(a)
    members = {cid: tuple(sorted(m)) for cid, m in groups.items()}
    cluster_of = {a: cid for cid, m in members.items() for a in m}
    return Clusters(cluster_of, members, tuple(joined))
