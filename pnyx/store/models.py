"""Values the store hands out: ingest reports, pages, cursors, stored messages, forks, profiles.

All are frozen dataclasses with no I/O. ``StoredMessage`` wraps a ``pnyx.core.envelope.Message``
with the time this node first stored it; ``Cursor`` is the opaque position a page continues from.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from pnyx.core.envelope import Message
from pnyx.core.limits import ID_BYTES, MAX_TIMESTAMP_MS
from pnyx.core.reasons import Reason
from pnyx.errors import UserError

#: Bytes of a timestamp inside an encoded cursor (unsigned big-endian milliseconds).
_CURSOR_TS_BYTES = 8


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the (ts, id) of its last item. Pass it as ``before=`` for the next page.

    ``to_text()`` gives a short URL-safe string (base64url without padding) for the CLI;
    ``from_text()`` reads it back and raises ``UserError`` for anything else.
    """

    ts: int
    id: bytes

    def to_text(self) -> str:
        packed = self.ts.to_bytes(_CURSOR_TS_BYTES, "big") + self.id
        return base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> Cursor:
        padded = text.strip() + "=" * (-len(text.strip()) % 4)
        try:
            packed = base64.urlsafe_b64decode(padded.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise UserError(f"not a page cursor: {text!r}") from None
        ts = int.from_bytes(packed[:_CURSOR_TS_BYTES], "big")
        if len(packed) != _CURSOR_TS_BYTES + ID_BYTES or ts > MAX_TIMESTAMP_MS:
            raise UserError(f"not a page cursor: {text!r}")
        return cls(ts, packed[_CURSOR_TS_BYTES:])


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as held in the store, with the time (ms since the epoch) it was first stored."""

    message: Message
    received_ms: int

    @property
    def id(self) -> bytes:
        return self.message.id

    @property
    def author(self) -> bytes:
        return self.message.author

    @property
    def seq(self) -> int:
        return self.message.seq

    @property
    def ts(self) -> int:
        return self.message.ts

    @property
    def kind(self) -> str:
        return self.message.kind

    @property
    def body(self) -> Any:
        return self.message.body

    @property
    def text(self) -> str | None:
        return self.message.text

    @property
    def raw(self) -> bytes:
        return self.message.raw

    @property
    def cursor(self) -> Cursor:
        """The cursor that continues a page after this item."""
        return Cursor(self.message.ts, self.message.id)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a timeline or feed, newest first; ``next`` is None on the last page."""

    items: list[StoredMessage]
    next: Cursor | None


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ``ingest`` batch did.

    ``accepted``: newly stored messages, in input order. ``duplicates``: messages already held
    (or repeated within the batch). ``rejected``: (index in batch, reason, detail), including fork
    and broken-chain evidence. ``forks``: authors newly flagged as forked by this batch.
    """

    accepted: list[Message] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[tuple[int, Reason, str]] = field(default_factory=list)
    forks: list[bytes] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ForkEvidence:
    """A second, conflicting message signed by ``author``: proof the key signed two histories.

    ``kept_id`` is the stored message it conflicts with (same seq for a fork; the neighbour whose
    link it breaks for a broken chain). ``other_raw`` is the conflicting envelope, never served.
    """

    author: bytes
    seq: int
    kept_id: bytes
    other_raw: bytes
    reason: Reason
    seen_ms: int


@dataclass(frozen=True, slots=True)
class Profile:
    """An author's merged profile: each field from the latest profile message that sets it.

    ``seq`` is the sequence number of the latest profile message held.
    """

    author: bytes
    name: str | None
    bio: str | None
    seq: int


@dataclass(frozen=True, slots=True)
class FollowEdges:
    """Every current follow (the highest-seq follow/unfollow of a pair is a follow), as dense
    indices: edge ``i`` is ``keys[follower[i]] -> keys[followee[i]]``. ``keys`` holds every
    identity with at least one edge, sorted by key bytes (so index order is key order)."""

    keys: list[bytes]
    follower: list[int]
    followee: list[int]
