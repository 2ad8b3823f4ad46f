"""``follow`` and ``unfollow`` of a key: the highest-seq one per (follower, followee) decides.

Derived table ``follows`` (migration 1): (follower aid, followee aid, seq, state 1/0); a followee
never seen gets an ``authors`` row so it has an aid (``Derived.keys``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.fields import bytes_field, key_text
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.limits import KEY_BYTES

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

FOLLOW: Final = "follow"
UNFOLLOW: Final = "unfollow"

UPSERT_FOLLOW: Final = """
INSERT INTO follows (follower, followee, seq, state) VALUES (?, ?, ?, ?)
ON CONFLICT (follower, followee) DO UPDATE SET seq = excluded.seq, state = excluded.state
WHERE excluded.seq > follows.seq
"""


def check(body: Body) -> None:
    bytes_field(body, "key", KEY_BYTES)


def follows_row(message: Message, aid: int) -> tuple[object, ...]:
    return (aid, message.body["key"], message.seq, 1 if message.kind == FOLLOW else 0)


FOLLOWS: Final = Derived("follows", UPSERT_FOLLOW, follows_row, keys=(1,))


def describe_follow(body: Body, style: Style) -> str:
    return f"follows {style.key(body['key'])}"


def describe_unfollow(body: Body, style: Style) -> str:
    return f"unfollows {style.key(body['key'])}"


def json_fields(body: Body) -> dict[str, object]:
    return {"key": key_text(body["key"])}


SPECS: Final = (
    KindSpec(FOLLOW, check, describe_follow, json_fields, target="key", derived=(FOLLOWS,)),
    KindSpec(UNFOLLOW, check, describe_unfollow, json_fields, target="key", derived=(FOLLOWS,)),
)
