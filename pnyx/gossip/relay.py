"""Circuit Relay v2 on py-libp2p 0.8.1: a bounded relay service, reservations, circuit dials.

* ``BoundedRelay`` is py-libp2p's ``CircuitV2Protocol`` with the limits of
  ``pnyx.net.relaying.RelayLimits`` and two bounds py-libp2p lacks: reservations per IP address
  (a client's many identities from one machine take at most ``max_reservations_per_ip``) and
  circuits in all, per source peer, per source IP and per source IP and destination (py-libp2p
  bounds circuits only per reserved destination, so one machine could take all of a peer's).
  It always answers the *stop* protocol (so this node accepts circuits relayed to it); the *hop*
  protocol (serving as a relay) is switched on and off by ``set_hop`` (``relay = "auto"`` follows
  reachability).
* ``reserve`` asks a relay for a reservation on a fresh hop stream; ``circuit_addresses`` builds
  the ``/p2p-circuit`` addresses a reservation gives this node.
* ``dial_circuit`` dials ``.../p2p/RELAY/p2p-circuit/p2p/PEER`` through py-libp2p's
  ``CircuitV2Transport`` (``host.connect`` cannot: the relay transport is not in the swarm) and
  returns once the relayed connection is a connection of the swarm like any other.

Failure modes: ``reserve`` returns None and ``dial_circuit`` raises ``ConnectionError`` for any
network failure; the relay's handlers never raise into py-libp2p (the stream guard is a second
line, ``pnyx.gossip.guard``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import multiaddr
import trio
from libp2p.abc import IHost, INetStream
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo as Libp2pPeerInfo
from libp2p.relay.circuit_v2.config import RelayConfig, RelayRole
from libp2p.relay.circuit_v2.protocol import PROTOCOL_ID, CircuitV2Protocol
from libp2p.relay.circuit_v2.protocol_buffer import StatusCode
from libp2p.relay.circuit_v2.resources import RelayLimits as Libp2pRelayLimits
from libp2p.relay.circuit_v2.transport import CircuitV2Transport

from pnyx.gossip.dialback import close_quietly, remote_ip
from pnyx.net.relaying import RelayLimits

log = logging.getLogger(__name__)

#: Protocol id of the relay (hop) side of Circuit Relay v2.
HOP_PROTOCOL = PROTOCOL_ID

#: Longest a reservation exchange may take, in seconds.
RESERVE_TIMEOUT_S = 10.0
#: Longest a relayed dial may take (relay connection, hop, stop, Noise, yamux), in seconds.
CIRCUIT_DIAL_TIMEOUT_S = 15.0


class BoundedRelay(CircuitV2Protocol):
    """py-libp2p's relay protocol inside pnyx's limits (module docstring)."""

    def __init__(self, host: IHost, limits: RelayLimits) -> None:
        super().__init__(
            host,
            limits=Libp2pRelayLimits(
                duration=limits.circuit_duration_s,
                data=limits.circuit_bytes,
                max_circuit_conns=limits.max_circuits_per_peer,
                max_reservations=limits.max_reservations,
                reservation_ttl=limits.reservation_ttl_s,
            ),
            allow_hop=False,  # set_hop switches the hop handler (relay = "auto" | "on" | "off")
        )
        self.pnyx_limits = limits
        self.hop_on = False
        self._reservation_ip: dict[ID, str] = {}
        self._circuit_counts: dict[tuple[object, ...], int] = {}
        self.circuits_peak = 0
        self.refused_reservations = 0
        self.refused_circuits = 0

    def set_hop(self, on: bool) -> None:
        """Serve (True) or stop serving (False) as a relay for others."""
        if on == self.hop_on:
            return
        self.hop_on = on
        if on:
            self.host.set_stream_handler(HOP_PROTOCOL, self._handle_hop_stream)
        else:
            self.host.remove_stream_handler(HOP_PROTOCOL)

    def protected_peers(self) -> set[str]:
        """Peers whose connection to this node carries the relay service: those holding a
        reservation and the sources of open circuits (a connection manager must not close
        them; their number is bounded by the limits)."""
        manager: Any = self.resource_manager
        manager._clean_expired()
        holders = {p.to_base58() for p in manager._reservations}
        sources = {str(k[1]) for k in self._circuit_counts if k[0] == "from"}
        return holders | sources

    def stats(self) -> dict[str, int]:
        """Reservations and circuits held now, and how many were refused by the limits."""
        manager: Any = self.resource_manager
        manager._clean_expired()
        return {
            "relay_reservations": len(manager._reservations),
            "relay_circuits": self._circuit_counts.get(("all",), 0),
            "relay_circuits_peak": self.circuits_peak,
            "relay_refused_reservations": self.refused_reservations,
            "relay_refused_circuits": self.refused_circuits,
        }

    async def _handle_reserve(self, stream: INetStream, msg: Any) -> None:
        peer = stream.muxed_conn.peer_id
        manager: Any = self.resource_manager
        manager._clean_expired()
        for gone in [p for p in self._reservation_ip if p not in manager._reservations]:
            del self._reservation_ip[gone]
        ip = remote_ip(self.host, stream) or "?"
        if peer not in self._reservation_ip:
            from_ip = sum(1 for other in self._reservation_ip.values() if other == ip)
            if from_ip >= self.pnyx_limits.max_reservations_per_ip:
                self.refused_reservations += 1
                await self._send_status(
                    stream, StatusCode.RESOURCE_LIMIT_EXCEEDED, "too many reservations from IP"
                )
                return
        before = manager.has_reservation(peer)
        await super()._handle_reserve(stream, msg)
        if manager.has_reservation(peer):
            self._reservation_ip[peer] = ip
        elif not before:
            self.refused_reservations += 1

    async def _handle_connect(self, stream: INetStream, msg: Any) -> None:
        source = stream.muxed_conn.peer_id
        ip = remote_ip(self.host, stream) or "?"
        try:
            target = ID(msg.peer.id).to_base58()
        except Exception:  # noqa: BLE001  a peer's bytes: py-libp2p answers it below
            target = "?"
        limits = self.pnyx_limits
        counts = self._circuit_counts
        keys = (("all",), ("from", source.to_base58()), ("ip", ip), ("ip-to", ip, target))
        caps = (
            limits.max_circuits,
            limits.max_circuits_per_peer,
            limits.max_circuits_per_ip,
            limits.max_circuits_per_ip_to_peer,
        )
        if any(counts.get(key, 0) >= cap for key, cap in zip(keys, caps, strict=True)):
            self.refused_circuits += 1
            await self._send_status(stream, StatusCode.RESOURCE_LIMIT_EXCEEDED, "relay is full")
            await close_quietly(stream, reset=True)
            return
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
        self.circuits_peak = max(self.circuits_peak, counts[("all",)])
        try:
            await super()._handle_connect(stream, msg)
        finally:
            for key in keys:
                left = counts[key] - 1
                if left:
                    counts[key] = left
                else:
                    del counts[key]


def new_transport(host: IHost, relay: BoundedRelay) -> CircuitV2Transport:
    """The client transport: dials circuits; never reserves by itself (``reserve`` does)."""
    return CircuitV2Transport(host, relay, RelayConfig(roles=RelayRole.STOP))


async def reserve(host: IHost, transport: CircuitV2Transport, relay: ID) -> float | None:
    """Reserve a slot on ``relay`` (connected already); its expiry (Unix seconds) or None."""
    stream: Any = None
    try:
        with trio.fail_after(RESERVE_TIMEOUT_S):
            stream = await host.new_stream(relay, [HOP_PROTOCOL])
            ok = await transport._make_reservation(stream, relay)
    except Exception as exc:  # noqa: BLE001  not a relay, refused, broken, timeout
        log.debug("reservation on %s failed: %r", relay, exc)
        return None
    finally:
        if stream is not None:
            await close_quietly(stream)
    if not ok:
        return None
    expires = transport._reservations.get(relay)
    return float(expires) if expires else time.time() + 600.0


def circuit_addresses(relay_addrs: list[str], relay: str) -> list[str]:
    """``/ADDR/p2p/RELAY/p2p-circuit`` for each direct TCP address of the relay."""
    result = []
    for text in relay_addrs:
        base = text.split("/p2p/")[0]
        parts = base.split("/")
        if len(parts) == 5 and parts[1] in ("ip4", "ip6") and parts[3] == "tcp":
            full = f"{base}/p2p/{relay}/p2p-circuit"
            if full not in result:
                result.append(full)
    return result


async def dial_circuit(host: IHost, transport: CircuitV2Transport, address: str) -> str:
    """Dial ``/.../p2p/RELAY/p2p-circuit/p2p/PEER``; the peer's id once connected.
    Raises ``ConnectionError`` (bad address, relay unreachable, refused, timeout)."""
    try:
        maddr = multiaddr.Multiaddr(address)
        relay_part, _, peer_part = address.partition("/p2p-circuit")
        relay_info = _peer_info(relay_part)
        peer = ID.from_base58(peer_part.removeprefix("/p2p/"))
    except Exception as exc:  # noqa: BLE001  multiaddr raises many types for bad text
        raise ConnectionError(f"not a relayed address (/p2p/R/p2p-circuit/p2p/P): {exc}") from None
    try:
        with trio.fail_after(CIRCUIT_DIAL_TIMEOUT_S):
            if not host.get_network().get_connections(relay_info.peer_id):
                await host.connect(relay_info)
            await transport.dial(maddr)
    except trio.TooSlowError:
        raise ConnectionError(f"no relayed connection in {CIRCUIT_DIAL_TIMEOUT_S:g} s") from None
    except ConnectionError:
        raise
    except Exception as exc:  # noqa: BLE001  py-libp2p has no single base class
        raise ConnectionError(f"relayed dial failed: {exc}") from None
    return str(peer.to_base58())


def _peer_info(address: str) -> Libp2pPeerInfo:
    from libp2p.peer.peerinfo import info_from_p2p_addr

    return info_from_p2p_addr(multiaddr.Multiaddr(address))
