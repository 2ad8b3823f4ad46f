"""A banned peer's teardown against its disconnect, in every order (issue 23, item 1).

``DedupPubsub._teardown_if_connected`` runs as a pubsub task after a ban. py-libp2p 0.8.1's own
version awaited ``stream.reset()`` between looking the peer's stream up and deleting it; a
disconnect handled in that gap (``_handle_dead_peer`` deletes the same entry) made the delete raise
``KeyError`` and stopped the node. These tests put the disconnect inside the reset, make the reset
fail or stall, and check that nothing raises and every table forgets the peer. The pubsub object is
built without a host (only the tables the teardown touches), so no socket is opened.
"""

from __future__ import annotations

from typing import Any

import trio
from libp2p.peer.id import ID

from pnyx.gossip.pubsub import TEARDOWN_RESET_S, DedupPubsub

PEER = ID(b"\x00\x24\x08\x01\x12\x20" + bytes(range(32)))


class Router:
    def __init__(self) -> None:
        self.removed: list[ID] = []

    def remove_peer(self, peer_id: ID) -> None:
        self.removed.append(peer_id)


class Queue:
    closed = False

    def close(self) -> None:
        self.closed = True


class Stream:
    """A stream whose reset takes ``delay_s`` and then raises ``error`` (if any); ``during`` runs
    inside the reset, as a disconnect handled in the gap would."""

    def __init__(self, delay_s: float, error: Exception | None = None, during: Any = None) -> None:
        self.delay_s, self.error, self.during = delay_s, error, during
        self.resets = 0

    async def reset(self) -> None:
        self.resets += 1
        if self.during is not None:
            self.during()
        await trio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error


def pubsub_with(stream: Stream | None) -> tuple[DedupPubsub, Router, Queue]:
    pubsub = object.__new__(DedupPubsub)  # the tables only: no host, no service
    router, queue = Router(), Queue()
    state: dict[str, Any] = {
        "peers": {} if stream is None else {PEER: stream},
        "peer_queues": {PEER: queue},
        "peer_topics": {"/pnyx/1/posts": {PEER}},
        "_peer_subscription_count": {PEER: 1},
        "_replayed_recent_topics": {},
        "router": router,
    }
    pubsub.__dict__.update(state)
    return pubsub, router, queue


def dead_peer_handled(pubsub: DedupPubsub) -> None:
    """What ``_handle_dead_peer`` does to the tables when the peer's connection closes."""
    if PEER in pubsub.peers:
        del pubsub.peers[PEER]
    if PEER in pubsub.peer_queues:
        pubsub.peer_queues.pop(PEER).close()


def assert_forgotten(pubsub: DedupPubsub, router: Router, queue: Queue) -> None:
    assert PEER not in pubsub.peers and PEER not in pubsub.peer_queues
    assert pubsub.peer_topics == {} and pubsub._peer_subscription_count == {}
    assert router.removed == [PEER] and queue.closed


async def test_a_disconnect_handled_during_the_reset_raises_nothing(autojump_clock: Any) -> None:
    stream = Stream(0.5)
    pubsub, router, queue = pubsub_with(stream)
    stream.during = lambda: dead_peer_handled(pubsub)
    with trio.fail_after(TEARDOWN_RESET_S + 1):
        await pubsub._teardown_if_connected(PEER)
    assert stream.resets == 1
    assert_forgotten(pubsub, router, queue)


async def test_a_disconnect_racing_the_teardown_task_raises_nothing(autojump_clock: Any) -> None:
    """The ban's teardown task and the disconnect run concurrently, the disconnect landing at
    every point of the reset."""
    for landing_s in (0.0, 0.1, 0.5, 1.0):
        stream = Stream(0.5)
        pubsub, router, queue = pubsub_with(stream)

        async def disconnect(pubsub: DedupPubsub = pubsub, at: float = landing_s) -> None:
            await trio.sleep(at)
            dead_peer_handled(pubsub)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pubsub._teardown_if_connected, PEER)
            nursery.start_soon(disconnect)
        assert_forgotten(pubsub, router, queue)


async def test_a_failing_or_stalled_reset_is_contained(autojump_clock: Any) -> None:
    for stream in (Stream(0.0, OSError("connection reset")), Stream(10 * TEARDOWN_RESET_S)):
        pubsub, router, queue = pubsub_with(stream)
        started = trio.current_time()
        await pubsub._teardown_if_connected(PEER)
        assert trio.current_time() - started <= TEARDOWN_RESET_S
        assert_forgotten(pubsub, router, queue)


async def test_a_peer_already_gone_is_only_forgotten(autojump_clock: Any) -> None:
    pubsub, router, queue = pubsub_with(None)
    await pubsub._teardown_if_connected(PEER)
    assert_forgotten(pubsub, router, queue)
