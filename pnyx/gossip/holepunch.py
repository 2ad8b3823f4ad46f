"""DCUtR hole punching (``/libp2p/dcutr``) on py-libp2p 0.8.1, with pnyx's two corrections.

py-libp2p's ``DCUtRProtocol`` upgrades a relayed connection to a direct one: both sides exchange
the addresses they are seen at (identify's observed addresses), dial each other at the same
moment from their listen ports, and once a direct connection verifies, the relayed one is closed
after a grace period (``RELAY_CLOSE_GRACE_PERIOD``, 60 s; new streams use the direct one at once).
It drives the upgrade itself for every relayed connection it sees (every 2 s).

Corrections (../shared/NAT-NOTES.md, measured in network namespaces):

* the peer's private addresses (RFC 1918, CGNAT, loopback, link-local, unique-local) are dropped
  before dialling: behind two different NATs they never answer, and each cost a full dial timeout;
* the dial timeout is ``HOLE_PUNCH_DIAL_TIMEOUT_S`` instead of 10 s.

Through a port-randomising NAT the punch fails (after its attempts) and traffic stays on the relay.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Final

from libp2p.abc import IHost
from libp2p.relay.circuit_v2.dcutr import DCUtRProtocol
from multiaddr import Multiaddr

log = logging.getLogger(__name__)

#: Timeout of one hole-punch dial, in seconds (py-libp2p's default is 10).
HOLE_PUNCH_DIAL_TIMEOUT_S: Final = 3


def is_public_address(address: Multiaddr | str) -> bool:
    """Whether an ``/ip4|ip6/...`` address is globally routable (not private, loopback, CGNAT,
    link-local or unique-local). DNS names count as public; anything else does not."""
    parts = str(address).split("/")
    if len(parts) < 3:
        return False
    if parts[1] in ("dns", "dns4", "dns6", "dnsaddr"):
        return True
    if parts[1] not in ("ip4", "ip6"):
        return False
    try:
        ip = ipaddress.ip_address(parts[2])
    except ValueError:
        return False
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
        return False
    if ip.version == 4 and (ip in _CGNAT or any(ip in net for net in _PRIVATE_V4_NETS)):
        return False
    return not (ip.version == 6 and ip in _UNIQUE_LOCAL_V6)


_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL_V6 = ipaddress.ip_network("fc00::/7")
# RFC 1918 only: ``is_private`` would also call the documentation ranges (TEST-NET) private,
# which the namespace tests use as their "public" segment.
_PRIVATE_V4 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
_PRIVATE_V4_NETS = tuple(ipaddress.ip_network(n) for n in _PRIVATE_V4)


class HolePunch(DCUtRProtocol):
    """py-libp2p's DCUtR with private addresses dropped and a short dial timeout."""

    def __init__(self, host: IHost) -> None:
        super().__init__(host, dial_timeout=HOLE_PUNCH_DIAL_TIMEOUT_S)
        self.dropped_private = 0

    def _decode_observed_addrs(self, addr_bytes: list[bytes]) -> list[Multiaddr]:
        decoded: list[Multiaddr] = super()._decode_observed_addrs(addr_bytes)
        kept = [a for a in decoded if is_public_address(a)]
        self.dropped_private += len(decoded) - len(kept)
        return kept
