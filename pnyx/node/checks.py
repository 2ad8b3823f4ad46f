"""Checks the node makes with its store's help (blocking: call them through an ``Offload``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pnyx.core.chain import Neighbours, Placement, place
from pnyx.core.envelope import Message, decode
from pnyx.core.limits import KEY_BYTES, SIGNATURE_BYTES
from pnyx.core.reasons import InvalidMessage

if TYPE_CHECKING:
    from pnyx.store import Store

#: Payload head of every version-1 envelope: fixarray(7), version 1, bin8 marker, 32-byte length.
_PAYLOAD_HEAD = b"\x97\x01\xc4\x20"


def author_of(raw: bytes) -> bytes | None:
    """The author key of an envelope read straight from its bytes (no decoding), or None."""
    start = SIGNATURE_BYTES + len(_PAYLOAD_HEAD)
    if raw[SIGNATURE_BYTES:start] != _PAYLOAD_HEAD or len(raw) < start + KEY_BYTES:
        return None
    return raw[start : start + KEY_BYTES]


def chain_conflict(store: Store, messages: Sequence[Message]) -> InvalidMessage | None:
    """The first chain rule (``pnyx.core.chain.place``) a new message breaks against the messages
    the store holds next to it, or None. Messages already stored are fine. Raises ``StoreError``
    if the store fails."""
    for message in messages:
        if store.get(message.id) is not None:
            continue
        held: dict[int, Message] = {}
        for raw in store.range(message.author, max(1, message.seq - 1), message.seq + 1):
            stored = decode(raw)
            held[stored.seq] = stored
        same, before, after = (held.get(message.seq + d) for d in (0, -1, 1))
        verdict = place(
            message,
            Neighbours(
                same_id=same.id if same else None,
                before_id=before.id if before else None,
                after_prev=after.prev if after else None,
            ),
        )
        if verdict.placement is Placement.FORK and verdict.reason is not None:
            return InvalidMessage(verdict.reason, verdict.detail)
    return None
