"""Community notes on a post: ``post_notes`` (``pnyx notes POST``), each with its status and why.

The scorer (``pnyx.notes.score.fit``) runs over every note and rating the store holds, limited to
the raters who count for the user: the user and the identities the user trusts (the trust state
the caller passes, ``trust=``, else one built from the store's follows), co-acting raters (the
clusters ``pnyx clusters`` lists) merged into one voice. So a note is "helpful" on this node when
people this user trusts, who usually disagree, found it helpful: nobody else decides it, and a
flood of fresh keys rates nothing here. Computed per read (docs/notes.md, "Limits");
``page_notes`` scores a page of posts (the web app's timeline and thread) with one fit. Notes
the user's policy hides (a blocked or muted author's, one a label the user applies hides) are
left out, as every read leaves hidden items out (docs/moderation.md).

Failure modes: ``NotFoundError`` for a post not held, ``UserError`` for a message that is not a
post, ``StoreError`` if the store fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pnyx.clock import wall_clock_ms
from pnyx.core.kinds import POST
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import NotFoundError, UserError
from pnyx.notes.score import Model, NoteScore, Rating, fit
from pnyx.reads.coacting import Voices
from pnyx.reads.policy import visible
from pnyx.reads.trust import names_of
from pnyx.store import Store, StoredMessage
from pnyx.store.notes import all_notes, all_ratings, notes_on
from pnyx.trust.state import TrustState

#: The ratings as words, by value.
_WORDS = {1.0: "yes", 0.5: "somewhat", 0.0: "no"}


@dataclass(frozen=True)
class NoteView:
    """One note with its score for the user; ``mine``: the user's rating (None: not rated)."""

    item: StoredMessage
    score: NoteScore
    mine: str | None

    @property
    def text(self) -> str:
        return str(self.item.message.body["text"])

    @property
    def misleading(self) -> bool:
        return bool(self.item.message.body.get("misleading", True))

    def to_json(self) -> dict[str, object]:
        s = self.score
        return {
            "id": self.item.message.id.hex(),
            "author": encode_public_key(self.item.message.author),
            "text": self.text,
            "misleading": self.misleading,
            "status": s.status,
            "ratings": s.ratings,
            "intercept": s.intercept,
            "factor": s.factor,
            "why": s.why(),
            "mine": self.mine,
        }


@dataclass(frozen=True)
class PostNotes:
    """The notes on one post, helpful ones first; ``raters``: the voices in the model;
    ``merged``: clusters counted as one rater; ``names`` of the notes' authors."""

    post: bytes
    notes: list[NoteView]
    raters: int
    merged: Mapping[bytes, tuple[bytes, ...]]
    names: Mapping[bytes, str | None]

    @property
    def helpful(self) -> NoteView | None:
        """The note shown under the post ("Readers added context"): the first helpful one."""
        return next((n for n in self.notes if n.score.status == "helpful"), None)

    def to_json(self) -> dict[str, object]:
        return {
            "post": self.post.hex(),
            "notes": [n.to_json() for n in self.notes],
            "raters": self.raters,
            "merged": [
                {"cluster": encode_public_key(k), "raters": [encode_public_key(m) for m in ms]}
                for k, ms in sorted(self.merged.items())
            ],
        }


_ORDER = {"helpful": 0, "needs more ratings": 1, "not helpful": 2}


def score_notes(
    store: Store,
    me: bytes,
    *,
    now_ms: int | None = None,
    trust: TrustState | None = None,
    ratings: list[Rating] | None = None,
) -> Model:
    """The model over every note held, rated by the user and those the user trusts
    (``ratings``: ``all_ratings(store)`` when the caller has read them already)."""
    now = wall_clock_ms() if now_ms is None else now_ms
    who = Voices.of(store, me, now, trust)
    trusted = who.trusted | {me}
    authors = all_notes(store)
    held = all_ratings(store) if ratings is None else ratings
    counted = [r for r in held if r.rater in trusted and r.note in authors]
    return fit(counted, authors=authors, cluster_of=who.cluster_of, notes=sorted(authors))


def _views_on(
    store: Store, me: bytes, post_id: bytes, model: Model, mine: Mapping[bytes, float]
) -> list[NoteView]:
    """The notes on ``post_id`` the user's policy shows, scored by ``model``, helpful first."""
    views = [
        NoteView(n, model.notes[n.message.id], _WORDS.get(mine.get(n.message.id, -1.0)))
        for n in visible(store, me, notes_on(store, post_id))
        if n.message.id in model.notes
    ]
    views.sort(key=lambda v: (_ORDER[v.score.status], -(v.score.intercept or 0.0)))
    return views


def post_notes(
    store: Store,
    me: bytes,
    post_id: bytes,
    *,
    now_ms: int | None = None,
    trust: TrustState | None = None,
) -> PostNotes:
    """The notes on post ``post_id`` with their status for ``me`` (module docstring)."""
    item = store.get(post_id)
    if item is None:
        raise NotFoundError(f"no message {post_id.hex()} in this store")
    if item.kind != POST:
        raise UserError(f"message {post_id.hex()[:12]} is a {item.kind}, not a post")
    ratings = all_ratings(store)
    model = score_notes(store, me, now_ms=now_ms, trust=trust, ratings=ratings)
    mine = {r.note: r.value for r in ratings if r.rater == me}
    views = _views_on(store, me, post_id, model, mine)
    names = names_of(store, {v.item.message.author for v in views})
    return PostNotes(post_id, views, len(model.raters), model.merged, names)


def page_notes(
    store: Store,
    me: bytes,
    post_ids: list[bytes],
    *,
    always: frozenset[bytes] = frozenset(),
    now_ms: int | None = None,
    trust: TrustState | None = None,
) -> dict[bytes, PostNotes]:
    """``post_notes`` for a page of posts with ONE model fit: the posts of ``post_ids`` that
    have notes, and those of ``always`` (held posts, with or without notes). When no post asked
    about has a note and ``always`` is empty, nothing is fitted and the answer is empty. Ids not
    held or not posts in ``always`` are left out (no error: a page shows what it can)."""
    held = {p: notes_on(store, p) for p in dict.fromkeys(post_ids)}
    wanted = [p for p, found in held.items() if found]
    for p in sorted(always - set(wanted)):
        item = store.get(p)
        if item is not None and item.kind == POST:
            wanted.append(p)
    if not wanted:
        return {}
    ratings = all_ratings(store)
    model = score_notes(store, me, now_ms=now_ms, trust=trust, ratings=ratings)
    mine = {r.note: r.value for r in ratings if r.rater == me}
    views = {p: _views_on(store, me, p, model, mine) for p in wanted}
    names = names_of(store, {v.item.message.author for vs in views.values() for v in vs})
    return {p: PostNotes(p, vs, len(model.raters), model.merged, names) for p, vs in views.items()}
