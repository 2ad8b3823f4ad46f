"""``mute`` and ``unmute`` of a key: the highest-seq one per (actor, target) decides.

Derived table ``mutes`` (its own DDL, created on the first read-write open that knows the kind):
(actor aid, target aid, seq, state 1/0); a target never seen gets an ``authors`` row so it has an
aid (``Derived.keys``). A mute is public and signed, like a follow: what it means for reads is in
``docs/moderation.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.fields import bytes_field, key_text
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.limits import KEY_BYTES

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

MUTE: Final = "mute"
UNMUTE: Final = "unmute"

MUTES_DDL: Final = """
CREATE TABLE IF NOT EXISTS mutes (
    actor  INTEGER NOT NULL,
    target INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    state  INTEGER NOT NULL,
    PRIMARY KEY (actor, target)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mutes_target ON mutes (target, state);
"""

UPSERT_MUTE: Final = """
INSERT INTO mutes (actor, target, seq, state) VALUES (?, ?, ?, ?)
ON CONFLICT (actor, target) DO UPDATE SET seq = excluded.seq, state = excluded.state
WHERE excluded.seq > mutes.seq
"""


def check(body: Body) -> None:
    bytes_field(body, "key", KEY_BYTES)


def mutes_row(message: Message, aid: int) -> tuple[object, ...]:
    return (aid, message.body["key"], message.seq, 1 if message.kind == MUTE else 0)


MUTES: Final = Derived("mutes", UPSERT_MUTE, mutes_row, keys=(1,), create=MUTES_DDL)


def describe_mute(body: Body, style: Style) -> str:
    return f"mutes {style.key(body['key'])}"


def describe_unmute(body: Body, style: Style) -> str:
    return f"unmutes {style.key(body['key'])}"


def json_fields(body: Body) -> dict[str, object]:
    return {"key": key_text(body["key"])}


SPECS: Final = (
    KindSpec(MUTE, check, describe_mute, json_fields, target="key", derived=(MUTES,)),
    KindSpec(UNMUTE, check, describe_unmute, json_fields, target="key", derived=(MUTES,)),
)
