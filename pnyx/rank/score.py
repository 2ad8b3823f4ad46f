"""Score and order a page of posts by a recipe, with a ``why`` for each (sans-I/O).

Candidates: posts whose author passes the recipe's ``authors`` filter (``following``: the user
and those the user follows; ``trusted``: those plus the trusted set; ``any``: everyone), minus
posts the user hid. Each term gives a **value** (defined below) and the recipe a **weight**;
the base score is the sum of ``value * weight``. Then discounts, each lowering the score by
``(1 - factor) * |score so far|``: ``reply`` (the post replies to another), ``out_of_network``
(the author is not the user nor followed), and ``diversity`` for the author's ``k``-th post
already placed higher on the page: ``factor = (1 - floor) * decay ** k + floor``.

Term values:

* ``time``: hours since the Unix epoch of the post's creation (with weight 1: newest first);
* ``trust``: the author's trust divided by the highest trust of anyone but the user, at most 1
  (the user's own posts: 1; unknown authors: 0);
* ``engagement``: ``log2(1 + reply * R + repost * P + reaction * A)`` where ``R``, ``P``, ``A``
  count **voices** among trusted identities and the user (the author excluded): an identity is
  a voice, and all members of one cluster (``Context.cluster_of``) are one voice per kind;
* ``recency``: ``0.5 ** (age_hours / half_life_hours)`` (future posts count as age 0);
* ``negative``: the user's "show less" marks on the author plus those on the post's thread
  (each decayed: ``pnyx.rank.negative``), at most ``cap``.

Ordering is greedy: the post with the highest score (diversity included for its position) is
placed next; ties go to the newer post, then the smaller id. The score is **defined** as
``math.fsum`` of the contributions, so the ``why`` adds up exactly.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from pnyx.rank.explain import Collapsed, Discount, Explanation, TermLine
from pnyx.rank.model import KINDS, Context, Engagement, Post
from pnyx.rank.recipe import Recipe

#: Seconds per hour (term values are in hours).
HOUR_S = 3600.0
#: Most posts one call ranks into a page.
MAX_PAGE = 1_000


def _eligible(recipe: Recipe, post: Post, ctx: Context) -> bool:
    if post.id in ctx.hidden:
        return False
    a = post.author
    if recipe.authors == "following":
        return a == ctx.user or a in ctx.following
    if recipe.authors == "trusted":
        return a == ctx.user or a in ctx.following or a in ctx.trusted
    return True


def _voices(
    post: Post, engagements: Sequence[Engagement], ctx: Context
) -> tuple[dict[str, int], list[Collapsed]]:
    """Voices per kind on ``post`` and the clusters collapsed (see the module docstring)."""
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


def _terms(
    recipe: Recipe, post: Post, voices: dict[str, int], ctx: Context, trust_ref: float
) -> list[TermLine]:
    lines = []
    for name in sorted(recipe.terms):
        p = recipe.terms[name]
        if name == "time":
            value = post.created_at / HOUR_S
        elif name == "trust":
            if post.author == ctx.user:
                value = 1.0
            else:
                t = ctx.trust.get(post.author, 0.0)
                value = min(1.0, t / trust_ref) if trust_ref > 0 else 0.0
        elif name == "engagement":
            total = math.fsum(p[k] * voices[k] for k in KINDS)
            value = math.log2(1.0 + total)
        elif name == "recency":
            age_h = max(0.0, ctx.now - post.created_at) / HOUR_S
            value = 0.5 ** (age_h / p["half_life_hours"])
        else:  # negative
            marks = ctx.negative.get(post.author, 0.0)
            marks += ctx.negative_thread.get(post.thread or post.id, 0.0)
            value = min(p["cap"], float(marks))
        lines.append(TermLine(name, value, p["weight"], value * p["weight"] + 0.0))
    return lines


def _discount(name: str, factor: float, parts: list[float]) -> Discount:
    return Discount(name, factor, -(1.0 - factor) * abs(math.fsum(parts)))


def diversity_factor(recipe: Recipe, k: int) -> float:
    """Factor for the author's ``k``-th post already on the page (``k = 0``: the first)."""
    floor, decay = recipe.modifiers["diversity_floor"], recipe.modifiers["diversity_decay"]
    return (1.0 - floor) * decay**k + floor


class _Scored:
    """A candidate's terms and fixed discounts, before its place on the page is known."""

    def __init__(
        self, post: Post, terms: list[TermLine], fixed: list[Discount], col: list[Collapsed]
    ):
        self.post = post
        self.terms = terms
        self.fixed = fixed
        self.collapsed = col
        self.parts = [t.contribution for t in terms] + [d.contribution for d in fixed]

    def at(self, recipe: Recipe, k: int) -> tuple[float, list[Discount]]:
        """Score and discounts if placed as the author's ``k``-th post on the page."""
        discounts = list(self.fixed)
        factor = diversity_factor(recipe, k)
        if factor != 1.0:
            discounts.append(_discount("diversity", factor, self.parts))
        total = math.fsum(
            [t.contribution for t in self.terms] + [d.contribution for d in discounts]
        )
        return total, discounts


def _score_post(
    recipe: Recipe, post: Post, engagements: Sequence[Engagement], ctx: Context, trust_ref: float
) -> _Scored:
    voices, collapsed = _voices(post, engagements, ctx)
    terms = _terms(recipe, post, voices, ctx, trust_ref)
    parts = [t.contribution for t in terms]
    fixed: list[Discount] = []
    m = recipe.modifiers
    if post.reply_to is not None and m["reply"] != 1.0:
        fixed.append(_discount("reply", m["reply"], parts))
        parts.append(fixed[-1].contribution)
    in_network = post.author == ctx.user or post.author in ctx.following
    if not in_network and m["out_of_network"] != 1.0:
        fixed.append(_discount("out_of_network", m["out_of_network"], parts))
    return _Scored(post, terms, fixed, collapsed)


def trust_reference(ctx: Context) -> float:
    """The highest trust of anyone but the user (the ``trust`` term's unit)."""
    return max((v for k, v in ctx.trust.items() if k != ctx.user), default=0.0)


def rank(
    recipe: Recipe,
    posts: Iterable[Post],
    engagements: Iterable[Engagement],
    ctx: Context,
    limit: int = 50,
) -> list[Explanation]:
    """The page: up to ``limit`` (at most ``MAX_PAGE``) posts in order, each with its ``why``."""
    limit = max(0, min(limit, MAX_PAGE))
    on_post: defaultdict[str, list[Engagement]] = defaultdict(list)
    for e in engagements:
        on_post[e.post].append(e)
    ref = trust_reference(ctx)
    seen: set[str] = set()
    heap: list[tuple[float, float, str, int, int]] = []
    scored: list[_Scored] = []
    for post in posts:
        if post.id in seen or not _eligible(recipe, post, ctx):
            continue
        seen.add(post.id)
        s = _score_post(recipe, post, on_post.get(post.id, []), ctx, ref)
        scored.append(s)
        value, _ = s.at(recipe, 0)
        heapq.heappush(heap, (-value, -post.created_at, post.id, 0, len(scored) - 1))
    placed: defaultdict[str, int] = defaultdict(int)
    page: list[Explanation] = []
    while heap and len(page) < limit:
        _, _, _, k, i = heapq.heappop(heap)
        s = scored[i]
        now_k = placed[s.post.author]
        if now_k != k:  # the author gained a post above: re-score for the new position
            value, _ = s.at(recipe, now_k)
            heapq.heappush(heap, (-value, -s.post.created_at, s.post.id, now_k, i))
            continue
        value, discounts = s.at(recipe, k)
        placed[s.post.author] += 1
        page.append(
            Explanation(
                post=s.post.id,
                author=s.post.author,
                position=len(page),
                recipe=recipe.name,
                recipe_hash=recipe.hash,
                terms=tuple(s.terms),
                discounts=tuple(discounts),
                collapsed=tuple(s.collapsed),
                score=value,
            )
        )
    return page
