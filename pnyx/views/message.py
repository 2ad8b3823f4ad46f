"""``MessageView``: a stored message as the user sees it, with the author's profile name.

``to_json()`` is the object ``--json`` prints for timeline, feed, thread and the write commands:
``id`` (hex), ``author`` (pnyx1 text), ``seq``, ``ts``, ``kind``, ``text`` (None unless the body
has text), ``forked`` (the author signed two conflicting histories), ``name`` (only if the
author's profile has one), ``lookalike`` (``{"key", "name"}`` of someone the user knows whose
name this one looks like, only then), ``warnings`` (``[{"value", "labeller"}]``: the ``warn``
labels that apply, only when there are any; docs/moderation.md), then the kind's own fields
(``pnyx.core.kinds``: ``KindSpec.json_fields``; for a kind this version does not know, the body
fields pnyx names wherever they have the expected type).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pnyx.core import kinds, scripts
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
    forked: bool = False
    lookalike: tuple[bytes, str] | None = None
    """(key, name) of a known identity whose name the author's looks like."""
    mixed_scripts: tuple[str, ...] = ()
    """The scripts of the author's name when they mix (``pnyx.core.scripts``), else empty."""
    warnings: tuple[tuple[str, bytes], ...] = ()
    """(value, labeller key) of each ``warn`` label that applies, in precedence order."""

    @classmethod
    def of(
        cls,
        message: Message,
        profile: Profile | None = None,
        *,
        forked: bool = False,
        lookalike: tuple[bytes, str] | None = None,
        warnings: tuple[tuple[str, bytes], ...] = (),
    ) -> MessageView:
        """The view of ``message``; ``profile``: its author's, if held (for ``name``)."""
        spec = kinds.spec_of(message.kind)
        json_fields = unknown.json_fields if spec is None else spec.json_fields
        name = profile.name if profile is not None and profile.name else None
        return cls(
            id=message.id,
            author=message.author,
            seq=message.seq,
            ts=message.ts,
            kind=message.kind,
            text=message.text,
            name=name,
            fields=json_fields(message.body),
            forked=forked,
            lookalike=lookalike,
            mixed_scripts=tuple(scripts.mixed_scripts(name) or ()) if name else (),
            warnings=warnings,
        )

    def to_json(self) -> dict[str, object]:
        record: dict[str, object] = {
            "id": self.id.hex(),
            "author": encode_public_key(self.author),
            "seq": self.seq,
            "ts": self.ts,
            "kind": self.kind,
            "text": self.text,
            "forked": self.forked,
        }
        if self.name:
            record["name"] = self.name
        if self.lookalike is not None:
            key, name = self.lookalike
            record["lookalike"] = {"key": encode_public_key(key), "name": name}
        if self.mixed_scripts:
            record["mixed_scripts"] = list(self.mixed_scripts)
        if self.warnings:
            record["warnings"] = [
                {"value": value, "labeller": encode_public_key(key)} for value, key in self.warnings
            ]
        record.update(self.fields)
        return record
