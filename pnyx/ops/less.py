""" "Show less like this": mark a post, take a mark back, list the marks (``pnyx less``, the web's
button and ``POST/DELETE /api/v1/less``; docs/ranking.md, "Show less").

A mark is a row of this home's store (``pnyx.store.less``), never signed or published: nothing
needs the signing key. Marking post P puts one mark on P's author and one on P's thread; the
ranked feeds' ``negative`` term counts them, each decayed with ``HALF_LIFE_DAYS``
(``pnyx.rank.negative``). ``following`` (time order) ignores marks.

Failure modes: an unknown id ``NotFoundError``; a message that is not a post or a deleted post
``UserError``; marking a post marked already, or taking back a mark not given,
``NothingChangedError``; ``StoreError`` if the store fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pnyx.clock import wall_clock_ms
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import NotFoundError, NothingChangedError, UserError
from pnyx.rank.negative import HALF_LIFE_DAYS, MAX_MARKS, weight
from pnyx.reads.trust import names_of
from pnyx.store import Store
from pnyx.store.less import MS_PER_S, add_mark, marks, remove_mark


@dataclass(frozen=True)
class LessMark:
    """One marked post: its id, author, thread (first post id), when, and its weight now (each of
    its two marks, on the author and on the thread, weighs this much)."""

    post: bytes
    author: bytes
    thread: bytes
    at_ms: int
    weight: float

    def to_json(self) -> dict[str, object]:
        return {
            "post": self.post.hex(),
            "author": encode_public_key(self.author),
            "thread": self.thread.hex(),
            "marked_at_ms": self.at_ms,
            "weight": self.weight,
        }


@dataclass(frozen=True)
class LessView:
    """The user's marks, newest first, with the names known for their authors."""

    items: list[LessMark]
    names: Mapping[bytes, str | None]

    def to_json(self) -> dict[str, object]:
        return {
            "half_life_days": HALF_LIFE_DAYS,
            "max_marks": MAX_MARKS,
            "items": [m.to_json() for m in self.items],
        }


def _post(store: Store, id_text: str) -> tuple[bytes, bytes, bytes]:
    post_id = store.resolve_id(id_text)
    item = store.get(post_id)
    if item is None:
        raise NotFoundError(f"no message {post_id.hex()} in this store")
    if item.kind != "post":
        raise UserError(f"message {post_id.hex()[:12]} is a {item.kind}, not a post")
    root = item.body.get("root")
    return post_id, item.author, root if isinstance(root, bytes) else post_id


def less(store: Store, id_text: str, *, now_ms: int | None = None) -> LessMark:
    """Mark post ``id_text`` (a full id or a unique prefix): show less like it."""
    post_id, author, thread = _post(store, id_text)
    at = wall_clock_ms() if now_ms is None else now_ms
    if not add_mark(store, post_id, author, thread, at):
        raise NothingChangedError(f"post {post_id.hex()[:12]} is marked already; nothing changed")
    return LessMark(post_id, author, thread, at, 1.0)


def undo_less(store: Store, id_text: str) -> bytes:
    """Take back the marks given on post ``id_text``; returns its id."""
    post_id = store.resolve_id(id_text)
    if not remove_mark(store, post_id):
        raise NothingChangedError(f"post {post_id.hex()[:12]} is not marked; nothing changed")
    return post_id


def less_list(store: Store, *, now_ms: int | None = None) -> LessView:
    """Every marked post, newest first, with its weight at ``now_ms``."""
    now = (wall_clock_ms() if now_ms is None else now_ms) / MS_PER_S
    by_post: dict[str, dict[str, str]] = {}
    when: dict[str, float] = {}
    for mark in marks(store):
        by_post.setdefault(mark.via, {})[mark.kind] = mark.target
        when[mark.via] = mark.at
    items = [
        LessMark(
            bytes.fromhex(via),
            bytes.fromhex(found["author"]),
            bytes.fromhex(found["thread"]),
            round(when[via] * MS_PER_S),
            weight(when[via], now),
        )
        for via, found in by_post.items()
    ]
    items.sort(key=lambda m: (-m.at_ms, m.post))
    return LessView(items, names_of(store, {m.author for m in items}))
