"""Bech32m (BIP-350) encoding and decoding, written out.

A bech32m string is ``hrp || "1" || data || checksum``: ``hrp`` is 1..83 printable ASCII characters
(33..126), ``data`` is 5-bit groups written in the 32-letter alphabet ``CHARSET``, and ``checksum``
is 6 more groups computed with the BCH code of BIP-173 and the BIP-350 constant ``0x2bc830a3``.
Strings are at most ``MAX_LENGTH`` characters and either all lowercase or all uppercase.

``decode`` raises ``Bech32Error`` (a ``ValueError``) whose ``problem`` attribute names the rule
broken, so callers can word their own messages. Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

#: The 32 data characters, indexed by their 5-bit value.
CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
#: The BIP-350 checksum constant (bech32m).
BECH32M_CONST: Final = 0x2BC830A3
#: Longest string allowed by BIP-173/BIP-350, in characters.
MAX_LENGTH: Final = 90
#: Length of the checksum, in characters (5-bit groups).
CHECKSUM_LENGTH: Final = 6

_GENERATOR: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_VALUES: Final = {char: index for index, char in enumerate(CHARSET)}

# Values of Bech32Error.problem:
PRINTABLE: Final = "printable"  # a character outside ASCII 33..126
TOO_LONG: Final = "too-long"  # more than MAX_LENGTH characters
MIXED_CASE: Final = "mixed-case"  # both upper- and lowercase letters
NO_SEPARATOR: Final = "no-separator"  # no "1" in the string
EMPTY_HRP: Final = "empty-hrp"  # nothing before the last "1"
TOO_SHORT: Final = "too-short"  # fewer than CHECKSUM_LENGTH characters after the last "1"
CHARACTER: Final = "character"  # a data character outside CHARSET
CHECKSUM: Final = "checksum"  # the checksum does not verify
PADDING: Final = "padding"  # 5-to-8-bit conversion left non-zero or over-long padding


class Bech32Error(ValueError):
    """A string is not valid bech32m. ``problem`` is one of the module's problem constants."""

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem


def _polymod(values: Iterable[int]) -> int:
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                check ^= generator
    return check


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _checksum(hrp: str, groups: Sequence[int]) -> list[int]:
    polymod = _polymod([*_hrp_expand(hrp), *groups, 0, 0, 0, 0, 0, 0]) ^ BECH32M_CONST
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(CHECKSUM_LENGTH)]


def encode_groups(hrp: str, groups: Sequence[int], *, max_length: int = MAX_LENGTH) -> str:
    """Encode 5-bit ``groups`` under ``hrp`` (lowercased). Raises ``ValueError`` on bad input.
    ``max_length`` lifts BIP-173's 90-character limit for formats that say so (invites)."""
    hrp = hrp.lower()
    if not hrp or any(not 33 <= ord(c) <= 126 for c in hrp):
        raise ValueError("hrp must be 1 or more printable ASCII characters")
    if any(not 0 <= g < 32 for g in groups):
        raise ValueError("groups must be 5-bit values")
    text = hrp + "1" + "".join(CHARSET[g] for g in [*groups, *_checksum(hrp, groups)])
    if len(text) > max_length:
        raise ValueError(f"bech32m string would be {len(text)} characters, limit {max_length}")
    return text


def decode_groups(text: str, *, max_length: int = MAX_LENGTH) -> tuple[str, list[int]]:
    """Decode ``text`` into (lowercase hrp, 5-bit data groups without the checksum).
    ``max_length`` replaces ``MAX_LENGTH`` for formats that allow longer strings (invites).

    Applies every BIP-350 rule in this order: printable, length, case, separator, empty hrp,
    checksum length, data characters, checksum. Raises ``Bech32Error``.
    """
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise Bech32Error(PRINTABLE, "a character is outside printable ASCII")
    if len(text) > max_length:
        raise Bech32Error(TOO_LONG, f"{len(text)} characters, limit {max_length}")
    if text.lower() != text and text.upper() != text:
        raise Bech32Error(MIXED_CASE, "mixes upper- and lowercase")
    text = text.lower()
    hrp, separator, data = text.rpartition("1")
    if not separator:
        raise Bech32Error(NO_SEPARATOR, "no '1' separator")
    if not hrp:
        raise Bech32Error(EMPTY_HRP, "nothing before the '1' separator")
    if len(data) < CHECKSUM_LENGTH:
        raise Bech32Error(TOO_SHORT, "shorter than its checksum")
    for char in data:
        if char not in _VALUES:
            raise Bech32Error(CHARACTER, f"character {char!r} is not in the bech32 alphabet")
    groups = [_VALUES[c] for c in data]
    if _polymod([*_hrp_expand(hrp), *groups]) != BECH32M_CONST:
        raise Bech32Error(CHECKSUM, "checksum does not match")
    return hrp, groups[:-CHECKSUM_LENGTH]


def to_groups(data: bytes) -> list[int]:
    """Split bytes into 5-bit groups, big-endian, zero-padding the last group."""
    acc, bits, out = 0, 0, []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def from_groups(groups: Sequence[int]) -> bytes:
    """Join 5-bit groups into bytes. Raises ``Bech32Error(PADDING)`` when the leftover bits are
    4 or more or not all zero (the groups were not made by ``to_groups``)."""
    acc, bits, out = 0, 0, bytearray()
    for group in groups:
        acc = ((acc << 5) | group) & 0xFFF
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc & ((1 << bits) - 1)):
        raise Bech32Error(PADDING, "padding bits are not zero")
    return bytes(out)


def encode(hrp: str, data: bytes) -> str:
    """Encode bytes as bech32m under ``hrp``."""
    return encode_groups(hrp, to_groups(data))


def decode(text: str) -> tuple[str, bytes]:
    """Decode a bech32m string into (lowercase hrp, bytes). Raises ``Bech32Error``."""
    hrp, groups = decode_groups(text)
    return hrp, from_groups(groups)
