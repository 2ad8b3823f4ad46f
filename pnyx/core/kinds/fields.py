"""Field checks shared by the kind schemas: kind names, fixed-size byte fields, bounded text.

Each raises ``InvalidMessage`` (BAD_KIND, WRONG_BODY or OVERSIZED) naming the field; nothing else.
"""

from __future__ import annotations

import re
from typing import Any

from pnyx.core.limits import MAX_KIND_BYTES
from pnyx.core.reasons import InvalidMessage, Reason

_KIND_NAME = re.compile(rf"[a-z0-9_-]{{1,{MAX_KIND_BYTES}}}")


def check_kind_name(kind: object) -> str:
    """Return ``kind`` if it is a well-formed kind name, else raise ``InvalidMessage(BAD_KIND)``."""
    if not isinstance(kind, str) or not _KIND_NAME.fullmatch(kind):
        raise InvalidMessage(Reason.BAD_KIND, "kind must match [a-z0-9_-]{1,32}")
    return kind


def bytes_field(body: Any, name: str, length: int, *, required: bool = True) -> None:
    """``body[name]`` is ``length`` bytes (or absent, when not ``required``)."""
    if name not in body:
        if required:
            raise InvalidMessage(Reason.WRONG_BODY, f"missing field {name!r}")
        return
    value = body[name]
    if not isinstance(value, bytes) or len(value) != length:
        raise InvalidMessage(Reason.WRONG_BODY, f"field {name!r} must be {length} bytes")


def text_field(
    body: Any, name: str, limit: int, *, required: bool = True, allow_empty: bool = False
) -> None:
    """``body[name]`` is text of at most ``limit`` UTF-8 bytes (empty only if ``allow_empty``)."""
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


def key_text(key: bytes) -> str:
    """A public key as pnyx1 text, for ``json_fields``."""
    from pnyx.crypto.keytext import encode_public_key

    return encode_public_key(key)
