"""Real nodes in separate OS processes on 127.0.0.1 (libp2p: TCP, Noise, yamux, gossipsub).

Run alone with ``pytest -m network tests/test_node_network.py``. Each test is capped by
``pytest.mark.timeout`` and every wait inside is bounded (``tests/netharness.py``).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nacl.signing
import pytest
import trio

from pnyx.core.envelope import sign
from pnyx.core.frame import encode_frame
from pnyx.crypto.keytext import encode_public_key, parse_public_key
from pnyx.net.contracts import Verdict
from pnyx.node.node import INVALID_FRAMES_BEFORE_BAN
from pnyx.store import Store
from tests.netharness import Cluster, NodeProcess, cli
from tests.waiting import wait_until

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path) as cluster:
        yield cluster


def texts_by(home: Path, author: str) -> list[str]:
    with Store.open(home / "pnyx.db") as store:
        page = store.feed(parse_public_key(author), limit=100)
    return [s.message.text or "" for s in page.items if s.message.kind == "post"]


def connected(node: NodeProcess, count: int) -> bool:
    status = node.status()
    return len(status["topic_peers"]) >= count and len(status["peers"]) >= count


def meshed(node: NodeProcess, count: int) -> Callable[[], bool]:
    return lambda: connected(node, count)


def test_post_crosses_two_relays_that_do_not_follow(cluster: Cluster) -> None:
    """A - B - C - D in a line; D follows A, B and C follow nobody. `pnyx post` on A's home while
    A runs reaches D through B and C within a couple of seconds; B and C store nothing of A's."""
    author = cluster.key("a")
    cluster.cli("d", "follow", author)
    a, b, c = cluster.start_many("a", "b", "c")
    b.connect(a)
    c.connect(b)
    d = cluster.start("d", "--bootstrap", c.address)  # d dials c itself at start
    for node, count in ((a, 1), (b, 2), (c, 2), (d, 1)):
        wait_until(meshed(node, count), timeout=10, what=f"{node.name} meshed")

    posted = time.monotonic()
    cluster.cli("a", "post", "hello across two relays")
    wait_until(
        lambda: a.status()["counts"]["messages_published"] == 1,
        timeout=1.0,
        what="a publishes the post written by `pnyx post` (within a second)",
    )
    wait_until(
        lambda: texts_by(d.home, author) == ["hello across two relays"],
        timeout=5,
        what="d stores a's post",
    )
    latency = time.monotonic() - posted
    print(f"post -> follower 3 hops away: {latency * 1000:.0f} ms (incl. the CLI's own work)")
    assert latency < 3.0
    assert texts_by(b.home, author) == [] and texts_by(c.home, author) == []
    assert a.status()["counts"]["messages_published"] == 1
    assert d.status()["counts"]["messages_stored"] == 1
    timeline = cluster.cli("d", "timeline")
    assert "hello across two relays" in timeline
    assert "post from" in d.stdout() and "hello across two relays" in d.stdout()


def test_forged_frame_is_neither_stored_nor_forwarded_and_its_sender_banned(
    cluster: Cluster,
) -> None:
    """A hostile libp2p peer publishes frames with a bad signature to B. B rejects each one,
    forwards none to C (which follows the forged author), and bans the peer after the third."""
    victim = nacl.signing.SigningKey(b"v" * 32)
    b, c = cluster.start_many("b", "c")
    c.connect(b)
    cluster.cli("c", "follow", encode_public_key(bytes(victim.verify_key)))
    wait_until(lambda: connected(b, 1) and connected(c, 1), timeout=10, what="b and c meshed")
    hostile_id = trio.run(_hostile_session, b, victim)
    status = b.status()
    assert status["penalties"] == {hostile_id: INVALID_FRAMES_BEFORE_BAN}
    assert hostile_id in status["banned"]
    assert hostile_id not in {p["peer_id"] for p in status["peers"]}
    assert status["counts"]["frames_rejected"] == INVALID_FRAMES_BEFORE_BAN
    assert c.status()["counts"]["frames_received"] == 0
    assert texts_by(c.home, encode_public_key(bytes(victim.verify_key))) == []
    assert "rejected a frame from" in b.stdout() and "bad-signature" in b.stdout()
    assert "banned peer" in b.stdout()


async def _hostile_session(target: NodeProcess, victim: nacl.signing.SigningKey) -> str:
    """Join the network as a peer that validates nothing and publish forged frames."""
    from pnyx.gossip.adapter import open_libp2p_network

    async def accept_everything(data: bytes, forwarder: str) -> Verdict:
        return Verdict.ACCEPT

    address = await trio.to_thread.run_sync(lambda: target.address)
    with trio.fail_after(30):
        async with open_libp2p_network(
            seed=b"h" * 32, listen=["/ip4/127.0.0.1/tcp/0"], validator=accept_everything
        ) as hostile:
            target_id = await hostile.connect(address)
            while target_id not in hostile.topic_peers():
                await trio.sleep(0.02)
            for index in range(INVALID_FRAMES_BEFORE_BAN):
                message = sign(
                    victim,
                    seq=1,
                    prev=None,
                    ts=time.time_ns() // 1_000_000,
                    kind="post",
                    body={"text": f"forged {index}"},
                )
                forged = bytearray(message.raw)
                forged[10] ^= 0x04
                await hostile.publish(encode_frame([bytes(forged)]))
                want = index + 1
                while (await trio.to_thread.run_sync(target.status))["counts"][
                    "frames_rejected"
                ] < want:
                    await trio.sleep(0.02)
            while target_id in {p.peer_id for p in hostile.peers()}:
                await trio.sleep(0.02)
            return hostile.peer_id


def test_restart_keeps_identity_and_signals_stop_cleanly(cluster: Cluster) -> None:
    """SIGTERM and SIGINT stop the node within a few seconds with status 0 and no traceback; the
    same home comes back with the same peer id. A second node on the same home is refused."""
    a = cluster.start("a")
    first = a.status()
    code, _, err = cli(a.home, "run", "--listen", "/ip4/127.0.0.1/tcp/0")
    assert code == 2 and "already running" in err
    started = time.monotonic()
    assert a.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 5
    assert "Traceback" not in a.stderr() and "stopped" in a.stdout()
    assert not (a.home / "control.sock").exists()

    again = cluster.start("a")
    second = again.status()
    assert second["peer_id"] == first["peer_id"]
    assert second["public_key"] == first["public_key"] == cluster.key("a")
    started = time.monotonic()
    assert again.stop(signal.SIGINT) == 0
    assert time.monotonic() - started < 5
    assert "Traceback" not in again.stderr()

    separate = cluster.start("a", "--node-key", "separate")
    assert separate.status()["peer_id"] != first["peer_id"]
    assert (a.home / "node.key").exists()
    assert separate.stop() == 0


def test_status_without_a_node_is_one_line(tmp_path: Path) -> None:
    code, out, err = cli(tmp_path / "nobody", "status")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "no node is running" in err


def test_connect_reaches_a_peer_that_restarted_on_a_new_port(cluster: Cluster) -> None:
    """py-libp2p dials only the first address it stores for a peer; an explicit connect must
    use the address the user gave, not the peer's stale one from before its restart."""
    a, b = cluster.start_many("a", "b")
    b.connect(a)
    old_address, a_id = a.address, a.peer_id
    assert a.stop() == 0
    wait_until(
        lambda: a_id not in {p["peer_id"] for p in b.status()["peers"]},
        timeout=10,
        what="b notices a left",
    )
    a = cluster.start("a")
    assert a.address != old_address  # port 0: a new port
    assert b.connect(a) == a_id == a.peer_id
    assert a_id in {p["peer_id"] for p in b.status()["peers"]}
