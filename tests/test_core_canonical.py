"""Canonical msgpack: one byte form per value, everything else refused with a precise reason."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pnyx.core import canonical
from pnyx.core.limits import MAX_BODY_DEPTH, MAX_FIELD_NAME_BYTES
from pnyx.core.reasons import InvalidMessage, Reason

KEYS = st.text(max_size=6)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def depth(value: Any) -> int:
    """Container nesting of ``value``: 0 for a scalar, 1 for a flat list or map."""
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@settings(max_examples=max(200, settings().max_examples))
@given(VALUES)
def test_pack_unpack_round_trip(value: Any) -> None:
    if depth(value) > MAX_BODY_DEPTH + 1:
        with pytest.raises(ValueError, match="nested too deeply"):
            canonical.pack(value)
        return
    data = canonical.pack(value)
    assert canonical.unpack_exact(data) == value
    assert canonical.pack(canonical.unpack_exact(data)) == data


@settings(max_examples=max(200, settings().max_examples))
@given(st.dictionaries(st.text(max_size=4), st.integers(0, 9), min_size=2, max_size=8))
def test_map_keys_sorted_by_utf8_bytes(value: dict[str, int]) -> None:
    packed_keys = list(msgpack.unpackb(canonical.pack(value)))
    assert packed_keys == sorted(value, key=lambda k: k.encode())


def test_key_order_example() -> None:
    value = {"b": 1, "a": 2, "é": 3, "\U00010000": 4, "\uffff": 5, "B": 6, "aa": 7}
    assert list(msgpack.unpackb(canonical.pack(value))) == [
        "B",
        "a",
        "aa",
        "b",
        "é",
        "\uffff",
        "\U00010000",
    ]


@pytest.mark.parametrize(
    ("value", "encoding"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "cc80"),
        (255, "ccff"),
        (256, "cd0100"),
        (65536, "ce00010000"),
        (2**32, "cf0000000100000000"),
        (-1, "ff"),
        (-32, "e0"),
        (-33, "d0df"),
        (-129, "d1ff7f"),
        (-(2**31) - 1, "d3ffffffff7fffffff"),
        ("", "a0"),
        ("a" * 31, "bf" + "61" * 31),
        ("a" * 32, "d920" + "61" * 32),
        (b"", "c400"),
        (b"\x01", "c40101"),
        (None, "c0"),
        (False, "c2"),
        (True, "c3"),
        ([], "90"),
        ({}, "80"),
        (list(range(16)), "dc0010" + bytes(range(16)).hex()),
    ],
)
def test_shortest_forms(value: Any, encoding: str) -> None:
    assert canonical.pack(value).hex() == encoding
    assert canonical.unpack_exact(bytes.fromhex(encoding)) == value


@pytest.mark.parametrize(
    "value",
    [1.0, {1: "int key"}, {b"k": 1}, 2**64, -(2**63) - 1, {"a": [1.5]}, object(), (1, {2: 3})],
)
def test_pack_rejects_values_outside_the_model(value: Any) -> None:
    with pytest.raises(ValueError):
        canonical.pack(value)


def test_pack_accepts_tuples_as_arrays() -> None:
    assert canonical.pack((1, 2)) == canonical.pack([1, 2])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("cc05", Reason.NON_CANONICAL),  # 5 as uint8
        ("d005", Reason.NON_CANONICAL),  # 5 as int8
        ("d0ff", Reason.NON_CANONICAL),  # -1 as int8
        ("cd00ff", Reason.NON_CANONICAL),  # 255 as uint16
        ("d90161", Reason.NON_CANONICAL),  # "a" as str8
        ("c5000161", Reason.NON_CANONICAL),  # b"a" as bin16
        ("dc0000", Reason.NON_CANONICAL),  # [] as array16
        ("de0000", Reason.NON_CANONICAL),  # {} as map16
        ("82a162c0a161c0", Reason.NON_CANONICAL),  # {"b": nil, "a": nil}: unsorted
        ("82a161c0a161c0", Reason.NON_CANONICAL),  # {"a": nil, "a": nil}: duplicate key
        ("c0c0", Reason.TRAILING_BYTES),
        ("", Reason.MALFORMED),
        ("c1", Reason.MALFORMED),  # never-used byte
        ("ca00000000", Reason.MALFORMED),  # float32
        ("cb0000000000000000", Reason.MALFORMED),  # float64
        ("d40100", Reason.MALFORMED),  # fixext1
        ("d6ff00000000", Reason.MALFORMED),  # the msgpack timestamp extension (type -1)
        ("c7000100", Reason.MALFORMED),  # ext8, empty
        ("a1ff", Reason.MALFORMED),  # invalid UTF-8 in a str
        ("a2eda080", Reason.MALFORMED),  # an encoded surrogate is not UTF-8
        ("810101", Reason.MALFORMED),  # int map key
        ("81c4016101", Reason.MALFORMED),  # bin map key
        ("8190c0", Reason.MALFORMED),  # array map key
        ("92", Reason.MALFORMED),  # truncated
        ("dd" + "ff" * 4, Reason.MALFORMED),  # array32 claiming 4 billion items
    ],
)
def test_unpack_exact_rejections(data: str, reason: Reason) -> None:
    with pytest.raises(InvalidMessage) as info:
        canonical.unpack_exact(bytes.fromhex(data))
    assert info.value.reason is reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        # The first value is checked completely before the bytes after it (protocol.md step 3).
        ("cb0000000000000000" + "c0", Reason.MALFORMED),  # a float, then a byte
        ("91ca3fc00000" + "00", Reason.MALFORMED),  # the spec's example: [1.5] then 00
        ("91d40100" + "00", Reason.MALFORMED),  # an extension type, then a byte
        ("91c1" + "00", Reason.MALFORMED),  # c1 inside the value, then a byte
        ("81c4016101" + "00", Reason.MALFORMED),  # a bin map key, then a byte
        ("810101" + "00", Reason.MALFORMED),  # an int map key, then a byte
        ("91" * 20 + "c0" + "00", Reason.MALFORMED),  # too deep, then a byte
        ("91" * 1100 + "c0" + "00", Reason.MALFORMED),  # deeper than the parser's own stack
        ("91a1ff" + "00", Reason.MALFORMED),  # invalid UTF-8, then a byte
        ("81d928" + "61" * 40 + "01" + "00", Reason.OVERSIZED),  # 40-byte key, then a byte
        ("82a16201a16101" + "00", Reason.NON_CANONICAL),  # unsorted keys, then a byte
        ("91cc01" + "00", Reason.NON_CANONICAL),  # the spec's example: non-shortest int, then 00
        ("9101" + "c1", Reason.TRAILING_BYTES),  # what follows the value is never parsed
        ("9101" + "ca", Reason.TRAILING_BYTES),
    ],
)
def test_value_checked_completely_before_trailing_bytes(data: str, reason: Reason) -> None:
    with pytest.raises(InvalidMessage) as info:
        canonical.unpack_exact(bytes.fromhex(data))
    assert info.value.reason is reason


def test_field_name_limit() -> None:
    ok = {"k" * MAX_FIELD_NAME_BYTES: 1}
    assert canonical.unpack_exact(canonical.pack(ok)) == ok
    with pytest.raises(InvalidMessage) as info:
        canonical.unpack_exact(canonical.pack({"k" * (MAX_FIELD_NAME_BYTES + 1): 1}))
    assert info.value.reason is Reason.OVERSIZED


def test_depth_limit() -> None:
    def nested(levels: int) -> Any:
        value: Any = None
        for _ in range(levels):
            value = {"a": value}
        return value

    limit = nested(MAX_BODY_DEPTH + 1)  # containers at levels 0..MAX_BODY_DEPTH
    assert canonical.unpack_exact(canonical.pack(limit)) == limit
    deeper = msgpack.packb(nested(MAX_BODY_DEPTH + 2))
    with pytest.raises(InvalidMessage) as info:
        canonical.unpack_exact(deeper)
    assert info.value.reason is Reason.MALFORMED
    with pytest.raises(ValueError, match="nested too deeply"):
        canonical.pack(nested(MAX_BODY_DEPTH + 2))
