"""Dial-back over libp2p: ask a peer to dial this node afresh, and answer such requests.

The wire format and the verdict are sans-I/O in ``pnyx.net.reachability``; docs/protocol.md
("Dial-back") is the normative text. Each message is one length byte then that many bytes of
msgpack. The answering side dials only the requester's own IP address (as its connection shows
it), with a fresh TCP socket, so a NAT that admits only replies on known connections refuses it.

Bounds on the answering side (a request costs up to ``MAX_DIALBACK_PORTS`` TCP dials):
``DIALBACK_CONCURRENT`` requests at a time (more are refused at once) and one request per IP
address per ``DIALBACK_PER_IP_INTERVAL_S``. A request over a relayed connection is refused: the
requester's IP address is unknown there.

Failure modes: ``ask_dialback`` returns None when the peer did not answer usably (no such protocol,
refused, timeout, malformed answer); it never raises for a network failure.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from pnyx.net.reachability import (
    DIALBACK_PROTOCOL,
    DIALBACK_TIMEOUT_S,
    MAX_DIALBACK_PORTS,
    MULTISTREAM_GREETING,
    DialbackError,
    decode_answer,
    decode_request,
    encode_answer,
    encode_request,
)

log = logging.getLogger(__name__)

#: Requests answered at the same time, a count (more are refused).
DIALBACK_CONCURRENT: Final = 4
#: Shortest time between two requests answered for one IP address, in seconds.
DIALBACK_PER_IP_INTERVAL_S: Final = 20.0
#: Most IP addresses remembered for the per-IP interval, a count (oldest forgotten first).
DIALBACK_IP_MEMORY: Final = 1024
#: Longest a whole request may take on the asking side, in seconds.
DIALBACK_ASK_TIMEOUT_S: Final = DIALBACK_TIMEOUT_S * MAX_DIALBACK_PORTS + 5.0


async def _read_message(stream: INetStream) -> bytes:
    """One length-prefixed message (the length byte caps it at 255 bytes)."""
    head = await stream.read(1)
    if not head:
        raise DialbackError("stream ended before the message")
    size = head[0]
    data = bytes(head[1:])
    while len(data) < size:
        chunk = await stream.read(size - len(data))
        if not chunk:
            raise DialbackError("stream ended inside the message")
        data += chunk
    return data[:size]


def _frame(payload: bytes) -> bytes:
    return bytes([len(payload)]) + payload


def remote_ip(host: IHost, stream: INetStream) -> str | None:
    """The IP address the stream's connection comes from, or None (relayed, unknown)."""
    muxed = stream.muxed_conn
    for conn in host.get_network().get_connections(muxed.peer_id):
        if getattr(conn, "muxed_conn", None) is not muxed:
            continue
        for address in conn.get_transport_addresses():
            text = str(address)
            parts = text.split("/")
            if "p2p-circuit" in text or len(parts) < 3 or parts[1] not in ("ip4", "ip6"):
                return None
            return parts[2]
    return None


async def greets(ip: str, port: int) -> bool:
    """Whether a fresh TCP connection to ``ip``:``port`` gets a libp2p greeting in time."""
    with trio.move_on_after(DIALBACK_TIMEOUT_S):
        try:
            stream = await trio.open_tcp_stream(ip, port)
        except OSError:
            return False
        async with stream:
            data = b""
            while len(data) < len(MULTISTREAM_GREETING):
                try:
                    chunk = await stream.receive_some(len(MULTISTREAM_GREETING) - len(data))
                except (trio.BrokenResourceError, OSError):
                    return False
                if not chunk:
                    return False
                data += chunk
            return data == MULTISTREAM_GREETING
    return False


class DialbackServer:
    """Answers dial-back requests within the bounds of the module docstring."""

    def __init__(self, host: IHost) -> None:
        self._host = host
        self._busy = 0
        self._last: dict[str, float] = {}
        self.answered = 0
        self.refused = 0

    def register(self) -> None:
        self._host.set_stream_handler(TProtocol(DIALBACK_PROTOCOL), self.handle)

    async def handle(self, stream: INetStream) -> None:
        try:
            await self._handle(stream)
        except (DialbackError, trio.TooSlowError) as exc:
            log.debug("dial-back request refused: %s", exc)
            self.refused += 1
        except Exception as exc:  # noqa: BLE001  the stream broke: the peer's problem, never ours
            log.debug("dial-back stream failed: %r", exc)
        finally:
            await close_quietly(stream)

    async def _handle(self, stream: INetStream) -> None:
        ip = remote_ip(self._host, stream)
        if ip is None:
            raise DialbackError("no IP address to dial back (relayed connection)")
        now = trio.current_time()
        if self._busy >= DIALBACK_CONCURRENT:
            raise DialbackError("too many dial-back requests at once")
        last = self._last.get(ip)
        if last is not None and now - last < DIALBACK_PER_IP_INTERVAL_S:
            raise DialbackError(f"{ip} asked less than {DIALBACK_PER_IP_INTERVAL_S:g} s ago")
        self._last.pop(ip, None)
        self._last[ip] = now
        while len(self._last) > DIALBACK_IP_MEMORY:
            del self._last[next(iter(self._last))]
        self._busy += 1
        try:
            with trio.fail_after(DIALBACK_TIMEOUT_S):
                ports = decode_request(await _read_message(stream))
            results = [await greets(ip, port) for port in ports]
            await stream.write(_frame(encode_answer(results)))
            self.answered += 1
        finally:
            self._busy -= 1


async def ask_dialback(host: IHost, peer: ID, ports: list[int]) -> bool | None:
    """Ask ``peer`` to dial ``ports`` back at this node's IP as it sees it: True when any port
    greeted it, False when none did, None when the peer gave no usable answer."""
    request = encode_request(ports[:MAX_DIALBACK_PORTS])
    distinct = len(dict.fromkeys(ports[:MAX_DIALBACK_PORTS]))
    stream: Any = None
    try:
        with trio.fail_after(DIALBACK_ASK_TIMEOUT_S):
            stream = await host.new_stream(peer, [TProtocol(DIALBACK_PROTOCOL)])
            await stream.write(_frame(request))
            results = decode_answer(await _read_message(stream), distinct)
    except trio.TooSlowError:
        return None
    except Exception as exc:  # noqa: BLE001  no such protocol, refused, broken: no answer
        log.debug("dial-back by %s failed: %r", peer, exc)
        return None
    finally:
        if stream is not None:
            await close_quietly(stream)
    return any(results)


#: Longest a stream's close or reset may take before it is left to the connection, in seconds.
STREAM_CLOSE_TIMEOUT_S: Final = 1.0


async def close_quietly(stream: INetStream, *, reset: bool = False) -> None:
    """Close (or reset) a stream of ours, within ``STREAM_CLOSE_TIMEOUT_S``; one that is already
    gone is not an error (the NAT protocols' streams: dial-back, hop)."""
    with trio.move_on_after(STREAM_CLOSE_TIMEOUT_S):
        try:
            await (stream.reset() if reset else stream.close())
        except Exception as exc:  # noqa: BLE001  already reset or closed by the peer
            log.debug("closing a stream: %r", exc)
