"""``pnyx run``: the node in the foreground, readable output, clean stop on SIGINT / SIGTERM.

``run_node`` holds the home's node lock, starts the libp2p node with its control socket, prints
identity and listen addresses, then one line per event (peers, posts, rejections) until SIGINT or
SIGTERM; it then stops everything and returns 0. If stopping takes longer than
``SHUTDOWN_LIMIT_S`` (a wedged libp2p connection), the process exits with status 1 instead.

On a home with no identity file and the web UI on, it first serves the first-run app
(``pnyx.app.firstrun``: the identity is created in the browser), then starts the node with that
key on the same UI port; SIGINT or SIGTERM during the first run stops with status 0.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import trio

from pnyx.app.config import NodeConfig, write_example_config
from pnyx.app.lock import node_lock
from pnyx.app.service import WebOptions, libp2p_factory, open_node
from pnyx.core.display import plural
from pnyx.discovery.peerbook import PEERBOOK_FILE
from pnyx.errors import unwrap_group
from pnyx.home import Home
from pnyx.node.output import JsonLineFormatter, SafeFormatter
from pnyx.node.republish import ONLINE_MARK_FILE
from pnyx.runtime import freeze_long_lived_heap

if TYPE_CHECKING:
    import nacl.signing

    from pnyx.node.node import Node
    from pnyx.store import Store

log = logging.getLogger("pnyx.node")

#: Longest a stop may take after SIGINT / SIGTERM before the process exits anyway, in seconds.
SHUTDOWN_LIMIT_S = 5.0
#: Exit status when the stop had to be forced.
FORCED_EXIT_STATUS = 1

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure_logging(level: str, out: TextIO, *, json_lines: bool = False) -> None:
    """Send pnyx's log lines to ``out`` as ``HH:MM:SS message`` (``json_lines``: one JSON object
    per event, ``JsonLineFormatter``); silence libp2p."""
    from pnyx.gossip.identity import quiet_libp2p_logging

    quiet_libp2p_logging(verbose=level == "debug")
    logger = logging.getLogger("pnyx")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(out)
    if json_lines:
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(SafeFormatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(_LEVELS[level])
    logger.propagate = False


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """Who the node runs as: the public key, the libp2p seed, and the identity key the web UI
    signs with (None: a read-only UI)."""

    me: bytes
    seed: bytes
    key: nacl.signing.SigningKey | None


#: Loads the node's identity once the key file exists; given the key the first run just created
#: (in memory), it uses that rather than ask for the passphrase again.
IdentityLoader = Callable[["nacl.signing.SigningKey | None"], NodeIdentity]


def run_node(
    *,
    home: Home,
    config: NodeConfig,
    identity: IdentityLoader,
    store: Store,
    out: TextIO,
    json_lines: bool = False,
    open_browser: Callable[[str], object] | None = None,
) -> int:
    """Run the node until SIGINT / SIGTERM; returns the exit status (0 after a clean stop).
    ``identity``: called once under the lock (after the first run, if there is one);
    ``json_lines``: the output as one JSON object per event (``pnyx run --json``);
    ``open_browser``: called with the first run's login link, if there is a first run.

    Raises ``UserError`` if another node runs on this home, the network or the web UI cannot
    start, ``ConfigError`` for a UI address that is not loopback without ``ui_public``, and
    whatever ``identity`` raises (``NoIdentityError`` without the UI and with no identity).
    """
    with node_lock(home):
        configure_logging(config.log_level, out, json_lines=json_lines)
        if write_example_config(home):
            log.info("wrote an example configuration (all commented out) to %s", home.config_path)
        created = None
        port = None
        # A first run only on a new home: a home holding messages had an identity, and a new
        # one would not be their author (then ``identity`` says to restore it or run init).
        if config.ui and not home.key_path.exists() and not store.counts()["messages"]:
            from pnyx.app.firstrun import first_run

            try:
                outcome = trio.run(first_run, home, config, open_browser)
            except BaseExceptionGroup as group:
                raise unwrap_group(group) from None
            if outcome is None:
                log.info("stopped")
                return 0
            created, port = outcome.key, outcome.port
        found = identity(created)
        web = _web_options(home, config, found.key, port)
        freeze_long_lived_heap()  # a node process: its long-lived state leaves the GC's walks
        try:
            return trio.run(_serve, home, config, found.me, found.seed, store, web)
        except BaseExceptionGroup as group:
            raise unwrap_group(group) from None


async def _serve(
    home: Home, config: NodeConfig, me: bytes, seed: bytes, store: Store, web: WebOptions | None
) -> int:
    watchdog: threading.Timer | None = None
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_node(
            config,
            store=store,
            me=me,
            network_factory=libp2p_factory(
                seed,
                config.listen,
                dht=config.dht,
                mdns=config.mdns,  # discovery
                dht_mode=config.dht_mode,
                relay=config.relay,  # NAT reach
                relay_limits=config.relay_limits,
            ),
            control_path=home.control_socket_path,
            peerbook_path=home.path / PEERBOOK_FILE,  # discovery
            online_mark_path=home.path / ONLINE_MARK_FILE,  # offline posts gossiped at start
            web=web,
        ) as node:
            _announce(home, config, node)
            if web is not None:  # web UI
                log.info("web UI:    %s (log in with `pnyx ui`)", web.url)
            async for signum in signals:
                log.info("stopping (%s)", signal.Signals(signum).name)
                watchdog = threading.Timer(SHUTDOWN_LIMIT_S, _force_exit)
                watchdog.daemon = True
                watchdog.start()
                break
    if watchdog is not None:
        watchdog.cancel()
    log.info("stopped")
    return 0


def _web_options(
    home: Home, config: NodeConfig, key: nacl.signing.SigningKey | None, port: int | None
) -> WebOptions | None:
    """The UI's options; ``port``: the one the first run bound (it replaces the configured
    one, which may be 0), None for the configured one."""
    if not config.ui:
        return None
    from pnyx.web.auth import TOKEN_FILE
    from pnyx.web.serve import check_listen
    from pnyx.web.sessions import SESSION_FILE

    host, configured = check_listen(config.ui_listen, public=config.ui_public)  # may warn
    return WebOptions(
        host,
        configured if port is None else port,
        key,
        home.path / TOKEN_FILE,
        recipes_path=home.recipes_path,
        key_path=home.key_path,
        sessions_path=home.path / SESSION_FILE,
    )


def _force_exit() -> None:
    sys.stderr.write(f"pnyx: the node did not stop within {SHUTDOWN_LIMIT_S:g} s; exiting\n")
    sys.stderr.flush()
    os._exit(FORCED_EXIT_STATUS)


def _announce(home: Home, config: NodeConfig, node: Node) -> None:
    from pnyx.crypto.keytext import encode_public_key

    network = node.network
    log.info("pnyx node running in %s", home.path)
    log.info("identity:  %s", encode_public_key(node.me))
    log.info("peer id:   %s", network.peer_id)
    if config.node_key == "identity":
        log.info("node key:  your identity key (peers can tell this node is yours)")
    else:
        log.info("node key:  a separate key (%s)", home.node_key_path)
    for address in network.listen_addrs():
        log.info("listening: %s", address)
    log.info(  # discovery
        "discovery: keeping %d connections; DHT %s; LAN (mDNS) %s",
        config.target_connections,
        f"on ({config.dht_mode} mode)" if config.dht else "off",
        "on" if config.mdns else "off",
    )
    followed = len(node.followed_authors()) - 1
    log.info("following %d %s; press Ctrl-C to stop", followed, plural(followed, "author"))
