"""``profile``: sets the author's ``name``, ``bio`` or both; each field is merged on its own.

Derived table ``profiles`` (migration 1): per author, each field with the seq that last set it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.fields import text_field
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.limits import MAX_BIO_BYTES, MAX_NAME_BYTES
from pnyx.core.reasons import InvalidMessage, Reason

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

PROFILE: Final = "profile"

UPSERT_PROFILE: Final = """
INSERT INTO profiles (author, name, name_seq, bio, bio_seq, seq) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (author) DO UPDATE SET
    name = CASE WHEN excluded.name_seq > profiles.name_seq
                THEN excluded.name ELSE profiles.name END,
    name_seq = max(excluded.name_seq, profiles.name_seq),
    bio = CASE WHEN excluded.bio_seq > profiles.bio_seq
               THEN excluded.bio ELSE profiles.bio END,
    bio_seq = max(excluded.bio_seq, profiles.bio_seq),
    seq = max(excluded.seq, profiles.seq)
"""


def check(body: Body) -> None:
    """The whole profile schema (one function: new rules on names go here)."""
    if "name" not in body and "bio" not in body:
        raise InvalidMessage(Reason.WRONG_BODY, "a profile sets 'name', 'bio' or both")
    text_field(body, "name", MAX_NAME_BYTES, required=False, allow_empty=True)
    text_field(body, "bio", MAX_BIO_BYTES, required=False, allow_empty=True)


def profiles_row(message: Message, aid: int) -> tuple[object, ...]:
    body = message.body
    seq = message.seq
    has_name, has_bio = "name" in body, "bio" in body
    return (
        message.author,
        body["name"] if has_name else None,
        seq if has_name else 0,
        body["bio"] if has_bio else None,
        seq if has_bio else 0,
        seq,
    )


PROFILES: Final = Derived("profiles", UPSERT_PROFILE, profiles_row)


def describe(body: Body, style: Style) -> str:
    parts = [f"{k}: {style.inline(body[k])}" for k in ("name", "bio") if k in body]
    return "profile " + "; ".join(parts)


def json_fields(body: Body) -> dict[str, object]:
    fields: dict[str, object] = {}
    if "name" in body:
        fields["profile_name"] = body["name"]
    if "bio" in body:
        fields["profile_bio"] = body["bio"]
    return fields


SPECS: Final = (KindSpec(PROFILE, check, describe, json_fields, derived=(PROFILES,)),)
