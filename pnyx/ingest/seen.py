"""Validated gossip frames kept decoded between the validator and the ingest loop (sans-I/O).

The validator decodes and verifies a frame; libp2p then delivers the same bytes to the node.
``DecodedFrames`` keeps the decoded envelopes under the frame id so that delivery costs no second
decoding or verification. It holds at most ``DECODED_CACHE_BYTES`` of frames (counted by frame
size), dropping the oldest first; a frame dropped before its delivery is validated again.
"""

from __future__ import annotations

from collections import OrderedDict

from pnyx.core.envelope import Message

#: Validated frames are kept decoded until the ingest loop takes them, up to this many frame
#: bytes.
DECODED_CACHE_BYTES = 16 * 1024 * 1024


class DecodedFrames:
    """Frame id -> decoded envelopes, bounded by the frames' total size in bytes."""

    def __init__(self, limit_bytes: int = DECODED_CACHE_BYTES) -> None:
        self._limit = limit_bytes
        self._frames: OrderedDict[bytes, tuple[int, list[Message]]] = OrderedDict()
        self._bytes = 0

    def put(self, fid: bytes, size: int, messages: list[Message]) -> None:
        """Keep ``messages``, decoded from a frame of ``size`` bytes with id ``fid``."""
        previous = self._frames.pop(fid, None)
        if previous is not None:
            self._bytes -= previous[0]
        self._frames[fid] = (size, messages)
        self._bytes += size
        while self._bytes > self._limit and self._frames:
            self._bytes -= self._frames.popitem(last=False)[1][0]

    def take(self, fid: bytes) -> list[Message] | None:
        """The messages kept for ``fid`` (forgotten from here), or None."""
        entry = self._frames.pop(fid, None)
        if entry is None:
            return None
        self._bytes -= entry[0]
        return entry[1]
