"""``open_node``: a running node with its network and control socket, as one context manager.

::

    async with open_node(config, store=store, me=key, network_factory=libp2p_factory(seed, ...),
                         control_path=home.control_socket_path) as node:
        ...  # the node runs until the block exits; leaving stops the network first

The network is chosen by ``network_factory`` (libp2p for ``pnyx run``, ``pnyx.node.memnet`` in
tests), so everything here runs in tests without sockets. Only ``libp2p_factory`` imports the
libp2p adapter, and only when called.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from pnyx.errors import UserError
from pnyx.node.config import NodeConfig
from pnyx.node.control import serve_control
from pnyx.node.network import Network, Validator
from pnyx.node.node import Node
from pnyx.node.output import NodeOutput
from pnyx.node.runtime import Offload, in_thread, wall_clock_ms

if TYPE_CHECKING:
    from pnyx.store import Store

#: Opens a network whose gossip frames are checked by the given validator.
NetworkFactory = Callable[[Validator], AbstractAsyncContextManager[Network]]


def libp2p_factory(seed: bytes, listen: Sequence[str]) -> NetworkFactory:
    """A factory for the real network: py-libp2p listening on ``listen`` with key ``seed``."""

    def factory(validator: Validator) -> AbstractAsyncContextManager[Network]:
        from pnyx.gossip.adapter import open_libp2p_network

        return open_libp2p_network(seed=seed, listen=listen, validator=validator)

    return factory


@asynccontextmanager
async def open_node(
    config: NodeConfig,
    *,
    store: Store,
    me: bytes,
    network_factory: NetworkFactory,
    control_path: Path | None = None,
    clock_ms: Callable[[], int] = wall_clock_ms,
    output: NodeOutput | None = None,
    offload: Offload = in_thread,
) -> AsyncIterator[Node]:
    """Start a node (network, loops, control socket if ``control_path``); stop it on exit.

    Raises ``UserError`` if the network cannot start (bad or busy listen address).
    """
    node = Node(
        store=store,
        me=me,
        clock_ms=clock_ms,
        batch_window_s=config.publish_batch_ms / 1000,
        bootstrap=config.bootstrap,
        output=output,
        offload=offload,
    )
    async with network_factory(node.validate) as network, trio.open_nursery() as nursery:
        await nursery.start(node.run, network)
        try:
            if control_path is None:
                yield node
            else:
                async with serve_control(control_path, ControlApi(node)):
                    yield node
        finally:
            nursery.cancel_scope.cancel()


class ControlApi:
    """Answers control-socket requests for one node (see ``pnyx.node.control_client``)."""

    def __init__(self, node: Node) -> None:
        self._node = node

    async def __call__(self, request: dict[str, Any]) -> Any:
        op = request["op"]
        if op == "status":
            return await self._node.status()
        if op == "peers":
            return self._node.peer_list()
        if op == "notify":
            self._node.nudge()
            return None
        if op == "connect":
            address = request.get("addr")
            if not isinstance(address, str) or not address:
                raise UserError('connect needs "addr", a multiaddr ending in /p2p/PEER_ID')
            return {"peer_id": await self._node.connect(address)}
        raise UserError(f"unknown control operation {op!r}")
