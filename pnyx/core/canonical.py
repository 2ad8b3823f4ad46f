"""Canonical msgpack: the one byte form of a value that pnyx signs.

Rules (docs/protocol.md, "Canonical encoding"): integers, strings, binaries, arrays and maps in
their shortest msgpack form; strings are valid UTF-8 and use the str family, byte strings the bin
family; map keys are strings, unique and sorted by their UTF-8 bytes; no floats, no extension types;
nesting at most ``MAX_BODY_DEPTH`` levels. Decoding checks canonical form by re-encoding the decoded
value and comparing bytes; signatures are always checked over the received bytes, never over
the re-encoding.
"""

from __future__ import annotations

from typing import Any

import msgpack

from pnyx.core.limits import MAX_BODY_DEPTH, MAX_FIELD_NAME_BYTES
from pnyx.core.reasons import InvalidMessage, Reason

#: A value of the body model: nil, bool, int, str, bytes, list and str-keyed dict.
Value = Any

_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1


def pack(value: Value) -> bytes:
    """Encode ``value`` canonically (maps re-ordered by key). Raises ``ValueError`` on values the
    body model does not allow (floats, non-string keys, too deep)."""
    return msgpack.packb(_sorted(value, 0), use_bin_type=True)  # type: ignore[no-any-return]


def _sorted(value: Value, depth: int) -> Value:
    if isinstance(value, dict):
        if depth > MAX_BODY_DEPTH:
            raise ValueError("value nested too deeply")
        for key in value:
            if not isinstance(key, str):
                raise ValueError("map keys must be strings")
        return {k: _sorted(value[k], depth + 1) for k in sorted(value)}
    if isinstance(value, list | tuple):
        if depth > MAX_BODY_DEPTH:
            raise ValueError("value nested too deeply")
        return [_sorted(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool | str | bytes):
        return value
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _UINT64_MAX:
            raise ValueError("integer out of msgpack range")
        return value
    raise ValueError(f"type {type(value).__name__} is not allowed in a pnyx message")


def unpack_exact(data: bytes) -> Value:
    """Decode exactly one canonical msgpack value from ``data``.

    Raises ``InvalidMessage`` with MALFORMED, OVERSIZED, NON_CANONICAL or TRAILING_BYTES; never
    anything else. The order is a rule of the protocol (docs/protocol.md, "Validation", step 3):
    the first value is checked completely (its grammar, then its value model, then its canonical
    form) before the bytes after it are looked at, so a broken value followed by trailing bytes is
    rejected for what is wrong with the value. Canonical form is checked by re-encoding: the
    decoded maps keep their wire order, so once ``_check_model`` has seen every map's keys sorted,
    a plain re-encode is canonical.
    """
    trailing = False
    try:
        value = msgpack.unpackb(
            data, raw=False, strict_map_key=True, use_list=True, ext_hook=_reject_ext
        )
    except msgpack.ExtraData as extra:
        value, trailing = extra.unpacked, True
        data = data[: len(data) - len(extra.extra)]
    except _ExtensionType:
        raise InvalidMessage(Reason.MALFORMED, "extension types are not allowed") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # msgpack raises ValueError subclasses (FormatError, StackError, UnicodeDecodeError,
        # "Unpack failed: incomplete input") and TypeError for unhashable map keys.
        raise InvalidMessage(Reason.MALFORMED, f"not msgpack: {exc.__class__.__name__}") from None
    try:
        _check_model(value, 0)
    except InvalidMessage as exc:
        # Depth belongs to the grammar (step 3.1): nesting deeper than MAX_BODY_DEPTH anywhere in
        # the value is malformed, whatever value-model fault comes before it in wire order.
        if exc.reason is not Reason.MALFORMED and _too_deep(value):
            raise InvalidMessage(Reason.MALFORMED, "nested too deeply") from None
        raise
    if _packer.pack(value) != data:
        raise InvalidMessage(Reason.NON_CANONICAL, "payload is not in canonical msgpack form")
    if trailing:
        raise InvalidMessage(Reason.TRAILING_BYTES, "bytes after the payload")
    return value


_packer = msgpack.Packer(use_bin_type=True)
_SCALARS = frozenset({type(None), bool, int, str, bytes})


class _ExtensionType(Exception):
    pass


def _reject_ext(code: int, data: bytes) -> None:
    raise _ExtensionType


def _too_deep(value: Value) -> bool:
    """Whether a container of ``value`` (level 0) is at a level above ``MAX_BODY_DEPTH``."""
    stack: list[tuple[Value, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | dict):
            if depth > MAX_BODY_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _check_model(value: Value, depth: int) -> None:
    """Check types, key order, key sizes and depth; the hot path of every message decode."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if depth >= MAX_BODY_DEPTH + 1:
        raise InvalidMessage(Reason.MALFORMED, "nested too deeply")
    if kind is list:
        for item in value:
            if type(item) not in _SCALARS:
                _check_model(item, depth + 1)
        return
    if kind is not dict:
        raise InvalidMessage(Reason.MALFORMED, f"{kind.__name__} values are not allowed")
    previous = None
    for key, item in value.items():
        if type(key) is not str:
            raise InvalidMessage(Reason.MALFORMED, "map keys must be strings")
        # A UTF-8 character is at most 4 bytes: short keys need no encoding to be measured.
        if len(key) > MAX_FIELD_NAME_BYTES // 4 and len(key.encode()) > MAX_FIELD_NAME_BYTES:
            raise InvalidMessage(Reason.OVERSIZED, "field name too long")
        if previous is not None and key <= previous:
            raise InvalidMessage(Reason.NON_CANONICAL, "map keys are not sorted and unique")
        previous = key
        if type(item) not in _SCALARS:
            _check_model(item, depth + 1)
