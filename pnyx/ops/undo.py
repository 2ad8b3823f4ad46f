"""Undoing a like or a repost: ``unlike`` and ``unrepost`` sign a ``delete`` of the user's own
reaction(s) or repost naming a post (docs/protocol.md, "delete": a delete of one's own message
hides it everywhere it is honoured, counts included). A later ``like`` or ``repost`` of the same
post is allowed again (``pnyx.ops.write`` skips deleted ones).

Failure modes: ``NotFoundError`` for a post not held, ``NothingChangedError`` when the user has
no live like (or repost) of it, ``StoreError`` if the database fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pnyx.core import kinds
from pnyx.errors import NothingChangedError
from pnyx.ops.write import SignerLike, _append, _post_of, _signer, live_references
from pnyx.views import MessageView

if TYPE_CHECKING:
    from pnyx.store import Store


def _undo(store: Store, key: SignerLike, kind: str, target: str, now_ms: int | None) -> MessageView:
    post = _post_of(store, target)
    mine = live_references(store, _signer(key).public_key, kind, post.id)
    if not mine:
        what = "liked" if kind == kinds.REACTION else "reposted"
        raise NothingChangedError(f"you have not {what} post {post.id.hex()[:12]}; nothing changed")
    done = [_append(store, key, kinds.DELETE, {"id": earlier}, now_ms) for earlier in mine]
    return done[-1]


def unlike(store: Store, key: SignerLike, target: str, *, now_ms: int | None = None) -> MessageView:
    """Delete every live reaction of the user to post ``target`` (the web counts any reaction as
    a like); returns the last delete message signed."""
    return _undo(store, key, kinds.REACTION, target, now_ms)


def unrepost(
    store: Store, key: SignerLike, target: str, *, now_ms: int | None = None
) -> MessageView:
    """Delete the user's live repost(s) of post ``target``; returns the last delete signed."""
    return _undo(store, key, kinds.REPOST, target, now_ms)
