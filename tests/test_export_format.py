"""The export file format and varints (sans-I/O): every damage is found, nothing else is raised."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pnyx.core.bundle import MAGIC, BundleWriter, Damage, read_bundle
from pnyx.core.varint import VarintError, decode_uvarint, encode_uvarint


def _bundle(records: list[bytes]) -> bytes:
    writer = BundleWriter()
    return writer.header() + b"".join(writer.record(r) for r in records) + writer.trailer()


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trip(value: int) -> None:
    data = encode_uvarint(value)
    assert decode_uvarint(data) == (value, len(data))
    assert decode_uvarint(data[:-1]) is None


def test_varint_rejects_non_minimal_and_overlong() -> None:
    for bad in (b"\x80\x00", b"\xff" * 10 + b"\x01", b"\xff" * 9 + b"\x7f"):
        try:
            decode_uvarint(bad)
        except VarintError:
            continue
        raise AssertionError(bad)


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=8), st.integers(1, 64))
def test_bundle_round_trip_in_any_chunking(records: list[bytes], chunk: int) -> None:
    data = _bundle(records)
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    assert list(read_bundle(pieces)) == records


@given(st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=5), st.data())
def test_any_truncation_is_reported(records: list[bytes], data: st.DataObject) -> None:
    whole = _bundle(records)
    cut = data.draw(st.integers(0, len(whole) - 1))
    items = list(read_bundle([whole[:cut]]))
    assert isinstance(items[-1], Damage)
    assert all(isinstance(i, bytes) for i in items[:-1])


@given(st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=5), st.data())
def test_any_byte_flip_is_reported_or_changes_a_record(
    records: list[bytes], data: st.DataObject
) -> None:
    whole = bytearray(_bundle(records))
    position = data.draw(st.integers(0, len(whole) - 1))
    whole[position] ^= data.draw(st.integers(1, 255))
    items = list(read_bundle([bytes(whole)]))
    assert isinstance(items[-1], Damage)


@given(st.binary(max_size=400))
def test_random_bytes_never_raise(blob: bytes) -> None:
    for item in read_bundle([MAGIC + blob]):
        assert isinstance(item, bytes | Damage)


def test_header_only_and_wrong_header() -> None:
    assert list(read_bundle([MAGIC])) == [
        Damage(len(MAGIC), "file ends after 0 messages without its trailer")
    ]
    (damage,) = list(read_bundle([b"hello"]))
    assert isinstance(damage, Damage) and "bad header" in damage.problem


def _with_trailer(records: list[bytes], fields: dict[str, object]) -> bytes:
    """An export file of ``records`` whose trailer map is ``fields`` (canonical)."""
    from pnyx.core import canonical

    writer = BundleWriter()
    body = b"".join(writer.record(r) for r in records)
    return writer.header() + body + b"\x00" + canonical.pack(fields)


def _digest(records: list[bytes]) -> bytes:
    writer = BundleWriter()
    for record in records:
        writer.record(record)
    return writer._digest.digest()


def test_trailer_extra_keys_are_allowed_and_ignored() -> None:
    records = [b"x" * 70, b"y" * 80]
    data = _with_trailer(records, {"count": 2, "digest": _digest(records), "note": "hi"})
    assert list(read_bundle([data])) == records


def test_trailer_count_must_be_an_integer() -> None:
    records = [b"x" * 70]
    data = _with_trailer(records, {"count": True, "digest": _digest(records)})
    offset = len(MAGIC) + 1 + 70  # the 0x00 that starts the trailer
    assert list(read_bundle([data])) == [
        records[0],
        Damage(offset, "trailer does not match: 1 messages read"),
    ]


def test_damage_offset_is_the_first_byte_of_the_damaged_unit() -> None:
    records = [b"x" * 70, b"y" * 80]
    good = _bundle(records)
    second_record_at = len(MAGIC) + 1 + 70
    cut = good[: second_record_at + 1 + 10]  # inside the second record
    assert list(read_bundle([cut])) == [
        records[0],
        Damage(second_record_at, "file ends inside record 2"),
    ]


def _with_trailer_of(size: int, chunk: int) -> list[bytes]:
    """A one-message export file whose trailer map (an extra key padding it) is ``size`` bytes,
    in chunks of ``chunk`` bytes."""
    from pnyx.core import canonical
    from pnyx.core.bundle import MAGIC, BundleWriter

    writer = BundleWriter()
    body = MAGIC + writer.record(b"\x01" * 100)
    digest = writer._digest.digest()
    pad = 0
    while len(trailer := canonical.pack({"count": 1, "digest": digest, "x": b"p" * pad})) < size:
        pad += 1
    assert len(trailer) == size
    data = body + b"\x00" + trailer
    return [data[i : i + chunk] for i in range(0, len(data), chunk)]


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20], ids=["byte-by-byte", "small", "one-chunk"])
def test_a_trailer_of_128_bytes_is_read_and_one_of_129_is_damage(chunk: int) -> None:
    """issue 24: a 129-byte (or 5,054-byte) trailer was accepted when the file came in one read."""
    from pnyx.core.bundle import MAX_TRAILER_BYTES, Damage, read_bundle

    assert MAX_TRAILER_BYTES == 128
    ok = list(read_bundle(_with_trailer_of(128, chunk)))
    assert ok == [b"\x01" * 100]
    for size in (129, 5054):
        read = list(read_bundle(_with_trailer_of(size, chunk)))
        assert isinstance(read[-1], Damage) and "trailer too long" in read[-1].problem, size
