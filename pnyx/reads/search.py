"""The search read (``pnyx search QUERY``): posts and people whose words match, ranked by
relevance and by how much the user trusts the author.

Candidates come from the store's full-text indexes (``Store.search_posts``/``search_profiles``,
SQLite FTS5; the user's words are quoted, never FTS syntax): the ``CANDIDATES`` best by bm25 of
each (posts: among the ``RECENT_BOUND`` newest matches when more match, ``pnyx.store.search``).
Each is then scored

    score = relevance * (1 + TRUST_WEIGHT * trust)

where ``relevance`` = -bm25 (> 0; higher means the words are rarer in the index and denser in the
text) and ``trust`` is the author's trust in [0, 1], as in the ranking recipes' ``trust`` term:
the author's personalised PageRank score divided by the highest score of anyone but the user,
at most 1; the user's own 1; an author no follow path reaches 0. So at equal relevance the more
trusted author comes first, and a fully trusted author's match counts ``1 + TRUST_WEIGHT`` times
a stranger's: trust reorders relevant results, it never makes an irrelevant one relevant. Ties go
to the newer post (profiles: key order), then to the smaller id.

Failure modes: ``UserError`` for an empty, over-long or unreadable query or a limit outside
1..``MAX_RESULTS``; ``StoreError`` if the store fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pnyx.errors import UserError
from pnyx.reads.policy import load_policy, screen
from pnyx.reads.trust import load_trust
from pnyx.store import Profile, Store, StoredMessage
from pnyx.store.search import PostMatch
from pnyx.trust.state import TrustState

#: Weight of the author's trust (in [0, 1]) against relevance: a fully trusted author's match
#: counts 1 + TRUST_WEIGHT times an unknown author's (dimensionless).
TRUST_WEIGHT = 1.0
#: Matches of each sort (posts, profiles) taken by bm25 before re-ranking, a count.
CANDIDATES = 200
#: Most results of each sort one search returns, a count.
MAX_RESULTS = 100


@dataclass(frozen=True)
class SearchHit:
    """One result: a post (``item`` set) or a profile (``profile`` set), with its score parts."""

    author: bytes
    score: float
    relevance: float
    trust: float
    item: StoredMessage | None = None
    profile: Profile | None = None

    @property
    def kind(self) -> str:
        return "post" if self.item is not None else "profile"

    def parts_json(self) -> dict[str, object]:
        """The ranking fields (``match``, ``score``, ``relevance``, ``trust``); the CLI adds the
        post's ``MessageView`` or the profile's key, name and bio."""
        return {
            "match": self.kind,
            "score": self.score,
            "relevance": self.relevance,
            "trust": self.trust,
        }


@dataclass(frozen=True)
class SearchResults:
    """People first (profiles whose name or bio match), then posts; each best first."""

    people: list[SearchHit]
    posts: list[SearchHit]


def author_trust(state: TrustState, me: bytes) -> Callable[[bytes], float]:
    """Trust in [0, 1] of an author (see the module docstring): its score over the highest score
    of anyone but the user; the user 1, an author with no score 0. O(1) per author once the
    state's ``score_map`` is cached (it is kept with the state)."""
    scores = state.score_map()
    reference = state.top_score()

    def of(author: bytes) -> float:
        if author == me:
            return 1.0
        if reference <= 0:
            return 0.0
        return min(1.0, scores.get(author.hex(), 0.0) / reference)

    return of


def search(
    store: Store,
    me: bytes,
    query: str,
    author: bytes | None = None,
    limit: int = 20,
    *,
    trust: TrustState | None = None,
) -> SearchResults:
    """Posts and profiles matching ``query`` (only ``author``'s if given), by score. ``trust``:
    the user's trust state kept by the node (``pnyx.node.trust_keeper``); None builds it."""
    if not 1 <= limit <= MAX_RESULTS:
        raise UserError(f"search: limit {limit} outside 1..{MAX_RESULTS}")
    policy = load_policy(store, me)  # muted and blocked authors: neither posts nor people
    posts = screen(policy, store.search_posts(query, limit=CANDIDATES, author=author), _item)[0]
    matched = store.search_profiles(query, limit=CANDIDATES, author=author)
    profiles = [p for p in matched if policy.author(p.author) is None]
    state = trust if trust is not None or not (posts or profiles) else load_trust(store, me)
    weight = author_trust(state, me) if state is not None else None

    def hit(author_key: bytes, relevance: float) -> tuple[float, float]:
        t = weight(author_key) if weight is not None else 0.0
        return relevance * (1 + TRUST_WEIGHT * t), t

    post_hits = []
    for match in posts:
        message = match.item.message
        score, t = hit(message.author, match.relevance)
        post_hits.append(SearchHit(message.author, score, match.relevance, t, item=match.item))
    post_hits.sort(key=lambda h: (-h.score, -_ts(h), _id(h)))
    people = []
    for found in profiles:
        score, t = hit(found.author, found.relevance)
        profile = Profile(found.author, found.name, found.bio, 0)
        people.append(SearchHit(found.author, score, found.relevance, t, profile=profile))
    people.sort(key=lambda h: (-h.score, h.author))
    return SearchResults(people[:limit], post_hits[:limit])


def _item(match: PostMatch) -> StoredMessage:
    return match.item


def _ts(hit: SearchHit) -> int:
    return hit.item.message.ts if hit.item is not None else 0


def _id(hit: SearchHit) -> bytes:
    return hit.item.message.id if hit.item is not None else b""
