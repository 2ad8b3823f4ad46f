"""The reads over small stores checked by hand: trust_report, suggest, search.

The graph (every edge a signed follow held in the store):

    me -> alice, bob, frank        alice -> carol, dave        bob -> carol
    frank -> carol                 carol -> erin

alice spreads her trust over carol and dave (1/2 each); bob and frank give carol all of theirs, and
carol gives erin all of hers. So carol gets 0.85 * 2.5 alice-shares, erin 0.85 of carol's, dave
0.85 * 1/2: by trust carol > erin > dave, though erin is three hops away and dave two.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import UserError
from pnyx.reads import search, suggest, trust_report
from pnyx.store import Store
from tests.store_helpers import NOW_MS, Feed, key, open_store


def _people() -> dict[str, Feed]:
    feeds = {
        name: Feed(key(n))
        for n, name in enumerate(("me", "alice", "bob", "carol", "dave", "erin", "frank", "mal"), 1)
    }
    f = feeds
    for name in ("alice", "bob", "carol", "dave", "frank"):
        f[name].profile(name=name.capitalize())
    for a, b in (
        ("me", "alice"),
        ("me", "bob"),
        ("me", "frank"),
        ("alice", "carol"),
        ("alice", "dave"),
        ("bob", "carol"),
        ("frank", "carol"),
        ("carol", "erin"),
    ):
        f[a].follow(f[b].author)
    return feeds


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Store, dict[str, Feed]]]:
    feeds = _people()
    with open_store(tmp_path) as store:
        store.ingest([raw for feed in feeds.values() for raw in feed.raws()], NOW_MS)
        yield store, feeds


def test_trust_report_of_someone_three_hops_away(world: tuple[Store, dict[str, Feed]]) -> None:
    store, f = world
    me, erin = f["me"].author, f["erin"].author
    view = trust_report(store, me, erin)
    assert view.report.known and view.report.hops == 3 and view.report.score > 0
    via = sorted([f["alice"].author, f["bob"].author, f["frank"].author])
    assert view.paths == tuple((me, v, f["carol"].author, erin) for v in via)
    assert view.signals.followed_by_trusted == 1  # carol, who is among the trusted
    assert not view.signals.you_follow
    assert view.names[f["carol"].author] == "Carol" and view.names[erin] is None
    data = view.to_json()
    assert data["key"] == encode_public_key(erin) and data["hops"] == 3
    assert data["paths"][0][0] == encode_public_key(me)  # type: ignore[index]
    assert data["summary"] == "followed by 1 you trust"
    assert data["rank"] == 2  # carol, then erin


def test_trust_report_of_a_follow_and_of_a_stranger(world: tuple[Store, dict[str, Feed]]) -> None:
    store, f = world
    alice = trust_report(store, f["me"].author, f["alice"].author)
    assert alice.report.hops == 1 and alice.paths == ((f["me"].author, f["alice"].author),)
    assert alice.signals.summary() == "followed by 0 you trust, you follow"
    stranger = trust_report(store, f["me"].author, key(99).verify_key.encode())
    assert not stranger.report.known and stranger.report.score == 0 and stranger.paths == ()
    mallory = trust_report(store, f["me"].author, f["mal"].author)  # held, follows no one
    assert not mallory.report.known


def test_suggest_ranks_by_trust_with_reasons(world: tuple[Store, dict[str, Feed]]) -> None:
    store, f = world
    found = suggest(store, f["me"].author, limit=10)
    assert [s.key for s in found] == [f["carol"].author, f["erin"].author, f["dave"].author]
    carol, erin, dave = found
    assert carol.score > erin.score > dave.score > 0
    assert set(carol.via) == {f["alice"].author, f["bob"].author, f["frank"].author}
    first_two = [carol.names[k] for k in carol.via[:2]]
    assert carol.reason() == f"followed by {first_two[0]}, {first_two[1]} and 1 more you follow"
    assert dave.reason() == "followed by Alice, whom you follow"
    assert erin.reason() == "3 hops away, followed by 1 you trust"
    assert erin.hops == 3 and dave.hops == 2
    assert [s.key for s in suggest(store, f["me"].author, limit=1)] == [f["carol"].author]
    assert carol.to_json()["reason"] == carol.reason()
    with pytest.raises(UserError):
        suggest(store, f["me"].author, limit=0)


def test_suggest_for_someone_who_follows_no_one_is_empty(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        assert suggest(store, key(1).verify_key.encode()) == []


def test_search_ranks_equal_matches_by_author_trust(world: tuple[Store, dict[str, Feed]]) -> None:
    store, f = world
    fresh = {name: f[name] for name in ("mal", "dave", "carol", "me")}
    for name, feed in fresh.items():
        feed.post(f"olive harvest notes from {name}")
    store.ingest([feed.messages[-1].raw for feed in fresh.values()], NOW_MS)
    results = search(store, f["me"].author, "olive harvest")
    authors = [hit.author for hit in results.posts]
    assert authors == [f["me"].author, f["carol"].author, f["dave"].author, f["mal"].author]
    trusts = [hit.trust for hit in results.posts]
    assert trusts[0] == 1.0 and trusts[1] == 1.0  # carol is the most trusted: the unit
    assert 0 < trusts[2] < 1 and trusts[3] == 0
    for hit in results.posts:
        assert hit.score == pytest.approx(hit.relevance * (1 + hit.trust))
    assert results.people == []
    only = search(store, f["me"].author, "olive", author=f["mal"].author)
    assert [h.author for h in only.posts] == [f["mal"].author]


def test_search_finds_people_by_name(world: tuple[Store, dict[str, Feed]]) -> None:
    store, f = world
    results = search(store, f["me"].author, "carol")
    assert [h.author for h in results.people] == [f["carol"].author]
    assert results.people[0].profile is not None and results.people[0].kind == "profile"
    assert results.people[0].parts_json()["match"] == "profile"
    quoted = search(store, f["me"].author, '"carol')  # an unbalanced quote is just a character
    assert [h.author for h in quoted.people] == [f["carol"].author]
    with pytest.raises(UserError):
        search(store, f["me"].author, "  ")
    with pytest.raises(UserError):
        search(store, f["me"].author, "x", limit=0)
