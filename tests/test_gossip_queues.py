"""Outbound gossip queues bounded in bytes, and yamux windows kept small (``pnyx.gossip.muxer``),
without sockets."""

from __future__ import annotations

import pytest
import trio
from libp2p.pubsub.pb import rpc_pb2
from libp2p.stream_muxer.yamux import yamux as py_yamux

from pnyx.gossip import muxer
from pnyx.gossip.muxer import BoundedRpcQueue, bound_receive_windows, queues_full


def rpc(size: int) -> rpc_pb2.RPC:
    return rpc_pb2.RPC(publish=[rpc_pb2.Message(data=b"x" * size, topicIDs=["t"])])


async def test_a_peer_queue_holds_its_bytes_and_pops_release_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(muxer, "MAX_QUEUED_BYTES_PER_PEER", 1000)
    monkeypatch.setattr(BoundedRpcQueue, "total", 0)
    queue = BoundedRpcQueue()
    assert queue.push(rpc(400)) and queue.push(rpc(400))
    assert not queue.push(rpc(400))  # over the peer's bytes: dropped as a full queue drops
    assert queue.push(rpc(400), priority=True)  # control is never dropped for its size
    assert queues_full([queue], high_water=32, adding=400)
    with trio.fail_after(1):
        await queue.pop()
    assert queue.queued_bytes < 1000 + 400 and BoundedRpcQueue.total == queue.queued_bytes
    queue.close()
    assert queue.queued_bytes == 0 and BoundedRpcQueue.total == 0


def test_all_queues_together_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(muxer, "MAX_QUEUED_BYTES_TOTAL", 1500)
    monkeypatch.setattr(BoundedRpcQueue, "total", 0)
    queues = [BoundedRpcQueue() for _ in range(4)]
    pushed = [q.push(rpc(400)) for q in queues]
    assert pushed == [True, True, True, False]
    assert queues_full(queues, high_water=32, adding=400)
    for q in queues:
        q.close()
    assert BoundedRpcQueue.total == 0


def test_yamux_windows_stop_growing_at_the_bound() -> None:
    bound_receive_windows()
    assert py_yamux.MAX_WINDOW_SIZE == muxer.MAX_YAMUX_WINDOW_BYTES == py_yamux.DEFAULT_WINDOW_SIZE
