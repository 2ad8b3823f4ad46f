"""The notifications read (``/notifications``, ``GET /api/v1/notifications``): what others did
that concerns the user, newest first.

Three sorts, merged by time (ts, then id):

* ``reply``: a post by someone else whose parent is one of the user's posts;
* ``mention``: a post by someone else whose text holds the user's key text (``pnyx1...``, exact)
  or the user's fingerprint (``pnyx1qv9x…8x7k``, the form the UI and CLI show, with its ``…``).
  A post that is also a reply to the user counts once, as a reply. A fingerprint keeps only the
  first 4 data characters and the last 4 checksum characters, so another key sharing them (a
  deliberate look-alike) would notify too (the notice shows who wrote the post);
* ``follow``: someone who follows the user now (their latest follow of the user; an unfollow
  removes it).

Deleted posts are hidden; the user's own messages never notify. Failure modes: ``UserError`` for
a limit outside 1..``MAX_NOTIFICATIONS``; ``StoreError`` if the store fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from pnyx.core.display import fingerprint
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import UserError
from pnyx.reads.policy import load_policy, screen
from pnyx.reads.profile import message_views
from pnyx.store import Store, StoredMessage
from pnyx.views import MessageView

#: Most notifications one call returns, a count.
MAX_NOTIFICATIONS = 200
#: Notifications returned by default, a count.
DEFAULT_NOTIFICATIONS = 50


@dataclass(frozen=True)
class Notification:
    """One notification: ``kind`` is ``reply``, ``mention`` or ``follow``; ``message`` is the
    reply, the mentioning post or the follow message."""

    kind: str
    message: MessageView

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "message": self.message.to_json()}


def mention_needles(me: bytes) -> list[str]:
    """The texts that mention ``me`` in a post: the key text and the fingerprint."""
    return [encode_public_key(me), fingerprint(me)]


def notifications(
    store: Store, me: bytes, limit: int = DEFAULT_NOTIFICATIONS
) -> list[Notification]:
    """Up to ``limit`` notifications for ``me``, newest first (module docstring)."""
    if not 1 <= limit <= MAX_NOTIFICATIONS:
        raise UserError(f"limit must be 1..{MAX_NOTIFICATIONS} notifications")
    replies, mentions, follows = store.notifications(me, mention_needles(me), limit=limit)
    reply_ids = {item.message.id for item in replies}
    tagged: list[tuple[str, StoredMessage]] = [("reply", item) for item in replies]
    tagged += [("mention", item) for item in mentions if item.message.id not in reply_ids]
    tagged += [("follow", item) for item in follows]
    tagged.sort(key=lambda pair: (pair[1].message.ts, pair[1].message.id), reverse=True)
    policy = load_policy(store, me)  # nothing from those the user mutes or blocks
    tagged = screen(policy, tagged, _item)[0][:limit]
    views = message_views(store, [item for _, item in tagged])
    return [Notification(kind, view) for (kind, _), view in zip(tagged, views, strict=True)]


def _item(pair: tuple[str, StoredMessage]) -> StoredMessage:
    return pair[1]
