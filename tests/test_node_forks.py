"""Fork spam (issue 11, item 5) on the in-memory network, under ``autojump_clock``.

A hostile peer holding a followed author's key publishes fork after fork. The first fork is
evidence (no penalty: nobody knew); every later conflicting frame of that author counts against
the peer that *published* it (the frame's origin), never against the honest relay that forwarded
it, so the publisher is banned by the follower while the relay keeps its standing.
"""

from __future__ import annotations

from pathlib import Path

import trio

from pnyx.core.envelope import sign
from pnyx.core.frame import encode_frame
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.ingest.framecheck import FrameCheck, fork_penalty
from pnyx.node.node import INVALID_FRAMES_BEFORE_BAN
from pnyx.store.writes import MAX_FORK_EVIDENCE
from tests.hostile import chain, key, new_swarm, now_ms
from tests.waiting import eventually

#: Longest any scenario may take, in virtual seconds.
CAP_S = 120.0


def test_fork_penalty_rule() -> None:
    """Sans-I/O: who pays for a conflicting frame."""
    conflict = InvalidMessage(Reason.FORK, "second message at seq 1")
    first = FrameCheck([], [], conflict, known_fork=False)
    repeat = FrameCheck([], [], conflict, known_fork=True)
    clean = FrameCheck([], [], None, known_fork=True)
    assert fork_penalty(first, "mallory", "me") is None  # the first fork: evidence, no penalty
    assert fork_penalty(clean, "mallory", "me") is None
    assert fork_penalty(repeat, None, "me") is None  # origin unknown: nobody
    assert fork_penalty(repeat, "me", "me") is None
    peer, reason = fork_penalty(repeat, "mallory", "me") or ("", conflict)
    assert peer == "mallory" and reason.reason is Reason.FORK
    assert "already known forked" in reason.detail


async def test_fork_spam_bans_its_publisher_not_the_relay(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """mallory - b - c; c follows the forker, b does not (b cannot tell a fork and relays)."""
    forker = key(4)
    author = bytes(forker.verify_key)
    first = sign(forker, seq=1, prev=None, ts=now_ms(), kind="post", body={"text": "first"})
    forks = [
        sign(forker, seq=1, prev=None, ts=now_ms(), kind="post", body={"text": f"fork {n}"})
        for n in range(40)
    ]
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a = await swarm.add("a")
            b = await swarm.add("b")
            c = await swarm.add("c")
            await b.node.connect(a.network.listen_addrs()[0])
            await c.node.connect(b.network.listen_addrs()[0])
            for followed in (a.me, author):
                c.store.append_own(c.key, "follow", {"key": followed}, now_ms())
            await c.node.refresh_interest()
            mallory = await swarm.hostile("mallory", b)
            await mallory.publish(encode_frame([first.raw]))
            await eventually(lambda: c.store.heads([author]) == {author: (1, 1)}, "c stores seq 1")
            await mallory.publish(encode_frame([forks[0].raw]))
            await eventually(lambda: c.store.is_forked(author), "c flags the forker")
            assert c.node.penalties() == {}  # the first fork is evidence: nobody is penalised
            for fork in forks[1:]:
                await mallory.publish(encode_frame([fork.raw]))
            await eventually(lambda: "mallory" in c.network.banned(), "c bans the publisher")
            await trio.sleep(5)
            assert c.node.penalties()["mallory"] >= INVALID_FRAMES_BEFORE_BAN
            assert "b" not in c.node.penalties() and c.network.banned() == ["mallory"]
            assert b.node.penalties() == {} and b.network.banned() == []
            assert [e.other_raw for e in c.store.forks(author)] == [forks[0].raw]
            assert [s.message.text for s in c.store.feed(author).items] == ["first"]
            a.store.append_own(a.key, "post", {"text": "still heard"}, now_ms())
            a.node.nudge()
            await eventually(lambda: "still heard" in c.texts(a), "a's post reaches c via b")


async def test_forks_from_many_publishers_keep_at_most_the_cap(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """Sybil: 30 fresh publishers, 2 forks each at seqs 1..20 (none reaches the ban). c keeps at
    most MAX_FORK_EVIDENCE evidence rows, one per seq, and counts every other conflict."""
    forker = key(5)
    author = bytes(forker.verify_key)
    feed = chain(forker, 20)
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            b = await swarm.add("b")
            c = await swarm.add("c")
            await c.node.connect(b.network.listen_addrs()[0])
            c.store.append_own(c.key, "follow", {"key": author}, now_ms())
            await c.node.refresh_interest()
            source = await swarm.hostile("source", b)
            await source.publish(encode_frame([m.raw for m in feed]))
            await eventually(lambda: c.store.heads([author]) == {author: (20, 20)}, "c has 1..20")
            sent = 0
            for n in range(30):
                sybil = await swarm.hostile(f"sybil{n}", b)
                for k in range(2):
                    seq = 1 + (2 * n + k) % 20
                    prev = feed[seq - 2].id if seq > 1 else None
                    body = {"text": f"fork {n}.{k}"}
                    fork = sign(forker, seq=seq, prev=prev, ts=now_ms(), kind="post", body=body)
                    await sybil.publish(encode_frame([fork.raw]))
                    sent += 1
            await eventually(
                lambda: len(c.store.forks(author)) + c.store.forks_dropped(author) == sent,
                "c counts every conflict",
            )
            kept = c.store.forks(author)
            assert len(kept) == MAX_FORK_EVIDENCE == len({e.seq for e in kept})
            assert c.store.forks_dropped(author) == sent - MAX_FORK_EVIDENCE
            assert "b" not in c.node.penalties() and b.node.penalties() == {}
