"""What a node offers as a Circuit Relay v2 relay, and what it asks of relays: settings and limits.

Sans-I/O: plain data. ``pnyx.gossip.relay`` enforces the limits; ``pnyx.app.config`` reads them
from ``config.toml`` (``relay`` and ``[node.relay_limits]``); docs/architecture.md, "NAT and
relays", explains each default and compares it with go-libp2p's.

``relay`` is ``"auto"`` (serve as a relay while dial-back says this node is reachable), ``"on"``
(always, for a node the user knows is public) or ``"off"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Accepted values of ``relay``.
RELAY_MODES: Final = ("auto", "on", "off")
#: Relays an unreachable node keeps a reservation on, a count.
RESERVATIONS_WANTED: Final = 2
#: A reservation is renewed when less than this remains of it, in seconds.
RESERVATION_REFRESH_MARGIN_S: Final = 300.0
#: A peer that refused a reservation (or is no relay) is not asked again for this long, in seconds.
RELAY_RETRY_AFTER_S: Final = 600.0


@dataclass(frozen=True, slots=True)
class RelayLimits:
    """Limits of the relay service (each a named, configurable bound)."""

    #: Reservations held at once, from all peers, a count.
    max_reservations: int = 128
    #: Reservations held at once for peers connecting from one IP address, a count.
    max_reservations_per_ip: int = 4
    #: How long one reservation lasts before it must be renewed, in seconds.
    reservation_ttl_s: int = 3600
    #: Circuits relayed at once, in all, a count.
    max_circuits: int = 64
    #: Circuits at once to one reserved peer, and from one source peer, a count.
    max_circuits_per_peer: int = 8
    #: Circuits at once from one IP address (all its identities), a count.
    max_circuits_per_ip: int = 16
    #: Circuits at once from one IP address to one reserved peer, a count (so the identities of
    #: one machine cannot take all of a peer's ``max_circuits_per_peer``).
    max_circuits_per_ip_to_peer: int = 2
    #: Longest one circuit lives, in seconds (then both ends reconnect or go direct).
    circuit_duration_s: int = 1800
    #: Bytes one circuit carries in both directions together before it is closed.
    circuit_bytes: int = 64 * 1024 * 1024


DEFAULT_RELAY_LIMITS: Final = RelayLimits()
#: Names of the ``[node.relay_limits]`` keys, with the lowest and highest value accepted.
RELAY_LIMIT_RANGES: Final = {
    "max_reservations": (0, 100_000),
    "max_reservations_per_ip": (0, 10_000),
    "reservation_ttl_s": (60, 86_400),
    "max_circuits": (0, 100_000),
    "max_circuits_per_peer": (1, 1_000),
    "max_circuits_per_ip": (1, 100_000),
    "max_circuits_per_ip_to_peer": (1, 1_000),
    "circuit_duration_s": (10, 86_400),
    "circuit_bytes": (4096, 1 << 40),
}
