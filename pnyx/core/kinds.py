"""Message kinds and the schema of each kind's body.

Known kinds are checked field by field; fields a kind does not define are allowed and ignored (a
newer version may add them). A kind this version does not know is valid if its name is well-formed:
it is stored and passed on, never rejected for being unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from pnyx.core.limits import (
    ID_BYTES,
    KEY_BYTES,
    MAX_BIO_BYTES,
    MAX_KIND_BYTES,
    MAX_NAME_BYTES,
    MAX_REACTION_BYTES,
    MAX_TEXT_BYTES,
)
from pnyx.core.reasons import InvalidMessage, Reason

POST: Final = "post"
REPOST: Final = "repost"
REACTION: Final = "reaction"
FOLLOW: Final = "follow"
UNFOLLOW: Final = "unfollow"
PROFILE: Final = "profile"
DELETE: Final = "delete"

_KIND_NAME = re.compile(rf"[a-z0-9_-]{{1,{MAX_KIND_BYTES}}}")

Body = Mapping[str, Any]


def check_kind_name(kind: object) -> str:
    """Return ``kind`` if it is a well-formed kind name, else raise ``InvalidMessage(BAD_KIND)``."""
    if not isinstance(kind, str) or not _KIND_NAME.fullmatch(kind):
        raise InvalidMessage(Reason.BAD_KIND, "kind must match [a-z0-9_-]{1,32}")
    return kind


def _bytes_field(body: Body, name: str, length: int, *, required: bool = True) -> None:
    if name not in body:
        if required:
            raise InvalidMessage(Reason.WRONG_BODY, f"missing field {name!r}")
        return
    value = body[name]
    if not isinstance(value, bytes) or len(value) != length:
        raise InvalidMessage(Reason.WRONG_BODY, f"field {name!r} must be {length} bytes")


def _text_field(
    body: Body, name: str, limit: int, *, required: bool = True, allow_empty: bool = False
) -> None:
    if name not in body:
        if required:
            raise InvalidMessage(Reason.WRONG_BODY, f"missing field {name!r}")
        return
    value = body[name]
    if not isinstance(value, str):
        raise InvalidMessage(Reason.WRONG_BODY, f"field {name!r} must be text")
    size = len(value.encode())
    if size > limit:
        raise InvalidMessage(Reason.OVERSIZED, f"field {name!r} is {size} bytes, limit {limit}")
    if size == 0 and not allow_empty:
        raise InvalidMessage(Reason.WRONG_BODY, f"field {name!r} is empty")


def _check_post(body: Body) -> None:
    _text_field(body, "text", MAX_TEXT_BYTES)
    has_root, has_parent = "root" in body, "parent" in body
    if has_root != has_parent:
        raise InvalidMessage(Reason.WRONG_BODY, "a reply carries both 'root' and 'parent'")
    _bytes_field(body, "root", ID_BYTES, required=False)
    _bytes_field(body, "parent", ID_BYTES, required=False)


def _check_reference(body: Body) -> None:
    _bytes_field(body, "id", ID_BYTES)
    _bytes_field(body, "author", KEY_BYTES)


def _check_reaction(body: Body) -> None:
    _check_reference(body)
    _text_field(body, "reaction", MAX_REACTION_BYTES)


def _check_edge(body: Body) -> None:
    _bytes_field(body, "key", KEY_BYTES)


def _check_profile(body: Body) -> None:
    if "name" not in body and "bio" not in body:
        raise InvalidMessage(Reason.WRONG_BODY, "a profile sets 'name', 'bio' or both")
    _text_field(body, "name", MAX_NAME_BYTES, required=False, allow_empty=True)
    _text_field(body, "bio", MAX_BIO_BYTES, required=False, allow_empty=True)


def _check_delete(body: Body) -> None:
    _bytes_field(body, "id", ID_BYTES)


_SCHEMAS: Final[dict[str, Callable[[Body], None]]] = {
    POST: _check_post,
    REPOST: _check_reference,
    REACTION: _check_reaction,
    FOLLOW: _check_edge,
    UNFOLLOW: _check_edge,
    PROFILE: _check_profile,
    DELETE: _check_delete,
}

#: The kinds this version understands; any other well-formed kind is "unknown" and passed on.
KNOWN_KINDS: Final = frozenset(_SCHEMAS)


def check_body(kind: str, body: object) -> Body:
    """Check ``body`` against ``kind``'s schema and return it.

    Raises ``InvalidMessage`` (WRONG_BODY or OVERSIZED). Unknown kinds only need a map body.
    """
    if not isinstance(body, dict):
        raise InvalidMessage(Reason.WRONG_BODY, "body must be a map")
    schema = _SCHEMAS.get(kind)
    if schema is not None:
        schema(body)
    return body
