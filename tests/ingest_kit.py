"""Shared inputs and checks for the ingest tests: envelopes of every rejection class, mixed
batches, and comparisons of validation results and ingest reports."""

from __future__ import annotations

import msgpack
import nacl.signing

from pnyx.core import envelope
from pnyx.core.envelope import Message
from pnyx.core.limits import MAX_ENVELOPE_BYTES, MAX_FUTURE_SKEW_MS, PROTOCOL_VERSION
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.ingest import Validated
from pnyx.store import IngestReport

NOW = 1_750_000_000_000
KEYS = [nacl.signing.SigningKey(bytes([n + 1]) * 32) for n in range(3)]


def valid(n: int) -> bytes:
    key = KEYS[n % len(KEYS)]
    return envelope.sign(
        key, seq=1, prev=None, ts=NOW - 1000 * n, kind="post", body={"text": f"post {n}"}
    ).raw


def bad_signature(n: int) -> bytes:
    raw = bytearray(valid(n))
    raw[5] ^= 0x01
    return bytes(raw)


def future(n: int) -> bytes:
    ts = NOW + MAX_FUTURE_SKEW_MS + 1000 + n
    return envelope.sign(KEYS[0], seq=1, prev=None, ts=ts, kind="post", body={"text": "x"}).raw


def trailing(n: int) -> bytes:
    return valid(n) + b"\x00"


def non_canonical(n: int) -> bytes:
    author = bytes(KEYS[0].verify_key)
    fields = [PROTOCOL_VERSION, author, 1, None, NOW, "note", {"b": n, "a": n}]
    packed: bytes = msgpack.packb(fields, use_bin_type=True)  # keys unsorted
    return bytes(64) + packed


MAKERS = {
    "valid": valid,
    "bad-signature": bad_signature,
    "future": future,
    "junk": lambda n: bytes([n % 256]) * (n % 90),
    "oversized": lambda n: bytes(MAX_ENVELOPE_BYTES + 1),
    "trailing": trailing,
    "non-canonical": non_canonical,
    "not-bytes": lambda n: bytearray(valid(n)),  # validate demands bytes
}


def sequential(raws: list[bytes]) -> list[Message | tuple[Reason, str]]:
    out: list[Message | tuple[Reason, str]] = []
    for raw in raws:
        try:
            out.append(envelope.validate(raw, NOW))
        except InvalidMessage as exc:
            out.append((exc.reason, exc.detail))
    return out


def flatten(result: Validated, size: int) -> list[Message | tuple[Reason, str]]:
    out: list[Message | tuple[Reason, str] | None] = [None] * size
    for position, message in zip(result.positions, result.messages, strict=True):
        out[position] = message
    for index, reason, detail in result.rejected:
        assert out[index] is None, "an index reported twice"
        out[index] = (reason, detail)
    assert all(item is not None for item in out), "an envelope went missing"
    return [item for item in out if item is not None]


def mixed(kinds: list[str]) -> list[bytes]:
    return [MAKERS[kind](n) for n, kind in enumerate(kinds)]  # type: ignore[no-untyped-call]


def check_order(result: Validated) -> None:
    assert result.positions == sorted(result.positions)
    assert [i for i, _, _ in result.rejected] == sorted(i for i, _, _ in result.rejected)


ALICE = nacl.signing.SigningKey(b"\x01" * 32)
BOB = nacl.signing.SigningKey(b"\x02" * 32)


def chain(key: nacl.signing.SigningKey, count: int, tag: str = "") -> list[Message]:
    out: list[Message] = []
    prev = None
    for seq in range(1, count + 1):
        ts = NOW - 100_000 + seq
        body = {"text": f"{tag}post {seq}"}
        message = envelope.sign(key, seq=seq, prev=prev, ts=ts, kind="post", body=body)
        out.append(message)
        prev = message.id
    return out


def mixed_batch() -> list[bytes]:
    alice, bob = chain(ALICE, 6), chain(BOB, 4)
    fork = chain(BOB, 3, tag="other ")[2]  # a second bob seq 3: fork evidence
    bad = bytearray(alice[5].raw)
    bad[10] ^= 0xFF
    return [
        alice[0].raw,
        bob[0].raw,
        b"junk",
        alice[1].raw,
        alice[1].raw,  # duplicate within the batch
        bob[1].raw,
        bytes(bad),  # bad signature
        bob[2].raw,
        fork.raw,
        alice[3].raw,  # seq 4 before 3: a gap, still stored
        alice[2].raw,
        bob[3].raw,
    ]


def same_report(a: IngestReport, b: IngestReport) -> None:
    assert [m.id for m in a.accepted] == [m.id for m in b.accepted]
    assert a.duplicates == b.duplicates
    assert a.rejected == b.rejected
    assert a.forks == b.forks
