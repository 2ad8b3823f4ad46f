"""A pair of kinds that set and clear one state of the author toward a key (``mute``/``unmute``,
``block``/``unblock``): the highest-seq message per (author, key) decides, as for follows.

``key_state_specs(on, off, table)`` declares both kinds: body ``{key: 32 bytes}``, and a derived
table ``table`` (its own DDL, created on the first read-write open that knows the kinds) of
(actor aid, target aid, seq, state 1/0) with an index on (target, state); a target never seen gets
an ``authors`` row so it has an aid (``Derived.keys``). Pure: SQL travels as strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pnyx.core.kinds.fields import bytes_field, key_text
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.limits import KEY_BYTES

if TYPE_CHECKING:
    from pnyx.core.envelope import Message


def check(body: Body) -> None:
    bytes_field(body, "key", KEY_BYTES)


def json_fields(body: Body) -> dict[str, object]:
    return {"key": key_text(body["key"])}


def key_state_specs(on: str, off: str, table: str) -> tuple[KindSpec, KindSpec]:
    """The ``KindSpec`` of ``on`` and of ``off``, deriving into ``table`` (module docstring)."""
    ddl = f"""
CREATE TABLE IF NOT EXISTS {table} (
    actor  INTEGER NOT NULL,
    target INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    state  INTEGER NOT NULL,
    PRIMARY KEY (actor, target)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {table}_target ON {table} (target, state);
"""
    upsert = f"""
INSERT INTO {table} (actor, target, seq, state) VALUES (?, ?, ?, ?)
ON CONFLICT (actor, target) DO UPDATE SET seq = excluded.seq, state = excluded.state
WHERE excluded.seq > {table}.seq
"""

    def row(message: Message, aid: int) -> tuple[object, ...]:
        return (aid, message.body["key"], message.seq, 1 if message.kind == on else 0)

    derived = Derived(table, upsert, row, keys=(1,), create=ddl)

    def describe_on(body: Body, style: Style) -> str:
        return f"{on}s {style.key(body['key'])}"

    def describe_off(body: Body, style: Style) -> str:
        return f"{off}s {style.key(body['key'])}"

    return (
        KindSpec(on, check, describe_on, json_fields, target="key", derived=(derived,)),
        KindSpec(off, check, describe_off, json_fields, target="key", derived=(derived,)),
    )
