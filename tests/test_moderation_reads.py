"""Mutes and blocks applied to the reads (timeline, feeds, search, notifications, thread) and to
the trust signals, and the ``pnyx mute`` / ``block`` / ``mutes`` commands (docs/moderation.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx import ops
from pnyx.crypto.keytext import encode_public_key
from pnyx.home import Home
from pnyx.reads import notifications, ranked_timeline, search, trust_report, why
from pnyx.reads.timeline import timeline
from pnyx.store import Store
from tests.conftest import Cli
from tests.store_helpers import NOW_MS, Feed, key, open_store, pub

ME, BOB, CAROL = key(1), key(2), key(3)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Store, dict[str, Feed]]]:
    me, bob, carol = Feed(ME), Feed(BOB), Feed(CAROL)
    mine = me.post("my tea post")
    me.follow(bob.author)
    me.follow(carol.author)
    bobs = bob.post("bob likes tea")
    bob.post("a reply about tea", reply_to=mine)
    carol.add("repost", {"id": bobs.id, "author": bobs.author})
    carol.post("carol likes tea too")
    carol.add("mute", {"key": bob.author})  # a trusted friend's public mute
    with open_store(tmp_path) as store:
        store.ingest([r for f in (me, bob, carol) for r in f.raws()], NOW_MS)
        yield store, {"me": me, "bob": bob, "carol": carol}


def _texts(store: Store) -> list[str]:
    page = timeline(store, pub(ME), limit=20)
    return sorted(i.message.text or i.message.kind for i in page.items)


def test_a_muted_authors_posts_and_reposts_leave_every_read(
    world: tuple[Store, dict[str, Feed]],
) -> None:
    store, _ = world
    assert "bob likes tea" in _texts(store) and "repost" in _texts(store)
    assert len(notifications(store, pub(ME))) == 1  # bob's reply
    bob = encode_public_key(pub(BOB))
    ops.mute(store, ME, bob, now_ms=NOW_MS)
    assert _texts(store) == ["carol likes tea too", "my tea post"]
    assert [i.item.message.text for i in ranked_timeline(store, pub(ME)).items] == [
        "carol likes tea too",
        "my tea post",
    ]
    found = search(store, pub(ME), "tea")
    assert pub(BOB) not in {hit.author for hit in found.posts}
    assert notifications(store, pub(ME)) == []
    ops.unmute(store, ME, bob, now_ms=NOW_MS)
    assert "bob likes tea" in _texts(store)  # still stored: unmuting shows it again


def test_a_private_mute_hides_the_same_and_publishes_nothing(
    world: tuple[Store, dict[str, Feed]],
) -> None:
    store, _ = world
    held = store.counts()["messages"]
    ops.mute(store, ME, encode_public_key(pub(BOB)), private=True, now_ms=NOW_MS)
    assert "bob likes tea" not in _texts(store) and store.counts()["messages"] == held


def test_trust_shows_muted_by_those_you_trust(world: tuple[Store, dict[str, Feed]]) -> None:
    store, _ = world
    report = trust_report(store, pub(ME), pub(BOB)).to_json()
    assert report["signals"]["muted_by_trusted"] == 1  # type: ignore[index]
    assert report["summary"] == "followed by 0 you trust, muted by 1 you trust, you follow"
    ops.block(store, ME, encode_public_key(pub(BOB)), now_ms=NOW_MS)
    summary = trust_report(store, pub(ME), pub(BOB)).to_json()["summary"]
    assert summary == "followed by 0 you trust, muted by 1 you trust, you follow, you block"


# --- the commands -------------------------------------------------------------------------


def test_mute_block_and_mutes_commands(cli: Cli, make_cli: type[Cli], tmp_path: Path) -> None:
    other = make_cli(tmp_path / "other").ok("init").out.strip()
    me = cli.ok("init").out.strip()
    assert len(cli.ok("mute", other).out.strip()) == 64  # the signed mute's id
    assert "already muted" in cli.ok("mute", other).err
    assert cli("mute", me).code == 2 and "cannot mute yourself" in cli("mute", me).err
    cli.ok("block", other)
    record = json.loads(cli.ok("unblock", other, "--json").out)
    assert record["kind"] == "unblock" and record["key"] == other
    assert "have not blocked" in cli.ok("unblock", other).err
    assert [json.loads(line)["why"] for line in cli.ok("mutes", "--json").lines] == ["mute"]
    cli.ok("unmute", other)
    assert "private" in cli.ok("mute", other, "--private").out
    lines = cli.ok("mutes").lines
    assert len(lines) == 1 and lines[0].startswith("private mute") and other in lines[0]
    assert "have not muted" not in cli.ok("unmute", other).err
    assert cli.ok("mutes").out == ""


def test_thread_shows_a_muted_reply_as_a_collapsed_placeholder(cli: Cli) -> None:
    cli.ok("init")
    post_id = cli.ok("post", "root post").out.strip()
    db = Home(cli.home).db_path
    bob = Feed(BOB)
    with Store.open(db) as store:
        root = store.get(bytes.fromhex(post_id))
        assert root is not None
        store.ingest(
            [bob.post("bob's reply", reply_to=root.message).raw, bob.profile(name="Bob").raw],
            NOW_MS,
        )
    assert "bob's reply" in cli.ok("thread", post_id).out
    cli.ok("mute", encode_public_key(pub(BOB)))
    shown = cli.ok("thread", post_id).out
    assert "bob's reply" not in shown and "hidden: you muted Bob" in shown
    ids = [json.loads(line)["id"] for line in cli.ok("thread", post_id, "--json").lines]
    assert ids == [post_id]


def test_a_ranked_page_leaves_hidden_authors_out_before_ranking(tmp_path: Path) -> None:
    """A page of a ranked feed is full although the muted author wrote the newest posts; ``why``
    on the muted author's post still explains it, and says it is hidden and why."""
    me, bob, carol = Feed(ME), Feed(BOB), Feed(CAROL)
    me.follow(bob.author)
    me.follow(carol.author)
    carols = [carol.post(f"carol {n}") for n in range(3)]
    bobs = [bob.post(f"bob {n}") for n in range(5)]
    with open_store(tmp_path / "s") as store:
        store.ingest([r for f in (me, bob, carol) for r in f.raws()], NOW_MS)
        ops.mute(store, ME, encode_public_key(pub(BOB)), now_ms=NOW_MS)
        page = ranked_timeline(store, pub(ME), "for-you", limit=3, now_ms=NOW_MS)
        assert sorted(i.item.message.text or "" for i in page.items) == [
            "carol 0",
            "carol 1",
            "carol 2",
        ]
        view = why(store, pub(ME), bobs[-1].id, "for-you", now_ms=NOW_MS)
        assert view.hidden is not None and view.hidden.why == "mute"
        assert (
            view.hidden_text() == f"hidden from your feeds: you muted {encode_public_key(pub(BOB))}"
        )
        assert view.to_json()["hidden"] == {
            "key": encode_public_key(pub(BOB)),
            "why": "mute",
            "via": "author",
        }
        assert "hidden from your feeds: you muted" in view.text()
        shown = why(store, pub(ME), carols[0].id, "for-you", now_ms=NOW_MS)
        assert shown.hidden is None and shown.to_json()["hidden"] is None
