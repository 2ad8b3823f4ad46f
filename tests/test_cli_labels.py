"""``pnyx label``, ``pnyx labellers [add|remove]`` and the warnings the reads print (the rules of
``pnyx.ops.labels``; docs/moderation.md, "Labels and labellers")."""

from __future__ import annotations

import json

import pytest

from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import UserError
from pnyx.home import Home
from pnyx.store import Store
from tests.conftest import Cli
from tests.store_helpers import NOW_MS, Feed, key, pub

BOB, CAROL = key(2), key(3)


def _world(cli: Cli) -> tuple[str, str, str]:
    """Me (following Carol), Carol's post, and Bob (a labeller named Bob) labelling it."""
    me = cli.ok("init").out.strip()
    carol, bob = Feed(CAROL), Feed(BOB)
    post = carol.post("miracle cure")
    bob.profile(name="Bob")
    bob.add("label", {"post": post.id, "value": "misleading"})
    bob.add("label", {"key": carol.author, "value": "spam"})
    bob.add("label", {"key": carol.author, "value": "spam", "neg": True})  # retracted
    with Store.open(Home(cli.home).db_path) as store:
        store.ingest([*carol.raws(), *bob.raws()], NOW_MS)
    cli.ok("follow", encode_public_key(carol.author))
    return me, post.id.hex(), encode_public_key(bob.author)


def test_subscribing_warns_and_hides_with_the_reason(cli: Cli) -> None:
    _me, post_id, bob = _world(cli)
    assert "miracle cure" in cli.ok("timeline").out
    assert "[warn" not in cli.ok("timeline").out  # Bob's labels do nothing until subscribed
    assert "nothing was signed" in cli.ok("labellers", "add", bob).out
    out = cli.ok("timeline").out
    assert "miracle cure" in out and "[warn: misleading by Bob" in out
    record = json.loads(cli.ok("timeline", "--json").lines[0])
    assert record["warnings"] == [{"value": "misleading", "labeller": bob}]
    cli.ok("labellers", "add", bob, "--hide", "misleading")
    assert "miracle cure" not in cli.ok("timeline").out
    listed = json.loads(cli.ok("labellers", "--json").out)
    assert listed["key"] == bob and listed["actions"]["misleading"] == "hide"
    assert listed["actions"]["spam"] == "hide" and listed["actions"]["nsfw"] == "warn"
    assert "hide" in cli.ok("labellers").out
    cli.ok("block", bob)  # a blocked labeller does nothing
    assert "miracle cure" in cli.ok("timeline").out
    cli.ok("unblock", bob)
    assert "unsubscribed" in cli.ok("labellers", "remove", bob).out
    assert "nothing changed" in cli.ok("labellers", "remove", bob).err
    assert "[warn" not in cli.ok("timeline").out
    assert post_id


def test_label_command_rules(cli: Cli) -> None:
    me, post_id, bob = _world(cli)
    record = json.loads(cli.ok("label", post_id[:16], "spam", "--json").out)
    assert record["kind"] == "label" and record["post"] == post_id and record["neg"] is False
    assert "miracle cure" not in cli.ok("timeline").out  # my own label, default action: hide
    assert "already labelled" in cli.ok("label", post_id, "spam").err
    cli.ok("label", post_id, "spam", "--retract")
    assert "have not labelled" in cli.ok("label", post_id, "spam", "--retract").err
    assert "miracle cure" in cli.ok("timeline").out
    assert cli("label", post_id, "Spam").code == 2
    assert "not a label value" in cli("label", post_id, "Spam").err
    assert len(cli.ok("label", bob, "impersonation").out.strip()) == 64  # a key
    assert "own labeller" in cli("labellers", "add", me).err
    assert cli("labellers", "add", bob, "--hide", "BAD").code == 2
    cli.ok("block", bob)
    assert "unblock it" in cli("labellers", "add", bob).err


def test_the_labeller_limit(cli: Cli) -> None:
    from pnyx import ops
    from pnyx.store import labels as label_store
    from pnyx.trust.labels import MAX_LABELLERS

    me = cli.ok("init").out.strip()
    with Store.open(Home(cli.home).db_path) as store:
        for n in range(MAX_LABELLERS):
            label_store.subscribe(store, bytes([n, 1]) * 16, {}, NOW_MS)
        other = encode_public_key(pub(CAROL))
        with pytest.raises(UserError, match=r"the limit \(100\)"):
            ops.subscribe_labeller(store, bytes(32), other)
    assert me
