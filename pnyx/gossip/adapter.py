"""The one libp2p adapter: a py-libp2p host with gossipsub behind ``pnyx.net.contracts.Network``.

Stack (docs/architecture.md): TCP, Noise only (plaintext and secio are refused because they are not
offered), yamux, gossipsub offering ``/meshsub/1.1.0`` and ``/meshsub/1.0.0`` (1.2 costs ~2.5x the
throughput in py-libp2p 0.8.1), one topic, identify. Messages are signed by the publishing node
(StrictSign, the libp2p default, so go/js/rust peers accept them); the gossip message id is the
BLAKE2b-256 of the data (``frame_id``), so one frame relayed by many peers is seen once.

py-libp2p 0.8.1 traps handled here (LIBP2P-NOTES.md):

* heartbeat 120 s and spam protection (10 msgs/s) by default: set to 1 s and off;
* per-peer outbound queues of 32 RPCs drop silently when full: ``publish`` waits while any queue
  is above ``PUBLISH_QUEUE_HIGH_WATER`` (bounded by ``PUBLISH_MAX_WAIT_S``);
* the subscription channel (32) drops silently: a task moves frames at once into ``received``;
* a raising sync validator kills pubsub, and a refusal always costs the forwarder score: pnyx
  validates in ``DedupPubsub`` with three outcomes, any exception of ours is an IGNORE (logged);
* the dial negative cache refuses a peer for 60 s after a failed dial: ``unblock_peer`` first;
* ``host.disconnect`` can hang on a stalled peer: every disconnect has a timeout;
* an error escaping a stream handler stops the host: ``pnyx.gossip.guard`` contains every one;
* pubsub and gossipsub services run outside ``host.run()`` so the network closes first;
* a frame relayed by several peers at once was validated once per copy (the seen cache is updated
  only after validation): ``pnyx.gossip.pubsub.DedupPubsub`` handles one copy at a time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetStream
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.tools.anyio_service import background_trio_service

from pnyx.core.frame import MAX_GOSSIP_FRAME_BYTES
from pnyx.errors import UserError
from pnyx.gossip.addresses import (
    direction_of,
    innermost_reason,
    parse_listen,
    remote_address,
    shown_addresses,
)
from pnyx.gossip.bounds import forget_departed, release_memory
from pnyx.gossip.dht import announced_addrs  # discovery
from pnyx.gossip.finding import FindingMixin, start_finding  # discovery
from pnyx.gossip.guard import GuardedMixin, guard_streams
from pnyx.gossip.identity import key_pair_from_seed
from pnyx.gossip.mesh import new_pubsub
from pnyx.gossip.muxer import (
    BoundedYamux,
    bound_outbound_queues,
    bound_receive_windows,
    queues_full,
)
from pnyx.gossip.nat import NatMixin, NatService, announce_circuits  # NAT reach
from pnyx.gossip.notifee import ConnectionNotifee
from pnyx.gossip.streams import Libp2pStream
from pnyx.net.contracts import (
    FRAME_ORIGIN,
    POSTS_TOPIC,
    ByteStream,
    ConnectError,
    PeerEvent,
    PeerInfo,
    Received,
    StreamHandler,
    Validator,
    Verdict,
)
from pnyx.net.relaying import DEFAULT_RELAY_LIMITS, RelayLimits

log = logging.getLogger(__name__)

#: Dial timeout of ``connect``, in seconds.
CONNECT_TIMEOUT_S = 10.0
#: Timeout of ``disconnect`` (py-libp2p can hang > 15 s on a stalled peer), in seconds.
DISCONNECT_TIMEOUT_S = 2.0
#: Timeout for opening a stream of another protocol, in seconds.
OPEN_STREAM_TIMEOUT_S = 10.0
#: ``publish`` waits while any peer's outbound queue (32 RPCs in py-libp2p) holds this many.
PUBLISH_QUEUE_HIGH_WATER = 24
#: Longest ``publish`` waits for queue room before sending anyway, in seconds.
PUBLISH_MAX_WAIT_S = 2.0
#: How often ``publish`` looks at the queues while waiting, in seconds.
PUBLISH_POLL_S = 0.005
#: Depth of the ``received`` and ``events`` channels, a count (frames are <= 256 KiB each).
CHANNEL_DEPTH = 64
#: How often expired bans are lifted, in seconds.
BAN_SWEEP_S = 5.0
#: What py-libp2p raises when a dial, stream or listener fails (it has no single base class).
LIBP2P_ERRORS: tuple[type[Exception], ...] = (
    BaseLibp2pError,
    OSError,
    ValueError,
    multiaddr.exceptions.Error,  # a peer's address bytes that do not parse
    trio.BrokenResourceError,
    trio.ClosedResourceError,
)


class Libp2pNetwork(FindingMixin, GuardedMixin, NatMixin):  # discovery, guard, NAT reach
    """``pnyx.net.contracts.Network`` on py-libp2p; create it with ``open_libp2p_network``."""

    def __init__(self, host: IHost, pubsub: Pubsub, validator: Validator, topic: str) -> None:
        self._host = host
        self._pubsub = pubsub
        self._validator = validator
        self._topic = topic
        self._me = host.get_id()
        self._peer_id = self._me.to_base58()
        self._banned: dict[str, float] = {}
        self._connected: dict[str, PeerInfo] = {}
        self._received_send, self._received = trio.open_memory_channel[Received](CHANNEL_DEPTH)
        self._events_send, self._events = trio.open_memory_channel[PeerEvent](CHANNEL_DEPTH)
        self._nursery: trio.Nursery | None = None
        self.dropped_events = 0
        self._init_finding()  # discovery

    # --- Network interface ------------------------------------------------------------------

    @property
    def peer_id(self) -> str:
        return self._peer_id

    @property
    def received(self) -> trio.MemoryReceiveChannel[Received]:
        return self._received

    @property
    def events(self) -> trio.MemoryReceiveChannel[PeerEvent]:
        return self._events

    def listen_addrs(self) -> list[str]:
        return shown_addresses(str(a) for a in self._host.get_addrs())

    def peers(self) -> list[PeerInfo]:
        return [self._connected[p] for p in sorted(self._connected)]

    def topic_peers(self) -> list[str]:
        """Peers known to be subscribed to the topic (for tests and diagnostics)."""
        return sorted(p.to_base58() for p in self._pubsub.peer_topics.get(self._topic, set()))

    def mesh_peers(self) -> list[str]:
        """Peers in gossipsub's mesh for the topic (rebuilt at each heartbeat)."""
        mesh = getattr(self._pubsub.router, "mesh", {})
        return sorted(p.to_base58() for p in mesh.get(self._topic, set()))

    async def connect(self, address: str) -> str:
        if "/p2p-circuit" in address:  # NAT reach: through a relay (pnyx.gossip.nat)
            return await self._connect_circuit(address)
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(address))
        except Exception as exc:  # multiaddr raises many types for bad text
            raise UserError(f"not a usable address (need .../p2p/PEER_ID): {address}") from exc
        peer = info.peer_id.to_base58()
        if info.peer_id == self._me:
            raise UserError("that address is this node's own")
        if self._is_banned(peer):
            raise ConnectError(f"peer {peer} is banned for misbehaving")
        swarm: Any = self._host.get_network()
        swarm.unblock_peer(info.peer_id)  # forget earlier failed dials (60 s negative cache)
        if peer not in self._connected:
            # py-libp2p dials only the first stored TCP address: after the peer restarted on a
            # new port, an old address would win over the one the caller just gave.
            self._host.get_peerstore().clear_addrs(info.peer_id)
        try:
            with trio.fail_after(CONNECT_TIMEOUT_S):
                await self._host.connect(info)
        except trio.TooSlowError:
            raise ConnectError(f"no answer from {address} within {CONNECT_TIMEOUT_S:g} s") from None
        except LIBP2P_ERRORS as exc:
            raise ConnectError(f"cannot connect to {address}: {exc}") from None
        return peer

    async def disconnect(self, peer_id: str) -> None:
        with trio.move_on_after(DISCONNECT_TIMEOUT_S) as scope:
            try:
                await self._host.disconnect(ID.from_base58(peer_id))
            except LIBP2P_ERRORS as exc:
                log.debug("disconnecting %s: %r", peer_id, exc)
        if scope.cancelled_caught:
            log.debug("disconnecting %s timed out", peer_id)

    async def ban(self, peer_id: str, seconds: float) -> None:
        self._banned[peer_id] = trio.current_time() + seconds
        peer = ID.from_base58(peer_id)
        self._pubsub.add_to_blacklist(peer)
        self._host.get_peerstore().clear_addrs(peer)  # so the auto-connector does not redial
        await self.disconnect(peer_id)

    def banned(self) -> list[str]:
        return sorted(p for p in list(self._banned) if self._is_banned(p))

    def _is_banned(self, peer_id: str) -> bool:
        until = self._banned.get(peer_id)
        return until is not None and trio.current_time() < until

    async def publish(self, frame: bytes) -> None:
        if len(frame) > MAX_GOSSIP_FRAME_BYTES:  # larger messages would vanish in libp2p
            raise ValueError(f"frame of {len(frame)} bytes exceeds {MAX_GOSSIP_FRAME_BYTES}")
        deadline = trio.current_time() + PUBLISH_MAX_WAIT_S
        while queues_full(self._pubsub.peer_queues.values(), PUBLISH_QUEUE_HIGH_WATER, len(frame)):
            if trio.current_time() >= deadline:
                log.debug("publishing although a peer's queue stays full")
                break
            await trio.sleep(PUBLISH_POLL_S)
        await self._pubsub.publish(self._topic, frame)

    def set_stream_handler(self, protocol: str, handler: StreamHandler) -> None:
        async def serve(stream: INetStream) -> None:
            peer = stream.muxed_conn.peer_id.to_base58()
            wrapped = Libp2pStream(stream)
            try:
                await handler(wrapped, peer)
            except Exception:  # a handler bug must not reach libp2p's tasks
                log.exception("handler of %s failed for %s", protocol, peer)
            finally:
                await wrapped.close()

        self._host.set_stream_handler(protocol, serve)  # type: ignore[arg-type]

    async def open_stream(self, peer_id: str, protocol: str) -> ByteStream:
        if self._is_banned(peer_id):
            raise ConnectError(f"peer {peer_id} is banned for misbehaving")
        try:
            with trio.fail_after(OPEN_STREAM_TIMEOUT_S):
                stream = await self._host.new_stream(ID.from_base58(peer_id), [TProtocol(protocol)])
        except trio.TooSlowError:
            raise ConnectError(f"{peer_id} did not open a {protocol} stream in time") from None
        except LIBP2P_ERRORS as exc:
            raise ConnectError(f"cannot open a {protocol} stream to {peer_id}: {exc}") from None
        return Libp2pStream(stream)

    # --- libp2p callbacks -------------------------------------------------------------------

    async def _validate(self, forwarder: ID, message: rpc_pb2.Message) -> Verdict:
        if forwarder == self._me:
            return Verdict.ACCEPT  # our own frames, built from our own store
        token = FRAME_ORIGIN.set(ID(message.from_id).to_base58())  # signed: pubsub checked it
        try:
            return await self._validator(bytes(message.data), forwarder.to_base58())
        except Exception:  # must not escape into pubsub; a bug of ours: not the peer's fault
            log.exception("gossip validator raised (frame ignored)")
            return Verdict.IGNORE
        finally:
            FRAME_ORIGIN.reset(token)

    def _on_connected(self, conn: INetConn) -> None:
        peer = conn.muxed_conn.peer_id.to_base58()
        if self._is_banned(peer):
            if self._nursery is not None:
                self._nursery.start_soon(self.disconnect, peer)
            return
        info = PeerInfo(peer, direction_of(conn), remote_address(conn))
        if peer in self._connected:  # NAT reach: a direct connection beside a relayed one
            if "p2p-circuit" in (self._connected[peer].address or ""):
                self._connected[peer] = info
            return
        self._connected[peer] = info
        self._finding_peer_connected(self._nursery, conn.muxed_conn.peer_id)  # discovery
        self._emit(PeerEvent(info, connected=True))

    def _on_disconnected(self, conn: INetConn) -> None:
        peer_id = conn.muxed_conn.peer_id
        peer = peer_id.to_base58()
        remaining = [c for c in self._host.get_network().get_connections(peer_id) if c is not conn]
        if remaining and peer in self._connected:  # NAT reach: show what is left
            self._connected[peer] = PeerInfo(
                peer, direction_of(remaining[0]), remote_address(remaining[0])
            )
        if remaining or peer not in self._connected:
            return
        self._emit(PeerEvent(self._connected.pop(peer), connected=False))

    def _emit(self, event: PeerEvent) -> None:
        try:
            self._events_send.send_nowait(event)
        except trio.WouldBlock:
            self.dropped_events += 1

    async def _read_subscription(self, subscription: Any) -> None:
        while True:
            message = await subscription.get()
            origin = ID(message.from_id)
            if origin == self._me:
                continue
            await self._received_send.send(Received(bytes(message.data), origin.to_base58()))

    async def _lift_bans(self) -> None:
        while True:
            await trio.sleep(BAN_SWEEP_S)
            now = trio.current_time()
            for peer, until in list(self._banned.items()):
                if now >= until:
                    del self._banned[peer]
                    self._pubsub.remove_from_blacklist(ID.from_base58(peer))
            forget_departed(self._pubsub, self._pubsub.router, self._host, self._banned)
            release_memory()  # robustness: give a flood's peak back (pnyx.gossip.bounds)


@asynccontextmanager
async def open_libp2p_network(
    *,
    seed: bytes,
    listen: Sequence[str],
    validator: Validator,
    topic: str = POSTS_TOPIC,
    dht: bool = False,
    mdns: bool = False,
    dht_mode: str = "server",
    relay: str = "auto",
    relay_limits: RelayLimits = DEFAULT_RELAY_LIMITS,
) -> AsyncIterator[Libp2pNetwork]:
    """Start a libp2p host on ``listen`` with the identity of the Ed25519 ``seed``, joined to the
    gossip topic with ``validator``; stop it (network first) when the block exits.

    Raises ``UserError`` for bad listen addresses or a port already in use. ``dht`` and ``mdns``
    turn on discovery (``pnyx.gossip.finding``); ``relay`` and ``relay_limits`` set the NAT
    service (``pnyx.gossip.nat``).
    """
    listen_addrs = parse_listen(listen)
    bound_receive_windows()  # robustness: yamux windows stay at 256 KiB (pnyx.gossip.muxer)
    bound_outbound_queues()  # robustness: outbound gossip queues bounded in bytes
    key_pair = key_pair_from_seed(seed)
    host = new_host(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(key_pair, new_x25519_key_pair().private_key)},
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): BoundedYamux},  # robustness: bounded buffers
        connection_config=ConnectionConfig(
            max_connections_per_peer=2, min_connections=4, low_watermark=16, high_watermark=64
        ),
        addrs_factory=announced_addrs,  # discovery: never announce 0.0.0.0
    )
    gossipsub, pubsub = new_pubsub(host)
    network = Libp2pNetwork(host, pubsub, validator, topic)
    announce_circuits(host, network)  # NAT reach: relayed addresses announced
    network._guard = pubsub.guard = guard_streams(host)  # any bytes: the error stays in its stream
    host.get_network().register_notifee(
        ConnectionNotifee(network._on_connected, network._on_disconnected)
    )
    async with (
        background_trio_service(pubsub),
        background_trio_service(gossipsub),
        AsyncExitStack() as stack,
    ):
        try:
            await stack.enter_async_context(host.run(listen_addrs))
        except LIBP2P_ERRORS as exc:
            raise UserError(
                f"cannot listen on {', '.join(listen)}: {innermost_reason(exc)}"
            ) from None
        await stack.enter_async_context(  # discovery
            start_finding(
                network,
                host,
                gossipsub,
                listen=listen,
                announce=network.listen_addrs(),
                dht=dht,
                mdns=mdns,
                dht_mode=dht_mode,
            )
        )
        async with trio.open_nursery() as nursery:
            network._nursery = nursery
            network._nat = NatService(
                host,
                mode=relay,
                limits=relay_limits,
                set_dht_client=network._dht_client_mode,
                network=network,
            )
            await nursery.start(network._nat.run)
            await pubsub.wait_until_ready()
            pubsub.set_frame_validator(topic, network._validate)
            subscription = await pubsub.subscribe(topic)
            nursery.start_soon(network._read_subscription, subscription)
            nursery.start_soon(network._lift_bans)
            try:
                yield network
            finally:
                network._nursery = None
                nursery.cancel_scope.cancel()
