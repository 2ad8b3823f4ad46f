"""The dial policy as plain functions: backoff schedule, which peers to dial, forgetting, states."""

from __future__ import annotations

from dataclasses import replace

from pnyx.discovery.dialpolicy import (
    BACKOFF_BASE_S,
    BACKOFF_MAX_S,
    FORGET_FAILURES,
    FORGET_UNREACHED_MS,
    MAX_CONCURRENT_DIALS,
    PINNED_BACKOFF_MAX_S,
    backoff_s,
    dial_plan,
    forgettable,
    next_attempt_ms,
    peer_state,
    with_peer_id,
)
from pnyx.discovery.peerbook import PeerRecord

NOW = 10_000_000


def peer(name: str, **changes: object) -> PeerRecord:
    base = PeerRecord(
        peer_id=name,
        addresses=(f"/memory/p2p/{name}",),
        source="dht",
        pinned=False,
        added_ms=0,
        last_seen_ms=0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_backoff_doubles_from_the_base_up_to_its_cap() -> None:
    assert backoff_s(0, pinned=False) == 0
    assert [backoff_s(n, pinned=False) for n in (1, 2, 3, 4)] == [
        BACKOFF_BASE_S,
        2 * BACKOFF_BASE_S,
        4 * BACKOFF_BASE_S,
        8 * BACKOFF_BASE_S,
    ]
    assert backoff_s(40, pinned=False) == BACKOFF_MAX_S
    assert backoff_s(40, pinned=True) == PINNED_BACKOFF_MAX_S < BACKOFF_MAX_S


def test_next_attempt_counts_from_the_last_failure() -> None:
    assert next_attempt_ms(peer("a")) == 0
    failed = peer("a", failures=3, last_failure_ms=NOW)
    assert next_attempt_ms(failed) == NOW + int(4 * BACKOFF_BASE_S * 1000)


def test_plan_fills_up_to_the_target_within_the_concurrency_limit() -> None:
    book = [peer(f"p{i}") for i in range(10)]
    plan = dial_plan(
        book, me="me", connected={"x"}, dialling=set(), refused=(), now_ms=NOW, target=3
    )
    assert len(plan) == 2
    plan = dial_plan(book, me="me", connected=(), dialling=set(), refused=(), now_ms=NOW, target=8)
    assert len(plan) == MAX_CONCURRENT_DIALS
    plan = dial_plan(
        book, me="me", connected={"x", "y"}, dialling={"p0"}, refused=(), now_ms=NOW, target=3
    )
    assert plan == []  # two connected and one dial in flight make three


def test_plan_skips_self_connected_refused_addressless_and_backing_off_peers() -> None:
    book = [
        peer("me"),
        peer("connected"),
        peer("banned"),
        peer("no-address", addresses=()),
        peer("waiting", failures=2, last_failure_ms=NOW - 1000),  # due at NOW + 1000
        peer("due", failures=1, last_failure_ms=NOW - 1000),  # due at NOW
    ]
    plan = dial_plan(
        book,
        me="me",
        connected={"connected"},
        dialling=set(),
        refused={"banned"},
        now_ms=NOW,
        target=10,
    )
    assert [r.peer_id for r in plan] == ["due"]


def test_plan_prefers_reliable_recent_peers_then_bootstrap() -> None:
    book = [
        peer("flaky", failures=1, last_failure_ms=0, last_success_ms=NOW - 5),
        peer("old-success", last_success_ms=NOW - 1_000_000),
        peer("recent-success", last_success_ms=NOW - 10),
        peer("never", last_seen_ms=NOW),
        peer("bootstrap", pinned=True),
    ]
    plan = dial_plan(book, me="me", connected=(), dialling=(), refused=(), now_ms=NOW, target=4)
    assert [r.peer_id for r in plan] == ["recent-success", "old-success", "bootstrap", "never"]


def test_peers_that_keep_failing_are_forgotten_unless_pinned_or_reached_lately() -> None:
    hopeless = peer("a", failures=FORGET_FAILURES)
    assert forgettable(hopeless, NOW)
    assert not forgettable(replace(hopeless, pinned=True), NOW)
    assert not forgettable(replace(hopeless, failures=FORGET_FAILURES - 1), NOW)
    assert not forgettable(replace(hopeless, last_success_ms=NOW - 1000), NOW)
    assert forgettable(replace(hopeless, last_success_ms=NOW - FORGET_UNREACHED_MS - 1), NOW)


def test_peer_state_text() -> None:
    assert peer_state(None, NOW) == "known"
    assert peer_state(peer("a"), NOW) == "known"
    assert peer_state(peer("a", failures=3, last_failure_ms=NOW), NOW) == (
        "retry in 4 s (3 failed dials)"
    )
    assert peer_state(peer("a", failures=1, last_failure_ms=0), NOW) == "due (1 failed dial)"


def test_addresses_get_the_peer_id_once() -> None:
    assert with_peer_id("/ip4/1.2.3.4/tcp/5", "P") == "/ip4/1.2.3.4/tcp/5/p2p/P"
    assert with_peer_id("/ip4/1.2.3.4/tcp/5/p2p/P", "P") == "/ip4/1.2.3.4/tcp/5/p2p/P"
