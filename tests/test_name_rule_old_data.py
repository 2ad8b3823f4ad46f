"""The profile-name rule (``forbidden-character``) against data stored before the rule existed.

Such envelopes must still decode wherever a node reads its own store (chain checks of gossip
frames, sync serving, republishing), and a peer that serves or relays them is honest: it loses no
standing and a session with it goes on past them. Only new storage and signing refuse them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from pnyx.core.envelope import decode, validate
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.ingest.framecheck import chain_conflict
from pnyx.node.node import IGNORED_REASONS
from tests.store_helpers import NOW_MS, Feed, key, open_store
from tests.sync_fakes import FakeStore, sync_once

OLD_NAME = "\u0430l\u200dice\u202e"


def feed_with_old_profile() -> Feed:
    feed = Feed(key(21))
    feed.post("one")
    feed.post("two")
    feed.add_unchecked("profile", {"name": OLD_NAME})
    for text in ("four", "five", "six"):
        feed.post(text)
    return feed


def test_an_old_profile_decodes_but_no_longer_validates() -> None:
    old = feed_with_old_profile().messages[2]
    assert decode(old.raw).body["name"] == OLD_NAME
    with pytest.raises(InvalidMessage) as info:
        validate(old.raw, NOW_MS)
    assert info.value.reason is Reason.FORBIDDEN_CHARACTER
    assert info.value.detail == "field 'name' has U+200D at position 2"


def test_a_store_refuses_it_new_and_keeps_the_rest_of_the_feed(tmp_path: Path) -> None:
    feed = feed_with_old_profile()
    with open_store(tmp_path) as store:
        report = store.ingest(feed.raws(), NOW_MS)
        assert [(i, r) for i, r, _ in report.rejected] == [(2, Reason.FORBIDDEN_CHARACTER)]
        assert [m.seq for m in report.accepted] == [1, 2, 4, 5, 6]
        assert store.profile(feed.author) is None


def test_gossip_chain_checks_read_an_old_stored_profile(tmp_path: Path) -> None:
    feed = feed_with_old_profile()
    with open_store(tmp_path) as store:
        store.ingest_verified(feed.messages[:3], now_ms=NOW_MS)  # stored before the rule
        assert store.profile(feed.author) is not None
        # seq 4 has the old profile as its stored neighbour: read without raising.
        assert chain_conflict(store, [feed.messages[3]]) is None
        assert [m.seq for m in store.ingest([feed.messages[3].raw], NOW_MS).accepted] == [4]


def test_relaying_such_a_profile_costs_a_peer_no_standing() -> None:
    assert Reason.FORBIDDEN_CHARACTER in IGNORED_REASONS


async def test_a_sync_session_goes_on_past_an_old_profile() -> None:
    feed = feed_with_old_profile()
    theirs, mine = FakeStore(feed.messages), FakeStore()
    with trio.fail_after(30):
        summary, served = await sync_once(mine, theirs, [feed.author])
    assert summary.failure is None and served.messages == 6
    assert (summary.fetched, summary.rejected) == (5, 1)
    assert sorted(mine.chains[feed.author]) == [1, 2, 4, 5, 6]
