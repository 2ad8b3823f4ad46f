"""Reach on running nodes (in-memory network, virtual time): the horizon joins the interest set
after a follow two hops away arrives, a 2-hop author's posts and replies are stored, and
``following`` stays about follows."""

from __future__ import annotations

from pathlib import Path

import trio

from pnyx.core import kinds
from pnyx.events import Source
from pnyx.node.reach import RECOMPUTE_DEBOUNCE_S, RECOMPUTE_SPACING_S
from pnyx.trust.admission import AdmissionConfig
from tests.store_helpers import Feed, key
from tests.test_node_logic import CAP_S, Peer, new_swarm, now_ms
from tests.waiting import eventually


def _reply(peer: Peer, text: str, to: bytes) -> bytes:
    body = {"text": text, "root": to, "parent": to}
    return peer.store.append_own(peer.key, kinds.POST, body, now_ms()).id


async def test_a_two_hop_reply_reaches_a_node_that_does_not_follow_its_author(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a, b, c = await swarm.line("a", "b", "c")  # c - b - a: c is connected to b only
            a.follow(b)
            await a.node.refresh_interest()
            b.follow(c)
            c.follow(a)
            b.node.nudge()
            c.node.nudge()
            await eventually(
                lambda: c.me in a.node.wanted_authors(), "c (2 hops: a -> b -> c) joins a's horizon"
            )
            assert a.me in b.node.wanted_authors()  # b -> c -> a: a is in b's horizon too
            root = a.post("a question")
            a.node.nudge()
            await eventually(lambda: c.store.get(root.id) is not None, "c holds a's post")
            reply = _reply(c, "c answers", root.id)
            c.node.nudge()
            await eventually(
                lambda: [m.message.id for m in a.store.thread(root.id)] == [root.id, reply],
                "a's thread shows c's reply",
            )
            c.post("c, not a reply")
            c.node.nudge()
            await eventually(lambda: "c, not a reply" in a.texts(c), "a stores c's plain post")
            # following is about follows, not the horizon
            assert a.store.following(a.me) == [b.me]
            counts = (await a.node.status())["counts"]
            assert counts["following"] == 1 and counts["horizon"] == 1
            assert a.node.reach.stats.horizon_recomputes >= 2


async def test_a_strangers_reply_is_kept_and_its_partial_feed_never_synced(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S * 3):
        async with new_swarm(tmp_path) as swarm:
            a, x = await swarm.line("a", "x")  # x follows nobody a knows: a stranger to a
            x.follow(a)
            await x.node.refresh_interest()
            x.post("before the reply, 1")
            x.post("before the reply, 2")
            root = a.post("a question")
            a.node.nudge()
            x.node.nudge()
            await eventually(lambda: x.store.get(root.id) is not None, "x holds a's post")
            reply = _reply(x, "x answers", root.id)
            x.node.nudge()
            await eventually(
                lambda: [m.message.id for m in a.store.thread(root.id)] == [root.id, reply],
                "a keeps the stranger's reply to its post",
            )
            assert x.me not in a.node.wanted_authors()
            # x's chain on a is partial (its reply at seq 4 alone); gap, periodic and connect
            # syncs ask only for the interest set, so it stays so, costing no session
            await trio.sleep(5 * 60)
            assert a.store.heads([x.me]) == {x.me: (0, 4)}
            assert a.texts(x) == ["x answers"]


async def test_recomputes_are_spaced_for_others_follows_and_prompt_for_own(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a = await swarm.add("a")
            reach = a.node.reach
            stats = reach.stats
            await eventually(lambda: stats.horizon_recomputes == 1, "the plan at start")
            started = trio.current_time()
            friend, far, farther = Feed(key(2)), Feed(key(3)), Feed(key(4))
            a.store.append_own(a.key, kinds.FOLLOW, {"key": friend.author}, now_ms())
            await a.node.refresh_interest()  # the user's own follow: within the debounce
            await eventually(lambda: stats.horizon_recomputes == 2, "recompute after own follow")
            assert trio.current_time() - started <= RECOMPUTE_DEBOUNCE_S + 0.5
            own_done = trio.current_time()
            # a burst of others' follows: one recompute, RECOMPUTE_SPACING_S after the last
            for follow in (friend.follow(far.author), far.follow(farther.author)):
                stored = a.store.ingest_verified([follow]).accepted
                await a.node.after_stored(stored, Source.GOSSIP)
            await eventually(lambda: stats.horizon_recomputes == 3, "one recompute for the burst")
            assert trio.current_time() - own_done >= RECOMPUTE_SPACING_S
            assert far.author in a.node.wanted_authors()
            await trio.sleep(3 * RECOMPUTE_SPACING_S)
            assert stats.horizon_recomputes == 3


async def test_a_running_node_keeps_its_store_within_the_budget(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a = await swarm.add("a")
            reach = a.node.reach
            await eventually(lambda: reach.plan is not None, "the plan at start")
            for i in range(20):
                a.post(f"mine {i} " + "x" * 900)
            a.node.nudge()  # the publish loop counts own messages in the budget's tally
            await eventually(lambda: a.node.stats.messages_published == 20, "own published")
            own = sum(a.store.usage().values())
            budget = own + 50_000
            reach.config = AdmissionConfig(budget_bytes=budget)
            await reach.recompute()
            for n in range(30):  # strangers' feeds arriving as gossip would deliver them
                stranger = Feed(key(10 + n))
                for i in range(30):
                    stranger.post(f"stranger {n} post {i} " + "y" * 900)
                stored = a.store.ingest_verified(stranger.messages).accepted
                await a.node.after_stored(stored, Source.GOSSIP)
                await reach.enforce()
                assert sum(a.store.usage().values()) <= budget
            # a stranger's 32 KB feed fits its quota and the room left, two do not: at each
            # arrival one of the two goes whole (equal trust: the lower key first), so 29 went
            assert reach.stats.authors_evicted == 29
            assert len(a.texts(a)) == 20
            assert reach._usage == a.store.usage()  # the tally matches the store


async def test_an_evicted_horizon_author_leaves_the_interest_set_until_restart(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a = await swarm.add("a")
            reach = a.node.reach
            friend, far = Feed(key(2)), Feed(key(3))
            friend.follow(far.author)
            for i in range(40):
                far.post(f"far {i} " + "z" * 900)
            a.store.append_own(a.key, kinds.FOLLOW, {"key": friend.author}, now_ms())
            await a.node.refresh_interest()
            for feed in (friend, far):
                stored = a.store.ingest_verified(feed.messages).accepted
                await a.node.after_stored(stored, Source.GOSSIP)
            await eventually(lambda: far.author in a.node.wanted_authors(), "far in the horizon")
            # a budget too small for far's 40 KB: far goes, and stays out of the horizon
            pinned = sum(b for k, b in a.store.usage().items() if k != far.author)
            reach.config = AdmissionConfig(budget_bytes=pinned + 10_000)
            await reach.recompute()
            assert far.author not in a.store.usage()
            assert far.author not in a.node.wanted_authors()
            assert list(reach.evicted) == [far.author]
            await reach.recompute()
            assert far.author not in a.node.wanted_authors()
            assert friend.author in a.node.wanted_authors()
            assert len(a.store.feed(friend.author).items) == 1
