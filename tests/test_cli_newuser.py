"""The CLI as a new user found it (issue 12), through ``main(argv)`` or a real process: global
options anywhere, local limits exit 2, --json everywhere, paging, like/repost, refusals, relative
times and threads by depth, make run. Usage, help, completion and exit codes: test_cli_usage.py."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pnyx.cli import render
from pnyx.cli.main import main
from pnyx.core.display import fingerprint
from pnyx.crypto.keytext import parse_public_key
from tests.conftest import Cli, Result

WORKTREE = Path(__file__).resolve().parent.parent


def rows(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.lines]


# --- global options, user input and its limits -------------------------------------------------


def test_global_options_work_before_and_after_the_command(cli: Cli, tmp_path: Path) -> None:
    phrase = tmp_path / "phrase"
    phrase.write_text("correct horse\n")
    home = str(cli.home)
    out, err = io.StringIO(), io.StringIO()
    assert main(["--passphrase-file", str(phrase), "--home", home, "init"], out=out, err=err) == 0
    before = main(["--home", home, "--passphrase-file", str(phrase), "post", "x"], out=out, err=err)
    assert before == 0, err.getvalue()
    after = main(["post", "y", "--home", home, "--passphrase-file", str(phrase)], out=out, err=err)
    assert after == 0, err.getvalue()
    assert [r["text"] for r in rows(cli.ok("timeline", "--json"))] == ["y", "x"]


def test_user_input_over_a_limit_exits_2_naming_the_limit_and_stores_nothing(cli: Cli) -> None:
    cli.ok("init")
    post = cli.ok("post", "kept").out.strip()
    cases = [
        (("profile", "--name", "n" * 500), "the name is 500 bytes; the limit is 64 bytes of UTF-8"),
        (
            ("profile", "--bio", "b" * 2000),
            "the bio is 2000 bytes; the limit is 1024 bytes of UTF-8",
        ),
        (("post", "é" * 2049), "the post is 4098 bytes; the limit is 4096 bytes of UTF-8"),
        (("like", post, "--reaction", "r" * 33), "the reaction is 33 bytes; the limit is 32 bytes"),
        (("post", "a\udcffb"), "the post is not valid UTF-8"),
        (("profile", "--name", "\udcff"), "the name is not valid UTF-8"),
    ]
    for argv, message in cases:
        result = cli(*argv)
        assert result.code == 2, (argv, result)
        assert result.err.startswith(f"pnyx: {message}") and result.err.count("\n") == 1, result.err
    assert [r["kind"] for r in rows(cli.ok("feed", cli.ok("id").out.strip(), "--json"))] == ["post"]


def test_a_limit_the_cli_does_not_check_is_still_exit_2_not_4(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the CLI's own checks the envelope's InvalidMessage (a RemoteError) reaches the
    top: it is still the user's input, so exit 2, never 4 (bad data from peers)."""
    from pnyx.ops import write

    cli.ok("init")
    monkeypatch.setattr(write, "user_text", lambda value, *args, **kwargs: value, raising=False)
    result = cli("profile", "--name", "n" * 500)
    assert result.code == 2, result
    assert result.err.startswith("pnyx: this profile would be an invalid message (oversized:")
    assert result.err.count("\n") == 1


def test_invalid_utf8_on_standard_input_is_a_one_line_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.ok("init")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ok \xff\xfe bad")))
    result = cli("post", "-")
    assert result.code == 2
    assert result.err == (
        "pnyx: standard input is not valid UTF-8 (bad byte at offset 3); nothing was posted\n"
    )
    assert cli.ok("timeline", "--json").out == ""


# --- write commands: --json, like, repost, refusals ---------------------------------------------


def test_write_commands_print_the_new_message_as_json(cli: Cli, make_cli: type[Cli]) -> None:
    other = make_cli(cli.home.parent / "other")
    friend = other.ok("init").out.strip()
    cli.ok("init")
    me = cli.ok("id").out.strip()
    written = [
        cli.ok("post", "--json", "hello").out,
        cli.ok("follow", friend, "--json").out,
        cli.ok("profile", "--name", "Aspasia", "--json").out,
    ]
    post_id = json.loads(written[0])["id"]
    written.append(cli.ok("like", post_id, "--json").out)
    written.append(cli.ok("repost", post_id, "--json").out)
    written.append(cli.ok("delete", post_id, "--json").out)
    for text in written:
        assert text.count("\n") == 1
    feed = [json.loads(line) for line in reversed(cli.ok("feed", me, "--json").lines)]
    assert [r["kind"] for r in feed] == ["follow", "profile", "reaction", "repost", "delete"]
    by_id = {r["id"]: r for r in feed}  # the post itself is deleted, so no longer shown
    for text in written[2:]:  # written once the name was set: exactly as feed --json shows it
        assert json.loads(text) == by_id[json.loads(text)["id"]]
    assert json.loads(written[1])["key"] == friend and json.loads(written[2])["name"] == "Aspasia"
    assert feed[2]["target"] == post_id and feed[2]["reaction"] == "+"
    assert feed[3]["target"] == post_id and feed[3]["target_author"] == me
    assert feed[4]["target"] == post_id and json.loads(written[0])["text"] == "hello"
    shown = cli.ok("profile", "--json").out
    assert json.loads(shown) == {"key": me, "name": "Aspasia", "bio": None}


def test_like_and_repost_once_each(cli: Cli) -> None:
    cli.ok("init")
    post = cli.ok("post", "worth it").out.strip()
    cli.ok("like", post[:10])
    again = cli("like", post)
    assert again.code == 2
    assert again.err == f"pnyx: you already liked post {post[:12]}; nothing changed\n"
    cli.ok("like", post, "--reaction", "🦉")  # another reaction is another message
    cli.ok("repost", post)
    twice = cli("repost", post[:12])
    assert twice.code == 2 and "already reposted" in twice.err and twice.err.count("\n") == 1
    unknown = cli("like", "ab" * 32)
    assert unknown.code == 2 and unknown.err.count("\n") == 1
    shown = cli.ok("feed", cli.ok("id").out.strip()).out
    assert "likes pnyx1" in shown and f"'s post {post[:12]}" in shown
    assert "↻ reposted pnyx1" in shown and f"reacts 🦉 to {post[:12]}" in shown


def test_unlike_and_unrepost_take_back_once(cli: Cli) -> None:
    cli.ok("init")
    post = cli.ok("post", "second thoughts").out.strip()
    never = cli("unlike", post)
    assert never.code == 2
    assert never.err == f"pnyx: you have not liked post {post[:12]}; nothing changed\n"
    not_reposted = cli("unrepost", post[:10])
    assert not_reposted.code == 2
    assert not_reposted.err == f"pnyx: you have not reposted post {post[:12]}; nothing changed\n"
    cli.ok("like", post)
    cli.ok("repost", post)
    undone = json.loads(cli.ok("unlike", post[:10], "--json").out)
    assert undone["kind"] == "delete"
    assert cli.ok("unrepost", post).out.strip() != post
    assert cli("unlike", post).code == 2 and cli("unrepost", post).code == 2
    kinds = [r["kind"] for r in rows(cli.ok("feed", cli.ok("id").out.strip(), "--json"))]
    assert kinds.count("delete") == 2
    cli.ok("like", post)  # liking again after taking it back is allowed
    unknown = cli("unlike", "ab" * 32)
    assert unknown.code == 2 and unknown.err.count("\n") == 1


def test_second_delete_is_refused(cli: Cli) -> None:
    cli.ok("init")
    post = cli.ok("post", "oops").out.strip()
    cli.ok("delete", post)
    again = cli("delete", post[:10])
    assert again.code == 2
    assert again.err == f"pnyx: post {post[:12]} is already deleted; nothing changed\n"
    assert [r["kind"] for r in rows(cli.ok("feed", cli.ok("id").out.strip(), "--json"))] == [
        "delete",
    ]


def test_export_never_overwrites_without_force(cli: Cli, tmp_path: Path) -> None:
    cli.ok("init")
    cli.ok("post", "carried")
    target = tmp_path / "precious.txt"
    target.write_text("not a bundle")
    refused = cli("export", str(target))
    assert refused.code == 2 and "--force" in refused.err and refused.err.count("\n") == 1
    assert target.read_text() == "not a bundle"
    cli.ok("export", str(target), "--force")
    assert target.read_bytes() != b"not a bundle"


# --- reading: paging, relative times, threads ---------------------------------------------------


def test_json_paging_reaches_everything_through_next_cursor(cli: Cli) -> None:
    cli.ok("init")
    posted = [cli.ok("post", f"post {n}").out.strip() for n in range(5)]
    seen: list[str] = []
    cursor: list[str] = []
    for _ in range(5):
        lines = rows(cli.ok("timeline", "--json", "--limit", "2", *cursor))
        messages = [line for line in lines if "id" in line]
        seen += [m["id"] for m in messages]
        if "next_cursor" not in lines[-1]:
            break
        assert list(lines[-1]) == ["next_cursor"]
        cursor = ["--before", lines[-1]["next_cursor"]]
    assert seen == list(reversed(posted))
    whole = rows(cli.ok("timeline", "--json"))  # one page: only messages, as before
    assert [r["id"] for r in whole] == seen
    feed = rows(cli.ok("feed", cli.ok("id").out.strip(), "--json", "--limit", "4"))
    assert len(feed) == 5 and "next_cursor" in feed[-1]


def test_times_are_relative() -> None:
    now = 1_800_000_000_000
    minute, hour, day = 60_000, 3_600_000, 86_400_000
    assert render.when(now - 5_000, now) == "just now"
    assert render.when(now - 3 * minute, now) == "3 min ago"
    assert render.when(now - 5 * hour - 10 * minute, now) == "5 h ago"
    assert render.when(now - day, now) == "1 day ago"
    assert render.when(now - 6 * day, now) == "6 days ago"
    assert render.when(now - 8 * day, now).startswith("2027-01-")  # older: the date
    assert render.when(now + hour, now)[:4] == "2027"  # ahead of this clock: the date


def test_human_timeline_says_just_now(cli: Cli) -> None:
    cli.ok("init")
    cli.ok("post", "fresh")
    assert " · just now · " in cli.ok("timeline").out


def test_thread_is_indented_by_depth_with_the_parents_author(cli: Cli) -> None:
    cli.ok("init")
    cli.ok("profile", "--name", "Aspasia")
    root = cli.ok("post", "a question").out.strip()
    reply = cli.ok("post", "--reply-to", root, "an answer").out.strip()
    deeper = cli.ok("post", "--reply-to", reply, "a follow-up").out.strip()
    later = cli.ok("post", "--reply-to", root, "another answer").out.strip()
    me = fingerprint(parse_public_key(cli.ok("id").out.strip()))
    headers = [line for line in cli.ok("thread", later).lines if " · " in line]
    assert headers == [
        f"Aspasia ({me}) · just now · {root[:12]}",
        f"  Aspasia ({me}) · just now · {reply[:12]}",
        f"    Aspasia ({me}) · just now · {deeper[:12]}",
        f"  Aspasia ({me}) · just now · {later[:12]}",
    ]
    out = cli.ok("thread", root).out
    assert f"  │ ↳ reply to Aspasia ({me}) ({root[:12]}): an answer" in out
    assert f"    │ ↳ reply to Aspasia ({me}) ({reply[:12]}): a follow-up" in out
    assert [r["id"] for r in rows(cli.ok("thread", root, "--json"))] == [
        root,
        reply,
        deeper,
        later,
    ]


# --- make run -----------------------------------------------------------------------------------


def test_make_run_installs_only_the_runtime() -> None:
    def planned(target: str) -> str:
        done = subprocess.run(
            ["make", "-n", "-B", target],
            cwd=WORKTREE,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    run = planned("run")
    assert "-c constraints.txt -e ." in run and "[dev]" not in run
    assert "touch .venv/.installed-run" in run
    assert "pnyx run" in run and "pnyx init" not in run  # the browser creates the identity
    assert "'.[dev]'" in planned("lint") and "'.[dev]'" in planned("test")


def test_init_if_missing_never_waits_for_a_passphrase_without_a_terminal(tmp_path: Path) -> None:
    """stdin a pipe that stays open: a prompt would block until the timeout."""
    command = [sys.executable, "-m", "pnyx", "--home", str(tmp_path / "h"), "init", "--if-missing"]
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        status = proc.wait(timeout=60)  # stdin stays open: no EOF to end a prompt
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdin is not None
        proc.stdin.close()
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    assert status == 0 and out.startswith("pnyx1") and "not encrypted" in err
