"""The ``following`` timeline with reposts (issue 24): the posts of ``Store.timeline`` and the
reposts of the same authors, merged newest first (ts DESC, id DESC), each repost with the post
it re-shares when this node holds it.

A repost of a post not held here (the node has not fetched the original's author) is still
shown, as a repost "of a post not held here", with the original's id: the post arrives when the
node syncs with someone who holds it. A repost of a post its author deleted says so. Fetching
missing originals is a later step (docs/cli.md, "Reposts in the timeline").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pnyx.core import kinds
from pnyx.reads.policy import visible

if TYPE_CHECKING:
    from pnyx.store import Cursor, Store, StoredMessage

#: What became of a reposted post here: shown, deleted by its author, or not held.
OriginalState = Literal["held", "deleted", "not-held"]


@dataclass(frozen=True, slots=True)
class Original:
    """The post a repost names: its id, its state here and, when held, the stored post."""

    id: bytes
    state: OriginalState
    post: StoredMessage | None


@dataclass(frozen=True, slots=True)
class TimelinePage:
    """A timeline page: its items (posts and reposts), the originals of its reposts by repost
    id, and the cursor of the next page (None: no more)."""

    items: list[StoredMessage]
    originals: dict[bytes, Original]
    next: Cursor | None


def original_of(store: Store, repost: StoredMessage) -> Original:
    """The post ``repost`` re-shares, and whether it is held and visible here."""
    target: bytes = repost.message.body["id"]
    found = store.get(target)
    if found is None or found.message.kind != kinds.POST:
        return Original(target, "not-held", None)
    if not store.visible_post(target):
        return Original(target, "deleted", None)
    return Original(target, "held", found)


def timeline(store: Store, me: bytes, *, limit: int, before: Cursor | None = None) -> TimelinePage:
    """Posts and reposts by ``me`` and those ``me`` follows, newest first; pages by ``before``.
    Items the user's mutes and blocks hide are left out (``pnyx.reads.policy``)."""
    posts = store.timeline(me, limit=limit, before=before)
    reposts = store.timeline_reposts(me, limit=limit, before=before)
    merged = sorted(
        [*posts.items, *reposts.items],
        key=lambda item: (item.message.ts, item.message.id),
        reverse=True,
    )
    more = len(merged) > limit or posts.next is not None or reposts.next is not None
    page = merged[:limit]
    items = visible(store, me, page)  # hidden items leave a page shorter, never longer
    originals = {
        item.message.id: original_of(store, item)
        for item in items
        if item.message.kind == kinds.REPOST
    }
    following = page[-1].cursor if more and page else None
    return TimelinePage(items, originals, following)
