"""Every inbound libp2p stream runs inside a guard: whatever a peer sends, the error stays there.

py-libp2p 0.8.1 runs each inbound stream (multiselect negotiation, then the protocol's handler) as
a task in the nursery of its connection, itself a task of the swarm's service. An exception that
a handler lets escape cancels the swarm and stops the node: three bytes on ``/meshsub/1.1.0`` that
are not a protobuf RPC make pubsub's ``stream_handler`` raise ``google.protobuf.DecodeError``, and
``pnyx run`` exits about 2 s later (docs/architecture.md, py-libp2p traps).

``guard_streams(host)`` replaces the swarm's single entry point for inbound streams
(``swarm.common_stream_handler``, which ``BasicHost`` sets to its ``_swarm_stream_handler``) by a
wrapper. It therefore covers every protocol the host serves, whether registered now or later, by
pnyx (sync) or by py-libp2p itself (identify, identify-push, ping, meshsub 1.0/1.1, kad), and the
negotiation before any of them. What the wrapper does with what a handler raises:

* ``trio.Cancelled`` and other ``BaseException``: propagate untouched (shutdown must work);
* the stream or connection broke (``BROKEN``: reset, EOF, closed muxer or socket, a message cut
  short by the end of the stream, a handler's own deadline): logged at debug, not counted; an
  honest peer that goes away or stalls in the middle of a message looks the same;
* anything else (a protobuf ``DecodeError``, ``ValueError``, ``KeyError``...): the stream is reset
  (bounded by ``RESET_TIMEOUT_S``), logged at debug, counted in ``StreamGuard.faults`` and reported
  through ``on_fault(peer_id, PeerStreamError)``, which the node turns into one penalty
  (``Node.penalise``: 3 bring a ban, docs/security.md section 3). The node is never stopped.

``StreamGuard.report`` is also called by ``pnyx.gossip.pubsub.DedupPubsub`` when a message task
of pubsub raises (another way py-libp2p lets one peer's bytes stop the pubsub service).

Handlers that catch their own errors (kad, ping, pnyx's sync server) never reach the guard: for
them the guard is a second line. py-libp2p's identify-push handler catches every error too, but
stores the pushed listen addresses unchecked (``multiaddr`` parses lazily): garbage there made
pnyx's dialer raise ``BinaryParseError`` on the next tick and stop the node. ``guard_streams``
therefore replaces it with ``strict_identify_push``, which raises (a fault, so a penalty) for a
message that does not parse and drops every listen address that does not parse before the peer
store sees them (without a penalty: a newer peer may announce a transport this multiaddr library
does not know).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable

import multiaddr
import trio
from libp2p.abc import IHost, INetStream
from libp2p.identity.identify.pb.identify_pb2 import Identify
from libp2p.identity.identify_push.identify_push import ID_PUSH
from libp2p.identity.update import update_peerstore_from_identify
from libp2p.io.exceptions import ConnectionClosedError, IncompleteReadError
from libp2p.network.connection.exceptions import RawConnError
from libp2p.network.stream.exceptions import StreamError
from libp2p.stream_muxer.exceptions import MuxedConnError, MuxedStreamError
from libp2p.utils.varint import read_varint_prefixed_bytes_limited

from pnyx.net.errors import PeerStreamError

log = logging.getLogger(__name__)

#: Longest resetting a faulty stream may take, in seconds.
RESET_TIMEOUT_S = 2.0
#: Largest identify-push message taken, in bytes (one is a few hundred; py-libp2p allows 1 MiB).
MAX_IDENTIFY_PUSH_BYTES = 64 * 1024
#: Longest a peer may take to send its identify-push message, in seconds (py-libp2p's own 10 s).
IDENTIFY_PUSH_TIMEOUT_S = 10.0
#: Longest text of an exception kept in a fault's detail, in characters.
MAX_DETAIL_CHARS = 120

#: Errors that say the stream or connection broke, not that the peer sent bad data.
BROKEN: tuple[type[Exception], ...] = (
    StreamError,
    MuxedConnError,
    MuxedStreamError,
    RawConnError,
    ConnectionClosedError,
    IncompleteReadError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,  # a handler's own deadline: a slow peer is not proof of a bad one
    EOFError,
    OSError,
)

#: Called with the remote peer id and the fault; must not block or raise.
FaultHandler = Callable[[str, PeerStreamError], None]
_Handler = Callable[[INetStream], Awaitable[None]]


class StreamGuard:
    """Contains errors of inbound stream handlers (see the module docstring)."""

    def __init__(self) -> None:
        self.on_fault: FaultHandler | None = None
        """Where faults are reported (the node's penalty path); None: counted and logged only."""
        self.faults: Counter[str] = Counter()
        """Faults per protocol id ("?" before negotiation ended), since the host started."""
        self.broken = 0
        """Handlers ended by a broken stream or connection (not counted against the peer)."""

    def report(self, peer: str, protocol: str, exc: BaseException) -> None:
        """Count a fault of ``peer`` on ``protocol`` and hand it to ``on_fault``."""
        self.faults[protocol] += 1
        detail = f"{exc.__class__.__name__}: {exc}"[:MAX_DETAIL_CHARS]
        fault = PeerStreamError(protocol, detail)
        log.debug("%s from %s", fault, peer)
        if self.on_fault is not None:
            try:
                self.on_fault(peer, fault)
            except Exception:  # a bug in the callback must not undo the containment
                log.exception("fault handler failed for %s", peer)

    def wrap(self, inner: _Handler) -> _Handler:
        """``inner`` (the host's stream entry point) with its errors contained."""

        async def guarded(stream: INetStream) -> None:
            try:
                await inner(stream)
            except* BROKEN as group:
                self.broken += 1
                log.debug("inbound stream broke: %r", group.exceptions[0])
            except* Exception as group:  # noqa: BLE001 - any bytes: contained, counted
                await self._fault(stream, group.exceptions[0])

        return guarded

    async def _fault(self, stream: INetStream, exc: BaseException) -> None:
        peer = stream.muxed_conn.peer_id.to_base58()
        protocol = str(stream.get_protocol() or "?")
        with trio.move_on_after(RESET_TIMEOUT_S):
            try:
                await stream.reset()
            except Exception as reset_error:  # noqa: BLE001 - a faulty stream may fail anyhow
                log.debug("resetting a faulty stream of %s: %r", peer, reset_error)
        self.report(peer, protocol, exc)


class GuardedMixin:
    """``Libp2pNetwork``'s side of the guard: where faults go (``network.ReportsFaults``)."""

    _guard: StreamGuard

    def report_faults_to(self, on_fault: FaultHandler) -> None:
        self._guard.on_fault = on_fault

    def stream_faults(self) -> dict[str, int]:
        """Faults per protocol id since the host started (for tests and diagnostics)."""
        return dict(self._guard.faults)


def _parses(raw: bytes) -> bool:
    try:
        str(multiaddr.Multiaddr(raw))  # multiaddr parses lazily: only str() checks the bytes
    except (ValueError, multiaddr.exceptions.Error):
        return False
    return True


def strict_identify_push(host: IHost) -> _Handler:
    """An identify-push handler that raises (a fault for the guard) on a message that does not
    parse or is over ``MAX_IDENTIFY_PUSH_BYTES``, and stores only the listen addresses that parse;
    a message cut short by the end of the stream, or none within ``IDENTIFY_PUSH_TIMEOUT_S``, is
    dropped without a fault."""

    async def handle(stream: INetStream) -> None:
        with trio.move_on_after(IDENTIFY_PUSH_TIMEOUT_S):
            data = await read_varint_prefixed_bytes_limited(stream, MAX_IDENTIFY_PUSH_BYTES)
            message = Identify()
            message.ParseFromString(data)
            good = [raw for raw in message.listen_addrs if _parses(raw)]
            del message.listen_addrs[:]
            message.listen_addrs.extend(good)
            peer = stream.muxed_conn.peer_id
            await update_peerstore_from_identify(host.get_peerstore(), peer, message)
        await stream.close()

    return handle


def guard_streams(host: IHost) -> StreamGuard:
    """Wrap ``host``'s entry point for inbound streams and install ``strict_identify_push``
    (before the host listens); returns the guard."""
    guard = StreamGuard()
    host.set_stream_handler(ID_PUSH, strict_identify_push(host))
    swarm = host.get_network()
    swarm.set_stream_handler(guard.wrap(swarm.common_stream_handler))  # type: ignore[attr-defined]
    return guard
