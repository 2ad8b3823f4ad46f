"""``block`` and ``unblock`` of a key: the highest-seq one per (actor, target) decides.

Derived table ``blocks`` (its own DDL, created on the first read-write open that knows the kind):
(actor aid, target aid, seq, state 1/0); a target never seen gets an ``authors`` row so it has an
aid (``Derived.keys``). A block is public and signed, like a follow: what it means for reads is in
``docs/moderation.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.fields import bytes_field, key_text
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.limits import KEY_BYTES

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

BLOCK: Final = "block"
UNBLOCK: Final = "unblock"

BLOCKS_DDL: Final = """
CREATE TABLE IF NOT EXISTS blocks (
    actor  INTEGER NOT NULL,
    target INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    state  INTEGER NOT NULL,
    PRIMARY KEY (actor, target)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blocks_target ON blocks (target, state);
"""

UPSERT_BLOCK: Final = """
INSERT INTO blocks (actor, target, seq, state) VALUES (?, ?, ?, ?)
ON CONFLICT (actor, target) DO UPDATE SET seq = excluded.seq, state = excluded.state
WHERE excluded.seq > blocks.seq
"""


def check(body: Body) -> None:
    bytes_field(body, "key", KEY_BYTES)


def blocks_row(message: Message, aid: int) -> tuple[object, ...]:
    return (aid, message.body["key"], message.seq, 1 if message.kind == BLOCK else 0)


BLOCKS: Final = Derived("blocks", UPSERT_BLOCK, blocks_row, keys=(1,), create=BLOCKS_DDL)


def describe_block(body: Body, style: Style) -> str:
    return f"blocks {style.key(body['key'])}"


def describe_unblock(body: Body, style: Style) -> str:
    return f"unblocks {style.key(body['key'])}"


def json_fields(body: Body) -> dict[str, object]:
    return {"key": key_text(body["key"])}


SPECS: Final = (
    KindSpec(BLOCK, check, describe_block, json_fields, target="key", derived=(BLOCKS,)),
    KindSpec(UNBLOCK, check, describe_unblock, json_fields, target="key", derived=(BLOCKS,)),
)
