"""Own posts written while no node ran are gossiped on the next start's first connection, once
the home holds an online mark (``pnyx.node.republish.OnlineMark``); without one nothing old is
sent again."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
import trio

from pnyx.node.republish import ONLINE_MARK_FILE, OnlineMark
from tests.swarm import (
    CAP_S,
    Swarm,
    key_of,
    new_swarm,
    now_ms,
    write_follow,
    write_posts,
)
from tests.waiting import eventually

#: How long before the node starts the posts are written ("while no node ran"), in ms.
WRITTEN_BEFORE_START_MS = 30_000


def test_mark_round_trip_and_file_mode(tmp_path: Path) -> None:
    mark = OnlineMark(tmp_path / ONLINE_MARK_FILE)
    assert mark.read() is None  # the first start: no mark
    mark.write(1_700_000_000_123)
    assert mark.read() == 1_700_000_000_123
    assert stat.S_IMODE(mark.path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [ONLINE_MARK_FILE]  # no temporary left


@pytest.mark.parametrize("content", [b"", b"yesterday\n", b"\xff\xfe", b"-5\n"])
def test_a_damaged_mark_reads_as_none_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    path = tmp_path / ONLINE_MARK_FILE
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="pnyx.node.republish"):
        assert OnlineMark(path).read() is None
    assert str(path) in caplog.text


async def _offline_posts_reach_b(swarm: Swarm, mark: OnlineMark | None) -> tuple[int, int]:
    """a wrote 3 posts while stopped; a starts, its first peer is a relay that does not follow
    a, and b follows a behind the relay (never connected to a). Returns what b got and what a
    gossiped again."""
    with swarm.offline("a") as store:
        write_posts(store, key_of("a"), 3, "written offline")
    with swarm.offline("b") as store:
        write_follow(store, key_of("b"), "a")
    relay = await swarm.add("r")
    b = await swarm.add("b", on_connect=False)
    await b.connect(relay)
    a = await swarm.add("a", on_connect=False, online_mark=mark)
    await a.connect(relay)
    await trio.sleep(15)
    return len(b.texts(a)), a.node.republisher.republished


async def test_posts_written_while_stopped_are_gossiped_after_a_mark(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    mark = OnlineMark(tmp_path / ONLINE_MARK_FILE)
    mark.write(now_ms() - WRITTEN_BEFORE_START_MS - 60_000)  # online until a minute before
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            assert await _offline_posts_reach_b(swarm, mark) == (3, 3)


async def test_without_a_mark_nothing_written_before_the_start_is_resent(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            assert await _offline_posts_reach_b(swarm, None) == (0, 0)


async def test_the_mark_is_written_when_the_last_peer_leaves_and_at_stop(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    mark = OnlineMark(tmp_path / ONLINE_MARK_FILE)
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            relay = await swarm.add("r")
            a = await swarm.add("a", online_mark=mark)
            assert mark.read() is None  # never online yet
            await a.connect(relay)
            before = now_ms()
            await a.network.disconnect("r")
            await eventually(lambda: mark.read() is not None, "a records it went offline")
            went_offline = mark.read()
            assert went_offline is not None and before <= went_offline <= now_ms()
            await a.connect(relay)
            await eventually(lambda: a.node.republisher.online, "a's node sees it is online")
            before_stop = now_ms()
            a.scope.cancel()
            await a.stopped.wait()
            stopped = mark.read()
            assert stopped is not None and stopped >= before_stop  # stopped while online
