"""Bounds on py-libp2p's gossip state and pnyx's three-outcome validation (issue 11).

``pnyx.gossip.bounds`` and ``pnyx.gossip.pubsub`` without a network: the message cache, seen cache
and equivocation memory stay within their named bounds; ``DedupPubsub.validate_msg`` turns IGNORE
(and a validation that does not finish in time, and frames of other topics) into the exception
that skips py-libp2p's score and caches, and only REJECT into ``ValidationError``.
"""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import pytest
import trio
from libp2p.exceptions import ValidationError
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2

from pnyx.gossip.bounds import BoundedGossipSub, BoundedMessageCache, BoundedSeenCache
from pnyx.gossip.pubsub import DedupPubsub, _Ignored
from pnyx.net.contracts import Verdict

TOPIC = "/pnyx/1/posts"


def message(n: int, size: int = 100, *, seqno: int | None = None) -> rpc_pb2.Message:
    return rpc_pb2.Message(
        from_id=b"peer-a",
        seqno=(n if seqno is None else seqno).to_bytes(8, "big"),
        data=n.to_bytes(4, "big") * (size // 4),
        topicIDs=[TOPIC],
    )


def test_the_message_cache_holds_at_most_its_bytes_and_forgets_what_shifts_out() -> None:
    cache = BoundedMessageCache(3, 5, max_bytes=1000)
    for n in range(30):
        cache.put(message(n))
    assert cache.bytes <= 1000 and len(cache.msgs) == 10
    assert cache.get(b"") is None
    for _ in range(5):
        cache.shift()
    assert cache.bytes == 0 and cache.msgs == {}


def test_the_seen_cache_forgets_its_oldest_ids_beyond_its_limit() -> None:
    seen = BoundedSeenCache(300, 60, limit=100)
    try:
        for n in range(250):
            seen.add(n.to_bytes(4, "big"))
        assert seen.length() == 100
        assert seen.has((249).to_bytes(4, "big")) and not seen.has((0).to_bytes(4, "big"))
    finally:
        seen.stop()


def test_equivocation_memory_keeps_digests_within_its_bound() -> None:
    router: Any = SimpleNamespace(_origins=OrderedDict())
    check = BoundedGossipSub._check_equivocation
    assert check(router, message(1))
    assert check(router, message(1))  # the same message again is no equivocation
    assert not check(router, message(2, seqno=1))  # other data under (from, seqno) 1
    for n in range(10_000):
        check(router, message(n + 10))
    assert len(router._origins) <= 4096
    assert all(len(digest) == 32 for digest in router._origins.values())


def fake_pubsub(verdict: Verdict | None, delay_s: float = 0.0) -> Any:
    async def validator(forwarder: ID, msg: rpc_pb2.Message) -> Verdict:
        await trio.sleep(delay_s)
        assert verdict is not None
        return verdict

    return SimpleNamespace(frame_validator=validator, frame_topic=TOPIC, validation_timeout=10.0)


async def test_only_reject_reaches_libp2ps_score_ignore_skips_it() -> None:
    forwarder = ID(b"\x00\x01x")
    validate = DedupPubsub.validate_msg
    await validate(fake_pubsub(Verdict.ACCEPT), forwarder, message(1))
    with pytest.raises(ValidationError):
        await validate(fake_pubsub(Verdict.REJECT), forwarder, message(1))
    with pytest.raises(_Ignored):
        await validate(fake_pubsub(Verdict.IGNORE), forwarder, message(1))
    other_topic = message(1)
    other_topic.topicIDs[:] = ["/other"]
    with pytest.raises(_Ignored):
        await validate(fake_pubsub(Verdict.ACCEPT), forwarder, other_topic)


async def test_a_validation_that_does_not_finish_in_time_is_ignored_not_rejected(
    autojump_clock: trio.abc.Clock,
) -> None:
    with pytest.raises(_Ignored):
        await DedupPubsub.validate_msg(
            fake_pubsub(Verdict.ACCEPT, delay_s=60.0), ID(b"\x00\x01x"), message(1)
        )
