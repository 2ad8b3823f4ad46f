"""Known-answer vectors (tests/vectors/messages.json): exact bytes, ids, signatures and verdicts.

The vectors are read as data, independently of the generator; one test checks that the committed
file is exactly what tests/vectors/make_vectors.py produces today.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from pnyx.core import canonical
from pnyx.core.chain import Neighbours, Placement, place
from pnyx.core.envelope import Message, decode, message_id, sign, validate
from pnyx.core.limits import SIGNATURE_DOMAIN
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.crypto.keytext import encode_public_key, parse_public_key
from pnyx.errors import BadKeyTextError

VECTORS_PATH = Path(__file__).parent / "vectors" / "messages.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
VALID: list[dict[str, Any]] = VECTORS["valid"]
INVALID: list[dict[str, Any]] = VECTORS["invalid"]
BY_NAME = {vector["name"]: vector for vector in VALID}


def from_json(value: Any) -> Any:
    """Undo the vectors' JSON convention: ``{"$bin": hex}`` is a byte string."""
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value


def message_of(name: str) -> Message:
    return decode(bytes.fromhex(BY_NAME[name]["envelope_hex"]))


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [vector["name"] for vector in vectors]


def test_file_is_current() -> None:
    from tests.vectors import make_vectors

    assert VECTORS_PATH.read_text(encoding="utf-8") == make_vectors.render(), (
        "messages.json is stale: run .venv/bin/python tests/vectors/make_vectors.py"
    )


def test_header() -> None:
    assert VECTORS["format"] == "pnyx-test-vectors"
    assert bytes.fromhex(VECTORS["signature_domain_hex"]) == SIGNATURE_DOMAIN == b"pnyx/msg/v1\0"


def test_coverage() -> None:
    kinds = {vector["fields"]["kind"] for vector in VALID}
    assert kinds >= {"post", "repost", "reaction", "follow", "unfollow", "profile", "delete"}
    assert "event" in kinds  # an unknown kind
    assert {"poll", "vote"} <= kinds
    assert any("parent" in vector["fields"]["body"] for vector in VALID)
    assert {vector["fields"]["seq"] for vector in VALID} >= {1, 2}
    reasons = {vector["reason"] for vector in INVALID}
    store_rules = {"fork", "broken-chain", "seq-too-far"}  # need the receiver's chain
    assert reasons == {reason.value for reason in Reason} - store_rules
    chain_reasons = {vector["reason"] for vector in VECTORS["chain"]}
    assert chain_reasons == {None, "fork", "broken-chain"}


@pytest.mark.parametrize("vector", VALID, ids=ids(VALID))
def test_signing_from_seed_reproduces_bytes(vector: dict[str, Any]) -> None:
    key = nacl.signing.SigningKey(bytes.fromhex(vector["seed_hex"]))
    assert bytes(key.verify_key).hex() == vector["public_key_hex"]
    assert encode_public_key(bytes(key.verify_key)) == vector["public_key_text"]
    fields = vector["fields"]
    assert fields["version"] == 1
    assert fields["author"] == vector["public_key_hex"]
    prev = None if fields["prev"] is None else bytes.fromhex(fields["prev"])
    message = sign(
        key,
        seq=fields["seq"],
        prev=prev,
        ts=fields["ts"],
        kind=fields["kind"],
        body=from_json(fields["body"]),
    )
    assert message.payload.hex() == vector["payload_hex"]
    assert message.signature.hex() == vector["signature_hex"]
    assert message.raw.hex() == vector["envelope_hex"]
    assert message.id.hex() == vector["id_hex"]


@pytest.mark.parametrize("vector", VALID, ids=ids(VALID))
def test_valid_vectors_validate(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["envelope_hex"])
    payload = bytes.fromhex(vector["payload_hex"])
    assert raw == bytes.fromhex(vector["signature_hex"]) + payload
    message = validate(raw, vector["now_ms"])
    fields = vector["fields"]
    assert message.author.hex() == fields["author"]
    assert (message.seq, message.ts, message.kind) == (fields["seq"], fields["ts"], fields["kind"])
    assert message.prev == (None if fields["prev"] is None else bytes.fromhex(fields["prev"]))
    assert message.body == from_json(fields["body"])
    assert message.id == message_id(payload) == bytes.fromhex(vector["id_hex"])
    assert canonical.unpack_exact(payload)[6] == from_json(fields["body"])


@pytest.mark.parametrize("vector", INVALID, ids=ids(INVALID))
def test_invalid_vectors_rejected(vector: dict[str, Any]) -> None:
    with pytest.raises(InvalidMessage) as info:
        validate(bytes.fromhex(vector["envelope_hex"]), vector["now_ms"])
    assert info.value.reason.value == vector["reason"]


def test_chain_links() -> None:
    assert message_of("second-post").prev == message_of("first-post").id
    assert message_of("reply").body["root"] == message_of("first-post").id
    assert message_of("nested-reply").body["parent"] == message_of("reply").id


def neighbours(stored: list[Message], new: Message) -> Neighbours:
    """What a store holding ``stored`` would report around ``new``."""
    mine = {m.seq: m for m in stored if m.author == new.author}
    same, before, after = mine.get(new.seq), mine.get(new.seq - 1), mine.get(new.seq + 1)
    return Neighbours(
        same_id=same.id if same else None,
        before_id=before.id if before else None,
        after_prev=after.prev if after else None,
    )


@pytest.mark.parametrize("vector", VECTORS["chain"], ids=ids(VECTORS["chain"]))
def test_chain_vectors(vector: dict[str, Any]) -> None:
    stored = [message_of(name) for name in vector["stored"]]
    new = message_of(vector["new"])
    verdict = place(new, neighbours(stored, new))
    assert verdict.placement is Placement(vector["placement"])
    expected = vector["reason"]
    assert verdict.reason == (None if expected is None else Reason(expected))


@pytest.mark.parametrize("vector", VECTORS["imports"], ids=ids(VECTORS["imports"]))
def test_import_vectors(vector: dict[str, Any], tmp_path: Path) -> None:
    """An import places records in (author, seq, id) order, not file order (protocol.md)."""
    from pnyx.store import Store
    from pnyx.store.importorder import in_placement_order

    raws = {name: message_of(name).raw for name in vector["file_order"]}
    order = list(in_placement_order(raws[name] for name in vector["file_order"]))
    names = [vector["file_order"][position] for position, _ in order]
    assert names == vector["placed"]
    with Store.open(tmp_path / "s.db") as store:
        report = store.ingest([raw for _, raw in order], max(v["now_ms"] for v in VALID))
    accepted = {m.id for m in report.accepted}
    assert accepted == {message_of(name).id for name in vector["accepted"]}
    assert report.rejected == []


@pytest.mark.parametrize("vector", VECTORS["keytext"], ids=lambda v: v["key_hex"][:8])
def test_keytext_vectors(vector: dict[str, str]) -> None:
    key = bytes.fromhex(vector["key_hex"])
    assert encode_public_key(key) == vector["text"]
    assert parse_public_key(vector["text"]) == key
    assert parse_public_key(vector["text"].upper()) == key


KEYTEXT_MESSAGES = {
    "checksum": "checksum does not match",
    "wrong-prefix": "wrong prefix 'npub'",
    "length": "a key is 32 bytes, this is 31",
    "hex-length": "a key is 64 hex digits, this is 63",
    "mixed-case": "mixes upper- and lowercase",
    "not-key-text": "not hex or pnyx1... text",
    "character-at-10": r"character 'b' \(position 10\)",
}


@pytest.mark.parametrize("vector", VECTORS["keytext_read"], ids=lambda v: v["note"])
def test_keytext_read_vectors(vector: dict[str, str]) -> None:
    assert parse_public_key(vector["text"]) == bytes.fromhex(vector["key_hex"])


@pytest.mark.parametrize("vector", VECTORS["keytext_invalid"], ids=lambda v: v["error"])
def test_keytext_invalid_vectors(vector: dict[str, str]) -> None:
    with pytest.raises(BadKeyTextError, match=KEYTEXT_MESSAGES[vector["error"]]):
        parse_public_key(vector["text"])
