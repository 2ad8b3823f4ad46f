"""The node's sync scheduler (pnyx.catchup.scheduler) on the in-memory network, in virtual time.

Each node is a real ``Node`` with a real store and a ``SyncScheduler``, wired as ``open_node``
does, so every trigger (connect, periodic, gap, follow, request) and every bound can be checked
quickly and deterministically.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from pnyx.app.service import ControlApi
from pnyx.catchup.scheduler import MAX_SYNC_SESSIONS, RETRY_BASE_S
from pnyx.crypto.keytext import encode_public_key
from pnyx.ingest.ratelimit import RateLimits
from pnyx.net.contracts import ByteStream, Verdict
from pnyx.net.memnet import open_memory_network
from pnyx.node.node import INVALID_FRAMES_BEFORE_BAN
from pnyx.runtime import inline
from pnyx.store import Store
from pnyx.sync.driver import run_responder
from pnyx.sync.limits import PROTOCOL_ID
from tests.swarm import (
    CAP_S,
    has_posts,
    key_of,
    new_swarm,
    now_ms,
    write_follow,
    write_posts,
)
from tests.waiting import eventually

# --- triggers ---------------------------------------------------------------------------------


async def test_connect_syncs_both_ways(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    """Two nodes that follow each other and wrote while apart exchange everything on connect."""
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            for name, other in (("a", "b"), ("b", "a")):
                with swarm.offline(name) as store:
                    write_posts(store, key_of(name), 30, name)
                    write_follow(store, key_of(name), other)
            a = await swarm.add("a")
            b = await swarm.add("b")
            await b.connect(a)
            await eventually(lambda: len(a.texts(b)) == 30, "a has b's posts")
            await eventually(lambda: len(b.texts(a)) == 30, "b has a's posts")
            assert b.texts(a) == [f"a {i}" for i in range(30)]
            for peer in (a, b):
                assert peer.syncer.stats.triggers_connect == 1
                assert peer.syncer.stats.messages_fetched == 31  # 30 posts and the follow
            assert a.node.stats.messages_published == 0  # fetched messages are never re-published


async def test_follow_fetches_history(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    """Following an author fetches their existing posts from connected peers at once."""
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a = await swarm.add("a")
            b = await swarm.add("b")
            await b.connect(a)
            for i in range(20):
                a.post(f"old {i}")
            await trio.sleep(5)
            assert b.texts(a) == []  # not followed: relayed, not stored
            b.follow(a)
            b.node.nudge()
            await eventually(lambda: len(b.texts(a)) == 20, "b fetches a's history")
            assert b.syncer.stats.triggers_follow == 1
            assert b.syncer.stats.messages_fetched == 20


async def test_third_node_serves_an_absent_author(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """Store-and-forward: c holds a's feed; a leaves; b connects only to c and gets it all."""
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            with swarm.offline("a") as store:
                write_posts(store, key_of("a"), 10, "offline")  # written while no node ran
            for name in ("b", "c"):
                with swarm.offline(name) as store:
                    write_follow(store, key_of(name), "a")
            a = await swarm.add("a")
            c = await swarm.add("c")
            await c.connect(a)
            a.post("online")
            a.node.nudge()
            await eventually(lambda: len(c.texts(a)) == 11, "c has all of a's posts")
            await a.stop()
            b = await swarm.add("b")
            await b.connect(c)
            await eventually(lambda: len(b.texts(a)) == 11, "b gets a's posts from c")
            assert b.texts(a) == [*(f"offline {i}" for i in range(10)), "online"]


async def test_gap_in_gossip_is_fetched(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    """Only the gap trigger is on: b gets post 6 by gossip and fetches 2..5 by itself."""
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            with swarm.offline("b") as store:
                write_follow(store, key_of("b"), "a")
            a = await swarm.add("a")
            relay = await swarm.add("r")  # keeps a connected: a never has posts to gossip again
            await relay.connect(a)
            b = await swarm.add("b", on_connect=False)
            await b.connect(a)
            a.post("post 1")
            a.node.nudge()
            await eventually(lambda: b.texts(a) == ["post 1"], "b gets post 1 by gossip")
            await b.network.disconnect("a")
            for i in range(2, 6):
                a.post(f"post {i}")
            a.node.nudge()
            await trio.sleep(2)
            await b.connect(a)
            await trio.sleep(2)
            assert b.texts(a) == ["post 1"]  # no sync on connect, none periodic yet
            a.post("post 6")
            a.node.nudge()
            await eventually(lambda: len(b.texts(a)) == 6, "b fills the gap")
            assert b.texts(a) == [f"post {i}" for i in range(1, 7)]
            assert b.syncer.stats.triggers_gap == 1
            assert b.syncer.stats.messages_fetched == 4
            assert b.syncer.stats.triggers_periodic == 0


async def test_periodic_sync(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            with swarm.offline("a") as store:
                # dated long ago: a's republisher must not gossip them (it re-sends what was
                # written since the node started, judged by timestamp), only the periodic sync
                write_posts(store, key_of("a"), 5, "a", old=True)
            with swarm.offline("b") as store:
                write_follow(store, key_of("b"), "a")
            a = await swarm.add("a")
            b = await swarm.add("b", on_connect=False, interval_s=10)
            await b.connect(a)
            started = trio.current_time()
            await eventually(lambda: len(b.texts(a)) == 5, "the periodic sync fetches")
            assert trio.current_time() - started <= 10 + 1
            assert b.syncer.stats.triggers_periodic >= 1
            assert b.syncer.stats.triggers_connect == 0


# --- bounds and failures ----------------------------------------------------------------------


async def test_sessions_at_once_are_bounded(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    """Five peers connect at once, each holding a long feed: at most MAX_SYNC_SESSIONS run."""
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            names = [f"p{i}" for i in range(5)]
            with swarm.offline("hub") as store:
                for name in names:
                    write_follow(store, key_of("hub"), name)
            sources = []
            for name in names:
                with swarm.offline(name) as store:
                    write_posts(store, key_of(name), 600, name, old=True)
                sources.append(await swarm.add(name))
            hub = await swarm.add("hub")
            for source in sources:
                await source.connect(hub)
            for source in sources:
                await eventually(partial(has_posts, hub, source, 600), f"{source.name} done")
            assert hub.syncer.stats.sessions_peak == MAX_SYNC_SESSIONS
            assert hub.syncer.stats.messages_fetched == 5 * 600


async def test_stalled_peer_is_dropped_and_retried(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """A peer that opens the stream and then says nothing is dropped after the idle timeout;
    the retry (after RETRY_BASE_S) resumes and gets everything."""
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            with swarm.offline("a") as store:
                write_posts(store, key_of("a"), 10, "a", old=True)
            with swarm.offline("b") as store:
                write_follow(store, key_of("b"), "a")
            a = await swarm.add("a", on_connect=False)
            calls = 0

            async def stall_once(stream: ByteStream, peer: str) -> None:
                nonlocal calls
                calls += 1
                if calls == 1:
                    await trio.sleep_forever()
                await run_responder(stream, a.store, offload=inline)

            a.network.set_stream_handler(PROTOCOL_ID, stall_once)
            b = await swarm.add("b", idle_timeout=5.0)
            await b.connect(a)
            started = trio.current_time()
            await eventually(lambda: len(b.texts(a)) == 10, "b gets a's posts on the retry")
            assert calls == 2
            assert b.syncer.stats.sessions_failed == 1
            assert trio.current_time() - started >= 5.0 + RETRY_BASE_S


async def test_control_sync_op(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    """The control socket's ``sync`` connects, syncs the named authors and answers a summary."""
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            with swarm.offline("a") as store:
                write_posts(store, key_of("a"), 7, "a")
            a = await swarm.add("a")
            b = await swarm.add("b")
            api = ControlApi(b.node, b.syncer)
            result = await api(
                {"op": "sync", "addr": a.address, "authors": [encode_public_key(a.me)]}
            )
            assert result["fetched"] == 7 and result["authors"] == 1
            assert result["failure"] is None and result["complete"] is True
            status = await api({"op": "status"})
            assert status["sync"]["triggers_request"] == 1
            assert status["sync"]["messages_fetched"] >= 7
            # the trust state ranked reads use (kept by the node once computed) and its age
            kept = b.node.reach.trust.snapshot()
            assert (status["trust"] is None) == (kept is None)
            if kept is not None:
                assert status["trust"]["age_ms"] >= 0


@pytest.mark.parametrize("bad", [{}, {"addr": ""}, {"addr": "/memory/p2p/x", "authors": "k"}])
async def test_control_sync_op_refuses_bad_requests(
    tmp_path: Path, autojump_clock: trio.abc.Clock, bad: dict[str, Any]
) -> None:
    from pnyx.errors import UserError

    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            b = await swarm.add("b")
            with pytest.raises(UserError):
                await ControlApi(b.node, b.syncer)({"op": "sync", **bad})


# --- offline-first gossip and forks -----------------------------------------------------------


async def test_posts_written_while_alone_are_gossiped_on_first_peer(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """a posts while it has no peer; its first peer is a relay that does not follow a; b (a
    follower behind the relay, never connected to a) gets the posts by gossip."""
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            with swarm.offline("b") as store:
                write_follow(store, key_of("b"), "a")
            a = await swarm.add("a")
            for i in range(3):
                a.post(f"alone {i}")
            a.node.nudge()
            await trio.sleep(2)
            relay = await swarm.add("r")
            b = await swarm.add("b")
            await b.connect(relay)
            await a.connect(relay)
            await eventually(lambda: len(b.texts(a)) == 3, "b gets a's posts through r")
            assert a.node.republisher.republished == 3
            assert relay.texts(a) == []


async def test_fork_seen_by_sync_keeps_the_first(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """One key used in two homes: c syncs from the first, then from the second (whose chain
    differs); c keeps the first version and records the other as fork evidence."""
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            key = key_of("k")
            with swarm.offline("h1") as store:
                store.append_own(key, "post", {"text": "first home"}, now_ms())
            with swarm.offline("h2") as store:
                store.append_own(key, "post", {"text": "second home"}, now_ms())
                store.append_own(key, "post", {"text": "second home again"}, now_ms())
            h1 = await swarm.add("h1", key=key)
            c = await swarm.add("c", on_connect=False)
            author = bytes(key.verify_key)
            first = await c.syncer.sync_now(await c.node.connect(h1.address), [author])
            assert first.fetched == 1
            await h1.stop()
            h2 = await swarm.add("h2", key=key)
            second = await c.syncer.sync_now(await c.node.connect(h2.address), [author])
            assert second.summary is not None
            assert second.fetched == 0 and second.summary.rejected == 1
            assert c.store.is_forked(author)
            texts = [s.message.text for s in c.store.feed(author).items]
            assert texts == ["first home"]
            assert c.store.forks(author)[0].seq == 2


async def test_one_peer_cannot_hold_every_served_session(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """A peer that opens many sync streams and says nothing (a slowloris) gets at most
    MAX_SERVED_PER_PEER of them served; the rest are closed at once, and another peer is served."""
    from pnyx.catchup.session import MAX_SERVED_PER_PEER, Server
    from pnyx.net.triostream import TrioStream

    with trio.fail_after(CAP_S), Store.open(tmp_path / "s.db") as store:
        server = Server(store, inline, idle_timeout=30.0)
        async with trio.open_nursery() as nursery:

            def open_session(peer: str) -> trio.abc.HalfCloseableStream:
                mine, theirs = trio.testing.memory_stream_pair()
                nursery.start_soon(server.serve, TrioStream(theirs), peer)
                return mine

            held = [open_session("slow") for _ in range(MAX_SERVED_PER_PEER + 3)]
            await trio.sleep(1)
            assert server.active == MAX_SERVED_PER_PEER
            assert server.stats.sessions_refused == 3
            other = open_session("honest")
            await trio.sleep(1)
            assert server.active == MAX_SERVED_PER_PEER + 1
            for stream in [*held, other]:
                await stream.aclose()
        assert server.active == 0


async def test_sync_rate_limit_drops_the_excess_before_verifying_and_a_later_session_gets_it(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """A peer may send at most its sync budget; the rest is dropped unverified, counted, and
    fetched by a later session once the bucket has refilled."""
    limits = RateLimits(sync_peer_burst=10, sync_peer_per_s=1.0)
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            write_posts(swarm.offline("a"), key_of("a"), 30, "backlog", old=True)  # never gossiped
            a = await swarm.add("a")
            f = await swarm.add("f", rate_limits=limits, interval_s=30.0)
            f.follow(a)
            await f.node.refresh_interest()
            await f.connect(a)
            await eventually(
                lambda: f.node.limiter.counters.sync_messages_rate_limited == 20,
                "the excess is refused",
            )
            assert len(f.texts(a)) == 10
            await eventually(lambda: has_posts(f, a, 30), "a later session fetches the rest")


async def test_a_peer_breaking_the_sync_protocol_loses_standing_and_is_banned(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """Garbage on a sync stream is a violation, counted like an invalid gossip frame: the third
    one bans the peer (timeouts are not counted: a frozen honest peer looks the same)."""

    async def accept_all(data: bytes, forwarder: str) -> Verdict:
        return Verdict.ACCEPT

    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a = await swarm.add("a", on_connect=False)
            async with open_memory_network(swarm.hub, "hostile", accept_all) as hostile:
                await hostile.connect(a.address)
                for attempt in range(1, INVALID_FRAMES_BEFORE_BAN + 1):
                    stream = await hostile.open_stream("a", PROTOCOL_ID)
                    await stream.send_all(b"\x01\xc1")  # a 1-byte frame that is not msgpack
                    while await stream.receive_some(4096):  # a's ERROR frame, then EOF
                        pass
                    await eventually(
                        lambda n=attempt: a.node.penalties().get("hostile") == n,  # type: ignore[misc]
                        f"violation {attempt} counted",
                    )
                await eventually(lambda: "hostile" in a.network.banned(), "the peer is banned")


async def test_periodic_syncs_ask_the_horizon_only_every_horizon_interval(
    tmp_path: Path, autojump_clock: trio.abc.Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """b follows a, a follows h: h is in b's horizon. Periodic syncs ask a for b's own and
    followed feeds every interval, and for the horizon (h) at most every
    ``HORIZON_SYNC_INTERVAL_S``."""
    from pnyx.catchup import scheduler as scheduler_module

    asked: list[frozenset[bytes]] = []
    real = scheduler_module.fetch_from_peer  # type: ignore[attr-defined]

    async def recording(*args: Any, **kwargs: Any) -> Any:
        asked.append(frozenset(kwargs["authors"]))
        return await real(*args, **kwargs)

    monkeypatch.setattr(scheduler_module, "fetch_from_peer", recording)
    interval = 60.0
    with trio.fail_after(CAP_S + 2 * scheduler_module.HORIZON_SYNC_INTERVAL_S):
        async with new_swarm(tmp_path) as swarm:
            with swarm.offline("a") as store:
                write_follow(store, key_of("a"), "h")
            with swarm.offline("b") as store:
                write_follow(store, key_of("b"), "a")
            a = await swarm.add("a")
            b = await swarm.add("b", on_connect=False, interval_s=interval)
            await b.connect(a)
            h = bytes(key_of("h").verify_key)
            await eventually(lambda: h in b.node.wanted_authors(), "h joins b's horizon", 600)
            asked.clear()
            await trio.sleep(scheduler_module.HORIZON_SYNC_INTERVAL_S + interval)
            with_horizon = [authors for authors in asked if h in authors]
            assert len(asked) >= scheduler_module.HORIZON_SYNC_INTERVAL_S / interval - 1
            assert 1 <= len(with_horizon) <= 2, [len(authors) for authors in asked]
            followed = b.node.followed_authors()
            assert all(authors == followed for authors in asked if h not in authors)
