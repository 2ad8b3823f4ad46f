"""Addresses and connections as the adapter shows and checks them (imports multiaddr/libp2p)."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence

import multiaddr
from libp2p.abc import INetConn

from pnyx.errors import UserError
from pnyx.net.contracts import Direction


def shown_addresses(addresses: Iterable[str]) -> list[str]:
    """Listen addresses as peers can dial them: ``0.0.0.0`` becomes loopback and this machine's
    outgoing IPv4 address."""
    shown: list[str] = []
    for text in addresses:
        if text.startswith("/ip4/0.0.0.0/"):
            for ip in ["127.0.0.1", *local_ipv4()]:
                shown.append(text.replace("/ip4/0.0.0.0/", f"/ip4/{ip}/", 1))
        else:
            shown.append(text)
    return shown


def direction_of(conn: INetConn) -> Direction:
    name = str(getattr(getattr(conn, "direction", None), "name", "")).lower()
    return Direction(name) if name in ("inbound", "outbound") else Direction.UNKNOWN


def remote_address(conn: INetConn) -> str | None:
    addresses = conn.get_transport_addresses()
    return str(addresses[0]) if addresses else None


def local_ipv4() -> list[str]:
    """This machine's outgoing IPv4 address (no packet is sent), for showing 0.0.0.0 listeners."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = str(probe.getsockname()[0])
        except OSError:
            return []
    return [] if address.startswith("127.") else [address]


def parse_listen(addresses: Sequence[str]) -> list[multiaddr.Multiaddr]:
    """Listen multiaddrs (``/ip4|ip6/ADDR/tcp/PORT``), each checked to be bindable here.
    Raises ``UserError`` naming the bad address."""
    parsed = []
    for text in addresses:
        try:
            address = multiaddr.Multiaddr(text)
        except Exception as exc:  # multiaddr raises many types for bad text
            raise UserError(f"not a multiaddr: {text}") from exc
        names = [p.name for p in address.protocols()]
        if len(names) != 2 or names[0] not in ("ip4", "ip6") or names[1] != "tcp":
            raise UserError(f"listen addresses must be /ip4/ADDR/tcp/PORT or /ip6/...: {text}")
        parsed.append(address)
    if not parsed:
        raise UserError("the node needs at least one listen address")
    for address in parsed:
        check_port_free(address)
    return parsed


def check_port_free(address: multiaddr.Multiaddr) -> None:
    """Refuse an address this machine does not have, or a port another process listens on:
    py-libp2p sets SO_REUSEPORT on its listeners, so a second node on the same port would
    silently share incoming connections with the first."""
    port = int(address.value_for_protocol("tcp"))
    ip6 = address.protocols()[0].name == "ip6"
    host = address.value_for_protocol("ip6" if ip6 else "ip4")
    with socket.socket(socket.AF_INET6 if ip6 else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot listen on {address}: {exc.strerror}") from None


def innermost_reason(exc: BaseException) -> str:
    """The innermost cause's message (libp2p wraps OSError in its own exceptions)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
