"""Gossip frames (sans-I/O): encoding, limits, validation of every envelope and of the batch."""

from __future__ import annotations

import nacl.signing
import pytest

from pnyx.core import canonical
from pnyx.core.envelope import Message, sign
from pnyx.core.frame import (
    FRAME_VERSION,
    MAX_GOSSIP_BATCH_MESSAGES,
    MAX_GOSSIP_FRAME_BYTES,
    decode_frame,
    encode_frame,
    frame_id,
    frame_size,
    pack_frames,
    validate_frame,
)
from pnyx.core.limits import MAX_FUTURE_SKEW_MS, MAX_TEXT_BYTES
from pnyx.core.reasons import InvalidMessage, Reason

NOW = 1_800_000_000_000
KEY = nacl.signing.SigningKey(b"\x01" * 32)


def chain(
    key: nacl.signing.SigningKey, count: int, *, text: str = "post", ts: int = NOW
) -> list[Message]:
    messages: list[Message] = []
    prev = None
    for seq in range(1, count + 1):
        message = sign(key, seq=seq, prev=prev, ts=ts, kind="post", body={"text": f"{text} {seq}"})
        messages.append(message)
        prev = message.id
    return messages


def test_round_trip_and_exact_size() -> None:
    raws = [m.raw for m in chain(KEY, 20)]
    frame = encode_frame(raws)
    assert decode_frame(frame) == raws
    assert len(frame) == frame_size([len(r) for r in raws])
    assert frame_id(frame) == frame_id(bytes(frame))
    assert [m.raw for m in validate_frame(frame, NOW)] == raws


def test_pack_frames_respects_count_limit() -> None:
    raws = [m.raw for m in chain(KEY, MAX_GOSSIP_BATCH_MESSAGES + 3)]
    frames = pack_frames(raws)
    assert len(frames) == 2
    assert [r for f in frames for r in decode_frame(f)] == raws


def test_pack_frames_respects_byte_limit() -> None:
    big = "x" * (MAX_TEXT_BYTES - 8)
    raws = [m.raw for m in chain(KEY, 80, text=big)]
    frames = pack_frames(raws)
    assert len(frames) == 2
    assert all(len(f) <= MAX_GOSSIP_FRAME_BYTES for f in frames)
    # The first frame is full: one more envelope would not have fitted.
    first = decode_frame(frames[0])
    assert frame_size([len(r) for r in first] + [len(raws[len(first)])]) > MAX_GOSSIP_FRAME_BYTES
    assert [r for f in frames for r in decode_frame(f)] == raws


def test_encode_refuses_empty_and_oversized() -> None:
    with pytest.raises(ValueError):
        encode_frame([])
    with pytest.raises(ValueError):
        encode_frame([b"x" * 10] * (MAX_GOSSIP_BATCH_MESSAGES + 1))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([FRAME_VERSION], Reason.MALFORMED),
        ([2, [b"x" * 100]], Reason.UNSUPPORTED_VERSION),
        ([FRAME_VERSION, []], Reason.MALFORMED),
        ([FRAME_VERSION, ["text"]], Reason.MALFORMED),
        ({"v": 1}, Reason.MALFORMED),
    ],
)
def test_decode_rejects_bad_structure(value: object, reason: Reason) -> None:
    with pytest.raises(InvalidMessage) as caught:
        decode_frame(canonical.pack(value))
    assert caught.value.reason is reason


def test_decode_rejects_non_canonical_and_garbage() -> None:
    raws = [m.raw for m in chain(KEY, 2)]
    frame = encode_frame(raws)
    with pytest.raises(InvalidMessage) as caught:
        decode_frame(frame + b"\x00")
    assert caught.value.reason is Reason.TRAILING_BYTES
    with pytest.raises(InvalidMessage) as caught:
        decode_frame(b"\xc1garbage")
    assert caught.value.reason is Reason.MALFORMED
    with pytest.raises(InvalidMessage) as caught:
        decode_frame(b"\x00" * (MAX_GOSSIP_FRAME_BYTES + 1))
    assert caught.value.reason is Reason.OVERSIZED


def test_one_forged_envelope_invalidates_the_frame() -> None:
    raws = [m.raw for m in chain(KEY, 3)]
    forged = bytearray(raws[1])
    forged[5] ^= 0x01  # flip a signature bit
    with pytest.raises(InvalidMessage) as caught:
        validate_frame(encode_frame([raws[0], bytes(forged), raws[2]]), NOW)
    assert caught.value.reason is Reason.BAD_SIGNATURE
    assert "envelope 1" in caught.value.detail


def test_future_timestamp_is_its_own_reason() -> None:
    late = chain(KEY, 1, ts=NOW + MAX_FUTURE_SKEW_MS + 60_000)
    with pytest.raises(InvalidMessage) as caught:
        validate_frame(encode_frame([late[0].raw]), NOW)
    assert caught.value.reason is Reason.FUTURE_TIMESTAMP


def test_repeated_envelope_and_fork_within_a_frame() -> None:
    first = chain(KEY, 2)
    with pytest.raises(InvalidMessage) as caught:
        validate_frame(encode_frame([first[0].raw, first[0].raw]), NOW)
    assert caught.value.reason is Reason.MALFORMED
    other = chain(KEY, 1, text="other")
    with pytest.raises(InvalidMessage) as caught:
        validate_frame(encode_frame([first[0].raw, other[0].raw]), NOW)
    assert caught.value.reason is Reason.FORK


def test_broken_chain_within_a_frame() -> None:
    first = chain(KEY, 1)
    stray = sign(KEY, seq=2, prev=b"\x07" * 32, ts=NOW, kind="post", body={"text": "stray"})
    with pytest.raises(InvalidMessage) as caught:
        validate_frame(encode_frame([first[0].raw, stray.raw]), NOW)
    assert caught.value.reason is Reason.BROKEN_CHAIN
    # A gap is fine: seq 1 and seq 3 say nothing about each other.
    third = chain(KEY, 3)[2]
    assert len(validate_frame(encode_frame([first[0].raw, third.raw]), NOW)) == 2


def test_several_authors_share_a_frame() -> None:
    other = nacl.signing.SigningKey(b"\x02" * 32)
    raws = [m.raw for m in chain(KEY, 3) + chain(other, 3)]
    assert {m.author for m in validate_frame(encode_frame(raws), NOW)} == {
        bytes(KEY.verify_key),
        bytes(other.verify_key),
    }
