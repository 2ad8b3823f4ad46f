"""A py-libp2p notifee handing connection events to two plain callbacks (and ignoring the rest)."""

from __future__ import annotations

from collections.abc import Callable

import multiaddr
import trio
from libp2p.abc import INetConn, INetStream, INetwork, INotifee


class ConnectionNotifee(INotifee):
    """Calls ``on_connected(conn)`` / ``on_disconnected(conn)``; neither may block or raise."""

    def __init__(
        self,
        on_connected: Callable[[INetConn], None],
        on_disconnected: Callable[[INetConn], None],
    ) -> None:
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._on_connected(conn)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._on_disconnected(conn)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        await trio.lowlevel.checkpoint()

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        await trio.lowlevel.checkpoint()
