"""Can others dial this node? The verdict from dial-back answers, and the dial-back wire format.

Sans-I/O: plain data and functions, no trio, no sockets (the adapter in ``pnyx.gossip.dialback``
moves the bytes). docs/protocol.md, "Dial-back", is the normative text.

**Dial-back.** A node asks a peer it is connected to (directly, not through a relay) to open a
*fresh* TCP connection to the node's listen ports at the IP address the peer sees the request come
from. AutoNAT v1 in py-libp2p 0.8.1 reuses the existing connection for its dial-back, so every
check "succeeds"; a fresh connection is the point. The peer answers, per port, whether a libp2p
listener greeted it (the multistream-select header) within ``DIALBACK_TIMEOUT_S``. The peer dials
only the requester's own IP address, so the protocol cannot be used to make a node connect to a
third party.

**Verdict** (``ReachabilityTracker.status``): each peer's latest answer younger than
``OBSERVATION_TTL_S`` counts. Any success: ``reachable``. Failures from at least
``UNREACHABLE_CONFIRMATIONS`` distinct peers and no success: ``behind NAT``. Otherwise
``unknown``. A success wins because one peer that got through proves the port is open; one
failure alone can be that peer's own firewall.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import msgpack

#: Protocol id of the dial-back request.
DIALBACK_PROTOCOL: Final = "/pnyx/dialback/1.0.0"
#: Most ports one request names, a count.
MAX_DIALBACK_PORTS: Final = 4
#: Largest request or answer read, in bytes (a map of at most 4 small integers or booleans).
MAX_DIALBACK_MESSAGE_BYTES: Final = 64
#: How long the answering peer waits for the greeting on its fresh connection, in seconds.
DIALBACK_TIMEOUT_S: Final = 3.0
#: The greeting a libp2p listener sends first: multistream-select's header, length-prefixed.
MULTISTREAM_GREETING: Final = b"\x13/multistream/1.0.0\n"
#: How long one peer's answer counts, in seconds.
OBSERVATION_TTL_S: Final = 1800.0
#: Distinct peers whose dial-back must fail (with none succeeding) for "behind NAT", a count.
UNREACHABLE_CONFIRMATIONS: Final = 2
#: Most peers remembered by the tracker (the oldest answer is forgotten first), a count.
MAX_OBSERVATIONS: Final = 32


class Reachability(StrEnum):
    """What the node knows of its own reachability from outside."""

    REACHABLE = "reachable"
    BEHIND_NAT = "behind NAT"
    UNKNOWN = "unknown"


class DialbackError(ValueError):
    """A dial-back request or answer that does not follow docs/protocol.md ("Dial-back")."""


def encode_request(ports: list[int]) -> bytes:
    """The request naming ``ports`` (1..``MAX_DIALBACK_PORTS``, each 1..65535).
    Raises ``DialbackError`` for anything else."""
    if not 1 <= len(ports) <= MAX_DIALBACK_PORTS or not all(
        type(p) is int and 1 <= p <= 65535 for p in ports
    ):
        raise DialbackError(f"a dial-back request names 1..{MAX_DIALBACK_PORTS} TCP ports")
    return bytes(msgpack.packb({"ports": ports}))


def decode_request(data: bytes) -> list[int]:
    """The ports of a request; ``DialbackError`` for oversized, malformed or out-of-range ones."""
    value = _decode(data)
    ports = value.get("ports")
    if (
        not isinstance(ports, list)
        or not 1 <= len(ports) <= MAX_DIALBACK_PORTS
        or not all(type(p) is int and 1 <= p <= 65535 for p in ports)
        or len(value) != 1
    ):
        raise DialbackError("a dial-back request is {ports: [1..4 TCP ports]}")
    return list(dict.fromkeys(ports))  # a port named twice is dialled once


def encode_answer(results: list[bool]) -> bytes:
    """The answer: one boolean per port of the request, in its order."""
    return bytes(msgpack.packb({"ok": results}))


def decode_answer(data: bytes, ports: int) -> list[bool]:
    """The per-port results of an answer to a request of ``ports`` distinct ports."""
    value = _decode(data)
    results = value.get("ok")
    if (
        not isinstance(results, list)
        or len(results) != ports
        or not all(isinstance(r, bool) for r in results)
    ):
        raise DialbackError(f"a dial-back answer is {{ok: [{ports} booleans]}}")
    return results


def _decode(data: bytes) -> dict[object, object]:
    if len(data) > MAX_DIALBACK_MESSAGE_BYTES:
        raise DialbackError(f"dial-back message over {MAX_DIALBACK_MESSAGE_BYTES} bytes")
    try:
        value = msgpack.unpackb(data, strict_map_key=True, max_array_len=8, max_map_len=2)
    except Exception as exc:  # noqa: BLE001  msgpack raises many types for bad bytes
        raise DialbackError(f"dial-back message is not msgpack: {exc}") from None
    if not isinstance(value, dict):
        raise DialbackError("a dial-back message is a map")
    return value


@dataclass
class ReachabilityTracker:
    """Each peer's latest dial-back answer, and the verdict they add up to (module docstring)."""

    observations: dict[str, tuple[bool, float]] = field(default_factory=dict)

    def observe(self, peer_id: str, reachable: bool, now: float) -> None:
        """Record ``peer_id``'s answer at ``now`` (seconds, any monotonic clock)."""
        self.observations.pop(peer_id, None)
        self.observations[peer_id] = (reachable, now)
        while len(self.observations) > MAX_OBSERVATIONS:
            del self.observations[next(iter(self.observations))]

    def _fresh(self, now: float) -> list[bool]:
        """The answers younger than ``OBSERVATION_TTL_S``: the only ones that count."""
        return [ok for ok, at in self.observations.values() if now - at < OBSERVATION_TTL_S]

    def only_failures(self, now: float) -> bool:
        """Some answers count and none is a success (fewer may be too few for "behind NAT")."""
        fresh = self._fresh(now)
        return bool(fresh) and not any(fresh)

    def status(self, now: float) -> Reachability:
        """The verdict from the answers younger than ``OBSERVATION_TTL_S``."""
        fresh = self._fresh(now)
        if any(fresh):
            return Reachability.REACHABLE
        if len(fresh) >= UNREACHABLE_CONFIRMATIONS:
            return Reachability.BEHIND_NAT
        return Reachability.UNKNOWN

    def why(self, now: float) -> str:
        """The verdict's reason in words: "2 of 2 peers could not dial back" and the like."""
        fresh = self._fresh(now)
        ok = sum(fresh)
        peers = "peer" if len(fresh) == 1 else "peers"
        if ok:
            return f"{ok} of {len(fresh)} {peers} dialled back"
        if fresh:
            return f"{len(fresh)} of {len(fresh)} {peers} could not dial back"
        return "no peer has tried to dial back yet"
