"""Reading commands mark forked authors (issue 11, item 5: fork spam was silent).

timeline, feed and thread put ``"forked": true`` on every message of a forked author in
``--json``, ``FORKED`` in the human header, and one warning line per forked author on standard
error, with the evidence kept and the conflicting messages counted but not kept.
"""

from __future__ import annotations

import json
import time

from pnyx.crypto.keytext import encode_public_key
from pnyx.store import Store
from tests.conftest import Cli
from tests.store_helpers import Feed, key


def test_forked_authors_are_marked_in_every_reading_command(cli: Cli) -> None:
    cli.ok("init")
    now = time.time_ns() // 1_000_000
    honest, forker = Feed(key(1), now - 10_000), Feed(key(2), now - 10_000)
    root = honest.post("a thread")
    forker.post("first")
    reply = forker.post("a reply", reply_to=root)
    forks = [forker.other_at(2, f"fork {n}").raw for n in range(5)]
    with Store.open(cli.home / "pnyx.db") as store:
        assert store.ingest(honest.raws() + forker.raws(), now).accepted
        assert len(store.ingest(forks, now).rejected) == 5
    for followed in (honest, forker):
        cli.ok("follow", encode_public_key(followed.author))
    forker_text = encode_public_key(forker.author)

    timeline = cli.ok("timeline", "--json")
    rows = [json.loads(line) for line in timeline.lines]
    marks = {row["text"]: row["forked"] for row in rows if row["kind"] == "post"}
    assert marks == {"a thread": False, "first": True, "a reply": True}
    assert timeline.err.count("is FORKED") == 1 and forker_text in timeline.err
    assert "1 conflicting message(s) kept as evidence (first at seq 2)" in timeline.err
    assert "4 more seen and not kept" in timeline.err

    human = cli.ok("timeline")
    headers = [line for line in human.lines if "·" in line]
    assert sum("FORKED" in line for line in headers) == 2  # the forker's two posts
    assert "is FORKED" in human.err

    thread = cli.ok("thread", root.id.hex()[:12], "--json")
    assert [json.loads(line)["forked"] for line in thread.lines] == [False, True]
    assert thread.err.count("is FORKED") == 1

    shown = cli.ok("feed", forker_text, "--json")
    assert {json.loads(line)["forked"] for line in shown.lines} == {True}
    assert shown.err.count("is FORKED") == 1
    assert reply.id.hex() in shown.out

    clean = cli.ok("feed", encode_public_key(honest.author))
    assert "FORKED" not in clean.out + clean.err
