"""Likes and reposts of a page of posts, in one query (``engagement``), and which of some
messages their own author deleted (``deleted_ids``).

A like is any ``reaction`` (``pnyx like`` signs ``+``; the web counts every reaction as a like),
a repost a ``repost``; each counts once per author, and not at all once its author deleted it
(a ``delete`` of one's own reaction or repost is how they are undone: docs/protocol.md, "delete").

Cost: one lookup of index ``messages_by_target`` per 500 posts (``IDS_PER_QUERY``), reading the
reactions and reposts naming them, each with the ``deletions`` primary key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pnyx.core import kinds
from pnyx.store.queries import _VISIBLE
from pnyx.store.rankq import IDS_PER_QUERY
from pnyx.store.schema import id_key

if TYPE_CHECKING:
    from pnyx.store.store import Store


@dataclass(slots=True)
class Engagement:
    """What a post has had: ``likes`` and ``reposts`` (distinct authors), and the user's own
    live reaction and repost ids (empty: the user has not liked / reposted it)."""

    likes: int = 0
    reposts: int = 0
    my_reactions: list[bytes] = field(default_factory=list)
    my_reposts: list[bytes] = field(default_factory=list)

    @property
    def liked(self) -> bool:
        return bool(self.my_reactions)

    @property
    def reposted(self) -> bool:
        return bool(self.my_reposts)

    def to_json(self) -> dict[str, object]:
        return {
            "likes": self.likes,
            "reposts": self.reposts,
            "liked": self.liked,
            "reposted": self.reposted,
        }


def _chunks(ids: list[bytes]) -> Iterable[list[bytes]]:
    for start in range(0, len(ids), IDS_PER_QUERY):
        yield ids[start : start + IDS_PER_QUERY]


def counts(conn: sqlite3.Connection, posts: list[bytes], me: bytes) -> dict[bytes, Engagement]:
    """Every one of ``posts`` (ids) with its ``Engagement`` as seen by ``me``."""
    found = {post: Engagement() for post in posts}
    actors: set[tuple[bytes, str, bytes]] = set()
    for chunk in _chunks(sorted(found)):
        rows = conn.execute(
            f"""SELECT m.target, m.kind, a.author, m.id FROM messages AS m
            INDEXED BY messages_by_target JOIN authors AS a ON a.aid = m.aid
            WHERE m.target IN ({",".join("?" * len(chunk))})
              AND m.kind IN ('{kinds.REACTION}', '{kinds.REPOST}') AND {_VISIBLE}""",
            chunk,
        ).fetchall()
        for target, kind, author, message_id in rows:
            seen = found[target]
            if author == me:
                (seen.my_reactions if kind == kinds.REACTION else seen.my_reposts).append(
                    message_id
                )
            if (target, kind, author) in actors:
                continue
            actors.add((target, kind, author))
            if kind == kinds.REACTION:
                seen.likes += 1
            else:
                seen.reposts += 1
    return found


def deleted_ids(conn: sqlite3.Connection, ids: list[bytes]) -> set[bytes]:
    """Those of ``ids`` naming a message held that its own author asked to delete."""
    gone: set[bytes] = set()
    for chunk in _chunks(sorted(set(ids))):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"""SELECT m.id FROM messages AS m INDEXED BY messages_idkey
            WHERE m.idkey IN ({marks}) AND m.id IN ({marks}) AND NOT {_VISIBLE}""",
            [*(id_key(i) for i in chunk), *chunk],
        ).fetchall()
        gone.update(row[0] for row in rows)
    return gone


def engagement(store: Store, posts: Iterable[bytes], me: bytes) -> dict[bytes, Engagement]:
    """``counts`` on ``store`` (one read under its lock)."""
    return store._read(counts, list(posts), me)


def deleted(store: Store, ids: Iterable[bytes]) -> set[bytes]:
    """``deleted_ids`` on ``store``."""
    return store._read(deleted_ids, list(ids))
