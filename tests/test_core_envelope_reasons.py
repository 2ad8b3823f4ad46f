"""One input for every rejection reason of an envelope.

Each test builds a payload that breaks exactly one rule and signs it correctly with the author's
key, so the reason seen is the rule under test and not a side effect.
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from pnyx.core import canonical
from pnyx.core.envelope import check_clock, sign, validate
from pnyx.core.kinds import KNOWN_KINDS
from pnyx.core.limits import (
    MAX_BIO_BYTES,
    MAX_BODY_DEPTH,
    MAX_ENVELOPE_BYTES,
    MAX_FIELD_NAME_BYTES,
    MAX_FUTURE_SKEW_MS,
    MAX_KIND_BYTES,
    MAX_NAME_BYTES,
    MAX_REACTION_BYTES,
    MAX_SEQ,
    MAX_TEXT_BYTES,
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
)
from pnyx.core.reasons import InvalidMessage, Reason
from tests.envelope_kit import (
    AUTHOR,
    ID_A,
    KEY,
    NOW,
    OTHER,
    fields,
    forge,
    reason_of,
    seal,
)

# --- one test per reason -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(bytes(64), id="signature-only"),
        pytest.param(seal(b"\xc1"), id="reserved-byte-0xc1"),
        pytest.param(seal(b"\x97\x01"), id="truncated-array"),
        pytest.param(seal(b"\xa2\xff\xfe"), id="invalid-utf8-str"),
        pytest.param(seal(b"\xd4\x01\x00"), id="extension-type"),
        pytest.param(seal(b"\x81\x01\x01"), id="int-map-key"),
        pytest.param(seal(b"\x81\xc4\x01a\x01"), id="bin-map-key"),
        pytest.param(seal(b"\xcb" + bytes(8)), id="float64"),
        pytest.param(seal(msgpack.packb([1, 2.5])), id="float-inside"),
        pytest.param(forge({"a": 1}), id="map-not-array"),
        pytest.param(forge(fields()[:6]), id="six-fields"),
        pytest.param(forge([*fields(), None]), id="eight-fields"),
        pytest.param(forge(fields(author=AUTHOR[:31])), id="short-author"),
        pytest.param(forge(fields(author="pnyx1...")), id="author-as-text"),
        pytest.param(seal(b"\x91" * 20 + b"\xc0"), id="nested-too-deep"),
    ],
)
def test_malformed(raw: bytes) -> None:
    assert reason_of(raw) is Reason.MALFORMED


def test_nesting_limit_is_exact() -> None:
    # Payload array is level 0, body map level 1: containers may go down to MAX_BODY_DEPTH.
    def nested(levels: int) -> Any:
        value: Any = 0
        for _ in range(levels):
            value = [value]
        return value

    ok = sign(
        KEY,
        seq=1,
        prev=None,
        ts=NOW,
        kind="x",
        body={"deep": nested(MAX_BODY_DEPTH - 1)},
    )
    assert validate(ok.raw, NOW) == ok
    payload = msgpack.packb(fields(kind="x", body={"deep": nested(MAX_BODY_DEPTH)}))
    assert reason_of(seal(payload)) is Reason.MALFORMED


def test_trailing_bytes() -> None:
    message = sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "x"})
    payload = message.payload + b"\x00"
    assert reason_of(seal(payload)) is Reason.TRAILING_BYTES
    assert reason_of(message.raw + b"\xc0") is Reason.TRAILING_BYTES


#: Bytes of the canonical payload before the seq field: array header, version, bin8 header, author.
SEQ_OFFSET = 1 + 1 + 2 + 32


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1
    return data.replace(old, new)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(
            msgpack.packb(fields(body={"text": "x", "a": 1})),  # insertion order: text, a
            id="unsorted-map-keys",
        ),
        pytest.param(
            b"\x97\x01\xc4\x20" + AUTHOR + b"\xcc\x01" + canonical.pack(fields())[SEQ_OFFSET + 1 :],
            id="int-in-longer-form",
        ),
        pytest.param(
            b"\x97\xd0\x01" + canonical.pack(fields())[2:],
            id="positive-int-as-int8",
        ),
        pytest.param(
            _replace_once(canonical.pack(fields()), b"\xa4post", b"\xd9\x04post"),
            id="str8-for-short-str",
        ),
        pytest.param(
            _replace_once(canonical.pack(fields()), b"\x97", b"\xdc\x00\x07"),
            id="array16-for-7",
        ),
        pytest.param(
            _replace_once(canonical.pack(fields()), b"\x81\xa4text", b"\xde\x00\x01\xa4text"),
            id="map16-for-1",
        ),
        pytest.param(
            _replace_once(
                canonical.pack(fields()),
                b"\x81\xa4text\xa5hello",
                b"\x82\xa4text\xa1x\xa4text\xa5hello",
            ),
            id="duplicate-map-key",
        ),
    ],
)
def test_non_canonical(payload: bytes) -> None:
    assert reason_of(seal(payload)) is Reason.NON_CANONICAL


def test_non_canonical_payload_is_otherwise_valid() -> None:
    # The long-int payload decodes to the same fields as a valid one: only the encoding is wrong.
    payload = (
        b"\x97\x01\xc4\x20" + AUTHOR + b"\xcc\x01" + canonical.pack(fields())[SEQ_OFFSET + 1 :]
    )
    assert msgpack.unpackb(payload) == fields()


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\x00" * (MAX_ENVELOPE_BYTES + 1), id="envelope"),
        pytest.param(
            forge(fields(body={"text": "é" * (MAX_TEXT_BYTES // 2) + "x"})), id="post-text"
        ),
        pytest.param(forge(fields(kind="profile", body={"name": "n" * 65})), id="profile-name"),
        pytest.param(
            forge(fields(kind="profile", body={"bio": "b" * (MAX_BIO_BYTES + 1)})), id="bio"
        ),
        pytest.param(
            forge(
                fields(
                    kind="reaction",
                    body={"id": ID_A, "author": AUTHOR, "reaction": "r" * (MAX_REACTION_BYTES + 1)},
                )
            ),
            id="reaction",
        ),
        pytest.param(
            forge(fields(body={"text": "x", "k" * (MAX_FIELD_NAME_BYTES + 1): 1})),
            id="field-name",
        ),
    ],
)
def test_oversized(raw: bytes) -> None:
    assert reason_of(raw) is Reason.OVERSIZED


def test_size_limits_are_inclusive() -> None:
    text = "é" * (MAX_TEXT_BYTES // 2)
    assert len(text.encode()) == MAX_TEXT_BYTES
    post = sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": text})
    assert validate(post.raw, NOW).text == text
    profile = sign(
        KEY,
        seq=1,
        prev=None,
        ts=NOW,
        kind="profile",
        body={"name": "n" * MAX_NAME_BYTES, "bio": "b" * MAX_BIO_BYTES},
    )
    assert validate(profile.raw, NOW) == profile
    name = "k" * MAX_FIELD_NAME_BYTES
    extra = sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "x", name: 1})
    assert validate(extra.raw, NOW).body[name] == 1


def test_envelope_size_limit_is_exact() -> None:
    def envelope_of_size(size: int) -> bytes:
        base = len(forge(fields(kind="blob", body={"b": b""})))
        # bin8 -> bin16 adds 1 byte of length once the blob exceeds 255 bytes.
        return forge(fields(kind="blob", body={"b": bytes(size - base - 1)}))

    at_limit = envelope_of_size(MAX_ENVELOPE_BYTES)
    assert len(at_limit) == MAX_ENVELOPE_BYTES
    assert validate(at_limit, NOW).kind == "blob"
    over = envelope_of_size(MAX_ENVELOPE_BYTES + 1)
    assert len(over) == MAX_ENVELOPE_BYTES + 1
    assert reason_of(over) is Reason.OVERSIZED


@pytest.mark.parametrize("version", [0, 2, -1, True, "1", None, b"\x01"])
def test_unsupported_version(version: Any) -> None:
    assert reason_of(forge(fields(version=version))) is Reason.UNSUPPORTED_VERSION


@pytest.mark.parametrize("seq", [0, -1, MAX_SEQ + 1, 2**64 - 1, "1", None, True])
def test_bad_sequence(seq: Any) -> None:
    assert reason_of(forge(fields(seq=seq, prev=ID_A))) is Reason.BAD_SEQUENCE


def test_sequence_bounds_inclusive() -> None:
    top = sign(KEY, seq=MAX_SEQ, prev=ID_A, ts=NOW, kind="post", body={"text": "x"})
    assert validate(top.raw, NOW).seq == MAX_SEQ


@pytest.mark.parametrize(
    ("seq", "prev"),
    [
        (1, ID_A),
        (1, b""),
        (2, None),
        (2, ID_A[:31]),
        (2, ID_A + b"\x00"),
        (2, ID_A.hex()),
        (3, 0),
    ],
)
def test_bad_previous(seq: int, prev: Any) -> None:
    assert reason_of(forge(fields(seq=seq, prev=prev))) is Reason.BAD_PREVIOUS


@pytest.mark.parametrize(
    "ts", [MIN_TIMESTAMP_MS - 1, 0, -5, MAX_TIMESTAMP_MS + 1, str(NOW), None, False]
)
def test_bad_timestamp(ts: Any) -> None:
    assert reason_of(forge(fields(ts=ts)), now_ms=2**62) is Reason.BAD_TIMESTAMP


def test_timestamp_bounds_inclusive() -> None:
    for ts in (MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS):
        message = sign(KEY, seq=1, prev=None, ts=ts, kind="post", body={"text": "x"})
        assert validate(message.raw, MAX_TIMESTAMP_MS).ts == ts


def test_future_timestamp() -> None:
    edge = sign(KEY, seq=1, prev=None, ts=NOW + MAX_FUTURE_SKEW_MS, kind="post", body={"text": "x"})
    assert validate(edge.raw, NOW) == edge
    ahead = sign(
        KEY, seq=1, prev=None, ts=NOW + MAX_FUTURE_SKEW_MS + 1, kind="post", body={"text": "x"}
    )
    assert reason_of(ahead.raw, NOW) is Reason.FUTURE_TIMESTAMP
    with pytest.raises(InvalidMessage, match="600 s"):
        check_clock(ahead, NOW)
    old = sign(KEY, seq=1, prev=None, ts=MIN_TIMESTAMP_MS, kind="post", body={"text": "x"})
    assert validate(old.raw, NOW) == old  # the past is never "too old"


@pytest.mark.parametrize(
    "kind",
    [
        "",
        "Post",
        "POST",
        "pöst",
        "a b",
        "a.b",
        "a" * (MAX_KIND_BYTES + 1),
        7,
        None,
        b"post",
        ["post"],
    ],
)
def test_bad_kind(kind: Any) -> None:
    assert reason_of(forge(fields(kind=kind))) is Reason.BAD_KIND


def test_kind_name_limits() -> None:
    for kind in ("a", "z" * MAX_KIND_BYTES, "x-y_z09"):
        message = sign(KEY, seq=1, prev=None, ts=NOW, kind=kind, body={})
        assert validate(message.raw, NOW).kind == kind


WRONG_BODIES: list[tuple[str, Any]] = [
    ("post", {}),
    ("post", {"text": ""}),
    ("post", {"text": 5}),
    ("post", {"text": b"bytes"}),
    ("post", {"text": "x", "root": ID_A}),
    ("post", {"text": "x", "parent": ID_A}),
    ("post", {"text": "x", "root": ID_A[:31], "parent": ID_A}),
    ("post", {"text": "x", "root": ID_A, "parent": ID_A.hex()}),
    ("post", ["text", "x"]),
    ("repost", {"id": ID_A}),
    ("repost", {"author": AUTHOR}),
    ("repost", {"id": ID_A[:16], "author": AUTHOR}),
    ("reaction", {"id": ID_A, "author": AUTHOR}),
    ("reaction", {"id": ID_A, "author": AUTHOR, "reaction": ""}),
    ("reaction", {"id": ID_A, "reaction": "+1"}),
    ("reaction", {"author": AUTHOR, "reaction": "+1"}),
    ("follow", {}),
    ("follow", {"key": AUTHOR.hex()}),
    ("unfollow", {"key": AUTHOR[:31]}),
    ("mute", {}),
    ("unmute", {"key": AUTHOR + b"x"}),
    ("block", {"key": AUTHOR.hex()}),
    ("unblock", {"key": AUTHOR[:31]}),
    ("recipe", {"name": "buzz"}),
    ("recipe", {"name": "buzz", "recipe": "{}"}),
    ("recipe", {"name": "Buzz", "recipe": b"{}"}),
    ("profile", {}),
    ("profile", {"name": 1}),
    ("profile", {"bio": None}),
    ("profile", {"website": "x"}),
    ("delete", {}),
    ("delete", {"id": None}),
    ("poll", {"question": "q?", "options": ["a"], "closes": 1 << 41}),
    ("poll", {"question": "q?", "options": ["a", "b"], "closes": None}),
    ("vote", {"poll": AUTHOR, "choices": [1, 1]}),
    ("vote", {"poll": AUTHOR, "choices": None}),
    ("label", {"value": "spam"}),
    ("label", {"post": AUTHOR, "key": AUTHOR, "value": "spam"}),
    ("label", {"post": AUTHOR, "value": "Spam"}),
    ("note", {"post": AUTHOR, "text": None}),
    ("note", {"post": AUTHOR, "text": "x", "misleading": None}),
    ("note-rating", {"note": AUTHOR, "helpful": "maybe"}),
    ("note-rating", {"note": AUTHOR, "helpful": None}),
    ("some-new-kind", []),
    ("some-new-kind", "text"),
    ("some-new-kind", None),
]


@pytest.mark.parametrize(("kind", "body"), WRONG_BODIES)
def test_wrong_body(kind: str, body: Any) -> None:
    assert reason_of(forge(fields(kind=kind, body=body))) is Reason.WRONG_BODY


def test_wrong_body_covers_every_known_kind() -> None:
    assert {kind for kind, _ in WRONG_BODIES} >= KNOWN_KINDS


def test_bad_signature_flipped_bit() -> None:
    raw = bytearray(sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "x"}).raw)
    raw[10] ^= 0x01
    assert reason_of(bytes(raw)) is Reason.BAD_SIGNATURE


def test_bad_signature_other_signer() -> None:
    assert reason_of(forge(fields(), key=OTHER)) is Reason.BAD_SIGNATURE


def test_bad_signature_without_domain() -> None:
    payload = canonical.pack(fields())
    raw = KEY.sign(payload).signature + payload
    assert reason_of(raw) is Reason.BAD_SIGNATURE


def test_bad_signature_small_order_key() -> None:
    # Key and R both the identity point, S = 0: [S]B - [k]A = identity = R, so a verifier without
    # the small-order checks would accept this "signature" for any payload.
    identity_point = b"\x01" + bytes(31)
    payload = canonical.pack(fields(author=identity_point))
    assert reason_of(identity_point + bytes(32) + payload) is Reason.BAD_SIGNATURE


def test_bad_signature_non_canonical_s() -> None:
    # Adding the group order L to S gives a signature that verifies under a lax checker.
    order = 2**252 + 27742317777372353535851937790883648493
    message = sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body={"text": "x"})
    s = int.from_bytes(message.signature[32:], "little") + order
    assert s < 2**256
    forged = message.signature[:32] + s.to_bytes(32, "little") + message.payload
    assert reason_of(forged) is Reason.BAD_SIGNATURE
