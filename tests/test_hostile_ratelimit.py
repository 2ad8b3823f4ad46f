"""Rate limits per author, per peer and for strangers (pnyx.ingest.ratelimit): the buckets alone,
then in a node.

The node tests run on the in-memory network under ``autojump_clock`` (virtual time): hostile memnet
peers flood valid frames at a relay; the relay verifies no more than its buckets allow, penalises
nobody for valid traffic (neither the flooders nor itself at the next hop), and an honest post still
reaches its follower through the same relay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nacl.signing
import pytest
import trio

from pnyx.app.config import NodeConfig, load_config
from pnyx.core.envelope import sign
from pnyx.core.frame import encode_frame
from pnyx.errors import ConfigError
from pnyx.home import Home
from pnyx.ingest.ratelimit import (
    MAX_TRACKED_AUTHORS,
    RATE_LIMITED,
    Buckets,
    RateLimited,
    RateLimiter,
    RateLimits,
    parse_rate_limits,
)
from tests.hostile import CountingOffload, chain, key, new_swarm, now_ms
from tests.waiting import eventually

#: Virtual-time cap of each node test, in seconds.
CAP_S = 120


def first_post(signer: nacl.signing.SigningKey, text: str = "hello") -> bytes:
    return sign(signer, seq=1, prev=None, ts=now_ms(), kind="post", body={"text": text}).raw


# --- buckets ----------------------------------------------------------------------------------


def test_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    buckets = Buckets(rate=10.0, burst=100, capacity=8)
    assert buckets.take("p", 100, now=0.0)
    assert not buckets.take("p", 1, now=0.0)
    assert not buckets.take("p", 5, now=0.4)  # 4 tokens back
    assert buckets.take("p", 5, now=0.5)
    assert buckets.level("p", now=1000.0) == 100  # never above the burst


def test_a_frame_larger_than_the_burst_passes_a_full_bucket_and_leaves_a_debt() -> None:
    buckets = Buckets(rate=10.0, burst=100, capacity=8)
    assert buckets.take("p", 500, now=0.0)
    assert buckets.level("p", now=0.0) == -400
    assert not buckets.fits("p", 1, now=40.0)  # 400 tokens of debt take 40 s to repay
    assert buckets.fits("p", 1, now=40.2)


def test_buckets_are_bounded_least_recently_used_first() -> None:
    buckets = Buckets(rate=1.0, burst=10, capacity=3)
    for name in ("a", "b", "c"):
        buckets.charge(name, 10, now=0.0)
    buckets.level("a", now=0.0)  # a is used again: b is now the oldest
    buckets.charge("d", 1, now=0.0)
    assert len(buckets) == 3
    assert buckets.level("b", now=0.0) == 10  # forgotten: a fresh, full bucket
    assert buckets.level("a", now=0.0) == 0


def test_peer_pays_before_verification_authors_only_after() -> None:
    limiter = RateLimiter(RateLimits(peer_burst=10, author_burst=4))
    honest = key(1)
    frame = encode_frame([m.raw for m in chain(honest, 4)])
    assert limiter.admit_frame(frame, "p", now=0.0) is None
    # The frame failed verification (say): its author is not charged, so forgeries in an honest
    # author's name cannot use up that author's budget.
    assert limiter.admit_frame(frame, "q", now=0.0) is None
    limiter.charge_authors([bytes(honest.verify_key)] * 4, now=0.0)  # verified: now charged
    refused = limiter.admit_frame(frame, "q", now=0.0)
    assert refused is not None and "author" in refused.detail
    assert limiter.counters.frames_rate_limited == 1
    assert limiter.counters.messages_rate_limited == 4
    # p paid 4 tokens; 6 are left, so a frame of 7 is refused by the peer's own bucket.
    big = encode_frame([m.raw for m in chain(key(2), 7)])
    refused = limiter.admit_frame(big, "p", now=0.0)
    assert refused is not None and "peer" in refused.detail and refused.reason == RATE_LIMITED


def test_undecodable_frames_cost_the_peer_one_token_and_reach_the_validator() -> None:
    limiter = RateLimiter(RateLimits(peer_burst=2))
    assert limiter.admit_frame(b"\xc1 not msgpack", "p", now=0.0) is None
    assert limiter.admit_frame(b"", "p", now=0.0) is None
    refused = limiter.admit_frame(encode_frame([first_post(key(1))]), "p", now=0.0)
    assert refused is not None


def test_strangers_share_one_global_budget_whoever_forwards_them() -> None:
    """Valid posts from fresh keys, each peer well under its own burst: the stranger bucket cuts
    them all the same; a refused frame charges nobody; a verified author is no longer a stranger
    and wanted authors skip the peer and stranger budgets."""
    limiter = RateLimiter(RateLimits(stranger_burst=10, stranger_per_s=1.0, peer_burst=100))
    for n, peer in enumerate(("p", "q")):
        fresh = encode_frame([first_post(key(100 + 10 * n + i)) for i in range(5)])
        assert limiter.admit_frame(fresh, peer, now=0.0) is None
    third = encode_frame([first_post(key(200 + i)) for i in range(5)])
    refused = limiter.admit_frame(third, "r", now=0.0)
    assert refused is not None and "strangers" in refused.detail
    assert limiter.counters.frames_of_strangers_shed == 1
    assert limiter.admit_frame(third, "r", now=5.0) is None  # refilled at 1 message/s
    known = key(300)
    limiter.charge_authors([bytes(known.verify_key)], now=5.0)  # verified once: known now
    assert limiter.admit_frame(encode_frame([first_post(known)]), "r", now=5.0) is None
    followed = key(301)
    frame = encode_frame([m.raw for m in chain(followed, 50)])
    wanted = {bytes(followed.verify_key)}
    for _ in range(3):  # 150 messages from one peer with a burst of 100, no stranger tokens
        assert limiter.admit_frame(frame, "r", now=5.0, wanted=wanted) is None
    assert limiter.admit_frame(third, "r", now=5.0) is not None  # r's bucket is in debt


def test_a_refusal_never_penalises_whoever_forwarded_the_frame() -> None:
    limiter = RateLimiter(RateLimits(peer_burst=1, peer_per_s=0.001))
    frame = encode_frame([first_post(key(1))])
    assert limiter.admit_frame(frame, "p", now=0.0) is None
    refusals = [limiter.admit_frame(frame, "p", now=1.0) for _ in range(50)]
    assert all(isinstance(r, RateLimited) for r in refusals)
    assert not hasattr(refusals[0], "penalise")
    assert limiter.counters.frames_rate_limited == 50


def test_sync_admission_by_peer_and_by_author() -> None:
    limiter = RateLimiter(RateLimits(sync_peer_burst=5, sync_author_burst=3))
    a, b = key(1), key(2)
    raws = [m.raw for m in chain(a, 4)] + [m.raw for m in chain(b, 2)]
    admitted = limiter.admit_sync("p", raws, now=0.0)
    assert admitted.kept == raws[:3] + raws[4:5]  # a's 4th is over its budget; the 6th the peer's
    assert admitted.refused == 2
    limiter.charge_sync([bytes(a.verify_key)] * 3, now=0.0)
    again = limiter.admit_sync("q", raws[:4], now=0.0)
    assert again.kept == [] and limiter.counters.sync_messages_rate_limited == 6


# --- configuration ----------------------------------------------------------------------------


def test_limits_are_configurable_in_config_toml(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.config_path.write_text(
        "[node]\npublish_batch_ms = 5\n\n[node.rate_limits]\nauthor_per_s = 1\npeer_burst = 50\n"
    )
    config = load_config(home)
    assert config.rate_limits == RateLimits(author_per_s=1.0, peer_burst=50)
    assert NodeConfig().rate_limits == RateLimits()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"peer_burst": 0}, "positive integer"),
        ({"peer_burst": 1.5}, "positive integer"),
        ({"author_per_s": -1}, "positive number"),
        ({"author_per_s": True}, "positive number"),
        ({"author_per_s": "fast"}, "positive number"),
        ({"everyone_per_s": 1}, "unknown rate limit"),
        ([1, 2], "must be a table"),
    ],
)
def test_bad_limits_are_named(values: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_rate_limits(values, "config.toml [node] rate_limits")
    assert "config.toml" in str(info.value)


# --- in a node ----------------------------------------------------------------------------------


async def test_sybil_flood_of_valid_posts_is_shed_and_nobody_is_penalised(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """Three hostile ids each publish 60 one-post frames from fresh keys, each id under b's peer
    burst. b verifies only its stranger budget and sheds the rest unverified; what b relays fits
    c's budget; nobody is penalised or banned (valid traffic is no fault), and a's post reaches c
    through b during the flood."""
    limits = RateLimits(peer_burst=100, stranger_burst=20, stranger_per_s=1.0)
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a = await swarm.add("a", limits)
            counting = CountingOffload()
            b = await swarm.add("b", limits, counting)
            c = await swarm.add("c", limits)
            await b.node.connect(a.network.listen_addrs()[0])
            await c.node.connect(b.network.listen_addrs()[0])
            c.store.append_own(c.key, "follow", {"key": a.me}, now_ms())
            await c.node.refresh_interest()
            a.store.append_own(a.key, "post", {"text": "before"}, now_ms())  # b knows a now
            a.node.nudge()
            await eventually(lambda: c.texts(a) == ["before"], "c gets a's first post")
            hostile = [await swarm.hostile(f"mallory{i}", b) for i in range(3)]
            for n in range(60):
                for i, mallory in enumerate(hostile):
                    spam = first_post(key(10_000 + 100 * n + i), f"spam {n}")
                    await mallory.publish(encode_frame([spam]))
            a.store.append_own(a.key, "post", {"text": "still heard"}, now_ms())
            a.node.nudge()
            await eventually(lambda: "still heard" in c.texts(a), "c gets a's post via b")
            stats = b.node.limiter.counters
            assert counting.verified <= limits.stranger_burst + 6  # + refill during the flood
            assert stats.frames_of_strangers_shed >= 150
            for node in (a, b, c):
                assert node.node.penalties() == {} and node.network.banned() == []
            assert b.node.stats.peers_banned == c.node.stats.peers_banned == 0


async def test_author_flood_is_cut_without_penalising_the_relay(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """One author publishes far more than b's author burst through an honest relay r (whose own
    limit is higher): b accepts the author's burst, refuses the rest unverified, and does not hold
    it against r."""
    limits = RateLimits(author_burst=10, author_per_s=0.01)
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            relay = await swarm.add("r")
            counting = CountingOffload()
            b = await swarm.add("b", limits, counting)
            await b.node.connect(relay.network.listen_addrs()[0])
            source = await swarm.hostile("loud", relay)
            loud = key(7)
            for message in chain(loud, 40):
                await source.publish(encode_frame([message.raw]))
            await eventually(
                lambda: b.node.limiter.counters.frames_rate_limited == 30, "b refuses the excess"
            )
            assert relay.node.limiter.counters.frames_rate_limited == 0
            assert b.node.stats.frames_received == 10 and counting.verified == 10
            assert b.node.penalties() == {} and relay.node.penalties() == {}
            assert b.network.banned() == []


async def test_the_limit_refills_so_a_steady_author_is_never_cut(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    limits = RateLimits(author_burst=2, author_per_s=1.0)
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a = await swarm.add("a", limits)
            b = await swarm.add("b", limits)
            await b.node.connect(a.network.listen_addrs()[0])
            b.store.append_own(b.key, "follow", {"key": a.me}, now_ms())
            await b.node.refresh_interest()
            for n in range(10):
                a.store.append_own(a.key, "post", {"text": f"steady {n}"}, now_ms())
                a.node.nudge()
                await trio.sleep(1.5)
            await eventually(lambda: len(b.texts(a)) == 10, "b stores every steady post")
            assert b.node.limiter.counters.frames_rate_limited == 0


def test_authors_of_unverified_frames_take_no_memory_and_buckets_stay_bounded() -> None:
    limiter = RateLimiter()
    frame = encode_frame([first_post(key(n)) for n in range(1, 200)])
    assert limiter.admit_frame(frame, "p", now=0.0) is None
    assert limiter.tracked()["authors"] == 0  # looked at, not verified: nothing kept
    limiter.charge_authors((n.to_bytes(32, "big") for n in range(MAX_TRACKED_AUTHORS + 10)), 0.0)
    assert limiter.tracked()["authors"] == MAX_TRACKED_AUTHORS
