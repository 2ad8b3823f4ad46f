"""Mute and block (docs/moderation.md): the kinds' tables, the policy's rules (hand-checked), the
operations on a real store, and what a block does to admission."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx import ops
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import NothingChangedError, UserError
from pnyx.node.reach import compute_plan, keep_replies
from pnyx.reads.policy import load_policy, moderation_list
from pnyx.store import Store
from pnyx.trust.admission import AdmissionConfig, plan_horizon
from pnyx.trust.graph import TrustGraph
from pnyx.trust.policy import Hidden, Policy, change_problem
from pnyx.trust.state import TrustState
from tests.store_helpers import NOW_MS, Feed, key, pub

ME, OTHER, THIRD = key(1), key(2), key(3)
A, B, C = (bytes([n]) * 32 for n in range(1, 4))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "pnyx.db") as opened:
        yield opened


# --- the policy (sans-I/O) ------------------------------------------------------------------


def test_policy_reasons_block_before_mute_before_private() -> None:
    policy = Policy.of(blocked=[B], muted=[B, C], private=[C, A])
    assert policy.author(B) == "block"
    assert policy.author(C) == "mute"
    assert policy.author(A) == "private mute"
    assert Policy().author(B) is None and not Policy() and policy
    assert policy.admits(A) and policy.admits(C) and not policy.admits(B)


def test_policy_hides_reposts_and_reactions_of_a_hidden_author() -> None:
    them, me = Feed(OTHER), Feed(ME)
    post = them.post("muted words")
    repost = me.add("repost", {"id": post.id, "author": post.author})
    policy = Policy.of(muted=[pub(OTHER)])
    assert policy.hidden(post) == Hidden(pub(OTHER), "mute")
    assert policy.hidden(repost) == Hidden(pub(OTHER), "mute", "original")
    assert policy.hidden(me.post("mine")) is None
    assert Hidden(B, "block").reason("bob") == "you blocked bob"
    assert Hidden(B, "private mute", "original").reason("bob") == (
        "you muted bob (the original's author)"
    )


def test_change_rules() -> None:
    empty, muted = Policy(), Policy.of(muted=[B], private=[C], blocked=[C])
    assert change_problem(empty, A, A, "mute") == "you cannot mute yourself"
    assert change_problem(empty, A, A, "block") == "you cannot block yourself"
    assert change_problem(empty, A, B, "mute") is None
    assert change_problem(muted, A, B, "mute") == "you already muted"
    assert change_problem(muted, A, B, "mute", private=True) is None  # public only so far
    assert change_problem(muted, A, C, "mute", private=True) == "you already muted privately"
    assert change_problem(empty, A, B, "unmute") == "you have not muted"
    assert change_problem(muted, A, C, "unmute") is None  # a private mute can be lifted
    assert change_problem(muted, A, C, "block") == "you already blocked"
    assert change_problem(muted, A, B, "unblock") == "you have not blocked"


# --- the tables: the highest seq per (actor, target) decides -----------------------------------


def test_highest_seq_decides_whatever_the_arrival_order(store: Store) -> None:
    bob = Feed(OTHER)
    mute, unmute, block = (
        bob.add("mute", {"key": pub(ME)}),
        bob.add("unmute", {"key": pub(ME)}),
        bob.add("block", {"key": pub(THIRD)}),
    )
    store.ingest_verified([unmute, block], now_ms=NOW_MS)
    store.ingest_verified([mute], now_ms=NOW_MS)  # older, arriving late: it changes nothing
    assert store.moderated("mute", pub(OTHER)) == []
    assert store.moderated("block", pub(OTHER)) == [pub(THIRD)]
    assert store.moderation_pairs("block") == [(pub(OTHER), pub(THIRD))]


# --- the operations -------------------------------------------------------------------------


def test_mute_unmute_rules_and_messages(store: Store) -> None:
    other = encode_public_key(pub(OTHER))
    view = ops.mute(store, ME, other, now_ms=NOW_MS)
    assert view is not None and view.kind == "mute" and view.fields["key"] == other
    with pytest.raises(NothingChangedError, match=f"you already muted {other}; nothing"):
        ops.mute(store, ME, other, now_ms=NOW_MS)
    with pytest.raises(UserError, match="you cannot mute yourself"):
        ops.mute(store, ME, encode_public_key(pub(ME)), now_ms=NOW_MS)
    unmuted = ops.unmute(store, ME, pub(OTHER).hex(), now_ms=NOW_MS)
    assert unmuted is not None and unmuted.kind == "unmute"
    with pytest.raises(NothingChangedError, match=f"you have not muted {other}"):
        ops.unmute(store, ME, other, now_ms=NOW_MS)
    assert load_policy(store, pub(ME)) == Policy()


def test_a_private_mute_is_never_signed(store: Store) -> None:
    other = encode_public_key(pub(OTHER))
    assert ops.mute(store, ME, other, private=True, now_ms=NOW_MS) is None
    assert store.counts()["messages"] == 0  # nothing signed, nothing to publish
    assert load_policy(store, pub(ME)) == Policy.of(private=[pub(OTHER)])
    with pytest.raises(NothingChangedError, match="already muted privately"):
        ops.mute(store, ME, other, private=True, now_ms=NOW_MS)
    assert [e.to_json()["why"] for e in moderation_list(store, pub(ME))] == ["private mute"]
    assert ops.unmute(store, ME, other, now_ms=NOW_MS) is None  # only the private one to lift
    assert store.private_mutes() == [] and store.counts()["messages"] == 0


def test_block_and_unblock(store: Store) -> None:
    other = encode_public_key(pub(OTHER))
    ops.follow(store, ME, other, now_ms=NOW_MS)
    assert ops.block(store, ME, other, now_ms=NOW_MS).kind == "block"
    assert store.following(pub(ME)) == [pub(OTHER)]  # the follow stays; the block wins
    assert store.wanted_authors(pub(ME)) == {pub(ME)}
    with pytest.raises(NothingChangedError, match="already blocked"):
        ops.block(store, ME, other, now_ms=NOW_MS)
    ops.unblock(store, ME, other, now_ms=NOW_MS)
    assert store.wanted_authors(pub(ME)) == {pub(ME), pub(OTHER)}
    with pytest.raises(NothingChangedError, match="have not blocked"):
        ops.unblock(store, ME, other, now_ms=NOW_MS)


# --- admission: a blocked feed is not kept ----------------------------------------------------


def test_the_horizon_leaves_blocked_authors_out_even_followed() -> None:
    graph = TrustGraph.from_pairs([(A.hex(), B.hex()), (B.hex(), C.hex())])
    state = TrustState(graph, A.hex())
    plan = plan_horizon(state, [B], AdmissionConfig(hops=2), blocked=[B, C])
    assert plan.pinned == {A} and plan.horizon == frozenset()
    assert plan_horizon(state, [B], AdmissionConfig(hops=2)).horizon == {C}


def test_a_blocked_authors_messages_are_not_admitted(store: Store) -> None:
    me, them, stranger = Feed(ME), Feed(OTHER), Feed(THIRD)
    mine = me.post("hello")
    store.ingest_verified([mine, me.follow(pub(OTHER))], now_ms=NOW_MS)
    ops.block(store, ME, encode_public_key(pub(OTHER)), now_ms=NOW_MS)
    ops.block(store, ME, encode_public_key(pub(THIRD)), now_ms=NOW_MS)
    plan = compute_plan(store, pub(ME), AdmissionConfig())
    assert pub(OTHER) not in plan.wanted and pub(THIRD) not in plan.wanted
    replies = [them.post("re", reply_to=mine), stranger.post("re too", reply_to=mine)]
    assert keep_replies(store, replies, pub(ME)) == []  # blocked strangers' replies: dropped
    ops.unblock(store, ME, encode_public_key(pub(THIRD)), now_ms=NOW_MS)
    assert keep_replies(store, replies, pub(ME)) == [replies[1]]
