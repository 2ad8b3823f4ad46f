"""Reach on running nodes (in-memory network, virtual time): the horizon joins the interest set
after a follow two hops away arrives, a 2-hop author's posts and replies are stored, and
``following`` stays about follows."""

from __future__ import annotations

from pathlib import Path

import trio

from pnyx.core import kinds
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
            assert a.node.reach.stats.recomputes >= 2
