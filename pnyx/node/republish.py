"""Gossip the user's own messages again when the running node gets a peer after being alone.

A post written while the running node had no peer was published to nobody. Followers connected to
this node get it by catch-up sync on connect (``pnyx.catchup.scheduler``), but a follower reachable
only through relays that do not follow the user would not. So when the number of connected peers
goes from zero to one or more, the node publishes again its own messages written while it had none
(since the last peer left, or since start, until the new peer came), at most
``MAX_REPUBLISH_MESSAGES`` of the latest, once a gossip peer is known. Receivers that hold them
already count them as duplicates.

Messages written while no node ran (``pnyx post`` with the node stopped) are covered the same way
when the home keeps an ``OnlineMark``: the node records, in ``online.mark``, until when it last
had a peer (when its last peer leaves, every ``MARK_EVERY_S`` while it has peers, and when it
stops). At the next start the window opens at that time instead of at the start, so what was
written in between goes out on the first connection. Without a mark (the first start, or the
file lost) it opens at the start: a node never resends history it cannot place. A node killed
while it had peers leaves an older mark, so at most ``MAX_REPUBLISH_MESSAGES`` already-sent
messages go out again (receivers count them as duplicates).

Best effort: a failure is logged and the next reconnection tries again; sync remains the
guarantee.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from pnyx.core.envelope import Message, decode
from pnyx.core.reasons import InvalidMessage
from pnyx.errors import StoreError
from pnyx.home import UnsafeHomeError, open_private
from pnyx.net.contracts import PeerEvent
from pnyx.runtime import cleanup_scope

if TYPE_CHECKING:
    from pnyx.node.node import Node
    from pnyx.store import Store

log = logging.getLogger(__name__)

#: Most own messages gossiped again on one reconnection (the latest ones), a count.
MAX_REPUBLISH_MESSAGES = 256
#: How often the online mark is rewritten while the node has peers, in seconds.
MARK_EVERY_S = 60.0
#: File name of the online mark in the home directory.
ONLINE_MARK_FILE = "online.mark"
#: Permissions of the online mark file (owner only, like everything in the home).
MARK_FILE_MODE = 0o600
#: Longest online mark read, in bytes (a real one is 14).
MAX_MARK_BYTES = 64
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
#: Longest wait for a peer subscribed to the gossip topic after the first connection, in seconds.
TOPIC_WAIT_S = 10.0
#: Pause after a gossip peer appears, so that the gossip mesh includes it (one heartbeat), in s.
MESH_SETTLE_S = 1.0
#: How often the topic peers are looked at while waiting, in seconds.
TOPIC_POLL_S = 0.1


class OnlineMark:
    """Until when the node last had a peer (ms since the epoch), kept in one small file.

    Blocking file I/O: call through ``node.offload``. ``read`` returns None for a missing or
    unreadable file, a symbolic link or a file not the user's (logged: a lost mark only means no
    backlog is gossiped); ``write`` replaces the file atomically (a fresh temporary file, never
    opened through a link) and raises ``OSError`` (the caller logs it and goes on).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> int | None:
        try:
            fd = open_private(self.path, os.O_RDONLY)  # robustness: never through a link
            with os.fdopen(fd, "r", encoding="ascii") as handle:
                text = handle.read(MAX_MARK_BYTES).strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, UnsafeHomeError) as exc:
            log.warning("cannot read %s: %s", self.path, exc)
            return None
        if not text.isdigit():
            log.warning("ignoring %s: not a time in milliseconds", self.path)
            return None
        return int(text)

    def write(self, ms: int) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.unlink(missing_ok=True)  # a stale one (or a link planted there) goes
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_FOLLOW, MARK_FILE_MODE)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(f"{ms:d}\n")
        os.replace(temporary, self.path)


class OwnRepublisher:
    """See the module docstring. Build before the node runs; run ``run`` in a nursery."""

    def __init__(self, node: Node, mark: OnlineMark | None = None) -> None:
        self.node = node
        self.republished = 0
        """Own messages gossiped again since start, a count."""
        self._mark = mark
        self._peers: set[str] = set()
        self._offline_since_ms = node.started_ms
        self._clock_ms = node.clock_ms
        self._trigger = trio.Event()
        self._went_offline = trio.Event()
        node.events.peers.subscribe(self._peer_event)

    @property
    def online(self) -> bool:
        """Whether the node has a peer, as far as the peer events seen so far tell."""
        return bool(self._peers)

    def _peer_event(self, event: PeerEvent) -> None:
        peer = event.peer.peer_id
        if event.connected:
            alone = not self._peers
            self._peers.add(peer)
            if alone:
                self._trigger.set()
        elif peer in self._peers:
            self._peers.discard(peer)
            if not self._peers:
                self._offline_since_ms = self._clock_ms()
                self._went_offline.set()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        if self._mark is not None:
            last_online = await self.node.offload(self._mark.read)
            if last_online is not None and last_online < self._offline_since_ms:
                self._offline_since_ms = last_online  # include what was written while stopped
        async with trio.open_nursery() as nursery:
            if self._mark is not None:
                nursery.start_soon(self._keep_mark, self._mark)
            task_status.started()
            await self._republish_on_reconnect()

    async def _keep_mark(self, mark: OnlineMark) -> None:
        """Record until when the node had peers: on losing the last one, every MARK_EVERY_S
        while it has some, and when the node stops with some."""
        try:
            while True:
                with trio.move_on_after(MARK_EVERY_S):
                    await self._went_offline.wait()
                if self._went_offline.is_set():
                    self._went_offline = trio.Event()
                    await self._write_mark(mark, self._offline_since_ms)
                elif self._peers:
                    await self._write_mark(mark, self._clock_ms())
        finally:
            if self._peers:
                with cleanup_scope():
                    await self._write_mark(mark, self._clock_ms())

    async def _write_mark(self, mark: OnlineMark, ms: int) -> None:
        try:
            await self.node.offload(mark.write, ms)
        except OSError as exc:
            log.warning("cannot record until when the node was online in %s: %s", mark.path, exc)

    async def _republish_on_reconnect(self) -> None:
        while True:
            await self._trigger.wait()
            self._trigger = trio.Event()
            since, until = self._offline_since_ms, self._clock_ms()
            if not await self._wait_for_gossip_peer():
                continue
            try:  # messages written from now on are the publish loop's
                own = await self.node.offload(
                    latest_own, self.node.store, self.node.me, since, until
                )
            except StoreError as exc:
                log.warning("cannot read own messages to gossip them again: %s", exc)
                continue
            await self.node.publish_own(own)
            if own:
                self.republished += len(own)
                log.info("gossiped %d of your messages written while offline", len(own))

    async def _wait_for_gossip_peer(self) -> bool:
        network = self.node.network
        with trio.move_on_after(TOPIC_WAIT_S):
            while not network.topic_peers():
                await trio.sleep(TOPIC_POLL_S)
            await trio.sleep(MESH_SETTLE_S)
            return bool(self._peers)
        return False


def latest_own(store: Store, me: bytes, since_ms: int, until_ms: int) -> list[Message]:
    """The user's latest messages (at most ``MAX_REPUBLISH_MESSAGES``) with ``since_ms`` <= ts <
    ``until_ms``, in seq order (blocking: a store read). Raises ``StoreError``."""
    head = store.heads([me]).get(me)
    if head is None:
        return []
    highest = head[1]
    first = max(1, highest - MAX_REPUBLISH_MESSAGES + 1)
    own: list[Message] = []
    for raw in store.range(me, first, highest, limit=MAX_REPUBLISH_MESSAGES):
        try:
            message = decode(raw)
        except InvalidMessage as exc:
            log.warning("an own message in the store cannot be decoded: %s", exc)
            continue
        if since_ms <= message.ts < until_ms:
            own.append(message)
    return own
