"""How messages look on a terminal and in ``--json`` output (one JSON object per line)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from pnyx.core import kinds
from pnyx.core.kinds import unknown

if TYPE_CHECKING:
    from pnyx.core.envelope import Message
    from pnyx.store import Profile


def short_key(key: bytes) -> str:
    """A short, still recognisable form of a public key: ``pnyx1abcdefgh…``."""
    from pnyx.crypto.keytext import encode_public_key

    return encode_public_key(key)[:13] + "…"


#: Up to this age a time is shown relative to now ("3 min ago"), in seconds; older as a date.
RELATIVE_UNTIL_S = 7 * 24 * 3600
#: Ages shown in a larger unit from this many seconds on: (threshold, unit in seconds, name).
_UNITS = ((86400, 86400, "day"), (3600, 3600, "h"), (60, 60, "min"))


def when(ts_ms: int, now_ms: int | None = None) -> str:
    """Relative for the last week ("just now", "3 min ago", "5 h ago", "2 days ago"); otherwise,
    and for times more than a minute ahead of this clock, local time: ``2026-11-23 22:50``."""
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    age_s = (now - ts_ms) // 1000
    if -60 < age_s < 60:
        return "just now"
    if 0 < age_s < RELATIVE_UNTIL_S:
        for threshold, unit, name in _UNITS:
            if age_s >= threshold:
                count = age_s // unit
                plural = "s" if name == "day" and count != 1 else ""
                return f"{count} {name}{plural} ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts_ms / 1000))


def message_json(message: Message, profile: Profile | None = None) -> str:
    """One line of JSON: ``pnyx.views.MessageView`` (id, author, seq, ts, kind, text, name, then
    the kind's fields)."""
    from pnyx.views import MessageView

    return json.dumps(MessageView.of(message, profile).to_json(), ensure_ascii=False)


def who(author: bytes, profile: Profile | None = None) -> str:
    """The name an author is shown by: the profile's name, else the short key."""
    return profile.name if profile is not None and profile.name else short_key(author)


def message_text(
    message: Message,
    profile: Profile | None = None,
    *,
    indent: str = "",
    parent_who: str | None = None,
) -> str:
    """A readable block: header line (who, when, short id) and the content below it.

    ``parent_who``: for a reply, the name of the author replied to (shown instead of the id)."""
    header = (
        f"{indent}{who(message.author, profile)} · {when(message.ts)} · {message.id.hex()[:12]}"
    )
    return f"{header}\n{indent}  {describe(message, parent_who=parent_who, indent=indent)}"


class _Style:
    """How the CLI shows what a kind's ``describe`` hands it (``pnyx.core.kinds.Style``)."""

    __slots__ = ("indent", "parent_who")

    def __init__(self, parent_who: str | None, indent: str) -> None:
        self.parent_who = parent_who
        self.indent = indent

    def key(self, key: bytes) -> str:
        return short_key(key)

    def ref(self, message_id: bytes) -> str:
        return message_id.hex()[:12]

    def text(self, text: str) -> str:
        return text.replace("\n", f"\n{self.indent}  ")

    def inline(self, text: str) -> str:
        return text


def describe(message: Message, *, parent_who: str | None = None, indent: str = "") -> str:
    """The content of a message in words (its kind's ``describe``)."""
    spec = kinds.spec_of(message.kind)
    if spec is None:
        return unknown.describe(message.kind)
    return spec.describe(message.body, _Style(parent_who, indent))
