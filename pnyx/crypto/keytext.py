"""Public keys and message ids as text.

A public key is written ``pnyx1...``: bech32m (BIP-350) with the human-readable part ``pnyx`` over
the 32 key bytes, 63 characters, lowercase. The checksum catches any single mistyped character.
``parse_public_key`` also accepts the 64-character hex form. Message ids are lowercase hex.
"""

from __future__ import annotations

import string
from typing import Final

from pnyx.core.limits import KEY_BYTES
from pnyx.crypto import bech32
from pnyx.errors import BadKeyTextError

#: Human-readable part of a public key in text form.
KEY_HRP: Final = "pnyx"
#: Length of a short id, in hex characters (48 bits: collisions only matter among one user's view).
SHORT_ID_CHARS: Final = 12

_HEX_DIGITS: Final = frozenset(string.hexdigits)
_NOT_A_KEY: Final = "not hex or pnyx1... text"


def encode_public_key(key: bytes) -> str:
    """The ``pnyx1...`` text of a 32-byte public key. Raises ``ValueError`` for other lengths."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a key is {KEY_BYTES} bytes, this is {len(key)}")
    return bech32.encode(KEY_HRP, bytes(key))


def parse_public_key(text: str) -> bytes:
    """The 32 key bytes written in ``text`` (``pnyx1...`` or 64 hex characters).

    Case-insensitive; surrounding whitespace is ignored. Raises ``BadKeyTextError`` with a one-line
    message naming what is wrong: a mistyped character (checksum), a wrong prefix (for example a
    nostr ``npub``), a wrong length, or text that is neither form.
    """
    cleaned = text.strip().lower()
    if cleaned and all(c in _HEX_DIGITS for c in cleaned):
        if len(cleaned) % 2:
            raise BadKeyTextError(f"{_NOT_A_KEY}: odd number of hex digits")
        return _exact_length(bytes.fromhex(cleaned))
    hrp, separator, data = cleaned.rpartition("1")
    if not separator or not hrp:
        raise BadKeyTextError(_NOT_A_KEY)
    if hrp != KEY_HRP:
        if not all(33 <= ord(c) <= 126 for c in hrp) or len(hrp) > 16:
            raise BadKeyTextError(_NOT_A_KEY)
        raise BadKeyTextError(f"wrong prefix {hrp!r}, expected {KEY_HRP!r}")
    try:
        groups = bech32.decode_groups(cleaned)[1]
    except bech32.Bech32Error as exc:
        raise BadKeyTextError(_bech32_message(exc, data)) from None
    size = len(groups) * 5 // 8
    if size != KEY_BYTES:
        raise BadKeyTextError(f"a key is {KEY_BYTES} bytes, this is {size}")
    try:
        return bech32.from_groups(groups)
    except bech32.Bech32Error:
        raise BadKeyTextError("padding bits are not zero: not a pnyx1... key") from None


def _exact_length(key: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise BadKeyTextError(f"a key is {KEY_BYTES} bytes, this is {len(key)}")
    return key


def _bech32_message(exc: bech32.Bech32Error, data: str) -> str:
    if exc.problem == bech32.CHECKSUM:
        return "checksum does not match: a character is mistyped"
    if exc.problem in (bech32.CHARACTER, bech32.PRINTABLE):
        bad = next(c for c in data if c not in bech32.CHARSET)
        position = len(KEY_HRP) + 1 + data.index(bad) + 1
        return f"character {bad!r} (position {position}) cannot appear in pnyx1... text"
    if exc.problem == bech32.TOO_SHORT:
        return f"a key is {KEY_BYTES} bytes, this is 0"
    if exc.problem == bech32.TOO_LONG:
        size = (len(data) - bech32.CHECKSUM_LENGTH) * 5 // 8
        return f"a key is {KEY_BYTES} bytes, this is {size}"
    return f"{_NOT_A_KEY}: {exc}"


def encode_id(message_id: bytes) -> str:
    """A message id as lowercase hex (64 characters for a 32-byte id)."""
    return message_id.hex()


def short_id(message_id: bytes) -> str:
    """The first ``SHORT_ID_CHARS`` hex characters of a message id, for display."""
    return message_id.hex()[:SHORT_ID_CHARS]
