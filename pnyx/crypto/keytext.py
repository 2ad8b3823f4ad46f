"""Public keys and message ids as text.

A public key is written ``pnyx1...``: bech32m (BIP-350) with the human-readable part ``pnyx`` over
the 32 key bytes, 63 characters, lowercase. The checksum catches any single mistyped character.
``parse_public_key`` also accepts the 64-character hex form. Message ids are lowercase hex.
The reading rules (trimming, case, which form a text is read as) are normative:
docs/protocol.md, "The pnyx1... text form".
"""

from __future__ import annotations

import functools
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
#: Characters trimmed from both ends of key text: the Unicode ``White_Space`` property
#: (PropList.txt), 25 code points; a key copied from a web page may carry U+00A0 or U+3000.
WHITE_SPACE: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: Digits in the hex form of a key.
KEY_HEX_DIGITS: Final = 2 * KEY_BYTES
_NOT_A_KEY: Final = "not hex or pnyx1... text"


#: Key texts remembered (a page shows the same authors' keys again and again), a count of keys.
KEY_TEXT_CACHE_KEYS: Final = 16_384


def encode_public_key(key: bytes) -> str:
    """The ``pnyx1...`` text of a 32-byte public key. Raises ``ValueError`` for other lengths."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a key is {KEY_BYTES} bytes, this is {len(key)}")
    return _encode(bytes(key))


@functools.lru_cache(maxsize=KEY_TEXT_CACHE_KEYS)
def _encode(key: bytes) -> str:
    return bech32.encode(KEY_HRP, key)


def parse_public_key(text: str) -> bytes:
    """The 32 key bytes written in ``text`` (``pnyx1...`` or 64 hex characters).

    Surrounding ``WHITE_SPACE`` is trimmed first; every later rule (length, positions) applies to
    the trimmed text. A text of hex digits only is the hex form, in any case, and must have
    exactly 64 of them (no all-hex text can be ``pnyx1...`` text: ``p``, ``n``, ``y`` and ``x``
    are not hex digits). Any other text is bech32m, split at its last ``1``, all lowercase or all
    uppercase (mixed case is refused, as BIP-173 says). Raises ``BadKeyTextError`` with a one-line
    message naming what is wrong: a mistyped character (checksum, position counted from 1 in the
    trimmed text), a wrong prefix (for example a nostr ``npub``), a wrong length, mixed case, or
    text that is neither form.
    """
    cleaned = text.strip(WHITE_SPACE)
    if cleaned and all(c in _HEX_DIGITS for c in cleaned):
        if len(cleaned) % 2:
            raise BadKeyTextError(f"a key is {KEY_HEX_DIGITS} hex digits, this is {len(cleaned)}")
        return _exact_length(bytes.fromhex(cleaned))
    hrp, separator, data = cleaned.rpartition("1")
    if not separator or not hrp:
        raise BadKeyTextError(_NOT_A_KEY)
    if hrp.lower() != KEY_HRP:
        if not all(33 <= ord(c) <= 126 for c in hrp) or len(hrp) > 16:
            raise BadKeyTextError(_NOT_A_KEY)
        raise BadKeyTextError(f"wrong prefix {hrp.lower()!r}, expected {KEY_HRP!r}")
    try:
        groups = bech32.decode_groups(cleaned)[1]
    except bech32.Bech32Error as exc:
        raise BadKeyTextError(_bech32_message(exc, data.lower())) from None
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
    if exc.problem == bech32.MIXED_CASE:
        return "mixes upper- and lowercase letters: pnyx1... text is all one case"
    if exc.problem == bech32.TOO_SHORT:
        return "too short to be a key: pnyx1... text is 63 characters"
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
