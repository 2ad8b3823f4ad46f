"""Sync as an amplifier, across real processes: hostile libp2p requesters (tests/hostile.py) against
a node process ``b`` that holds one big feed, while an honest ``pnyx sync`` (its own process)
catches the feed up from b.

* a requester that keeps re-asking the whole feed from seq 0 is cut at its serve budget and
  refused ``busy``: it pulls at most the first pass plus SERVE_REPEAT_BYTES_PER_WINDOW;
* four peer ids holding two sync slots each (stalled, or reading fast and re-asking) no longer lock
  the honest requester out: it completes with every message;
* 48 fresh peer ids from one address re-asking the feed without pause (issue 23, item 2) cannot
  take the slots of a peer that matters to b (here a friend b follows): its `pnyx sync` session
  completes within twice the time it takes unattacked, measured in the same run (plus
  ``CONTENTION_S`` for the attackers' CPU on the same two cores).

Run with ``-s`` to see the measured figures (docs/security.md). The short variants use a
2,000-message feed (the re-asker is cut by the re-ask count); the slow ones (``-m slow``) the
40,000 of the original report (cut by the repeat bytes).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import trio

from pnyx.core.varint import decode_uvarint
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import RemoteError
from pnyx.net.errors import ConnectError, StreamClosedError
from pnyx.store import Store
from pnyx.sync.budget import SERVE_REASKS_PER_WINDOW, SERVE_REPEAT_BYTES_PER_WINDOW
from pnyx.sync.frames import Ack, Bye, Hello, Want, WantEntry
from pnyx.sync.wire import encode_frame
from tests.hostile import HostilePeer, chain, key
from tests.netharness import Cluster, NodeProcess, node_env

pytestmark = [pytest.mark.network, pytest.mark.timeout(300)]

#: Messages of the served feed in the short variants, a count.
SHORT_FEED = 2_000
#: Messages of the served feed in the slow variants (the original report), a count.
LONG_FEED = 40_000
#: Longest an honest `pnyx sync` of the feed may take, in seconds (a loaded CI machine).
HONEST_SYNC_S = 120.0
#: Slack over the budget for frame overhead and the chunk in flight when refused, in bytes.
OVERHEAD_BYTES = 1024 * 1024
#: Sessions the re-asking requester tries after its first refusal, a count.
AFTER_REFUSAL = 5
#: Most bytes a refused session receives (one ERROR frame), in bytes.
REFUSAL_BYTES = 64
#: How long the re-asking requester may go on before it must have been refused, in seconds.
SHORT_CAP_S = 45.0
#: The same for the 40,000-message feed, in seconds.
LONG_CAP_S = 120.0
#: The author of the served feed.
AUTHOR = key(4242)


#: (exit status, its JSON summary, seconds) of one honest `pnyx sync`.
HonestRun = tuple[int, dict[str, Any], float]


@dataclass
class Served:
    cluster: Cluster
    b: NodeProcess
    feed: int
    feed_bytes: int
    homes: int = 0

    def honest_home(self) -> Path:
        self.homes += 1
        return self.cluster.home(f"honest{self.homes}")


def start_b(base: Path, feed: int) -> Served:
    cluster = Cluster(base)
    home = cluster.home("b")
    (home / "config.toml").write_text("[node]\ntarget_connections = 0\ndht = false\n")
    messages = chain(AUTHOR, feed)
    with Store.open(home / "pnyx.db") as store:
        for start in range(0, feed, 5000):
            store.ingest([m.raw for m in messages[start : start + 5000]], int(time.time() * 1000))
    b = cluster.start("b")
    return Served(cluster, b, feed, sum(len(m.raw) for m in messages))


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_b(tmp_path_factory.mktemp("amplifier"), SHORT_FEED)
    with served.cluster:
        yield served


@pytest.fixture(scope="module")
def long(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_b(tmp_path_factory.mktemp("amplifier-long"), LONG_FEED)
    with served.cluster:
        yield served


@dataclass
class Tally:
    pulled: int = 0
    sessions: int = 0
    busy: int = 0
    elapsed: float = 0.0


async def pull_once(hostile: HostilePeer, target: str) -> tuple[int, bool]:
    """One session asking the whole feed from 0, read as cheaply as a real attacker would: frames
    are split by their prefix and told apart by their first key (canonical maps: "m" = batch,
    "n" = done, three keys = error), every batch acknowledged at once. (bytes, refused busy)."""
    stream = await hostile.sync_stream(target)
    author = bytes(AUTHOR.verify_key)
    await stream.send_all(encode_frame(Hello(1, 4)) + encode_frame(Want((WantEntry(author, 0),))))
    data, pulled, batches = bytearray(), 0, 0
    try:
        while chunk := await stream.receive_some(65536):
            pulled += len(chunk)
            data += chunk
            while (prefix := decode_uvarint(data)) is not None and len(data) >= sum(prefix):
                size, start = prefix
                body = bytes(data[start : start + size])
                del data[: start + size]
                if body[0] == 0x83:  # error
                    return pulled, b"busy" in body
                if body[2:3] == b"m":
                    batches += 1
                    await stream.send_all(encode_frame(Ack(batches)))
                elif body[2:3] == b"n":
                    await stream.send_all(encode_frame(Bye()))
                    return pulled, False
    except StreamClosedError:
        pass
    finally:
        await stream.close()
    return pulled, False


async def re_ask(
    hostile: HostilePeer, target: str, tally: Tally, until: float, *, until_busy: bool = False
) -> None:
    """Pull the whole feed again and again until ``until`` (or the first ``busy``)."""
    while trio.current_time() < until:
        try:
            pulled, busy = await pull_once(hostile, target)
        except ConnectError:  # no connection left: b closed it (a stranger over its mark)
            return
        except RemoteError as exc:  # b reset the stream
            print(f"attacker session failed: {exc!r}")
            await trio.sleep(0.01)
            continue
        tally.sessions += 1
        tally.pulled += pulled
        if busy:
            tally.busy += 1
            if until_busy:
                return
            await trio.sleep(0.01)


async def honest_sync(served: Served, home: Path | None = None) -> HonestRun:
    """`pnyx sync --json --author A b` on ``home`` (default: a fresh one), in its own process."""
    home = home or served.honest_home()
    address = await trio.to_thread.run_sync(lambda: served.b.address)
    argv = [sys.executable, "-m", "pnyx", "--home", str(home), "sync", "--json"]
    argv += ["--author", encode_public_key(bytes(AUTHOR.verify_key)), address]
    started = time.monotonic()
    with trio.fail_after(HONEST_SYNC_S):
        done = await trio.run_process(
            argv, capture_stdout=True, capture_stderr=True, check=False, env=node_env()
        )
    lines = done.stdout.decode().strip().splitlines()
    result = json.loads(lines[-1]) if lines else {"stderr": done.stderr.decode()}
    return done.returncode, result, time.monotonic() - started


def cpu_s(node: NodeProcess) -> float:
    times = psutil.Process(node.proc.pid).cpu_times()
    return float(times.user + times.system)


def run_re_asking(served: Served, cap_s: float) -> tuple[Tally, Tally, float, HonestRun]:
    """One requester re-asks the feed until refused ``busy`` (at most ``cap_s``), then asks
    AFTER_REFUSAL more times; the honest sync starts 1 s into the attack.
    Returns (until refused, after refused, b's CPU seconds meanwhile, the honest run)."""

    async def main() -> tuple[Tally, Tally, HonestRun]:
        address = await trio.to_thread.run_sync(lambda: served.b.address)
        tally, after = Tally(), Tally()
        outcome: list[HonestRun] = []

        async def honest() -> None:
            await trio.sleep(1)
            outcome.append(await honest_sync(served))

        async with HostilePeer.open(served.feed.to_bytes(2, "big") * 16) as hostile:
            target = await hostile.join(address)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(honest)
                end = trio.current_time() + cap_s
                await re_ask(hostile, target, tally, end, until_busy=True)
                for _ in range(AFTER_REFUSAL):
                    await re_ask(hostile, target, after, trio.current_time() + 1, until_busy=True)
        return tally, after, outcome[0]

    before, started = cpu_s(served.b), time.monotonic()
    tally, after, honest = trio.run(main)
    tally.elapsed = time.monotonic() - started
    return tally, after, cpu_s(served.b) - before, honest


def check_re_asking(served: Served, cap_s: float) -> None:
    tally, after, cpu, (code, result, took) = run_re_asking(served, cap_s)
    print(
        f"re-asking {served.feed} messages: {tally.pulled / 2**20:.1f} MiB pulled in "
        f"{tally.sessions} sessions before 'busy', then {after.sessions} sessions "
        f"({after.busy} refused, {after.pulled} bytes); {tally.elapsed:.1f} s in all, "
        f"b CPU {cpu:.1f} s; "
        f"honest sync exit {code} in {took:.1f} s, fetched {result.get('fetched')}"
    )
    assert code == 0 and result["fetched"] == served.feed, result
    assert tally.busy == 1, f"the re-asking requester was never refused in {cap_s:g} s"
    assert tally.pulled <= served.feed_bytes + SERVE_REPEAT_BYTES_PER_WINDOW + OVERHEAD_BYTES
    assert tally.sessions <= SERVE_REASKS_PER_WINDOW + 2
    assert after.busy == after.sessions == AFTER_REFUSAL
    assert after.pulled <= AFTER_REFUSAL * REFUSAL_BYTES


def check_held_slots(served: Served, *, stalled: bool, attack_s: float = 30.0) -> None:
    """Four peer ids hold two slots each (stalled, or re-asking), then the honest sync runs."""
    author = bytes(AUTHOR.verify_key)
    hello_want = encode_frame(Hello(1, 4)) + encode_frame(Want((WantEntry(author, 0),)))

    async def main() -> HonestRun:
        address = await trio.to_thread.run_sync(lambda: served.b.address)
        seeds = [bytes([ord("s" if stalled else "f"), index]) * 16 for index in range(4)]
        async with AsyncExitStack() as stack:
            hostiles = [await stack.enter_async_context(HostilePeer.open(s)) for s in seeds]
            targets = [await h.join(address) for h in hostiles]
            async with trio.open_nursery() as nursery:
                streams = []
                for hostile, target in zip(hostiles, targets, strict=True):
                    for _ in range(2):
                        if stalled:
                            stream = await hostile.sync_stream(target)
                            await stream.send_all(hello_want)
                            streams.append(stream)
                        else:
                            end = trio.current_time() + attack_s
                            nursery.start_soon(re_ask, hostile, target, Tally(), end)
                await trio.sleep(1)
                outcome = await honest_sync(served)
                nursery.cancel_scope.cancel()
                for stream in streams:
                    await stream.close()
            return outcome

    code, result, took = trio.run(main)
    what = "stalled" if stalled else "re-asking"
    print(f"4 ids x 2 {what} slots: honest sync exit {code} in {took:.1f} s, {result}")
    assert code == 0 and result["fetched"] == served.feed, result


def test_a_re_asking_requester_is_cut_at_its_budget_and_the_honest_sync_completes(
    short: Served,
) -> None:
    check_re_asking(short, SHORT_CAP_S)


def test_four_ids_holding_two_stalled_slots_each_do_not_lock_the_honest_sync_out(
    short: Served,
) -> None:
    check_held_slots(short, stalled=True)


def test_four_ids_re_asking_on_two_slots_each_do_not_lock_the_honest_sync_out(
    short: Served,
) -> None:
    check_held_slots(short, stalled=False)


@pytest.mark.slow
def test_re_asking_a_40000_message_feed(long: Served) -> None:
    check_re_asking(long, LONG_CAP_S)


@pytest.mark.slow
def test_held_slots_with_a_40000_message_feed(long: Served) -> None:
    check_held_slots(long, stalled=True)
    check_held_slots(long, stalled=False)


#: Fresh peer ids re-asking from one address (the issue's worst case).
SYBIL_IDS = 48
#: Allowance over twice the unattacked session time, in seconds: the 48 attackers run as libp2p
#: hosts in this test's process, on the same 2 cores as b and the friend's `pnyx sync`, so CPU
#: contention (not b's slot policy) adds a few hundred ms of scheduling delay.
CONTENTION_S = 1.0


def check_sybil_ids(served: Served, ids: int = SYBIL_IDS) -> tuple[float, float]:
    """``ids`` fresh ids from 127.0.0.1 re-ask the feed while a friend of b syncs it; returns the
    friend's unattacked and attacked session times (the sync itself, from the friend's first
    frame to its last, not the start of its process), in seconds."""
    friends = [served.honest_home() for _ in range(2)]
    for home in friends:  # b follows them: peers that matter to b
        key = served.cluster.cli(home.name, "id").strip()
        served.cluster.cli("b", "follow", key)
    wait_following(served.b, len(friends))
    code, result, quiet = trio.run(honest_sync, served, friends[0])
    assert code == 0 and result["fetched"] == served.feed, result
    quiet_session = float(result["elapsed_s"])

    async def main() -> HonestRun:
        address = await trio.to_thread.run_sync(lambda: served.b.address)
        async with AsyncExitStack() as stack:
            hostiles = [
                await stack.enter_async_context(HostilePeer.open(bytes([0xE0, n]) * 16))
                for n in range(ids)
            ]
            joined: list[tuple[HostilePeer, str]] = []
            for hostile in hostiles:  # b may close strangers' connections over its mark
                with contextlib.suppress(trio.TooSlowError, RemoteError, ConnectError):
                    joined.append((hostile, await hostile.join(address)))
            async with trio.open_nursery() as nursery:
                end = trio.current_time() + HONEST_SYNC_S
                for hostile, target in joined:
                    nursery.start_soon(re_ask, hostile, target, Tally(), end)
                await trio.sleep(2)
                outcome = await honest_sync(served, friends[1])
                nursery.cancel_scope.cancel()
            return outcome

    code, result, attacked = trio.run(main)
    session = float(result["elapsed_s"])
    print(
        f"{ids} ids re-asking from one address: a friend's sync took {attacked:.1f} s, its"
        f" session {session:.2f} s (unattacked {quiet:.1f} s, session {quiet_session:.2f} s),"
        f" exit {code}, {result}"
    )
    assert code == 0 and result["fetched"] == served.feed, result
    assert session <= 2 * quiet_session + CONTENTION_S, f"{session:.2f} s vs {quiet_session:.2f} s"
    return quiet_session, session


def wait_following(node: NodeProcess, count: int) -> None:
    deadline = time.monotonic() + 30
    while node.status()["counts"]["following"] < count:
        assert time.monotonic() < deadline, "b never took up its new follows"
        time.sleep(0.1)


def test_sybil_ids_from_one_address_cannot_take_the_slots_of_a_friend(short: Served) -> None:
    check_sybil_ids(short)


@pytest.mark.slow
def test_sybil_ids_and_a_friend_with_a_40000_message_feed(long: Served) -> None:
    check_sybil_ids(long)
