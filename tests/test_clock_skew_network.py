"""Clock skew between real node processes: ``fast`` runs with its wall clock 15 minutes ahead
(``time.time_ns`` shifted in its process; monotonic time is untouched).

Its post reaches b, which drops it as ``future-timestamp`` (b's output names the reason, b's status
counts it, no penalty) so c, which follows fast, never gets it by gossip. As soon as posts of three
other authors have reached fast, ``pnyx run`` on fast prints a warning that its clock runs about 15
minutes ahead and that peers reject its new posts.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from pnyx.core.envelope import sign
from pnyx.core.frame import encode_frame
from pnyx.ingest.clockskew import MIN_SAMPLE_AUTHORS
from tests.hostile import HostilePeer, key, now_ms
from tests.netharness import Cluster, NodeProcess, node_env
from tests.waiting import wait_until

pytestmark = [pytest.mark.network, pytest.mark.timeout(90)]

#: How far fast's clock runs ahead, in nanoseconds (15 minutes).
AHEAD_NS = 15 * 60 * 10**9

#: Runs ``python -m pnyx ARGS`` with the wall clock shifted by AHEAD_NS.
SHIFTED = (
    "import runpy, sys, time\n"
    "_real = time.time_ns\n"
    f"time.time_ns = lambda: _real() + {AHEAD_NS}\n"
    "sys.argv = ['pnyx', *sys.argv[1:]]\n"
    "runpy.run_module('pnyx', run_name='__main__')\n"
)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path) as cluster:
        yield cluster


def shifted(cluster: Cluster, name: str, *argv: str) -> list[str]:
    return [sys.executable, "-c", SHIFTED, "--home", str(cluster.home(name)), *argv]


def test_a_node_whose_clock_runs_ahead_is_refused_and_warns_its_user(cluster: Cluster) -> None:
    fast_key = cluster.key("fast")
    cluster.cli("c", "follow", fast_key)
    b, c = cluster.start_many("b", "c")
    c.connect(b)
    logs = cluster.base / "logs"
    with open(logs / "fast.out", "wb") as out, open(logs / "fast.err", "wb") as err:
        proc = subprocess.Popen(
            shifted(
                cluster, "fast", "run", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-ui"
            ),
            stdout=out,
            stderr=err,
            env=node_env(),
        )
    fast = NodeProcess("fast", cluster.home("fast"), proc, logs)
    cluster.nodes.append(fast)
    fast.wait_ready()
    fast.connect(b)
    wait_until(lambda: len(b.status()["topic_peers"]) >= 2, timeout=15, what="b meshed")

    posted = subprocess.run(
        shifted(cluster, "fast", "post", "from the future"),
        env=node_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert posted.returncode == 0, posted.stderr
    wait_until(
        lambda: b.status()["counts"]["frames_ignored"] >= 1, timeout=10, what="b drops the post"
    )
    assert fast.status()["counts"]["messages_published"] == 1
    assert "future-timestamp" in b.stdout()
    assert b.status()["penalties"] == {}
    assert c.status()["counts"]["frames_received"] == 0

    d = cluster.start("d")
    d.connect(b)
    wait_until(lambda: len(d.status()["topic_peers"]) >= 1, timeout=15, what="d meshed")
    wait_until(  # gossip goes to mesh peers: wait until the heartbeat put everyone in b's mesh
        lambda: len(b.status()["mesh_peers"]) >= 3 and d.status()["mesh_peers"],
        timeout=15,
        what="b's gossip mesh holds fast, c and d",
    )
    for name in ("b", "c", "d"):
        cluster.cli(name, "post", f"{name}: the time is right")
    wait_until(
        lambda: "clock seems to run about 15 minutes ahead" in fast.stdout(),
        timeout=15,
        what="fast warns its user",
    )
    clock = fast.status()["clock"]
    assert clock["authors"] >= MIN_SAMPLE_AUTHORS
    assert clock["ahead_ms"] >= AHEAD_NS // 10**6 - 60_000
    assert "peers reject your new posts" in fast.stdout()
    assert "clock seems" not in b.stdout()  # one future-dated author proves nothing about b


def future_frames(signed: bool) -> list[bytes]:
    """One frame per author (MIN_SAMPLE_AUTHORS of them), each post dated an hour ahead; with
    ``signed`` False, one signature byte of each is flipped (it no longer verifies)."""
    frames = []
    for n in range(1, MIN_SAMPLE_AUTHORS + 1):
        raw = bytearray(
            sign(
                key(100 + n),
                seq=1,
                prev=None,
                ts=now_ms() + 3_600_000,
                kind="post",
                body={"text": f"from the future {n}"},
            ).raw
        )
        if not signed:
            raw[0] ^= 0x01
        frames.append(encode_frame([bytes(raw)]))
    return frames


def send_from_a_hostile_peer(node: NodeProcess, seed: bytes, frames: list[bytes]) -> None:
    def judged() -> int:
        counts = node.status()["counts"]
        return int(counts["frames_ignored"] + counts["frames_rejected"])

    before = judged()

    async def session() -> None:
        address = await trio.to_thread.run_sync(lambda: node.address)
        with trio.fail_after(60):
            async with HostilePeer.open(seed) as hostile:
                await hostile.join(address)
                for frame in frames:
                    await hostile.publish(frame)
                # until b has judged every frame (the peer may be banned by then)
                while await trio.to_thread.run_sync(judged) < before + len(frames):
                    await trio.sleep(0.05)

    trio.run(session)


def test_forged_future_messages_do_not_make_a_node_doubt_its_clock(cluster: Cluster) -> None:
    """Forged envelopes of three authors dated an hour ahead: penalised as forgeries, no clock
    warning. The same envelopes properly signed (from another peer): dropped without penalty,
    and the node warns that its clock seems to run behind."""
    b = cluster.start("b")
    send_from_a_hostile_peer(b, b"f" * 32, future_frames(signed=False))
    status = b.status()
    assert status["counts"]["frames_rejected"] == MIN_SAMPLE_AUTHORS
    assert status["clock"]["future_authors"] == 0
    assert "clock seems" not in b.stdout() and "bad-signature" in b.stdout()

    send_from_a_hostile_peer(b, b"s" * 32, future_frames(signed=True))
    status = b.status()
    assert status["counts"]["frames_ignored"] == MIN_SAMPLE_AUTHORS
    assert status["clock"]["future_authors"] == MIN_SAMPLE_AUTHORS
    wait_until(
        lambda: "clock seems to run behind" in b.stdout(), timeout=5, what="b warns its user"
    )
