"""py-libp2p's ``Pubsub`` with each gossip frame validated once, however many peers relay it.

py-libp2p 0.8.1 handles every message of an incoming RPC in a task of its own (``push_msg``) and
marks a message id as seen only *after* the topic validator accepted it. A frame that arrives from
two mesh peers while the first copy is still being validated (a 512-envelope frame takes tens of
milliseconds of signature checks) is therefore validated again, delivered to the node twice and
forwarded twice, and the extra copies cascade to the next hops.

``DedupPubsub.push_msg`` waits while another copy of the same message id (``gossip_message_id``,
BLAKE2b-256 of the data) is being handled, then lets pubsub look at the copy as usual: after an
accepted first copy it is seen and dropped without a word, after a refused one (an invalid frame,
or one only this forwarder's rate limit refused) it is validated on its own. Nothing on the wire
changes: a duplicate is dropped exactly as a message already in the seen cache is.

Validation is pnyx's own, with three outcomes (py-libp2p's topic validators have two, and count
every refusal against the forwarder's score and cache it for the frame id): ``frame_validator``
returns a ``Verdict``. ACCEPT: delivered and forwarded. REJECT (invalid data the forwarder could
have checked): dropped, one point off the forwarder's gossip score. IGNORE (rate limited, over a
budget, our clock, our store, a validation that did not finish in time): dropped, no score change,
not remembered, so a later copy is looked at again. Frames waiting to be handled (or being
validated) hold at most ``MAX_PENDING_FRAME_BYTES`` of memory, counted as what a frame really costs
once decoded, ``PENDING_COST_PER_FRAME_BYTE`` times its wire size (issue 23, item 4: counting wire
bytes let 32 ids sending maximum-size envelopes take a node to +283 MiB); a frame beyond that is
ignored on arrival (py-libp2p starts a task per received message without backpressure). The seen
cache is bounded (``pnyx.gossip.bounds``).

py-libp2p writes RPCs to a peer's stream from more than one task (its send loop, and directly when
it flushes messages held back while identify was pending or replays recent ones to a new peer); a
large RPC written in several yamux chunks could interleave with another and reach the peer as
garbage (seen: the receiver's protobuf parser failed and took its node down). ``write_msg`` holds
one lock per stream.

``MessageIds`` is the message-id function: it remembers the ids of the last few message objects,
because pubsub asks for the id of one message up to six times (seen check, validation cache, seen
mark, message cache, router), each a hash of up to 256 KiB.

``push_msg`` runs as a task of pubsub's service: py-libp2p lets some bad messages raise there
(a signed message whose ``key`` does not deserialize), which would stop the pubsub service and the
node. ``DedupPubsub.push_msg`` contains any ``Exception`` and reports it to ``guard``
(``pnyx.gossip.guard``: one penalty for the forwarder).
"""

from __future__ import annotations

import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable

import trio
from libp2p.abc import INetStream
from libp2p.exceptions import ValidationError
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub

from pnyx.core.frame import frame_id
from pnyx.gossip.bounds import BoundedSeenCache
from pnyx.gossip.guard import StreamGuard
from pnyx.net.contracts import Verdict

#: A pnyx gossip validator as pubsub calls it: (forwarder, message) -> verdict.
FrameValidator = Callable[[ID, rpc_pb2.Message], Awaitable[Verdict]]

log = logging.getLogger(__name__)

#: What a message fault is reported as (in place of a stream's protocol id).
PUBSUB_MESSAGE = "pubsub-message"
#: Message objects whose id ``MessageIds`` remembers, a count (each entry keeps its message, at
#: most 256 KiB of frame, alive until it is pushed out).
REMEMBERED_IDS = 8
#: Most memory held by received frames waiting for (or in) validation, in bytes of their decoded
#: cost (``PENDING_COST_PER_FRAME_BYTE``); more are ignored.
MAX_PENDING_FRAME_BYTES = 32 * 1024 * 1024
#: Memory a pending frame costs per byte of its wire size, a factor. Measured with tracemalloc on
#: a frame of 31 maximum-size envelopes (256,034 bytes): the protobuf message holds one copy (in
#: C memory, not traced), the frame's list of envelopes one (257 KB), the decoded messages one
#: (269 KB): 3.06 x traced, about 4 x in all; the read buffer of the RPC is freed once parsed.
PENDING_COST_PER_FRAME_BYTE = 4
#: Longest the reset of a banned peer's stream may take, in seconds (a stalled peer).
TEARDOWN_RESET_S = 5.0


class _Ignored(Exception):
    """Raised by ``DedupPubsub.validate_msg`` past py-libp2p's ``ValidationError`` handler."""


class MessageIds:
    """The gossip message id of a pubsub message: BLAKE2b-256 of its data (``frame_id``),
    remembered for the last ``REMEMBERED_IDS`` message objects (by identity)."""

    def __init__(self, size: int = REMEMBERED_IDS) -> None:
        self._recent: deque[tuple[rpc_pb2.Message, bytes]] = deque(maxlen=size)

    def __call__(self, message: rpc_pb2.Message) -> bytes:
        for held, digest in self._recent:
            if held is message:
                return digest
        digest = frame_id(message.data)
        self._recent.append((message, digest))
        return digest


class DedupPubsub(Pubsub):
    """``Pubsub`` that handles one copy of a message id at a time, validates with three outcomes
    and bounds what waits (see the module docstring)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        seen = self.seen_messages
        seen.stop()
        self.seen_messages = BoundedSeenCache(seen.ttl, seen.sweep_interval)
        self._in_flight: dict[bytes, trio.Event] = {}
        self._write_locks: weakref.WeakKeyDictionary[INetStream, trio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._pending_bytes = 0
        self.frame_topic = ""
        self.frame_validator: FrameValidator | None = None
        self.duplicates_waited = 0
        """Copies that arrived while another copy of the same frame was being handled."""
        self.guard: StreamGuard | None = None
        """Where a message that makes py-libp2p raise is reported (None: only logged)."""
        self.ignored = 0
        """Frames dropped without penalty (IGNORE verdicts and frames over the pending bound)."""
        self.task_failures = 0
        """Pubsub tasks for one peer that raised and were contained (see ``run``)."""

    def set_frame_validator(self, topic: str, validator: FrameValidator) -> None:
        """Validate every frame of ``topic`` with ``validator``; frames of other topics are
        ignored."""
        self.frame_topic, self.frame_validator = topic, validator

    async def push_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        if msg_forwarder == self.my_id:  # our own publication: errors go to the publisher
            await super().push_msg(msg_forwarder, msg)
            return
        size = len(msg.data) * PENDING_COST_PER_FRAME_BYTE
        if self._pending_bytes + size > MAX_PENDING_FRAME_BYTES:
            self.ignored += 1
            return
        self._pending_bytes += size
        try:
            await self._push_one_copy(msg_forwarder, msg)
        except _Ignored:
            self.ignored += 1
        except Exception as exc:  # noqa: BLE001 - must not stop pubsub; the forwarder's fault
            if self.guard is None:
                log.debug("pubsub message from %s raised: %r", msg_forwarder, exc)
            else:
                self.guard.report(msg_forwarder.to_base58(), PUBSUB_MESSAGE, exc)
        finally:
            self._pending_bytes -= size

    async def run(self) -> None:
        """Pubsub's service, with every task it starts for a peer (``run_task``, not a daemon)
        contained: py-libp2p 0.8.1 lets an error of such a task (one peer's teardown, replay or
        flush) stop the whole pubsub service and the node. A contained error is logged with its
        traceback and counted in ``task_failures``; ``trio.Cancelled`` and other non-``Exception``
        errors pass through, and the daemon tasks that are the service itself are left alone."""
        manager = self.manager
        start_task = manager.run_task

        def run_contained_task(
            async_fn: Callable[..., Awaitable[object]],
            *args: object,
            daemon: bool = False,
            name: str | None = None,
            **kwargs: object,
        ) -> None:
            if daemon:
                start_task(async_fn, *args, daemon=daemon, name=name, **kwargs)
                return

            async def contained(*task_args: object) -> None:
                try:
                    await async_fn(*task_args)
                except Exception:  # one peer's task must not stop pubsub
                    self.task_failures += 1
                    log.warning("a pubsub task (%s) failed", async_fn.__name__, exc_info=True)

            task_name = name or getattr(async_fn, "__name__", "pubsub task")
            start_task(contained, *args, daemon=False, name=task_name, **kwargs)

        manager.run_task = run_contained_task  # type: ignore[method-assign]
        await super().run()

    async def _teardown_if_connected(self, peer_id: ID) -> None:
        """Forget a banned peer everywhere, then reset its stream; never raises.

        py-libp2p 0.8.1 (``add_to_blacklist`` runs this as a pubsub task) looked the stream up,
        awaited ``stream.reset()``, then ``del self.peers[peer_id]``: when the peer's disconnect
        was handled in that gap (``_handle_dead_peer`` deletes the same entry), the ``KeyError``
        stopped pubsub and the node (issue 23, item 1). Here every table is updated first, with no
        ``await`` between a lookup and its removal, and only then is the stream reset, within
        ``TEARDOWN_RESET_S`` and with any error of the dead stream logged.

        Blacklisting also forgets the peer's stream but, in py-libp2p 0.8.1, left the peer in the
        router (mesh, fanout) with its outbound queue open; when it then disconnected,
        ``_handle_dead_peer`` found no stream and cleaned up nothing. Banned peers stayed in the
        mesh for good: after about a dozen bans the mesh went over D_hi and the heartbeat's prune
        could drop the honest peers and keep the ghosts. Here the router forgets it too."""
        stream = self.peers.pop(peer_id, None)
        self._forget_all_subscriptions(peer_id)
        if (queue := self.peer_queues.pop(peer_id, None)) is not None:
            queue.close()
        self.router.remove_peer(peer_id)
        if stream is None:
            return
        with trio.move_on_after(TEARDOWN_RESET_S):
            try:
                await stream.reset()
            except Exception as exc:  # noqa: BLE001 - the stream of a peer that is gone anyway
                log.debug("resetting the stream of banned %s: %r", peer_id, exc)

    async def _push_one_copy(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        message_id = self._msg_id_constructor(msg)
        while (running := self._in_flight.get(message_id)) is not None:
            self.duplicates_waited += 1
            await running.wait()
        done = self._in_flight[message_id] = trio.Event()
        try:
            await super().push_msg(msg_forwarder, msg)
        finally:
            del self._in_flight[message_id]
            done.set()

    async def write_msg(self, stream: INetStream, rpc_msg: rpc_pb2.RPC) -> bool:
        """py-libp2p's ``write_msg``, one RPC at a time per stream (see the module docstring)."""
        lock = self._write_locks.setdefault(stream, trio.Lock())
        async with lock:
            return await super().write_msg(stream, rpc_msg)

    async def validate_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        """Returns for ACCEPT, raises ``ValidationError`` for REJECT (py-libp2p lowers the
        forwarder's score) and ``_Ignored`` for IGNORE (caught in ``push_msg``: no score)."""
        verdict = Verdict.IGNORE  # also when the validation does not finish in time
        if self.frame_validator is not None and list(msg.topicIDs) == [self.frame_topic]:
            with trio.move_on_after(self.validation_timeout):
                verdict = await self.frame_validator(msg_forwarder, msg)
        if verdict is Verdict.REJECT:
            raise ValidationError("invalid frame")
        if verdict is not Verdict.ACCEPT:
            raise _Ignored
