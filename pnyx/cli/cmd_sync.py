"""``pnyx sync MULTIADDR``: connect to one peer once, fetch what this home lacks, print, exit.

Without a running node it holds the home's node lock (so no node starts meanwhile), opens a libp2p
host with the node's key (``node_key`` in config.toml), runs one catch-up session for the wanted
authors (default: the interest set, as the node's: you, everyone you follow and the horizon within
``hops``, ``pnyx.node.reach``; ``--author`` names others), serves the peer while
connected (so it can fetch your posts too), and exits. With a node running on this home it asks the
node to do it through the control socket instead (the node holds the store's lock and the peer
id). Exit status 0 when the session completed, 1 when it stopped early (what arrived is kept; run
it again to continue where it stopped).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any, TextIO

from pnyx.cli.context import Context, is_terminal
from pnyx.core.display import line
from pnyx.errors import UserError

if TYPE_CHECKING:
    from pnyx.catchup.session import SessionResult
    from pnyx.net.contracts import Verdict
    from pnyx.store import Store

#: Listen address of the one-shot host: loopback, a port the kernel picks (we only dial).
CLIENT_LISTEN = "/ip4/127.0.0.1/tcp/0"
#: Longest wait, after our own session, for a session the peer is fetching from us, in seconds.
SERVE_GRACE_S = 10.0
#: Longest a sync through the running node may take (a full session plus a dial), in seconds.
DELEGATE_TIMEOUT_S = 660.0
#: Shortest time between two progress-line updates, in seconds.
PROGRESS_INTERVAL_S = 0.1
#: Width of the progress bar, in characters.
BAR_WIDTH = 30
#: Longest the one-shot sync keeps asking a peer that answers ``busy``, in seconds from its start.
BUSY_DEADLINE_S = 120.0
#: Wait before the first retry after ``busy`` when the peer names none, in seconds; each further
#: retry waits twice as long as the one before (at least what the peer asked), up to the deadline.
BUSY_FIRST_WAIT_S = 1.0
#: Longest single wait between two retries, in seconds.
BUSY_MAX_WAIT_S = 30.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sync",
        help="fetch from one peer what you are missing, then exit",
        description="Connect to MULTIADDR once, fetch the messages this home lacks of you and "
        "everyone you follow (or of --author KEY), print what was fetched and exit. Works "
        "without a running node; with one, the node does it.",
    )
    p.add_argument("address", metavar="MULTIADDR", help="the peer, .../p2p/PEER_ID")
    p.add_argument(
        "--author",
        action="append",
        metavar="KEY",
        help="fetch this author's feed (repeatable; default: you and everyone you follow)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=cmd_sync)


def cmd_sync(ctx: Context) -> int:
    from contextlib import ExitStack

    from pnyx.app.lock import node_lock
    from pnyx.crypto.keytext import parse_public_key
    from pnyx.net.words import check_peer_address

    args = ctx.args
    args.address = check_peer_address(args.address)  # refused before the network starts
    authors = [parse_public_key(text) for text in args.author] if args.author else None
    with ExitStack() as stack:
        try:
            stack.enter_context(node_lock(ctx.home))
        except UserError:
            if not ctx.home.control_socket_path.exists():
                raise
            return _report(ctx, _through_node(ctx, args.author))
        return _report(ctx, _sync_here(ctx, authors))


def _through_node(ctx: Context, author_texts: list[str] | None) -> dict[str, Any]:
    from pnyx.control.client import request

    params: dict[str, Any] = {"addr": ctx.args.address}
    if author_texts:
        params["authors"] = author_texts
    result: dict[str, Any] = request(ctx.home, "sync", timeout=DELEGATE_TIMEOUT_S, **params)
    return result


def _sync_here(ctx: Context, authors: list[bytes] | None) -> dict[str, Any]:
    import trio

    from pnyx.app.config import load_config
    from pnyx.app.nodekey import load_or_create_node_seed

    config = load_config(ctx.home)
    me = ctx.public_key()
    if config.node_key == "identity":
        seed = bytes(ctx.key())
    else:
        seed = load_or_create_node_seed(ctx.home.node_key_path)
    store = ctx.store()
    if authors:
        wanted = set(authors)
    else:  # reach: the same interest set as the node's (follows and the horizon)
        from pnyx.node.reach import compute_plan
        from pnyx.trust.admission import AdmissionConfig

        wanted = set(compute_plan(store, me, AdmissionConfig(hops=config.hops)).wanted)
    progress = ProgressLine(ctx.err, enabled=is_terminal(ctx.err))
    try:  # errors (also inside exception groups) and Ctrl-C are mapped by pnyx.cli.main
        result = trio.run(_session, seed, ctx.args.address, store, wanted, progress)
    finally:
        progress.finish()
    return result.to_json()


async def _ignore_gossip(data: bytes, peer: str) -> Verdict:
    """The one-shot host takes no part in gossip: every frame is dropped, no penalty."""
    from pnyx.net.contracts import Verdict

    return Verdict.IGNORE


async def _session(
    seed: bytes, address: str, store: Store, authors: set[bytes], progress: ProgressLine
) -> SessionResult:
    import trio

    from pnyx.app.service import libp2p_factory, quiet_network_logging
    from pnyx.catchup.session import FetchOptions, Server, fetch_from_address, fetch_from_peer
    from pnyx.runtime import in_thread
    from pnyx.sync.limits import PROTOCOL_ID

    quiet_network_logging()
    async with libp2p_factory(seed, [CLIENT_LISTEN])(_ignore_gossip) as network:
        server = Server(store, in_thread)
        network.set_stream_handler(PROTOCOL_ID, server.serve)
        options = FetchOptions(offload=in_thread, on_progress=progress.update)
        deadline = trio.current_time() + BUSY_DEADLINE_S
        result = await fetch_from_address(network, address, store, authors=authors, options=options)
        wait = BUSY_FIRST_WAIT_S
        while (asked := busy_retry_after(result)) is not None:
            wait = min(max(wait, asked), BUSY_MAX_WAIT_S)
            if trio.current_time() + wait > deadline:
                break
            progress.note(f"the peer is busy: asking again in {wait:g} s (it said: {asked:g} s)")
            await trio.sleep(wait)
            wait *= 2
            result = await fetch_from_peer(
                network, result.peer, store, authors=authors, options=options
            )
        with trio.move_on_after(SERVE_GRACE_S):  # let the peer finish fetching from us
            while server.active:
                await trio.sleep(PROGRESS_INTERVAL_S)
    return result


def busy_retry_after(result: SessionResult) -> float | None:
    """The wait a peer asked for when it answered ``busy`` (``retry after S s``; 0 when it named
    none), or None when the session did not end ``busy``."""
    from pnyx.sync.errors import SyncReason

    failure = result.summary.failure if result.summary is not None else None
    if failure is None:
        return None
    told = failure.reason is SyncReason.PEER_ERROR and failure.detail.startswith("busy")
    if failure.reason is not SyncReason.BUSY and not told:
        return None
    import re

    asked = re.search(r"retry after (\d+) s", failure.detail)
    return float(asked.group(1)) if asked else 0.0


def _report(ctx: Context, result: dict[str, Any]) -> int:
    from pnyx.catchup.session import summary_line

    if ctx.args.json:
        ctx.print(json.dumps(result))
    else:
        ctx.print(summary_line(result))
    if result["failure"] is not None:
        from pnyx.net.words import in_words

        failure = line(in_words(str(result["failure"])))
        ctx.warn(
            f"the sync stopped early ({failure}); what arrived is kept: "
            "run it again to continue where it stopped"
        )
        return 1
    return 0


class ProgressLine:
    """A one-line progress bar redrawn with ``\\r`` (only when ``enabled``, i.e. on a terminal)."""

    def __init__(self, stream: TextIO, *, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.started = time.monotonic()
        self._last = -PROGRESS_INTERVAL_S
        self._width = 0

    def update(self, received: int, expected: int | None) -> None:
        """The driver's progress callback: envelopes received so far, expected total or None."""
        now = time.monotonic()
        if not self.enabled or now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        self._draw(render_progress(received, expected, now - self.started))

    def note(self, text: str) -> None:
        """A line of its own (on a terminal or not): what the sync is doing, e.g. retrying."""
        self.finish()
        self.stream.write(f"pnyx sync: {text}\n")
        self.stream.flush()

    def _draw(self, text: str) -> None:
        padding = " " * max(0, self._width - len(text))
        self.stream.write(f"\r{text}{padding}")
        self.stream.flush()
        self._width = len(text)

    def finish(self) -> None:
        """Erase the line (the summary follows on stdout)."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def render_progress(received: int, expected: int | None, elapsed: float) -> str:
    """The progress text: a bar when the total is known, else a count; with the rate."""
    rate = f"{received / elapsed:,.0f} msg/s" if elapsed > 0 else ""
    if expected:
        done = min(received, expected)
        filled = BAR_WIDTH * done // expected
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return f"syncing [{bar}] {done:,}/{expected:,} messages  {rate}".rstrip()
    return f"syncing: {received:,} messages  {rate}".rstrip()
