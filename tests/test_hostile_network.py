"""A real hostile libp2p peer (tests/hostile.py) against real node processes on 127.0.0.1.

One line of honest nodes for the whole module: ``a`` (an author) - ``b`` (the relay every attack
targets) - ``c`` (follows a). Each test brings a fresh hostile identity, attacks b, then checks that
b is still up, that a's next post still reaches c through b, that b's memory stayed bounded, and
what b did to the attacker (penalised, banned, disconnected, or, for what is not the sender's
fault, nothing).

Run alone with ``pytest -m network tests/test_hostile_network.py -s`` to see the measured figures.
"""

from __future__ import annotations

import json
import os
import socket
import time

import pytest
import trio

from pnyx.core import canonical
from pnyx.core.envelope import sign
from pnyx.core.frame import (
    FRAME_VERSION,
    MAX_GOSSIP_BATCH_MESSAGES,
    MAX_GOSSIP_FRAME_BYTES,
    encode_frame,
)
from pnyx.core.limits import MAX_ENVELOPE_BYTES, MAX_FUTURE_SKEW_MS, MIN_TIMESTAMP_MS
from pnyx.core.varint import encode_uvarint
from pnyx.crypto.keytext import encode_public_key
from pnyx.ingest.ratelimit import STRANGER_BURST_MESSAGES, STRANGER_MESSAGES_PER_S
from pnyx.node.node import INVALID_FRAMES_BEFORE_BAN
from pnyx.store import Store
from tests.hostile import HostilePeer, key, now_ms, read_until_closed, signed_anyway
from tests.hostile_line import (
    HONEST_DELIVERY_S,
    MAX_RSS_GROWTH_BYTES,
    Line,
    attack,
    counted,
    line,
    status_of,
    texts_by,
    until,
)
from tests.netharness import cli
from tests.waiting import wait_until

__all__ = ["line"]  # the module-scoped fixture: one line of nodes for this module

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]


def test_forged_oversized_and_ancient_frames_are_penalised_and_the_peer_banned(line: Line) -> None:
    """A frame over 256 KiB (under libp2p's 1 MiB), a frame holding an envelope over 8256 bytes,
    and a message dated before 2020: each is rejected with its reason; the third gets the peer
    banned and disconnected."""
    victim = key(1)
    big_text_frame = canonical.pack(
        [FRAME_VERSION, [b"\x00" * 8000] * (MAX_GOSSIP_FRAME_BYTES // 8000 + 2)]
    )
    assert len(big_text_frame) > MAX_GOSSIP_FRAME_BYTES
    oversized_envelope = canonical.pack([FRAME_VERSION, [b"\x01" * (MAX_ENVELOPE_BYTES + 1)]])
    ancient = signed_anyway(victim, ts=MIN_TIMESTAMP_MS - 1)
    before = line.status()["counts"]["frames_rejected"]

    async def run(hostile: HostilePeer, target: str) -> None:
        for index, frame in enumerate(
            [big_text_frame, oversized_envelope, encode_frame([ancient])]
        ):
            await hostile.publish(frame)
            await until(
                line.b, counted("frames_rejected", before + index + 1), f"b rejects frame {index}"
            )
        with trio.fail_after(10):
            while hostile.connected_to(target):
                await trio.sleep(0.05)

    hostile_id = attack(line, b"f" * 32, run)
    status = line.status()
    assert status["penalties"][hostile_id] == INVALID_FRAMES_BEFORE_BAN
    assert hostile_id in status["banned"]
    assert hostile_id not in {p["peer_id"] for p in status["peers"]}
    out = line.b.stdout()
    assert "oversized" in out and "bad-timestamp" in out and "banned peer" in out
    assert line.c.status()["counts"]["frames_rejected"] == 0  # nothing of it was forwarded
    print(
        f"honest delivery after the attack: {line.honest_post_arrives('forgeries') * 1000:.0f} ms"
    )


def test_a_message_over_libp2ps_limit_is_dropped_by_libp2p_and_b_stays_up(line: Line) -> None:
    """2 MiB in one gossip message: py-libp2p refuses the RPC before pnyx sees it."""
    before = line.status()["counts"]

    async def run(hostile: HostilePeer, target: str) -> None:
        await hostile.publish(os.urandom(2 * 1024 * 1024))
        await trio.sleep(1.0)

    hostile_id = attack(line, b"g" * 32, run)
    after = line.status()
    for name in ("frames_rejected", "frames_ignored", "frames_rate_limited"):
        assert after["counts"][name] == before[name], name
    assert hostile_id not in after["penalties"]
    line.honest_post_arrives("a 2 MiB message")


def test_future_dated_messages_are_dropped_without_penalty_old_ones_are_fine(
    line: Line,
) -> None:
    """A message dated an hour ahead is dropped (future-timestamp) and not forwarded, without
    penalty: it may be the clock of b that is wrong. A message from 2021 is valid (offline-first:
    old posts arrive late) and is relayed."""
    late = sign(
        key(2),
        seq=1,
        prev=None,
        ts=now_ms() + MAX_FUTURE_SKEW_MS + 3_600_000,
        kind="post",
        body={"text": "from the future"},
    )
    old = sign(key(3), seq=1, prev=None, ts=1_620_000_000_000, kind="post", body={"text": "2021"})
    before = line.status()["counts"]
    c_before = line.c.status()["counts"]

    async def run(hostile: HostilePeer, target: str) -> None:
        for _ in range(INVALID_FRAMES_BEFORE_BAN + 1):  # repeated, still no penalty
            await hostile.publish(encode_frame([late.raw]))
            late_again = sign(
                key(2), seq=1, prev=None, ts=late.ts + 1, kind="post", body={"text": "again"}
            )
            await hostile.publish(encode_frame([late_again.raw]))
        await hostile.publish(encode_frame([old.raw]))
        await until(
            line.b,
            lambda s: s["counts"]["frames_received"] > before["frames_received"],
            "b relays the 2021 message",
        )
        assert hostile.connected_to(target)

    hostile_id = attack(line, b"t" * 32, run)
    status = line.status()
    assert status["counts"]["frames_ignored"] >= before["frames_ignored"] + 1
    assert hostile_id not in status["penalties"] and hostile_id not in status["banned"]
    wait_until(
        lambda: line.c.status()["counts"]["messages_not_wanted"] > c_before["messages_not_wanted"],
        timeout=5,
        what="c gets the 2021 message (and does not store it: c does not follow its author)",
    )
    assert line.c.status()["counts"]["frames_ignored"] == c_before["frames_ignored"]
    assert "future-timestamp" in line.b.stdout()


def test_forks_are_kept_as_evidence_and_replays_change_nothing(line: Line) -> None:
    """The hostile peer holds an author key that c follows. It publishes seq 1, then a second,
    different seq 1 (a fork): c keeps the first, records the fork and flags the author. Replaying
    the same frame is absorbed by the gossip seen-cache; the same envelope in a new frame is a
    duplicate. Nobody is penalised: b cannot tell a fork from a relay of one."""
    forker = key(4)
    forker_text = encode_public_key(bytes(forker.verify_key))
    line.cluster.cli("c", "follow", forker_text)
    first = sign(forker, seq=1, prev=None, ts=now_ms(), kind="post", body={"text": "first"})
    fork = sign(forker, seq=1, prev=None, ts=now_ms() + 1, kind="post", body={"text": "fork"})
    other = sign(key(5), seq=1, prev=None, ts=now_ms(), kind="post", body={"text": "cover"})

    async def run(hostile: HostilePeer, target: str) -> None:
        await trio.sleep(0.5)  # c's node notices the new follow (it polls its store)
        frame = encode_frame([first.raw])
        await hostile.publish(frame)
        await trio.to_thread.run_sync(
            lambda: wait_until(
                lambda: texts_by(line.c.home, forker_text) == ["first"],
                timeout=10,
                what="c stores the first seq 1",
            )
        )
        received = (await status_of(line.b))["counts"]["frames_received"]
        for _ in range(5):
            await hostile.publish(frame)  # replay: the same bytes
        await hostile.publish(encode_frame([other.raw, first.raw]))  # the same message, re-framed
        await hostile.publish(encode_frame([fork.raw]))
        await until(
            line.c,
            lambda s: s["counts"]["messages_duplicate"] >= 1 and s["counts"]["forks"] >= 1,
            "c counts the duplicate and the fork",
        )
        assert (await status_of(line.b))["counts"]["frames_received"] == received + 2

    hostile_id = attack(line, b"k" * 32, run)
    assert texts_by(line.c.home, forker_text) == ["first"]
    with Store.open(line.c.home / "pnyx.db", readonly=True) as store:
        assert store.is_forked(bytes(forker.verify_key))
        [evidence] = store.forks(bytes(forker.verify_key))
        assert evidence.other_raw == fork.raw
    assert hostile_id not in line.status()["penalties"]
    line.honest_post_arrives("forks and replays")


def test_flood_of_unknown_kinds_from_fresh_keys_is_shed_unverified_without_penalty(
    line: Line,
) -> None:
    """Full frames (512 envelopes) of an unknown kind, each envelope from a fresh key: valid by
    the protocol, so only rate limits stop them. b verifies about its stranger budget (2,048),
    sheds the rest unverified and does not penalise the flooder (valid data is no fault), keeps
    its memory bounded, and a's posts still reach c."""
    frames = []
    for n in range(40):
        envelopes = [
            sign(
                key(100_000 + n * 1000 + i),
                seq=1,
                prev=None,
                ts=now_ms(),
                kind="zz-spam",
                body={"n": i},
            ).raw
            for i in range(MAX_GOSSIP_BATCH_MESSAGES)
        ]
        frames.append(encode_frame(envelopes))
    before = line.status()["counts"]
    rss_before = line.rss()
    started = time.monotonic()

    async def run(hostile: HostilePeer, target: str) -> None:
        for frame in frames:
            await hostile.network.publish(frame)
        await until(
            line.b,
            lambda s: (
                s["counts"]["frames_rate_limited"]
                - before["frames_rate_limited"]
                + s["counts"]["frames_received"]
                - before["frames_received"]
                >= len(frames) - 2
            ),
            "b has looked at the flood",
            limit_s=30,
        )
        assert hostile.connected_to(target)

    hostile_id = attack(line, b"s" * 32, run)
    elapsed = time.monotonic() - started
    status = line.status()
    counts = status["counts"]
    relayed = counts["frames_received"] - before["frames_received"]
    limited = counts["frames_rate_limited"] - before["frames_rate_limited"]
    rss_after = line.rss()
    print(
        f"flood: {len(frames)} frames x 512 offered in {elapsed:.1f} s; b relayed {relayed}, "
        f"refused {limited} unverified; RSS {rss_before / 2**20:.0f} -> {rss_after / 2**20:.0f} MiB"
    )
    assert hostile_id not in status["banned"] and hostile_id not in status["penalties"]
    assert limited >= len(frames) // 2
    admitted = STRANGER_BURST_MESSAGES + STRANGER_MESSAGES_PER_S * elapsed
    assert relayed * MAX_GOSSIP_BATCH_MESSAGES <= admitted + MAX_GOSSIP_BATCH_MESSAGES
    assert counts["messages_stored"] == before["messages_stored"]  # nobody follows the spammers
    assert line.rss() - line.rss_start < MAX_RSS_GROWTH_BYTES
    line.honest_post_arrives("a flood from fresh keys")


def test_stalled_connections_do_not_stop_b(line: Line) -> None:
    """Slowloris at the connection level: 40 TCP connections to b, half silent, half stalled in
    the middle of the multistream handshake. b keeps answering and relaying."""
    address = line.b.address
    port = int(address.split("/tcp/")[1].split("/")[0])
    sockets: list[socket.socket] = []
    try:
        for index in range(40):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if index % 2:
                sock.sendall(b"\x13/multistream/1.0.0\n\x07/no")  # and then nothing more
            sockets.append(sock)
        delay = line.honest_post_arrives("40 stalled connections")
        assert delay < HONEST_DELIVERY_S
        assert line.status()["counts"]["peers"] >= 2
    finally:
        for sock in sockets:
            sock.close()
    assert line.rss() - line.rss_start < MAX_RSS_GROWTH_BYTES


def test_garbage_on_sync_streams_gets_a_reason_and_the_stream_closed(line: Line) -> None:
    """A length prefix claiming gigabytes, a body that is not canonical msgpack, a frame cut by
    the end of the stream, and a frame that promises 256 KiB and stalls halfway: b answers the
    first two with an ERROR frame naming the rule, closes each stream, buffers at most one frame,
    and keeps serving honest sync sessions meanwhile."""
    from pnyx.sync.frames import ErrorFrame
    from pnyx.sync.limits import MAX_FRAME_BYTES
    from pnyx.sync.wire import FrameDecoder

    cases = [
        (b"\xff\xff\xff\xff\x0f", "frame-too-large"),
        (b"\x03abc", "bad-frame"),
        (b"\x0a\x01\x02", None),  # cut: the stream ends inside a frame
    ]
    rss_before = line.rss()

    async def run(hostile: HostilePeer, target: str) -> None:
        for data, reason in cases:
            stream = await hostile.sync_stream(target)
            await stream.send_all(data)
            if reason is None:
                await stream.send_eof()
            answer, closed = await read_until_closed(stream, 10)
            assert closed, f"b keeps a stream open after {data!r}"
            if reason is not None:
                [frame] = FrameDecoder().feed(answer)
                assert isinstance(frame, ErrorFrame) and frame.reason == reason
        endless = await hostile.sync_stream(target)
        await endless.send_all(encode_uvarint(MAX_FRAME_BYTES) + os.urandom(MAX_FRAME_BYTES // 2))
        code, out, err = await trio.to_thread.run_sync(
            lambda: cli(line.c.home, "sync", "--json", line.b.address)
        )
        assert code == 0, err
        assert json.loads(out)["complete"] is True
        await endless.close()

    attack(line, b"y" * 32, run)
    assert line.rss() - rss_before < MAX_RSS_GROWTH_BYTES
    line.honest_post_arrives("garbage on sync streams")


def test_a_sync_slowloris_does_not_lock_honest_peers_out(line: Line) -> None:
    """One peer opens 12 sync streams and sends one byte on each (a slowloris: the idle timeout
    is 30 s, the session timeout 600 s). b serves at most MAX_SERVED_PER_PEER of them, so an
    honest peer's `pnyx sync` still gets a session at once."""
    from pnyx.sync.limits import MAX_FRAME_BYTES

    async def run(hostile: HostilePeer, target: str) -> None:
        streams = []
        for _ in range(12):
            stream = await hostile.sync_stream(target)
            await stream.send_all(encode_uvarint(MAX_FRAME_BYTES)[:1])
            streams.append(stream)
        code, _, err = await trio.to_thread.run_sync(
            lambda: cli(line.c.home, "sync", "--json", line.b.address)
        )
        for stream in streams:
            await stream.close()
        assert code == 0, f"honest sync refused while a slowloris holds b's sessions: {err}"

    attack(line, b"w" * 32, run)
