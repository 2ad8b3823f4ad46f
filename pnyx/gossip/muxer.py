"""Bounds on py-libp2p 0.8.1's transport buffers: yamux receive windows and outbound gossip queues
(issue 23, item 4).

py-libp2p's yamux grows a stream's receive window by auto-tuning up to ``MAX_WINDOW_SIZE`` (16 MiB,
as go-yamux), so every stream of every peer may hold that much data the node has not read yet. A
node reading slowly under a flood (its validation is the bottleneck) let each of 32 peers fill
its windows: 32 ids sending maximum-size envelopes took a node to +412 MiB. pnyx's largest unit
on a stream is a gossip RPC of at most 1 MiB (py-libp2p's limit) carrying one 256 KiB frame, or a
sync window of 4 batches of at most 256 KiB; ``MAX_YAMUX_WINDOW_BYTES`` keeps the window at
yamux's initial 256 KiB, which loopback and LAN throughput do not need more of (a window is
per RTT: 256 KiB per 10 ms is 25 MiB/s).

py-libp2p's yamux also buffers data a peer sends beyond the window (it logs "peer exceeded
receive window" and keeps the data); an honest yamux sender never does. ``BoundedYamux`` (the
muxer pnyx offers) gives each stream a buffer that refuses to hold more than
``MAX_STREAM_BUFFER_BYTES`` (twice the window: an honest sender cannot get there): the refusal
is a ``ConnectionAbortedError`` (py-libp2p's read loop drops the data and stops receiving on
that stream) and closes the connection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from libp2p.pubsub import pubsub as py_pubsub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.rpc_queue import RpcQueue
from libp2p.stream_muxer import muxer_multistream as py_muxer_multistream
from libp2p.stream_muxer.yamux import yamux as py_yamux
from libp2p.stream_muxer.yamux.yamux import Yamux

log = logging.getLogger(__name__)

#: Largest yamux receive window of one stream, in bytes (py-libp2p: grows to 16 MiB).
MAX_YAMUX_WINDOW_BYTES = 256 * 1024


#: Unread bytes one yamux stream may hold, at most (twice the window: only a sender that ignores
#: flow control reaches it, and its connection is then closed).
MAX_STREAM_BUFFER_BYTES = 2 * MAX_YAMUX_WINDOW_BYTES


class WindowExceeded(ConnectionAbortedError):
    """A peer sent more than a yamux stream's window allows (an ``OSError``, so py-libp2p's read
    loop closes the connection)."""


class _BoundedBuffer(bytearray):
    def __init__(self, data: Any = b"", on_exceeded: Any = None) -> None:
        super().__init__(data)
        self.on_exceeded = on_exceeded

    def extend(self, data: Any) -> None:
        if len(self) + len(data) > MAX_STREAM_BUFFER_BYTES:
            if self.on_exceeded is not None:
                self.on_exceeded()
            raise WindowExceeded(
                f"peer sent past the yamux window ({len(self) + len(data)} bytes unread)"
            )
        super().extend(data)


class _BoundedBuffers(dict[int, bytearray]):
    def __init__(self, on_exceeded: Any = None) -> None:
        super().__init__()
        self.on_exceeded = on_exceeded

    def __setitem__(self, key: int, value: bytearray) -> None:
        bounded = value if isinstance(value, _BoundedBuffer) else _BoundedBuffer(value)
        bounded.on_exceeded = self.on_exceeded
        super().__setitem__(key, bounded)


class BoundedYamux(Yamux):
    """py-libp2p's yamux whose streams refuse data beyond ``MAX_STREAM_BUFFER_BYTES``; the first
    refusal closes the connection (py-libp2p would only drop the data and stop that stream)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stream_buffers = _BoundedBuffers(self._window_exceeded)
        self.windows_exceeded = 0

    def _window_exceeded(self) -> None:
        self.windows_exceeded += 1
        if self.windows_exceeded == 1:
            log.warning("closing the connection of %s: it sent past the yamux window", self.peer_id)
        if self.windows_exceeded == 1 and self._nursery is not None:
            self._nursery.start_soon(self._cleanup_on_error)


def bound_receive_windows() -> None:
    """Keep every yamux stream's receive window at ``MAX_YAMUX_WINDOW_BYTES`` (no auto-tuning
    beyond it; py-libp2p reads its module-level maximum at every window update), and make every
    yamux connection a ``BoundedYamux``."""
    py_yamux.MAX_WINDOW_SIZE = MAX_YAMUX_WINDOW_BYTES
    # py-libp2p builds every yamux connection as its own ``Yamux``, whatever ``muxer_opt`` says
    py_muxer_multistream.Yamux = BoundedYamux  # type: ignore[attr-defined]


#: Bytes of RPCs waiting in one peer's outbound gossip queue, at most; more are dropped.
MAX_QUEUED_BYTES_PER_PEER = 1024 * 1024
#: Bytes of RPCs waiting in all outbound gossip queues together, at most; more are dropped.
MAX_QUEUED_BYTES_TOTAL = 32 * 1024 * 1024


class BoundedRpcQueue(RpcQueue):
    """py-libp2p's outbound gossip queue, bounded in bytes too (it holds 32 RPCs of up to 1 MiB
    each). Relaying a flood of valid maximum-size frames to a dozen mesh peers (the flooders
    themselves among them) queued hundreds of MiB; now a peer's queue holds at most
    ``MAX_QUEUED_BYTES_PER_PEER`` and all queues ``MAX_QUEUED_BYTES_TOTAL``. A dropped RPC is what
    py-libp2p does with a full queue: gossip is best effort, and IHAVE/IWANT and sync fill gaps.
    Control messages (``priority``) are never dropped for their size."""

    total = 0
    """Bytes queued in every ``BoundedRpcQueue`` of the process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queued_bytes = 0
        self._sizes: dict[int, int] = {}

    def push(self, rpc: rpc_pb2.RPC, priority: bool = False) -> bool:
        size = rpc.ByteSize()
        if not priority and (
            self.queued_bytes + size > MAX_QUEUED_BYTES_PER_PEER
            or BoundedRpcQueue.total + size > MAX_QUEUED_BYTES_TOTAL
        ):
            return False
        if not super().push(rpc, priority):
            return False
        self._sizes[id(rpc)] = size
        self.queued_bytes += size
        BoundedRpcQueue.total += size
        return True

    async def pop(self) -> rpc_pb2.RPC | None:
        rpc = await super().pop()
        if rpc is not None:
            self._release(self._sizes.pop(id(rpc), 0))
        return rpc

    def close(self) -> None:
        super().close()
        self._release(self.queued_bytes)
        self._sizes.clear()

    def _release(self, size: int) -> None:
        size = min(size, self.queued_bytes)
        self.queued_bytes -= size
        BoundedRpcQueue.total -= size


def queues_full(queues: Iterable[RpcQueue], high_water: int, adding: int) -> bool:
    """Whether a publisher should wait: some peer's outbound queue holds ``high_water`` RPCs, or
    it or all queues together have no room for ``adding`` more bytes."""
    if BoundedRpcQueue.total + adding > MAX_QUEUED_BYTES_TOTAL:
        return True
    for queue in queues:
        room = MAX_QUEUED_BYTES_PER_PEER - getattr(queue, "queued_bytes", 0)
        if len(queue) >= high_water or adding > room:
            return True
    return False


def bound_outbound_queues() -> None:
    """Make py-libp2p's pubsub create ``BoundedRpcQueue`` outbound queues."""
    py_pubsub.RpcQueue = BoundedRpcQueue  # type: ignore[attr-defined]
