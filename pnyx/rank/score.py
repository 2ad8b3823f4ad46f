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

The term values of all candidates come from one table (``pnyx.rank.table``, numpy); the greedy
order runs on plain floats, and an ``Explanation`` is built only for the posts placed (``rank``)
or for the one post asked about (``place``, ``pnyx why``): both walk the same order
(``_order``), so ``place`` gives exactly the entry ``rank`` would, position included.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from pnyx.rank.explain import Discount, Explanation, TermLine
from pnyx.rank.model import Context, Engagement, Post
from pnyx.rank.recipe import Recipe
from pnyx.rank.table import HOUR_S, Table, table

__all__ = ["HOUR_S", "MAX_PAGE", "diversity_factor", "place", "rank", "trust_reference"]

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


def _discount(name: str, factor: float, parts: list[float]) -> Discount:
    return Discount(name, factor, -(1.0 - factor) * abs(math.fsum(parts)))


def diversity_factor(recipe: Recipe, k: int) -> float:
    """Factor for the author's ``k``-th post already on the page (``k = 0``: the first)."""
    floor, decay = recipe.modifiers["diversity_floor"], recipe.modifiers["diversity_decay"]
    return (1.0 - floor) * decay**k + floor


class _Scored:
    """A candidate's contributions (terms, then fixed discounts) before its place is known."""

    __slots__ = ("base", "fixed", "parts", "post", "row")

    def __init__(self, post: Post, row: int, terms: list[float], fixed: list[Discount]):
        self.post = post
        self.row = row
        self.fixed = fixed
        self.parts = terms + [d.contribution for d in fixed]
        self.base = math.fsum(self.parts)  # the score at k = 0 (no diversity discount)

    def at(self, recipe: Recipe, k: int) -> tuple[float, list[Discount]]:
        """Score and discounts if placed as the author's ``k``-th post on the page."""
        factor = diversity_factor(recipe, k)
        if factor == 1.0:
            return self.base, self.fixed
        diversity = Discount("diversity", factor, -(1.0 - factor) * abs(self.base))
        return math.fsum([*self.parts, diversity.contribution]), [*self.fixed, diversity]


def _score(recipe: Recipe, post: Post, row: int, terms: list[float], ctx: Context) -> _Scored:
    parts = list(terms)
    fixed: list[Discount] = []
    m = recipe.modifiers
    if post.reply_to is not None and m["reply"] != 1.0:
        fixed.append(_discount("reply", m["reply"], parts))
        parts.append(fixed[-1].contribution)
    in_network = post.author == ctx.user or post.author in ctx.following
    if not in_network and m["out_of_network"] != 1.0:
        fixed.append(_discount("out_of_network", m["out_of_network"], parts))
    return _Scored(post, row, terms, fixed)


def trust_reference(ctx: Context) -> float:
    """The highest trust of anyone but the user (the ``trust`` term's unit): ``ctx.trust_max``
    when the caller kept it, else a scan of ``ctx.trust``."""
    if ctx.trust_max is not None:
        return ctx.trust_max
    return max((v for k, v in ctx.trust.items() if k != ctx.user), default=0.0)


def _score_all(
    recipe: Recipe, posts: Iterable[Post], engagements: Iterable[Engagement], ctx: Context
) -> tuple[list[_Scored], Table]:
    on_post: defaultdict[str, list[Engagement]] = defaultdict(list)
    for e in engagements:
        on_post[e.post].append(e)
    seen: set[str] = set()
    kept: list[Post] = []
    for post in posts:
        if post.id in seen or not _eligible(recipe, post, ctx):
            continue
        seen.add(post.id)
        kept.append(post)
    terms = table(recipe, kept, on_post, ctx, trust_reference(ctx))
    rows = terms.contributions
    return [_score(recipe, p, i, rows[i], ctx) for i, p in enumerate(kept)], terms


def _order(recipe: Recipe, scored: Sequence[_Scored]) -> Iterator[tuple[_Scored, int]]:
    """The page's greedy order: each post with the number of its author's posts above it."""
    first = diversity_factor(recipe, 0) == 1.0  # then the score at k = 0 is the base
    heap = [
        (-(s.base if first else s.at(recipe, 0)[0]), -s.post.created_at, s.post.id, 0, i)
        for i, s in enumerate(scored)
    ]
    heapq.heapify(heap)
    placed: defaultdict[str, int] = defaultdict(int)
    while heap:
        _, _, _, k, i = heapq.heappop(heap)
        s = scored[i]
        now_k = placed[s.post.author]
        if now_k != k:  # the author gained a post above: re-score for the new position
            value, _ = s.at(recipe, now_k)
            heapq.heappush(heap, (-value, -s.post.created_at, s.post.id, now_k, i))
            continue
        placed[s.post.author] += 1
        yield s, k


def _explain(
    recipe: Recipe, recipe_hash: str, terms: Table, s: _Scored, k: int, position: int
) -> Explanation:
    value, discounts = s.at(recipe, k)
    row = s.row
    lines = tuple(
        TermLine(name, terms.values[row][j], terms.weights[j], terms.contributions[row][j])
        for j, name in enumerate(terms.names)
    )
    return Explanation(
        post=s.post.id,
        author=s.post.author,
        position=position,
        recipe=recipe.name,
        recipe_hash=recipe_hash,
        terms=lines,
        discounts=tuple(discounts),
        collapsed=terms.collapsed[row],
        score=value,
    )


def rank(
    recipe: Recipe,
    posts: Iterable[Post],
    engagements: Iterable[Engagement],
    ctx: Context,
    limit: int = 50,
) -> list[Explanation]:
    """The page: up to ``limit`` (at most ``MAX_PAGE``) posts in order, each with its ``why``."""
    limit = max(0, min(limit, MAX_PAGE))
    scored, terms = _score_all(recipe, posts, engagements, ctx)
    recipe_hash = recipe.hash  # once: it serialises the recipe
    page: list[Explanation] = []
    for s, k in _order(recipe, scored):
        if len(page) >= limit:
            break
        page.append(_explain(recipe, recipe_hash, terms, s, k, len(page)))
    return page


def place(
    recipe: Recipe,
    posts: Iterable[Post],
    engagements: Iterable[Engagement],
    ctx: Context,
    post_id: str,
) -> Explanation | None:
    """The entry ``rank(..., limit=MAX_PAGE)`` would give post ``post_id`` (None: not on that
    page): the same order is walked on floats up to the post, and only its ``why`` is built."""
    scored, terms = _score_all(recipe, posts, engagements, ctx)
    for position, (s, k) in enumerate(_order(recipe, scored)):
        if position >= MAX_PAGE:
            return None
        if s.post.id == post_id:
            return _explain(recipe, recipe.hash, terms, s, k, position)
    return None
