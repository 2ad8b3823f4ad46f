"""bech32m against BIP-350's published vectors, plus round-trip and typo properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pnyx.crypto import bech32

# BIP-350, "Test vectors for Bech32m": valid strings.
VALID = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]

# BIP-350 invalid strings, each with the rule BIP-350 says it breaks.
INVALID = [
    ("\x201xj0phk", bech32.PRINTABLE),  # HRP character out of range
    ("\x7f1g6xzxy", bech32.PRINTABLE),  # HRP character out of range
    ("\x801vctc34", bech32.PRINTABLE),  # HRP character out of range
    (  # overall max length exceeded
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
        bech32.TOO_LONG,
    ),
    ("qyrz8wqd2c9m", bech32.NO_SEPARATOR),  # no separator character
    ("1qyrz8wqd2c9m", bech32.EMPTY_HRP),  # empty HRP
    ("y1b0jsk6g", bech32.CHARACTER),  # invalid data character
    ("lt1igcx5c0", bech32.CHARACTER),  # invalid data character
    ("in1muywd", bech32.TOO_SHORT),  # too short checksum
    ("mm1crxm3i", bech32.CHARACTER),  # invalid character in checksum
    ("au1s5cgom", bech32.CHARACTER),  # invalid character in checksum
    ("M1VUXWEZ", bech32.CHECKSUM),  # checksum calculated with uppercase form of HRP
    ("16plkw9", bech32.EMPTY_HRP),  # empty HRP
    ("1p2gdwpf", bech32.EMPTY_HRP),  # empty HRP
]


@pytest.mark.parametrize("text", VALID)
def test_bip350_valid_vectors_decode_and_reencode(text: str) -> None:
    hrp, groups = bech32.decode_groups(text)
    assert hrp == text.lower().rpartition("1")[0]
    assert bech32.encode_groups(hrp, groups) == text.lower()


def test_bip350_abcdef_vector_data() -> None:
    assert bech32.decode_groups("abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx") == (
        "abcdef",
        list(range(31, -1, -1)),
    )


@pytest.mark.parametrize(("text", "problem"), INVALID)
def test_bip350_invalid_vectors_rejected(text: str, problem: str) -> None:
    with pytest.raises(bech32.Bech32Error) as info:
        bech32.decode_groups(text)
    assert info.value.problem == problem


def test_bech32_checksum_is_not_bech32m() -> None:
    # BIP-173 (plain bech32) vector: a valid bech32 string must fail the bech32m checksum.
    with pytest.raises(bech32.Bech32Error) as info:
        bech32.decode_groups("A12UEL5L")
    assert info.value.problem == bech32.CHECKSUM


def test_mixed_case_rejected() -> None:
    with pytest.raises(bech32.Bech32Error) as info:
        bech32.decode_groups("a1LQFN3A")
    assert info.value.problem == bech32.MIXED_CASE


def test_encode_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="hrp"):
        bech32.encode_groups("", [1])
    with pytest.raises(ValueError, match="5-bit"):
        bech32.encode_groups("a", [32])
    with pytest.raises(ValueError, match="limit 90"):
        bech32.encode("a", bytes(60))


def test_nonzero_padding_rejected() -> None:
    # One byte needs two groups (10 bits, 2 of padding); set a padding bit.
    with pytest.raises(bech32.Bech32Error) as info:
        bech32.from_groups([0, 1])
    assert info.value.problem == bech32.PADDING
    # Five bits or more of leftover padding means a group too many.
    with pytest.raises(bech32.Bech32Error):
        bech32.from_groups([0, 0, 0])


@settings(max_examples=max(200, settings().max_examples))
@given(
    hrp=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=10).map(
        str.lower
    ),
    data=st.binary(max_size=40),
)
def test_round_trip(hrp: str, data: bytes) -> None:
    text = bech32.encode(hrp, data)
    assert text == text.lower()
    assert bech32.decode(text) == (hrp, data)
    assert bech32.decode(text.upper()) == (hrp, data)


@settings(max_examples=max(200, settings().max_examples))
@given(
    data=st.binary(min_size=32, max_size=32), position=st.integers(0, 57), delta=st.integers(1, 31)
)
def test_any_single_substitution_is_caught(data: bytes, position: int, delta: int) -> None:
    text = bech32.encode("pnyx", data)
    index = len("pnyx1") + position
    replaced = bech32.CHARSET[(bech32.CHARSET.index(text[index]) + delta) % 32]
    typo = text[:index] + replaced + text[index + 1 :]
    with pytest.raises(bech32.Bech32Error) as info:
        bech32.decode(typo)
    assert info.value.problem == bech32.CHECKSUM
