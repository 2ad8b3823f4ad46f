"""No text from others reaches the terminal raw: escapes, fingerprints and look-alike marks.

Hostile profiles are stored the way data received before the name rule would be: signed, but not
validated again (``Feed.add_unchecked`` + ``Store.ingest_verified``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from typing import Any

import pytest
import trio

from pnyx.cli.render import CONTENT_BAR
from pnyx.core.display import fingerprint, is_unsafe
from pnyx.core.envelope import Message
from pnyx.crypto.keytext import encode_public_key, parse_public_key
from pnyx.store import Profile
from tests.conftest import Cli
from tests.store_helpers import Feed, key, open_store

ALICE_POST = "hi from alice"
#: Old data: Cyrillic a and a zero-width joiner (refused today), looks like "alice".
MALLORY_NAME = "\u0430l\u200dice"
#: Valid today (a Cyrillic a), looks like the user's own "Aspasia".
TRUDY_NAME = "Aspasi\u0430"
#: Old data: sets the terminal title, then forges a second header line.
EVE_NAME = (
    "Eve\x1b]0;pwned\x07\nAlice (pnyx1abcd\u2026wxyz) \u00b7 2026-01-01 00:00 \u00b7 0123456789ab"
)
EVE_POST = (
    "\x1b[2J\x1b[8mhidden\x1b[0m\x07 first\r"
    "\nAlice (pnyx1abcd\u2026wxyz) \u00b7 2026-01-01 00:00 \u00b7 0123456789ab"
    "\n\u202eesrever \u2066isolated\u200b\x9b31m"
)
HEADER = re.compile(
    r"^(?P<who>.+) \((?P<fp>pnyx1\w{4}\u2026\w{4})\)(?P<mark> \[look-alike of .+\])?"
    r" \u00b7 \d{4}-\d\d-\d\d \d\d:\d\d \u00b7 (?P<id>[0-9a-f]{12})$"
)


def assert_no_raw(text: str) -> None:
    raw = sorted({f"U+{ord(c):04X}" for c in text if is_unsafe(c) and c != "\n"})
    assert raw == [], raw


class World:
    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        cli.ok("init")
        cli.ok("profile", "--name", "Aspasia")
        self.me = parse_public_key(cli.ok("id").out.strip())
        self.alice, self.mallory, self.eve, self.trudy = (Feed(key(n)) for n in (7, 8, 9, 10))
        self.alice.profile(name="Alice")
        self.alice_post = self.alice.post(ALICE_POST)
        self.mallory.add_unchecked("profile", {"name": MALLORY_NAME, "bio": "\x1b[2Jbio\nline"})
        self.mallory_post = self.mallory.post("trust me", reply_to=self.alice_post)
        self.mallory.add("reaction", {"id": self.alice_post.id, "author": self.alice.author,
                                      "reaction": "\x1b[5m\n"})  # fmt: skip
        self.eve.add_unchecked("profile", {"name": EVE_NAME})
        self.eve_post = self.eve.post(EVE_POST)
        self.trudy.profile(name=TRUDY_NAME)
        self.trudy_post = self.trudy.post("hello, I am Aspasia")
        feeds = (self.alice, self.mallory, self.eve, self.trudy)
        with open_store(cli.home) as store:
            report = store.ingest_verified([m for f in feeds for m in f.messages])
            assert len(report.accepted) == sum(len(f.messages) for f in feeds)
        for feed in (self.alice, self.eve, self.trudy):  # not Mallory: a stranger who replies
            cli.ok("follow", encode_public_key(feed.author))

    def posts(self) -> list[Message]:
        """The timeline's posts."""
        return [self.alice_post, self.eve_post, self.trudy_post]


@pytest.fixture
def world(cli: Cli) -> World:
    return World(cli)


def headers(out: str) -> dict[str, re.Match[str]]:
    """Header lines (every line not starting with a space or the content bar), by short id; all
    must parse."""
    found: dict[str, re.Match[str]] = {}
    for text in out.splitlines():
        if text and not text.startswith((" ", CONTENT_BAR, "(more")):
            match = HEADER.match(text)
            assert match is not None, f"not a header: {text!r}"
            found[match["id"]] = match
    return found


def test_timeline_shows_hostile_text_escaped_with_fingerprints_and_marks(world: World) -> None:
    out = world.cli.ok("timeline").out
    assert_no_raw(out)
    shown = headers(out)
    # Exactly one header per post: no name or body line forged one.
    assert set(shown) == {m.id.hex()[:12] for m in world.posts()}
    alice = shown[world.alice_post.id.hex()[:12]]
    assert alice["who"] == "Alice" and alice["mark"] is None
    assert alice["fp"] == fingerprint(world.alice.author)
    trudy = shown[world.trudy_post.id.hex()[:12]]
    assert trudy["mark"] == f" [look-alike of Aspasia ({fingerprint(world.me)})]"
    eve = shown[world.eve_post.id.hex()[:12]]
    assert eve["who"].startswith("Eve\\u001b]0;pwned\\u0007\\u000aAlice")
    assert eve["fp"] == fingerprint(world.eve.author)
    # The post body keeps its lines, each indented, with its controls escaped.
    assert "│ \\u001b[2J\\u001b[8mhidden\\u001b[0m\\u0007 first\\u000d\n" in out
    assert "\n│ Alice (pnyx1abcd\u2026wxyz) \u00b7 2026-01-01 00:00 \u00b7 0123456789ab\n" in out
    assert "\n│ \\u202eesrever \\u2066isolated\\u200b\\u009b31m" in out


def test_json_keeps_exact_data_and_names_the_look_alike(world: World) -> None:
    out = world.cli.ok("timeline", "--json").out
    assert_no_raw(out)
    rows = {row["id"]: row for row in map(json.loads, out.splitlines())}
    eve = rows[world.eve_post.id.hex()]
    assert eve["text"] == EVE_POST and eve["name"] == EVE_NAME and "lookalike" not in eve
    trudy = rows[world.trudy_post.id.hex()]
    assert trudy["lookalike"] == {"key": encode_public_key(world.me), "name": "Aspasia"}
    assert "lookalike" not in rows[world.alice_post.id.hex()]


def test_every_reading_command_escapes_text_from_others(world: World) -> None:
    cli = world.cli
    mallory, eve = encode_public_key(world.mallory.author), encode_public_key(world.eve.author)
    for argv in (
        ("feed", mallory),
        ("feed", eve),
        ("feed", mallory, "--json"),
        ("thread", world.alice_post.id.hex()),
        ("thread", world.alice_post.id.hex(), "--json"),
        ("following",),
        ("following", "--json"),
        ("profile", mallory),
        ("profile", eve),
    ):
        result = cli.ok(*argv)
        assert_no_raw(result.out)
        assert_no_raw(result.err)
    feed = cli.ok("feed", mallory).out
    assert "reacts \\u001b[5m\\u000a to" in feed
    assert "profile name: \u0430l\\u200dice; bio: \\u001b[2Jbio\\u000aline" in feed
    profile = cli.ok("profile", eve).out.splitlines()
    assert len(profile) == 3 and profile[1].startswith("name: Eve\\u001b]0;pwned\\u0007\\u000a")
    following = cli.ok("following").out
    assert f"  {TRUDY_NAME} [look-alike of Aspasia ({fingerprint(world.me)})]" in following
    marked = [json.loads(x) for x in cli.ok("following", "--json").lines]
    assert [r["lookalike"]["name"] for r in marked if "lookalike" in r] == ["Aspasia"]
    # A stranger replying in a followed author's thread, named like that author.
    thread = cli.ok("thread", world.alice_post.id.hex()).out
    matches = [
        HEADER.match(text.lstrip(" "))
        for text in thread.splitlines()
        if not text.lstrip(" ").startswith(CONTENT_BAR)
    ]
    shown = {m["id"]: m for m in matches if m is not None}
    assert set(shown) == {world.alice_post.id.hex()[:12], world.mallory_post.id.hex()[:12]}
    header = shown[world.mallory_post.id.hex()[:12]]
    assert header["who"] == "\u0430l\\u200dice"
    assert header["mark"] == f" [look-alike of Alice ({fingerprint(world.alice.author)})]"
    lines = cli.ok("thread", world.alice_post.id.hex(), "--json").lines
    reply = {row["id"]: row for row in map(json.loads, lines)}[world.mallory_post.id.hex()]
    assert reply["name"] == MALLORY_NAME
    assert reply["lookalike"] == {"key": encode_public_key(world.alice.author), "name": "Alice"}


def test_a_real_process_writes_no_raw_control_bytes(world: World) -> None:
    env = {**os.environ, "PNYX_HOME": str(world.cli.home)}
    env.pop("PNYX_PASSPHRASE", None)
    done = subprocess.run(
        [sys.executable, "-m", "pnyx", "timeline"],
        check=False,
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for needle in (b"\x1b", b"\x07", b"\r", "\u202e".encode(), "\u200d".encode(), b"\xc2\x9b"):
        assert needle not in done.stdout, needle
    assert b"[look-alike of Aspasia (" in done.stdout


def test_errors_quoting_data_are_escaped(cli: Cli) -> None:
    cli.ok("init")
    refused = cli("profile", "--name", "Ali\u200dce")
    assert refused.code == 2 and "(U+200D at position 3)" in refused.err
    assert cli.ok("profile").lines[1] == "name: (none)"
    result = cli("feed", "pnyx1\x1b]0;pwned\x07\u202e")
    assert result.code == 2
    assert_no_raw(result.err)
    assert result.err.count("\n") == 1


def test_peers_status_and_sync_lines_escape_what_peers_sent(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pnyx.cli import cmd_node

    hostile = "/ip4/198.51.100.4/tcp/4717\n12D3KooWfake  outbound  \x1b[2J"
    peers = [{"peer_id": "12D3KooWa", "direction": "inbound", "address": hostile,
              "found_by": "px\x07", "state": "connected\u202e"}]  # fmt: skip
    status = {"peer_id": "12D3KooWa", "public_key": "pnyx1x", "listen_addrs": [hostile],
              "peers": [{k: peers[0][k] for k in ("peer_id", "direction", "address")}],
              "topic_peers": [], "mesh_peers": [], "banned": ["12D3\x1b[8m"],
              "penalties": {}, "counts": {},
              "clock": {"ahead_ms": None, "authors": 0, "future_authors": 0},
              "uptime_s": 1.0}  # fmt: skip
    answers = {"peers": peers, "status": status}
    monkeypatch.setattr(cmd_node, "_ask", lambda ctx, op, **params: answers[op])
    out = cli.ok("peers").out
    assert_no_raw(out)
    assert len(out.splitlines()) == 1 and "\\u000a12D3KooWfake" in out
    shown = cli.ok("status", "--json").out
    assert_no_raw(shown)
    assert json.loads(shown) == status


def test_node_lines_escape_names_and_posts(world: World) -> None:
    from pnyx.node.output import NodeOutput, SafeFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(message)s"))
    logger = logging.getLogger("pnyx.node")
    logger.addHandler(handler)
    saved = logger.level
    logger.setLevel(logging.INFO)
    profiles = {world.eve.author: Profile(world.eve.author, EVE_NAME, None, 1)}

    class Store:
        def profile(self, author: bytes) -> Profile | None:
            return profiles.get(author)

    async def offload(fn: Any, *args: Any) -> Any:
        return fn(*args)

    async def show() -> None:
        await NodeOutput().arrived(Store(), [world.eve_post], offload)  # type: ignore[arg-type]
        logging.getLogger("pnyx.node").info("raw %s", "\x1b]0;x\x07\u202e\nforged line")

    try:
        trio.run(show)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)
    lines = stream.getvalue().splitlines()
    assert_no_raw(stream.getvalue())
    assert len(lines) == 2
    assert lines[0].startswith("post from Eve\\u001b]0;pwned\\u0007\\u000aAlice")
    assert f"({fingerprint(world.eve.author)}): " in lines[0]
    assert lines[1] == "raw \\u001b]0;x\\u0007\\u202e\\u000aforged line"


def test_no_post_line_passes_for_a_header_at_any_thread_depth(world: World) -> None:
    """Replies are indented two spaces a level; a post whose text imitates a reply's header
    (indented like one) still shows that text behind the content bar, so the only lines that
    read as headers are the real ones."""
    forged = "\n".join(
        f"{'  ' * depth}Alice ({fingerprint(world.alice.author)}) · just now · {'ab' * 6}"
        for depth in range(4)
    )
    root = world.alice.post("the start")
    reply = world.eve.post("a reply " + forged, reply_to=root)
    deeper = world.trudy.post(forged, reply_to=reply)
    with open_store(world.cli.home) as store:
        store.ingest_verified([root, reply, deeper])
    out = world.cli.ok("thread", root.id.hex()).out
    real = {m.id.hex()[:12] for m in (root, reply, deeper)}
    seen = set()
    for text in out.splitlines():
        body = text.lstrip(" ")
        if not body or body.startswith(CONTENT_BAR):
            continue
        match = HEADER_ANY_TIME.match(body)
        assert match is not None, f"a line that is neither header nor content: {text!r}"
        seen.add(match["id"])
    assert seen == real
    assert out.count(CONTENT_BAR + "  Alice (") >= 2  # the forged lines, shown as content


#: A header line whatever its time column shows ("just now", "3 min ago" or a date).
HEADER_ANY_TIME = re.compile(
    r"^(?P<who>.+) \((?P<fp>pnyx1\w{4}\u2026\w{4})\)(?P<mark> \[look-alike of .+\])?"
    r" \u00b7 [^\u00b7]+ \u00b7 (?P<id>[0-9a-f]{12})$"
)
