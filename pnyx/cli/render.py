"""How messages look on a terminal and in ``--json`` output (one JSON object per line)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from pnyx.core import display, kinds
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


def message_json(
    message: Message,
    profile: Profile | None = None,
    names: display.Names | None = None,
    *,
    forked: bool = False,
    warnings: tuple[tuple[str, bytes], ...] = (),
) -> str:
    """One line of JSON: ``pnyx.views.MessageView`` (id, author, seq, ts, kind, text, ``forked``
    (the author signed two conflicting histories: this store holds fork evidence), name,
    ``lookalike`` when ``names`` finds the author's name looks like that of someone else the
    user knows, then the kind's fields). Exact data: the caller's print escapes unsafe
    characters as JSON ``\\u`` escapes."""
    from pnyx.views import MessageView

    name = profile.name if profile is not None and profile.name else None
    other = names.lookalike(message.author, name) if names is not None and name else None
    lookalike = (other.key, other.name) if other is not None else None
    view = MessageView.of(message, profile, forked=forked, lookalike=lookalike, warnings=warnings)
    return json.dumps(view.to_json(), ensure_ascii=False)


def who(author: bytes, profile: Profile | None = None, names: display.Names | None = None) -> str:
    """The label an author is shown by: ``name (fingerprint)``, marked ``[look-alike of ...]``
    by ``names``; the fingerprint alone for an author with no name."""
    name = profile.name if profile is not None else None
    return (names or _NO_NAMES).label(author, name)


_NO_NAMES = display.Names({})

#: What every content line of a message starts with, after the thread indent: a bar, so that no
#: line of a message's content (a post's text may hold newlines) can pass for the header of
#: another entry, at any depth of a thread (headers never start with it).
CONTENT_BAR = "│ "


def message_text(
    message: Message,
    profile: Profile | None = None,
    *,
    indent: str = "",
    parent_who: str | None = None,
    names: display.Names | None = None,
    forked: bool = False,
    warnings: tuple[str, ...] = (),
) -> str:
    """A readable block: header line (who, when, short id; ``FORKED`` if the author is; a
    ``[warn: VALUE by NAME]`` marker per text of ``warnings``) and the content below it.

    ``parent_who``: for a reply, the label of the author replied to (shown beside the id). Every
    line of the content starts with ``indent`` and ``CONTENT_BAR``."""
    header = (
        f"{indent}{who(message.author, profile, names)} · {when(message.ts)} · "
        f"{message.id.hex()[:12]}"
    )
    if forked:
        header += " · FORKED"
    for warning in warnings:
        header += f" · [warn: {warning}]"
    lead = indent + CONTENT_BAR
    return f"{header}\n{lead}{describe(message, parent_who=parent_who, lead=lead)}"


#: How a repost's line starts in the timeline, as on other microblogs.
REPOST_MARK = "↻"


def repost_text(
    repost: Message,
    profile: Profile | None,
    original: Message | None,
    original_profile: Profile | None,
    state: str,
    *,
    names: display.Names | None = None,
    forked: bool = False,
    original_forked: bool = False,
) -> str:
    """A repost in the timeline: ``↻ B reposted · when · id``, then the original post as its
    own block (header and text) when held; else one line saying why it is not shown
    (``state``: ``deleted`` or ``not-held``, docs/cli.md "Reposts in the timeline")."""
    header = (
        f"{REPOST_MARK} {who(repost.author, profile, names)} reposted · {when(repost.ts)} · "
        f"{repost.id.hex()[:12]}"
    )
    if forked:
        header += " · FORKED"
    if original is not None:
        block = message_text(original, original_profile, names=names, forked=original_forked)
        return f"{header}\n{block}"
    target: bytes = repost.body["id"]
    if state == "deleted":
        return f"{header}\n{CONTENT_BAR}a post its author deleted ({target.hex()[:12]})"
    return (
        f"{header}\n{CONTENT_BAR}a post not held here (id {target.hex()}); it arrives when "
        "this node syncs with someone who holds it"
    )


class _Style:
    """How the CLI shows what a kind's ``describe`` hands it (``pnyx.core.kinds.Style``): text
    from others is escaped (``pnyx.core.display``); a post's lines after the first start with
    ``lead``."""

    __slots__ = ("lead", "parent_who")

    def __init__(self, parent_who: str | None, lead: str) -> None:
        self.parent_who = parent_who
        self.lead = lead

    def key(self, key: bytes) -> str:
        return short_key(key)

    def ref(self, message_id: bytes) -> str:
        return message_id.hex()[:12]

    def text(self, text: str) -> str:
        return display.block(text, self.lead)

    def inline(self, text: str) -> str:
        return display.line(text)


def describe(message: Message, *, parent_who: str | None = None, lead: str = "  ") -> str:
    """The content of a message in words (its kind's ``describe``); the lines of a post after
    the first start with ``lead``."""
    spec = kinds.spec_of(message.kind)
    if spec is None:
        return unknown.describe(message.kind)
    return spec.describe(message.body, _Style(parent_who, lead))
