"""Invites: one checksummed text holding a user's key, a petname and where their node listens.

An invite is bech32m (BIP-350) under the human-readable part ``pnyxinv`` over this payload
(normative: docs/protocol.md, "Invites")::

    version   1 byte        INVITE_VERSION (1)
    key       32 bytes      the user's Ed25519 public key (what ``pnyx1...`` text holds)
    name_len  1 byte        0..MAX_PETNAME_BYTES; 0: no petname
    name      name_len      the petname the inviter suggests, UTF-8
    count     1 byte        0..MAX_INVITE_ADDRESSES
    count x   1 byte L (1..MAX_ADDRESS_BYTES), then L bytes: a binary multiaddr ending in /p2p/ID

Nothing may follow the last address. BIP-173's 90-character limit is lifted: an invite is at
most ``MAX_INVITE_CHARS`` characters. The checksum's guarantee (every error of up to 4 characters
is detected) holds up to 89 characters only; beyond, a corruption passes the checksum with
probability about 2^-30, and the strict reading of the fields refuses most of those too.

``parse_invite`` raises ``BadInviteError`` (a ``UserError``) with a one-line reason: wrong prefix,
bad checksum, truncated, unknown version, too many addresses, a bad address or petname, trailing
bytes. ``encode_invite`` raises ``ValueError`` for input breaking a limit (a caller's bug).
``invite_addresses`` picks which addresses an invite carries. Pure functions, no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import multiaddr
import multiaddr.exceptions

from pnyx.core.limits import KEY_BYTES
from pnyx.crypto import bech32
from pnyx.crypto.keytext import KEY_HRP, WHITE_SPACE
from pnyx.errors import BadInviteError

#: Human-readable part of an invite.
INVITE_HRP: Final = "pnyxinv"
#: The format version this pnyx writes and reads.
INVITE_VERSION: Final = 1
#: Most addresses in an invite, a count (the peer book keeps 8 per peer too).
MAX_INVITE_ADDRESSES: Final = 8
#: Longest binary multiaddr in an invite, in bytes (a relayed address is ~90 bytes).
MAX_ADDRESS_BYTES: Final = 200
#: Longest petname, in bytes of UTF-8.
MAX_PETNAME_BYTES: Final = 64
#: Largest payload, in bytes: version, key, petname and the most addresses at their longest.
MAX_INVITE_BYTES: Final = (
    1 + KEY_BYTES + 1 + MAX_PETNAME_BYTES + 1 + MAX_INVITE_ADDRESSES * (1 + MAX_ADDRESS_BYTES)
)
#: Longest invite text, in characters: prefix, "1", the payload in 5-bit groups, the checksum.
MAX_INVITE_CHARS: Final = (
    len(INVITE_HRP) + 1 + (MAX_INVITE_BYTES * 8 + 4) // 5 + bech32.CHECKSUM_LENGTH
)

#: Address protocols naming a host by DNS name (assumed reachable: someone published the name).
_DNS_PROTOCOLS: Final = ("dns", "dns4", "dns6", "dnsaddr")


@dataclass(frozen=True, slots=True)
class Invite:
    """A parsed invite. ``addresses`` are multiaddr texts, each ending in ``/p2p/<peer id>``."""

    key: bytes
    petname: str | None
    addresses: tuple[str, ...]


def encode_invite(invite: Invite) -> str:
    """The ``pnyxinv1...`` text of ``invite``. Raises ``ValueError`` when the key is not 32 bytes,
    the petname is longer than ``MAX_PETNAME_BYTES``, there are more than
    ``MAX_INVITE_ADDRESSES`` addresses, or an address is not a multiaddr ending in /p2p/ID or
    longer than ``MAX_ADDRESS_BYTES``."""
    if len(invite.key) != KEY_BYTES:
        raise ValueError(f"a key is {KEY_BYTES} bytes, this is {len(invite.key)}")
    name = (invite.petname or "").encode()
    if len(name) > MAX_PETNAME_BYTES:
        raise ValueError(f"petname is {len(name)} bytes, at most {MAX_PETNAME_BYTES}")
    if len(invite.addresses) > MAX_INVITE_ADDRESSES:
        raise ValueError(f"{len(invite.addresses)} addresses, at most {MAX_INVITE_ADDRESSES}")
    payload = bytearray([INVITE_VERSION, *invite.key, len(name), *name, len(invite.addresses)])
    for text in invite.addresses:
        raw = _binary(text)
        if raw is None:
            raise ValueError(f"not a multiaddr: {text}")
        if not _ends_in_peer(multiaddr.Multiaddr(raw)):
            raise ValueError(f"address does not end in /p2p/ID: {text}")
        if len(raw) > MAX_ADDRESS_BYTES:
            raise ValueError(f"address is {len(raw)} bytes, at most {MAX_ADDRESS_BYTES}: {text}")
        payload += bytes([len(raw)]) + raw
    return bech32.encode_groups(
        INVITE_HRP, bech32.to_groups(bytes(payload)), max_length=MAX_INVITE_CHARS
    )


def parse_invite(text: str) -> Invite:
    """The invite written in ``text`` (surrounding white space trimmed; all one case).

    Raises ``BadInviteError`` naming what is wrong, in this order: not invite text or a wrong
    prefix (a ``pnyx1...`` key is named as such), longer than ``MAX_INVITE_CHARS``, mixed case or
    characters outside the alphabet, bad checksum, bad padding, unknown version, truncated (which
    field ends early), a petname over its limit or not UTF-8, too many addresses, an address
    that is empty, over ``MAX_ADDRESS_BYTES``, not a binary multiaddr or not ending in /p2p/ID,
    and bytes after the last address.
    """
    cleaned = text.strip(WHITE_SPACE)
    hrp, separator, _ = cleaned.rpartition("1")
    if not separator or not hrp:
        raise BadInviteError("not an invite: invite text starts with pnyxinv1")
    if hrp.lower() != INVITE_HRP:
        if hrp.lower() == KEY_HRP:
            raise BadInviteError("this is a key, not an invite: use `pnyx follow KEY`")
        shown = hrp.lower() if hrp.isascii() and hrp.isprintable() and len(hrp) <= 16 else "..."
        raise BadInviteError(f"wrong prefix {shown!r}, expected {INVITE_HRP!r}")
    if len(cleaned) > MAX_INVITE_CHARS:
        raise BadInviteError(f"too long: {len(cleaned)} characters, at most {MAX_INVITE_CHARS}")
    try:
        _, groups = bech32.decode_groups(cleaned, max_length=MAX_INVITE_CHARS)
        payload = bech32.from_groups(groups)
    except bech32.Bech32Error as exc:
        raise BadInviteError(_bech32_reason(exc)) from None
    return _read_payload(payload)


def _bech32_reason(exc: bech32.Bech32Error) -> str:
    if exc.problem == bech32.CHECKSUM:
        return "checksum does not match: a character is mistyped, missing or extra"
    if exc.problem == bech32.MIXED_CASE:
        return "mixes upper- and lowercase letters: invite text is all one case"
    if exc.problem in (bech32.CHARACTER, bech32.PRINTABLE):
        return f"not invite text: {exc}"
    if exc.problem == bech32.TOO_SHORT:
        return "truncated: shorter than its checksum"
    return f"not invite text: {exc}"


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int, what: str) -> bytes:
        if self.at + size > len(self.data):
            raise BadInviteError(f"truncated: the invite ends inside {what}")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk


def _read_payload(payload: bytes) -> Invite:
    reader = _Reader(payload)
    version = reader.take(1, "the version")[0]
    if version != INVITE_VERSION:
        raise BadInviteError(
            f"invite version {version} is unknown (this pnyx reads version {INVITE_VERSION}); "
            "a newer pnyx may read it"
        )
    key = reader.take(KEY_BYTES, "the key")
    name_len = reader.take(1, "the petname length")[0]
    if name_len > MAX_PETNAME_BYTES:
        raise BadInviteError(f"petname is {name_len} bytes, at most {MAX_PETNAME_BYTES}")
    try:
        petname = reader.take(name_len, "the petname").decode() or None
    except UnicodeDecodeError:
        raise BadInviteError("the petname is not UTF-8") from None
    count = reader.take(1, "the address count")[0]
    if count > MAX_INVITE_ADDRESSES:
        raise BadInviteError(f"too many addresses: {count}, at most {MAX_INVITE_ADDRESSES}")
    addresses = []
    for index in range(1, count + 1):
        size = reader.take(1, f"the length of address {index}")[0]
        if not 1 <= size <= MAX_ADDRESS_BYTES:
            raise BadInviteError(f"address {index} is {size} bytes, 1 to {MAX_ADDRESS_BYTES}")
        raw = reader.take(size, f"address {index}")
        shown = _text(raw)
        if shown is None:
            raise BadInviteError(f"address {index} is not a multiaddr")
        if not _ends_in_peer(multiaddr.Multiaddr(raw)):
            raise BadInviteError(f"address {index} does not end in /p2p/ID: it cannot be dialled")
        addresses.append(shown)
    if reader.at != len(payload):
        extra = len(payload) - reader.at
        raise BadInviteError(f"unexpected bytes after the last address ({extra})")
    return Invite(key=key, petname=petname, addresses=tuple(addresses))


def _binary(text: str) -> bytes | None:
    """The binary form of multiaddr ``text``, or None if it does not parse."""
    try:
        return bytes(multiaddr.Multiaddr(text).to_bytes())
    except (multiaddr.exceptions.Error, ValueError, TypeError):
        return None


def _text(raw: bytes) -> str | None:
    """The text of binary multiaddr ``raw``, or None unless it parses and writes back to exactly
    ``raw`` (multiaddr 0.2.0 reads some truncated components without complaint)."""
    try:
        text = str(multiaddr.Multiaddr(raw))
    except (multiaddr.exceptions.Error, ValueError, TypeError):
        return None
    return text if _binary(text) == raw else None


def _ends_in_peer(address: multiaddr.Multiaddr) -> bool:
    protocols = [p.name for p in address.protocols()]
    return len(protocols) >= 2 and protocols[-1] == "p2p"


def invite_addresses(addresses: Iterable[str], peer_id: str) -> tuple[list[str], str]:
    """Which of a node's ``addresses`` an invite carries, each ending in ``/p2p/<peer_id>``, and
    their kind: ``"public"``, ``"private"`` (LAN), ``"loopback"`` or ``"none"``.

    Public IP addresses and DNS names are kept; private (LAN, link-local, CGNAT) ones only when
    there is no public one, and loopback ones only when there is nothing else (a friend on the
    same machine, or a test). Unspecified (0.0.0.0, ::) and unparsable addresses are dropped.
    At most ``MAX_INVITE_ADDRESSES``, in the given order (among private ones, relayed
    ``/p2p-circuit`` addresses first), without repeats.
    """
    tiers: dict[str, list[str]] = {"public": [], "private": [], "loopback": []}
    suffix = f"/p2p/{peer_id}"
    for text in addresses:
        base = text.removesuffix(suffix)
        if "/p2p/" in base and "/p2p-circuit" not in base:
            continue  # another peer's address
        kind = _kind(base)
        full = base + suffix
        if kind is not None and full not in tiers[kind]:
            raw = _binary(full)
            if raw is not None and len(raw) <= MAX_ADDRESS_BYTES:
                tiers[kind].append(full)
    # A relayed address reaches a node behind NAT from anywhere; a private direct one only from
    # the same LAN: among private addresses, relayed ones go first (public direct ones stay first).
    tiers["private"].sort(key=lambda address: "/p2p-circuit" not in address)
    for kind, found in tiers.items():
        if found:
            return found[:MAX_INVITE_ADDRESSES], kind
    return [], "none"


def _kind(address: str) -> str | None:
    parts = address.split("/")
    if len(parts) < 3 or parts[0]:
        return None
    if parts[1] in _DNS_PROTOCOLS:
        return "public"
    if parts[1] not in ("ip4", "ip6"):
        return None
    try:
        ip = ipaddress.ip_address(parts[2])
    except ValueError:
        return None
    if ip.is_unspecified:
        return None
    if ip.is_loopback:
        return "loopback"
    return "public" if ip.is_global else "private"


#: Prefix of an Ed25519 libp2p peer id: identity multihash (0x00), 36 bytes (0x24), then the
#: protobuf PublicKey {Type: Ed25519 (0x08 0x01), Data: 32 bytes (0x12 0x20)}.
_ED25519_PEER_ID_PREFIX: Final = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
#: The binary /p2p/ component head: protocol code 421 as a varint, then the length, 38 bytes.
_P2P_HEAD: Final = bytes([0xA5, 0x03, 0x26])


def peer_id_of_key(key: bytes) -> str:
    """The libp2p peer id (base58 text) of a node whose Ed25519 public key is ``key``, computed
    without libp2p. Raises ``ValueError`` for a key that is not 32 bytes."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a key is {KEY_BYTES} bytes, this is {len(key)}")
    text = str(multiaddr.Multiaddr(_P2P_HEAD + _ED25519_PEER_ID_PREFIX + key))
    return text.removeprefix("/p2p/")
