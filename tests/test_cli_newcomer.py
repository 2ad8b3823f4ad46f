"""A newcomer's first hour (issue 24, "The newcomer"): the README's commands after ``make run``,
reposts in the timeline, threads that cannot be opened, network errors in words, ``--json`` on
every command that prints, and the small words (plurals, short keys, did-you-mean, packaging)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pnyx.cli.main import build_parser, unknown_command
from pnyx.core.display import plural
from tests.conftest import Cli, Result

WORKTREE = Path(__file__).resolve().parent.parent


def rows(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.lines]


def _commands() -> list[str]:
    parser = build_parser()
    assert parser._subparsers is not None
    return sorted(parser._subparsers._group_actions[0].choices or {})


# --- small words -------------------------------------------------------------------------------


@pytest.mark.parametrize("typo", ["quiz", "donate", "web", "xyzzy"])
def test_did_you_mean_suggests_nothing_far_from_every_command(typo: str) -> None:
    assert "did you mean" not in unknown_command(typo, _commands())


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("psot", "post"), ("folow", "follow"), ("rpost", "repost"), ("improt", "import"),
     ("stat", "status"), ("tread", "thread")],
)  # fmt: skip
def test_did_you_mean_still_catches_typos(typo: str, meant: str) -> None:
    assert unknown_command(typo, _commands()).endswith(f"did you mean {meant!r}?")


def test_a_too_short_key_is_called_too_short(cli: Cli) -> None:
    cli.ok("init")
    result = cli("follow", "pnyx1zzz")
    assert result.code == 2
    assert result.err == "pnyx: too short to be a key: pnyx1... text is 63 characters\n"


def test_counts_agree_with_their_nouns() -> None:
    assert f"following 1 {plural(1, 'author')}" == "following 1 author"
    assert f"following 0 {plural(0, 'author')}" == "following 0 authors"
    assert plural(2, "reply", "replies") == "replies"


def test_the_license_is_an_spdx_string() -> None:
    """setuptools >= 77 warns four times about ``license = { text = ... }`` (a table)."""
    import tomllib

    project = tomllib.loads((WORKTREE / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]


# --- pnyx on the PATH after make run -----------------------------------------------------------


def _fake_venv(tmp_path: Path) -> Path:
    """A venv as `make run` leaves it (stamp newer than pyproject.toml), whose pnyx echoes."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    pnyx = venv / "bin" / "pnyx"
    pnyx.write_text('#!/bin/sh\necho "pnyx ran: $*"\n')
    pnyx.chmod(0o755)
    (venv / ".installed-run").touch()
    return venv


def _make_path(tmp_path: Path, venv: Path, *extra: str, path: str = "/usr/bin:/bin") -> Result:
    import subprocess

    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"HOME": str(home), "PATH": path, "CI": "true"}
    done = subprocess.run(
        ["make", "--no-print-directory", "path", f"VENV={venv}", *extra],
        cwd=WORKTREE,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def test_make_run_says_how_to_put_pnyx_on_the_path_and_changes_nothing(tmp_path: Path) -> None:
    venv = _fake_venv(tmp_path)
    told = _make_path(tmp_path, venv)
    assert told.code == 0, told.err
    assert f'export PATH="{venv}/bin:$PATH"' in told.out
    assert "make path SHIM=yes" in told.out
    assert not (tmp_path / "home" / ".local").exists()  # never without consent


def test_make_path_shim_yes_links_pnyx_in_local_bin(tmp_path: Path) -> None:
    import subprocess

    venv = _fake_venv(tmp_path)
    linked = _make_path(tmp_path, venv, "SHIM=yes")
    shim = tmp_path / "home" / ".local" / "bin" / "pnyx"
    assert linked.code == 0, linked.err
    assert shim.is_symlink() and shim.resolve() == (venv / "bin" / "pnyx").resolve()
    assert f"linked {shim}" in linked.out and "is not on your PATH; add it" in linked.out
    # The README's commands, as written, in a shell whose PATH holds ~/.local/bin:
    path = f"{shim.parent}:/usr/bin:/bin"
    ran = subprocess.run(
        ["sh", "-c", "pnyx id"], env={"PATH": path}, capture_output=True, text=True, check=True
    )
    assert ran.stdout == "pnyx ran: id\n"
    assert _make_path(tmp_path, venv, path=path).out == ""  # on the PATH now: nothing to say


def test_make_path_never_replaces_a_file_that_is_not_its_link(tmp_path: Path) -> None:
    venv = _fake_venv(tmp_path)
    mine = tmp_path / "home" / ".local" / "bin" / "pnyx"
    mine.parent.mkdir(parents=True)
    mine.write_text("someone else's\n")
    kept = _make_path(tmp_path, venv, "SHIM=yes")
    assert kept.code == 0 and "exists and is not a link; left alone" in kept.out
    assert mine.read_text() == "someone else's\n"


def test_make_run_runs_the_path_step_before_starting() -> None:
    import subprocess

    plan = subprocess.run(
        ["make", "-n", "run"], cwd=WORKTREE, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert plan.index("tools/pnyx_on_path.sh") < plan.index("pnyx run")


# --- threads you cannot open -------------------------------------------------------------------

UNKNOWN = "ab" * 32


def test_thread_of_a_deleted_post_says_its_author_deleted_it(cli: Cli) -> None:
    cli.ok("init")
    post = cli.ok("post", "regretted").out.strip()
    cli.ok("delete", post)
    gone = cli("thread", post)
    assert gone.code == 1 and gone.out == ""
    assert gone.err == f"pnyx: post {post[:12]} was deleted by its author\n"
    assert cli("thread", post, "--json").code == 1


def test_thread_of_a_deleted_reply_still_shows_the_rest(cli: Cli) -> None:
    cli.ok("init")
    root = cli.ok("post", "question").out.strip()
    reply = cli.ok("post", "--reply-to", root, "oops").out.strip()
    cli.ok("delete", reply)
    shown = cli("thread", reply)
    assert shown.code == 1 and "question" in shown.out and "oops" not in shown.out
    assert "was deleted by its author; the rest of its thread held here follows" in shown.err


def test_thread_of_a_post_not_held_says_how_to_get_it(cli: Cli) -> None:
    cli.ok("init")
    missing = cli("thread", UNKNOWN)
    assert missing.code == 1 and missing.out == ""
    assert f"post {UNKNOWN} is not held here" in missing.err
    assert "pnyx sync ADDRESS" in missing.err and len(missing.err.splitlines()) == 1


def test_a_reply_to_a_post_known_only_by_its_full_id(cli: Cli) -> None:
    cli.ok("init")
    reply = rows(cli.ok("post", "--reply-to", UNKNOWN.upper(), "I heard", "--json"))[0]
    assert reply["root"] == reply["parent"] == UNKNOWN  # protocol: a reply to a first post
    thread = rows(cli.ok("thread", reply["id"], "--json"))
    assert [r["text"] for r in thread] == ["I heard"]
    prefix = cli("post", "--reply-to", UNKNOWN[:12], "x")
    assert prefix.code == 2 and "give its full 64-character id" in prefix.err


def test_a_reply_to_a_held_message_that_is_not_a_post_is_refused(cli: Cli) -> None:
    cli.ok("init")
    post = cli.ok("post", "p").out.strip()
    like = cli.ok("like", post).out.strip()
    refused = cli("post", "--reply-to", like, "x")
    assert refused.code == 2 and f"no post {like}" in refused.err


# --- reposts reach the timeline ----------------------------------------------------------------


def _transfer(source: Cli, target: Cli, tmp_path: Path, author: str, name: str) -> None:
    path = tmp_path / f"{name}.pnyx"
    source.ok("export", str(path), "--author", author, "--force")
    target.ok("import", str(path))


def test_reposts_reach_the_timeline_with_the_original(make_cli: type[Cli], tmp_path: Path) -> None:
    alice, bob, carol = (make_cli(tmp_path / n) for n in ("alice", "bob", "carol"))
    a, b = (who.ok("init").out.strip() for who in (alice, bob))
    carol.ok("init")
    alice.ok("profile", "--name", "Alice")
    original = alice.ok("post", "olives are ripe").out.strip()
    _transfer(alice, bob, tmp_path, a, "a1")
    bob.ok("profile", "--name", "Bob")
    repost = bob.ok("repost", original).out.strip()
    carol.ok("follow", b)
    _transfer(bob, carol, tmp_path, b, "b1")

    # Not held here: said so, with the full id, in text and JSON.
    text = carol.ok("timeline").out
    assert text.startswith("↻ Bob (") and " reposted · " in text
    assert f"a post not held here (id {original}); it arrives when" in text
    missing = [r for r in rows(carol.ok("timeline", "--json")) if r["kind"] == "repost"]
    assert missing[0]["reposted"] is None and missing[0]["reposted_state"] == "not-held"
    assert missing[0]["id"] == repost and missing[0]["target"] == original  # fields kept

    # Held: "↻ Bob reposted", then Alice's post with its header and text.
    _transfer(alice, carol, tmp_path, a, "a2")
    lines = carol.ok("timeline").lines
    assert lines[0].startswith("↻ Bob (") and lines[0].endswith(repost[:12])
    assert lines[1].startswith("Alice (") and lines[1].endswith(original[:12])
    assert lines[2] == "│ olives are ripe"
    shown = next(r for r in rows(carol.ok("timeline", "--json")) if r["kind"] == "repost")
    assert shown["reposted_state"] == "held"
    assert shown["reposted"]["id"] == original and shown["reposted"]["text"] == "olives are ripe"
    assert shown["reposted"]["name"] == "Alice"

    # Deleted by its author: said so.
    alice.ok("delete", original)
    _transfer(alice, carol, tmp_path, a, "a3")
    assert f"a post its author deleted ({original[:12]})" in carol.ok("timeline").out


def test_timeline_pages_through_posts_and_reposts(cli: Cli) -> None:
    cli.ok("init")
    posts = [cli.ok("post", f"p{i}").out.strip() for i in range(3)]
    cli.ok("repost", posts[0])
    cli.ok("post", "p3")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = rows(
            cli.ok("timeline", "--json", "--limit", "2", *(["--before", cursor] if cursor else []))
        )
        cursor = page[-1].get("next_cursor") if page and "next_cursor" in page[-1] else None
        seen += [r["kind"] for r in page if "kind" in r]
        if cursor is None:
            break
    assert sorted(seen) == ["post"] * 4 + ["repost"]


# --- network errors in words -------------------------------------------------------------------

PEER = "12D3KooWG2bdrP8oJqWbChsPNuZHsDAjAMm1t6Yuh1FEfkww5WrP"
LIBP2P_TEXT = (
    f"cannot connect to /ip4/127.0.0.1/tcp/1/p2p/{PEER}: unable to connect to {PEER}, "
    "no addresses established a successful connection (with exceptions)"
)


def test_libp2p_texts_never_reach_the_user() -> None:
    import io

    from pnyx.cli.main import exit_status
    from pnyx.net.errors import ConnectError

    err = io.StringIO()
    assert exit_status(ConnectError(LIBP2P_TEXT), err) == 1
    assert err.getvalue() == (
        f"pnyx: cannot reach /ip4/127.0.0.1/tcp/1/p2p/{PEER}: nothing accepted the connection at "
        "that address; check the address and that the peer's node is running (`pnyx run`) and "
        "reachable\n"
    )


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        (LIBP2P_TEXT, "nothing accepted the connection"),
        ("no answer from /ip4/10.0.0.1/tcp/4717/p2p/x within 10 s", "no answer"),
        ("[Errno 113] No route to host", "no route to that address"),
        ("[Errno -2] Name or service not known", "does not resolve"),
        ("failed to negotiate the stream protocol", "does not speak pnyx"),
    ],
)
def test_network_failures_in_words(text: str, meaning: str) -> None:
    from pnyx.net.words import in_words

    said = in_words(text)
    assert meaning in said and "; " in said and "\n" not in said
    assert "with exceptions" not in said and "Errno" not in said


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("/ip4/1.2.3/tcp/1", "not a peer address: '/ip4/1.2.3/tcp/1' (base address '1.2.3'"),
        ("garbage", "not a peer address: 'garbage' (unknown protocol: garbage)"),
        ("/ip4/127.0.0.1/tcp/1", "'/ip4/127.0.0.1/tcp/1' names no peer: add /p2p/PEER_ID"),
    ],
)
def test_sync_refuses_a_malformed_address_before_dialling(
    cli: Cli, address: str, reason: str
) -> None:
    """In-process: the conftest guard fails the test if a network socket were opened."""
    import time

    cli.ok("init")
    started = time.monotonic()
    refused = cli("sync", address)
    assert time.monotonic() - started < 1.0
    assert refused.code == 2 and refused.err.startswith(f"pnyx: {reason}")
    assert len(refused.err.splitlines()) == 1


# --- --json on every command that prints -------------------------------------------------------


def test_init_and_id_json(cli: Cli) -> None:
    made = json.loads(cli.ok("init", "--json").out)
    assert made["public_key"].startswith("pnyx1") and made["created"] is True
    assert made["encrypted"] is False and made["key_file"].endswith("identity.key")
    assert json.loads(cli.ok("id", "--json").out) == {"public_key": made["public_key"]}
    again = json.loads(cli.ok("init", "--if-missing", "--json").out)
    assert again["created"] is False and again["public_key"] == made["public_key"]


def test_export_and_import_json(make_cli: type[Cli], tmp_path: Path) -> None:
    a, b = make_cli(tmp_path / "a"), make_cli(tmp_path / "b")
    a.ok("init")
    b.ok("init")
    a.ok("post", "one")
    a.ok("post", "two")
    path = tmp_path / "x.pnyx"
    exported = a.ok("export", str(path), "--json")
    assert json.loads(exported.out) == {"exported": 2, "file": str(path)} and exported.err == ""
    report = json.loads(b.ok("import", str(path), "--json").out)
    assert report == {
        "accepted": 2,
        "known": 0,
        "rejected": 0,
        "by_reason": {},
        "details": [],
        "damage": None,
    }
    path.write_bytes(path.read_bytes()[:-7])  # cut into the trailer: damage, exit 1
    damaged = b("import", str(path), "--json")
    assert damaged.code == 1 and json.loads(damaged.out)["damage"] is not None
    assert a("export", "-", "--json").code == 2


def test_run_json_formats_each_event_as_one_object() -> None:
    import logging

    from pnyx.node.output import JsonLineFormatter

    record = logging.LogRecord(
        "pnyx.node", logging.INFO, "", 0, "peer connected: %s (%s)", None, None
    )
    record.args = ("12D3KooWx", "inbound\u202e")
    line = JsonLineFormatter().format(record)
    assert "\n" not in line and "\u202e" not in line  # escaped
    parsed = json.loads(line)
    assert parsed["event"] == "peer-connected" and parsed["args"] == ["12D3KooWx", "inbound\u202e"]
    assert parsed["text"] == "peer connected: 12D3KooWx (inbound\u202e)"
    assert parsed["level"] == "info" and parsed["time"].endswith("Z")


@pytest.mark.network
@pytest.mark.timeout(90)
def test_run_json_prints_only_json_lines(tmp_path: Path) -> None:
    import signal

    from tests.netharness import NodeProcess, cli

    home = tmp_path / "h"
    assert cli(home, "init")[0] == 0
    node = NodeProcess.spawn("a", home, tmp_path / "logs", "--json", "--no-dht", "--no-ui")
    try:
        node.wait_ready()
    finally:
        assert node.stop(signal.SIGINT) == 0, node.logs()
    events = [json.loads(line) for line in node.stdout().splitlines()]
    names = [event["event"] for event in events]
    assert {"identity", "listening", "following", "stopped"} <= set(names), names
    following = events[names.index("following")]
    assert following["text"].startswith("following 0 authors;")


def test_empty_timeline_hint_does_not_say_follow_to_a_follower(cli: Cli) -> None:
    cli.ok("init")
    assert "follow someone" in cli.ok("timeline").err
    cli.ok("follow", "ab" * 32)  # hex form of a key
    told = cli.ok("timeline").err
    assert "follow someone" not in told
    assert told.startswith("pnyx: the timeline is empty: you follow 1 author and hold no posts")


def test_empty_ranked_feed_hint_does_not_say_follow_to_a_follower(cli: Cli) -> None:
    cli.ok("init")
    cli.ok("follow", "ab" * 32)
    told = cli.ok("timeline", "--feed", "for-you").err
    assert told.startswith("pnyx: the feed for-you is empty: you follow 1 author")


def test_make_path_installs_nothing(tmp_path: Path) -> None:
    """`make path` never runs pip: without an installed pnyx it says to run `make run` first."""
    empty = tmp_path / "venv"
    empty.mkdir()
    told = _make_path(tmp_path, empty, "SHIM=yes")
    assert told.code != 0 and "run `make run` first" in told.err
    assert not (empty / "bin").exists() and not (tmp_path / "home" / ".local").exists()
