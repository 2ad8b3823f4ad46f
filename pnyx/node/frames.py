"""Two steps of the node's frame path, kept apart from ``pnyx.node.node`` for its size.

``messages_of``: the messages of a delivered frame, decoded when validated (``DecodedFrames``)
or, if evicted from that cache under load, validated again (an invalid frame gives none).
``check_future``: a future-dated frame, checked for everything but the clock, so its verified
authors count toward "our clock is behind" (``pnyx.ingest.clockskew``). Neither raises for
remote data.
"""

from __future__ import annotations

import logging

import trio

from pnyx.core.envelope import Message
from pnyx.core.frame import frame_id, validate_frame
from pnyx.core.limits import MAX_TIMESTAMP_MS
from pnyx.core.reasons import InvalidMessage
from pnyx.ingest.clockskew import ClockWatch
from pnyx.ingest.seen import DecodedFrames
from pnyx.net.contracts import Received
from pnyx.runtime import Offload

log = logging.getLogger(__name__)


async def messages_of(
    decoded: DecodedFrames, item: Received, offload: Offload, now_ms: int
) -> list[Message]:
    """The validated messages of ``item`` (see the module docstring)."""
    cached = decoded.take(frame_id(item.data))
    if cached is not None:
        return cached
    try:  # evicted from the cache under load: check it again
        messages: list[Message] = await offload(validate_frame, item.data, now_ms)
    except InvalidMessage as exc:
        log.debug("frame from %s no longer valid: %s", item.origin, exc)
        return []
    return messages


async def check_future(
    data: bytes,
    exc: InvalidMessage,
    lane: trio.CapacityLimiter,
    offload: Offload,
    clock: ClockWatch,
) -> InvalidMessage:
    """A future-dated frame, checked for all but the clock: ``exc`` if that passes (its now
    verified authors count toward "our clock is behind"), else the rule it breaks."""
    try:
        async with lane:  # the strangers lane: a future frame is seldom urgent
            messages = await offload(validate_frame, data, MAX_TIMESTAMP_MS)
    except InvalidMessage as other:
        return other
    clock.saw_future(messages, trio.current_time())
    return exc
