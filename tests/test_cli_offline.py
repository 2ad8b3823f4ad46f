"""The offline CLI through ``main(argv)``: identity, posting, reading, and every user mistake."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import Cli


def test_init_creates_an_owner_only_key_and_id_prints_it(cli: Cli) -> None:
    created = cli.ok("init")
    key_text = created.out.strip()
    assert key_text.startswith("pnyx1") and len(created.lines) == 1
    mode = stat.S_IMODE(os.stat(cli.home / "identity.key").st_mode)
    assert mode == 0o600
    assert cli.ok("id").lines == [key_text]


def test_init_refuses_to_overwrite_an_identity(cli: Cli) -> None:
    first = cli.ok("init").out
    again = cli("init")
    assert again.code == 2
    assert again.err.count("\n") == 1 and "already exists" in again.err
    assert "Traceback" not in again.err
    assert cli.ok("init", "--if-missing").out == ""
    assert cli.ok("id").out == first


def test_commands_without_identity_say_so_in_one_line(cli: Cli) -> None:
    for argv in (("id",), ("post", "hi"), ("timeline",)):
        result = cli(*argv)
        assert result.code == 2, argv
        assert "pnyx init" in result.err and result.err.count("\n") == 1, result.err


def test_post_then_timeline_readable_and_json(cli: Cli) -> None:
    cli.ok("init")
    post_id = cli.ok("post", "hello, agora").out.strip()
    assert len(post_id) == 64 and int(post_id, 16) >= 0
    assert "hello, agora" in cli.ok("timeline").out
    rows = [json.loads(line) for line in cli.ok("timeline", "--json").lines]
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == post_id and row["kind"] == "post" and row["text"] == "hello, agora"
    assert row["seq"] == 1 and row["author"] == cli.ok("id").out.strip()
    assert isinstance(row["ts"], int) and row["ts"] > 1_700_000_000_000


def test_post_reads_standard_input_with_dash(cli: Cli) -> None:
    cli.ok("init")
    cli.ok("post", "-", stdin="line one\nline two\n")
    rows = [json.loads(line) for line in cli.ok("timeline", "--json").lines]
    assert rows[0]["text"] == "line one\nline two"


def test_post_that_is_too_long_or_empty_is_refused_and_nothing_is_stored(cli: Cli) -> None:
    cli.ok("init")
    too_long = cli("post", "x" * 5000)
    assert too_long.code == 2 and "limit is 4096" in too_long.err
    assert cli("post", "   ").code == 2
    assert cli.ok("timeline", "--json").out == ""


def test_reply_and_thread(cli: Cli) -> None:
    cli.ok("init")
    root = cli.ok("post", "a question").out.strip()
    reply = cli.ok("post", "--reply-to", root[:10], "an answer").out.strip()
    nested = cli.ok("post", "--reply-to", reply, "a follow-up").out.strip()
    rows = [json.loads(line) for line in cli.ok("thread", nested[:12], "--json").lines]
    assert [r["id"] for r in rows] == [root, reply, nested]
    assert rows[2]["root"] == root and rows[2]["parent"] == reply
    unknown = cli("post", "--reply-to", "ab" * 8, "to nothing")  # a full id is allowed (issue 24)
    assert unknown.code == 2 and unknown.err.count("\n") == 1


def test_delete_hides_a_post(cli: Cli) -> None:
    cli.ok("init")
    keep = cli.ok("post", "keep me").out.strip()
    gone = cli.ok("post", "regrettable").out.strip()
    cli.ok("delete", gone)
    ids = [json.loads(line)["id"] for line in cli.ok("timeline", "--json").lines]
    assert ids == [keep]


def test_follow_unfollow_and_following(cli: Cli, make_cli: type[Cli], tmp_path: Path) -> None:
    other = make_cli(tmp_path / "other")
    other_key = other.ok("init").out.strip()
    cli.ok("init")
    cli.ok("follow", other_key)
    assert cli.ok("following").lines == [other_key]
    again = cli.ok("follow", other_key)
    assert "already follow" in again.err
    cli.ok("unfollow", other_key)
    assert cli.ok("following").out == ""


def test_mistyped_key_gets_one_line_and_changes_nothing(
    cli: Cli, make_cli: type[Cli], tmp_path: Path
) -> None:
    key = make_cli(tmp_path / "other").ok("init").out.strip()
    cli.ok("init")
    typo = key[:-3] + ("q" if key[-3] != "q" else "p") + key[-2:]
    result = cli("follow", typo)
    assert result.code == 2 and result.err.count("\n") == 1 and "checksum" in result.err
    assert cli("follow", "not-a-key").code == 2
    assert cli.ok("following").out == ""


def test_profile_set_and_show(cli: Cli) -> None:
    cli.ok("init")
    cli.ok("profile", "--name", "Aspasia", "--bio", "rhetoric")
    cli.ok("profile", "--bio", "teacher")
    shown = cli.ok("profile").out
    assert "Aspasia" in shown and "teacher" in shown
    assert "Aspasia" in cli.ok("timeline").out or cli.ok("timeline").code == 0


def test_encrypted_identity_needs_the_right_passphrase(
    cli: Cli, tmp_path: Path, monkeypatch: object
) -> None:
    good = tmp_path / "good"
    good.write_text("correct horse\n")
    bad = tmp_path / "bad"
    bad.write_text("wrong horse\n")
    cli.ok("init", "--passphrase-file", str(good))
    assert "argon2id" in (cli.home / "identity.key").read_text()
    cli.ok("id")  # the public key needs no passphrase
    wrong = cli("post", "--passphrase-file", str(bad), "hi")
    assert wrong.code == 2 and "passphrase" in wrong.err and wrong.err.count("\n") == 1
    missing = cli("post", "hi")
    assert missing.code == 2 and "encrypted" in missing.err
    cli.ok("post", "--passphrase-file", str(good), "hi")
    assert cli.ok("timeline", "--json").out.count("\n") == 1


def test_damaged_key_file_gives_one_line(cli: Cli) -> None:
    cli.ok("init")
    (cli.home / "identity.key").write_text("{ not json")
    result = cli("post", "hi")
    assert result.code == 2 and result.err.count("\n") == 1 and "Traceback" not in result.err


def test_unknown_command_and_bad_option_exit_2_without_traceback(cli: Cli) -> None:
    assert cli("frobnicate").code == 2
    result = cli("timeline", "--limit", "0")
    assert result.code == 2 and "Traceback" not in result.err


def test_offline_commands_do_not_import_libp2p(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = (
        "import sys\n"
        "from pnyx.cli.main import main\n"
        f"for argv in (['init'], ['post', 'hi'], ['timeline'], ['id']):\n"
        f"    assert main(['--home', {str(home)!r}, *argv]) == 0, argv\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('libp2p', 'trio'))\n"
        "print(leaked)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
