"""How messages look on a terminal and in ``--json`` output (one JSON object per line)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from pnyx.core import display, kinds

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
) -> str:
    """One line of JSON with at least id, author, seq, ts, kind, text and ``forked`` (the
    author signed two conflicting histories: this store holds fork evidence). Exact data: the
    caller's print escapes unsafe characters as JSON ``\\u`` escapes. ``lookalike`` when
    ``names`` finds the author's name looks like that of someone else the user knows."""
    from pnyx.crypto.keytext import encode_public_key

    body = message.body
    record: dict[str, Any] = {
        "id": message.id.hex(),
        "author": encode_public_key(message.author),
        "seq": message.seq,
        "ts": message.ts,
        "kind": message.kind,
        "text": message.text,
        "forked": forked,
    }
    if profile is not None and profile.name:
        record["name"] = profile.name
        other = names.lookalike(message.author, profile.name) if names is not None else None
        if other is not None:
            record["lookalike"] = {"key": encode_public_key(other.key), "name": other.name}
    for field, name in _ID_FIELDS.items():
        value = body.get(field)
        if isinstance(value, bytes):
            record[name] = value.hex()
    for field, name in _KEY_FIELDS.items():
        value = body.get(field)
        if isinstance(value, bytes):
            record[name] = encode_public_key(value)
    for field, name in _TEXT_FIELDS.items():
        value = body.get(field)
        if isinstance(value, str):
            record[name] = value
    return json.dumps(record, ensure_ascii=False)


#: Body fields shown in ``--json`` output, by the JSON key they get: message ids (hex)...
_ID_FIELDS = {"root": "root", "parent": "parent", "id": "target"}
#: ...public keys (pnyx1 text)...
_KEY_FIELDS = {"author": "target_author", "key": "key"}
#: ...and text.
_TEXT_FIELDS = {"name": "profile_name", "bio": "profile_bio", "reaction": "reaction"}


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
) -> str:
    """A readable block: header line (who, when, short id; ``FORKED`` if the author is) and the
    content below it.

    ``parent_who``: for a reply, the label of the author replied to (shown beside the id). Every
    line of the content starts with ``indent`` and ``CONTENT_BAR``."""
    header = (
        f"{indent}{who(message.author, profile, names)} · {when(message.ts)} · "
        f"{message.id.hex()[:12]}"
    )
    if forked:
        header += " · FORKED"
    lead = indent + CONTENT_BAR
    return f"{header}\n{lead}{describe(message, parent_who=parent_who, lead=lead)}"


def describe(message: Message, *, parent_who: str | None = None, lead: str = "  ") -> str:
    """The content of a message in words; the lines of a post after the first start with
    ``lead``. Text from others is escaped (``pnyx.core.display``)."""
    body = message.body
    if message.kind == kinds.POST:
        text = message.text or ""
        prefix = ""
        if "parent" in body:
            parent = body["parent"].hex()[:12]
            prefix = (
                f"↳ reply to {parent_who} ({parent}): " if parent_who else f"↳ reply to {parent}: "
            )
        return prefix + display.block(text, lead)
    if message.kind in (kinds.FOLLOW, kinds.UNFOLLOW):
        return f"{message.kind}s {short_key(body['key'])}"
    if message.kind == kinds.REPOST:
        return f"↻ reposted {short_key(body['author'])}'s post {body['id'].hex()[:12]}"
    if message.kind == kinds.REACTION:
        if body["reaction"] == "+":  # pnyx like
            return f"likes {short_key(body['author'])}'s post {body['id'].hex()[:12]}"
        return f"reacts {display.line(body['reaction'])} to {body['id'].hex()[:12]}"
    if message.kind == kinds.PROFILE:
        parts = [f"{k}: {display.line(body[k])}" for k in ("name", "bio") if k in body]
        return "profile " + "; ".join(parts)
    if message.kind == kinds.DELETE:
        return f"deletes {body['id'].hex()[:12]}"
    return f"({message.kind}: a kind this version does not show)"
