"""Catch-up resumes at once when the store works again after a full disk (issue 23, item 6).

In memory (memnet, virtual time): b's disk fills up (SQLite's ``max_page_count`` as the lever)
while a keeps posting; b's writes and its sync sessions fail, long enough for every retry and gap
trigger to give up. The report: a node was still 7,580 messages behind 90 s after space was
freed. Here, once there is room and the next gossip frame is stored, b must catch up on
everything it missed within ``RESUME_S``, far sooner than the periodic sync (60 s) would, also
of an author (c) that posts nothing after the disk has room (no gossip shows b its gap).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from tests.hostile import new_swarm
from tests.waiting import eventually

#: Posts a writes while b's disk is full, a count.
MISSED = 40
#: Virtual time b spends with a full disk, in seconds: past every retry and gap give-up.
FULL_FOR_S = 400.0
#: Longest b may take to hold everything once there is room again, in (virtual) seconds.
RESUME_S = 10.0


async def test_catch_up_resumes_at_once_when_the_disk_has_room_again(
    tmp_path: Path, autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pnyx")
    with trio.fail_after(FULL_FOR_S + 200):
        async with new_swarm(tmp_path) as swarm:
            a, b, c = await swarm.add("a"), await swarm.add("b"), await swarm.add("c")
            await b.node.connect(a.network.listen_addrs()[0])
            await b.node.connect(c.network.listen_addrs()[0])
            b.follow(a)
            b.follow(c)
            await b.node.refresh_interest()
            for author in (a, c):
                author.post("before")
                author.node.nudge()
            await eventually(lambda: len(b.texts(a)) == len(b.texts(c)) == 1, "b holds both")
            conn = b.store._conn
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
            for n in range(MISSED):
                for author in (a, c):
                    author.post(f"missed {n} " + "z" * 2000)
                    author.node.nudge()
                await trio.sleep(FULL_FOR_S / MISSED)
            assert len(b.texts(a)) == len(b.texts(c)) == 1
            conn.execute(f"PRAGMA max_page_count = {pages * 1000}")
            a.post("after the disk was freed")
            a.node.nudge()
            took = await eventually(
                lambda: len(b.texts(a)) == MISSED + 2 and len(b.texts(c)) == MISSED + 1,
                "b holds everything",
                limit_s=120,
            )
            print(f"b caught up {MISSED} missed posts {took:.1f} s after the disk had room")
            assert took <= RESUME_S
