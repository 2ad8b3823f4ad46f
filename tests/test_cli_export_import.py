"""Two homes exchange posts with no network, through ``pnyx export`` and ``pnyx import``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Cli


@pytest.fixture
def pair(make_cli: type[Cli], tmp_path: Path) -> tuple[Cli, Cli, str]:
    alice, bob = make_cli(tmp_path / "alice"), make_cli(tmp_path / "bob")
    alice_key = alice.ok("init").out.strip()
    bob.ok("init")
    for text in ("first", "second", "third"):
        alice.ok("post", text)
    bob.ok("follow", alice_key)
    return alice, bob, alice_key


def _texts(cli: Cli) -> list[str]:
    return [json.loads(line)["text"] for line in cli.ok("timeline", "--json").lines]


def _message_count(cli: Cli) -> int:
    with sqlite3.connect(cli.home / "pnyx.db") as db:
        (count,) = db.execute("SELECT count(*) FROM messages").fetchone()
    return int(count)


def test_posts_travel_by_file(pair: tuple[Cli, Cli, str], tmp_path: Path) -> None:
    alice, bob, alice_key = pair
    bundle = tmp_path / "alice.pnyx"
    alice.ok("export", str(bundle), "--author", alice_key)
    first = bob.ok("import", str(bundle))
    assert first.lines[0] == "accepted 3, already known 0, rejected 0"
    assert _texts(bob) == ["third", "second", "first"]
    again = bob.ok("import", str(bundle))
    assert again.lines[0] == "accepted 0, already known 3, rejected 0"


def test_export_of_everything_round_trips_through_a_third_home(
    pair: tuple[Cli, Cli, str], make_cli: type[Cli], tmp_path: Path
) -> None:
    alice, bob, _alice_key = pair
    carrier = make_cli(tmp_path / "carrier")
    carrier.ok("init")
    alice.ok("export", str(tmp_path / "a.pnyx"))
    carrier.ok("import", str(tmp_path / "a.pnyx"))
    carrier.ok("export", str(tmp_path / "relay.pnyx"))  # store-and-forward by hand
    assert bob.ok("import", str(tmp_path / "relay.pnyx")).lines[0].startswith("accepted 3")
    assert _texts(bob) == ["third", "second", "first"]


def test_tampered_message_is_rejected_with_its_reason(
    pair: tuple[Cli, Cli, str], tmp_path: Path
) -> None:
    alice, bob, alice_key = pair
    bundle = tmp_path / "alice.pnyx"
    alice.ok("export", str(bundle), "--author", alice_key)
    data = bytearray(bundle.read_bytes())
    position = data.index(b"second")
    data[position] ^= 0x20  # "Second": the signature no longer covers these bytes
    bundle.write_bytes(bytes(data))
    before = _message_count(bob)
    result = bob("import", str(bundle))
    assert result.code == 1
    assert result.lines[0] == "accepted 2, already known 0, rejected 1"
    assert "bad-signature" in result.out
    assert "checksum does not match" in result.err and result.err.count("\n") == 1
    assert _message_count(bob) == before + 2
    assert _texts(bob) == ["third", "first"]


def test_truncated_file_imports_what_is_intact_and_says_where(
    pair: tuple[Cli, Cli, str], tmp_path: Path
) -> None:
    alice, bob, alice_key = pair
    bundle = tmp_path / "alice.pnyx"
    alice.ok("export", str(bundle), "--author", alice_key)
    data = bundle.read_bytes()
    bundle.write_bytes(data[: len(data) - 60])  # cut inside the last message
    result = bob("import", str(bundle))
    assert result.code == 1
    assert result.lines[0] == "accepted 2, already known 0, rejected 0"
    assert "damaged at byte" in result.err and "ends inside record 3" in result.err
    assert _texts(bob) == ["second", "first"]


def test_not_an_export_file_changes_nothing(pair: tuple[Cli, Cli, str], tmp_path: Path) -> None:
    _, bob, _ = pair
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    before = _message_count(bob)
    result = bob("import", str(junk))
    assert result.code == 1 and "not a pnyx export file" in result.err
    assert _message_count(bob) == before
    missing = bob("import", str(tmp_path / "nope"))
    assert missing.code == 2 and missing.err.count("\n") == 1
    with sqlite3.connect(bob.home / "pnyx.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_an_import_places_records_by_author_and_seq_not_file_order(
    make_cli: type[Cli], tmp_path: Path
) -> None:
    """issue 24: seqs 1, 100002, 2 in that file order were "1 rejected (seq-too-far)" (placed
    in file order, 100002 came while the head was 1); sorted, all three are stored."""
    from pnyx.core.bundle import BundleWriter
    from pnyx.core.envelope import sign
    from tests.hostile import key, now_ms

    author = key(77)
    first = sign(author, seq=1, prev=None, ts=now_ms(), kind="post", body={"text": "1"})
    second = sign(author, seq=2, prev=first.id, ts=now_ms(), kind="post", body={"text": "2"})
    far = sign(author, seq=100_002, prev=b"\x22" * 32, ts=now_ms(), kind="post", body={"text": "f"})
    writer = BundleWriter()
    data = writer.header() + b"".join(writer.record(m.raw) for m in (first, far, second))
    bundle = tmp_path / "unsorted.pnyx"
    bundle.write_bytes(data + writer.trailer())
    cli = make_cli(tmp_path / "home")
    cli.ok("init")
    out = cli.ok("import", str(bundle)).out
    assert "accepted 3" in out and "rejected 0" in out, out
