"""Ranked reads: ``ranked_timeline`` (``pnyx timeline --feed NAME``), ``why`` (``pnyx why ID``)
(``pnyx clusters``: ``pnyx.reads.coacting``). See ``docs/ranking.md``, "Wired in: feeds".

A feed is a recipe (``pnyx.reads.recipes``). ``following`` is the store's time-ordered timeline,
unchanged (same query, same pages and cursors). Any other recipe is run by ``pnyx.rank.score.rank``
over inputs read from the store on every call:

* **candidates**: the ``CANDIDATES`` newest visible posts below the cursor by the authors the
  recipe admits, less the authors the user blocks or mutes (left out before ranking, so a page is
  not short; ``docs/moderation.md``): ``following`` the user and those the user follows;
  ``trusted`` those plus the trusted set (``TrustState.trusted``); ``any`` every author the
  node holds posts of. What the store holds is what can be ranked (admission by trust reach is
  a later slice). They are read as columns (``rankq.Candidate``); only the posts a page shows
  are decoded;
* **context**: the user's "show less" marks (``pnyx.store.less``, weighed by
  ``pnyx.rank.negative``) and the trust state: the one the caller passes (``trust=``: the
  node keeps it current, ``pnyx.node.trust_keeper``), else built from the store's follows
  (``load_trust``): trust scores, trusted set, followed set;
* **engagements**: replies, reposts and reactions naming a candidate (only those by the trusted
  and the user count: ``pnyx.rank.score``);
* **clusters**: ``pnyx.rank.clusters.find_clusters`` over every repost and reaction of the last
  ``CLUSTER_WINDOW_S``; a cluster's members are one voice per kind on a post.

Engagements and clusters are read only for a recipe with an ``engagement`` term (no other term
uses them).

A ranked page's cursor is a ``RankCursor`` (``pnyx.reads.feed_cursor``: one ranking snapshot,
paged without repeats or gaps). ``why`` places the post asked about among the same candidates
(``pnyx.rank.score.place``: the entry a full ranking would give it) and returns its
``Explanation`` (contributions sum exactly
to the score) with the post's source: in network, or the first shortest follow path to its author;
on a post the user's policy hides, it also says so and why (``WhyView.hidden``).

Keys in explanations and clusters are lower-case hex; views hand out bytes and ``pnyx1...`` text.
Failure modes: ``RecipeError`` (a ``UserError``) for an unknown feed or a bad recipe file;
``NotFoundError``/``UserError`` for an unknown id, a message that is not a post, or a post the
feed does not admit; ``StoreError`` if the store fails.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pnyx.clock import wall_clock_ms
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import NotFoundError, UserError
from pnyx.rank.builtins import DEFAULT
from pnyx.rank.clusters import Clusters, find_clusters
from pnyx.rank.explain import Collapsed, Explanation
from pnyx.rank.model import Context, Engagement, EngagementKind, Post
from pnyx.rank.negative import weights
from pnyx.rank.recipe import Recipe
from pnyx.rank.score import MAX_PAGE, place, rank
from pnyx.reads.feed_cursor import RankCursor, next_cursor, start
from pnyx.reads.policy import load_policy, visible
from pnyx.reads.recipes import load
from pnyx.reads.trust import load_trust, names_of
from pnyx.store import Cursor, Store, StoredMessage
from pnyx.store.less import marks as less_marks
from pnyx.store.rankq import Action, Candidate
from pnyx.trust.policy import Hidden, Policy
from pnyx.trust.state import TrustState

#: Reposts and reactions clusters are found over: those of the last 7 days, in seconds.
CLUSTER_WINDOW_S = 7 * 24 * 3600
#: Newest posts considered for one ranked page, a count (must stay below ``MAX_PAGE``).
CANDIDATES = 500
#: Milliseconds per second (store times are ms, ranking times seconds).
MS_PER_S = 1000

Label = Callable[[bytes, str | None], str]


def _plain(key: bytes, name: str | None) -> str:
    return name if name else encode_public_key(key)


@dataclass(frozen=True)
class Source:
    """Where a post comes from: in network (the user or a followed author), or ``hops`` away
    along ``path`` (the user ... the author; the first shortest follow path), or not reached."""

    in_network: bool
    hops: int | None
    path: tuple[bytes, ...]

    def text(self, names: Mapping[bytes, str | None], label: Label | None = None) -> str:
        """``in-network``, ``2 hops via Alice`` or ``3 hops via Alice → Carol``."""
        if self.in_network:
            return "in-network"
        if self.hops is None or len(self.path) < 3:
            return "not reached by any follow path"
        show = label or _plain
        via = " → ".join(show(k, names.get(k)) for k in self.path[1:-1])
        return f"{self.hops} hops via {via}"

    def to_json(self) -> dict[str, object]:
        return {
            "in_network": self.in_network,
            "hops": self.hops,
            "path": [encode_public_key(k) for k in self.path],
            "text": self.text({}),
        }


@dataclass(frozen=True)
class RankedItem:
    """A post on a feed's page with its ``why`` (``None`` on ``following``: time order)."""

    item: StoredMessage
    explanation: Explanation | None

    @property
    def score(self) -> float | None:
        return None if self.explanation is None else self.explanation.score


@dataclass(frozen=True)
class RankedPage:
    """One page of a feed; ``next``: the next page's cursor (a ``RankCursor`` on a ranked feed)."""

    recipe: Recipe
    items: list[RankedItem]
    next: Cursor | RankCursor | None


@dataclass(frozen=True)
class _Inputs:
    state: TrustState
    items: dict[str, Candidate]
    page: list[Explanation]
    clusters: Clusters
    following: frozenset[bytes]
    policy: Policy
    oldest: Cursor | None = None  # the window's oldest candidate
    full: bool = False  # the window held CANDIDATES posts


_KINDS: dict[str, EngagementKind] = {"reply": "reply", "repost": "repost", "reaction": "reaction"}


def engagement_of(action: Action) -> Engagement:
    """The ranking model's engagement of a stored action (times in seconds)."""
    kind = _KINDS[action.kind]
    return Engagement(action.actor.hex(), action.post.hex(), kind, action.ts / MS_PER_S)


def _rank(
    store: Store,
    me: bytes,
    recipe: Recipe,
    limit: int,
    before: Cursor | None,
    now_ms: int,
    extra: StoredMessage | None = None,
    trust: TrustState | None = None,
    received_by: int | None = None,
    target: bytes | None = None,
) -> _Inputs:
    """Read the inputs of ``recipe`` from the store and rank them (module docstring), counting
    engagements created by ``now_ms``; with ``received_by``, only posts held by then."""
    state = trust if trust is not None else load_trust(store, me)
    policy = load_policy(store, me)
    hidden = policy.blocked | policy.muted | policy.private | policy.labels.hidden_keys()
    following = frozenset(store.following(me))
    authors: set[bytes] | None = {me, *following}
    if recipe.authors == "trusted":
        authors = {me, *following, *state.trusted_keys()}
    elif recipe.authors == "any":
        authors = None
    if authors is not None:
        authors -= hidden
    found = store.candidate_posts(authors, limit=CANDIDATES, before=before, exclude=hidden)
    oldest = Cursor(found[-1].ts, found[-1].id) if found else None
    full = len(found) == CANDIDATES
    if received_by is not None:
        found = [p for p in found if p.received_ms <= received_by]
    # The policy of a post is its author's (``Policy.hidden``), and the hidden authors are left
    # out by the query already: this check only keeps it so if the query changes.
    # A post with a hide label (on it, or on its author) is left out here, before ranking.
    posts = [
        c
        for c in found
        if policy.author(c.author) is None and not policy.labels.hides(c.id, c.author)
    ]
    if extra is not None and all(p.id != extra.id for p in posts):
        posts.append(Candidate.of(extra))
    items = {p.id.hex(): p for p in posts}
    since_ms = now_ms - CLUSTER_WINDOW_S * MS_PER_S
    acts: list[Action] = []
    if "engagement" in recipe.terms:  # only the engagement term reads engagements and clusters
        acts = store.actions([p.id for p in posts], since_ms=since_ms)
        acts = [a for a in acts if a.ts <= now_ms]  # those created by the ranking's time
    converted = [engagement_of(a) for a in acts]
    clusters = find_clusters(e for e, a in zip(converted, acts, strict=True) if a.ts >= since_ms)
    by_author, by_thread = weights(less_marks(store), now_ms / MS_PER_S)
    ctx = Context(
        user=me.hex(),
        now=now_ms / MS_PER_S,
        trust=state.score_map(),
        trusted=state.trusted(),
        following=frozenset(k.hex() for k in following),
        cluster_of=clusters.cluster_of,
        negative=by_author,
        negative_thread=by_thread,
        trust_max=state.top_score(),
    )
    models = [
        Post(
            p.id.hex(),
            p.author.hex(),
            p.ts / MS_PER_S,
            p.parent.hex() if p.parent is not None else None,
            p.root.hex() if p.root is not None else None,
        )
        for p in posts
    ]
    engagements = [e for e in converted if e.post in items]
    if target is None:
        page = rank(recipe, models, engagements, ctx, limit)
    else:  # `why`: only the asked post's entry, placed as rank(..., MAX_PAGE) would place it
        one = place(recipe, models, engagements, ctx, target.hex())
        page = [] if one is None else [one]
    return _Inputs(state, items, page, clusters, following, policy, oldest, full)


def ranked_timeline(
    store: Store,
    me: bytes,
    feed_name: str = DEFAULT,
    limit: int = 20,
    before: Cursor | RankCursor | None = None,
    *,
    recipes_dir: Path | None = None,
    now_ms: int | None = None,
    trust: TrustState | None = None,
) -> RankedPage:
    """A page of feed ``feed_name`` for ``me``: ``following`` is ``Store.timeline`` itself."""
    recipe = load(recipes_dir, feed_name)
    if feed_name == DEFAULT:
        if isinstance(before, RankCursor):
            raise UserError("this cursor is a ranked feed's, not the following timeline's")
        page = store.timeline(me, limit=limit, before=before)
        shown = visible(store, me, page.items)
        return RankedPage(recipe, [RankedItem(i, None) for i in shown], page.next)
    if not 1 <= limit <= CANDIDATES:
        raise UserError(f"a ranked page holds 1..{CANDIDATES} posts, not {limit}")
    at = start(before, wall_clock_ms() if now_ms is None else now_ms)
    want = min(at.offset + limit + 1, MAX_PAGE)  # one more than shown: is there a next page?
    held_by = at.now_ms if isinstance(before, RankCursor) else None  # page 1: all held now
    found = _rank(store, me, recipe, want, at.window, at.now_ms, None, trust, held_by)
    ranked = [RankedItem(found.items[e.post].item(), e) for e in found.page[at.offset :][:limit]]
    after = next_cursor(at, limit, len(found.page), found.oldest, found.full)
    return RankedPage(recipe, ranked, after)


def source_of(state: TrustState, me: bytes, author: bytes, following: frozenset[bytes]) -> Source:
    """The post's source: in network, or the first shortest follow path to ``author``."""
    if author == me or author in following:
        return Source(True, 0 if author == me else 1, (me, author) if author != me else (me,))
    report = state.report(author.hex())
    path = tuple(bytes.fromhex(k) for k in report.paths[0]) if report.paths else ()
    return Source(False, report.hops, path)


@dataclass(frozen=True)
class WhyView:
    """Why a post is where it is on a feed: the explanation, its source and the names known;
    ``hidden``: why the user's policy keeps it off every feed (None: shown)."""

    item: StoredMessage
    explanation: Explanation
    source: Source
    names: Mapping[bytes, str | None]
    hidden: Hidden | None = None

    def hidden_text(self, label: Label | None = None) -> str | None:
        """``hidden from your feeds: you muted NAME`` (None when the post is shown)."""
        if self.hidden is None:
            return None
        key = self.hidden.key
        name = (label or _plain)(key, self.names.get(key))
        return f"hidden from your feeds: {self.hidden.reason(name)}"

    def to_json(self) -> dict[str, object]:
        """``Explanation.to_json`` with keys as ``pnyx1...`` text, plus ``source``."""
        found = self.explanation.to_json()
        found["author"] = encode_public_key(self.item.author)
        found["collapsed"] = [
            {
                "cluster": encode_public_key(bytes.fromhex(c.cluster)),
                "kind": c.kind,
                "actors": [encode_public_key(bytes.fromhex(a)) for a in c.actors],
            }
            for c in self.explanation.collapsed
        ]
        found["source"] = self.source.to_json()
        hidden = self.hidden
        found["hidden"] = None if hidden is None else hidden.to_json(encode_public_key(hidden.key))
        return found

    def text(self, label: Label | None = None) -> str:
        """The ``Explanation.text`` table with the post's short id, authors and clusters shown
        by ``label(key, name)`` (the CLI's sanitises), and the source on the second line."""
        show = label or _plain

        def person(hex_key: str) -> str:
            key = bytes.fromhex(hex_key)
            return show(key, self.names.get(key))

        shown = dataclasses.replace(
            self.explanation,
            post=self.explanation.post[:12],
            author=person(self.explanation.author),
            collapsed=tuple(
                Collapsed(person(c.cluster), c.kind, c.actors) for c in self.explanation.collapsed
            ),
        )
        first, rest = shown.text().split("\n", 1)
        hidden = self.hidden_text(label)
        first += "" if hidden is None else f"\n{hidden}"
        return f"{first}\nsource: {self.source.text(self.names, label)}\n{rest}"


def why(
    store: Store,
    me: bytes,
    post_id: bytes,
    feed_name: str = DEFAULT,
    *,
    recipes_dir: Path | None = None,
    now_ms: int | None = None,
    trust: TrustState | None = None,
) -> WhyView:
    """The ``why`` of post ``post_id`` on feed ``feed_name``, ranked among the feed's candidates."""
    recipe = load(recipes_dir, feed_name)
    item = store.get(post_id)
    if item is None:
        raise NotFoundError(f"no message {post_id.hex()} in this store")
    if item.kind != "post":
        raise UserError(f"message {post_id.hex()[:12]} is a {item.kind}, not a post")
    if not store.visible_post(post_id):
        raise NotFoundError(f"post {post_id.hex()[:12]} was deleted by its author")
    now = wall_clock_ms() if now_ms is None else now_ms
    found = _rank(store, me, recipe, MAX_PAGE, None, now, item, trust, target=post_id)
    for explanation in found.page:
        if explanation.post == post_id.hex():
            source = source_of(found.state, me, item.author, found.following)
            hidden = found.policy.hidden(item.message) if found.policy else None
            keys = {item.author, *source.path, *([hidden.key] if hidden else [])}  # a labeller
            keys |= {bytes.fromhex(c.cluster) for c in explanation.collapsed}
            return WhyView(item, explanation, source, names_of(store, keys), hidden)
    raise UserError(
        f"post {post_id.hex()[:12]} is not in the feed {recipe.name!r}: it admits the posts of "
        f"{_ADMITS[recipe.authors]}"
    )


_ADMITS = {
    "following": "you and those you follow",
    "trusted": "you, those you follow and those you trust",
    "any": "anyone",
}
