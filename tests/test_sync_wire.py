"""Sync framing and frame codec: round trips, exact prefix rules, limits, and fuzzing."""

from __future__ import annotations

import tracemalloc
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pnyx.core.varint import encode_uvarint
from pnyx.sync.errors import SyncProtocolError, SyncReason
from pnyx.sync.frames import (
    Ack,
    Batch,
    Bye,
    Done,
    ErrorFrame,
    Frame,
    Have,
    Head,
    Hello,
    Want,
    WantEntry,
)
from pnyx.sync.limits import (
    MAX_BATCH_MESSAGES,
    MAX_ERROR_DETAIL_BYTES,
    MAX_FRAME_BYTES,
    MAX_WANT_AUTHORS,
    MAX_WANT_RANGES,
)
from pnyx.sync.wire import FrameDecoder, decode_body, encode_frame
from tests.sync_fakes import feed_in_chunks, frames

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def decode_all(data: bytes, chunk: int | None = None) -> list[Frame]:
    decoder = FrameDecoder()
    if chunk is None:
        return decoder.feed(data)
    frames: list[Frame] = []
    for start in range(0, len(data), chunk):
        frames.extend(decoder.feed(data[start : start + chunk]))
    assert not decoder.mid_frame
    return frames


def raw_frame(body: Any) -> bytes:
    data: bytes = msgpack.packb(body, use_bin_type=True)
    return encode_uvarint(len(data)) + data


def reason_of(data: bytes) -> SyncReason:
    with pytest.raises(SyncProtocolError) as caught:
        FrameDecoder().feed(data)
    return caught.value.reason


SAMPLES: list[Frame] = [
    Hello(1, 4),
    Want((WantEntry(KEY, 0), WantEntry(OTHER, 90, ((3, 4), (10, 20), (90, 90))))),
    Have((Head(KEY, 0, 7), Head(OTHER, 100, 100))),
    Have(()),
    Batch((b"\x01" * 100, b"x" * 8256)),
    Done(0),
    Done(2**53),
    Ack(1),
    Bye(),
    ErrorFrame("unrequested", "author 0011 seq 3: already held"),
]


@pytest.mark.parametrize("frame", SAMPLES, ids=lambda f: type(f).__name__)
def test_each_frame_round_trips_whole_and_byte_by_byte(frame: Frame) -> None:
    data = encode_frame(frame)
    assert decode_all(data) == [frame]
    assert decode_all(data, chunk=1) == [frame]


def test_a_stream_of_frames_decodes_in_order_whatever_the_chunking() -> None:
    data = b"".join(encode_frame(frame) for frame in SAMPLES)
    for chunk in (1, 2, 3, 7, 64, 4096, len(data)):
        assert decode_all(data, chunk) == SAMPLES


def test_frame_body_is_canonical_msgpack_map_with_type_tag() -> None:
    data = encode_frame(Ack(5))
    assert data == b"\x0a" + msgpack.packb({"n": 5, "t": "ack"})


def test_error_frame_text_is_clipped_on_utf8_boundaries() -> None:
    frame = ErrorFrame("bad-frame", "é" * MAX_ERROR_DETAIL_BYTES)
    [decoded] = decode_all(encode_frame(frame))
    assert isinstance(decoded, ErrorFrame)
    assert decoded.detail == "é" * (MAX_ERROR_DETAIL_BYTES // 2)


def test_unknown_body_keys_are_ignored_for_forward_compatibility() -> None:
    assert decode_all(raw_frame({"n": 3, "t": "ack", "x": [1, 2]})) == [Ack(3)]


# --- prefix rules -------------------------------------------------------------------------------
def test_non_minimal_prefix_is_rejected() -> None:
    assert reason_of(b"\x81\x00" + msgpack.packb({"t": "bye"})) is SyncReason.BAD_PREFIX


def test_prefix_over_ten_bytes_is_rejected() -> None:
    assert reason_of(b"\x80" * 10 + b"\x01") is SyncReason.BAD_PREFIX


def test_zero_length_frame_is_rejected() -> None:
    assert reason_of(b"\x00") is SyncReason.BAD_FRAME


def test_limit_sized_prefix_waits_for_its_body() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_uvarint(MAX_FRAME_BYTES)) == []
    assert decoder.mid_frame
    with pytest.raises(SyncProtocolError) as caught:
        decoder.feed(b"\xc1" * MAX_FRAME_BYTES)  # 0xc1 is never valid msgpack
    assert caught.value.reason is SyncReason.BAD_FRAME


def test_prefix_one_over_the_limit_is_rejected_before_the_body() -> None:
    assert reason_of(encode_uvarint(MAX_FRAME_BYTES + 1)) is SyncReason.FRAME_TOO_LARGE


def test_huge_prefix_is_rejected_as_soon_as_it_exceeds_the_limit() -> None:
    decoder = FrameDecoder()
    # Three continuation bytes already say "at least 2**21 - 1" > 256 KiB: no need to see more.
    with pytest.raises(SyncProtocolError) as caught:
        decoder.feed(b"\xff\xff\xff")
    assert caught.value.reason is SyncReason.FRAME_TOO_LARGE


def test_huge_claimed_size_allocates_nothing() -> None:
    claim = encode_uvarint(2**63)  # 9 bytes announcing 8 EiB
    tracemalloc.start()
    try:
        decoder = FrameDecoder()
        with pytest.raises(SyncProtocolError) as caught:
            decoder.feed(claim)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.reason is SyncReason.FRAME_TOO_LARGE
    assert peak < 64 * 1024
    assert decoder.buffered_bytes == 0


def test_a_broken_decoder_keeps_failing() -> None:
    decoder = FrameDecoder()
    with pytest.raises(SyncProtocolError):
        decoder.feed(b"\x81\x00")
    with pytest.raises(SyncProtocolError) as caught:
        decoder.feed(encode_frame(Bye()))
    assert caught.value.reason is SyncReason.BAD_PREFIX


def test_encoder_refuses_frames_over_the_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        encode_frame(Batch(tuple(b"y" * 8000 for _ in range(40))))


# --- body checks ----------------------------------------------------------------------------------
BAD_BODIES: list[tuple[Any, SyncReason]] = [
    ([1, 2], SyncReason.BAD_FRAME),
    ({"n": 1}, SyncReason.BAD_FRAME),
    ({"t": 5}, SyncReason.BAD_FRAME),
    ({"t": "gossip"}, SyncReason.UNKNOWN_FRAME),
    ({"t": "ack"}, SyncReason.BAD_FRAME),
    ({"n": 0, "t": "ack"}, SyncReason.BAD_FRAME),
    ({"n": True, "t": "ack"}, SyncReason.BAD_FRAME),
    ({"n": -1, "t": "done"}, SyncReason.BAD_FRAME),
    ({"t": "hello", "v": 1}, SyncReason.BAD_FRAME),
    ({"a": [], "t": "want"}, SyncReason.BAD_FRAME),
    ({"a": [[KEY[:31], 0, []]], "t": "want"}, SyncReason.BAD_FRAME),
    ({"a": [[KEY, 0, []], [KEY, 5, []]], "t": "want"}, SyncReason.BAD_FRAME),
    ({"a": [[KEY, 5, [[3, 2]]]], "t": "want"}, SyncReason.BAD_FRAME),
    ({"a": [[KEY, 5, [[0, 2]]]], "t": "want"}, SyncReason.BAD_FRAME),
    ({"a": [[KEY, 5, [[2, 6]]]], "t": "want"}, SyncReason.BAD_FRAME),
    ({"a": [[KEY, 9, [[4, 6], [6, 7]]]], "t": "want"}, SyncReason.BAD_FRAME),
    ({"a": [[KEY, 9, [[4, 6], [1, 2]]]], "t": "want"}, SyncReason.BAD_FRAME),
    ({"a": [[KEY, 99, [[i, i] for i in range(1, 11, 1)]]], "t": "want"}, SyncReason.BAD_FRAME),
    ({"a": [[KEY, 0]], "t": "want"}, SyncReason.BAD_FRAME),
    ({"a": [[KEY, 0, []]] * (MAX_WANT_AUTHORS + 1), "t": "want"}, SyncReason.BAD_FRAME),
    ({"h": [[KEY, 5, 4]], "t": "have"}, SyncReason.BAD_FRAME),
    ({"h": [[KEY, 0, 0]], "t": "have"}, SyncReason.BAD_FRAME),
    ({"h": [[KEY, 1, 1], [KEY, 2, 2]], "t": "have"}, SyncReason.BAD_FRAME),
    ({"m": [], "t": "batch"}, SyncReason.BAD_FRAME),
    ({"m": [b""], "t": "batch"}, SyncReason.BAD_FRAME),
    ({"m": ["text"], "t": "batch"}, SyncReason.BAD_FRAME),
    ({"m": [b"x" * 8257], "t": "batch"}, SyncReason.BAD_FRAME),
    ({"m": [b"x"] * (MAX_BATCH_MESSAGES + 1), "t": "batch"}, SyncReason.BAD_FRAME),
    ({"d": "", "r": "x" * 65, "t": "error"}, SyncReason.BAD_FRAME),
    ({"r": "x", "t": "error"}, SyncReason.BAD_FRAME),
]


@pytest.mark.parametrize(("body", "reason"), BAD_BODIES)
def test_malformed_bodies_are_rejected_with_a_reason(body: Any, reason: SyncReason) -> None:
    assert reason_of(raw_frame(body)) is reason


def test_non_canonical_body_is_rejected() -> None:
    unsorted = b"\x82\xa1t\xa3ack\xa1n\x01"  # {"t": "ack", "n": 1}: keys out of order
    assert reason_of(bytes([len(unsorted)]) + unsorted) is SyncReason.BAD_FRAME
    long_int = b"\x82\xa1n\xcd\x00\x01\xa1t\xa3ack"  # 1 encoded as uint16
    assert reason_of(bytes([len(long_int)]) + long_int) is SyncReason.BAD_FRAME


def test_trailing_bytes_inside_a_frame_are_rejected() -> None:
    body = msgpack.packb({"t": "bye"}) + b"\x00"
    assert reason_of(bytes([len(body)]) + body) is SyncReason.BAD_FRAME


def test_want_range_count_limit_is_exact() -> None:
    gaps = [[i * 2 + 1, i * 2 + 1] for i in range(MAX_WANT_RANGES)]
    [frame] = decode_all(raw_frame({"a": [[KEY, 100, gaps]], "t": "want"}))
    assert isinstance(frame, Want)
    assert len(frame.entries[0].gaps) == MAX_WANT_RANGES


# --- fuzzing --------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(frames(), max_size=6), st.lists(st.integers(0, 10_000), max_size=8))
def test_fuzz_valid_frames_round_trip(items: list[Frame], cuts: list[int]) -> None:
    data = b"".join(encode_frame(frame) for frame in items)
    assert feed_in_chunks(data, cuts) == items


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=6))
def test_fuzz_random_bytes_give_frames_or_a_protocol_error(data: bytes, cuts: list[int]) -> None:
    try:
        result = feed_in_chunks(data, cuts)
    except SyncProtocolError as exc:
        assert isinstance(exc.reason, SyncReason)
    else:
        assert all(isinstance(frame, Frame) for frame in result)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(frames(), min_size=1, max_size=4),
    st.lists(
        st.tuples(st.sampled_from("fdit"), st.integers(0, 4096), st.integers(0, 255)),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(0, 4096), max_size=4),
)
def test_fuzz_mutated_streams_give_frames_or_a_protocol_error(
    items: list[Frame], edits: list[tuple[str, int, int]], cuts: list[int]
) -> None:
    data = bytearray(b"".join(encode_frame(frame) for frame in items))
    for op, where, value in edits:
        at = where % (len(data) + 1)
        if op == "f" and at < len(data):
            data[at] ^= value or 1
        elif op == "d":
            del data[at : at + 1 + value % 8]
        elif op == "i":
            data[at:at] = bytes([value])
        elif op == "t":
            del data[at:]
    try:
        result = feed_in_chunks(bytes(data), cuts)
    except SyncProtocolError as exc:
        assert isinstance(exc.reason, SyncReason)
    else:
        assert all(isinstance(frame, Frame) for frame in result)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=8)
    | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["hello", "want", "have", "batch", "done", "ack", "bye", "error", "zzz"]),
    st.dictionaries(st.sampled_from(["a", "d", "h", "m", "n", "r", "v", "w"]), msgpack_values),
)
def test_fuzz_structured_bodies_give_a_frame_or_a_protocol_error(
    kind: str, fields: dict[str, Any]
) -> None:
    body = msgpack.packb(dict(sorted({**fields, "t": kind}.items())), use_bin_type=True)
    try:
        frame = decode_body(body)
    except SyncProtocolError as exc:
        assert isinstance(exc.reason, SyncReason)
    else:
        assert isinstance(frame, Frame)
