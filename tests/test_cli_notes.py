"""``pnyx note``, ``pnyx rate`` and ``pnyx notes`` in-process: the rules reach the user as clear
errors, a post's notes print with their status and why, and others' text is escaped."""

from __future__ import annotations

import json
from pathlib import Path

from pnyx.store import Store
from tests.conftest import Cli
from tests.store_helpers import Feed, key


def test_write_rate_and_read_notes(cli: Cli) -> None:
    cli.ok("init")
    alice = Feed(key(2))
    post = alice.post("the moon is cheese")
    note = alice.add("note", {"post": post.id, "text": "A note\x1b[31m by alice"})
    with Store.open(Path(cli.home) / "pnyx.db") as store:
        store.ingest_verified(alice.messages)
    mine = cli.ok("note", post.id.hex()[:12], "It is rock: NASA samples.").out.strip()
    assert len(mine) == 64
    again = cli("note", post.id.hex()[:12], "twice")
    assert again.code != 0 and "already" in again.err
    cli.ok("rate", note.id.hex()[:12], "somewhat")
    same = cli("rate", note.id.hex()[:12], "somewhat")
    assert same.code == 0 and "already" in same.err
    own = cli("rate", mine[:12], "yes")
    assert own.code != 0 and "your own note" in own.err
    shown = cli.ok("notes", post.id.hex()[:12]).out
    assert "\x1b" not in shown and "needs more ratings" in shown
    assert "you rated it: somewhat" in shown and "It is rock: NASA samples." in shown
    record = json.loads(cli.ok("notes", post.id.hex(), "--json").out)
    assert {n["id"] for n in record["notes"]} == {mine, note.id.hex()}
    assert record["raters"] == 0  # one rating: below every rater's minimum
    bad = cli("rate", note.id.hex(), "maybe")
    assert bad.code != 0 and "invalid choice" in bad.err
