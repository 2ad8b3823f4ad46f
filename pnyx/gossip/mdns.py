"""LAN discovery with mDNS (zeroconf), bound to the interfaces of the node's listen addresses.

Follows the libp2p mDNS spec: service type ``_p2p._udp.local.``, an instance name made of a random
label, and one TXT string ``dnsaddr=<multiaddr>/p2p/<peer id>`` per address the node announces.
py-libp2p's own ``MDNSDiscovery`` is not used: it opens zeroconf on every interface and dials
from zeroconf's thread.

**Interfaces.** Only those of the listen addresses (``mdns_interfaces``): ``/ip4/0.0.0.0`` means
every IPv4 interface (the user asked for all), ``/ip4/192.0.2.5`` exactly that one, and likewise
for IPv6. Multicast group membership and the sockets that send are limited to them. zeroconf's
receiving socket is bound to the wildcard address on UDP port 5353 (multicast reception needs
that on most systems), so a unicast datagram to port 5353 on another address of the machine would
reach it too; nothing is sent there. Tests keep mDNS off (``mdns = false``).

**Threads.** zeroconf runs its own threads. Its browser calls ``_on_change`` on its thread; that
thread fetches the service record (blocking there is allowed), parses it, and hands a
``FoundPeer`` to trio with ``TrioToken.run_sync_soon``; the trio-side ``deliver`` callback only
does a non-blocking send into a bounded channel. Starting and stopping zeroconf (which block) run
in a worker thread. Nothing on zeroconf's thread ever dials.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import string
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import multiaddr
import trio
from zeroconf import (
    InterfaceChoice,
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)

from pnyx.net.contracts import FoundBy, FoundPeer

log = logging.getLogger(__name__)

#: The libp2p mDNS service type.
SERVICE_TYPE = "_p2p._udp.local."
#: TXT key of an announced address.
DNSADDR = b"dnsaddr="
#: Length of the random instance label, in characters (the spec asks for 32..63).
INSTANCE_LABEL_CHARS = 32
#: Longest wait for a discovered service's record, in milliseconds (on zeroconf's thread).
INFO_TIMEOUT_MS = 3000
#: Most addresses announced or taken from one peer's record, a count.
MAX_MDNS_ADDRESSES = 8
#: Longest TXT string accepted, in bytes (one length byte).
MAX_TXT_STRING = 255
#: Longest wait for zeroconf to start or stop, in seconds.
ZEROCONF_TIMEOUT_S = 10.0

Interfaces = list[str] | InterfaceChoice


@dataclass
class MdnsStats:
    """Counters of one mDNS session (counts)."""

    found: int = 0
    ignored: int = 0
    dropped: int = 0


def mdns_interfaces(listen: Sequence[str]) -> tuple[Interfaces, IPVersion]:
    """The interfaces (and IP version) zeroconf may use for these listen addresses."""
    ips: list[str] = []
    wildcard4 = wildcard6 = False
    for text in listen:
        parts = text.split("/")
        if len(parts) < 3 or parts[1] not in ("ip4", "ip6"):
            continue
        if parts[2] == "0.0.0.0":
            wildcard4 = True
        elif parts[2] == "::":
            wildcard6 = True
        elif parts[2] not in ips:
            ips.append(parts[2])
    v6 = wildcard6 or any(ipaddress.ip_address(ip).version == 6 for ip in ips)
    v4 = wildcard4 or any(ipaddress.ip_address(ip).version == 4 for ip in ips)
    version = IPVersion.All if v4 and v6 else IPVersion.V6Only if v6 else IPVersion.V4Only
    if wildcard4 or wildcard6:
        return InterfaceChoice.All, version
    return ips, version


def txt_record(addresses: Sequence[str]) -> bytes:
    """The TXT rdata announcing ``addresses`` (each ``dnsaddr=<addr>``, length-prefixed)."""
    out = bytearray()
    for address in addresses[:MAX_MDNS_ADDRESSES]:
        item = DNSADDR + address.encode()
        if len(item) <= MAX_TXT_STRING:
            out += bytes([len(item)]) + item
    return bytes(out)


def parse_txt(text: bytes, me: str) -> FoundPeer | None:
    """The peer a TXT record announces: every ``dnsaddr`` must name the same peer id (not ours)
    and parse as a multiaddr. None for anything else."""
    peer: str | None = None
    addresses: list[str] = []
    index = 0
    while index < len(text) and len(addresses) < MAX_MDNS_ADDRESSES:
        length = text[index]
        item = text[index + 1 : index + 1 + length]
        index += 1 + length
        if not item.startswith(DNSADDR):
            continue
        try:
            address = item[len(DNSADDR) :].decode()
            multiaddr.Multiaddr(address)
        except Exception:  # noqa: BLE001 - bad UTF-8 or multiaddr (many types): skip it
            log.debug("ignoring a bad mDNS address %r", item)
            continue
        _, sep, named = address.rpartition("/p2p/")
        if not sep or (peer is not None and named != peer):
            return None
        peer = named
        addresses.append(address)
    if peer is None or peer == me:
        return None
    return FoundPeer(peer, tuple(addresses), FoundBy.MDNS)


class MdnsBackend(Protocol):
    """What ``open_mdns`` drives: blocking ``start`` / ``stop`` (run in a worker thread); finds
    go to the ``hand_over`` callback it was built with, from any thread."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


#: Builds a backend: ``(peer_id, addresses, interfaces, ip_version, hand_over)``.
BackendFactory = Callable[
    [str, Sequence[str], Interfaces, IPVersion, Callable[[FoundPeer | None], None]], MdnsBackend
]


class ZeroconfBackend:
    """The zeroconf side (every method but ``__init__`` runs outside trio's thread)."""

    def __init__(
        self,
        peer_id: str,
        addresses: Sequence[str],
        interfaces: Interfaces,
        version: IPVersion,
        hand_over: Callable[[FoundPeer | None], None],
    ) -> None:
        self._peer_id = peer_id
        self._addresses = list(addresses)
        self._interfaces = interfaces
        self._version = version
        self._hand_over = hand_over
        self._zeroconf: Zeroconf | None = None
        self._browser: ServiceBrowser | None = None
        self._info: ServiceInfo | None = None

    def start(self) -> None:
        label = "".join(
            secrets.choice(string.ascii_lowercase + string.digits)
            for _ in range(INSTANCE_LABEL_CHARS)
        )
        ips = [a.split("/")[2] for a in self._addresses]
        zc = self._zeroconf = Zeroconf(interfaces=self._interfaces, ip_version=self._version)
        port = int(self._addresses[0].split("/")[4]) if self._addresses else 0
        self._info = ServiceInfo(
            SERVICE_TYPE,
            f"{label}.{SERVICE_TYPE}",
            port=port,
            properties=txt_record(self._addresses),
            server=f"{label}.local.",
            parsed_addresses=sorted(set(ips)),
        )
        zc.register_service(self._info)
        self._browser = ServiceBrowser(zc, SERVICE_TYPE, handlers=[self._on_change])

    def stop(self) -> None:
        if self._browser is not None:
            self._browser.cancel()
        if self._zeroconf is not None:
            if self._info is not None:
                self._zeroconf.unregister_service(self._info)
            self._zeroconf.close()

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change not in (ServiceStateChange.Added, ServiceStateChange.Updated):
            return
        info = zeroconf.get_service_info(service_type, name, timeout=INFO_TIMEOUT_MS)
        found = parse_txt(info.text or b"", self._peer_id) if info is not None else None
        self._hand_over(found)


@asynccontextmanager
async def open_mdns(
    peer_id: str,
    listen: Sequence[str],
    announce: Sequence[str],
    deliver: Callable[[FoundPeer], None],
    *,
    backend: BackendFactory = ZeroconfBackend,
) -> AsyncIterator[MdnsStats]:
    """Announce ``announce`` (addresses ending in ``/p2p/peer_id``) and browse for other peers
    on the interfaces of ``listen`` while the block runs; each find is passed to ``deliver`` in
    trio's thread. Raises ``OSError`` if zeroconf cannot bind its sockets, ``trio.TooSlowError``
    if it takes longer than ``ZEROCONF_TIMEOUT_S`` to start. ``backend``: tests pass a fake."""
    stats = MdnsStats()
    token = trio.lowlevel.current_trio_token()

    def in_trio(found: FoundPeer | None) -> None:
        if found is None:
            stats.ignored += 1
            return
        stats.found += 1
        deliver(found)

    def hand_over(found: FoundPeer | None) -> None:  # zeroconf's thread
        try:
            token.run_sync_soon(in_trio, found)
        except trio.RunFinishedError:
            stats.dropped += 1

    interfaces, version = mdns_interfaces(listen)
    shown = [a for a in announce if interfaces is not InterfaceChoice.All or "/127." not in a]
    zc = backend(peer_id, shown or list(announce), interfaces, version, hand_over)
    try:
        with trio.fail_after(ZEROCONF_TIMEOUT_S):
            await trio.to_thread.run_sync(zc.start, abandon_on_cancel=True)  # type: ignore[call-arg]
        yield stats
    finally:
        with trio.move_on_after(ZEROCONF_TIMEOUT_S) as scope:
            scope.shield = True
            await trio.to_thread.run_sync(zc.stop, abandon_on_cancel=True)  # type: ignore[call-arg]
