"""How messages look on a terminal and in ``--json`` output (one JSON object per line)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from pnyx.core import kinds

if TYPE_CHECKING:
    from pnyx.core.envelope import Message
    from pnyx.store import Profile


def short_key(key: bytes) -> str:
    """A short, still recognisable form of a public key: ``pnyx1abcdefgh…``."""
    from pnyx.crypto.keytext import encode_public_key

    return encode_public_key(key)[:13] + "…"


def when(ts_ms: int) -> str:
    """Local time, minute precision: ``2026-11-23 22:50``."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts_ms / 1000))


def message_json(message: Message, profile: Profile | None = None, *, forked: bool = False) -> str:
    """One line of JSON with at least id, author, seq, ts, kind, text and ``forked`` (the
    author signed two conflicting histories: this store holds fork evidence)."""
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


def message_text(
    message: Message, profile: Profile | None = None, *, indent: str = "", forked: bool = False
) -> str:
    """A readable block: header line (who, when, short id; ``FORKED`` if the author is) and the
    content below it."""
    who = profile.name if profile is not None and profile.name else short_key(message.author)
    header = f"{indent}{who} · {when(message.ts)} · {message.id.hex()[:12]}"
    if forked:
        header += " · FORKED"
    return f"{header}\n{indent}  {describe(message)}"


def describe(message: Message) -> str:
    """The content of a message in words."""
    body = message.body
    if message.kind == kinds.POST:
        text = message.text or ""
        prefix = f"↳ reply to {body['parent'].hex()[:12]}: " if "parent" in body else ""
        return prefix + text.replace("\n", "\n  ")
    if message.kind in (kinds.FOLLOW, kinds.UNFOLLOW):
        return f"{message.kind}s {short_key(body['key'])}"
    if message.kind == kinds.REPOST:
        return f"reposts {body['id'].hex()[:12]}"
    if message.kind == kinds.REACTION:
        return f"reacts {body['reaction']} to {body['id'].hex()[:12]}"
    if message.kind == kinds.PROFILE:
        parts = [f"{k}: {body[k]}" for k in ("name", "bio") if k in body]
        return "profile " + "; ".join(parts)
    if message.kind == kinds.DELETE:
        return f"deletes {body['id'].hex()[:12]}"
    return f"({message.kind}: a kind this version does not show)"
