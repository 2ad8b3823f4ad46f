"""Commands that talk to the network or the running node: run, status, peers, connect.

``run`` starts the node in the foreground (libp2p is imported only then). ``status``, ``peers`` and
``connect`` ask a running node through its control socket; with none running they say so in one
line and exit 2.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pnyx.cli.context import Context, is_terminal
from pnyx.core.display import line

if TYPE_CHECKING:
    import nacl.signing

    from pnyx.app.run import NodeIdentity

#: Kept in step with pnyx.app.config (which this module must not import at start-up cost).
_NODE_KEYS = ("identity", "separate")
_LOG_LEVELS = ("debug", "info", "warning", "error")
#: Address protocols whose TCP port ``connect`` can probe itself.
_IP_PROTOCOLS = ("ip4", "ip6", "dns", "dns4", "dns6")
#: Longest wait for the probe of an already connected peer's new address, in seconds.
PROBE_TIMEOUT_S = 5.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run the node: publish your posts to followers and receive those you follow",
        description="Run the peer-to-peer node in the foreground until Ctrl-C or SIGTERM. "
        "Settings come from the [node] table of config.toml in the home directory; "
        "flags override them.",
    )
    p.add_argument(
        "--listen",
        action="append",
        metavar="MULTIADDR",
        help="listen address, repeatable (default /ip4/0.0.0.0/tcp/4717)",
    )
    p.add_argument(
        "--bootstrap",
        action="append",
        metavar="MULTIADDR",
        help="peer to dial at start, .../p2p/PEER_ID; repeatable",
    )
    p.add_argument(
        "--node-key",
        choices=_NODE_KEYS,
        help="identity: your key is the node's peer id; separate: a key of its own (node.key)",
    )
    p.add_argument(
        "--publish-batch-ms",
        type=int,
        metavar="MS",
        help="batch window for your own new messages, 0..1000 ms (default 20)",
    )
    p.add_argument("--log-level", choices=_LOG_LEVELS, help="default info")
    p.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per event: {"time", "level", "event", "text", "args", ...}',
    )
    p.add_argument(  # discovery
        "--target-connections",
        type=int,
        metavar="N",
        help="connections to keep, 0..64 (default 8)",
    )
    p.add_argument(  # discovery
        "--mdns",
        action=argparse.BooleanOptionalAction,
        help="LAN discovery with mDNS on the listen interfaces (default on)",
    )
    p.add_argument(  # discovery
        "--dht",
        action=argparse.BooleanOptionalAction,
        help="DHT: announce your feeds, find who holds those you follow (default on)",
    )
    p.add_argument(  # discovery
        "--dht-mode",
        choices=("server", "client"),
        help="server: also answer others' DHT queries (default); client: only ask",
    )
    p.add_argument(  # NAT reach
        "--relay",
        choices=("auto", "on", "off"),
        help="serve as a relay for nodes behind NAT: auto (when reachable; default), on, off",
    )
    p.add_argument(  # web UI
        "--ui", metavar="HOST:PORT", help="web UI address (default 127.0.0.1:4718; port 0: any)"
    )
    p.add_argument("--no-ui", action="store_true", help="do not serve the web UI")  # web UI
    p.add_argument(  # web UI
        "--ui-public",
        action="store_true",
        help="allow a web UI address beyond loopback (anyone reaching it can try to log in)",
    )
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("status", help="what the running node is doing")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("peers", help="peers the running node is connected to")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(  # discovery
        "--all", action="store_true", help="also the peer book's other peers and their state"
    )
    p.set_defaults(handler=cmd_peers)

    p = sub.add_parser("connect", help="ask the running node to connect to a peer")
    p.add_argument("address", metavar="MULTIADDR", help="e.g. /ip4/198.51.100.4/tcp/4717/p2p/12D3…")
    p.set_defaults(handler=cmd_connect)


def cmd_run(ctx: Context) -> int:
    from pnyx.app.config import load_config
    from pnyx.app.nodekey import load_or_create_node_seed
    from pnyx.app.run import NodeIdentity, run_node

    args = ctx.args
    config = load_config(
        ctx.home,
        {
            "listen": args.listen,
            "bootstrap": args.bootstrap,
            "node_key": args.node_key,
            "publish_batch_ms": args.publish_batch_ms,
            "log_level": args.log_level,
            "target_connections": args.target_connections,  # discovery
            "mdns": args.mdns,  # discovery
            "dht": args.dht,  # discovery
            "dht_mode": args.dht_mode,  # discovery
            "relay": args.relay,  # NAT reach
            "ui_listen": args.ui,  # web UI
            "ui": False if args.no_ui else None,
            "ui_public": True if args.ui_public else None,
        },
    )
    if not config.ui:
        ctx.public_key()  # no identity: "run pnyx init", before anything is created

    def identity(created: nacl.signing.SigningKey | None) -> NodeIdentity:
        if created is not None:
            ctx.adopt_key(created)  # just made in the browser: no passphrase to ask
        me = ctx.public_key()
        if config.node_key == "identity":
            seed = bytes(ctx.key())  # a SigningKey's bytes are its 32-byte seed
        else:
            ctx.home.ensure()
            seed = load_or_create_node_seed(ctx.home.node_key_path)
        key = None
        if config.ui:  # web UI: writes are signed with the identity key, if it needs no passphrase
            from pnyx.crypto.keyfile import is_encrypted

            if (
                created is not None
                or config.node_key == "identity"
                or not is_encrypted(ctx.home.key_path)
            ):
                key = ctx.key()  # with node_key "identity" it is loaded already
        return NodeIdentity(me, seed, key)

    return run_node(
        home=ctx.home,
        config=config,
        identity=identity,
        store=ctx.store(),
        out=ctx.out,
        json_lines=args.json,
        open_browser=_browser_opener(ctx),
    )


def _browser_opener(ctx: Context) -> Callable[[str], object] | None:
    """``webbrowser.open`` when standard output is a terminal (as ``pnyx ui``), else None."""
    import sys

    if ctx.out is not sys.stdout or not is_terminal(sys.stdout):
        return None
    import webbrowser

    return webbrowser.open


def _ask(ctx: Context, op: str, **params: Any) -> Any:
    from pnyx.control.client import CONNECT_TIMEOUT_S, DEFAULT_TIMEOUT_S, request

    timeout = CONNECT_TIMEOUT_S if op == "connect" else DEFAULT_TIMEOUT_S
    return request(ctx.home, op, timeout=timeout, **params)


def cmd_status(ctx: Context) -> int:
    from pnyx.views import NodeStatus

    status = NodeStatus.from_json(_ask(ctx, "status"))
    if ctx.args.json:
        ctx.print(json.dumps(status.to_json(), ensure_ascii=False))
        return 0
    counts = status.counts
    peers = status.peers
    ctx.print(f"node running in {ctx.home.path}")
    ctx.print(f"identity:  {status.public_key}")
    ctx.print(f"peer id:   {status.peer_id}")
    for index, address in enumerate(status.listen_addrs):
        ctx.print(f"{'listening:' if index == 0 else '':<11}{address}")
    if status.reachability is not None:  # NAT reach
        ctx.print(f"reach:     {status.reachability.shown} ({status.reachability.why})")
    inbound = status.inbound
    ctx.print(
        f"peers:     {len(peers)} connected ({inbound} inbound, {len(peers) - inbound} outbound)"
    )
    ctx.print(
        f"store:     {counts['messages']} messages from {counts['authors']} authors; "
        f"you follow {counts['following']}, and {counts.get('horizon', 0)} more within reach"
    )
    if counts.get("forks"):  # robustness: authors that signed two histories (issue 11)
        ctx.print(
            f"forked:    {counts['forks']} author(s) signed conflicting messages "
            f"({counts.get('forks_dropped', 0)} more seen than kept); pnyx feed KEY names them"
        )
    ctx.print(
        f"gossip:    {counts['frames_received']} frames in, {counts['frames_published']} out; "
        f"{counts['frames_rejected']} rejected, {counts['frames_ignored']} dropped; "
        f"{counts['messages_stored']} messages stored from the network"
    )
    found = status.discovery
    if found is not None:  # discovery
        ctx.print(
            f"discovery: {found.peerbook or 0} peers known, "
            f"{found.dht_routing_table or 0} in the DHT routing table, "
            f"{found.feeds_announced} feeds announced"
        )
    if status.banned:
        ctx.print(f"banned:    {', '.join(status.banned)}")
    ctx.print(f"uptime:    {_duration(status.uptime_s)}")
    return 0


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def cmd_peers(ctx: Context) -> int:
    peers = _ask(ctx, "peers", detail=True, all=ctx.args.all)  # discovery: found_by, state
    if ctx.args.json:
        for peer in peers:
            ctx.print(json.dumps(peer))
        return 0
    if not peers:
        ctx.print("no peers connected")
    for peer in peers:
        found_by = line(str(peer.get("found_by") or "-"))
        state = line(str(peer.get("state") or "connected"))
        ctx.print(  # peer ids and addresses may come from peers (exchange, identify)
            f"{line(str(peer['peer_id']))}  {line(str(peer['direction'] or '-')):<8}  "
            f"{found_by:<9}  {state:<10}  {line(str(peer['address'] or ''))}".rstrip()
        )
    return 0


def cmd_connect(ctx: Context) -> int:
    """Ask the node to dial the address; exit 0 when the peer it names is connected.

    libp2p does not dial a peer that is already connected (by another address, or inbound), so
    then the address itself is checked with a plain TCP connection and the line says whether it
    answered: ``already connected to PEER (via ADDR); the address given did not answer``. A
    failed dial to a peer that is connected anyway is reported the same way; any other failure
    exits 1 with the node's reason.
    """
    from pnyx.net.contracts import peer_id_of
    from pnyx.net.errors import ConnectError
    from pnyx.net.words import in_words

    address: str = ctx.args.address  # the node's network checks it before dialling, at once
    expected = peer_id_of(address)
    before = _connected_via(ctx, expected)
    try:
        result = _ask(ctx, "connect", addr=address)
    except ConnectError as exc:
        after = _connected_via(ctx, expected)
        if after is None:
            raise
        ctx.print(
            f"already connected to {line(str(expected))} (via {line(after)}); the address given "
            f"did not answer ({line(in_words(str(exc)))})"
        )
        return 0
    if before is None:
        ctx.print(f"connected to {line(str(result['peer_id']))}")
        return 0
    answered = _tcp_answers(address)
    if answered is False:
        state = "the address given did not answer"
    elif answered is None:
        state = "the address given was not tried"
    else:
        state = "the address given answers too"
    ctx.print(f"already connected to {line(str(expected))} (via {line(before)}); {state}")
    return 0


def _connected_via(ctx: Context, peer: str | None) -> str | None:
    """How the running node is connected to ``peer`` (its address or direction), or None."""
    if peer is None:
        return None
    for row in _ask(ctx, "peers"):
        if row.get("peer_id") == peer:
            return str(row.get("address") or row.get("direction") or "another connection")
    return None


def _tcp_answers(address: str) -> bool | None:
    """Whether a TCP connection to the host and port of ``address`` opens within
    ``PROBE_TIMEOUT_S``; None if it is not an /ip4, /ip6 or /dns TCP address."""
    import socket

    parts = address.split("/")
    if len(parts) < 5 or parts[1] not in _IP_PROTOCOLS or parts[3] != "tcp":
        return None
    try:
        port = int(parts[4])
        with socket.create_connection((parts[2], port), timeout=PROBE_TIMEOUT_S):
            return True
    except (OSError, ValueError, OverflowError):
        return False
