"""Clock skew: a node whose clock runs ahead has its new posts refused by others (with the reason
``future-timestamp``, visible in their status and output), and it warns its own user, both when
fresh gossip from others looks old to it and when it publishes.

``ClockWatch`` alone first, then nodes on the in-memory network under ``autojump_clock``: node
``fast`` runs 15 minutes ahead (its ``clock_ms`` and the timestamps it signs).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from pnyx.core.envelope import Message, sign
from pnyx.core.frame import encode_frame
from pnyx.core.limits import MAX_FUTURE_SKEW_MS
from pnyx.ingest.clockskew import (
    AHEAD_WARN_MS,
    MIN_SAMPLE_AUTHORS,
    SAMPLE_AUTHORS,
    WARN_INTERVAL_S,
    ClockWatch,
)
from tests.hostile import key, new_swarm, now_ms
from tests.waiting import eventually

#: Virtual-time cap of each node test, in seconds.
CAP_S = 120
#: How far the skewed node's clock runs ahead, in milliseconds (beyond the 10 minutes accepted).
AHEAD_MS = 15 * 60 * 1000

ME = bytes(key(0).verify_key)


def post(n: int, ts: int) -> Message:
    return sign(key(n), seq=1, prev=None, ts=ts, kind="post", body={"text": f"by {n}"})


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_no_estimate_from_too_few_authors_or_from_our_own_messages() -> None:
    watch = ClockWatch(ME)
    wall = now_ms()
    watch.observe([post(1, wall - AHEAD_MS), post(1, wall - AHEAD_MS - 5)], wall, now=0.0)
    own = sign(key(0), seq=1, prev=None, ts=wall - AHEAD_MS, kind="post", body={"text": "me"})
    watch.observe([own, post(2, wall - AHEAD_MS)], wall, now=0.0)
    estimate = watch.estimate(0.0)
    assert estimate.authors == MIN_SAMPLE_AUTHORS - 1 and estimate.ahead_ms is None


def test_the_freshest_author_bounds_the_estimate(caplog: pytest.LogCaptureFixture) -> None:
    watch = ClockWatch(ME)
    wall = now_ms()
    caplog.set_level(logging.INFO, logger="pnyx.node")
    for n, age in enumerate([3_000, 600_000, 900_000], start=1):
        watch.observe([post(n, wall - age)], wall, now=0.0)
    assert watch.estimate(0.0).ahead_ms == 3_000  # one author is fresh: our clock is fine
    assert warnings(caplog) == []


def test_all_authors_old_means_our_clock_is_ahead_and_the_user_is_told_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pnyx.node")
    watch = ClockWatch(ME)
    wall = now_ms()
    for n in range(1, MIN_SAMPLE_AUTHORS + 1):
        watch.observe([post(n, wall - AHEAD_MS - n * 1000)], wall, now=float(n))
    estimate = watch.estimate(10.0)
    assert estimate.ahead_ms == AHEAD_MS + 1000 and estimate.authors == MIN_SAMPLE_AUTHORS
    [line] = warnings(caplog)
    assert "clock seems to run about 15 minutes ahead" in line and "reject" in line
    watch.observe([post(9, wall - AHEAD_MS)], wall, now=20.0)
    assert len(warnings(caplog)) == 1  # not repeated within WARN_INTERVAL_S
    watch.published([post(0, wall)], now=21.0)
    assert "future-timestamp" in warnings(caplog)[-1] and len(warnings(caplog)) == 2
    watch.observe([post(10, wall - AHEAD_MS)], wall, now=WARN_INTERVAL_S + 30)
    assert len(warnings(caplog)) == 3  # repeated after the interval


def test_a_lead_below_the_accepted_skew_gets_an_early_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pnyx.node")
    watch = ClockWatch(ME)
    wall = now_ms()
    lead = (AHEAD_WARN_MS + MAX_FUTURE_SKEW_MS) // 2  # 7.5 minutes
    for n in range(1, 4):
        watch.observe([post(n, wall - lead)], wall, now=0.0)
    [line] = warnings(caplog)
    assert "ahead" in line and "will reject" in line
    watch.published([post(0, wall)], now=1.0)
    assert len(warnings(caplog)) == 1  # not yet rejected: no second warning at post time


def test_samples_are_bounded_and_expire() -> None:
    watch = ClockWatch(ME)
    wall = now_ms()
    for n in range(1, 200):
        watch.observe([post(n, wall - AHEAD_MS)], wall, now=0.0)
    assert watch.estimate(0.0).authors == SAMPLE_AUTHORS
    assert watch.estimate(4000.0).authors == 0  # an hour later they say nothing about now


def test_future_frames_from_several_authors_mean_our_clock_is_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pnyx.node")
    watch = ClockWatch(ME)
    wall = now_ms()
    for n in range(1, MIN_SAMPLE_AUTHORS + 1):
        watch.saw_future([post(n, wall + AHEAD_MS)], now=float(n))
    watch.saw_future([post(0, wall + AHEAD_MS)], now=5.0)  # our own: proves nothing
    assert watch.estimate(5.0).future_authors == MIN_SAMPLE_AUTHORS
    [line] = warnings(caplog)
    assert "clock seems to run behind" in line


async def test_a_node_ahead_is_refused_with_a_reason_and_warns_its_user(
    tmp_path: Path, autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """fast's clock runs 15 minutes ahead. Its post reaches b, which drops it as future-dated
    (no penalty; the reason is in b's output and status) and does not forward it to c. fast warns
    its user once the posts of three other authors have arrived looking 15 minutes old, and again
    when it publishes."""
    caplog.set_level(logging.INFO, logger="pnyx.node")

    def fast_clock() -> int:
        return now_ms() + AHEAD_MS

    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            fast = await swarm.add("fast", clock_ms=fast_clock)
            b = await swarm.add("b")
            c = await swarm.add("c")
            await b.node.connect(fast.network.listen_addrs()[0])
            await c.node.connect(b.network.listen_addrs()[0])
            c.follow(fast)
            await c.node.refresh_interest()
            fast.post("from the future", at_ms=fast_clock())
            fast.node.nudge()
            await eventually(lambda: b.node.stats.frames_ignored == 1, "b drops fast's post")
            assert b.node.penalties() == {} and c.node.stats.frames_received == 0
            dropped = [r for r in caplog.records if "dropped a frame from fast" in r.getMessage()]
            assert dropped and "future-timestamp" in dropped[0].getMessage()
            assert not [w for w in warnings(caplog) if "clock" in w]

            others = [b, c]
            for name in ("d", "e"):
                others.append(await swarm.add(name))
                await others[-1].node.connect(b.network.listen_addrs()[0])
            for peer in others:
                peer.post(f"now, says {peer.node.network.peer_id}")
                peer.node.nudge()
            await eventually(
                lambda: any("ahead" in w for w in warnings(caplog)), "fast warns its user"
            )
            status = await fast.node.status()
            assert status["clock"]["ahead_ms"] >= AHEAD_MS - 1000
            assert status["clock"]["authors"] >= MIN_SAMPLE_AUTHORS
            fast.post("still from the future", at_ms=fast_clock())
            fast.node.nudge()
            await eventually(
                lambda: any("future-timestamp" in w for w in warnings(caplog)),
                "fast warns at publish time",
            )
            await eventually(lambda: b.node.stats.frames_ignored == 2, "b drops it again")
            assert fast.texts(fast) == ["still from the future", "from the future"]
            assert c.texts(fast) == []


def forged(n: int, ts: int) -> bytes:
    """A post by key ``n`` dated ``ts`` whose signature does not verify (one byte flipped)."""
    raw = bytearray(post(n, ts).raw)
    raw[0] ^= 0x01
    return bytes(raw)


@pytest.mark.parametrize("signed", [False, True])
async def test_only_verified_future_messages_say_our_clock_is_behind(
    tmp_path: Path,
    autojump_clock: trio.abc.Clock,
    caplog: pytest.LogCaptureFixture,
    signed: bool,
) -> None:
    """A peer sends frames of three authors dated an hour ahead. Forged (bad signatures): they
    are forgeries, penalised, and b says nothing about its clock. Signed: b drops them without
    penalty (the clock may be b's) and warns that its clock seems to run behind."""
    caplog.set_level(logging.INFO, logger="pnyx.node")
    hour_ahead = now_ms() + 3600 * 1000
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            b = await swarm.add("b")
            mallory = await swarm.hostile("mallory", b)
            for n in range(1, MIN_SAMPLE_AUTHORS + 1):
                raw = post(n, hour_ahead).raw if signed else forged(n, hour_ahead)
                await mallory.publish(encode_frame([raw]))
            stats = b.node.stats
            await eventually(
                lambda: stats.frames_ignored + stats.frames_rejected == MIN_SAMPLE_AUTHORS,
                "b has judged every frame",
            )
            behind = [w for w in warnings(caplog) if "clock seems to run behind" in w]
            estimate = b.node.clock.estimate(trio.current_time())
            if signed:
                assert stats.frames_ignored == MIN_SAMPLE_AUTHORS and b.node.penalties() == {}
                assert estimate.future_authors == MIN_SAMPLE_AUTHORS and len(behind) == 1
            else:
                assert stats.frames_rejected == MIN_SAMPLE_AUTHORS
                assert b.node.penalties() == {"mallory": MIN_SAMPLE_AUTHORS}
                assert estimate.future_authors == 0 and behind == []
