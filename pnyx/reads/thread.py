"""A post's thread as every front end shows it (``pnyx thread`` and the web's thread page and
``GET /api/v1/thread/ID``): the held posts in reading order with their depth, each reply the
user's policy hides kept as a placeholder with why (the conversation keeps its shape), whether
the post asked about was deleted by its author, and which authors signed two histories.

Cost: one index range of the thread's replies (``Store.thread``), the policy (three index
ranges), one fork lookup for the thread's authors.

Failure modes: ``NotFoundError`` for an id not held (or ambiguous prefix: its message says so)
and for a message that is not a post; ``StoreError`` if the store fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from pnyx.reads.policy import load_policy, screen
from pnyx.store import Store, StoredMessage
from pnyx.trust.policy import Hidden
from pnyx.views.thread import tree_order


@dataclass(frozen=True, slots=True)
class ThreadRow:
    """One post of a thread: its ``depth`` (0 the root, uncapped) and, when the user's policy
    hides it, why (``hidden``; None when shown)."""

    item: StoredMessage
    depth: int
    hidden: Hidden | None


@dataclass(frozen=True, slots=True)
class ThreadView:
    """The thread holding post ``post_id``: ``rows`` in reading order (each post's replies right
    below it), ``deleted`` when that post itself was deleted by its author (the rest still
    shows), ``forked`` the authors among the rows who signed two histories, ``items`` the same
    posts oldest first."""

    post_id: bytes
    rows: list[ThreadRow]
    deleted: bool
    forked: set[bytes]
    items: list[StoredMessage]

    def shown(self) -> list[StoredMessage]:
        """The posts the policy does not hide, oldest first (what ``pnyx thread --json`` lists)."""
        hidden = {row.item.message.id for row in self.rows if row.hidden is not None}
        return [item for item in self.items if item.message.id not in hidden]


def thread(store: Store, me: bytes | None, post_id: bytes) -> ThreadView:
    """The thread holding ``post_id`` with the policy of ``me`` applied (None: no identity,
    nothing hidden). ``post_id`` is a full id (``Store.resolve_id`` turns a prefix into one)."""
    items = store.thread(post_id)
    hidden: dict[bytes, Hidden] = {}
    if me is not None and items:
        found = screen(load_policy(store, me), items, _itself)[1]
        hidden = {item.message.id: why for item, why in found}
    ordered = tree_order(items)
    rows = [ThreadRow(item, depth, hidden.get(item.message.id)) for item, depth in ordered]
    forked = store.forked_among({item.message.author for item in items}) if items else set()
    deleted = not store.visible_post(post_id)
    return ThreadView(post_id, rows, deleted, forked, items)


def _itself(item: StoredMessage) -> StoredMessage:
    return item
