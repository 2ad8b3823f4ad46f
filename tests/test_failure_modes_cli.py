"""Local failures, seen from the command line: each gives one clear line and loses nothing.

A full disk and a read-only home are real file systems: a small tmpfs mounted for the test (and
remounted read-only). That needs root on Linux; elsewhere those tests are skipped with the reason.
(``chmod`` cannot make a directory read-only for root, so it is not used.) The locked database is
held by a second process. Library-level tests of the same failures live in test_store_errors.py
and test_crypto_keyfile.py; docs/security.md lists which test shows what.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nacl.signing
import pytest
import trio

from pnyx.clock import wall_clock_ms
from pnyx.core.bundle import BundleWriter
from pnyx.core.envelope import sign
from pnyx.store import Store
from tests.conftest import Cli
from tests.hostile import new_swarm
from tests.waiting import eventually

#: Size of the tmpfs that plays a full disk, in KiB (room for the store and a few dozen posts).
SMALL_DISK_KIB = 600
#: Text of each post that fills the disk, in bytes.
FILLER_BYTES = 1500


def _mount(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


@contextmanager
def tmpfs(path: Path, size_kib: int) -> Iterator[Path]:
    """A fresh tmpfs at ``path``; skips the test where mounting is not possible."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs (full disk, read-only home) needs root on Linux")
    path.mkdir()
    mounted = _mount(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(path)]
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        _mount(["umount", "-l", str(path)])


def remount(path: Path, options: str) -> None:
    result = _mount(["mount", "-o", f"remount,{options}", str(path)])
    assert result.returncode == 0, result.stderr


def one_line(text: str) -> str:
    assert text.count("\n") == 1 and "Traceback" not in text, text
    return text


def posts_in(home: Path) -> int:
    with Store.open(home / "pnyx.db", readonly=True) as store:
        return store.counts()["messages"]


def integrity(home: Path) -> str:
    conn = sqlite3.connect(home / "pnyx.db")
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def _fill(path: Path) -> None:
    """Write ``path`` until the file system is full (ENOSPC)."""
    with open(path, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass


def test_full_disk(tmp_path: Path, make_cli: type[Cli]) -> None:
    """Posting until the disk is full: the post that does not fit gets one line (exit 3) and is
    not stored; every earlier post is intact; import fails the same way; once there is room again
    everything works. ``pnyx init`` on a full disk leaves no half-written key file."""
    with tmpfs(tmp_path / "disk", SMALL_DISK_KIB) as disk:
        cli = make_cli(disk / "home")
        cli.ok("init")
        stored = 0
        for n in range(1000):
            result = cli("post", f"post {n} " + "x" * FILLER_BYTES)
            if result.code != 0:
                break
            stored += 1
        assert 10 < stored < 1000
        assert result.code == 3 and "cannot grow" in one_line(result.err)
        assert "full" in result.err
        assert posts_in(cli.home) == stored and integrity(cli.home) == "ok"
        export = tmp_path / "export.pnyx"
        cli.ok("export", str(export))
        _fill(disk / "filler")  # the store refuses a post with room left for a small file
        other = make_cli(disk / "other")
        refused = other("init")
        assert refused.code == 2 and "cannot write identity file" in one_line(refused.err)
        assert not (disk / "other" / "identity.key").exists()
        assert not [p for p in (disk / "other").iterdir() if p.name.startswith("identity")]
        imported = make_cli(disk / "home")("import", str(export))
        assert imported.code in (0, 1)  # everything is already there: nothing to write
        (disk / "filler").unlink()
        remount(disk, f"size={SMALL_DISK_KIB * 4}k")
        cli.ok("post", "there is room again")
        assert posts_in(cli.home) == stored + 1 and integrity(cli.home) == "ok"
        other.ok("init")


def test_full_disk_during_import(tmp_path: Path, make_cli: type[Cli]) -> None:
    """Importing more than fits: the batch that does not fit is rolled back with one line; the
    batches before it stay; importing again after space is freed completes the file."""
    export = tmp_path / "export.pnyx"
    writer = BundleWriter()
    signer = nacl.signing.SigningKey(b"i" * 32)
    with open(export, "wb") as out:
        out.write(writer.header())
        prev: bytes | None = None
        for n in range(1, 601):
            body = {"text": f"imported {n} " + "y" * 400}
            message = sign(signer, seq=n, prev=prev, ts=wall_clock_ms(), kind="post", body=body)
            prev = message.id
            out.write(writer.record(message.raw))
        out.write(writer.trailer())
    with tmpfs(tmp_path / "disk", SMALL_DISK_KIB) as disk:
        cli = make_cli(disk / "home")
        cli.ok("init")
        failed = cli("import", str(export))
        assert failed.code == 3 and "cannot grow" in one_line(failed.err)
        partial = posts_in(cli.home)
        assert partial < 600 and integrity(cli.home) == "ok"
        remount(disk, f"size={SMALL_DISK_KIB * 10}k")
        done = cli("import", str(export))
        assert done.code == 0, done.err
        assert f"accepted {600 - partial}, already known {partial}" in done.out
        assert posts_in(cli.home) == 600


def test_read_only_home(tmp_path: Path, make_cli: type[Cli]) -> None:
    with tmpfs(tmp_path / "disk", 4096) as disk:
        cli = make_cli(disk / "home")
        cli.ok("init")
        cli.ok("post", "written before")
        remount(disk, "ro")
        try:
            refused = cli("post", "cannot be written")
            assert refused.code == 3 and "Read-only file system" in one_line(refused.err)
            assert "written before" in cli.ok("timeline").out  # reading opens it read-only
            assert cli.ok("feed", cli.ok("id").out.strip(), "--json").out.count("\n") == 1
            assert cli.ok("id").out.startswith("pnyx1")
        finally:
            remount(disk, "rw")
        assert "written before" in cli.ok("timeline").out
        assert "cannot be written" not in cli.ok("timeline").out
        cli.ok("post", "writable again")
        assert posts_in(cli.home) == 2 and integrity(cli.home) == "ok"


def test_locked_database(tmp_path: Path, cli: Cli) -> None:
    """Another process holds the write lock longer than the busy timeout (5 s): the post fails
    with one line naming the lock and is not stored; reading works meanwhile; then all is well."""
    cli.ok("init")
    cli.ok("post", "before the lock")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(cli.home / 'pnyx.db')!r}, isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        blocked = cli("post", "while locked")
        assert blocked.code == 3 and "locked by another process" in one_line(blocked.err)
        assert time.monotonic() - started < 30
        assert "before the lock" in cli.ok("timeline").out  # WAL: readers are not blocked
    finally:
        holder.communicate("\n", timeout=10)
    cli.ok("post", "after the lock")
    timeline = cli.ok("timeline").out
    assert "after the lock" in timeline and "while locked" not in timeline


def test_missing_key_file(cli: Cli) -> None:
    cli.ok("init")
    cli.ok("post", "kept")
    (cli.home / "identity.key").unlink()
    result = cli("post", "no key")
    assert result.code == 2 and "pnyx init" in one_line(result.err)
    # not a first run (the home holds messages: a new identity would not be their author)
    run = cli("run", "--listen", "/ip4/127.0.0.1/tcp/0")
    assert run.code == 2 and "pnyx init" in one_line(run.err)
    assert posts_in(cli.home) == 1


@pytest.mark.parametrize(
    "damage",
    [b"", b"{ not json", b'{"format": "pnyx-identity", "version": 1}', b"\x00" * 5000],
    ids=["empty", "not-json", "fields-missing", "oversized"],
)
def test_damaged_key_file_stops_every_command_that_needs_it(cli: Cli, damage: bytes) -> None:
    cli.ok("init")
    cli.ok("post", "kept")
    (cli.home / "identity.key").write_bytes(damage)
    for argv in (("post", "x"), ("run", "--listen", "/ip4/127.0.0.1/tcp/0"), ("timeline",)):
        result = cli(*argv)
        assert result.code == 2 and "identity" in one_line(result.err), argv
    assert posts_in(cli.home) == 1


def test_key_file_readable_by_others(cli: Cli) -> None:
    cli.ok("init")
    key = cli.home / "identity.key"
    key.chmod(0o644)
    for argv in (("post", "x"), ("id",), ("run", "--listen", "/ip4/127.0.0.1/tcp/0")):
        result = cli(*argv)
        assert result.code == 2 and f"chmod 600 {key}" in one_line(result.err), argv
    key.chmod(0o600)
    cli.ok("post", "fixed")


def test_wrong_passphrase_for_the_node(tmp_path: Path, cli: Cli) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text("correct horse\n")
    bad.write_text("wrong horse\n")
    cli.ok("init", "--passphrase-file", str(good))
    cli.ok("post", "--passphrase-file", str(good), "kept")
    result = cli("run", "--passphrase-file", str(bad), "--listen", "/ip4/127.0.0.1/tcp/0")
    assert result.code == 2 and "passphrase" in one_line(result.err)
    assert posts_in(cli.home) == 1


async def test_a_running_node_with_a_full_disk_stays_up_and_catches_up_later(
    tmp_path: Path, autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """b's disk fills up (SQLite's max_page_count as the test's lever): a's post cannot be stored
    and b says so, without stopping. Once there is room, a's next post is stored and the one that
    was missed is fetched by catch-up sync (the gap shows in b's chain of a)."""
    caplog.set_level(logging.INFO, logger="pnyx")
    with trio.fail_after(120):
        async with new_swarm(tmp_path) as swarm:
            a, b = await swarm.add("a"), await swarm.add("b")
            await b.node.connect(a.network.listen_addrs()[0])
            b.follow(a)
            await b.node.refresh_interest()
            conn = b.store._conn
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
            a.post("lost to a full disk " + "z" * 3000)
            a.node.nudge()
            await eventually(
                lambda: any("could not store" in r.getMessage() for r in caplog.records),
                "b reports the failed write",
            )
            assert b.texts(a) == []
            conn.execute(f"PRAGMA max_page_count = {pages * 100}")
            a.post("after the disk was freed")
            a.node.nudge()
            await eventually(lambda: len(b.texts(a)) == 2, "b holds both posts")
            assert b.texts(a)[1].startswith("lost to a full disk")
