"""Envelopes: sign, decode and validate, the order of the checks, and ``Message`` as a value.

The rejection reasons, one input each, are in ``test_core_envelope_reasons.py``.
"""

from __future__ import annotations

import pytest

from pnyx.core import canonical, envelope
from pnyx.core.envelope import Message, decode, message_id, sign, validate, verify
from pnyx.core.limits import (
    MAX_FUTURE_SKEW_MS,
    MAX_TEXT_BYTES,
    SIGNATURE_DOMAIN,
)
from pnyx.core.reasons import InvalidMessage, Reason
from tests.envelope_kit import (
    AUTHOR,
    KEY,
    NOW,
    OTHER,
    fields,
    forge,
    reason_of,
)

# --- happy path --------------------------------------------------------------------------------


def test_sign_then_validate() -> None:
    message = sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "hello"})
    assert validate(message.raw, NOW) == message
    assert message.author == AUTHOR
    assert message.text == "hello"
    assert message.id == message_id(message.payload)
    assert len(message.id) == 32
    assert message.raw == message.signature + message.payload
    assert len(message.signature) == 64
    assert canonical.unpack_exact(message.payload) == fields()


def test_payload_layout_is_exact() -> None:
    message = sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "hi"})
    expected = (
        b"\x97"  # fixarray of 7
        + b"\x01"  # version 1
        + b"\xc4\x20"
        + AUTHOR  # bin8 of 32
        + b"\x01"  # seq 1
        + b"\xc0"  # prev nil
        + b"\xcf"
        + NOW.to_bytes(8, "big")  # uint64 timestamp
        + b"\xa4post"  # fixstr kind
        + b"\x81\xa4text\xa2hi"  # fixmap {"text": "hi"}
    )
    assert message.payload == expected


def test_signature_covers_domain_prefix() -> None:
    message = sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "x"})
    KEY.verify_key.verify(SIGNATURE_DOMAIN + message.payload, message.signature)
    assert KEY.sign(message.payload).signature != message.signature


def test_second_message_names_previous() -> None:
    first = sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "one"})
    second = sign(KEY, seq=2, prev=first.id, ts=NOW + 1, kind="post", body={"text": "two"})
    assert validate(second.raw, NOW).prev == first.id


def test_text_property_absent_for_non_posts() -> None:
    message = sign(KEY, seq=1, prev=None, ts=NOW, kind="follow", body={"key": AUTHOR})
    assert message.text is None


def test_sign_refuses_what_others_would_reject() -> None:
    with pytest.raises(InvalidMessage) as info:
        sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "x" * (MAX_TEXT_BYTES + 1)})
    assert info.value.reason is Reason.OVERSIZED
    with pytest.raises(InvalidMessage) as info:
        sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "x", "f": 1.5})
    assert info.value.reason is Reason.MALFORMED
    with pytest.raises(InvalidMessage) as info:
        sign(KEY, seq=0, prev=None, ts=NOW, kind="post", body={"text": "x"})
    assert info.value.reason is Reason.BAD_SEQUENCE


def test_decode_skips_clock_and_signature() -> None:
    message = sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "x"})
    broken = bytes(64) + message.payload
    assert decode(broken).id == message.id
    with pytest.raises(InvalidMessage):
        verify(decode(broken))


def test_invalid_message_text() -> None:
    error = InvalidMessage(Reason.FORK, "detail here")
    assert str(error) == "fork: detail here"
    assert str(InvalidMessage(Reason.FORK)) == "fork"


def test_decode_rejects_non_bytes() -> None:
    with pytest.raises(InvalidMessage) as info:
        decode(bytearray(b"x" * 100))  # type: ignore[arg-type]
    assert info.value.reason is Reason.MALFORMED


def test_checks_run_cheap_first() -> None:
    # A message that is both future-dated and badly signed reports the clock, not the signature.
    raw = forge(fields(ts=NOW + MAX_FUTURE_SKEW_MS + 1), key=OTHER)
    assert reason_of(raw) is Reason.FUTURE_TIMESTAMP
    # Version is checked before sequence, sequence before previous, previous before timestamp.
    assert reason_of(forge(fields(version=2, seq=0))) is Reason.UNSUPPORTED_VERSION
    assert reason_of(forge(fields(seq=0, prev=b"x"))) is Reason.BAD_SEQUENCE
    assert reason_of(forge(fields(prev=b"x", ts=0))) is Reason.BAD_PREVIOUS
    assert reason_of(forge(fields(ts=0, kind=""))) is Reason.BAD_TIMESTAMP
    assert reason_of(forge(fields(kind="", body=[]))) is Reason.BAD_KIND


def test_every_decode_reason_has_a_test() -> None:
    tested = {
        Reason.MALFORMED,
        Reason.TRAILING_BYTES,
        Reason.NON_CANONICAL,
        Reason.OVERSIZED,
        Reason.UNSUPPORTED_VERSION,
        Reason.BAD_SEQUENCE,
        Reason.BAD_PREVIOUS,
        Reason.BAD_TIMESTAMP,
        Reason.FUTURE_TIMESTAMP,
        Reason.BAD_KIND,
        Reason.WRONG_BODY,
        Reason.BAD_SIGNATURE,
        Reason.FORBIDDEN_CHARACTER,  # tests/test_core_display.py and the vectors
    }
    chain_reasons = {Reason.BROKEN_CHAIN, Reason.FORK}  # tests/test_core_chain.py
    store_reasons = {Reason.SEQ_TOO_FAR}  # tests/test_store_bounds.py
    assert tested | chain_reasons | store_reasons == set(Reason)


def test_message_is_hashable_value() -> None:
    message = sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "x"})
    assert isinstance(message, Message)
    again = envelope.decode(message.raw)
    assert again == message and again is not message
    assert hash(again) == hash(message)
    assert len({message, again}) == 1
    other = sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "y"})
    assert other != message and message != message.raw
    assert repr(message).startswith(f"Message(id={message.id.hex()[:16]}")
