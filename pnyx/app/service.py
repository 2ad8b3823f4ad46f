"""``open_node``: a running node with its network and control socket, as one context manager.

::

    async with open_node(config, store=store, me=key, network_factory=libp2p_factory(seed, ...),
                         control_path=home.control_socket_path) as node:
        ...  # the node runs until the block exits; leaving stops the network first

The network is chosen by ``network_factory`` (libp2p for ``pnyx run``, ``pnyx.net.memnet`` in
tests), so everything here runs in tests without sockets. Only ``libp2p_factory`` imports the
libp2p adapter, and only when called.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from pnyx.app.config import NodeConfig
from pnyx.catchup.scheduler import SyncScheduler
from pnyx.clock import wall_clock_ms
from pnyx.control.server import serve_control
from pnyx.core import kinds
from pnyx.discovery.service import Discovery
from pnyx.errors import UserError
from pnyx.events import Stored
from pnyx.net.contracts import Network, ReportsFaults, Validator
from pnyx.net.relaying import DEFAULT_RELAY_LIMITS, RelayLimits
from pnyx.node.node import Node
from pnyx.node.output import NodeOutput
from pnyx.node.republish import OnlineMark
from pnyx.runtime import Offload, in_thread
from pnyx.trust.admission import MIB, AdmissionConfig

if TYPE_CHECKING:
    import nacl.signing

    from pnyx.store import Store
    from pnyx.web.context import WebContext

#: Most authors named in one control-socket ``sync`` request, a count.
MAX_REQUEST_AUTHORS = 10_000

#: Opens a network whose gossip frames are checked by the given validator.
NetworkFactory = Callable[[Validator], AbstractAsyncContextManager[Network]]


@dataclass
class WebOptions:
    """The web UI of a node (docs/web.md): where it listens, the key its writes are signed with
    (None: read-only), the token file, the recipes directory (the feeds), the identity file
    (the welcome page protects it with a passphrase), the session file (browser sessions kept
    across restarts; None: in memory). ``open_node`` sets ``url`` once it
    listens."""

    host: str
    port: int
    key: nacl.signing.SigningKey | None
    tokens_path: Path
    url: str | None = None
    recipes_path: Path | None = None
    key_path: Path | None = None
    sessions_path: Path | None = None


def libp2p_factory(
    seed: bytes,
    listen: Sequence[str],
    *,
    dht: bool = False,
    mdns: bool = False,
    dht_mode: str = "server",
    relay: str = "auto",
    relay_limits: RelayLimits = DEFAULT_RELAY_LIMITS,
) -> NetworkFactory:
    """A factory for the real network: py-libp2p listening on ``listen`` with key ``seed``
    (``dht`` / ``mdns`` / ``dht_mode``: discovery, docs/architecture.md "Discovery")."""

    def factory(validator: Validator) -> AbstractAsyncContextManager[Network]:
        from pnyx.gossip.adapter import open_libp2p_network

        return open_libp2p_network(
            seed=seed,
            listen=listen,
            validator=validator,
            dht=dht,
            mdns=mdns,
            dht_mode=dht_mode,
            relay=relay,
            relay_limits=relay_limits,
        )

    return factory


def quiet_network_logging(*, verbose: bool = False) -> None:
    """Keep the network library's log lines out of the output (for commands that open a
    network without ``pnyx run``, such as ``pnyx sync``)."""
    from pnyx.gossip.identity import quiet_libp2p_logging

    quiet_libp2p_logging(verbose=verbose)


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
    peerbook_path: Path | None = None,
    online_mark_path: Path | None = None,
    web: WebOptions | None = None,
) -> AsyncIterator[Node]:
    """Start a node (network, loops, control socket if ``control_path``); stop it on exit.
    ``peerbook_path``: the peer book file (``pnyx.discovery.peerbook``; None keeps it in memory).
    ``online_mark_path``: where the node records until when it had peers, so own messages written
    while it was stopped are gossiped on the next connection (``pnyx.node.republish``).
    ``web``: serve the web UI too (``pnyx.web``), in the same nursery; ``web.url`` is set.

    Raises ``UserError`` if the network or the web UI cannot start (bad or busy address).
    """
    node = Node(
        store=store,
        me=me,
        clock_ms=clock_ms,
        batch_window_s=config.publish_batch_ms / 1000,
        output=output,
        offload=offload,
        rate_limits=config.rate_limits,  # robustness: rate limits
        online_mark=OnlineMark(online_mark_path) if online_mark_path is not None else None,
        admission=AdmissionConfig(  # reach: horizon and storage budget
            hops=config.hops, budget_bytes=config.storage_budget_mb * MIB
        ),
    )
    syncer = SyncScheduler(  # sync: catch-up sessions (pnyx.catchup.scheduler)
        node,
        on_connect=config.sync_on_connect,
        interval_s=config.sync_interval_s,
    )
    discovery = Discovery(  # discovery: peer book, dialer, DHT (pnyx.discovery.service)
        node,
        peerbook_path=peerbook_path,
        bootstrap=config.bootstrap,
        target_connections=config.target_connections,
        dht=config.dht,
    )
    async with network_factory(node.validate) as network, trio.open_nursery() as nursery:
        if isinstance(network, ReportsFaults):  # garbage on a stream: one penalty (security.md)
            network.report_faults_to(node.penalise)
        await nursery.start(node.run, network)
        await nursery.start(syncer.run)  # sync
        await nursery.start(discovery.run)  # discovery
        api = ControlApi(node, syncer, discovery)
        arrived: Callable[[Stored], None] | None = None
        if web is not None:  # web UI: beside the control socket, in the node's nursery
            api.web, arrived = await _start_web(nursery, node, api, web)
            api.web_url = web.url
        try:
            if control_path is None:
                yield node
            else:
                async with serve_control(control_path, api):
                    yield node
        finally:
            if arrived is not None:
                node.events.stored.unsubscribe(arrived)
            nursery.cancel_scope.cancel()


async def _start_web(
    nursery: trio.Nursery, node: Node, api: ControlApi, web: WebOptions
) -> tuple[WebContext, Callable[[Stored], None]]:
    """Start the web server in ``nursery``; its context and the node-event subscriber feeding
    its live updates (the caller unsubscribes it)."""
    from pnyx.web.api_rank import keep_trust
    from pnyx.web.auth import TokenBook
    from pnyx.web.context import WebContext
    from pnyx.web.serve import serve_web
    from pnyx.web.sessions import Sessions

    async def status() -> dict[str, Any]:
        result: dict[str, Any] = await api({"op": "status"})
        return result

    ctx = WebContext(
        store=node.store,
        me=node.me,
        key=web.key,
        tokens=TokenBook(web.tokens_path),
        offload=node.offload,
        status=status,
        nudge=node.nudge,
        refresh_interest=node.refresh_interest,
        recipes_dir=web.recipes_path,
        key_path=web.key_path,
        sessions=Sessions(web.sessions_path),
    )

    def arrived(event: Stored) -> None:
        shown = node.output.shown  # the user's policy: a muted author's post is not announced
        posts = sum(
            1 for m in event.messages if m.kind == kinds.POST and m.author != node.me and shown(m)
        )
        if posts:
            ctx.arrivals.publish(posts)
        elif any(
            m.kind in (kinds.FOLLOW, kinds.UNFOLLOW)
            and m.author != node.me
            and m.body.get("key") == node.me
            for m in event.messages
        ):
            ctx.arrivals.notify()  # a follower: the header's unread count changes

    node.events.stored.subscribe(arrived)
    keep_trust(ctx, node.reach.trust.snapshot)  # ranked reads use the node's kept trust
    web.url = await nursery.start(serve_web, ctx, web.host, web.port)
    return ctx, arrived


class ControlApi:
    """Answers control-socket requests for one node (see ``pnyx.control.client``)."""

    def __init__(
        self,
        node: Node,
        syncer: SyncScheduler | None = None,
        discovery: Discovery | None = None,
    ) -> None:
        self._node = node
        self._syncer = syncer  # sync
        self._discovery = discovery  # discovery
        self.web: WebContext | None = None  # web UI: login codes for `pnyx ui`
        self.web_url: str | None = None

    async def __call__(self, request: dict[str, Any]) -> Any:
        op = request["op"]
        if op == "status":
            status = await self._node.status()
            kept = self._node.reach.trust.snapshot()  # the trust ranked reads use, and its age
            status["trust"] = (
                None
                if kept is None
                else {"age_ms": kept.age_ms(wall_clock_ms()), "incremental": kept.incremental}
            )
            if self._syncer is not None:  # sync: counters of catch-up sessions
                status["sync"] = {
                    **self._syncer.status(),
                    "own_republished": self._node.republisher.republished,
                }
            if self._discovery is not None:  # discovery: peer book, dials, DHT counters
                status["discovery"] = self._discovery.status()
                for row in status["peers"]:  # how each connected peer was found, if known
                    if (found := self._discovery.dialer.found_by(row["peer_id"])) is not None:
                        row["found_by"] = found
            return status
        if op == "sync" and self._syncer is not None:  # sync: `pnyx sync` while the node runs
            return await self._sync(self._syncer, request)
        if op == "peers" and request.get("detail") and self._discovery is not None:  # discovery
            return self._discovery.dialer.peer_rows(everyone=bool(request.get("all")))
        if op == "peers":
            return self._node.peer_list()
        if op == "ui_login":  # web UI: a one-time login code for `pnyx ui`
            if self.web is None or self.web_url is None:
                raise UserError("this node runs without the web UI (started with --no-ui)")
            return {"url": f"{self.web_url}/login?code={self.web.codes.issue()}"}
        if op == "notify":
            self._node.nudge()
            if request.get("interest") is True:  # a labeller subscribed to or dropped
                await self._node.refresh_interest()
            return None
        if op == "connect":
            address = request.get("addr")
            if not isinstance(address, str) or not address:
                raise UserError('connect needs "addr", a multiaddr ending in /p2p/PEER_ID')
            if self._discovery is not None:  # discovery: remembered in the peer book
                return {"peer_id": await self._discovery.dialer.connect(address)}
            return {"peer_id": await self._node.connect(address)}
        raise UserError(f"unknown control operation {op!r}")

    async def _sync(self, syncer: SyncScheduler, request: dict[str, Any]) -> dict[str, Any]:
        """The ``sync`` op: ``{"addr": MULTIADDR, "authors": [KEY, ...]}`` (authors optional,
        default the interest set): connect, sync once, return the summary
        (``SessionResult.to_json``). Raises ``UserError`` / ``ConnectError``."""
        from pnyx.crypto.keytext import parse_public_key

        address = request.get("addr")
        if not isinstance(address, str) or not address:
            raise UserError('sync needs "addr", a multiaddr ending in /p2p/PEER_ID')
        texts = request.get("authors")
        authors: set[bytes] | None = None
        if texts is not None:
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise UserError('sync: "authors" must be a list of public keys')
            if len(texts) > MAX_REQUEST_AUTHORS:
                raise UserError(f"sync: at most {MAX_REQUEST_AUTHORS} authors at once")
            authors = {parse_public_key(text) for text in texts}
        peer = await self._node.connect(address)
        result = await syncer.sync_now(peer, authors)
        return result.to_json()
