"""The term values of many candidates at once (numpy), sans-I/O: ``pnyx.rank.score`` ranks
from this table and builds a ``why`` only for the posts it places.

Each value is the one ``pnyx.rank.score``'s module docstring defines, computed with the same
IEEE-754 operations as a one-post-at-a-time loop would: divisions, products, ``min``/``max`` are
elementwise in numpy (bit-identical to Python floats), while ``0.5 ** x`` (recency) and ``log2``
(engagement) stay Python's ``math``/``pow`` per post, because numpy's vectorised ``power`` and
``log2`` differ from the C library's in the last bit for a few percent of inputs. Engagement is
counted (voices, clusters collapsed) only for posts that have engagements.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pnyx.rank.explain import Collapsed
from pnyx.rank.model import KINDS, Context, Engagement, Post
from pnyx.rank.recipe import Recipe

#: Seconds per hour (term values are in hours).
HOUR_S = 3600.0


@dataclass(frozen=True)
class Table:
    """Per post (rows, in the order given): each term's value and contribution (terms in name
    order, ``names``; ``weights`` alike), and the clusters collapsed in its engagement."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    values: list[list[float]]
    contributions: list[list[float]]
    collapsed: list[tuple[Collapsed, ...]]


def voices(
    post: Post, engagements: Sequence[Engagement], ctx: Context
) -> tuple[dict[str, int], list[Collapsed]]:
    """Voices per kind on ``post`` and the clusters collapsed (``pnyx.rank.score``)."""
    by_kind: dict[str, defaultdict[str, set[str]]] = {k: defaultdict(set) for k in KINDS}
    for e in engagements:
        if e.actor == post.author or not (e.actor == ctx.user or e.actor in ctx.trusted):
            continue
        by_kind[e.kind][ctx.cluster_of.get(e.actor, e.actor)].add(e.actor)
    collapsed = [
        Collapsed(voice, kind, tuple(sorted(actors)))
        for kind in KINDS
        for voice, actors in sorted(by_kind[kind].items())
        if len(actors) > 1
    ]
    return {k: len(by_kind[k]) for k in KINDS}, collapsed


def table(
    recipe: Recipe,
    posts: Sequence[Post],
    on_post: Mapping[str, Sequence[Engagement]],
    ctx: Context,
    trust_ref: float,
) -> Table:
    """The term table of ``posts`` (``on_post``: engagements by post id)."""
    n = len(posts)
    names = tuple(sorted(recipe.terms))
    created = np.fromiter((p.created_at for p in posts), dtype=np.float64, count=n)
    collapsed: list[tuple[Collapsed, ...]] = [()] * n
    counted: dict[int, dict[str, int]] = {}  # row -> voices per kind, posts with engagements
    for i, post in enumerate(posts):
        found = on_post.get(post.id)
        if found:
            counts, col = voices(post, found, ctx)
            counted[i], collapsed[i] = counts, tuple(col)
    columns = []
    for name in names:
        p = recipe.terms[name]
        if name == "time":
            value = created / HOUR_S
        elif name == "trust":
            value = _trust(posts, ctx, trust_ref)
        elif name == "engagement":
            value = np.zeros(n)  # log2(1 + 0) where nothing was counted
            for i, counts in counted.items():
                value[i] = math.log2(1.0 + math.fsum(p[k] * counts[k] for k in KINDS))
        elif name == "recency":
            ages = (np.maximum(0.0, ctx.now - created) / HOUR_S).tolist()
            half = p["half_life_hours"]
            value = np.array([0.5 ** (age / half) for age in ages], dtype=np.float64)
        else:  # negative
            value = _negative(posts, ctx, p["cap"])
        columns.append(value)
    weights = tuple(recipe.terms[name]["weight"] for name in names)
    values = np.column_stack(columns) if columns else np.zeros((n, 0))
    contributions = values * np.array(weights, dtype=np.float64) + 0.0
    return Table(names, weights, values.tolist(), contributions.tolist(), collapsed)


def _trust(posts: Sequence[Post], ctx: Context, trust_ref: float) -> np.ndarray:
    n = len(posts)
    if trust_ref > 0:
        scores = np.fromiter((ctx.trust.get(p.author, 0.0) for p in posts), np.float64, n)
        value = np.minimum(1.0, scores / trust_ref)
    else:
        value = np.zeros(n)
    own = np.fromiter((p.author == ctx.user for p in posts), dtype=bool, count=n)
    value[own] = 1.0
    return value


def _negative(posts: Sequence[Post], ctx: Context, cap: float) -> np.ndarray:
    if not ctx.negative and not ctx.negative_thread:
        return np.zeros(len(posts))
    marks = [
        ctx.negative.get(p.author, 0.0) + ctx.negative_thread.get(p.thread or p.id, 0.0)
        for p in posts
    ]
    return np.array([min(cap, float(m)) for m in marks], dtype=np.float64)
