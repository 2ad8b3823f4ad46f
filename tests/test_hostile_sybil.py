"""Sybil floods of *valid* posts against a relay, with real node processes (issue 11, items 2, 3).

A line ``a - b - c`` (c follows a) as in ``test_hostile_network.py``, its own per test. Several
hostile peer ids (``tests/hostile.py``) each send b about 4,096 valid posts from fresh keys, each
id under b's per-peer burst. What must hold: no honest peer is penalised or banned (c never holds
b's relaying against it; valid data is nobody's fault), a's posts keep reaching c within
``FLOOD_DELIVERY_S`` throughout, b sheds the flood before verifying it (global stranger budget),
and b's memory stays within ``MAX_RSS_GROWTH_BYTES`` and falls back once the flood is over.

Run with ``-s`` to see the measured figures. The 8-id and 10-wave variants are ``slow``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
import trio

from pnyx.core.envelope import sign
from pnyx.core.frame import MAX_GOSSIP_BATCH_MESSAGES, encode_frame
from pnyx.crypto.keytext import parse_public_key
from pnyx.ingest.ratelimit import PEER_BURST_MESSAGES
from pnyx.store import Store
from tests.hostile import HostilePeer, key, now_ms
from tests.hostile_line import MAX_RSS_GROWTH_BYTES, Line, new_line, texts_by
from tests.waiting import wait_until

pytestmark = [pytest.mark.network]

#: Longest one of a's posts may take to reach c during a flood, in seconds (normally ~0.03 s).
FLOOD_DELIVERY_S = 2.0
#: Posts each hostile id sends per wave: its whole per-peer burst, never more.
POSTS_PER_ID = PEER_BURST_MESSAGES
#: Longest the test waits to see one of a's posts at c before it counts as lost, in seconds.
ARRIVAL_S = 10.0
#: Pause between two of a's probe posts, in seconds.
PROBE_PAUSE_S = 0.5
#: How long the probes go on after the last wave, in seconds.
PROBE_AFTER_S = 5.0
#: Longest a wave waits for b to have handled every frame before its peers hang up, in seconds.
SETTLE_S = 30.0
#: How long b is left idle after a long flood before its RSS is read again, in seconds.
IDLE_S = 30.0
#: Most b's RSS may stay above its start after the flood and the idle time, in bytes.
MAX_RSS_LEFT_BYTES = 64 * 1024 * 1024


def flood_frames(wave: int, ident: int) -> list[bytes]:
    """``POSTS_PER_ID`` valid first posts, each from a fresh key, in full frames."""
    base = 1_000_000 + (wave * 64 + ident) * POSTS_PER_ID
    posts = [
        sign(key(base + i), seq=1, prev=None, ts=now_ms(), kind="post", body={"text": f"s{i}"}).raw
        for i in range(POSTS_PER_ID)
    ]
    step = MAX_GOSSIP_BATCH_MESSAGES
    return [encode_frame(posts[i : i + step]) for i in range(0, len(posts), step)]


@dataclass
class Probes:
    """a posts every ``PROBE_PAUSE_S`` in a thread while the flood runs; delays to c recorded."""

    line: Line
    waited: list[float] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def arrived(self, text: str) -> bool:
        return text in texts_by(self.line.c.home, self.line.author)

    def network_delays(self) -> dict[str, float]:
        """Per probe: c's ``received_ms`` - the post's ``ts``, in seconds (one clock; what the
        network took, without this test process's own polling and GIL contention)."""
        with Store.open(self.line.c.home / "pnyx.db", readonly=True) as store:
            items = store.feed(parse_public_key(self.line.author), limit=1000).items
        return {
            s.message.text or "": (s.received_ms - s.message.ts) / 1000
            for s in items
            if (s.message.text or "").startswith("probe ")
        }

    def run(self) -> None:
        while not self.stop.is_set():
            self.line.posts += 1
            text = f"probe {self.line.posts}"
            started = time.monotonic()
            self.line.cluster.cli("a", "post", text)
            try:
                wait_until(
                    partial(self.arrived, text),
                    timeout=ARRIVAL_S,
                    what=f"{text} reaches c",
                )
            except AssertionError:
                self.late.append(text)
            self.waited.append(time.monotonic() - started)
            self.stop.wait(PROBE_PAUSE_S)


def looked_at(line: Line) -> int:
    """Frames b has handled so far (relayed, refused by a limit or otherwise ignored)."""
    counts = line.b.status()["counts"]
    return int(counts["frames_received"] + counts["frames_rate_limited"] + counts["frames_ignored"])


async def b_has_looked_at(line: Line, start: int, count: int) -> None:
    """Wait (at most ``SETTLE_S``) until b has handled ``count`` frames more than ``start``, so
    that no hostile peer hangs up in the middle of a frame."""
    with trio.move_on_after(SETTLE_S):
        while await trio.to_thread.run_sync(looked_at, line) < start + count:
            await trio.sleep(0.1)


def run_flood(line: Line, ids: int, waves: int, peak: list[int]) -> list[str]:
    """``waves`` times: ``ids`` fresh hostile peers join b at once and each publishes its frames.
    Returns the hostile peer ids; b's RSS is sampled into ``peak``."""
    frames = {(w, i): flood_frames(w, i) for w in range(waves) for i in range(ids)}
    hostile_ids: list[str] = []
    address = line.b.address

    async def one(wave: int, ident: int, published: list[int], done: trio.Event) -> None:
        seed = bytes([0x80 + wave, ident]) * 16
        async with HostilePeer.open(seed) as peer:
            target = await peer.join(address)
            hostile_ids.append(peer.peer_id)
            for frame in frames[(wave, ident)]:
                await peer.network.publish(frame)
            published.append(ident)
            await done.wait()  # every id of the wave stays connected until b has seen it all
            await peer.network.disconnect(target)  # a wave goes (py-libp2p's close may not hang up)

    async def sample() -> None:
        while True:
            peak.append(line.rss())
            await trio.sleep(0.2)

    async def main() -> None:
        async with trio.open_nursery() as sampling:
            sampling.start_soon(sample)
            for wave in range(waves):
                published: list[int] = []
                done = trio.Event()
                wave_started = await trio.to_thread.run_sync(looked_at, line)
                with trio.fail_after(120):
                    async with trio.open_nursery() as nursery:
                        for ident in range(ids):
                            nursery.start_soon(one, wave, ident, published, done)
                        while len(published) < ids:
                            await trio.sleep(0.05)
                        await b_has_looked_at(line, wave_started, len(frames[(wave, 0)]) * ids)
                        done.set()
            sampling.cancel_scope.cancel()

    trio.run(main)
    return hostile_ids


def shed(counts: dict[str, int]) -> int:
    return counts.get("frames_of_strangers_shed", 0)  # absent before issue 11


def sybil_flood(line: Line, ids: int, waves: int = 1) -> tuple[Probes, list[str], int]:
    """Flood b while probing a -> c; returns the probes, the hostile ids and b's peak RSS."""
    probes = Probes(line)
    thread = threading.Thread(target=probes.run)
    before = line.b.status()["counts"]
    thread.start()
    peak: list[int] = [line.rss()]
    started = time.monotonic()
    try:
        hostile_ids = run_flood(line, ids, waves, peak)
        time.sleep(PROBE_AFTER_S)
    finally:
        probes.stop.set()
        thread.join()
    after = line.b.status()["counts"]
    delays = probes.network_delays()
    print(
        f"{waves} x {ids} hostile ids x {POSTS_PER_ID} posts in {time.monotonic() - started:.1f} s:"
        f" b shed {shed(after) - shed(before)} frames,"
        f" relayed {after['frames_received'] - before['frames_received']};"
        f" a -> c {len(delays)} probes, max {max(delays.values()):.2f} s"
        f" (seen by the test after {max(probes.waited):.2f} s at most);"
        f" b RSS {line.rss_start / 2**20:.0f} -> peak {max(peak) / 2**20:.0f} MiB"
    )
    return probes, hostile_ids, max(peak)


def assert_nobody_honest_punished(line: Line, probes: Probes, hostile_ids: list[str]) -> None:
    b_status, c_status, a_status = line.b.status(), line.c.status(), line.a.status()
    b_id, a_id, c_id = b_status["peer_id"], a_status["peer_id"], c_status["peer_id"]
    assert probes.late == [], f"a's posts missing at c during the flood: {probes.late}"
    delays = probes.network_delays()
    assert len(delays) == len(probes.waited)
    late = {text: delay for text, delay in delays.items() if delay >= FLOOD_DELIVERY_S}
    assert not late, f"a's posts later than {FLOOD_DELIVERY_S:g} s at c: {late} of {delays}"
    assert c_status["banned"] == [] and c_status["penalties"] == {}, "c punished honest b"
    assert b_id in {p["peer_id"] for p in c_status["peers"]}
    assert a_id not in b_status["banned"] and c_id not in b_status["banned"]
    assert a_status["banned"] == [] and a_status["penalties"] == {}
    # Valid posts are nobody's fault: the attackers are shed, not penalised.
    assert not set(hostile_ids) & set(b_status["penalties"])
    assert b_status["counts"]["frames_of_strangers_shed"] > 0


@pytest.mark.parametrize(
    "ids",
    [
        pytest.param(3, marks=pytest.mark.timeout(240), id="3-ids"),
        pytest.param(8, marks=[pytest.mark.slow, pytest.mark.timeout(400)], id="8-ids"),
    ],
)
def test_sybil_ids_flooding_valid_posts_get_no_honest_relay_banned(
    tmp_path: Path, ids: int
) -> None:
    with new_line(tmp_path) as line:
        probes, hostile_ids, peak = sybil_flood(line, ids=ids)
        assert_nobody_honest_punished(line, probes, hostile_ids)
        assert peak - line.rss_start < MAX_RSS_GROWTH_BYTES


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ten_waves_of_eight_sybil_ids_keep_memory_bounded(tmp_path: Path) -> None:
    """10 waves of 8 fresh ids: b's RSS stays within the bound during the flood and falls back
    after ``IDLE_S`` idle; nothing of the flood is stored anywhere."""
    with new_line(tmp_path) as line:
        probes, hostile_ids, peak = sybil_flood(line, ids=8, waves=10)
        time.sleep(IDLE_S)
        left = line.rss() - line.rss_start
        print(
            f"b RSS: {line.rss_start / 2**20:.0f} MiB at start,"
            f" peak +{(peak - line.rss_start) / 2**20:.0f} MiB,"
            f" +{left / 2**20:.0f} MiB after {IDLE_S:g} s idle"
        )
        assert_nobody_honest_punished(line, probes, hostile_ids)
        assert peak - line.rss_start < MAX_RSS_GROWTH_BYTES
        assert left < MAX_RSS_LEFT_BYTES
        assert line.b.status()["counts"]["messages_stored"] == 0
