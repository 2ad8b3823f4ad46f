"""The profile read (``/u/{key}``, ``GET /api/v1/profiles/{key}``): an identity's name, bio, key
text and fingerprint, whether the user follows them, and their posts newest first.

``message_views`` turns stored messages into ``MessageView`` s with their authors' names and fork
marks (shared by the notifications read). Names and bios are the authors' own text as held:
callers escape them. Failure modes: ``UserError`` for a bad cursor or a page size outside
1..``MAX_PROFILE_PAGE``; ``StoreError`` if the store fails. An identity the store has never seen
is not an error (``known`` is False, no name, no posts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pnyx.core import kinds
from pnyx.core.display import fingerprint
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import UserError
from pnyx.store import Cursor, Profile, Store, StoredMessage
from pnyx.views import MessageView

#: Most of an author's messages one profile page reads (posts among them are shown), a count.
MAX_PROFILE_PAGE = 200
#: Messages a profile page reads by default, a count.
DEFAULT_PROFILE_PAGE = 20


def message_views(store: Store, items: Sequence[StoredMessage]) -> list[MessageView]:
    """``MessageView`` s of ``items`` with each author's profile name and fork mark."""
    forked = store.forked_among({item.message.author for item in items})
    profiles: dict[bytes, Profile | None] = {}
    views = []
    for item in items:
        author = item.message.author
        if author not in profiles:
            profiles[author] = store.profile(author)
        views.append(MessageView.of(item.message, profiles[author], forked=author in forked))
    return views


@dataclass(frozen=True)
class ProfileView:
    """One identity as the user sees it; ``posts``: one page of their posts, newest first."""

    key: bytes
    name: str | None
    bio: str | None
    known: bool
    is_me: bool
    followed: bool
    posts: list[MessageView]
    next_cursor: str | None

    @property
    def key_text(self) -> str:
        return encode_public_key(self.key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key_text,
            "fingerprint": self.fingerprint,
            "name": self.name,
            "bio": self.bio,
            "known": self.known,
            "is_me": self.is_me,
            "followed": self.followed,
            "posts": [view.to_json() for view in self.posts],
            "next_cursor": self.next_cursor,
        }


def profile(
    store: Store,
    me: bytes,
    key: bytes,
    limit: int = DEFAULT_PROFILE_PAGE,
    before: str | None = None,
) -> ProfileView:
    """``key``'s profile and one page of their posts (of their last ``limit`` messages)."""
    if not 1 <= limit <= MAX_PROFILE_PAGE:
        raise UserError(f"limit must be 1..{MAX_PROFILE_PAGE} messages")
    held = store.profile(key)
    page = store.feed(key, limit=limit, before=Cursor.from_text(before) if before else None)
    posts = [item for item in page.items if item.message.kind == kinds.POST]
    return ProfileView(
        key=key,
        name=held.name if held is not None and held.name else None,
        bio=held.bio if held is not None and held.bio else None,
        known=held is not None or bool(page.items) or key == me,
        is_me=key == me,
        followed=key in store.following(me),
        posts=message_views(store, posts),
        next_cursor=page.next.to_text() if page.next else None,
    )
