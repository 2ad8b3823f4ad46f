"""The node's one event path (pnyx.events, ``Node.after_stored``): gossip and sync both announce
what they stored, and a failing subscriber cannot stop the node."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from pnyx.events import InterestChanged, Source, Stored, Topic
from tests.swarm import CAP_S, key_of, new_swarm, write_follow, write_posts
from tests.waiting import eventually


class Stop(BaseException):
    """Stands for trio.Cancelled / KeyboardInterrupt: a BaseException that is not an Exception."""


def test_a_failing_subscriber_is_logged_counted_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic: Topic[int] = Topic("numbers")
    seen: list[int] = []

    def broken(value: int) -> None:
        raise ValueError(f"cannot take {value}")

    topic.subscribe(broken)
    topic.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="pnyx.events"):
        topic.publish(1)
        topic.publish(2)
    assert seen == [1, 2]
    assert topic.failures == 2
    assert "a subscriber of numbers events failed" in caplog.text
    assert "ValueError: cannot take 1" in caplog.text  # with its traceback


def test_base_exceptions_are_never_swallowed() -> None:
    topic: Topic[int] = Topic("numbers")

    def stop(value: int) -> None:
        raise Stop

    topic.subscribe(stop)
    with pytest.raises(Stop):
        topic.publish(1)
    assert topic.failures == 0


def test_unsubscribe() -> None:
    topic: Topic[int] = Topic("numbers")
    seen: list[int] = []
    topic.subscribe(seen.append)
    topic.publish(1)
    topic.unsubscribe(seen.append)
    topic.unsubscribe(seen.append)  # not subscribed any more: no error
    topic.publish(2)
    assert seen == [1]


async def test_gossip_and_sync_both_announce_stored_messages(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """b follows a. a's history reaches b by sync (on connect), a's next post by gossip: b's
    subscribers see both, each with its source, and the sync one names the peer."""
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            with swarm.offline("a") as store:
                write_posts(store, key_of("a"), 5, "old")
            with swarm.offline("b") as store:
                write_follow(store, key_of("b"), "a")
            a = await swarm.add("a")
            b = await swarm.add("b")
            events: list[Stored] = []
            b.node.events.stored.subscribe(events.append)
            await b.connect(a)
            await eventually(lambda: len(b.texts(a)) == 5, "a's history synced to b")
            assert {e.source for e in events} == {Source.SYNC}
            assert {e.peer for e in events} == {"a"}
            assert sum(len(e.messages) for e in events) == 5
            await eventually(lambda: bool(b.network.topic_peers()), "b sees a on the topic")
            a.post("live")
            a.node.nudge()
            await eventually(lambda: len(b.texts(a)) == 6, "a's live post gossiped to b")
            gossiped = [e for e in events if e.source is Source.GOSSIP]
            assert [m.text for e in gossiped for m in e.messages] == ["live"]
            assert gossiped[0].peer is None


async def test_a_subscriber_that_always_fails_cannot_stop_the_node(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            with swarm.offline("b") as store:
                write_follow(store, key_of("b"), "a")
            a = await swarm.add("a")
            b = await swarm.add("b")

            def broken(event: object) -> None:
                raise RuntimeError("subscriber bug")

            b.node.events.stored.subscribe(broken)
            b.node.events.peers.subscribe(broken)
            b.node.events.interest.subscribe(broken)
            interest: list[InterestChanged] = []
            b.node.events.interest.subscribe(interest.append)
            await b.connect(a)
            await eventually(lambda: bool(b.network.topic_peers()), "b sees a on the topic")
            for n in range(3):
                a.post(f"post {n}")
                a.node.nudge()
                await eventually(lambda: len(b.texts(a)) == n + 1, f"post {n} reaches b")  # noqa: B023
            await b.node.refresh_interest()
            assert interest[-1].wanted == frozenset({b.me, a.me})
            status = await b.node.status()
            assert status["counts"]["event_subscriber_failures"] >= 5
