"""Crash safety: SIGKILL during heavy ingest, again and again; nothing committed is ever lost.

"Reported as stored" is defined by what another process can see: before each kill the test opens
the database read-only and takes the set of message ids it holds (every message in it was
committed by the writer). After the kill, ``PRAGMA integrity_check`` must say ``ok`` and every id of
that snapshot must still be there; the next run resumes (import skips what it holds, sync asks only
for what is missing) and in the end everything arrives.

Three writers are killed: ``pnyx import`` of a 20,000-message export, a node catching up 8,000
messages by sync, and ``pnyx post`` / the node right after the post's id was printed.

True power cuts (the OS losing its page cache) cannot be produced in a test without a VM: see
docs/security.md, "Crash safety", for how own posts are made durable (synchronous=FULL commit).
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest

from pnyx.core.bundle import BundleWriter
from pnyx.core.envelope import Message, sign
from pnyx.crypto.keytext import encode_public_key, parse_public_key
from pnyx.store import Store
from tests.netharness import Cluster, NodeProcess, node_env
from tests.waiting import wait_until

pytestmark = [pytest.mark.network, pytest.mark.timeout(180)]

#: Kills per test, a count (the issue asks for at least five).
KILLS = 5
#: Authors and messages per author of the import test's export file.
IMPORT_AUTHORS, IMPORT_PER_AUTHOR = 20, 1000
#: Posts written and then killed (CLI and node) in the durability test, a count.
POSTS_KILLED = 3
#: Messages the sync test's author holds.
SYNC_MESSAGES = 8000
#: Random extra wait before a kill once the writer has made progress, in seconds (upper bound).
MAX_KILL_JITTER_S = 0.3
#: Fixed timestamp of generated messages, in ms (mid 2025).
TS = 1_750_000_000_000


def snapshot(db: Path) -> set[bytes]:
    """Ids of every message a separate read-only reader sees now (all committed)."""
    if not db.exists():
        return set()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM messages")}
    except sqlite3.OperationalError:  # the schema is not created yet
        return set()
    finally:
        conn.close()


def count(db: Path) -> int:
    return len(snapshot(db))


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def feed(signer: nacl.signing.SigningKey, length: int, text: str) -> Iterator[Message]:
    prev: bytes | None = None
    for seq in range(1, length + 1):
        message = sign(
            signer, seq=seq, prev=prev, ts=TS + seq, kind="post", body={"text": f"{text} {seq}"}
        )
        prev = message.id
        yield message


def kill_when_growing(
    proc: subprocess.Popen[bytes], db: Path, floor: int, rng: random.Random
) -> set[bytes]:
    """Wait until the writer has committed more than ``floor`` messages (or exited), wait a random
    moment more, snapshot, SIGKILL; returns the snapshot (taken while the writer was alive)."""
    wait_until(
        lambda: proc.poll() is not None or count(db) > floor,
        timeout=60,
        what="the writer commits something",
    )
    time.sleep(rng.uniform(0, MAX_KILL_JITTER_S))
    seen = snapshot(db)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return seen


def test_import_killed_again_and_again_loses_nothing_and_resumes(tmp_path: Path) -> None:
    rng = random.Random(7)
    bundle = tmp_path / "big.pnyx"
    writer = BundleWriter()
    expected: set[bytes] = set()
    with open(bundle, "wb") as out:
        out.write(writer.header())
        for n in range(IMPORT_AUTHORS):
            signer = nacl.signing.SigningKey((n + 1).to_bytes(32, "big"))
            for message in feed(signer, IMPORT_PER_AUTHOR, f"author {n}"):
                out.write(writer.record(message.raw))
                expected.add(message.id)
        out.write(writer.trailer())
    home = tmp_path / "home"
    db = home / "pnyx.db"
    argv = [sys.executable, "-m", "pnyx", "--home", str(home), "import", str(bundle)]
    kills_mid_ingest = 0
    for round_ in range(KILLS):
        proc = subprocess.Popen(
            argv, env=node_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        seen = kill_when_growing(proc, db, count(db), rng)
        assert integrity(db) == "ok", f"round {round_}"
        after = snapshot(db)
        assert seen <= after, f"round {round_}: {len(seen - after)} committed messages lost"
        kills_mid_ingest += 0 < len(after) < len(expected)
        print(f"import round {round_}: killed with {len(seen)} seen, {len(after)} after restart")
    assert kills_mid_ingest >= KILLS - 1
    done = subprocess.run(
        argv, env=node_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "rejected 0" in done.stdout
    assert snapshot(db) == expected and integrity(db) == "ok"


def test_node_killed_during_sync_loses_nothing_and_sync_resumes(tmp_path: Path) -> None:
    """a holds 8,000 messages of one author that b follows. b starts, dials a and catches up by
    sync; it is SIGKILLed in the middle, again and again. After each kill the database is intact
    and holds everything seen before the kill; after the last restart b holds every message."""
    rng = random.Random(11)
    with Cluster(tmp_path) as cluster:
        writer_key = nacl.signing.SigningKey(b"w" * 32)
        author = encode_public_key(bytes(writer_key.verify_key))
        messages = list(feed(writer_key, SYNC_MESSAGES, "synced"))
        with Store.open(cluster.home("a") / "pnyx.db") as store:
            for start in range(0, len(messages), 4000):
                store.ingest_verified(messages[start : start + 4000])
        cluster.cli("b", "follow", author)
        a = cluster.start("a")
        address = a.address
        db = cluster.home("b") / "pnyx.db"
        wanted = {m.id for m in messages}
        kills_mid_sync = 0
        for round_ in range(KILLS):
            held = len(snapshot(db) & wanted)
            b = cluster.spawn("b", "--bootstrap", address)
            seen = kill_when_growing(b.proc, db, count(db), rng)
            assert integrity(db) == "ok", f"round {round_}:\n{b.logs()}"
            after = snapshot(db)
            assert seen <= after, f"round {round_}: {len(seen - after)} committed messages lost"
            got = len(after & wanted)
            kills_mid_sync += held < got < len(wanted)
            print(f"sync round {round_}: {held} -> killed at {len(seen & wanted)} ({got} after)")
        assert kills_mid_sync >= KILLS // 2
        b = cluster.start("b", "--bootstrap", address)
        wait_until(
            lambda: len(snapshot(db) & wanted) == len(wanted),
            timeout=60,
            what="b resumes and holds every message",
        )
        assert b.stop() == 0
        assert integrity(db) == "ok"
        with Store.open(db, readonly=True) as store:
            assert store.heads([parse_public_key(author)]) == {
                parse_public_key(author): (SYNC_MESSAGES, SYNC_MESSAGES)
            }


def test_a_post_whose_id_was_printed_survives_kill_9_of_cli_and_node(tmp_path: Path) -> None:
    """`pnyx post` prints the id only after the durable commit. Killing the CLI the moment the id
    is printed, and the node running on the same home right after, loses none of the posts; the
    restarted node still publishes them to a follower."""
    with Cluster(tmp_path) as cluster:
        author = cluster.key("a")
        cluster.cli("c", "follow", author)
        c = cluster.start("c")
        a: NodeProcess = cluster.start("a", "--bootstrap", c.address)
        ids: list[str] = []
        for n in range(POSTS_KILLED):
            proc = subprocess.Popen(
                [sys.executable, "-m", "pnyx", "--home", str(a.home), "post", f"durable {n}"],
                env=node_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert proc.stdout is not None
            line = proc.stdout.readline().decode().strip()
            proc.send_signal(signal.SIGKILL)
            a.proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            a.proc.wait(10)
            assert len(line) == 64, line
            ids.append(line)
            assert integrity(a.home / "pnyx.db") == "ok"
            with Store.open(a.home / "pnyx.db", readonly=True) as store:
                assert all(store.get(bytes.fromhex(i)) is not None for i in ids)
            a = cluster.start("a", "--bootstrap", c.address)
        wait_until(
            lambda: {f"durable {n}" for n in range(POSTS_KILLED)} <= set(texts(c.home, author)),
            timeout=30,
            what="the follower gets every post written before a kill",
        )


def texts(home: Path, author: str) -> list[str]:
    with Store.open(home / "pnyx.db", readonly=True) as store:
        page = store.feed(parse_public_key(author), limit=100)
    return [s.message.text or "" for s in page.items]
