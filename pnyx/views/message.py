"""``MessageView``: a stored message as the user sees it, with the author's profile name.

``to_json()`` is the object ``--json`` prints for timeline, feed, thread and the write commands:
``id`` (hex), ``author`` (pnyx1 text), ``seq``, ``ts``, ``kind``, ``text`` (None unless the body
has text), ``name`` (only if the author's profile has one), then the kind's own fields
(``pnyx.core.kinds``: ``KindSpec.json_fields``; for a kind this version does not know, the body
fields pnyx names wherever they have the expected type).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pnyx.core import kinds
from pnyx.core.kinds import unknown
from pnyx.crypto.keytext import encode_public_key

if TYPE_CHECKING:
    from pnyx.core.envelope import Message
    from pnyx.store import Profile


@dataclass(frozen=True, slots=True)
class MessageView:
    """One message, ready to show. ``fields``: the kind's JSON fields (JSON-ready values)."""

    id: bytes
    author: bytes
    seq: int
    ts: int
    kind: str
    text: str | None
    name: str | None
    fields: Mapping[str, object]

    @classmethod
    def of(cls, message: Message, profile: Profile | None = None) -> MessageView:
        """The view of ``message``; ``profile``: its author's, if held (for ``name``)."""
        spec = kinds.spec_of(message.kind)
        json_fields = unknown.json_fields if spec is None else spec.json_fields
        return cls(
            id=message.id,
            author=message.author,
            seq=message.seq,
            ts=message.ts,
            kind=message.kind,
            text=message.text,
            name=profile.name if profile is not None and profile.name else None,
            fields=json_fields(message.body),
        )

    def to_json(self) -> dict[str, object]:
        record: dict[str, object] = {
            "id": self.id.hex(),
            "author": encode_public_key(self.author),
            "seq": self.seq,
            "ts": self.ts,
            "kind": self.kind,
            "text": self.text,
        }
        if self.name:
            record["name"] = self.name
        record.update(self.fields)
        return record
