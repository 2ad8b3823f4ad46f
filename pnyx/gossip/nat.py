"""Reach across NATs: reachability by dial-back, relay service and reservations, hole punching.

``NatService`` runs beside the host (``open_libp2p_network`` starts it) and every
``NAT_TICK_S`` (``NAT_FAST_TICK_S`` while the answer is unknown):

1. asks up to ``DIALBACK_PEERS_PER_TICK`` directly connected peers that speak dial-back
   (``pnyx.gossip.dialback``), each at most once per ``DIALBACK_ASK_INTERVAL_S``, to dial this
   node's listen ports afresh; ``pnyx.net.reachability.ReachabilityTracker`` turns the answers into
   "reachable", "behind NAT" or "unknown";
2. serves as a relay (``pnyx.gossip.relay.BoundedRelay``) when ``relay = "on"``, or when
   ``"auto"`` and reachable; never when ``"off"``;
3. behind NAT: runs the DHT in client mode (others' routing tables must not hold a node they
   cannot dial), and keeps reservations on ``RESERVATIONS_WANTED`` relays among its direct peers,
   renewing each ``RESERVATION_REFRESH_MARGIN_S`` before it expires and replacing a relay that
   went away; the reservations' ``/p2p-circuit`` addresses are announced wherever the host's
   addresses are (identify, DHT provider records, ``listen_addrs`` and so invites);
4. DCUtR (``pnyx.gossip.holepunch``) upgrades relayed connections to direct ones by itself.

Relays are found among the peers the node is connected to (the dialer connects to peers from the
peer book and the DHT) and, when those are not enough, in the DHT: a node serving as a relay
announces itself as a provider of ``RELAYS_DHT_KEY`` every ``RELAY_ANNOUNCE_S``, and a node behind
NAT short of relays looks that key up (at most every ``RELAY_LOOKUP_S``) and dials up to
``RELAY_DIALS_PER_LOOKUP`` of the relays found. A peer that refused a reservation is not asked
again for ``RELAY_RETRY_AFTER_S``. No relay is special: any reachable pnyx node is one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import multiaddr
import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.tools.anyio_service import background_trio_service

from pnyx.gossip.dialback import DialbackServer, ask_dialback
from pnyx.gossip.holepunch import HolePunch, is_public_address
from pnyx.gossip.relay import (
    HOP_PROTOCOL,
    BoundedRelay,
    circuit_addresses,
    dial_circuit,
    new_transport,
    reserve,
)
from pnyx.net.reachability import (
    DIALBACK_PROTOCOL,
    Reachability,
    ReachabilityTracker,
)
from pnyx.net.relaying import (
    RELAY_RETRY_AFTER_S,
    RESERVATION_REFRESH_MARGIN_S,
    RESERVATIONS_WANTED,
    RelayLimits,
)

log = logging.getLogger(__name__)

#: Time between two rounds of the NAT service once reachability is known, in seconds.
NAT_TICK_S: Final = 30.0
#: Time between two rounds while reachability is unknown, in seconds.
NAT_FAST_TICK_S: Final = 3.0
#: Shortest time between two dial-back requests to one peer, in seconds.
DIALBACK_ASK_INTERVAL_S: Final = 600.0
#: Peers asked for a dial-back in one round, a count.
DIALBACK_PEERS_PER_TICK: Final = 2
#: The 32 bytes under whose DHT key (``pnyx.gossip.dht.feed_key``) relays announce themselves.
RELAYS_DHT_KEY: Final = hashlib.sha256(b"/pnyx/relays/1").digest()
#: How often a relay announces itself in the DHT, in seconds.
RELAY_ANNOUNCE_S: Final = 1800.0
#: Shortest time between two DHT lookups for relays, in seconds.
RELAY_LOOKUP_S: Final = 120.0
#: Relays dialled after one lookup, at most, a count.
RELAY_DIALS_PER_LOOKUP: Final = 4


class NatService:
    """See the module docstring. ``mode`` is ``relay`` of the configuration."""

    def __init__(
        self,
        host: IHost,
        *,
        mode: str,
        limits: RelayLimits,
        set_dht_client: Callable[[bool], Any] | None = None,
        network: Any = None,
    ) -> None:
        self._host = host
        self._me = host.get_id()
        self.mode = mode
        self.tracker = ReachabilityTracker()
        self.relay = BoundedRelay(host, limits)
        self.transport = new_transport(host, self.relay)
        self.dialback = DialbackServer(host)
        self.holepunch = HolePunch(host)
        self._set_dht_client = set_dht_client
        self._network = network  # provide / find_providers / connect, for relays in the DHT
        self._announced_at: float | None = None
        self._looked_up_at: float | None = None
        self._dht_client = False
        self._asked: dict[ID, float] = {}
        self._not_relays: dict[ID, float] = {}
        #: relay peer -> (expiry in Unix seconds, its circuit addresses for this node)
        self.reservations: dict[ID, tuple[float, list[str]]] = {}

    # --- what the rest of the adapter reads ---------------------------------------------------

    def status(self) -> Reachability:
        return self.tracker.status(trio.current_time())

    def circuit_addrs(self) -> list[multiaddr.Multiaddr]:
        """The ``/p2p-circuit`` addresses of the current reservations (host ``addrs_factory``)."""
        return [multiaddr.Multiaddr(a) for _, addrs in self.reservations.values() for a in addrs]

    def view(self) -> dict[str, Any]:
        """The ``reachability`` part of ``pnyx status --json``."""
        now = trio.current_time()
        status = self.tracker.status(now)
        relays = sorted(p.to_base58() for p in self.reservations)
        shown = str(status)
        if status is Reachability.BEHIND_NAT:
            shown += f" (relayed via {', '.join(relays)})" if relays else " (no relay yet)"
        return {
            "status": str(status),
            "shown": shown,
            "why": self.tracker.why(now),
            "relays": relays,
            "circuit_addrs": [str(a) for a in self.circuit_addrs()],
            "relay_service": self.relay.hop_on,
            "relay_mode": self.mode,
            "dht_client": self._dht_client,
            **self.relay.stats(),
            "hole_punch_private_dropped": self.holepunch.dropped_private,
            "dialback_answered": self.dialback.answered,
            "dialback_refused": self.dialback.refused,
        }

    def protected_peers(self) -> set[str]:
        """Peers a connection manager must keep: our relays and those our relay serves."""
        return self.relay.protected_peers() | {p.to_base58() for p in self.reservations}

    async def dial(self, address: str) -> str:
        """Dial a ``/p2p-circuit`` address (``pnyx.gossip.relay.dial_circuit``)."""
        return await dial_circuit(self._host, self.transport, address)

    # --- the service ----------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        self.dialback.register()
        async with (
            background_trio_service(self.relay),
            background_trio_service(self.holepunch),
        ):
            self._apply_relay_mode()
            task_status.started()
            while True:
                try:
                    await self.tick()
                except (trio.Cancelled, KeyboardInterrupt):
                    raise
                except Exception:
                    log.exception("NAT round failed")
                known = self.status() is not Reachability.UNKNOWN
                await trio.sleep(NAT_TICK_S if known else NAT_FAST_TICK_S)

    async def tick(self) -> None:
        """One round (module docstring, steps 1-3)."""
        await self._ask_dialbacks()
        self._apply_relay_mode()
        status = self.status()
        behind = status is Reachability.BEHIND_NAT
        if self._set_dht_client is not None and behind != self._dht_client:
            self._dht_client = behind
            await self._set_dht_client(behind)
        await self._announce_relay()
        if behind or self._likely_behind():
            await self._keep_reservations()
            if len(self.reservations) < RESERVATIONS_WANTED:
                await self._find_relays()
        elif status is Reachability.REACHABLE and self.reservations:
            self.reservations.clear()  # direct addresses do; the relays' slots go back

    def _likely_behind(self) -> bool:
        """Unknown, but the only answers so far are failures (one peer is not proof enough for
        "behind NAT", but enough to look for relays: a reservation costs little)."""
        return self.tracker.only_failures(trio.current_time())

    def _apply_relay_mode(self) -> None:
        if self.mode == "on":
            self.relay.set_hop(True)
        elif self.mode == "off":
            self.relay.set_hop(False)
        else:
            self.relay.set_hop(self.status() is Reachability.REACHABLE)

    def _direct_peers(self) -> list[ID]:
        peers = []
        network: Any = self._host.get_network()
        for peer, held in list(network.connections.items()):
            for conn in held if isinstance(held, list) else [held]:
                addrs = [str(a) for a in conn.get_transport_addresses()]
                if addrs and not any("p2p-circuit" in a for a in addrs):
                    peers.append(peer)
                    break
        return peers

    def _protocols(self, peer: ID) -> list[str]:
        try:
            return [str(p) for p in self._host.get_peerstore().get_protocols(peer)]
        except Exception:  # noqa: BLE001  not identified yet
            return []

    def _speaks(self, peer: ID, protocol: str) -> bool:
        return protocol in self._protocols(peer)

    def _listen_ports(self) -> list[int]:
        ports = []
        for address in self._host.get_network().listeners.values():
            for maddr in address.get_addrs():
                try:
                    ports.append(int(maddr.value_for_protocol("tcp")))
                except Exception:  # noqa: BLE001  not TCP
                    continue
        return list(dict.fromkeys(ports))

    async def _ask_dialbacks(self) -> None:
        now = trio.current_time()
        ports = self._listen_ports()
        if not ports:
            return
        for peer, at in list(self._asked.items()):  # bounded: only the last interval's
            if now - at >= DIALBACK_ASK_INTERVAL_S:
                del self._asked[peer]
        for peer, until in list(self._not_relays.items()):
            if until <= now:
                del self._not_relays[peer]
        chosen: list[ID] = []
        for peer in self._direct_peers():
            if len(chosen) >= DIALBACK_PEERS_PER_TICK:
                break
            last = self._asked.get(peer)
            if last is not None and now - last < DIALBACK_ASK_INTERVAL_S:
                continue
            if self._speaks(peer, DIALBACK_PROTOCOL):
                self._asked[peer] = now
                chosen.append(peer)

        async def ask(peer: ID) -> None:
            answer = await ask_dialback(self._host, peer, ports)
            if answer is not None:
                self.tracker.observe(peer.to_base58(), answer, trio.current_time())

        async with trio.open_nursery() as nursery:  # at once: a failed dial-back waits 3 s
            for peer in chosen:
                nursery.start_soon(ask, peer)

    async def _keep_reservations(self) -> None:
        connected = set(self._direct_peers())
        now_unix = time.time()
        for relay, (expires, _) in list(self.reservations.items()):
            if relay not in connected or expires <= now_unix:
                del self.reservations[relay]
            elif expires - now_unix < RESERVATION_REFRESH_MARGIN_S:
                await self._reserve(relay)
        now = trio.current_time()
        for peer in connected:
            if len(self.reservations) >= RESERVATIONS_WANTED:
                break
            if peer in self.reservations or self._not_relays.get(peer, -1.0) > now:
                continue
            identified = self._protocols(peer)
            if identified and HOP_PROTOCOL not in identified and not self._retryable(peer):
                continue
            if not await self._reserve(peer):
                self._not_relays[peer] = now + RELAY_RETRY_AFTER_S

    async def _announce_relay(self) -> None:
        now = trio.current_time()
        if self._network is None or not self.relay.hop_on:
            self._announced_at = None
            return
        due = self._announced_at is None or now - self._announced_at >= RELAY_ANNOUNCE_S
        if due and await self._network.provide(RELAYS_DHT_KEY):  # else again next round
            self._announced_at = now

    async def _find_relays(self) -> None:
        now = trio.current_time()
        if self._network is None or (
            self._looked_up_at is not None and now - self._looked_up_at < RELAY_LOOKUP_S
        ):
            return
        self._looked_up_at = now
        connected = {p.to_base58() for p in self._direct_peers()}
        found = await self._network.find_providers(RELAYS_DHT_KEY, RELAY_DIALS_PER_LOOKUP * 2)
        dialled = 0
        for relay in found:
            if relay.peer_id in connected or dialled >= RELAY_DIALS_PER_LOOKUP:
                continue
            for address in relay.addresses:
                if "p2p-circuit" in address:
                    continue
                try:
                    await self._network.connect(address)
                except Exception as exc:  # noqa: BLE001  a dead relay is the common case
                    log.debug("relay %s from the DHT did not answer: %r", relay.peer_id, exc)
                    continue
                dialled += 1
                break
        if dialled:
            await self._keep_reservations()

    def _retryable(self, peer: ID) -> bool:
        # identify ran when the connection opened; a peer that turned its relay on later
        # (relay = "auto" once it found itself reachable) is still worth one try
        return peer not in self._not_relays

    async def _reserve(self, relay: ID) -> bool:
        expires = await reserve(self._host, self.transport, relay)
        if expires is None:
            self.reservations.pop(relay, None)
            return False
        addrs = [
            str(a)
            for conn in _conns(self._host, relay)
            for a in conn.get_transport_addresses()
            if "p2p-circuit" not in str(a)
        ]
        addrs += [str(a) for a in self._host.get_peerstore().addrs(relay)]
        public = [a for a in addrs if is_public_address(a)] or addrs
        self.reservations[relay] = (expires, circuit_addresses(public, relay.to_base58()))
        log.info("reservation on relay %s until %d", relay, int(expires))
        return True


def _conns(host: IHost, peer: ID) -> list[Any]:
    conns: Any = getattr(host.get_network(), "connections", {}).get(peer, [])
    return conns if isinstance(conns, list) else [conns]


class NatMixin:
    """The NAT methods of ``pnyx.gossip.adapter.Libp2pNetwork`` (``pnyx.net.contracts.Network``)."""

    _nat: NatService | None = None

    def reachability(self) -> dict[str, Any]:
        if self._nat is None:
            return {"status": str(Reachability.UNKNOWN), "shown": "unknown", "relays": []}
        return self._nat.view()

    def protected_peers(self) -> frozenset[str]:
        return frozenset() if self._nat is None else frozenset(self._nat.protected_peers())

    async def _connect_circuit(self, address: str) -> str:
        from pnyx.net.contracts import ConnectError

        if self._nat is None:
            raise ConnectError("relayed addresses need the NAT service (not started)")
        try:
            return await self._nat.dial(address)
        except ConnectionError as exc:
            raise ConnectError(f"cannot connect through the relay: {exc}") from None


def announce_circuits(host: IHost, network: NatMixin) -> None:
    """Add the ``/p2p-circuit`` addresses of ``network``'s reservations to ``host.get_addrs()``
    (what identify, the DHT's provider records and ``listen_addrs`` announce). Not through
    ``addrs_factory``: py-libp2p 0.8.1 strips everything from the first ``/p2p/`` of each address
    the factory returns, which would turn ``RELAY_ADDR/p2p/RELAY/p2p-circuit`` into the relay's
    own address."""
    original = host.get_addrs
    me = host.get_id().to_base58()

    def get_addrs() -> list[multiaddr.Multiaddr]:
        nat = network._nat
        circuits = nat.circuit_addrs() if nat is not None else []
        return [*original(), *(a.encapsulate(multiaddr.Multiaddr(f"/p2p/{me}")) for a in circuits)]

    host.get_addrs = get_addrs  # type: ignore[method-assign]
