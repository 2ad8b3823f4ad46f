"""Public keys and ids as text: pnyx1... round-trips and every parse error, word for word."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pnyx.crypto import bech32
from pnyx.crypto.keytext import encode_id, encode_public_key, parse_public_key, short_id
from pnyx.errors import BadKeyTextError, UserError

KEY = bytes(range(32))
KEY_TEXT = "pnyx1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sc6kg5j"


def test_known_encoding() -> None:
    assert encode_public_key(KEY) == KEY_TEXT
    assert len(KEY_TEXT) == 63


def test_encode_rejects_wrong_length() -> None:
    with pytest.raises(ValueError, match="a key is 32 bytes, this is 31"):
        encode_public_key(bytes(31))


@settings(max_examples=max(200, settings().max_examples))
@given(st.binary(min_size=32, max_size=32))
def test_round_trip(key: bytes) -> None:
    text = encode_public_key(key)
    assert text.startswith("pnyx1")
    assert parse_public_key(text) == key
    assert parse_public_key(f"  {text.upper()}\n") == key
    assert parse_public_key(key.hex()) == key
    assert parse_public_key(key.hex().upper()) == key


def test_whitespace_trimmed_including_unicode_white_space() -> None:
    assert parse_public_key(f"\t{KEY_TEXT} \r\n") == KEY
    assert parse_public_key(f"\u00a0{KEY_TEXT}\u3000") == KEY
    assert parse_public_key(f"\u2028{KEY.hex()}\u00a0") == KEY


def test_whitespace_is_trimmed_before_the_length_limit() -> None:
    # 63 characters of key text inside 40 spaces: over 90 characters untrimmed, fine trimmed.
    assert parse_public_key(" " * 20 + KEY_TEXT + " " * 20) == KEY


def test_zero_width_space_is_not_trimmed() -> None:
    # U+200B has no White_Space property: it stays part of the prefix, which is then not 'pnyx'.
    with pytest.raises(BadKeyTextError, match=r"not hex or pnyx1\.\.\. text"):
        parse_public_key("\u200b" + KEY_TEXT)


def test_mixed_case_refused_as_bip173_says() -> None:
    mixed = KEY_TEXT[:20].upper() + KEY_TEXT[20:]
    with pytest.raises(BadKeyTextError, match="mixes upper- and lowercase"):
        parse_public_key(mixed)
    assert parse_public_key(KEY_TEXT.upper()) == KEY
    # Hex has no case to mix up: any mixture is the same digits.
    assert parse_public_key(KEY.hex()[:10].upper() + KEY.hex()[10:]) == KEY


def test_positions_count_from_one_in_the_trimmed_text() -> None:
    bad = KEY_TEXT[:9] + "b" + KEY_TEXT[10:]
    with pytest.raises(BadKeyTextError, match=r"character 'b' \(position 10\)"):
        parse_public_key("   " + bad)


def test_all_hex_text_is_the_hex_form_whatever_its_length() -> None:
    with pytest.raises(BadKeyTextError, match="a key is 64 hex digits, this is 63"):
        parse_public_key(KEY.hex()[:-1])
    with pytest.raises(BadKeyTextError, match="a key is 32 bytes, this is 31"):
        parse_public_key(KEY.hex()[:-2])


def test_bad_key_text_is_a_user_error() -> None:
    assert issubclass(BadKeyTextError, UserError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (KEY_TEXT[:-1] + "q", "checksum does not match: a character is mistyped"),
        (KEY_TEXT[:30] + "q" + KEY_TEXT[31:], "checksum does not match: a character is mistyped"),
        ("npub1" + KEY_TEXT[5:], "wrong prefix 'npub', expected 'pnyx'"),
        ("pnyy1" + KEY_TEXT[5:], "wrong prefix 'pnyy', expected 'pnyx'"),
        (KEY.hex() + "00", "a key is 32 bytes, this is 33"),
        (KEY.hex()[:-2], "a key is 32 bytes, this is 31"),
        (bech32.encode("pnyx", bytes(31)), "a key is 32 bytes, this is 31"),
        (bech32.encode("pnyx", bytes(33)), "a key is 32 bytes, this is 33"),
        ("pnyx1" + "q" * 100, "a key is 32 bytes, this is 58"),
        ("pnyx1", "too short to be a key: pnyx1... text is 63 characters"),
        ("pnyx1zzz", "too short to be a key: pnyx1... text is 63 characters"),
        ("hello", "not hex or pnyx1... text"),
        ("", "not hex or pnyx1... text"),
        ("   ", "not hex or pnyx1... text"),
        ("0x" + KEY.hex(), "not hex or pnyx1... text"),
        ("abc", "a key is 64 hex digits, this is 3"),
        (
            "pnyx1b" + KEY_TEXT[6:],
            "character 'b' (position 6) cannot appear in pnyx1... text",
        ),
        (
            KEY_TEXT[:10] + "o" + KEY_TEXT[11:],
            "character 'o' (position 11) cannot appear in pnyx1... text",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(BadKeyTextError) as info:
        parse_public_key(text)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_nonzero_padding_rejected() -> None:
    groups = bech32.to_groups(KEY)
    groups[-1] |= 1  # the last group holds 4 padding bits
    with pytest.raises(BadKeyTextError, match="padding bits are not zero"):
        parse_public_key(bech32.encode_groups("pnyx", groups))


@settings(max_examples=max(100, settings().max_examples))
@given(st.text(max_size=80))
def test_arbitrary_text_parses_or_raises_bad_key_text(text: str) -> None:
    try:
        key = parse_public_key(text)
    except BadKeyTextError as exc:
        assert str(exc)
    else:
        assert len(key) == 32


def test_ids() -> None:
    message_id = bytes(range(0xA0, 0xC0))
    assert encode_id(message_id) == message_id.hex()
    assert encode_id(message_id) == encode_id(message_id).lower()
    assert short_id(message_id) == "a0a1a2a3a4a5"
