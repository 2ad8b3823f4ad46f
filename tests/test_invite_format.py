"""Invite text (docs/protocol.md, "Invites"): vectors, round trips, every parse error, limits,
and which addresses an invite carries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pnyx.crypto import bech32
from pnyx.crypto.invite import (
    INVITE_HRP,
    MAX_ADDRESS_BYTES,
    MAX_INVITE_ADDRESSES,
    MAX_INVITE_CHARS,
    MAX_PETNAME_BYTES,
    Invite,
    encode_invite,
    invite_addresses,
    parse_invite,
)
from pnyx.errors import BadInviteError, UserError
from tests.vectors import make_invite_vectors

VECTORS = json.loads(Path(make_invite_vectors.OUTPUT).read_text(encoding="utf-8"))
PEER = make_invite_vectors.PEER
ADDRESS = f"/ip4/203.0.113.7/tcp/4717/p2p/{PEER}"


def test_committed_vectors_are_what_the_generator_makes() -> None:
    assert make_invite_vectors.build() == VECTORS


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vector(vector: dict[str, object]) -> None:
    invite = parse_invite(str(vector["text"]))
    assert invite.key.hex() == vector["key"]
    assert invite.petname == vector["petname"]
    assert list(invite.addresses) == vector["addresses"]
    assert encode_invite(invite) == vector["text"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vector(vector: dict[str, str]) -> None:
    with pytest.raises(BadInviteError) as caught:
        parse_invite(vector["text"])
    assert str(caught.value) == vector["error"]
    assert isinstance(caught.value, UserError)
    assert "\n" not in str(caught.value)


def test_every_error_class_has_a_vector() -> None:
    names = {v["name"] for v in VECTORS["invalid"]}
    for wanted in ("bad checksum", "wrong prefix", "unknown version", "too many addresses"):
        assert wanted in names
    assert any(name.startswith("truncated") for name in names)


@settings(max_examples=50, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    petname=st.none() | st.text(min_size=1, max_size=16),
    count=st.integers(0, MAX_INVITE_ADDRESSES),
    port=st.integers(1, 65535),
)
def test_round_trip(key: bytes, petname: str | None, count: int, port: int) -> None:
    addresses = tuple(f"/ip4/198.51.100.{i}/tcp/{port}/p2p/{PEER}" for i in range(count))
    invite = Invite(key, petname, addresses)
    text = encode_invite(invite)
    assert text.startswith(INVITE_HRP + "1")
    assert parse_invite(text) == invite
    assert parse_invite(f"  {text.upper()}\n") == invite


def test_largest_invite_fits_the_character_limit() -> None:
    # 47 bytes: protocol codes, lengths, port and peer id; 153: the "a" labels and dots
    host = ".".join(["a" * 50] * 3) + "." + "b" * (MAX_ADDRESS_BYTES - 47 - 153)
    long_dns = f"/dns4/{host}/tcp/1/p2p/{PEER}"
    invite = Invite(bytes(32), "é" * (MAX_PETNAME_BYTES // 2), (long_dns,) * MAX_INVITE_ADDRESSES)
    text = encode_invite(invite)
    assert len(text) <= MAX_INVITE_CHARS
    assert parse_invite(text) == invite


def test_too_long_text_is_refused_before_decoding() -> None:
    text = INVITE_HRP + "1" + "q" * MAX_INVITE_CHARS
    with pytest.raises(BadInviteError, match="too long"):
        parse_invite(text)


@pytest.mark.parametrize("text", ["", "hello", "1abc", "pnyxinv1"])
def test_not_invite_text(text: str) -> None:
    with pytest.raises(BadInviteError):
        parse_invite(text)


def test_every_single_character_change_is_caught() -> None:
    text = VECTORS["valid"][1]["text"]
    start = len(INVITE_HRP) + 1
    for index in range(start, len(text)):
        for char in "qpz":
            if text[index] != char:
                changed = text[:index] + char + text[index + 1 :]
                with pytest.raises(BadInviteError):
                    parse_invite(changed)


@pytest.mark.parametrize(
    ("invite", "message"),
    [
        (Invite(bytes(31), None, ()), "a key is 32 bytes"),
        (Invite(bytes(32), "x" * (MAX_PETNAME_BYTES + 1), ()), "petname is 65 bytes"),
        (Invite(bytes(32), None, (ADDRESS,) * (MAX_INVITE_ADDRESSES + 1)), "9 addresses"),
        (Invite(bytes(32), None, ("/ip4/1.2.3.4/tcp/1",)), "does not end in /p2p/ID"),
        (Invite(bytes(32), None, ("not an address",)), "not a multiaddr"),
    ],
)
def test_encode_refuses_what_breaks_a_limit(invite: Invite, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_invite(invite)


def test_bech32_keeps_its_limit_for_keys() -> None:
    with pytest.raises(ValueError, match="limit 90"):
        bech32.encode("pnyx", bytes(64))


def test_addresses_prefer_public_then_private_then_loopback() -> None:
    public = "/ip4/93.184.215.14/tcp/4717"  # 203.0.113.0/24 (documentation) is not global
    lan = "/ip4/192.168.1.5/tcp/4717"
    loop = "/ip4/127.0.0.1/tcp/4717"
    unspecified = "/ip4/0.0.0.0/tcp/4717"
    chosen, kind = invite_addresses([loop, lan, public, f"{public}/p2p/{PEER}"], PEER)
    assert (chosen, kind) == ([f"{public}/p2p/{PEER}"], "public")
    assert invite_addresses([loop, lan], PEER) == ([f"{lan}/p2p/{PEER}"], "private")
    assert invite_addresses([loop, unspecified], PEER) == ([f"{loop}/p2p/{PEER}"], "loopback")
    assert invite_addresses([unspecified, "/memory/1"], PEER) == ([], "none")
    dns = f"/dns4/pnyx.example.org/tcp/1/p2p/{PEER}"
    assert invite_addresses([dns], PEER) == ([dns], "public")


def test_addresses_drop_other_peers_and_keep_the_limit() -> None:
    other = "12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE"
    assert invite_addresses([f"/ip4/93.184.215.14/tcp/1/p2p/{other}"], PEER) == ([], "none")
    many = [f"/ip4/93.184.215.{i}/tcp/1" for i in range(20)]
    chosen, _ = invite_addresses(many, PEER)
    assert len(chosen) == MAX_INVITE_ADDRESSES


#: Multiaddr protocol codes (as varints) that start the random addresses below: ip4, ip6, tcp,
#: dns4, dns6, dnsaddr, p2p, p2p-circuit, udp, quic-v1, unix, and one unknown code.
_CODES = [b"\x04", b"\x29", b"\x06", b"\x36", b"\x37", b"\x38", b"\xa5\x03", b"\xa2\x02"]
_CODES += [b"\x91\x02", b"\xcc\x03", b"\x90\x03", b"\x77"]
_PIECES = st.lists(
    st.tuples(st.sampled_from(_CODES), st.binary(max_size=40)).map(lambda p: p[0] + p[1]),
    max_size=4,
).map(b"".join)


@settings(max_examples=max(500, settings().max_examples), deadline=None)
@given(st.binary(max_size=120) | _PIECES, st.integers(0, 3))
def test_any_checksummed_payload_parses_or_is_refused_in_words(tail: bytes, count: int) -> None:
    """Random bytes where the addresses go: an invite, or ``BadInviteError``, never anything else
    (multiaddr's binary reader is lenient and raises assorted exceptions)."""
    payload = bytes([1, *bytes(32), 0, count, len(tail), *tail])
    text = bech32.encode_groups(INVITE_HRP, bech32.to_groups(payload), max_length=10_000)
    try:
        invite = parse_invite(text)
    except BadInviteError:
        return
    assert encode_invite(invite) == text
