"""Helpers for envelope tests: a valid payload's fields, and signing any payload bytes."""

from __future__ import annotations

from typing import Any

import nacl.signing
import pytest

from pnyx.core import canonical
from pnyx.core.envelope import validate
from pnyx.core.limits import (
    SIGNATURE_DOMAIN,
)
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.errors import RemoteError

KEY = nacl.signing.SigningKey(bytes(range(32)))
OTHER = nacl.signing.SigningKey(bytes(range(1, 33)))
AUTHOR = bytes(KEY.verify_key)
NOW = 1_700_000_000_000
ID_A = bytes([0xAA]) * 32
ID_B = bytes([0xBB]) * 32
FIELD_NAMES = ("version", "author", "seq", "prev", "ts", "kind", "body")


def fields(**changes: Any) -> list[Any]:
    """A valid first post's payload fields, with some replaced by name."""
    base: dict[str, Any] = {
        "version": 1,
        "author": AUTHOR,
        "seq": 1,
        "prev": None,
        "ts": NOW,
        "kind": "post",
        "body": {"text": "hello"},
    }
    base.update(changes)
    return [base[name] for name in FIELD_NAMES]


def seal(payload: bytes, key: nacl.signing.SigningKey = KEY) -> bytes:
    """An envelope with a correct signature over any payload bytes."""
    signature: bytes = key.sign(SIGNATURE_DOMAIN + payload).signature
    return signature + payload


def forge(value: Any, key: nacl.signing.SigningKey = KEY) -> bytes:
    """Sign the canonical encoding of ``value`` (which need not be a valid payload)."""
    return seal(canonical.pack(value), key)


def reason_of(raw: bytes, now_ms: int = NOW) -> Reason:
    with pytest.raises(InvalidMessage) as info:
        validate(raw, now_ms)
    assert isinstance(info.value, RemoteError)
    return info.value.reason
