"""One line of honest node processes, a - b - c (c follows a), that hostile peers attack at b:
the fixture, the attack runner and the checks the hostile network tests share."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import pytest
import trio

from pnyx.crypto.keytext import parse_public_key
from pnyx.store import Store
from tests.hostile import HostilePeer
from tests.netharness import Cluster, NodeProcess
from tests.waiting import wait_until

#: Most b's resident memory may grow over the whole module's attacks, in bytes.
MAX_RSS_GROWTH_BYTES = 160 * 1024 * 1024
#: Longest an honest post may take from `pnyx post` on a to c's store, in seconds.
HONEST_DELIVERY_S = 15.0


@dataclass
class Line:
    cluster: Cluster
    a: NodeProcess
    b: NodeProcess
    c: NodeProcess
    author: str
    rss_start: int
    posts: int = 0

    def rss(self) -> int:
        return int(psutil.Process(self.b.proc.pid).memory_info().rss)

    def honest_post_arrives(self, what: str) -> float:
        """a posts; wait until c stores it; returns the delay in seconds."""
        self.posts += 1
        text = f"honest {self.posts} after {what}"
        started = time.monotonic()
        self.cluster.cli("a", "post", text)
        wait_until(
            lambda: text in texts_by(self.c.home, self.author),
            timeout=HONEST_DELIVERY_S,
            what=f"a's post reaches c after {what}",
        )
        return time.monotonic() - started

    def status(self) -> dict[str, Any]:
        return self.b.status()


def texts_by(home: Path, author: str) -> list[str]:
    with Store.open(home / "pnyx.db", readonly=True) as store:
        page = store.feed(parse_public_key(author), limit=1000)
    return [s.message.text or "" for s in page.items if s.message.kind == "post"]


def meshed(node: NodeProcess, count: int) -> bool:
    status = node.status()
    return len(status["topic_peers"]) >= count and len(status["peers"]) >= count


@contextmanager
def new_line(base: Path) -> Iterator[Line]:
    """A fresh line a - b - c (no discovery dials, no DHT), c following a, a's first post
    already at c."""
    with Cluster(base) as cluster:
        author = cluster.key("a")
        cluster.cli("c", "follow", author)
        for name in "abc":
            (cluster.home(name) / "config.toml").write_text(
                "[node]\ntarget_connections = 0\ndht = false\n"
            )
        a, b, c = cluster.start_many("a", "b", "c")
        b.connect(a)
        c.connect(b)
        for node, count in ((a, 1), (b, 2), (c, 1)):
            wait_until(partial(meshed, node, count), timeout=15, what=f"{node.name} meshed")
        line = Line(cluster, a, b, c, author, 0)
        line.honest_post_arrives("start")
        line.rss_start = line.rss()
        yield line


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Line]:
    """One line for a whole test module; prints b's memory growth over the module at the end."""
    with new_line(tmp_path_factory.mktemp("hostile")) as state:
        yield state
        growth = state.rss() - state.rss_start
        print(f"b RSS: {state.rss_start / 2**20:.0f} MiB at start, growth {growth / 2**20:.1f} MiB")


def attack(line: Line, seed: bytes, run: Callable[[HostilePeer, str], Awaitable[None]]) -> str:
    """Start a hostile peer with ``seed``, join b, run the attack; returns the peer's id."""

    async def session() -> str:
        address = await trio.to_thread.run_sync(lambda: line.b.address)
        with trio.fail_after(90):
            async with HostilePeer.open(seed) as hostile:
                target = await hostile.join(address)
                await run(hostile, target)
                return hostile.peer_id

    return trio.run(session)


async def status_of(node: NodeProcess) -> dict[str, Any]:
    return await trio.to_thread.run_sync(node.status)


def counted(name: str, at_least: int) -> Callable[[dict[str, Any]], bool]:
    return lambda status: bool(status["counts"][name] >= at_least)


async def until(
    node: NodeProcess, check: Callable[[dict[str, Any]], bool], what: str, limit_s: float = 20
) -> dict[str, Any]:
    with trio.move_on_after(limit_s):
        while True:
            status = await status_of(node)
            if check(status):
                return status
            await trio.sleep(0.05)
    raise AssertionError(f"timed out after {limit_s:g} s waiting until {what}")
