"""``pnyx invite`` and ``pnyx accept`` offline: an invite from the configured addresses, and an
accept that follows the key and writes the peer book (no node running, no sockets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pnyx.cli import cmd_invite
from pnyx.crypto.invite import Invite, encode_invite, parse_invite, peer_id_of_key
from pnyx.crypto.keytext import parse_public_key
from pnyx.discovery.peerbook import PEERBOOK_FILE, PeerBook
from tests.conftest import Cli

PORT = 47171
PEER = peer_id_of_key(bytes(range(32)))


def _configure(home: Path, *listen: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    addresses = ", ".join(f'"{a}"' for a in listen)
    (home / "config.toml").write_text(f"[node]\nlisten = [{addresses}]\n", encoding="utf-8")


def test_invite_without_a_node_uses_the_configured_addresses(cli: Cli) -> None:
    key = parse_public_key(cli.ok("init").out.strip())
    _configure(cli.home, f"/ip4/127.0.0.1/tcp/{PORT}")
    result = cli.ok("invite", "--name", "alice")
    text = result.lines[0]
    assert len(result.lines) == 1  # not a terminal: no QR code
    invite = parse_invite(text)
    peer = peer_id_of_key(key)  # node_key "identity": the user's key is the node's
    assert invite == Invite(key, "alice", (f"/ip4/127.0.0.1/tcp/{PORT}/p2p/{peer}",))
    assert "no node is running" in result.err and "until it runs" in result.err
    assert "goes stale" in result.err and "DHT" in result.err
    record = json.loads(cli.ok("invite", "--json").out)
    assert record["node_running"] is False and record["address_kind"] == "loopback"
    assert parse_invite(record["invite"]).petname is None


def test_invite_shows_unspecified_listen_addresses_as_this_machines(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.ok("init")
    _configure(cli.home, f"/ip4/0.0.0.0/tcp/{PORT}")
    monkeypatch.setattr(cmd_invite, "_local_ipv4", lambda: ["192.168.1.20"])
    record = json.loads(cli.ok("invite", "--json").out)
    assert record["address_kind"] == "private"
    assert [a.split("/p2p/")[0] for a in record["addresses"]] == [f"/ip4/192.168.1.20/tcp/{PORT}"]


def test_invite_refuses_a_bad_petname(cli: Cli) -> None:
    cli.ok("init")
    for name, reason in (("x" * 65, "65 bytes"), ("  ", "empty")):
        result = cli("invite", "--name", name)
        assert result.code == 2 and reason in result.err and result.err.count("\n") == 1


def test_qr_code_is_plain_blocks_drawing_segnos_matrix() -> None:
    import segno

    text = encode_invite(Invite(bytes(32), "a", (f"/ip4/127.0.0.1/tcp/{PORT}/p2p/{PEER}",)))
    rows = cmd_invite.qr_lines(text)
    assert len({len(row) for row in rows}) == 1 and len(rows) >= 10
    assert set("".join(rows)) <= set("█▀▄ ")
    light = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}
    drawn = [[light[c][half] for c in row] for row in rows for half in (0, 1)]
    code = segno.make(text.upper(), error=cmd_invite.QR_ERROR, micro=False)
    matrix = [[not dark for dark in row] for row in code.matrix_iter(border=cmd_invite.QR_BORDER)]
    assert drawn[: len(matrix)] == matrix  # light modules are blocks, dark ones spaces
    assert code.mode == "alphanumeric"


def test_accept_follows_and_stores_the_addresses(make_cli: type[Cli], tmp_path: Path) -> None:
    alice, bob = make_cli(tmp_path / "alice"), make_cli(tmp_path / "bob")
    alice_key = alice.ok("init").out.strip()
    bob.ok("init")
    _configure(alice.home, f"/ip4/127.0.0.1/tcp/{PORT}")
    text = alice.ok("invite", "--name", "Al\x1b[31mice").lines[0]
    result = bob.ok("accept", text, "--yes")
    assert f"invite from {alice_key}" in result.out
    assert "\x1b" not in result.out and "\\u001b" in result.out  # the petname is escaped
    assert f"following {alice_key}" in result.out
    assert "stored 1 address(es) in the peer book" in result.out
    assert "no node is running" in result.out
    assert alice_key in bob.ok("following").out
    peer = peer_id_of_key(parse_public_key(alice_key))
    with PeerBook.open(bob.home / PEERBOOK_FILE) as book:
        (record,) = book.load()
    assert record.peer_id == peer and record.source == "manual"
    assert record.addresses == (f"/ip4/127.0.0.1/tcp/{PORT}/p2p/{peer}",)
    again = json.loads(bob.ok("accept", text, "--yes", "--json").out)
    assert again["followed"] is False and again["peerbook_peers"] == 1
    assert again["node_running"] is False and again["connected"] is None


def test_accept_off_a_terminal_needs_yes(make_cli: type[Cli], tmp_path: Path) -> None:
    alice, bob = make_cli(tmp_path / "alice"), make_cli(tmp_path / "bob")
    alice.ok("init")
    bob.ok("init")
    _configure(alice.home, f"/ip4/127.0.0.1/tcp/{PORT}")
    text = alice.ok("invite").lines[0]
    result = bob("accept", text)
    assert result.code == 2 and "--yes" in result.err and result.err.count("\n") == 1
    assert bob.ok("following", "--json").out == ""
    assert not (bob.home / PEERBOOK_FILE).exists()


def test_accept_refuses_your_own_invite_and_bad_text(cli: Cli) -> None:
    cli.ok("init")
    _configure(cli.home, f"/ip4/127.0.0.1/tcp/{PORT}")
    text = cli.ok("invite").lines[0]
    own = cli("accept", text, "--yes")
    assert own.code == 2 and "your own invite" in own.err
    bad = cli("accept", text[:-1] + ("q" if text[-1] != "q" else "p"), "--yes")
    assert bad.code == 2 and "checksum" in bad.err and bad.err.count("\n") == 1
    key = cli("accept", cli.ok("id").out.strip(), "--yes")
    assert key.code == 2 and "this is a key, not an invite" in key.err


def test_peer_id_of_key_matches_libp2p() -> None:
    from pnyx.gossip.identity import peer_id_of_public_key

    for key in (bytes(32), bytes(range(32)), bytes([255] * 32)):
        assert peer_id_of_key(key) == peer_id_of_public_key(key)


def test_accept_asks_on_a_terminal(
    make_cli: type[Cli], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = make_cli(tmp_path / "alice"), make_cli(tmp_path / "bob")
    alice_key = alice.ok("init").out.strip()
    bob.ok("init")
    _configure(alice.home, f"/ip4/127.0.0.1/tcp/{PORT}")
    text = json.loads(alice.ok("invite", "--json").out)["invite"]
    monkeypatch.setattr(cmd_invite, "is_terminal", lambda stream: True)
    declined = bob("accept", text, stdin="n\n")
    assert declined.code == 1 and "nothing changed" in declined.out
    assert f"follow {alice_key}? [y/N] " in declined.err
    assert bob("accept", text, stdin="").code == 1  # end of input: no
    assert json.loads(bob("accept", text, "--json", stdin="no\n").out)["accepted"] is False
    assert bob.ok("following", "--json").out == ""
    assert f"following {alice_key}" in bob.ok("accept", text, stdin="y\n").out
    assert alice_key in bob.ok("following").out


def test_accept_marks_a_petname_that_looks_like_a_known_name(
    make_cli: type[Cli], tmp_path: Path
) -> None:
    mallory, bob = make_cli(tmp_path / "mallory"), make_cli(tmp_path / "bob")
    mallory.ok("init")
    bob.ok("init")
    bob.ok("profile", "--name", "Bob")
    _configure(mallory.home, f"/ip4/127.0.0.1/tcp/{PORT}")
    text = mallory.ok("invite", "--name", "B\u043eb").lines[0]  # a Cyrillic o
    shown = bob("accept", text).out  # refused off a terminal, after showing who it is
    assert '(calls themselves "B\u043eb" [look-alike of Bob (pnyx1' in shown


def test_invite_with_a_separate_node_key_never_run_holds_no_address(cli: Cli) -> None:
    cli.ok("init")
    (cli.home / "config.toml").write_text('[node]\nnode_key = "separate"\n', encoding="utf-8")
    record = json.loads(cli.ok("invite", "--json").out)
    assert record["addresses"] == [] and record["address_kind"] == "none"
    assert not (cli.home / "node.key").exists()
