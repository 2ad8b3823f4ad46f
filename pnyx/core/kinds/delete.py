"""``delete``: asks that the author's own post ``id`` be hidden (the request may arrive first).

Derived table ``deletions`` (migration 1): (target id, aid of the author asking, seq).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.fields import bytes_field
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.limits import ID_BYTES

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

DELETE: Final = "delete"

#: The kinds whose messages ``pnyx`` lets their author delete (``Store.append_own``): every
#: read of them honours a delete (posts; likes and reposts: unlike, unrepost; polls and votes:
#: a vote taken back falls back to the voter's previous one; notes and note ratings). A label is
#: taken back with ``neg`` instead, a follow or mute with its opposite kind.
DELETABLE: Final = frozenset({"post", "reaction", "repost", "poll", "vote", "note", "note-rating"})

INSERT_DELETION: Final = "INSERT OR IGNORE INTO deletions (target, aid, seq) VALUES (?, ?, ?)"


def check(body: Body) -> None:
    bytes_field(body, "id", ID_BYTES)


def deletions_row(message: Message, aid: int) -> tuple[object, ...]:
    return (message.body["id"], aid, message.seq)


DELETIONS: Final = Derived("deletions", INSERT_DELETION, deletions_row)


def describe(body: Body, style: Style) -> str:
    return f"deletes {style.ref(body['id'])}"


def json_fields(body: Body) -> dict[str, object]:
    return {"target": body["id"].hex()}


SPECS: Final = (KindSpec(DELETE, check, describe, json_fields, target="id", derived=(DELETIONS,)),)
