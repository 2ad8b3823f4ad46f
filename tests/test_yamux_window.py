"""A yamux sender that ignores flow control gets its connection closed, not buffered
(issue 23 item 4's last gap; pnyx.gossip.muxer.BoundedYamux)."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from libp2p.peer.id import ID

from pnyx.gossip.muxer import MAX_STREAM_BUFFER_BYTES, BoundedYamux, WindowExceeded, _BoundedBuffers
from pnyx.net.contracts import ByteStream
from tests.libp2p_kit import CAP_S, hosts


def test_a_stream_buffer_refuses_more_than_its_bound() -> None:
    buffers = _BoundedBuffers()
    buffers[1] = bytearray(b"x" * 10)
    buffers[1].extend(b"y" * (MAX_STREAM_BUFFER_BYTES - 10))
    assert len(buffers[1]) == MAX_STREAM_BUFFER_BYTES
    with pytest.raises(WindowExceeded):
        buffers[1].extend(b"z")
    assert isinstance(WindowExceeded(), OSError)  # py-libp2p closes the connection on OSError


@pytest.mark.network
async def test_a_sender_past_the_window_loses_its_connection_and_the_node_lives() -> None:
    never_read = trio.Event()

    async def sit(stream: ByteStream, peer: str) -> None:
        await never_read.wait()  # reads nothing: the window fills

    with trio.fail_after(CAP_S):
        async with hosts(3) as (victim, hostile, honest):
            victim.set_stream_handler("/test/sink", sit)
            victim.set_stream_handler("/test/echo", _echo)
            await hostile.connect(victim.listen_addrs()[0])
            await honest.connect(victim.listen_addrs()[0])
            stream: Any = await hostile.open_stream(victim.peer_id, "/test/sink")
            raw = stream._stream.muxed_stream  # the py-libp2p yamux stream under the wrappers
            raw.send_window = 1 << 30  # this sender no longer waits for window updates
            chunk = b"\\0" * 65536
            with trio.move_on_after(10):
                try:
                    for _ in range(64):  # 4 MiB, 16x the window
                        await raw.write(chunk)
                        await trio.sleep(0)
                except Exception:  # noqa: BLE001 - the victim closed the connection: expected
                    pass
            victim_host: Any = victim._host
            for _ in range(200):
                if not victim_host.get_network().get_connections(ID.from_base58(hostile.peer_id)):
                    break
                await trio.sleep(0.05)
            assert not victim_host.get_network().get_connections(ID.from_base58(hostile.peer_id))
            for conn in victim_host.get_network().get_connections(ID.from_base58(honest.peer_id)):
                assert isinstance(conn.muxed_conn, BoundedYamux)
            echo = await honest.open_stream(victim.peer_id, "/test/echo")
            await echo.send_all(b"still here")
            assert await echo.receive_some(100) == b"still here"


async def _echo(stream: ByteStream, peer: str) -> None:
    await stream.send_all(await stream.receive_some(100))
