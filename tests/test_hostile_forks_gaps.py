"""Fork spam and absurd gaps (issue 11, items 5 and 6) against real node processes on 127.0.0.1.

The line of ``tests/test_hostile_network.py`` (a - b - c, c follows a; its own instance for this
module): a real hostile libp2p peer holding an author key that c follows joins b, which does not
follow that author and so relays whatever the author signs. Run alone with
``pytest -m network tests/test_hostile_forks_gaps.py -s`` to see the measured figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import trio
from nacl.signing import SigningKey

from pnyx.catchup.gaps import GAP_GRACE_S, GAP_MAX_TRIES
from pnyx.core.envelope import Message, sign
from pnyx.core.frame import encode_frame
from pnyx.core.limits import MAX_SEQ
from pnyx.crypto.keytext import encode_public_key
from pnyx.node.node import INVALID_FRAMES_BEFORE_BAN
from pnyx.store import Store
from pnyx.store.writes import MAX_FORK_EVIDENCE
from tests.hostile import HostilePeer, chain, key, now_ms
from tests.hostile_line import (
    MAX_RSS_GROWTH_BYTES,
    Line,
    attack,
    line,
    status_of,
    texts_by,
    until,
)
from tests.netharness import cli

__all__ = ["line"]  # the module-scoped fixture, one cluster for this module

pytestmark = [pytest.mark.network, pytest.mark.timeout(180)]

#: Pace of the author's posts in the give-up test, in seconds (49 posts fit attack()'s 90 s cap).
POST_EVERY_S = 1.2


def follow(line: Line, author: bytes) -> str:
    """c follows ``author``; returns its key text once c's node has noticed."""
    text = encode_public_key(author)
    following = line.c.status()["counts"]["following"]
    line.cluster.cli("c", "follow", text)
    deadline = time.monotonic() + 10
    while line.c.status()["counts"]["following"] <= following:
        assert time.monotonic() < deadline, "c's node notices the follow"
        time.sleep(0.05)
    return text


def fork_of(signer: SigningKey, feed: list[Message], seq: int, n: int) -> Message:
    """A post conflicting with ``feed``'s message at ``seq`` (same prev, other text)."""
    prev = feed[seq - 2].id if seq > 1 else None
    return sign(signer, seq=seq, prev=prev, ts=now_ms(), kind="post", body={"text": f"fork {n}"})


def wait_for(condition: Callable[[], bool], what: str, limit_s: float = 20.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def test_fork_spam_is_capped_and_bans_its_publisher_not_the_relay(line: Line) -> None:
    """The author's feed is 3 posts; then 1 fork (evidence: no penalty), then 600 more forks at
    seqs 1..3, one per frame, through b. c keeps at most MAX_FORK_EVIDENCE rows, bans the
    publisher (the frames' signed origin) after INVALID_FRAMES_BEFORE_BAN, never penalises b,
    marks the author forked in every reading command, and a's posts still reach c through b."""
    forker = key(6)
    author = bytes(forker.verify_key)
    forker_text = follow(line, author)
    feed = chain(forker, 3, text="real")
    first_fork = fork_of(forker, feed, 2, 0)
    spam = [fork_of(forker, feed, 1 + n % 3, n) for n in range(1, 601)]
    b_id = line.b.peer_id
    size_before = (line.c.home / "pnyx.db").stat().st_size
    rss_before = line.rss()
    started, published = 0.0, 0

    async def run(hostile: HostilePeer, target: str) -> None:
        nonlocal started, published
        await hostile.publish(encode_frame([m.raw for m in feed]))
        await until(line.c, lambda s: s["counts"]["messages_stored"] >= 1, "c stores the feed")
        await trio.to_thread.run_sync(
            lambda: wait_for(lambda: len(texts_by(line.c.home, forker_text)) == 3, "3 posts")
        )
        await hostile.publish(encode_frame([first_fork.raw]))
        await until(line.c, lambda s: s["counts"]["forks"] >= 1, "c flags the forker")
        assert hostile.peer_id not in (await status_of(line.c))["penalties"]
        started = time.monotonic()
        for message in spam:
            if hostile.peer_id in (await status_of(line.c))["banned"]:
                break
            await hostile.publish(encode_frame([message.raw]))
            published += 1
        await until(line.c, lambda s: hostile.peer_id in s["banned"], "c bans the publisher")

    hostile_id = attack(line, b"f" * 32, run)
    elapsed = time.monotonic() - started
    status = line.c.status()
    assert status["penalties"][hostile_id] >= INVALID_FRAMES_BEFORE_BAN
    assert b_id not in status["penalties"] and b_id not in status["banned"]
    assert line.b.status()["penalties"] == {}  # b cannot tell, and is not asked to
    with Store.open(line.c.home / "pnyx.db", readonly=True) as store:
        evidence = store.forks(author)
        dropped = store.forks_dropped(author)
        counts = store.counts()
    assert 1 <= len(evidence) <= MAX_FORK_EVIDENCE and counts["forks"] >= 1
    assert texts_by(line.c.home, forker_text) == ["real 3", "real 2", "real 1"]
    growth = (line.c.home / "pnyx.db").stat().st_size - size_before
    penalties = status["penalties"][hostile_id]
    print(
        f"fork spam: {published} of {len(spam)} forks published in {elapsed:.1f} s; "
        f"c kept {len(evidence)} rows, counted {dropped} more, banned the publisher after "
        f"{penalties} penalties; c's store +{growth / 1024:.0f} KiB, b's RSS "
        f"{(line.rss() - rss_before) / 2**20:+.1f} MiB"
    )
    code, out, err = cli(line.c.home, "timeline", "--json")
    assert code == 0 and '"forked": true' in out and "is FORKED" in err
    assert "forked:" in line.cluster.cli("c", "status")
    assert line.rss() - line.rss_start < MAX_RSS_GROWTH_BYTES
    line.honest_post_arrives("fork spam")


def far(signer: SigningKey, seq: int) -> Message:
    return sign(signer, seq=seq, prev=b"\x01" * 32, ts=now_ms(), kind="post", body={"text": "far"})


def test_absurd_seqs_are_not_stored_and_start_no_gap_sync(line: Line) -> None:
    """After seq 30, messages at seq 10^9 and 2^53 (validly signed: b relays them): c stores
    neither (seq-too-far), its head stays (30, 30), and no gap sync starts, even while the
    author keeps posting."""
    signer = key(8)
    author = bytes(signer.verify_key)
    text = follow(line, author)
    feed = chain(signer, 33, text="real")
    before = line.c.status()

    async def run(hostile: HostilePeer, target: str) -> None:
        await hostile.publish(encode_frame([m.raw for m in feed[:30]]))
        await trio.to_thread.run_sync(
            lambda: wait_for(lambda: len(texts_by(line.c.home, text)) == 30, "c stores 1..30")
        )
        await hostile.publish(encode_frame([far(signer, 10**9).raw]))
        await hostile.publish(encode_frame([far(signer, MAX_SEQ).raw]))
        refused = before["counts"]["messages_refused_by_store"] + 2
        await until(
            line.c,
            lambda s: s["counts"]["messages_refused_by_store"] >= refused,
            "c refuses both",
        )
        for message in feed[30:]:  # the author goes on: each post is looked at for gaps
            await hostile.publish(encode_frame([message.raw]))
            await trio.sleep(1.0)
        await until(line.c, lambda s: s["counts"]["messages_stored"] >= 33, "c stores 31..33")
        await trio.sleep(GAP_GRACE_S + 2)  # past the gap grace: a gap would be due by now

    attack(line, b"g" * 32, run)
    with Store.open(line.c.home / "pnyx.db", readonly=True) as store:
        assert store.heads([author]) == {author: (33, 33)}
        assert store.missing(author) == []
    status = line.c.status()
    assert status["sync"]["triggers_gap"] == before["sync"]["triggers_gap"]
    assert "seq-too-far" not in str(status["penalties"])  # a store rule, nobody is penalised
    line.honest_post_arrives("absurd seqs")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_gap_no_peer_can_fill_is_given_up(line: Line) -> None:
    """The author withholds seq 31 and keeps posting 32, 33, ... every 1.2 s for a minute. c's gap
    trigger asks b (which has nothing of the author) GAP_MAX_TRIES times, with doubling waits,
    then gives up while the contiguous head stays at 30."""
    signer = key(9)
    author = bytes(signer.verify_key)
    follow(line, author)
    feed = chain(signer, 80, text="real")
    before = line.c.status()["sync"]

    async def run(hostile: HostilePeer, target: str) -> None:
        await hostile.publish(encode_frame([m.raw for m in feed[:30]]))
        for message in feed[31:]:
            await hostile.publish(encode_frame([message.raw]))
            await trio.sleep(POST_EVERY_S)

    attack(line, b"h" * 32, run)
    with Store.open(line.c.home / "pnyx.db", readonly=True) as store:
        assert store.heads([author])[author][0] == 30
    status = line.c.status()["sync"]
    fetched = status["triggers_gap"] - before["triggers_gap"]
    print(
        f"gap withheld for {POST_EVERY_S * len(feed[31:]):.0f} s: "
        f"{fetched} gap syncs, then given up"
    )
    assert fetched == GAP_MAX_TRIES
    assert status["gaps_given_up"] - before["gaps_given_up"] == 1
